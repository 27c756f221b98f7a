#!/usr/bin/env bash
# lab: heavy (drives Chromium: never beside another heavy test)
# test_serve.sh: the live fabric page as an engineer would keep it open:
# real probes on a lab fabric, `triangulate serve` on 127.0.0.1, the page
# opened once in headless Chromium (tests/lab/cdp_page.py keeps it open and
# reads its DOM). A lossy link is injected: its suspect appears on the open
# page without a reload; the fault is cleared: it moves to "resolved". The
# link's drill-down page and the JSON API name the same link.
#
#        spine1      spine2              fault: spine1 -> leaf2, 10% loss
#         |   \  \  /  /  |              (at leaf2's ingress)
#        leaf1   leaf2   leaf3
#        h1 h2   h3 h4   h5 h6           collector on h1, a prober on each host;
#                                        serve and Chromium in the test's own
#                                        namespace, on 127.0.0.1
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	serve_clean_page
	serve_suspect_appears_without_reload
	serve_drilldown_and_api_name_the_link
	serve_suspect_resolves_without_reload
	serve_bad_requests
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6"
LOSS_PCT=10
KEY="link spine1 leaf2"
WAIT_S=90 # bound on each wait for the page to change

serve_setup() {
	lab_need jq curl chromium prober collector triangulate
	[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 (DevTools client) missing"; exit 4; }
	fab up --spines 2 --leaves 3 --hosts-per-leaf 2 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	DB=$LAB_TMP/fm.db
	lab_collector_start "$DB" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_mesh_start "flows=8 rate=40 proto=udp port=31338" $HOSTS -- --interval 2s || return 1
	lab_wait_until 20000 test -s "$DB" || { echo "no database"; return 1; }
	# the names come from the inventory loaded into the store, as for every command
	"$FM_BIN/triangulate" inventory load "$LAB_TMP/inventory" --db "$DB" >/dev/null ||
		{ echo "inventory load failed"; return 1; }
	"$FM_BIN/triangulate" serve --db "$DB" \
		--listen 127.0.0.1:0 --window 20s --refresh 1s --since 10m \
		>"$LAB_TMP/serve.out" 2>>"$LAB_TMP/serve.log" &
	LAB_PIDS+=($!)
	lab_wait_until 20000 grep -q 'port [0-9]' "$LAB_TMP/serve.out" ||
		{ echo "serve did not start: $(tail -2 "$LAB_TMP/serve.log")"; return 1; }
	PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$LAB_TMP/serve.out")
	URL=http://127.0.0.1:$PORT
	sleep 10 # probers settle and trace their paths before the page opens
	coproc PAGE { LAB_TMP=$LAB_TMP exec /usr/bin/python3 "$LAB_DIR/cdp_page.py" "$URL/" 2>>"$LAB_TMP/cdp.log"; }
	LAB_PIDS+=("$PAGE_PID")
	# the mark is gone if the page ever reloads
	[ "$(page_eval 'window.fmOpenedOnce = 42')" = 42 ] ||
		{ echo "page did not open: $(tail -3 "$LAB_TMP/cdp.log")"; return 1; }
}

# page_eval EXPR: the value of EXPR in the open page, as JSON ("" on failure)
page_eval() {
	local line
	echo "${1//$'\n'/ }" >&"${PAGE[1]}" || return 1 # one line, one answer
	IFS= read -r -t 30 line <&"${PAGE[0]}" || return 1
	jq -c '.value // empty' <<<"$line"
	jq -e 'has("error") | not' <<<"$line" >/dev/null ||
		log_info "page: $(jq -r .error <<<"$line")"
}

# page_wait EXPR: wait (bounded) until EXPR is true in the open page
page_wait() {
	local i
	for ((i = 0; i < WAIT_S; i++)); do
		[ "$(page_eval "$1")" = true ] && return 0
		sleep 1
	done
	return 1
}

NOW_HAS="[...document.querySelectorAll('#now li')].some(l => l.dataset.key === '$KEY')"
RESOLVED_HAS="[...document.querySelectorAll('#resolved li')].some(l => l.dataset.key === '$KEY')"

page_state() {
	page_eval "JSON.stringify({now: [...document.querySelectorAll('#now li')].map(l => l.textContent),
		resolved: [...document.querySelectorAll('#resolved li')].map(l => l.textContent),
		status: document.getElementById('status').textContent})"
}

