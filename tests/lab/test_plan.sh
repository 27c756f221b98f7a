#!/usr/bin/env bash
# test_plan.sh: the probe plan end to end: `triangulate plan` picks targets
# from the lab's inventory, the collector serves each prober its own list
# (--plan), probers started with --targets-from-collector probe exactly those
# targets with the planned flow counts, and the plan covers every link.
#
#        spine1        spine2             default 2-tier lab:
#        /  | \  \    /  | \  \           3 leaves x 2 hosts, collector on h1,
#     leaf1      leaf2      leaf3          a prober on every host
#     h1 h2      h3 h4      h5 h6
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	plan_covers_every_link
	plan_served_targets_probed
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

DB=
PLAN=
HOSTS=

sql() { sqlite3 -separator ' ' "$DB" "$1"; }

# planned PROBER: "address flows" lines the plan gives that prober, sorted.
planned() { awk -F'\t' -v p="$1" '$1 == p { print $3, $4 }' "$PLAN" | sort; }

# stored PROBER: "address flows" per target the prober reported, sorted.
stored() {
	sql "SELECT t.addr, count(DISTINCT f.sport) FROM flows f
		JOIN probers pr ON pr.id = f.prober_id JOIN targets t ON t.id = f.target_id
		WHERE pr.name = '$1' GROUP BY t.addr" | sort
}

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
	lab_wait_until 10000 test -s "$LAB_TMP/col.port" || return 1
	for h in $HOSTS; do
		lab_bg "$h" "$FM_BIN/prober" --name "$h" --targets-from-collector \
			--collector "$h1:31337" --spool "$LAB_TMP/spool.$h" --interval 2s \
			--trace-interval 0 2>>"$LAB_TMP/prober.$h.log"
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

lab_init pln
lab_need sqlite3 prober collector triangulate
plan_setup || { echo "FAIL: setup"; exit 1; }
tests_run
exit $EXIT_STATUS
