#!/usr/bin/env bash
# test_report.sh: the nightly fabric health report as a person would use it:
# real probes on a lab fabric, a lossy link, scripts/nightly-report (which runs
# triangulate report), then the page rendered in headless Chromium: the DOM
# after rendering and a screenshot's pixels show the faulty link, and only it,
# in the fault colour; summary.json names it and compares with the night before.
#
#        spine1      spine2              fault: spine1 -> leaf2, 5% loss
#         |   \  \  /  /  |              (at leaf2's ingress)
#        leaf1   leaf2   leaf3
#        h1 h2   h3 h4   h5 h6           collector on h1, a prober on each host
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	report_clean_night
	report_names_the_faulty_link
	report_page_renders_fault_in_chromium
	report_keeps_last_n
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6"
LOSS_PCT=5
FAULT_COLOR="#e000e0"          # triangulate/report/fabric_report.h FREPORT_FAULT_COLOR
FAULT_RGB="224 0 224"
NIGHTLY=$LAB_ROOT/scripts/nightly-report
declare -A ADDR

report_setup() {
	local h
	lab_need jq sqlite3 chromium prober collector triangulate
	[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 (PNG check) missing"; exit 4; }
	fab up --spines 2 --leaves 3 --hosts-per-leaf 2 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	for h in $HOSTS; do ADDR[$h]=$(fab addr "$h" -4) || return 1; done
	DB=$LAB_TMP/fm.db
	REPORTS=$LAB_TMP/reports
	lab_collector_start "$DB" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_mesh_start "flows=8 rate=40 proto=udp port=31338" $HOSTS -- --interval 2s
}

# nightly NAME SINCE: one night's report into $REPORTS/NAME
nightly() {
	"$NIGHTLY" --db "$DB" --dir "$REPORTS" --inventory "$LAB_TMP/inventory" \
		--since "$2" --keep 2 --stamp "$1" --triangulate "$FM_BIN/triangulate" \
		>>"$LAB_TMP/nightly.log" 2>&1
}

report_clean_night() {
	local js
	RET=0
	sleep 12 # probers settle, trace their paths, report a few intervals
	nightly 2026-01-01 10s
	check_err $? "nightly-report failed: $(tail -3 "$LAB_TMP/nightly.log")"
	js=$REPORTS/2026-01-01/summary.json
	# loss bound loose: a loaded CI box may time a few probes out; no suspect is the point
	jq -e '.fabric.sent > 1000 and .fabric.loss < 0.01 and (.suspects | length) == 0
		and .probers_down == 0 and (.probers | length) == 6 and .previous == null' \
		"$js" >/dev/null
	check_err $? "clean night: $(jq -c '{fabric, suspect_keys, probers_down}' "$js" 2>&1)"
	jq -e '[.layers[].name] == ["h-leaf", "leaf-spine"]' "$js" >/dev/null
	check_err $? "tiers not found from the topology: $(jq -c .layers "$js")"
	log_test "clean fabric: report with probes, no suspect, tiers h-leaf, leaf-spine"
}

report_names_the_faulty_link() {
	local js
	RET=0
	fab fault link spine1 leaf2 --loss "$LOSS_PCT" >/dev/null || { check_err 1 "fault"; log_test "fault"; return; }
	sleep 16
	nightly 2026-01-02 14s
	check_err $? "nightly-report failed: $(tail -3 "$LAB_TMP/nightly.log")"
	js=$REPORTS/2026-01-02/summary.json
	log_info "suspects: $(jq -c '[.suspects[] | {kind, from, to, loss, confidence}]' "$js")"
	jq -e '.suspect_keys == ["link spine1 leaf2"]' "$js" >/dev/null
	check_err $? "report does not name exactly spine1 -> leaf2: $(jq -c .suspect_keys "$js")"
	jq -e '.suspects[0].loss > 0.01 and .suspects[0].loss < 0.15 and .suspects[0].new == true
		and (.previous.file | endswith("2026-01-01/summary.json"))
		and .previous.loss_change > 0 and .fabric.loss > 0' "$js" >/dev/null
	check_err $? "loss, newness or comparison wrong: $(jq -c '{s: .suspects[0], previous}' "$js")"
	jq -e '.worst_pairs[0].loss > 0.01 and .coverage.paths_max >= 2' "$js" >/dev/null
	check_err $? "worst pairs/coverage: $(jq -c '{w: .worst_pairs[0], coverage}' "$js")"
	log_test "${LOSS_PCT}% on spine1 -> leaf2: summary names it, new since last night"
}

# png_pixel PNG X Y: "R G B" of one pixel of an 8-bit RGB(A) PNG
png_pixel() {
	/usr/bin/python3 - "$@" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
x, y = int(float(sys.argv[2])), int(float(sys.argv[3]))
pos, idat = 8, b""
while pos < len(data):
	n, kind = struct.unpack(">I4s", data[pos:pos + 8])
	body = data[pos + 8:pos + 8 + n]
	if kind == b"IHDR":
		w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
	elif kind == b"IDAT":
		idat += body
	pos += 12 + n
assert depth == 8 and ctype in (2, 6), "want 8-bit RGB(A)"
bpp = 4 if ctype == 6 else 3
raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
for r in range(y + 1):
	f, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
	for i in range(stride):
		a = line[i - bpp] if i >= bpp else 0
		b, c = prev[i], prev[i - bpp] if i >= bpp else 0
		if f == 1: line[i] = (line[i] + a) & 255
		elif f == 2: line[i] = (line[i] + b) & 255
		elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
		elif f == 4:
			p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
			line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
	prev = line
print(*prev[x * bpp:x * bpp + 3])
EOF
}

chromium_run() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--hide-scrollbars --force-device-scale-factor=1 \
		--user-data-dir="$(mktemp -d "$LAB_TMP/chromium.XXXXXX")" "$@" 2>>"$LAB_TMP/chromium.log"
}

