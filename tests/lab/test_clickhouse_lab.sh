#!/usr/bin/env bash
# lab: heavy (a ClickHouse server beside the lab fabric: never beside another heavy test)
# test_clickhouse_lab.sh: many collectors, one truth, with real packets. A
# clickhouse-server started by this test (own config, data dir and ports on
# h1's 127.0.0.1; stopped on exit, also on failure), two collectors writing
# into it, probers on every host split over them (each with the other as its
# failover). A link fault is localized and device/link answer from
# ClickHouse; collector A is killed -9 and its probers fail over to B;
# ClickHouse is restarted and meanwhile nothing is acknowledged; at the end
# every batch every prober sent is counted once.
#
#        spine1      spine2              fault: spine1 -> leaf2, 5% loss
#         |   \  \  /  /  |
#        leaf1   leaf2   leaf3
#        h1 h2   h3 h4   h5 h6     h1: clickhouse-server on 127.0.0.1,
#                                       collector A :31337, collector B :31347
#   h1 h3 h5 report to A,B    h2 h4 h6 report to B,A
# Skips (exit 4) when clickhouse-server is not installed.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	ch_link_fault_localized
	ch_collector_killed_probers_fail_over
	ch_restart_nothing_acked_meanwhile
	ch_every_batch_counted_once
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6"
CHL=$LAB_ROOT/scripts/clickhouse-local

# in_h1 CMD...: run in h1's namespace (where ClickHouse's loopback is)
in_h1() { ip netns exec "$(fab ns h1)" "$@"; }
tri() { in_h1 "$FM_BIN/triangulate" "$@"; }
chq() { in_h1 curl -sS --fail-with-body --data-binary "$1" "http://127.0.0.1:$CH_PORT/?database=fm"; }

col_start() {
	local name=$1 port=$2
	rm -f "$LAB_TMP/col.$name.port"
	lab_bg h1 "$FM_BIN/collector" --listen "$H1:$port" --store "$CH" \
		--port-file "$LAB_TMP/col.$name.port" 2>>"$LAB_TMP/collector.$name.log"
	eval "COL_PID_$name=$LAB_LAST_PID"
	lab_wait_until 15000 test -s "$LAB_TMP/col.$name.port" ||
		{ echo "collector $name did not start: $(tail -3 "$LAB_TMP/collector.$name.log")"; return 1; }
}

setup() {
	local h
	lab_need clickhouse-server curl jq prober collector triangulate
	lab_init chl
	lab_defer "$CHL stop $LAB_TMP/ch"
	fab up --spines 2 --leaves 3 --hosts-per-leaf 2 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	H1=$(fab addr h1 -4) || return 1
	in_h1 ip link set lo up
	CH_PORT=$(in_h1 "$CHL" start "$LAB_TMP/ch") || return 1
	CH=clickhouse://127.0.0.1:$CH_PORT/fm
	col_start A 31337 && col_start B 31347 || return 1
	for h in h1 h3 h5; do LAB_MESH_COLLECTORS[$h]=$H1:31337,$H1:31347; done
	for h in h2 h4 h6; do LAB_MESH_COLLECTORS[$h]=$H1:31347,$H1:31337; done
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_mesh_start "flows=8 rate=40 proto=udp port=31338" $HOSTS -- --interval 2s || return 1
	fab fault link spine1 leaf2 --loss 5 >/dev/null || return 1
}

# every prober has a batch stored at or after $1 (collector clock, ms)
all_stored_since() {
	[ "$(chq "SELECT uniqExact(prober) FROM batches FINAL WHERE stored_ms >= $1")" = 6 ]
}

# every host named holds at least 2 unacknowledged batches in its spool
spools_hold() {
	local h
	for h in "$@"; do
		[ "$(find "$LAB_TMP/spool.$h" -name '*.batch' | wc -l)" -ge 2 ] || return 1
	done
}

localized() {
	tri localize --store "$CH" --window 10s --inventory "$LAB_TMP/inventory" --json \
		>"$LAB_TMP/loc.json" 2>>"$LAB_TMP/tri.log" &&
		jq -e '[.suspects[] | "\(.kind) \(.from) \(.to)"] == ["link spine1 leaf2"]' \
			"$LAB_TMP/loc.json" >/dev/null
}

