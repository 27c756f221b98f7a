#!/usr/bin/env bash
# test_prober_name.sh: probers started without --name on hosts that share a
# host name (lab namespaces share the machine's) get distinct names, kept
# across a restart, and the collector stores their batches apart; a second
# prober on a spool in use refuses to start.
#
#        spine1
#         |   |
#       leaf1 leaf2
#        h1    h2          collector on h1; a prober on h1 and h2, no --name
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	name_distinct_per_host_sharing_a_hostname
	name_kept_across_a_restart
	name_spool_shared_refused
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

declare -A PID

name_setup() {
	lab_need sqlite3 prober collector
	fab up --spines 1 --leaves 2 --hosts-per-leaf 1 >/dev/null || return 1
	H1=$(fab addr h1 -4) && H2=$(fab addr h2 -4) || return 1
	DB=$LAB_TMP/fm.db
	lab_collector_start "$DB" || return 1
	printf '# faultmesh targets v1\n%s flows=2 rate=20\n' "$H2" >"$LAB_TMP/targets.h1"
	printf '# faultmesh targets v1\n%s flows=2 rate=20\n' "$H1" >"$LAB_TMP/targets.h2"
	prober_start h1 && prober_start h2
}

# prober_start HOST: a prober on HOST with its own spool and no --name
prober_start() {
	lab_bg "$1" "$FM_BIN/prober" --targets "$LAB_TMP/targets.$1" --collector "$H1:31337" \
		--spool "$LAB_TMP/spool.$1" --interval 2s 2>>"$LAB_TMP/prober.$1.log"
	PID[$1]=$LAB_LAST_PID
}

names() { sqlite3 "$DB" 'SELECT name FROM probers ORDER BY name' 2>/dev/null | tr '\n' ' '; }

name_distinct_per_host_sharing_a_hostname() {
	local host
	RET=0
	host=$(hostname)
	lab_wait_until 20000 bash -c "[ \$(sqlite3 '$DB' 'SELECT count(*) FROM probers' 2>/dev/null) -ge 2 ]"
	check_err $? "the collector does not have two probers: '$(names)'"
	N1=$(cat "$LAB_TMP/spool.h1/name" 2>/dev/null)
	N2=$(cat "$LAB_TMP/spool.h2/name" 2>/dev/null)
	[ -n "$N1" ] && [ -n "$N2" ] && [ "$N1" != "$N2" ]
	check_err $? "names in the spools: '$N1' '$N2'"
	[ "$(names)" = "$(printf '%s\n%s\n' "$N1" "$N2" | sort | tr '\n' ' ')" ]
	check_err $? "stored names '$(names)', spool names '$N1' '$N2'"
	[[ "$N1" == "${host:0:20}"* ]]
	check_err $? "'$N1' does not start with the host name '$host'"
	! grep -q "reused seq" "$LAB_TMP/collector.log"
	check_err $? "the collector saw reused batch numbers: $(grep -m1 'reused seq' "$LAB_TMP/collector.log")"
	log_test "two hosts, one host name, no --name: two prober names ($N1, $N2), batches apart"
}

name_kept_across_a_restart() {
	RET=0
	kill "${PID[h1]}"
	lab_wait_until 10000 bash -c "! kill -0 ${PID[h1]}"
	check_err $? "prober h1 did not stop"
	prober_start h1
	lab_wait_until 10000 grep -q "probing" "$LAB_TMP/prober.h1.log"
	sleep 2
	[ "$(cat "$LAB_TMP/spool.h1/name")" = "$N1" ] && [ "$(names)" = "$(printf '%s\n%s\n' "$N1" "$N2" | sort | tr '\n' ' ')" ]
	check_err $? "after a restart: spool name '$(cat "$LAB_TMP/spool.h1/name")', stored '$(names)'"
	log_test "a restarted prober keeps its name"
}

name_spool_shared_refused() {
	local rc
	RET=0
	timeout 20 ip netns exec "$(fab ns h2)" "$FM_BIN/prober" --targets "$LAB_TMP/targets.h2" \
		--spool "$LAB_TMP/spool.h2" --sport-base 42000 --no-responder --duration 5s \
		2>"$LAB_TMP/second.log"
	rc=$?
	[ "$rc" -ne 0 ] && grep -q "spool.*in use by another prober" "$LAB_TMP/second.log"
	check_err $? "a second prober on a spool in use: exit $rc, '$(cat "$LAB_TMP/second.log")'"
	log_test "a second prober on the same spool refuses to start"
}

lab_init nam
name_setup || { echo "setup failed"; exit 1; }
tests_run
exit $EXIT_STATUS
