/* The pages of triangulate serve: static HTML shells with inline CSS and
 * script that poll the JSON API and update in place (no reload). The fabric
 * page shows the report's own page for the live window; names reach the DOM
 * through textContent only. */
#include "fabric_report.h"
#include "serve.h"

#define SERVE_CSS                                                                   \
	"body{font-family:sans-serif;margin:20px;color:#111;max-width:1300px}"      \
	"#live{font-size:13px;color:#444;margin-bottom:8px}"                        \
	"#status.stale{color:#c62828;font-weight:bold}"                             \
	"h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #ccc}"         \
	"ul.suspects li{margin:3px 0}a.fault,.fault{color:" FREPORT_FAULT_COLOR     \
	";font-weight:bold}.muted{color:#666;font-size:13px}"                       \
	".verdict{font-size:18px;padding:10px 14px;border-radius:6px;margin:12px 0}" \
	".bad{background:#fde7fd;border-left:8px solid " FREPORT_FAULT_COLOR "}"    \
	".good{background:#e8f5e9;border-left:8px solid #2e7d32}"                   \
	"table{border-collapse:collapse;font-size:13px}"                            \
	"td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"              \
	"th{background:#f4f6f8}#report line.link,#report g.device{cursor:pointer}"

/* Shared script: the poll loop with its status line. */
#define SERVE_JS_POLL                                                               \
	"function pct(x){x=+x||0;return (100*x).toPrecision(3)+'%';}\n"             \
	"function el(tag,cls,text){const e=document.createElement(tag);"            \
	"if(cls)e.className=cls;if(text!==undefined)e.textContent=text;return e;}\n" \
	"function subjectHref(from,to){return to?'/link/'+encodeURIComponent(from)+" \
	"'/'+encodeURIComponent(to):'/device/'+encodeURIComponent(from);}\n"        \
	"let refreshMs=5000,updates=0;\n"                                           \
	"async function getJSON(url){const r=await fetch(url,{cache:'no-store'});"  \
	"const j=await r.json();if(!r.ok)throw new Error(j.error||('HTTP '+r.status));" \
	"return j;}\n"                                                              \
	"async function poll(update){const st=document.getElementById('status');"   \
	"try{const s=await getJSON('/api/status');refreshMs=s.refresh_ms||refreshMs;" \
	"await update();updates++;st.className='';st.textContent='updated '+"       \
	"new Date().toISOString().slice(11,19)+'Z ('+updates+' updates, every '+"   \
	"refreshMs/1000+' s)'+(s.error?'; last refresh failed: '+s.error:'');}"     \
	"catch(e){st.className='stale';st.textContent='not updated: '+e.message;}"  \
	"setTimeout(()=>poll(update),refreshMs);}\n"