serve_clean_page() {
	RET=0
	page_wait "document.querySelectorAll('#report svg#heatmap line.link').length > 0"
	check_err $? "no heatmap on the page: $(page_state)"
	page_wait "/^updated/.test(document.getElementById('status').textContent)"
	check_err $? "page never updated: $(page_state)"
	[ "$(page_eval "document.querySelectorAll('#now li').length")" = 0 ]
	check_err $? "suspects on a clean fabric: $(page_state)"
	log_test "clean fabric: the open page shows the heatmap and no suspect"
}

serve_suspect_appears_without_reload() {
	local t0
	RET=0
	FAULT=$(fab fault link spine1 leaf2 --loss "$LOSS_PCT") || { check_err 1 "fault"; log_test "fault"; return; }
	t0=$SECONDS
	page_wait "$NOW_HAS"
	check_err $? "suspect $KEY not on the open page within ${WAIT_S}s: $(page_state)"
	log_info "on the page after $((SECONDS - t0)) s: $(page_state)"
	[ "$(page_eval 'window.fmOpenedOnce')" = 42 ]
	check_err $? "the page was reloaded (its mark is gone)"
	[ "$(page_eval "document.querySelectorAll('#now li').length")" = 1 ]
	check_err $? "other suspects beside $KEY: $(page_state)"
	page_wait "document.querySelector('#report line.link.fault[data-from=\"spine1\"][data-to=\"leaf2\"]') !== null"
	check_err $? "heatmap on the open page does not mark spine1 -> leaf2"
	log_test "${LOSS_PCT}% on spine1 -> leaf2: the suspect appears on the open page, no reload"
}

serve_drilldown_and_api_name_the_link() {
	local js
	RET=0
	js=$(curl -sf -m 30 "$URL/api/link/spine1/leaf2")
	check_err $? "GET /api/link/spine1/leaf2 failed"
	jq -e '.verdict == "dropping" and .loss > 0.005 and (.history | length) > 0' <<<"$js" >/dev/null
	check_err $? "API: $(jq -c '{verdict, loss, detail}' <<<"$js" 2>&1)"
	js=$(curl -sf -m 30 "$URL/api/summary")
	jq -e --arg k "$KEY" '.suspect_keys | index($k) != null' <<<"$js" >/dev/null
	check_err $? "summary: $(jq -c .suspect_keys <<<"$js" 2>&1)"
	# the drill-down is reached from the open page, as a click would
	page_eval "location.href = document.querySelector('#now li a').href" >/dev/null
	page_wait "document.querySelector('#verdict') !== null && document.querySelector('#verdict').dataset.verdict === 'dropping'"
	check_err $? "link page: $(page_eval "document.body.innerText.slice(0, 300)")"
	page_wait "document.querySelectorAll('#chart rect.bucket').length > 0"
	check_err $? "link page has no loss-over-time chart"
	page_eval "history.back()" >/dev/null
	page_wait "document.querySelectorAll('#report svg#heatmap').length > 0"
	check_err $? "back on the fabric page: $(page_state)"
	page_eval 'window.fmOpenedOnce = 42' >/dev/null # a new page since the click
	log_test "the link's page (from the open page) and /api/link say dropping; /api/summary names it"
}

serve_suspect_resolves_without_reload() {
	local t0
	RET=0
	page_wait "$NOW_HAS"
	check_err $? "suspect not shown before the clear: $(page_state)"
	fab fault del "$FAULT" >/dev/null
	check_err $? "fault del"
	t0=$SECONDS
	page_wait "!($NOW_HAS) && $RESOLVED_HAS"
	check_err $? "$KEY not resolved on the open page within ${WAIT_S}s: $(page_state)"
	log_info "resolved after $((SECONDS - t0)) s: $(page_state)"
	[ "$(page_eval 'window.fmOpenedOnce')" = 42 ]
	check_err $? "the page was reloaded (its mark is gone)"
	log_test "fault cleared: the suspect moves to resolved on the open page, no reload"
}

serve_bad_requests() {
	local code
	RET=0
	code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$URL/api/device/nosuch")
	[ "$code" = 404 ]
	check_err $? "unknown device: HTTP $code, want 404"
	code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -X POST "$URL/api/summary")
	[ "$code" = 405 ]
	check_err $? "POST: HTTP $code, want 405"
	code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$URL/link/a/b/c")
	[ "$code" = 404 ]
	check_err $? "/link/a/b/c: HTTP $code, want 404"
	log_test "unknown names and methods get 404 and 405"
}

lab_init srv
serve_setup || { echo "setup failed"; exit 1; }
tests_run
exit $EXIT_STATUS
