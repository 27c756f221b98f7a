/* index.html of the fabric health report: one self-contained page (inline
 * CSS and SVG, no scripts, no fetches) that opens with the verdict, then the
 * heatmap, suspects with timelines, tiers, worst pairs, coverage, probers. */
#include "fabric_report.h"

#include "model.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static const char html_css[] =
	"body{font-family:sans-serif;margin:20px;color:#111;max-width:1300px}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;"
	"border-bottom:1px solid #ccc}"
	".muted{color:#666;font-size:13px}"
	".verdict{font-size:18px;padding:10px 14px;border-radius:6px;margin:12px 0}"
	".bad{background:#fde7fd;border-left:8px solid " FREPORT_FAULT_COLOR "}"
	".good{background:#e8f5e9;border-left:8px solid #2e7d32}"
	"table{border-collapse:collapse;font-size:13px}"
	"td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
	"th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}"
	".fault{color:" FREPORT_FAULT_COLOR ";font-weight:bold}"
	".down{color:#c62828;font-weight:bold}.sick{color:#f57c00;font-weight:bold}"
	"code{background:#f4f6f8;padding:1px 4px;white-space:nowrap;font-size:12px}"
	"td.when{white-space:nowrap}td code{white-space:normal;overflow-wrap:anywhere}"
	"td.who{max-width:330px}";

static void html_pct(FILE *out, double ratio)
{
	if (!isfinite(ratio))
		ratio = 0;
	if (ratio > 0 && ratio < 1e-4)
		fprintf(out, "%.2g%%", 100 * ratio);
	else
		fprintf(out, "%.3g%%", 100 * ratio);
}

static void html_time(FILE *out, int64_t ms)
{
	char buf[32];

	fputs(query_time_format(ms, buf, sizeof(buf)), out);
}

/* "11-28 13:15:22": the year and zone are in the page's header. */
static void html_time_short(FILE *out, int64_t ms)
{
	char buf[32];

	const char *t = query_time_format(ms, buf, sizeof(buf));

	/* "YYYY-" off the front; a fallback text ("N ms") stays whole */
	fputs(strlen(t) > 11 && t[4] == '-' ? t + 5 : t, out);
}

static void html_suspect_name(FILE *out, const struct freport_suspect *s)
{
	freport_xml_write(out, s->from);
	if (s->to[0]) {
		fputs(" \u2192 ", out);
		freport_xml_write(out, s->to);
	}
}

static void html_verdict_write(FILE *out, const struct freport *r)
{
	const struct fabric_view *v = &r->day;
	double loss = v->sent ? (double)v->lost / (double)v->sent : 0;
	if (!v->sent) {
		fprintf(out, "<div class=\"verdict bad\">No probe results in this window: "
			"are the probers and the collector running?</div>\n");
		return;
	}
	fprintf(out, "<div class=\"verdict %s\">",
		r->nsuspects || loss >= FREPORT_HEALTHY_LOSS ? "bad" : "good");
	if (!r->nsuspects && v->lost && v->flows_unplaced * 2 > v->flows) {
		/* no paths: loss cannot be placed, and saying healthy would lie */
		fprintf(out, "Loss ");
		html_pct(out, loss);
		fprintf(out, " seen but not localized: %llu of %llu flows have no known "
			"path (are the probers tracing?).</div>\n",
			(unsigned long long)v->flows_unplaced, (unsigned long long)v->flows);
		return;
	}
	if (!r->nsuspects) {
		fprintf(out, "%s: no faulty link or device localized. Fabric loss ",
			loss < FREPORT_HEALTHY_LOSS ? "Healthy" : "Diffuse loss");
		html_pct(out, loss);
		fprintf(out, " over %llu probes.</div>\n", (unsigned long long)v->sent);
		return;
	}
	fprintf(out, "%zu suspect%s in this window", r->nsuspects, r->nsuspects == 1 ? "" : "s");
	fprintf(out, ": ");
	for (size_t i = 0; i < r->nsuspects && i < 3; i++) {
		const struct freport_suspect *s = &r->suspects[i];

		fprintf(out, "%s<span class=\"fault\">%s ", i ? "; " : "",
			suspect_kind_name(s->kind));
		html_suspect_name(out, s);
		fprintf(out, "</span> up to ");
		html_pct(out, s->loss_max);
		if (s->slices)
			fprintf(out, " (in %u of %zu slices)", s->slices, r->nslices);
	}
	if (r->nsuspects > 3)
		fprintf(out, "; \u2026");
	fprintf(out, ". Fabric loss ");
	html_pct(out, loss);
	fprintf(out, ".</div>\n");
}

