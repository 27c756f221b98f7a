#!/usr/bin/env bash
# test_plan.sh: the probe plan end to end: `triangulate plan` picks targets
# from the lab's inventory, the collector serves each prober its own list
# (--plan), probers started with --targets-from-collector probe exactly those
# targets with the planned flow counts, and the plan covers every link. A new
# plan reaches the probers after a SIGHUP to the collector (a broken one
# leaves the old in place), and a prober re-reads its targets file on SIGHUP.
#
#        spine1        spine2             default 2-tier lab:
#        /  | \  \    /  | \  \           3 leaves x 2 hosts, collector on h1,
#     leaf1      leaf2      leaf3          a prober on every host
#     h1 h2      h3 h4      h5 h6
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	plan_covers_every_link
	plan_served_targets_probed
	plan_change_reaches_probers
	targets_file_reread_on_sighup
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

DB=
PLAN=
HOSTS=
COL_PID=

sql() { sqlite3 -separator ' ' "$DB" "$1"; }

# planned PROBER: "address flows" lines the plan gives that prober, sorted.
planned() { awk -F'\t' -v p="$1" '$1 == p { print $3, $4 }' "$PLAN" | sort; }

# stored PROBER: "address flows" per target the prober reported, sorted.
stored() {
	sql "SELECT t.addr, count(DISTINCT f.sport) FROM flows f
		JOIN probers pr ON pr.id = f.prober_id JOIN targets t ON t.id = f.target_id
		WHERE pr.name = '$1' GROUP BY t.addr" | sort
}

# latest PROBER: "address flows" per target in that prober's newest batch.
latest() {
	sql "SELECT t.addr, count(DISTINCT f.sport) FROM results r
		JOIN flows f ON f.id = r.flow_id JOIN targets t ON t.id = f.target_id
		WHERE r.batch_id = (SELECT max(b.id) FROM batches b
			JOIN probers p ON p.id = b.prober_id WHERE p.name = '$1')
		GROUP BY t.addr" | sort
}

# batches PROBER: how many batches that prober has stored.
batches() {
	sql "SELECT count(*) FROM batches b JOIN probers p ON p.id = b.prober_id WHERE p.name = '$1'"
}

# traced PROBER ADDR: that prober's flows to ADDR with a stored path.
traced() {
	sql "SELECT count(DISTINCT f.id) FROM paths pa JOIN flows f ON f.id = pa.flow_id
		JOIN probers p ON p.id = f.prober_id JOIN targets t ON t.id = f.target_id
		WHERE p.name = '$1' AND t.addr = '$2'"
}

latest_is() { [ "$(latest "$1")" = "$2" ]; }

# atomic_write FILE: stdin to FILE by rename, as an operator's tool would.
atomic_write() { cat >"$1.new" && mv "$1.new" "$1"; }

all_reported() {
	local h
	for h in $HOSTS; do
		[ "$(stored "$h")" = "$(planned "$h")" ] || return 1
	done
}

plan_setup() {
	local h1 h
	fab up >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	PLAN=$LAB_TMP/plan
	"$FM_BIN/triangulate" plan --inventory "$LAB_TMP/inventory" --out "$PLAN" \
		--flows-per-pair 4 2>"$LAB_TMP/plan.log" || return 1
	HOSTS=$(fab list | awk '$2 == "host" { print $1 }')
	h1=$(fab addr h1 -4) || return 1
	DB=$LAB_TMP/plan.db
	lab_bg h1 "$FM_BIN/collector" --listen "$h1:31337" --db "$DB" --plan "$PLAN" \
		--port-file "$LAB_TMP/col.port" 2>>"$LAB_TMP/collector.log"
	COL_PID=$LAB_LAST_PID
	lab_wait_until 10000 test -s "$LAB_TMP/col.port" || return 1
	for h in $HOSTS; do
		lab_bg "$h" "$FM_BIN/prober" --name "$h" --targets-from-collector \
			--collector "$h1:31337" --spool "$LAB_TMP/spool.$h" --interval 2s \
			--trace-interval 0 --targets-refresh 2s 2>>"$LAB_TMP/prober.$h.log"
	done
}

plan_covers_every_link() {
	local links short
	RET=0
	links=$(grep -c '^link' "$LAB_TMP/inventory")
	grep -q . "$PLAN"
	check_err $? "empty plan"
	# the planner says how many directed links stayed under its prober goal
	short=$(sed -nE 's/.* ([0-9]+) links? under [0-9]+ probers?.*/\1/p' "$LAB_TMP/plan.log" |
		head -n1)
	log_info "$links links in the lab; plan: $(grep -vc '^#' "$PLAN") pairs; $(tr '\n' ' ' <"$LAB_TMP/plan.log")"
	[ -n "$short" ] && [ "$short" -eq 0 ]
	check_err $? "the plan leaves '${short:-?}' links under its prober goal"
	log_test "triangulate plan covers every link of the lab"
}

