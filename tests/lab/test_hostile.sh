#!/usr/bin/env bash
# lab: serial (measures the collector's memory under attack)
# test_hostile.sh: the collector as a hostile peer on the same network sees
# it, on loopback: connections that declare the largest frames cannot grow
# its memory (before HELLO a HELLO-sized buffer; after it the ingest budget
# with backpressure), and the metrics server refuses (400) and counts a
# request whose header value holds a NUL byte (libmicrohttpd alone would
# cut the value at the NUL and answer it).
#
#   hostile_peer frames (40 connections, 16 MiB frames declared)
#   bash /dev/tcp       (a request with "X-Key: ab<NUL>cd" to the metrics port)
#        |  TCP 127.0.0.1
#   collector --keys ... --metrics-listen 127.0.0.1:0   (RSS from /proc)
#
# No namespaces: loopback only. Memory figures are the collector's VmRSS
# before the attack and its VmHWM (peak) after.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	unauthenticated_max_frames_bounded_memory
	authenticated_max_frames_held_to_ingest_budget
	metrics_header_nul_refused_and_counted
	lab_no_sanitizer_reports
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

COL_PID=
KEY_HEX=000102030405060708090a0b0c0d0e0f

# hostile_collector_start TAG [OPTION...]: a collector on 127.0.0.1, any
# port ($COL_PORT), log collector.log.
hostile_collector_start() {
	local tag=$1
	shift
	rm -f "$LAB_TMP/port.$tag"
	"$FM_BIN/collector" --listen 127.0.0.1:0 --db "$LAB_TMP/$tag.db" \
		--port-file "$LAB_TMP/port.$tag" "$@" 2>>"$LAB_TMP/collector.log" &
	COL_PID=$!
	LAB_PIDS+=("$COL_PID")
	lab_wait_until 10000 test -s "$LAB_TMP/port.$tag" || { echo "collector did not start"; return 1; }
	COL_PORT=$(cat "$LAB_TMP/port.$tag")
}

# proc_kb PID FIELD: a /proc/PID/status figure in kB (VmRSS, VmHWM).
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# memory_attack_check NAME [HELLO_NAME]: 40 connections declaring 16 MiB
# frames against $COL_PID; the peak must stay under 64 MiB over the start,
# and the memory must be back under that bound once they are gone.
memory_attack_check() {
	local name=$1 hello=${2:-} base peak after
	base=$(proc_kb "$COL_PID" VmRSS)
	"$FM_BIN/hostile_peer" frames "127.0.0.1:$COL_PORT" 40 10 $hello >"$LAB_TMP/attack.out" 2>&1
	check_err $? "hostile_peer: $(cat "$LAB_TMP/attack.out")"
	kill -0 "$COL_PID" 2>/dev/null
	check_err $? "collector died"
	peak=$(proc_kb "$COL_PID" VmHWM)
	# the connections are closed; the collector frees them on its next turn
	lab_wait_until 10000 test "$(proc_kb "$COL_PID" VmRSS)" -lt $((base + 16384))
	after=$(proc_kb "$COL_PID" VmRSS)
	log_info "$(cat "$LAB_TMP/attack.out"); RSS ${base} kB before, peak ${peak} kB, ${after} kB after"
	if [ "$SANITIZED" = 1 ]; then
		# ASan's quarantine keeps freed memory: only "no crash" holds here
		log_info "sanitizer build: memory bounds not checked"
		return
	fi
	[ $((peak - base)) -lt 65536 ]
	check_err $? "peak grew by $(((peak - base) / 1024)) MiB (limit 64 MiB)"
	[ $((after - base)) -lt 16384 ]
	check_err $? "$(((after - base) / 1024)) MiB still held after the connections closed (limit 16 MiB)"
}

unauthenticated_max_frames_bounded_memory() {
	RET=0
	printf 'p0\t%s\n' "$KEY_HEX" >"$LAB_TMP/keys"
	hostile_collector_start unauth --keys "$LAB_TMP/keys" --max-conns-per-addr 64 ||
		{ check_err 1 "collector start"; log_test "40 unauthenticated 16 MiB frames: collector grows < 64 MiB"; return; }
	memory_attack_check unauth
	grep -q 'before HELLO' "$LAB_TMP/collector.log"
	check_err $? "no refusal logged"
	kill "$COL_PID"; wait "$COL_PID" 2>/dev/null
	log_test "40 unauthenticated 16 MiB frames: collector grows < 64 MiB"
}

# Authentication off, so every connection's HELLO is accepted and each may
# send a 16 MiB frame: the ingest budget (32 MiB here) bounds them together.
authenticated_max_frames_held_to_ingest_budget() {
	RET=0
	hostile_collector_start budget --ingest-budget 32 --max-conns-per-addr 64 ||
		{ check_err 1 "collector start"; log_test "40 HELLO'd 16 MiB frames held to a 32 MiB ingest budget"; return; }
	memory_attack_check budget p
	kill "$COL_PID"; wait "$COL_PID" 2>/dev/null
	log_test "40 HELLO'd 16 MiB frames held to a 32 MiB ingest budget"
}

# The collector's metrics port (--metrics-listen 127.0.0.1:0): a request
# whose X-Key value holds a NUL gets 400, the refusal is counted on /metrics,
# and a clean scrape still answers 200.
metrics_header_nul_refused_and_counted() {
	local name="metrics: a NUL in a header value gets 400 and is counted" mport status
	RET=0
	hostile_collector_start nul --metrics-listen 127.0.0.1:0 ||
		{ check_err 1 "collector start"; log_test "$name"; return; }
	lab_wait_until 10000 grep -q 'metrics at http://127.0.0.1:0/metrics (port' "$LAB_TMP/collector.log"
	mport=$(sed -n 's|.*metrics at http://127.0.0.1:0/metrics (port \([0-9]*\)).*|\1|p' \
		"$LAB_TMP/collector.log" | tail -n 1)
	[ -n "$mport" ]
	check_err $? "no metrics port in the log"
	if [ -n "$mport" ]; then
		# shellcheck disable=SC2016 # $1 is the inner shell's argument
		status=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 &&
			printf "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Key: ab\0cd\r\nConnection: close\r\n\r\n" >&3 &&
			head -c 12 <&3' _ "$mport")
		[ "$status" = "HTTP/1.1 400" ]
		check_err $? "a NUL in a header value got '$status', not 'HTTP/1.1 400'"
		curl -s -m 10 "http://127.0.0.1:$mport/metrics" >"$LAB_TMP/metrics.out"
		grep -qx 'faultmesh_metrics_requests_nul_refused_total 1' "$LAB_TMP/metrics.out"
		check_err $? "the refusal is not counted on /metrics"
	fi
	kill "$COL_PID"; wait "$COL_PID" 2>/dev/null
	log_test "$name"
}

lab_need collector hostile_peer
lab_init hos
SANITIZED=0
ldd "$FM_BIN/collector" 2>/dev/null | grep -q libasan && SANITIZED=1
tests_run
exit $EXIT_STATUS