static void html_previous_write(FILE *out, const struct freport *r)
{
	const struct fabric_view *v = &r->day;
	double loss = v->sent ? (double)v->lost / (double)v->sent : 0;
	char key[2 * SUSPECT_NAME_MAX + 16];
	size_t added = 0, gone = 0;

	fprintf(out, "<h2>Since the previous report</h2>\n");
	if (!r->prev.have) {
		fprintf(out, "<p class=\"muted\">No previous report to compare with.</p>\n");
		return;
	}
	fprintf(out, "<p>Fabric loss ");
	html_pct(out, loss);
	fprintf(out, " (previous ");
	html_pct(out, r->prev.loss_ratio);
	fprintf(out, ", up to ");
	html_time(out, r->prev.until_ms);
	fprintf(out, "). New suspects: ");
	for (size_t i = 0; i < r->nsuspects; i++) {
		if (freport_previous_has(&r->prev, freport_suspect_key(&r->suspects[i], key,
								       sizeof(key))))
			continue;
		fprintf(out, "%s<span class=\"fault\">", added++ ? ", " : "");
		freport_xml_write(out, key);
		fprintf(out, "</span>");
	}
	if (!added)
		fprintf(out, "none");
	fprintf(out, ". Gone: ");
	for (size_t i = 0; i < r->prev.nkeys; i++) {
		if (!freport_key_gone(r, r->prev.keys[i]))
			continue;
		fprintf(out, "%s", gone++ ? ", " : "");
		freport_xml_write(out, r->prev.keys[i]);
	}
	if (!gone)
		fprintf(out, "none");
	fprintf(out, ". <span class=\"muted\">(");
	freport_xml_write(out, r->prev.path);
	fprintf(out, ")</span></p>\n");
}

static void html_suspects_write(FILE *out, const struct freport *r)
{
	fprintf(out, "<h2>Suspects of the day</h2>\n");
	if (!r->nsuspects) {
		fprintf(out, "<p>None.</p>\n");
		return;
	}
	fprintf(out, "<table><tr><th>kind</th><th>suspect</th><th>loss (day)</th>"
		"<th>worst slice</th><th>confidence</th><th>flows (lossy)</th>"
		"<th>seen (UTC)</th><th>timeline (slices; colour = loss)</th></tr>\n");
	for (size_t i = 0; i < r->nsuspects; i++) {
		const struct freport_suspect *s = &r->suspects[i];

		fprintf(out, "<tr class=\"suspect\"><td>%s</td><td class=\"who\"><span class=\"fault\">",
			suspect_kind_name(s->kind));
		html_suspect_name(out, s);
		/* the command to dig in, under the name, ready to paste */
		fprintf(out, "</span><br><code>triangulate %s ", s->to[0] ? "link" : "device");
		freport_xml_write(out, s->from);
		if (s->to[0]) {
			fputc(' ', out);
			freport_xml_write(out, s->to);
		}
		fprintf(out, " --db ");
		freport_xml_write(out, r->db);
		/* the names are the inventory's: the query needs it to find them */
		if (r->inventory) {
			fprintf(out, " --inventory ");
			freport_xml_write(out, r->inventory);
		}
		fprintf(out, "</code></td><td class=\"num\">");
		if (s->loss_ratio > 0)
			html_pct(out, s->loss_ratio);
		else
			fprintf(out, "\u2013");
		fprintf(out, "</td><td class=\"num\">");
		html_pct(out, s->loss_max);
		fprintf(out, "</td><td class=\"num\">%.4f</td><td class=\"num\">%llu (%llu)</td><td class=\"when\">",
			s->confidence, (unsigned long long)s->flows,
			(unsigned long long)s->lossy_flows);
		if (s->slices) {
			html_time_short(out, s->first_ms);
			fprintf(out, "<br>to ");
			html_time_short(out, s->last_ms);
		}
		fprintf(out, "</td><td>");
		freport_svg_suspect_timeline_write(out, r, s);
		fprintf(out, "</td></tr>\n");
	}
	fprintf(out, "</table>\n");
}

