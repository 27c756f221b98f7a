#!/usr/bin/env bash
# test_collector.sh: the collector binary on loopback: kill -9 mid-ingest and
# restarts lose or double no batch; garbage from one peer does not disturb the
# others; SIGTERM shuts down cleanly; a newer database schema is refused.
#
#   ingest_bench send (4 probers, resend unacked after reconnect, like the spool)
#        |  TCP 127.0.0.1:PORT
#   collector --db $LAB_TMP/fm.db   <- kill -9, restart on the same port, x3
#        ^
#   garbage senders (/dev/urandom, HTTP, truncated frames)
#
# No namespaces: loopback only. Counts are read back with the sqlite3 CLI.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	kill9_exactly_once
	garbage_isolated
	sigterm_clean
	newer_schema_refused
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

COL_PID=

# collector_start DB PORT: start the collector (port 0 = any) and wait until it
# listens; the bound port is in $COL_PORT.
collector_start() {
	local db=$1 port=$2
	rm -f "$LAB_TMP/port"
	"$FM_BIN/collector" --listen "127.0.0.1:$port" --db "$db" \
		--port-file "$LAB_TMP/port" 2>>"$LAB_TMP/collector.log" &
	COL_PID=$!
	LAB_PIDS+=("$COL_PID")
	lab_wait_until 10000 test -s "$LAB_TMP/port" || { echo "collector did not start"; return 1; }
	COL_PORT=$(cat "$LAB_TMP/port")
}

sql() { sqlite3 "$1" "$2"; }

kill9_exactly_once() {
	local db=$LAB_TMP/k9.db probers=4 batches=300 flows=200 sender i rc
	RET=0
	collector_start "$db" 0 || { check_err 1 "collector start"; log_test "kill -9 mid-ingest: every batch exactly once"; return; }
	# paced so the run spans the kills; retry covers the restarts
	"$FM_BIN/ingest_bench" send --connect "127.0.0.1:$COL_PORT" --probers "$probers" \
		--batches "$batches" --flows "$flows" --window 4 --pace 10ms --retry 30s \
		>"$LAB_TMP/send.out" 2>"$LAB_TMP/send.err" &
	sender=$!
	for i in 1 2 3; do
		sleep 0.7
		kill -9 "$COL_PID"
		wait "$COL_PID" 2>/dev/null
		log_info "kill -9 #$i after $(sql "$db" 'SELECT count(*) FROM batches') batches stored"
		collector_start "$db" "$COL_PORT" || check_err 1 "restart $i failed"
	done
	wait "$sender"
	rc=$?
	check_err "$rc" "sender failed: $(cat "$LAB_TMP/send.out" "$LAB_TMP/send.err" | tail -3)"
	grep -q 'reconnects [1-9]' "$LAB_TMP/send.out"
	check_err $? "sender never had to reconnect: the kills did not hit mid-run"
	[ "$(sql "$db" 'SELECT count(*) FROM batches')" = $((probers * batches)) ]
	check_err $? "batches: $(sql "$db" 'SELECT count(*) FROM batches'), want $((probers * batches))"
	[ "$(sql "$db" 'SELECT count(*) FROM results')" = $((probers * batches * flows)) ]
	check_err $? "results: $(sql "$db" 'SELECT count(*) FROM results'), want $((probers * batches * flows))"
	[ "$(sql "$db" 'SELECT count(DISTINCT prober_id || "/" || seq) FROM batches')" = $((probers * batches)) ]
	check_err $? "a (prober, seq) stored twice"
	[ "$(sql "$db" 'PRAGMA integrity_check')" = ok ]
	check_err $? "integrity_check failed"
	log_info "$(cat "$LAB_TMP/send.out")"
	kill "$COL_PID"; wait "$COL_PID" 2>/dev/null
	log_test "kill -9 mid-ingest x3: every batch exactly once"
}

garbage_isolated() {
	local db=$LAB_TMP/g.db sender i
	RET=0
	collector_start "$db" 0 || { check_err 1 "collector start"; log_test "garbage on some connections, others unaffected"; return; }
	"$FM_BIN/ingest_bench" send --connect "127.0.0.1:$COL_PORT" --probers 2 \
		--batches 60 --flows 20 --pace 10ms >"$LAB_TMP/gsend.out" 2>&1 &
	sender=$!
	for i in $(seq 1 20); do
		case $((i % 4)) in
		0) head -c 4096 /dev/urandom ;;
		1) printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' ;;
		2) printf 'FMR1\0\1\0\2\377\377\377\377\0\0\0\0' ;;   # huge length
		3) printf 'FMR1\0\1\0\1\0\0\0\6\0\0\0\0\5ho' ;;       # truncated HELLO
		esac | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$COL_PORT" 2>/dev/null
	done
	wait "$sender"
	check_err $? "good sender failed: $(tail -2 "$LAB_TMP/gsend.out")"
	kill -0 "$COL_PID" 2>/dev/null
	check_err $? "collector died"
	[ "$(sql "$db" 'SELECT count(*) FROM batches')" = 120 ]
	check_err $? "batches: $(sql "$db" 'SELECT count(*) FROM batches'), want 120"
	grep -q 'closing: bad frame header' "$LAB_TMP/collector.log"
	check_err $? "no rejection logged"
	kill "$COL_PID"; wait "$COL_PID" 2>/dev/null
	log_test "garbage on some connections, others unaffected"
}

sigterm_clean() {
	local db=$LAB_TMP/t.db rc
	RET=0
	: >"$LAB_TMP/collector.log"
	collector_start "$db" 0 || { check_err 1 "collector start"; log_test "SIGTERM: clean shutdown"; return; }
	"$FM_BIN/ingest_bench" send --connect "127.0.0.1:$COL_PORT" --probers 1 --batches 3 --flows 5 >/dev/null
	check_err $? "sender failed"
	kill -TERM "$COL_PID"
	wait "$COL_PID"
	rc=$?
	check_err "$rc" "collector exited $rc on SIGTERM"
	grep -q 'shutting down: 3 batches stored (15 rows)' "$LAB_TMP/collector.log"
	check_err $? "no shutdown summary: $(tail -1 "$LAB_TMP/collector.log")"
	log_test "SIGTERM: clean shutdown"
}

newer_schema_refused() {
	local db=$LAB_TMP/n.db rc
	RET=0
	collector_start "$db" 0 && kill "$COL_PID" && wait "$COL_PID" 2>/dev/null
	sql "$db" 'UPDATE schema_version SET version = 99'
	"$FM_BIN/collector" --listen 127.0.0.1:0 --db "$db" 2>"$LAB_TMP/n.err"
	rc=$?
	[ "$rc" = 1 ]
	check_err $? "exit $rc, want 1"
	grep -q 'schema version 99 is newer' "$LAB_TMP/n.err"
	check_err $? "message: $(cat "$LAB_TMP/n.err")"
	log_test "newer database schema refused with a clear error"
}

lab_need sqlite3 collector ingest_bench
lab_init col
tests_run
exit $EXIT_STATUS
