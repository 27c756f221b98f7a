# lib.sh: shared helpers for the lab tests (source it): a unique lab name and
# a cleanup trap, bounded waits, kernel-selftest style check/log functions,
# background processes in namespaces, per-flow nft counters, binomial checks.
# shellcheck shell=bash disable=SC2034 # RET, EXIT_STATUS are read by the tests

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_ROOT=$(cd "$LAB_DIR/../.." && pwd)
LAB_FABRIC=$LAB_ROOT/scripts/fabric-lab
: "${FM_BIN:=$LAB_ROOT/bin}"
export FM_BIN

RET=0
EXIT_STATUS=0
LAB_CLEANUPS=()
LAB_PIDS=()
declare -A LAB_MESH_COLLECTORS=() # HOST -> --collector list (lab_mesh_start)

# fab ARGS...: scripts/fabric-lab for this test's lab ($FM_LAB).
fab() { "$LAB_FABRIC" "$@"; }

# lab_init TAG: gives this run its own lab name, ${FM_LAB:-fm}TAG<pid>
# (parallel runs never collide), a scratch dir $LAB_TMP, and the EXIT trap
# that runs every lab_defer'ed command and tears the lab down.
lab_init() {
	local tag=$1
	[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root"; exit 4; }
	export FM_LAB="${FM_LAB:-fm}${tag}$$"
	LAB_NAME=$FM_LAB
	LAB_TMP=$(mktemp -d "/tmp/faultmesh-$FM_LAB.XXXXXX")
	trap lab_cleanup EXIT
	trap 'exit 130' INT TERM
	lab_defer "FM_LAB=$LAB_NAME $LAB_FABRIC down"
	# FM_KEEP=1 keeps the scratch dir (databases, logs) for a look afterwards
	if [ "${FM_KEEP:-0}" = 1 ]; then
		echo "INFO: FM_KEEP=1: $LAB_TMP stays after the test"
	else
		lab_defer "rm -rf $LAB_TMP"
	fi
}

# lab_defer CMD: run CMD (a string for eval) at exit; last registered, first run.
lab_defer() { LAB_CLEANUPS+=("$1"); }

lab_cleanup() {
	local i pid
	for pid in "${LAB_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for ((i = ${#LAB_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${LAB_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
}

# lab_need CMD...: skip the whole test (exit 4) when a tool is missing.
lab_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || [ -x "$FM_BIN/$c" ] ||
			{ echo "SKIP: $c not found (scripts/install-deps, make)"; exit 4; }
	done
}

# lab_wait_until TIMEOUT_MS CMD...: poll CMD every 50 ms until it succeeds;
# 1 when TIMEOUT_MS passes first.
lab_wait_until() {
	local timeout_ms=$1 waited_ms=0
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$waited_ms" -ge "$timeout_ms" ] && return 1
		sleep 0.05
		waited_ms=$((waited_ms + 50))
	done
}

# lab_bg DEVICE CMD...: start CMD in DEVICE's namespace in the background;
# its pid is in $LAB_LAST_PID and it is killed at exit.
lab_bg() {
	local d=$1
	shift
	ip netns exec "$(fab ns "$d")" "$@" &
	LAB_LAST_PID=$!
	LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_sink_start DEVICE PORT OUTFILE [labtraf sink options]: start a counting
# sink and wait (bounded) until it listens; its pid is in $LAB_LAST_PID.
lab_sink_start() {
	local d=$1 port=$2 out=$3 ready
	shift 3
	ready=$LAB_TMP/ready.$d.$port
	rm -f "$ready"
	lab_bg "$d" "$FM_BIN/labtraf" sink --port "$port" --ready "$ready" "$@" >"$out"
	lab_wait_until 5000 test -e "$ready" || { echo "sink in $d did not start"; return 1; }
}

# lab_flow_count_start DEVICE PORT: count, per UDP source port, the packets to
# PORT arriving at DEVICE (before any fault rule sees them); resets old counts.
lab_flow_count_start() {
	local ns
	ns=$(fab ns "$1") || return 1
	ip netns exec "$ns" nft delete table inet fmtest 2>/dev/null
	ip netns exec "$ns" nft -f - <<EOF
table inet fmtest {
	set flows { type inet_service; flags dynamic; counter; size 65535; }
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		udp dport $2 update @flows { udp sport }
	}
}
EOF
}