static void html_tiers_write(FILE *out, const struct freport *r)
{
	const struct fabric_view *v = &r->day;
	double loss = v->sent ? (double)v->lost / (double)v->sent : 0;

	fprintf(out, "<h2>Fabric loss, overall and per tier</h2>\n<table><tr><th>where</th>"
		"<th>links</th><th>loss</th><th>suspect links</th></tr>\n"
		"<tr><td><b>end to end</b> (all probes)</td><td class=\"num\">%u</td>"
		"<td class=\"num\"><b>", v->m->nlinks);
	html_pct(out, loss);
	fprintf(out, "</b></td><td class=\"num\">%zu suspect%s</td></tr>\n", v->sus.n,
		v->sus.n == 1 ? "" : "s");
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct freport_layer *y = &r->layers[i];

		fprintf(out, "<tr class=\"layer\"><td>");
		freport_xml_write(out, y->name);
		fprintf(out, " links</td><td class=\"num\">%u</td><td class=\"num\">", y->links);
		if (y->sent > 0)
			html_pct(out, y->loss_ratio);
		else
			fprintf(out, "no data");
		fprintf(out, "</td><td class=\"num%s\">%u</td></tr>\n",
			y->suspects ? " fault" : "", y->suspects);
	}
	fprintf(out, "</table>\n<p class=\"muted\">Tiers are hops from the hosts; a layer's "
		"loss is the probe-weighted loss charged to its links.</p>\n");
}

static void html_pairs_write(FILE *out, const struct freport *r)
{
	const struct fabric_view *v = &r->day;

	fprintf(out, "<h2>Worst prober/target pairs</h2>\n<table><tr><th>prober</th>"
		"<th>target</th><th>loss</th><th>lost / sent</th><th>lossy flows</th>"
		"<th>distinct paths</th></tr>\n");
	for (size_t i = 0; i < v->npairs && i < FREPORT_WORST_PAIRS; i++) {
		const struct fabric_pair *p = &v->pairs[i];

		fprintf(out, "<tr><td>");
		freport_xml_write(out, fabric_view_dev_name(v, p->prober));
		fprintf(out, "</td><td>");
		freport_xml_write(out, fabric_view_dev_name(v, p->target));
		fprintf(out, "</td><td class=\"num\">");
		html_pct(out, p->sent ? (double)p->lost / (double)p->sent : 0);
		fprintf(out, "</td><td class=\"num\">%llu / %llu</td><td class=\"num\">%llu of %llu"
			"</td><td class=\"num\">%u</td></tr>\n",
			(unsigned long long)p->lost, (unsigned long long)p->sent,
			(unsigned long long)p->lossy_flows, (unsigned long long)p->flows, p->paths);
	}
	fprintf(out, "</table>\n");
	fprintf(out, "<h2>Path coverage</h2>\n<p>%zu prober/target pairs; distinct paths per "
		"pair: min %u, median %u, max %u; %u pair%s on a single path%s. %u directed "
		"links carried probes.</p>\n",
		v->npairs, r->paths_min, r->paths_median, r->paths_max, r->pairs_single_path,
		r->pairs_single_path == 1 ? "" : "s",
		r->pairs_single_path ? " (same-leaf pairs have one path by design)" : "",
		v->m->nlinks);
}

static void html_probers_write(FILE *out, const struct freport *r)
{
	size_t bad = 0;

	fprintf(out, "<h2>Probers down or sick</h2>\n");
	for (size_t i = 0; i < r->nprobers; i++)
		bad += strcmp(r->probers[i].status, "ok") != 0;
	fprintf(out, "<p>%zu probers reported; %zu down or sick.</p>\n", r->nprobers, bad);
	if (!bad)
		return;
	fprintf(out, "<table><tr><th>prober</th><th>status</th><th>why</th><th>batches</th>"
		"<th>last report</th></tr>\n");
	for (size_t i = 0; i < r->nprobers; i++) {
		const struct freport_prober *p = &r->probers[i];

		if (!strcmp(p->status, "ok"))
			continue;
		fprintf(out, "<tr class=\"prober\"><td>");
		freport_xml_write(out, p->name);
		fprintf(out, "</td><td class=\"%s\">%s</td><td>", p->status, p->status);
		freport_xml_write(out, p->reason);
		fprintf(out, "</td><td class=\"num\">%llu</td><td>", (unsigned long long)p->batches);
		if (p->last_ms)
			html_time(out, p->last_ms);
		fprintf(out, "</td></tr>\n");
	}
	fprintf(out, "</table>\n");
}