plan_served_targets_probed() {
	local h
	RET=0
	lab_wait_until 30000 all_reported
	check_err $? "probers did not report exactly their planned targets in 30 s"
	for h in $HOSTS; do
		if [ "$(stored "$h")" != "$(planned "$h")" ]; then
			log_info "$h planned: $(planned "$h" | tr '\n' ';') stored: $(stored "$h" | tr '\n' ';')"
			tail -n 3 "$LAB_TMP/prober.$h.log" | sed 's/^/INFO:   /'
		fi
	done
	log_test "each prober probes the targets and flow counts the collector served it"
}

plan_change_reaches_probers() {
	local want
	RET=0
	# h2's new plan: only its first target, on 3 flows instead of 4
	awk -F'\t' -v OFS='\t' '$1 == "h2" { if (!done) { $4 = 3; print; done = 1 } next } { print }' \
		"$PLAN" | atomic_write "$PLAN"
	want=$(planned h2)
	[ "$(echo "$want" | wc -l)" -eq 1 ] && [ "${want##* }" = 3 ]
	check_err $? "could not write the new plan: '$want'"
	kill -HUP "$COL_PID"
	lab_wait_until 10000 grep -q "plan .* reloaded" "$LAB_TMP/collector.log"
	check_err $? "the collector did not reload its plan on SIGHUP"
	lab_wait_until 30000 latest_is h2 "$want"
	check_err $? "h2's newest batch has '$(latest h2 | tr '\n' ';')', not the new plan's '$want' (30 s)"
	[ "$(latest h3)" = "$(planned h3)" ]
	check_err $? "h3, whose plan did not change, now probes '$(latest h3 | tr '\n' ';')'"

	# a broken plan is refused and the one being served stays
	printf 'garbage\n' | atomic_write "$PLAN"
	kill -HUP "$COL_PID"
	lab_wait_until 10000 grep -q "still serving the previous plan" "$LAB_TMP/collector.log"
	check_err $? "no error for the broken plan: $(tail -n 2 "$LAB_TMP/collector.log" | tr '\n' ' ')"
	kill -0 "$COL_PID" 2>/dev/null
	check_err $? "the collector died on a broken plan"
	local n0
	n0=$(batches h2)
	lab_wait_until 15000 eval '[ "$(batches h2)" -ge $((n0 + 3)) ]'
	check_err $? "h2 stopped reporting after the broken plan"
	[ "$(latest h2)" = "$want" ]
	check_err $? "after the broken plan h2 probes '$(latest h2 | tr '\n' ';')', not '$want'"
	log_test "a new plan reaches its probers after SIGHUP; a broken one changes nothing"
}

targets_file_reread_on_sighup() {
	local h1 h3 h5 tf pid n0
	RET=0
	h1=$(fab addr h1 -4) && h3=$(fab addr h3 -4) && h5=$(fab addr h5 -4)
	check_err $? "no addresses"
	tf=$LAB_TMP/file.targets
	printf '# faultmesh targets v1\n%s flows=2\n' "$h3" >"$tf"
	lab_bg h1 "$FM_BIN/prober" --name fileprb --targets "$tf" --no-responder --sport-base 45000 \
		--collector "$h1:31337" --spool "$LAB_TMP/spool.fileprb" --interval 1s --timeout 500ms \
		--targets-refresh 0 2>>"$LAB_TMP/prober.fileprb.log"
	pid=$LAB_LAST_PID
	lab_wait_until 15000 latest_is fileprb "$h3 2"
	check_err $? "the file's first list was not probed: '$(latest fileprb | tr '\n' ';')'"

	printf '# faultmesh targets v1\n%s flows=2\n%s flows=3\n' "$h3" "$h5" | atomic_write "$tf"
	kill -HUP "$pid"
	lab_wait_until 15000 latest_is fileprb "$(printf '%s 2\n%s 3' "$h3" "$h5" | sort)"
	check_err $? "after SIGHUP the newest batch has '$(latest fileprb | tr '\n' ';')'"
	# path tracing starts over with the new list (raw sockets opened anew
	# with only CAP_NET_RAW left): the new target's flows get their paths
	lab_wait_until 20000 eval '[ "$(traced fileprb "$h5")" -eq 3 ]'
	check_err $? "$(traced fileprb "$h5") of the new target's 3 flows traced after the reload"

	# a broken file: the error names file and line, probing goes on
	printf '# faultmesh targets v1\n%s flows=2\n%s flows=999\n' "$h3" "$h5" | atomic_write "$tf"
	kill -HUP "$pid"
	lab_wait_until 10000 grep -q "targets not refreshed: $tf:3" "$LAB_TMP/prober.fileprb.log"
	check_err $? "no error naming $tf:3: $(tail -n 2 "$LAB_TMP/prober.fileprb.log" | tr '\n' ' ')"
	n0=$(batches fileprb)
	lab_wait_until 10000 eval '[ "$(batches fileprb)" -ge $((n0 + 2)) ]'
	check_err $? "the prober stopped reporting after a broken targets file"
	latest_is fileprb "$(printf '%s 2\n%s 3' "$h3" "$h5" | sort)"
	check_err $? "after the broken file it probes '$(latest fileprb | tr '\n' ';')'"
	log_test "a prober re-reads its targets file on SIGHUP; a broken file changes nothing"
}

lab_init pln
lab_need sqlite3 prober collector triangulate
plan_setup || { echo "FAIL: setup"; exit 1; }
tests_run
exit $EXIT_STATUS