# lab_flow_count_dump DEVICE: prints "SPORT PACKETS" per flow seen.
lab_flow_count_dump() {
	ip netns exec "$(fab ns "$1")" nft list set inet fmtest flows |
		grep -oE '[0-9]+ counter packets [0-9]+' | awk '{ print $1, $4 }'
}

# lab_binom_ok N K P [Z]: true when K successes in N trials are plausible
# for probability P, i.e. within N*P +- (Z*sqrt(N*P*(1-P)) + 0.5); Z defaults
# to 2.576, a two-sided 99% normal interval. Prints the interval.
lab_binom_ok() {
	awk -v n="$1" -v k="$2" -v p="$3" -v z="${4:-2.576}" 'BEGIN {
		m = n * p; h = z * sqrt(n * p * (1 - p)) + 0.5
		printf "%d of %d, expected %.1f in [%.1f, %.1f]\n", k, n, m, m - h, m + h
		exit !(k >= m - h && k <= m + h)
	}'
}

# Kernel selftest style: check_err STATUS MSG records a failure unless
# STATUS is 0; check_fail the reverse; log_test NAME reports and resets.
check_err() {
	if [ "$1" -ne 0 ] && [ "$RET" -eq 0 ]; then
		RET=$1
		RET_MSG=$2
	fi
}

check_fail() {
	if [ "$1" -eq 0 ] && [ "$RET" -eq 0 ]; then
		RET=1
		RET_MSG=$2
	fi
}

log_test() {
	if [ "$RET" -ne 0 ]; then
		EXIT_STATUS=1
		printf "TEST: %-60s [FAIL]\n\t%s\n" "$1" "$RET_MSG"
	else
		printf "TEST: %-60s [ OK ]\n" "$1"
	fi
	RET=0
	RET_MSG=
}

log_info() { printf "INFO: %s\n" "$*"; }

# lab_collector_start DB [OPTION...]: a collector on h1 (port 31337, log
# collector.log) storing into DB; waits (bounded) until it listens.
lab_collector_start() {
	local db=$1 h1
	shift
	h1=$(fab addr h1 -4) || return 1
	lab_bg h1 "$FM_BIN/collector" --listen "$h1:31337" --db "$db" \
		--port-file "$LAB_TMP/col.port" "$@" 2>>"$LAB_TMP/collector.log"
	lab_wait_until 10000 test -s "$LAB_TMP/col.port" ||
		{ echo "collector did not start"; return 1; }
}

# lab_mesh_start "KEYS" HOST... [-- PROBER_OPTION...]: on every HOST a prober
# (log prober.HOST.log) probing every other HOST's IPv4 address (IPv6 with
# LAB_MESH_FAMILY=6) with the targets-file KEYS, reporting to the collector
# on h1.
lab_mesh_start() {
	local keys=$1 h t col
	local -a hosts=()
	local -A addr=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do hosts+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	for h in "${hosts[@]}"; do addr[$h]=$(fab addr "$h" "-${LAB_MESH_FAMILY:-4}") || return 1; done
	col=$(fab addr h1 -4):31337 || return 1
	for h in "${hosts[@]}"; do
		{
			echo "# faultmesh targets v1"
			for t in "${hosts[@]}"; do
				[ "$t" = "$h" ] || echo "${addr[$t]} $keys"
			done
		} >"$LAB_TMP/targets.$h"
		lab_bg "$h" "$FM_BIN/prober" --name "$h" --targets "$LAB_TMP/targets.$h" \
			--collector "${LAB_MESH_COLLECTORS[$h]:-$col}" --spool "$LAB_TMP/spool.$h" "$@" 2>>"$LAB_TMP/prober.$h.log"
	done
}

# lab_db_traced DB N: at least N flows have a traced path in the collector's DB
lab_db_traced() {
	[ "$(sqlite3 "$1" 'SELECT count(DISTINCT flow_id) FROM paths' 2>/dev/null || echo 0)" -ge "$2" ]
}