ch_link_fault_localized() {
	local js
	RET=0
	lab_wait_until 90000 localized
	check_err $? "localize from ClickHouse: $(jq -c '[.suspects[] | {kind, from, to}]' "$LAB_TMP/loc.json" 2>/dev/null) $(tail -2 "$LAB_TMP/tri.log")"
	js=$(tri device leaf2 --store "$CH" --inventory "$LAB_TMP/inventory" --window 10s --since 1m --json)
	jq -e '[.links[] | select(.suspect) | "\(.from) \(.to)"] == ["spine1 leaf2"]' <<<"$js" >/dev/null
	check_err $? "device leaf2: $(jq -c '{verdict, detail}' <<<"$js" 2>/dev/null)"
	js=$(tri link spine1 leaf2 --store "$CH" --inventory "$LAB_TMP/inventory" --window 10s --since 1m --json)
	jq -e '.verdict == "dropping"' <<<"$js" >/dev/null
	check_err $? "link spine1 leaf2: $(jq -c '{verdict, detail}' <<<"$js" 2>/dev/null)"
	js=$(tri link spine2 leaf2 --store "$CH" --inventory "$LAB_TMP/inventory" --window 10s --since 1m --json)
	jq -e '.verdict == "not dropping"' <<<"$js" >/dev/null
	check_err $? "link spine2 leaf2: $(jq -c '{verdict, detail}' <<<"$js" 2>/dev/null)"
	log_test "spine1 -> leaf2 localized; device leaf2, link spine1 leaf2 (dropping) and spine2 leaf2 (not) answer from ClickHouse"
}

ch_collector_killed_probers_fail_over() {
	local t
	RET=0
	kill -9 "$COL_PID_A"
	t=$(date +%s%3N)
	lab_wait_until 60000 all_stored_since "$t"
	check_err $? "not every prober stored a batch after collector A died: $(chq "SELECT prober, max(stored_ms) FROM batches FINAL GROUP BY prober ORDER BY prober" | tr '\n' ' ')"
	grep -q "failing over" "$LAB_TMP/prober.h1.log"
	check_err $? "h1 did not log a failover: $(tail -2 "$LAB_TMP/prober.h1.log")"
	log_test "collector A killed -9: its probers fail over to B, all six report"
}

ch_restart_nothing_acked_meanwhile() {
	local down_at spooled=0 h t
	RET=0
	"$CHL" stop "$LAB_TMP/ch"
	down_at=$(date +%s)
	# batches pile up in the probers' spools: the collector acknowledges none
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_wait_until 30000 spools_hold $HOSTS
	for h in $HOSTS; do
		spooled=$((spooled + $(find "$LAB_TMP/spool.$h" -name '*.batch' | wc -l)))
	done
	grep -q "clickhouse" "$LAB_TMP/collector.B.log"
	check_err $? "collector B logged no store failure: $(tail -2 "$LAB_TMP/collector.B.log")"
	[ "$spooled" -ge 12 ]
	check_err $? "only $spooled batches held in spools while ClickHouse was down"
	CH_PORT=$(in_h1 "$CHL" start "$LAB_TMP/ch")
	check_err $? "ClickHouse did not restart"
	t=$(date +%s%3N)
	lab_wait_until 60000 all_stored_since "$t"
	check_err $? "not every prober caught up after the restart"
	log_info "ClickHouse down $(($(date +%s) - down_at)) s; $spooled batches held in spools, none acknowledged"
	log_test "ClickHouse restarted: batches held unacknowledged meanwhile, then stored"
}

ch_every_batch_counted_once() {
	local h seqs rows pid bad=""
	RET=0
	# stop the probers; a batch is then stored (ACKed) or still spooled
	for pid in "${LAB_PIDS[@]}"; do
		[ "$pid" = "$COL_PID_A" ] || [ "$pid" = "$COL_PID_B" ] || kill "$pid" 2>/dev/null
	done
	sleep 1
	for h in $HOSTS; do
		# stored (once each: FINAL count == distinct seqs) plus still spooled
		# must be 1..max with no gap
		seqs=$( { chq "SELECT seq FROM batches FINAL WHERE prober = '$h'"
			find "$LAB_TMP/spool.$h" -name '*.batch' -printf '%f\n' | sed 's/\.batch$//; s/^0*//'; } |
			sort -n | uniq)
		[ "$(chq "SELECT count() = uniqExact(seq) FROM batches FINAL WHERE prober = '$h'")" = 1 ] &&
			[ "$(wc -l <<<"$seqs")" = "$(tail -1 <<<"$seqs")" ] && [ "$(head -1 <<<"$seqs")" = 1 ] ||
			bad+=" $h"
	done
	[ -z "$bad" ]
	check_err $? "batches lost or doubled for:$bad"
	# a batch in the ledger has all its flow rows, once
	rows=$(chq "SELECT count() FROM results FINAL WHERE (prober, seq, start_ms) IN
		(SELECT prober, seq, start_ms FROM batches FINAL)")
	[ "$(chq "SELECT sum(nflows) FROM batches FINAL")" = "$rows" ]
	check_err $? "flow rows $rows != the ledger's $(chq "SELECT sum(nflows) FROM batches FINAL")"
	log_info "$(chq "SELECT count() FROM batches FINAL") batches once each; $(chq "SELECT count() FROM batches") rows before folding resends"
	log_test "every batch every prober sent is counted once (no loss, no doubles)"
}

setup || exit 1
tests_run
lab_no_sanitizer_reports
exit "$EXIT_STATUS"
