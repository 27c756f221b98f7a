#!/usr/bin/env bash
# test_query.sh: an engineer asks "is this device / link dropping?" with real
# probes on a lab fabric and a lossy link: triangulate device, link and
# suspects answer from the collector's database (text and --json), with the
# watch recording the suspect history; healthy devices are cleared; a bad
# name is a clear error.
#
#        spine1      spine2              fault: spine1 -> leaf2, 5% loss
#         |   \  \  /  /  |              (at leaf2's ingress)
#        leaf1   leaf2   leaf3
#        h1 h2   h3 h4   h5 h6           collector on h1, a prober on each host
#                                        triangulate watch in the root namespace
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	query_device_at_the_faulty_link_is_healthy
	query_device_healthy
	query_verdicts_agree_with_localize
	query_watch_dig_in_command_works_verbatim
	query_link
	query_suspects_history
	query_bad_names
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6"
LOSS_PCT=5
declare -A ADDR

tri() { "$FM_BIN/triangulate" "$@"; }

# q CMD ARGS...: a query over this lab's database, with the inventory the
# watch loaded into it (no --inventory: every command finds the stored one)
q() {
	local cmd=$1
	shift
	tri "$cmd" "$@" --db "$DB"
}

query_setup() {
	local h
	lab_need jq prober collector triangulate
	fab up --spines 2 --leaves 3 --hosts-per-leaf 2 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	for h in $HOSTS; do ADDR[$h]=$(fab addr "$h" -4) || return 1; done
	DB=$LAB_TMP/fm.db
	lab_collector_start "$DB" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_mesh_start "flows=8 rate=40 proto=udp port=31338" $HOSTS -- --interval 2s || return 1
	sleep 12 # probers settle and trace their paths
	"$FM_BIN/triangulate" watch --db "$DB" --interval 2s --window 10s --persist 2 \
		--inventory "$LAB_TMP/inventory" 2>"$LAB_TMP/watch.log" &
	LAB_PIDS+=($!)
	fab fault link spine1 leaf2 --loss "$LOSS_PCT" >/dev/null || return 1
	sleep 16 # the 10 s window fills with lossy intervals; the watch sees it
}

