#!/usr/bin/env bash
# test_demo.sh: `make demo`'s script as a newcomer runs it: a 2-tier lab
# fabric, collector and probers, a fault on a random spine<->leaf link; the
# alert must name exactly the injected link, and the lab must be gone after.
#
#   FM_DEMO_INTERVAL=2s scripts/demo --loss 3 --flows 4 (random link and
#   direction; 2 s reports and rounds, so the flows are traced sooner)
#     spine1  spine2  spine3
#     leaf1   leaf2   leaf3      2 hosts per leaf, collector on h1
#
# Asserts on the demo's closing "demo: RESULT ..." line and its exit status.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	demo_names_injected_link
	demo_dig_in_commands_work_as_printed
	demo_tears_down
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

demo_names_injected_link() {
	local rc result
	RET=0
	FM_LAB=$LAB_NAME FM_DEMO_INTERVAL=2s "$LAB_ROOT/scripts/demo" --loss 3 --flows 4 --settle 15 \
		--timeout 90 --keep-report "$LAB_TMP/report" --db "$LAB_TMP/demo.db" \
		>"$LAB_TMP/demo.out" 2>&1
	rc=$?
	result=$(grep '^demo: RESULT' "$LAB_TMP/demo.out")
	log_info "${result#demo: }"
	[ $rc -eq 0 ]
	check_err $? "demo exited $rc: $(tail -5 "$LAB_TMP/demo.out")"
	[[ $result =~ match=yes\ injected=([^ ]+)\ alerted=([^ ]+) ]] &&
		[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	check_err $? "culprit is not the injected link: $result"
	grep -q 'dig in: triangulate link ' "$LAB_TMP/demo.out"
	check_err $? "no query command printed"
	log_test "demo: the alert names the injected link"
}

# every "dig in:" command the demo printed, copied and run as printed, after
# the demo has torn its lab down (the database stays where they point)
demo_dig_in_commands_work_as_printed() {
	local cmd out n=0
	RET=0
	while IFS= read -r cmd; do
		n=$((n + 1))
		out=$(PATH="$FM_BIN:$PATH" bash -c "$cmd" 2>&1)
		check_err $? "'$cmd' failed: $(head -3 <<<"$out")"
		case $cmd in
		"triangulate link "*)
			grep -q 'dropping' <<<"$out"
			check_err $? "'$cmd' does not show the link dropping: $(head -12 <<<"$out")" ;;
		esac
	done < <(sed -n 's/^ *dig in: //p' "$LAB_TMP/demo.out" | sort -u)
	[ "$n" -ge 3 ]
	check_err $? "only $n dig-in commands printed"
	log_test "demo: its $n dig-in commands work as printed"
}

demo_tears_down() {
	local left
	RET=0
	left=$(ip netns list | grep -c "^${LAB_NAME}demo[0-9]*-" || true)
	[ "$left" -eq 0 ]
	check_err $? "$left namespaces of the demo's lab left behind"
	! pgrep -f "faultmesh-${LAB_NAME}demo" >/dev/null
	check_err $? "demo processes left behind"
	log_test "demo: namespaces and processes torn down"
}

lab_init dmo
lab_need jq sqlite3 prober collector triangulate
tests_run
exit $EXIT_STATUS
