#!/usr/bin/env bash
# test_coverage.sh: the prober sizes a target's flows from its path coverage
# (MDA, 95%): started with --flows 4 towards a host 8 equal-cost paths away,
# it adds flows until its traces have seen all 8 spines and the MDA bound is
# met; a target with an explicit flows=4 stays at 4 flows.
#
#      spine1 spine2 ... spine8          8 equal-cost paths leaf1 -> leaf2
#          \  \  ...  /  /
#          leaf1      leaf2
#           h1         h2                prober + collector on h1 -> h2
#
# The lab runs without ICMP rate limits and the prober's tracer unpaced
# (--trace-router-interval 0), so some 50 traces fit the time budget; what
# is checked is read back from the collector's database (distinct flows and
# distinct hop lists per prober/target pair) and from the prober's log.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	coverage_auto_grows_to_all_paths
	coverage_rate_kept
	coverage_explicit_flows_kept
	lab_no_sanitizer_reports
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

UDP_PORT=31338
TCP_PORT=31339
SPORT_BASE=40000
SPINES=8
DB=
H2=

sql() { sqlite3 -separator ' ' "$DB" "$1"; }

# pair_counts PROTO: "flows paths" stored for h1 -> h2 over PROTO.
pair_counts() {
	sql "SELECT count(DISTINCT f.sport), count(DISTINCT p.hops)
		FROM flows f JOIN probers pr ON pr.id = f.prober_id
		JOIN targets t ON t.id = f.target_id
		LEFT JOIN paths p ON p.flow_id = f.id
		WHERE pr.name = 'h1' AND t.addr = '$H2' AND f.proto = $1"
}

# all_paths_seen: the prober logged the auto target complete and the
# database holds every spine's path.
all_paths_seen() {
	local n p
	grep -q "target $H2 udp: .* flows, complete" "$LAB_TMP/prober.h1.log" || return 1
	read -r n p < <(pair_counts 17)
	[ "${p:-0}" -ge "$SPINES" ]
}

coverage_setup() {
	fab up --spines $SPINES --leaves 2 --hosts-per-leaf 1 --no-icmp-ratelimit >/dev/null ||
		return 1
	H2=$(fab addr h2 -4) || return 1
	local h1
	h1=$(fab addr h1 -4) || return 1
	DB=$LAB_TMP/cov.db
	lab_bg h1 "$FM_BIN/collector" --listen "$h1:31337" --db "$DB" \
		--port-file "$LAB_TMP/col.port" 2>>"$LAB_TMP/collector.log"
	lab_wait_until 10000 test -s "$LAB_TMP/col.port" || return 1
	lab_bg h2 "$FM_BIN/prober" --name h2 --tcp-port "$TCP_PORT" --listen-port "$UDP_PORT" \
		--spool "$LAB_TMP/spool.h2" 2>>"$LAB_TMP/prober.h2.log"
	{
		echo "# faultmesh targets v1"
		echo "$H2 rate=100 proto=udp port=$UDP_PORT"
		echo "$H2 flows=4 rate=100 proto=tcp port=$TCP_PORT"
	} >"$LAB_TMP/targets.h1"
	lab_bg h1 "$FM_BIN/prober" --name h1 --targets "$LAB_TMP/targets.h1" --flows 4 \
		--collector "$h1:31337" --spool "$LAB_TMP/spool.h1" --interval 2s \
		--tcp-port "$TCP_PORT" --listen-port "$UDP_PORT" --sport-base "$SPORT_BASE" \
		--trace-interval 1m --trace-router-interval 0 2>>"$LAB_TMP/prober.h1.log"
}

coverage_auto_grows_to_all_paths() {
	local n p t0=$SECONDS
	RET=0
	lab_wait_until 45000 all_paths_seen
	check_err $? "not all $SPINES paths seen, or no 'complete' decision, in 45 s"
	[ "$RET" -eq 0 ] || tail -n 5 "$LAB_TMP"/*.log | sed 's/^/INFO:   /'
	read -r n p < <(pair_counts 17)
	log_info "auto target: $n flows, $p distinct paths after $((SECONDS - t0)) s"
	grep "target $H2 " "$LAB_TMP/prober.h1.log" | sed 's/^/INFO:   /'
	# 8 paths are complete at 95% after 44 flows (mda_stop_flows(8))
	[ "${n:-0}" -gt 4 ] && [ "${n:-0}" -ge 44 ] && [ "${n:-0}" -le 256 ]
	check_err $? "auto target has $n flows, want 44..256 (grown from 4)"
	grep -q "target $H2 udp: .* grew to" "$LAB_TMP/prober.h1.log"
	check_err $? "no growth decision logged"
	log_test "--flows 4 grows to the MDA bound: all $SPINES spine paths seen ($n flows)"
}

coverage_rate_kept() {
	local lo hi
	RET=0
	# more flows, same rate: 100 probes/s over a 2 s (+-10%) interval
	# before and after growing
	read -r lo hi < <(sql "SELECT min(s), max(s) FROM (SELECT SUM(r.sent) AS s
		FROM results r JOIN batches b ON b.id = r.batch_id
		JOIN flows f ON f.id = r.flow_id JOIN targets t ON t.id = f.target_id
		WHERE t.addr = '$H2' AND f.proto = 17 AND b.seq > 1
		GROUP BY r.batch_id)")
	log_info "auto target: $lo..$hi probes per interval"
	[ "${hi:-999}" -le 240 ] && ! grep -q "coverage: cannot add flows" "$LAB_TMP/prober.h1.log"
	check_err $? "auto target sent up to $hi probes in one interval, want <= 240, or growth failed"
	log_test "growing flows keeps the target's probe rate"
}

coverage_explicit_flows_kept() {
	local n p
	RET=0
	read -r n p < <(pair_counts 6)
	log_info "explicit flows=4 target: $n flows, $p distinct paths"
	[ "${n:-0}" -eq 4 ] && [ "${p:-0}" -ge 1 ]
	check_err $? "explicit flows=4 target has $n flows ($p paths), want 4"
	grep -q "target $H2 tcp: .* over 4 flows, \(complete\|.*flows= set, kept\)" "$LAB_TMP/prober.h1.log"
	check_err $? "no coverage decision logged for the explicit target"
	log_test "an explicit flows=4 stays at 4 flows"
}


lab_init cov
lab_need sqlite3 prober collector
coverage_setup || { echo "FAIL: setup"; exit 1; }
tests_run
exit $EXIT_STATUS