# line_mid DOM FROM TO: "X Y" midpoint of the heatmap line FROM -> TO
line_mid() {
	grep -o "<line class=\"link[^\"]*\" data-from=\"$2\" data-to=\"$3\"[^>]*>" "$1" | head -1 |
		sed -E 's/.*x1="([0-9.]+)" y1="([0-9.]+)" x2="([0-9.]+)" y2="([0-9.]+)".*/\1 \2 \3 \4/' |
		awk '{ printf "%d %d\n", ($1 + $3) / 2, ($2 + $4) / 2 }'
}

report_page_renders_fault_in_chromium() {
	local page=$REPORTS/latest/index.html dom=$LAB_TMP/dom.html n mid mx my px
	RET=0
	# the browser must not need the network: lab namespaces have none anyway,
	# and the page must not ask (no script, no external reference)
	! grep -qE '<script|<link |src=|url\(' "$page"
	check_err $? "the page loads something: $(grep -oE '<script|<link |src=|url\(' "$page" | head -3)"
	chromium_run --dump-dom "file://$page" >"$dom"
	grep -q '<svg id="heatmap"' "$dom"
	check_err $? "no heatmap in the rendered DOM ($(wc -c <"$dom") bytes)"
	n=$(grep -c "stroke=\"$FAULT_COLOR\"" <(grep -o '<line class="link[^>]*>' "$dom"))
	[ "$n" -eq 1 ]
	check_err $? "$n heatmap links in the fault colour, want 1"
	grep -qE "<line class=\"link fault\" data-from=\"spine1\" data-to=\"leaf2\" data-loss=\"0\.0[2-9][0-9]*\" data-suspect=\"link\"[^>]*stroke=\"$FAULT_COLOR\"" "$dom"
	check_err $? "spine1 -> leaf2 not in the fault colour with its loss: $(grep -o '<line class="link fault"[^>]*>' "$dom")"

	# the heatmap alone, rendered at scale 1 so SVG units are pixels
	{
		echo '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">'
		sed -n '/<svg id="heatmap"/,/<\/svg>/p' "$page"
		echo '</body></html>'
	} >"$LAB_TMP/heatmap.html"
	chromium_run --screenshot="$LAB_TMP/heatmap.png" --window-size=1000,500 \
		"file://$LAB_TMP/heatmap.html" >/dev/null
	test -s "$LAB_TMP/heatmap.png"
	check_err $? "no screenshot: $(tail -2 "$LAB_TMP/chromium.log")"
	read -r mx my < <(line_mid "$LAB_TMP/heatmap.html" spine1 leaf2)
	mid="$mx,$my"
	px=$(png_pixel "$LAB_TMP/heatmap.png" "$mx" "$my")
	[ "$px" = "$FAULT_RGB" ]
	check_err $? "pixel at the middle of spine1 -> leaf2 ($mid) is '$px', not the fault colour"
	read -r mx my < <(line_mid "$LAB_TMP/heatmap.html" spine2 leaf2)
	mid="$mx,$my"
	px=$(png_pixel "$LAB_TMP/heatmap.png" "$mx" "$my")
	[ -n "$px" ] && [ "$px" != "$FAULT_RGB" ] && [ "$px" != "255 255 255" ]
	check_err $? "pixel at the middle of healthy spine2 -> leaf2 ($mid) is '$px'"
	chromium_run --screenshot="$LAB_TMP/page.png" --window-size=1300,1500 "file://$page" >/dev/null
	log_info "page screenshot: page.png (FM_KEEP=1 keeps it)"
	log_test "Chromium: rendered heatmap shows spine1 -> leaf2, and only it, in the fault colour"
}

report_keeps_last_n() {
	local n
	RET=0
	nightly 2026-01-03 10s
	check_err $? "nightly-report failed: $(tail -3 "$LAB_TMP/nightly.log")"
	n=$(find "$REPORTS" -mindepth 1 -maxdepth 1 -type d | wc -l)
	[ "$n" -eq 2 ] && [ ! -e "$REPORTS/2026-01-01" ] &&
		[ "$(readlink "$REPORTS/latest")" = 2026-01-03 ]
	check_err $? "keep 2: $(find "$REPORTS" -mindepth 1 -maxdepth 1 -printf '%f ')"
	jq -e '.previous.file | endswith("2026-01-02/summary.json")' \
		"$REPORTS/2026-01-03/summary.json" >/dev/null
	check_err $? "third night not compared with the second"
	log_test "nightly-report: dated dirs, latest link, keeps the last 2"
}

lab_init rep
report_setup || { echo "setup failed"; exit 1; }
tests_run
exit $EXIT_STATUS
