#!/usr/bin/env bash
# test_watch_faults.sh: `triangulate watch` through three faults in turn on a
# 3-tier IPv6 fabric with real packets (issue 13, item 5): each raises exactly
# one alert, on the faulty element (or the ambiguous pair holding it), within
# 30 s of injection, and nothing else ever fires: not while the mesh settles,
# not a device's links or hosts one by one, not the links a blackhole's eaten
# replies point at.
#
#            ssw1-1  ssw1-2    ssw2-1  ssw2-2       plane 1 | plane 2
#               \    / ~ \       #\    /  \         # link:   fsw1-2 -> ssw2-1, 3%
#             fsw1-1    fsw2-1   fsw1-2   fsw2-2      (with 2 pods, every flow on it
#              |   \   /   |      ...                 also takes ssw2-1 -> fsw2-2:
#            tor1-1 tor1-2 tor2-1 tor2-2              an ambiguous pair)
#            h1 h2  h3 h4  h5 h6  h7 h8             device: tor2-1, 2%
#                                                   ~ blackhole: ssw1-2 -> fsw2-1,
#                                                     share 0.25 (probes and replies)
#   Each host probes the 7 others' IPv6 addresses on FLOWS UDP flows, reports
#   every INTERVAL; the watch (hook sink, verbose log) rounds as batches land
#   over WINDOW. Each fault is removed once its alert fired, and the next one
#   injected once that alert resolved.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	wf_quiet_while_settling
	wf_link_in_ambiguous_pair
	wf_device
	wf_reply_eating_blackhole
	wf_nothing_else_fired
	lab_no_sanitizer_reports
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6 h7 h8"
NHOSTS=8
UDP_PORT=31338
FLOWS=8
RATE=40
INTERVAL=2s
WINDOW=12s
FIRE_S=30          # an alert must fire this soon after its fault
STAGES=0           # faults injected so far
HOOK=
DB=

now_ms() { echo $(($(date +%s%N) / 1000000)); }

traced_all() { lab_db_traced "$DB" $((NHOSTS * (NHOSTS - 1) * FLOWS)); }

# fires: the hook's fire events so far, one compact JSON each
fires() { jq -c 'select(.event == "fire")' "$HOOK" 2>/dev/null; }
nfires() { fires | wc -l; }
# fire_brief: each alert on stdin as "KIND WHERE;", an ambiguous pair whole
# ("link a -> b | b -> c"): naming its first link alone hid which links a
# failure's alert named
fire_brief() {
	jq -r '"\(.kind) \(.device // .host // .from)" + (if .to then " -> \(.to)" else "" end) +
		(if .ambiguous_with then " | \(.ambiguous_with.from) -> \(.ambiguous_with.to)" else "" end)' |
		tr '\n' ';'
}
fires_brief() { fires | fire_brief; }

# names_link A B: stdin's alert names the link A -> B (as a link, blackhole,
# or one of an ambiguous suspect's links, wherever it lists them)
names_link() {
	jq -e --arg a "$1" --arg b "$2" \
		'[.. | objects | select(.from == $a and .to == $b)] | length > 0' >/dev/null
}
names_device() {
	jq -e --arg d "$1" '.kind == "device" and (.device // .from) == $d' >/dev/null
}

# resolved_count: the hook's resolve events so far
resolved_count() { jq -c 'select(.event == "resolve")' "$HOOK" 2>/dev/null | wc -l; }
fires_at_least() { [ "$(nfires)" -ge "$1" ]; }
all_resolved() { [ "$(nfires)" -eq "$(resolved_count)" ]; }

wf_setup() {
	lab_need jq sqlite3 nft prober collector triangulate
	fab up --pods 2 --tors-per-pod 2 --planes 2 --spines-per-plane 2 \
		--hosts-per-leaf 2 --ipv6 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	DB=$LAB_TMP/fm.db
	HOOK=$LAB_TMP/hook.jsonl
	: >"$HOOK"
	lab_collector_start "$DB" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	LAB_MESH_FAMILY=6 lab_mesh_start "flows=$FLOWS rate=$RATE proto=udp port=$UDP_PORT" \
		$HOSTS -- --interval "$INTERVAL" --listen-port "$UDP_PORT" || return 1
	# the watch runs in the root namespace: it only reads the database
	"$FM_BIN/triangulate" watch --db "$DB" --window "$WINDOW" --interval 4s \
		--inventory "$LAB_TMP/inventory" --hook "cat >> $HOOK" --verbose \
		2>"$LAB_TMP/watch.log" &
	WATCH_PID=$!
	LAB_PIDS+=("$WATCH_PID")
}