const char serve_page_fabric[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<title>faultmesh live fabric</title>\n<style>" SERVE_CSS "</style>"
	"<style id=\"report-css\"></style></head><body>\n"
	"<div id=\"live\"><b>Live fabric</b> \u00b7 <span id=\"status\">loading\u2026</span>"
	" \u00b7 <a href=\"/api/summary\">JSON</a></div>\n"
	"<h2>Suspects now</h2>\n<ul id=\"now\" class=\"suspects\"></ul>\n"
	"<p id=\"none\" class=\"muted\">None.</p>\n"
	"<h2>Resolved while this page was open</h2>\n"
	"<ul id=\"resolved\" class=\"suspects\"></ul>\n"
	"<div id=\"report\"></div>\n<script>\n\"use strict\";\n" SERVE_JS_POLL
	"const open=new Map();\n"
	"function key(s){return s.kind+' '+s.from+(s.to?' '+s.to:'');}\n"
	"function name(s){return s.kind+' '+s.name;}\n"
	/* the suspects of the whole-window fit (/api/suspects, in the one
	 * suspect shape) are the ones dropping now */
	"function suspectsShow(sus){const now=document.getElementById('now'),"
	"res=document.getElementById('resolved'),seen=new Set();now.replaceChildren();"
	"for(const s of sus.suspects){const k=key(s);seen.add(k);"
	"open.set(k,s);const li=el('li','suspect-now');li.dataset.key=k;"
	"const a=el('a','fault',name(s));a.href=subjectHref(s.from,s.to);li.append(a,"
	"': '+pct(s.loss)+' loss, confidence '+(+s.confidence).toFixed(3)+', '+s.lossy_flows+"
	"' of '+s.flows+' flows lossy');now.append(li);"
	"for(const o of res.querySelectorAll('li'))if(o.dataset.key===k)o.remove();}"
	"for(const [k,s] of open){if(seen.has(k))continue;open.delete(k);"
	"const li=el('li','suspect-resolved');li.dataset.key=k;"
	"const a=el('a',null,name(s));a.href=subjectHref(s.from,s.to);"
	"li.append(a,': resolved by '+new Date().toISOString().slice(11,19)+'Z (was '+"
	"pct(s.loss)+')');res.prepend(li);}"
	"document.getElementById('none').hidden=seen.size>0;}\n"
	/* the report's page for the window, its heatmap a way into the drill-downs */
	"function reportShow(html){const doc=new DOMParser().parseFromString(html,'text/html');"
	"const css=doc.querySelector('style');"
	"if(css)document.getElementById('report-css').textContent=css.textContent;"
	"const r=document.getElementById('report');r.replaceChildren(...doc.body.childNodes);"
	"for(const l of r.querySelectorAll('line.link'))l.addEventListener('click',"
	"()=>{location.href=subjectHref(l.dataset.from,l.dataset.to);});"
	"for(const g of r.querySelectorAll('g.device'))g.addEventListener('click',"
	"()=>{location.href=subjectHref(g.dataset.name);});}\n"
	"poll(async()=>{const sum=await getJSON('/api/suspects');"
	"const r=await fetch('/api/report.html',{cache:'no-store'});"
	"if(!r.ok)throw new Error('report HTTP '+r.status);const html=await r.text();"
	"suspectsShow(sum);reportShow(html);});\n"
	"</script>\n</body></html>\n";

const char serve_page_subject[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<title>faultmesh live</title>\n<style>" SERVE_CSS "</style></head><body>\n"
	"<div id=\"live\"><a href=\"/\">fabric</a> \u00b7 <span id=\"status\">loading\u2026"
	"</span> \u00b7 <a id=\"json\">JSON</a></div>\n<h1 id=\"title\"></h1>\n"
	"<div id=\"verdict\" class=\"verdict\"></div>\n"
	"<h2>Loss over time</h2>\n<p class=\"muted\">One bar per slice of the look-back, "
	"each localized on its own; the fault colour marks slices that named it.</p>\n"
	"<svg id=\"chart\" width=\"900\" height=\"180\" xmlns=\"http://www.w3.org/2000/svg\">"
	"</svg>\n<h2>Links</h2>\n<table id=\"links\"></table>\n"
	"<h2>Pairs with lost probes through it</h2>\n<table id=\"pairs\"></table>\n"
	"<script>\n\"use strict\";\n" SERVE_JS_POLL
	"const parts=location.pathname.split('/').slice(1).map(decodeURIComponent);\n"
	"const api='/api/'+parts.map(encodeURIComponent).join('/');\n"
	"document.getElementById('json').href=api;\n"
	"document.getElementById('title').textContent=parts[0]+' '+parts.slice(1).join(' \\u2192 ');\n"
	"document.title='faultmesh '+document.getElementById('title').textContent;\n"
	"const NS='http://www.w3.org/2000/svg';\n"
	"function svg(tag,attrs,text){const e=document.createElementNS(NS,tag);"
	"for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;"
	"return e;}\n"
	"function chartShow(a){const c=document.getElementById('chart'),W=900,H=150,L=50;"
	"c.replaceChildren();const b=a.history;let top=0.01;"
	"for(const x of b)top=Math.max(top,+x.loss||0);"
	"c.append(svg('text',{x:2,y:12,'font-size':11},pct(top)),"
	"svg('text',{x:2,y:H,'font-size':11},'0%'),"
	"svg('line',{x1:L,y1:H,x2:W,y2:H,stroke:'#999'}));"
	"const w=b.length?(W-L)/b.length:0;"
	"b.forEach((x,i)=>{const h=Math.max(1,(H-10)*(+x.loss||0)/top);"
	"const r=svg('rect',{class:'bucket',x:L+i*w+1,y:H-h,width:Math.max(1,w-2),height:h,"
	"fill:x.verdict==='no data'?'#ddd':(x.verdict==='not dropping'?'#8bc34a':'"
	FREPORT_FAULT_COLOR "')});"
	"r.dataset.verdict=x.verdict;r.dataset.loss=x.loss;"
	"r.append(svg('title',{},new Date(x.start_ms).toISOString().slice(11,16)+'-'+"
	"new Date(x.end_ms).toISOString().slice(11,16)+'Z: '+pct(x.loss)+' '+x.verdict));"
	"c.append(r);});"
	"if(b.length){c.append(svg('text',{x:L,y:H+16,'font-size':11},"
	"new Date(b[0].start_ms).toISOString().slice(11,16)+'Z'),svg('text',{x:W-40,y:H+16,"
	"'font-size':11},new Date(b[b.length-1].end_ms).toISOString().slice(11,16)+'Z'));}}\n"
	"function row(t,cells,head){const tr=el('tr');for(const x of cells){"
	"const td=el(head?'th':'td');if(x instanceof Node)td.append(x);else td.textContent=x;"
	"tr.append(td);}t.append(tr);}\n"
	"function answerShow(a){const v=document.getElementById('verdict');"
	"v.className='verdict '+(a.dropping?'bad':'good');v.dataset.verdict=a.verdict;"
	"v.textContent=a.verdict+': '+a.detail+' (last '+a.window_ms/1000+' s)';"
	"chartShow(a);const t=document.getElementById('links');t.replaceChildren();"
	"row(t,['link','loss','observed loss','flows (lossy)','suspect'],1);"
	"for(const l of a.links){const x=el('a',l.suspect?'fault':null,l.from+' \\u2192 '+l.to);"
	"x.href=subjectHref(l.from,l.to);row(t,[x,pct(l.loss),pct(l.observed_loss),"
	"l.flows+' ('+l.lossy_flows+')',l.suspect?'yes, confidence '+(+l.confidence).toFixed(3):'']);}"
	"const p=document.getElementById('pairs');p.replaceChildren();"
	"row(p,['prober','target','lost / sent','lossy flows'],1);"
	"for(const x of a.pairs)row(p,[x.prober,x.target,x.lost+' / '+x.sent,x.lossy_flows]);}\n"
	"poll(async()=>{answerShow(await getJSON(api));});\n"
	"</script>\n</body></html>\n";
