#!/usr/bin/env bash
# test_walkthrough.sh: the README's "A walkthrough in the lab, by hand" run as
# written: the block between <!-- walkthrough --> and <!-- /walkthrough --> is
# taken from README.md and each line run in turn, in a scratch directory that
# holds bin/ and scripts/ like the repository root. Only its FM_LAB line is
# changed, to this test's unique lab name.
#
#     spine1  spine2
#     leaf1   leaf2   leaf3      2 hosts per leaf; collector on h1,
#     h1 h2   h3 h4   h5 h6      a prober per host, fault spine1 -> leaf2
#
# Also fabric-lab's own errors: an unknown device stops 'fault device', an
# unknown argument fails 'faults'.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	walkthrough_runs_as_written
	walkthrough_localize_names_the_fault
	fabric_lab_stops_on_its_own_errors
	walkthrough_lab_goes_down
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

STEP_TIMEOUT_S=150 # one line, e.g. waiting for the traces

walkthrough_runs_as_written() {
	local line n=0 rc
	RET=0
	sed -n '/^<!-- walkthrough -->$/,/^<!-- \/walkthrough -->$/p' "$LAB_ROOT/README.md" |
		sed -e '1,2d' -e '$d' | sed '$d' >"$LAB_TMP/walk.steps"
	[ -s "$LAB_TMP/walk.steps" ] && grep -q '^scripts/fabric-lab down$' "$LAB_TMP/walk.steps"
	check_err $? "no walkthrough block in README.md: $(head -3 "$LAB_TMP/walk.steps")"
	mkdir -p "$LAB_TMP/walk" && ln -s "$FM_BIN" "$LAB_TMP/walk/bin" &&
		ln -s "$LAB_ROOT/scripts" "$LAB_TMP/walk/scripts"
	cd "$LAB_TMP/walk" || return 1
	while IFS= read -r line; do
		[ -z "$line" ] || [[ $line == "#"* ]] && continue
		[ "$line" = "scripts/fabric-lab down" ] && continue # after the checks
		n=$((n + 1))
		if [[ $line =~ ^export\ FM_LAB= ]]; then
			line="export FM_LAB=$LAB_NAME"
		fi
		if [[ $line =~ ^(export\ )?[A-Z_]+= ]]; then
			# a variable the later lines use: set here, seen by them
			eval "$line"
			rc=$?
			[[ $line =~ ^(export\ )?([A-Z_]+)= ]] && export "${BASH_REMATCH[2]}"
		else
			timeout "$STEP_TIMEOUT_S" bash -c "$line" >"$LAB_TMP/step.$n.out" 2>&1
			rc=$?
		fi
		log_info "step $n ($rc): $line"
		[ "$rc" -eq 0 ]
		check_err $? "step $n '$line' exited $rc: $(tail -3 "$LAB_TMP/step.$n.out" 2>/dev/null)"
		[ "$RET" -eq 0 ] || break
	done <"$LAB_TMP/walk.steps"
	cd "$LAB_ROOT" || return 1
	STEPS=$n
	log_test "README walkthrough: $n steps ran as written"
}

# the last three steps: localize, link and device over the fault's window
walkthrough_localize_names_the_fault() {
	RET=0
	[ -n "${STEPS:-}" ] && [ "$STEPS" -ge 3 ] || { check_err 1 "the walkthrough did not run"; log_test "walkthrough: localize names the fault"; return; }
	grep -qE '^1 +link +spine1 -> leaf2 ' "$LAB_TMP/step.$((STEPS - 2)).out"
	check_err $? "localize: $(cat "$LAB_TMP/step.$((STEPS - 2)).out")"
	grep -q '^link spine1 -> leaf2: dropping' "$LAB_TMP/step.$((STEPS - 1)).out"
	check_err $? "link: $(head -3 "$LAB_TMP/step.$((STEPS - 1)).out")"
	grep -q '^device leaf2: healthy' "$LAB_TMP/step.$STEPS.out" &&
		grep -q 'its link spine1 -> leaf2 is dropping' "$LAB_TMP/step.$STEPS.out"
	check_err $? "device: $(head -3 "$LAB_TMP/step.$STEPS.out")"
	log_test "walkthrough: localize names spine1 -> leaf2, link dropping, leaf2 healthy"
}

fabric_lab_stops_on_its_own_errors() {
	local before after rc
	RET=0
	before=$(fab faults | wc -l)
	fab fault device nosuch --loss 5 >"$LAB_TMP/fl.out" 2>&1
	rc=$?
	after=$(fab faults | wc -l)
	[ "$rc" -ne 0 ] && [ "$before" -eq "$after" ] && grep -q "no device 'nosuch'" "$LAB_TMP/fl.out"
	check_err $? "fault device nosuch: rc $rc, faults $before -> $after: $(cat "$LAB_TMP/fl.out")"
	fab faults --bogus >"$LAB_TMP/fl.out" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && grep -q "unknown argument '--bogus'" "$LAB_TMP/fl.out"
	check_err $? "faults --bogus: rc $rc: $(cat "$LAB_TMP/fl.out")"
	log_test "fabric-lab: 'fault device nosuch' and 'faults --bogus' fail and change nothing"
}

walkthrough_lab_goes_down() {
	RET=0
	(cd "$LAB_TMP/walk" && FM_LAB=$LAB_NAME scripts/fabric-lab down) >/dev/null 2>&1
	check_err $? "fabric-lab down failed"
	[ "$(ip netns list | grep -c "^$LAB_NAME-")" -eq 0 ]
	check_err $? "namespaces of $LAB_NAME left"
	log_test "walkthrough: its last step takes the lab down"
}

lab_init walk
lab_need jq sqlite3 prober collector triangulate
tests_run
exit $EXIT_STATUS