wf_quiet_while_settling() {
	RET=0
	# every round while the mesh starts and traces is a round that must not fire
	lab_wait_until 150000 traced_all
	check_err $? "not every flow traced within 150 s"
	# and one more whole window of traced, clean data
	lab_window_wait "$DB" "$(now_ms)" "${WINDOW%s}" 2200 $NHOSTS
	check_err $? "no batches for a whole window after tracing"
	[ "$(nfires)" -eq 0 ]
	check_err $? "alerts on a clean fabric: $(fires_brief)"
	kill -0 "$WATCH_PID" 2>/dev/null
	check_err $? "watch exited: $(tail -3 "$LAB_TMP/watch.log")"
	log_test "clean fabric while the mesh settles: no alert"
}

# stage NAME CHECK FAULT-ARGS...: inject, wait (bounded) for one more fire,
# check it with CHECK (a function reading the alert on stdin), remove the
# fault, wait until that alert resolves; any further fire fails the stage
stage() {
	local name=$1 check=$2 fault t0 t1 before alert
	shift 2
	RET=0
	STAGES=$((STAGES + 1))
	before=$(nfires)
	fault=$(fab fault "$@") || { check_err 1 "fault $*"; log_test "$name"; return; }
	t0=$(now_ms)
	lab_wait_until $((FIRE_S * 1000)) fires_at_least $((before + 1))
	check_err $? "no alert within $FIRE_S s of: fault $*; watch: $(grep round: "$LAB_TMP/watch.log" | tail -2)"
	t1=$(now_ms)
	alert=$(fires | sed -n "$((before + 1))p")
	[ -z "$alert" ] || log_info "alert $(((t1 - t0) / 1000)) s after fault $*: $(fires | sed -n "$((before + 1))p" | jq -c '{kind, from, to, ambiguous_with, device, loss, confidence}')"
	[ -n "$alert" ] && "$check" <<<"$alert"
	check_err $? "the alert is not on the faulty element: $(fires_brief)"
	fab fault del "$fault" >/dev/null
	lab_wait_until 60000 all_resolved
	check_err $? "alerts still firing 60 s after removing the fault"
	[ "$(nfires)" -eq $((before + 1)) ]
	check_err $? "more than one alert for one fault: $(fires | sed -n "$((before + 1)),\$p" | fire_brief)"
	log_test "$name"
}

wf_link_in_ambiguous_pair() {
	check_link() { names_link fsw1-2 ssw2-1; }
	stage "3% on fsw1-2 -> ssw2-1 (flows shared with ssw2-1 -> fsw2-2): one alert on it or the pair" \
		check_link link fsw1-2 ssw2-1 --loss 3
}

wf_device() {
	check_device() { names_device tor2-1; }
	stage "2% in device tor2-1: one device alert, none for its links or hosts" \
		check_device device tor2-1 --loss 2
}

# With two pods the blackholed link carries exactly the flows of the one
# above it (fsw1-1 -> ssw1-2): the alert may name that ambiguous pair. Before
# the inference charged eaten replies to the reverse path, it also named the
# forward paths of pod 2's flows whose replies it ate, and one of those first.
wf_reply_eating_blackhole() {
	check_bh() { names_link ssw1-2 fsw2-1; }
	stage "share 0.25 of ssw1-2 -> fsw2-1's flows blackholed (probes and replies): one alert on it" \
		check_bh blackhole ssw1-2 fsw2-1 --share 0.25
}

wf_nothing_else_fired() {
	RET=0
	[ "$(nfires)" -eq "$STAGES" ]
	check_err $? "$(nfires) alerts for $STAGES faults: $(fires_brief)"
	log_test "$STAGES faults, $STAGES alerts in all: $(fires_brief)"
}

lab_init wfa
wf_setup || { echo "FAIL: setup"; exit 1; }
tests_run
[ $EXIT_STATUS -eq 0 ] || { echo "--- watch log"; grep -E "round:|ALERT" "$LAB_TMP/watch.log" | tail -15; }
exit $EXIT_STATUS