query_device_at_the_faulty_link_is_healthy() {
	local js t0 t1
	RET=0
	t0=$(date +%s%N)
	js=$(q device leaf2 --window 10s --since 1m --bucket 10s --json)
	check_err $? "device leaf2 failed"
	t1=$(date +%s%N)
	log_info "device leaf2 answered in $(((t1 - t0) / 1000000)) ms: $(jq -c '{verdict, loss, confidence, detail}' <<<"$js")"
	# the device is fine; one of its links drops, and the answer says which
	jq -e '.verdict == "healthy" and (.dropping | not)
		and (.detail | startswith("healthy; its link spine1 -> leaf2 is dropping"))
		and .loss > 0.01 and .loss < 0.15' <<<"$js" >/dev/null
	check_err $? "leaf2 not healthy with spine1 -> leaf2 dropping ~${LOSS_PCT}%: $(jq -c '{verdict, loss, detail}' <<<"$js")"
	jq -e '[.links[] | select(.suspect)] == [.links[] | select(.from == "spine1" and .to == "leaf2")]
		and ([.links[] | select(.suspect)] | length) == 1' <<<"$js" >/dev/null
	check_err $? "suspect links of leaf2 are not exactly spine1 -> leaf2: $(jq -c '[.links[] | select(.suspect)]' <<<"$js")"
	# lossy pairs are those whose probes or replies can cross spine1 -> leaf2:
	# towards leaf2's hosts from other leaves (the probes), and from leaf2's
	# hosts to other leaves (their replies come back over a spine, and the
	# prober books a probe as lost forward when no later reply of its flow
	# settled its fate by the interval's close, prober/flow.c: make check at
	# f248b0f, load 15, listed h4 -> h1 and h4 -> h5, one probe each); never
	# a pair inside leaf2 or one that stays away from it. The probes, 5% of
	# every one through spine1, lose more than such stray replies.
	jq -e 'def l2: . == "h3" or . == "h4";
		(.pairs | length) > 0
		and all(.pairs[]; (.target | l2) != (.prober | l2))
		and ([.pairs[] | select(.target | l2) | .lost] | add // 0)
			> ([.pairs[] | select(.prober | l2) | .lost] | add // 0)' <<<"$js" >/dev/null
	check_err $? "affected pairs wrong: $(jq -c .pairs <<<"$js")"
	jq -e '(.history | length) == 6 and .history[-1].verdict == "healthy"
		and .history[0].verdict != "healthy"' <<<"$js" >/dev/null
	check_err $? "slices of the last minute: $(jq -c '[.history[].verdict]' <<<"$js")"
	q device spine1 --window 10s --since 1m >"$LAB_TMP/spine1.txt"
	grep -q '^device spine1: healthy' "$LAB_TMP/spine1.txt" &&
		grep -q 'its link spine1 -> leaf2 is dropping' "$LAB_TMP/spine1.txt"
	check_err $? "text answer: $(head -3 "$LAB_TMP/spine1.txt")"
	log_test "device leaf2 and spine1: healthy; their link spine1 -> leaf2 is dropping"
}

# device, link and localize over the same (default, the watch's) window name
# the same fault, as the same kind
query_verdicts_agree_with_localize() {
	local loc dev lnk
	RET=0
	loc=$(q localize --window 10s --json)
	check_err $? "localize failed"
	dev=$(q device spine1 --window 10s --json)
	lnk=$(q link spine1 leaf2 --window 10s --json)
	jq -e '.suspects[0] | .kind == "link" and .from == "spine1" and .to == "leaf2"' \
		<<<"$loc" >/dev/null &&
		jq -e '.verdict == "healthy"' <<<"$dev" >/dev/null &&
		jq -e '.verdict == "dropping"' <<<"$lnk" >/dev/null
	check_err $? "localize $(jq -c '[.suspects[] | .name]' <<<"$loc"), device $(jq -c .verdict <<<"$dev"), link $(jq -c .verdict <<<"$lnk")"
	log_test "device, link and localize agree: link spine1 -> leaf2"
}

# the watch's log line prints a command to dig in; run it exactly as printed
query_watch_dig_in_command_works_verbatim() {
	local cmd out
	RET=0
	cmd=$(grep -o 'dig in: [^;]*' "$LAB_TMP/watch.log" | grep 'spine1 leaf2' | head -1)
	cmd=${cmd#dig in: }
	[ -n "$cmd" ]
	check_err $? "no dig-in command in the watch log: $(tail -3 "$LAB_TMP/watch.log")"
	out=$(PATH="$FM_BIN:$PATH" bash -c "$cmd" 2>&1)
	check_err $? "'$cmd' failed: $out"
	grep -q '^link spine1 -> leaf2: dropping' <<<"$out"
	check_err $? "'$cmd' printed: $(head -3 <<<"$out")"
	log_test "the watch's dig-in command works as printed: $cmd"
}

query_device_healthy() {
	local js
	RET=0
	js=$(q device leaf3 --window 10s --since 1m --json)
	check_err $? "device leaf3 failed"
	jq -e '.verdict == "not dropping" and (.dropping | not) and .flows > 0
		and ([.links[] | select(.suspect)] | length) == 0 and .loss_hi < 0.02' <<<"$js" >/dev/null
	check_err $? "leaf3: $(jq -c '{verdict, loss, loss_hi, flows, detail}' <<<"$js")"
	log_test "device leaf3: not dropping, with a loss bound"
}

query_link() {
	local js
	RET=0
	js=$(q link spine1 leaf2 --window 10s --since 1m --json)
	check_err $? "link spine1 leaf2 failed"
	jq -e '.verdict == "dropping" and .subject == "link" and .from == "spine1"
		and .to == "leaf2" and (.links | length) == 2' <<<"$js" >/dev/null
	check_err $? "link spine1 leaf2: $(jq -c '{verdict, links}' <<<"$js")"
	js=$(q link spine2 leaf2 --window 10s --since 1m --json)
	jq -e '.verdict == "not dropping"' <<<"$js" >/dev/null
	check_err $? "link spine2 leaf2: $(jq -c '{verdict, detail}' <<<"$js")"
	log_test "link spine1 leaf2 dropping, spine2 leaf2 not"
}

query_suspects_history() {
	local js
	RET=0
	js=$(tri suspects --db "$DB" --since 5m --json)
	check_err $? "suspects failed"
	jq -e '[.episodes[] | select(.kind == "link" and .from == "spine1" and .to == "leaf2"
		and .open and .rounds >= 2)] | length == 1' <<<"$js" >/dev/null
	check_err $? "no open spine1 -> leaf2 episode from the watch: $(jq -c .episodes <<<"$js"); watch: $(tail -2 "$LAB_TMP/watch.log")"
	tri suspects --db "$DB" --since 5m | grep -qE '^link +spine1 -> leaf2 .* open '
	check_err $? "text: $(tri suspects --db "$DB" --since 5m | head -4)"
	log_test "suspects: the watch's open episode for spine1 -> leaf2"
}

query_bad_names() {
	local rc
	RET=0
	q device leaf9 >"$LAB_TMP/out" 2>"$LAB_TMP/err"
	rc=$?
	[ "$rc" -eq 2 ] && [ ! -s "$LAB_TMP/out" ] && grep -q "no device 'leaf9'" "$LAB_TMP/err"
	check_err $? "device leaf9: rc $rc, $(head -2 "$LAB_TMP/err")"
	q link spine1 h1 >/dev/null 2>"$LAB_TMP/err"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "no link spine1 -> h1" "$LAB_TMP/err"
	check_err $? "link spine1 h1: rc $rc, $(head -2 "$LAB_TMP/err")"
	tri device leaf2 --db "$LAB_TMP/nope.db" >/dev/null 2>"$LAB_TMP/err"
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "nope.db: No such file" "$LAB_TMP/err" && [ ! -e "$LAB_TMP/nope.db" ]
	check_err $? "missing db: rc $rc, $(head -2 "$LAB_TMP/err")"
	log_test "unknown device, unknown link, missing database: clear errors"
}

lab_init qry
query_setup || { echo "setup failed"; exit 1; }
tests_run
exit $EXIT_STATUS
