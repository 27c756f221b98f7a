#!/usr/bin/env bash
# test_localize_blackhole3.sh: the reply-eating blackhole of issue 13, item 4,
# with real packets on a 3-tier IPv6 fabric: on one direction of a spine ->
# fabric-switch link toward one pod, an nft rule drops every packet of a
# quarter of the UDP flows (5-tuple hash). It eats the probes of some flows
# and the replies of others (flows from pod 2 whose replies come back down
# through it). `triangulate localize` must name that link and nothing else:
# not the upstream link the traces show was crossed, not the forward paths of
# the flows whose replies it ate.
#
#         ssw1-1  ssw1-2            ssw2-1  ssw2-2      plane 1 | plane 2
#            \     / ~  \                ...            ~ : blackhole ssw1-2 -> fsw2-1,
#       fsw1-1     fsw2-1    fsw3-1   (fswD-2 on plane 2)   share 0.25 of flows
#         |  \      |   \      |  \
#       tor1-1 tor1-2 tor2-1 tor2-2 tor3-1 tor3-2   (pods 1-3; each ToR on both planes)
#         h1     h2     h3     h4     h5     h6     collector on h1 (IPv4); mesh IPv6
#
#   Three pods, so the flows up fsw1-1 -> ssw1-2 do not all come down
#   ssw1-2 -> fsw2-1 (with two pods they would: an ambiguous pair, see
#   test_watch_faults). Each host probes the 5 others' IPv6 addresses on FLOWS
#   UDP flows at RATE probes/s per target, reports every INTERVAL; localize
#   looks back WINDOW_S s.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	bh3_quiet
	bh3_named_alone
	lab_no_sanitizer_reports
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6"
NHOSTS=6
UDP_PORT=31338
FLOWS=12           # per target: 360 flows; about 24 cross ssw1-2 -> fsw2-1 forward
RATE=60            # probes/s per target: 5 per flow
INTERVAL=2s
INTERVAL_MAX_MS=2200
WINDOW_S=30
BH_A=ssw1-2 BH_B=fsw2-1 BH_SHARE=0.25
DB=

now_ms() { echo $(($(date +%s%N) / 1000000)); }
traced_all() { lab_db_traced "$DB" $((NHOSTS * (NHOSTS - 1) * FLOWS)); }
window_wait() { lab_window_wait "$DB" "$1" $WINDOW_S $INTERVAL_MAX_MS $NHOSTS; }
localize_json() { lab_localize_json "$DB" $WINDOW_S "$LAB_TMP/inventory" "$1"; }

bh3_setup() {
	lab_need jq sqlite3 nft prober collector triangulate
	fab up --pods 3 --tors-per-pod 2 --planes 2 --spines-per-plane 2 \
		--hosts-per-leaf 1 --ipv6 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	DB=$LAB_TMP/fm.db
	lab_collector_start "$DB" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	LAB_MESH_FAMILY=6 lab_mesh_start "flows=$FLOWS rate=$RATE proto=udp port=$UDP_PORT" \
		$HOSTS -- --interval "$INTERVAL" --listen-port "$UDP_PORT"
}

bh3_quiet() {
	local out=$LAB_TMP/quiet.json
	RET=0
	lab_wait_until 150000 traced_all
	check_err $? "not every flow traced within 150 s"
	window_wait "$(now_ms)"
	check_err $? "no whole window of batches"
	localize_json "$out"
	check_err $? "localize failed: $(head -3 "$out.err")"
	log_info "suspects:$(lab_suspects_brief "$out")"
	jq -e '.suspects | length == 0' "$out" >/dev/null
	check_err $? "clean fabric named $(jq '.suspects | length' "$out") suspects"
	log_test "3-tier IPv6, 3 pods, no fault: no suspect"
}

# eaten: packets the blackhole rule dropped so far (its nft counters)
eaten() {
	fab exec $BH_B -- nft list table inet faultmesh |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) }
		     END { print n + 0 }'
}

bh3_named_alone() {
	local out=$LAB_TMP/bh.json t0 fault
	RET=0
	fault=$(fab fault blackhole $BH_A $BH_B --share $BH_SHARE) ||
		{ check_err 1 "fault"; log_test "blackhole"; return; }
	t0=$(now_ms)
	window_wait "$t0"
	check_err $? "no whole window of batches after the fault"
	localize_json "$out"
	check_err $? "localize failed: $(head -3 "$out.err")"
	log_info "blackhole dropped $(eaten) packets; suspects:$(lab_suspects_brief "$out")"
	fab fault del "$fault" >/dev/null
	jq -e --arg a $BH_A --arg b $BH_B '.suspects | length == 1 and
		(.[0] | (.kind == "blackhole" or .kind == "link") and .from == $a and .to == $b)' \
		"$out" >/dev/null
	check_err $? "not exactly $BH_A -> $BH_B"
	log_test "share $BH_SHARE of $BH_A -> $BH_B's flows (probes and replies) dropped: that link, nothing else"
}

# Pending issue 13's reverse-path inference: until the flows whose every reply
# the blackhole ate stop counting as forward loss, localize names 3 false
# blackholes on their forward paths besides the right one (main 887d2a1, 14:20
# UTC: blackhole ssw1-2 -> fsw2-1 first, right, then fsw2-1 -> ssw1-1,
# tor2-1 -> fsw2-2, fsw2-2 -> ssw2-2, 2-3 lossy flows each: pod 2's flows to
# other pods whose replies came down ssw1-2 -> fsw2-1). FM_RUN_PENDING=1 runs
# it anyway.
if [ "${FM_RUN_PENDING:-0}" != 1 ]; then
	echo "SKIP: pending issue 13 inference: flows whose replies the blackhole eats are booked as forward loss and named as false suspects (FM_RUN_PENDING=1 runs it)"
	exit 4
fi

lab_init lb3
bh3_setup || { echo "FAIL: setup"; exit 1; }
tests_run
exit $EXIT_STATUS
