#!/usr/bin/env bash
# test_localize_background.sh: localization on a fabric where every link has
# its own small healthy loss (issue 13, item 1): `triangulate localize` names
# nothing while only the background drops, then exactly the one 1% link fault
# and nothing else. Real packets; the background is nft `numgen random` at
# each link's ingress, a rate per directed link uniform in 0..0.05%
# (`fabric-lab background --max 0.05`), hosts' links included.
#
#          spine1     spine2     spine3     spine4      background: every directed
#        (each spine to every leaf)                     link, 0..0.05% each
#     leaf1   leaf2   leaf3   leaf4   leaf5   leaf6     fault: spine2 -> leaf3, 1%
#     h1 h2   h3 h4   h5 h6   h7 h8   h9 h10  h11 h12   collector on h1
#
#   72 directed links: enough for the inference to learn the background from
#   the window rather than assume one. Each host probes the 11 others on FLOWS
#   UDP flows at RATE probes/s per target (15 per flow: about 12000 probes per
#   spine -> leaf link and 26000 per host downlink in a window, enough for a
#   link near 0.05% to stand out against a fixed 1e-4 null) and reports every
#   INTERVAL; localize looks back WINDOW_S seconds. FM_BG_SEED=N repeats a
#   run's background (the seed is logged).
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	bg_applied
	bg_quiet
	bg_link_named_alone
	lab_no_sanitizer_reports
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6 h7 h8 h9 h10 h11 h12"
NHOSTS=12
UDP_PORT=31338
FLOWS=4            # per target: 528 flows, about 20 per spine -> leaf link
RATE=60            # probes/s per target: 15 per flow
INTERVAL=2s
INTERVAL_MAX_MS=2200
WINDOW_S=40
BG_MAX_PCT=0.05
BG_SEED=${FM_BG_SEED:-$((RANDOM * 32768 + RANDOM))}
LINK_A=spine2 LINK_B=leaf3 LINK_LOSS=1
DB=

now_ms() { echo $(($(date +%s%N) / 1000000)); }
traced_all() { lab_db_traced "$DB" $((NHOSTS * (NHOSTS - 1) * FLOWS)); }
window_wait() { lab_window_wait "$DB" "$1" $WINDOW_S $INTERVAL_MAX_MS $NHOSTS; }
localize_json() { lab_localize_json "$DB" $WINDOW_S "$LAB_TMP/inventory" "$1"; }

bg_setup() {
	lab_need jq sqlite3 nft prober collector triangulate
	fab up --spines 4 --leaves 6 --hosts-per-leaf 2 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	fab background --max $BG_MAX_PCT --seed "$BG_SEED" >/dev/null || return 1
	DB=$LAB_TMP/fm.db
	lab_collector_start "$DB" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_mesh_start "flows=$FLOWS rate=$RATE proto=udp port=$UDP_PORT" $HOSTS -- \
		--interval "$INTERVAL" --listen-port "$UDP_PORT"
}

bg_applied() {
	local n links
	RET=0
	links=$(grep -c '^link' "$LAB_TMP/inventory")
	n=$(fab background show | wc -l)
	[ "$n" -eq $((2 * links)) ]
	check_err $? "background on $n directed links, not all $((2 * links))"
	fab background show | awk -F'\t' -v m=$BG_MAX_PCT '$3 < 0 || $3 > m { bad = 1 } END { exit bad }'
	check_err $? "a background rate outside 0..$BG_MAX_PCT%: $(sort -t$'\t' -k3 -g -r <(fab background show) | head -1)"
	[ "$(fab background show | cut -f3 | sort -u | wc -l)" -gt $((n / 2)) ]
	check_err $? "background rates are not link by link"
	log_info "background seed $BG_SEED (FM_BG_SEED), rates $(fab background show | cut -f3 | sort -g | sed -n '1p;$p' | tr '\n' ' ')%"
	log_test "background: a rate of its own on each of $n directed links, up to $BG_MAX_PCT%"
}

bg_quiet() {
	RET=0
	lab_quiet_check "$LAB_TMP/quiet.json" 120 "background loss alone"
	log_test "background up to $BG_MAX_PCT% per link, no fault: no suspect"
}

bg_link_named_alone() {
	local out=$LAB_TMP/link.json t0 fault
	RET=0
	fault=$(fab fault link $LINK_A $LINK_B --loss $LINK_LOSS) ||
		{ check_err 1 "fault"; log_test "link fault on background"; return; }
	t0=$(now_ms)
	window_wait "$t0"
	check_err $? "no whole window of batches after the fault"
	localize_json "$out"
	check_err $? "localize failed: $(head -3 "$out.err")"
	fab fault del "$fault" >/dev/null
	log_info "suspects:$(lab_suspects_brief "$out")"
	jq -e --arg a $LINK_A --arg b $LINK_B '.suspects | length == 1 and
		(.[0] | .kind == "link" and .from == $a and .to == $b)' "$out" >/dev/null
	check_err $? "not exactly link $LINK_A -> $LINK_B"
	log_test "${LINK_LOSS}% on $LINK_A -> $LINK_B over the background: that link, nothing else"
}

lab_init lbg
bg_setup || { echo "FAIL: setup"; exit 1; }
tests_run
exit $EXIT_STATUS