# lab_db_batches_since DB MS N: N probers have stored a batch that ended at or
# after MS (their clock, this machine's)
lab_db_batches_since() {
	[ "$(sqlite3 "$1" "SELECT count(DISTINCT prober_id) FROM batches WHERE end_ms >= $2" \
		2>/dev/null || echo 0)" -ge "$3" ]
}

# lab_window_wait DB T0_MS WINDOW_S INTERVAL_MAX_MS N: wait (bounded) until all
# N probers stored a whole window of batches that began after T0_MS, so a
# window ending now holds nothing from before it; 1 on timeout
lab_window_wait() {
	lab_wait_until $((($3 + 30) * 1000)) lab_db_batches_since "$1" $(($2 + $3 * 1000 + $4)) "$5"
}

# lab_localize_json DB WINDOW_S INVENTORY OUT: localize's suspects over the
# last WINDOW_S seconds as JSON in OUT (stderr in OUT.err)
lab_localize_json() {
	"$FM_BIN/triangulate" localize --db "$1" --window "$2s" --inventory "$3" --json \
		>"$4" 2>"$4.err"
}

# lab_quiet_check OUT TRACE_S WHAT: on a fabric without faults, once every
# flow is traced (the test's traced_all, within TRACE_S seconds) and a whole
# window of batches has landed since (its window_wait), localize (its
# localize_json, into OUT) names nothing; WHAT names the fabric on failure
lab_quiet_check() {
	local out=$1
	lab_wait_until $(($2 * 1000)) traced_all
	check_err $? "not every flow traced within $2 s"
	window_wait "$(($(date +%s%N) / 1000000))"
	check_err $? "no whole window of batches"
	localize_json "$out"
	check_err $? "localize failed: $(head -3 "$out.err")"
	log_info "suspects:$(lab_suspects_brief "$out")"
	jq -e '.suspects | length == 0' "$out" >/dev/null
	check_err $? "$3 named $(jq '.suspects | length' "$out") suspects; hosts' own UDP receive-buffer drops:$(lab_host_drops_brief)"
}

# lab_host_drops_brief: each host's UDP packets dropped at its own full
# socket buffers (RcvbufErrors, IPv4 + IPv6), " NAME=N" for those with any:
# loss a localizer sees on that host's downlink that the fabric never caused
lab_host_drops_brief() {
	local d kind ns
	while read -r d kind ns; do
		[ "$kind" = host ] || continue
		ip netns exec "$ns" awk -v d="$d" '
			/^Udp: / && !hdr { for (i = 2; i <= NF; i++) col[$i] = i; hdr = 1; next }
			/^Udp: / { n += $col["RcvbufErrors"] }
			$1 == "Udp6RcvbufErrors" { n += $2 }
			END { if (n) printf " %s=%d", d, n }' /proc/net/snmp /proc/net/snmp6 2>/dev/null
	done < <(fab list)
}

# lab_suspects_brief FILE: localize's JSON suspects, one per line after a
# newline and a tab (for messages)
lab_suspects_brief() {
	local s
	s=$(jq -j '.suspects[] | "\n\t\(.kind) \(.from // .device // .host)" +
		(if .to then " -> " + .to else "" end) +
		(if .ambiguous_with then " | \(.ambiguous_with.from) -> \(.ambiguous_with.to)" else "" end) +
		" loss \(.loss) conf \(.confidence) flows \(.flows) lossy \(.lossy_flows)"' "$1" 2>/dev/null)
	printf '%s' "${s:- none}"
}

# lab_no_sanitizer_reports: a test (for ALL_TESTS) that no log in $LAB_TMP
# holds an ASan/UBSan report; run last, after the programs have exited.
lab_no_sanitizer_reports() {
	RET=0
	! grep -l -E 'runtime error|Sanitizer' "$LAB_TMP"/*.log
	check_err $? "sanitizer reports in the logs above"
	log_test "no sanitizer reports from any prober or the collector"
}

# tests_run: run every function named in $ALL_TESTS (or $TESTS if set).
tests_run() {
	local t
	for t in ${TESTS:-$ALL_TESTS}; do
		"$t"
	done
}