static void html_watch_write(FILE *out, const struct freport *r)
{
	fprintf(out, "<h2>Watch history</h2>\n");
	if (!r->rounds && !r->nepisodes) {
		fprintf(out, "<p class=\"muted\">No watch rounds recorded in this window "
			"(<code>triangulate watch</code> records them).</p>\n");
		return;
	}
	fprintf(out, "<p>%llu rounds, %zu episodes.</p>\n", (unsigned long long)r->rounds,
		r->nepisodes);
	if (!r->nepisodes)
		return;
	fprintf(out, "<table><tr><th>kind</th><th>suspect</th><th>opened</th><th>last seen</th>"
		"<th>closed</th><th>rounds</th><th>max loss</th></tr>\n");
	for (size_t i = 0; i < r->nepisodes; i++) {
		const struct query_episode *e = &r->episodes[i];

		fprintf(out, "<tr><td>");
		freport_xml_write(out, e->kind);
		fprintf(out, "</td><td class=\"fault\">");
		freport_xml_write(out, e->from);
		if (e->to[0]) {
			fputs(" \u2192 ", out);
			freport_xml_write(out, e->to);
		}
		fprintf(out, "</td><td>");
		html_time(out, e->opened_ms);
		fprintf(out, "</td><td>");
		html_time(out, e->last_seen_ms);
		fprintf(out, "</td><td>");
		if (e->closed_ms)
			html_time(out, e->closed_ms);
		else
			fprintf(out, "<b>open</b>");
		fprintf(out, "</td><td class=\"num\">%llu</td><td class=\"num\">",
			(unsigned long long)e->rounds);
		html_pct(out, e->loss_ratio_max);
		fprintf(out, "</td></tr>\n");
	}
	fprintf(out, "</table>\n");
}

static int html_write(FILE *out, const struct freport *r)
{
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<title>faultmesh fabric health ");
	html_time(out, r->until_ms);
	fprintf(out, "</title>\n<style>%s</style></head><body>\n", html_css);
	fprintf(out, "<h1>Fabric health</h1>\n<div class=\"muted\">");
	html_time(out, r->since_ms);
	fprintf(out, " \u2192 ");
	html_time(out, r->until_ms);
	fprintf(out, " \u00b7 database ");
	freport_xml_write(out, r->db);
	fprintf(out, " \u00b7 %llu flows, %llu probes</div>\n",
		(unsigned long long)r->day.flows, (unsigned long long)r->day.sent);
	html_verdict_write(out, r);
	fprintf(out, "<h2>Loss heatmap</h2>\n<p class=\"muted\">Devices by tier (hops from "
		"the hosts); each link drawn once per direction, coloured by the loss "
		"charged to it over the whole window. Hover a link for its figures.</p>\n");
	if (freport_svg_heatmap_write(out, r) < 0)
		return -1;
	html_previous_write(out, r);
	html_suspects_write(out, r);
	fprintf(out, "<h2>Fabric loss over time</h2>\n");
	if (freport_svg_fabric_timeline_write(out, r) < 0)
		return -1;
	fprintf(out, "<p class=\"muted\">One bar per slice, each localized on its own; "
		"a dot marks slices with suspects.</p>\n");
	html_tiers_write(out, r);
	html_pairs_write(out, r);
	html_probers_write(out, r);
	html_watch_write(out, r);
	fprintf(out, "<p class=\"muted\">Generated ");
	html_time(out, r->generated_ms);
	fprintf(out, " by faultmesh triangulate report.</p>\n</body></html>\n");
	return ferror(out) ? -1 : 0;
}

const struct freport_ops freport_html_ops = { "html", "index.html", html_write };
