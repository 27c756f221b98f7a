#!/usr/bin/env bash
# test_localize.sh: localization end to end with real packets: a prober on
# every host probes and traces the mesh, the collector stores it, and
# `triangulate localize --db --window --inventory --json` names nothing on a
# clean fabric, then, one fault at a time, the lossy link, the lossy device and
# the partial blackhole, each as the top (and only) suspect of the right kind;
# `triangulate export` of the link fault's window shows loss on exactly the
# flows whose traced path crosses the link (issues 5 and 4).
#
#       spine1    spine2    spine3    spine4     link:      spine1 -> leaf2, 5%
#          \ \  \ \   / /  / /  / /              device:    spine3, 5%
#          leaf1   leaf2   leaf3   leaf4         blackhole: spine2 -> leaf3,
#          h1 h2   h3 h4   h5 h6   h7 h8                    share 0.5 of flows
#                                                collector on h1
#
#   Each host probes the 7 others on FLOWS UDP flows (RATE probes/s per
#   target), reports every INTERVAL, traces every flow once at start (paced
#   under Linux's default ICMP rate limits) and again when it starts losing.
#   One fabric and one mesh serve all cases; each fault is judged on a window
#   that begins after it was injected, so no earlier case leaks into it.
#   Which flows cross the lossy link comes from `fabric-lab paths` (the kernel's
#   ECMP choice) for every flow's 5-tuple, and must equal what the exported
#   traced path says.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	loc_clean
	loc_link
	loc_export_link
	loc_device
	loc_blackhole
	loc_blackhole_only
	lab_no_sanitizer_reports
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

SPINES=4
LEAVES=4
HOSTS="h1 h2 h3 h4 h5 h6 h7 h8"
NHOSTS=8
UDP_PORT=31338
SPORT_BASE=40000
FLOWS=8            # per target: 448 flows, 24 per spine -> leaf link on average
RATE=40            # probes/s per target: 5 per flow, 120 per spine -> leaf link
INTERVAL=2s        # prober reporting interval (jittered +-10%)
INTERVAL_MAX_MS=2200
WINDOW_S=12        # localize/export window; each case waits it out
LINK_A=spine1 LINK_B=leaf2 LINK_LOSS=5
DEVICE=spine3 DEVICE_LOSS=5
BH_A=spine2 BH_B=leaf3 BH_SHARE=0.5
DB=
declare -A ADDR

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# traced_all: every flow of the mesh has a path in the database
traced_all() { lab_db_traced "$DB" $((NHOSTS * (NHOSTS - 1) * FLOWS)); }

loc_setup() {
	local h
	lab_need jq sqlite3 prober collector triangulate
	fab up --spines $SPINES --leaves $LEAVES --hosts-per-leaf 2 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	for h in $HOSTS; do ADDR[$h]=$(fab addr "$h" -4) || return 1; done
	DB=$LAB_TMP/fm.db
	lab_collector_start "$DB" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_mesh_start "flows=$FLOWS rate=$RATE proto=udp port=$UDP_PORT" $HOSTS -- \
		--interval "$INTERVAL" --listen-port "$UDP_PORT" --sport-base "$SPORT_BASE"
}

# crossing_write FILE: "prober target sport" of every flow whose probes cross
# LINK_A -> LINK_B, by the lab's own answer for the flow's 5-tuple.
# Only flows into LINK_B's own hosts from elsewhere can go down LINK_A ->
# LINK_B (a spine -> leaf link), so only those are asked about, in one batch.
crossing_write() {
	local h t i below
	below=" $(awk -v b="$LINK_B" '$1 == "link" && $2 == b { printf "%s ", $3 }' "$LAB_TMP/inventory")"
	for h in $HOSTS; do
		[[ $below = *" $h "* ]] && continue
		for t in $HOSTS; do
			[ "$t" = "$h" ] && continue
			[[ $below = *" $t "* ]] || continue
			for ((i = 0; i < FLOWS; i++)); do
				echo "$h $t udp $((SPORT_BASE + i)) $UDP_PORT"
			done
		done
	done >"$1.q"
	fab paths <"$1.q" >"$1.paths" || return 1
	paste -d ' ' "$1.q" "$1.paths" | grep " $LINK_A $LINK_B " |
		while read -r h t _ i _; do echo "${ADDR[$h]} ${ADDR[$t]} $i"; done >"$1"
}

# localize_json OUT: the suspects of the last WINDOW_S seconds, as JSON in OUT
localize_json() { lab_localize_json "$DB" $WINDOW_S "$LAB_TMP/inventory" "$1"; }

# fault_window KIND ARGS...: inject a fault, wait until a whole window has
# passed since (intervals that began before it would overlap the window), and
# keep the fault's ID in FAULT.
fault_window() {
	local t0
	FAULT=$(fab fault "$@") || return 1
	t0=$(now_ms)
	# a window's oldest interval may begin one interval before the window
	sleep "$(awk -v w="$WINDOW_S" -v i="$INTERVAL_MAX_MS" 'BEGIN { print w + i / 1000 + 0.5 }')"
	log_info "fault $(fab faults | awk -F'\t' -v id="$FAULT" '$1 == id { sub(/^[^\t]*\t/, ""); gsub(/\t/, " "); print }') for $((($(now_ms) - t0) / 1000)) s"
}

loc_clean() {
	local n
	RET=0
	# the mesh traces its 448 flows, paced by the routers' ICMP limits; the
	# lab's truth for which flows cross the link is taken meanwhile
	crossing_write "$LAB_TMP/crossing"
	check_err $? "fabric-lab paths failed"
	lab_wait_until 120000 traced_all
	check_err $? "not every flow traced within 120 s"
	n=$(sqlite3 "$DB" 'SELECT count(DISTINCT flow_id) FROM paths')
	log_info "$n of $((NHOSTS * (NHOSTS - 1) * FLOWS)) flows traced after $SECONDS s"
	# the window's flows all carry their latest path, whenever it was traced
	localize_json "$LAB_TMP/clean.json"
	check_err $? "localize failed: $(head -3 "$LAB_TMP/clean.json.err")"
	jq -e '.suspects | length == 0' "$LAB_TMP/clean.json" >/dev/null
	check_err $? "clean fabric: suspects:$(lab_suspects_brief "$LAB_TMP/clean.json")"
	log_test "clean fabric: no suspects"
}

# top_is FILE KIND A [B]: the first suspect is this link/device/blackhole
top_is() {
	jq -e --arg k "$2" --arg a "$3" --arg b "${4:-}" '.suspects[0] |
		.kind == $k and (if $k == "device" then .from == $a
			else .from == $a and .to == $b end)' "$1" >/dev/null
}

# sole_suspect_check FILE PCT KIND A [B]: the first and only suspect in FILE
# is this link (A -> B) or device (A), its loss estimate within 2x of PCT%
sole_suspect_check() {
	local out=$1 pct=$2
	shift 2
	top_is "$out" "$@"
	check_err $? "top suspect is not $1 $2${3:+ -> $3}"
	jq -e '.suspects | length == 1' "$out" >/dev/null
	check_err $? "more suspects than the faulty $1"
	jq -e --argjson p "$pct" '.suspects[0] | .loss >= $p / 200 and .loss <= $p / 50' "$out" >/dev/null
	check_err $? "$1 loss estimate far from ${pct}%"
}

loc_link() {
	local out=$LAB_TMP/link.json
	RET=0
	fault_window link $LINK_A $LINK_B --loss $LINK_LOSS ||
		{ check_err 1 "fault"; log_test "link fault"; return; }
	localize_json "$out"
	check_err $? "localize failed: $(head -3 "$out.err")"
	"$FM_BIN/triangulate" export --db "$DB" --since "${WINDOW_S}s" \
		--observations "$LAB_TMP/link.obs" 2>"$LAB_TMP/export.err"
	check_err $? "export failed: $(head -3 "$LAB_TMP/export.err")"
	fab fault del "$FAULT" >/dev/null
	log_info "suspects:$(lab_suspects_brief "$out")"
	sole_suspect_check "$out" $LINK_LOSS link $LINK_A $LINK_B
	log_test "${LINK_LOSS}% loss on $LINK_A -> $LINK_B: named, the only suspect, kind link"
}

# Issue 4: the exported observations of the link fault's window, paths mapped
# to devices by the inventory: loss on the flows crossing the link (as many as
# the binomial allows), none at all on the others; the exported path agrees
# with the lab's own answer about crossing.
loc_export_link() {
	local obs=$LAB_TMP/link.obs res flows unknown disagree xf xs xl of os ol xzero ezero bad p
	RET=0
	[ -s "$obs" ] || { check_err 1 "no export file"; log_test "export"; return; }
	res=$(awk -F'\t' -v a=$LINK_A -v b=$LINK_B -v p="$LINK_LOSS" '
		FILENAME == ARGV[1] { if ($1 !~ /^#/ && NF == 2) dev[$1] = $2; next }
		FILENAME == ARGV[2] { split($0, c, " "); lab[c[1] " " c[2] " " c[3]] = 1; next }
		/^#/ || NF == 0 { next }
		{
			flows++
			n = split($9, hop, ",")
			cross = 0; unknown = ($9 == "-")
			for (i = 1; i <= n; i++) {
				if (hop[i] == "*") unknown = 1
				d[i] = (hop[i] in dev) ? dev[hop[i]] : hop[i]
				if (i > 1 && d[i - 1] == a && d[i] == b) cross = 1
			}
			key = $1 " " $2 " " $4
			if (unknown) { nunknown++; next }
			if (cross != ((key in lab) ? 1 : 0)) {
				disagree++
				if (disagree <= 3) bad = bad sprintf(" [%s path %s lab %s]", key, $9, (key in lab) ? "crosses" : "not")
			}
			if (cross) {
				xf++; xs += $6; xl += $7
				ezero += (1 - p / 100) ^ $6
				if ($7 == 0) xzero++
			} else {
				of++; os += $6; ol += $7
				if ($7 > 0 && nl++ < 3) bad = bad sprintf(" [%s lost %d of %d off the link]", key, $7, $6)
			}
		}
		END {
			printf "%d %d %d %d %d %d %d %d %d %d %.2f %s\n", flows, nunknown, disagree,
				xf, xs, xl, of, os, ol, xzero, ezero, bad
		}' "$LAB_TMP/inventory" "$LAB_TMP/crossing" "$obs")
	read -r flows unknown disagree xf xs xl of os ol xzero ezero bad <<<"$res"
	p=$(awk -v p="$LINK_LOSS" 'BEGIN { print p / 100 }')
	log_info "export: $flows flows, $unknown with unknown hops; crossing $xf flows: $(lab_binom_ok "$xs" "$xl" "$p")"
	log_info "crossing flows with no loss: $xzero (expected $ezero); off the link: $of flows, $ol lost of $os"
	[ "$flows" -eq $((NHOSTS * (NHOSTS - 1) * FLOWS)) ] && [ "$unknown" -eq 0 ]
	check_err $? "$flows flows exported, $unknown with * or - hops"
	[ "$disagree" -eq 0 ]
	check_err $? "$disagree flows' exported paths disagree with the lab's ECMP path:$bad"
	[ "$xf" -ge 12 ]
	check_err $? "only $xf flows cross the link"
	lab_binom_ok "$xs" "$xl" "$p" >/dev/null
	check_err $? "crossing flows lost $xl of $xs, not ${LINK_LOSS}%"
	# P(a crossing flow of n probes loses none) = (1-p)^n: their number is a
	# sum of Bernoullis with mean ezero; allow 3 sd and one more
	awk -v k="$xzero" -v m="$ezero" 'BEGIN { exit !(k <= m + 3 * sqrt(m) + 1) }'
	check_err $? "$xzero crossing flows lost nothing, expected about $ezero"
	[ "$ol" -eq 0 ]
	check_err $? "flows off the link lost probes:$bad"
	log_test "export of the link fault's window: loss exactly on the flows crossing it"
}

loc_device() {
	local out=$LAB_TMP/device.json
	RET=0
	fault_window device $DEVICE --loss $DEVICE_LOSS ||
		{ check_err 1 "fault"; log_test "device fault"; return; }
	localize_json "$out"
	check_err $? "localize failed: $(head -3 "$out.err")"
	fab fault del "$FAULT" >/dev/null
	log_info "suspects:$(lab_suspects_brief "$out")"
	sole_suspect_check "$out" $DEVICE_LOSS device $DEVICE
	log_test "${DEVICE_LOSS}% loss in $DEVICE: named, the only suspect, kind device"
}

loc_blackhole() {
	local out=$LAB_TMP/blackhole.json
	RET=0
	fault_window blackhole $BH_A $BH_B --share $BH_SHARE ||
		{ check_err 1 "fault"; log_test "blackhole"; return; }
	localize_json "$out"
	check_err $? "localize failed: $(head -3 "$out.err")"
	"$FM_BIN/triangulate" export --db "$DB" --since "${WINDOW_S}s" \
		--observations "$LAB_TMP/blackhole.obs" 2>/dev/null
	fab fault del "$FAULT" >/dev/null
	log_info "suspects:$(lab_suspects_brief "$out")"
	top_is "$out" blackhole $BH_A $BH_B
	check_err $? "top suspect is not blackhole $BH_A -> $BH_B"
	log_test "share $BH_SHARE of $BH_A -> $BH_B's flows blackholed: top suspect, kind blackhole"
}

# host_of ADDR: the host with this address
host_of() {
	local h
	for h in $HOSTS; do [ "${ADDR[$h]}" = "$1" ] && echo "$h" && return; done
	echo "$1"
}

# paths_cut OBS: "N SAMPLE": flows whose exported path has no trailing '*'
# yet ends at a router the inventory does not link to the target, so the path
# reads as complete while hops are missing
paths_cut() {
	awk -F'\t' '
		FILENAME == ARGV[1] {
			if ($1 == "link") up[$3] = $2
			else if ($1 !~ /^#/ && NF == 2) dev[$1] = $2
			next
		}
		/^#/ || NF == 0 || $9 == "-" { next }
		{
			n = split($9, hop, ",")
			last = (hop[n] in dev) ? dev[hop[n]] : hop[n]
			if (hop[n] != "*" && up[dev[$2]] != last && cut++ < 2)
				ex = ex sprintf(" [%s -> %s sport %s: %s]", dev[$1], dev[$2], $4, $9)
		}
		END { printf "%d %s\n", cut, ex }' "$LAB_TMP/inventory" "$1"
}

# The blackhole drops the probes of some flows and the replies of others
# (replies to the hosts below BH_B cross BH_A -> BH_B too). Any suspect but
# the blackhole is false; the failure says why: how many of the flows that
# lost probes without crossing the link forward had their replies cross it,
# and how many exported paths were cut short.
loc_blackhole_only() {
	local out=$LAB_TMP/blackhole.json p t sport sent lost fwd rev n=0 nrev=0 cut
	RET=0
	jq -e '.suspects | length == 1' "$out" >/dev/null
	check_err $? "false suspects besides the blackhole"
	if [ "$RET" -ne 0 ]; then
		while IFS=$'\t' read -r p t _ sport _ sent lost _; do
			[ "${lost:-0}" -gt 0 ] || continue
			p=$(host_of "$p") t=$(host_of "$t")
			fwd=$(fab path "$p" "$t" --proto udp --sport "$sport" --dport $UDP_PORT)
			[[ $fwd = *" $BH_A $BH_B "* ]] && continue
			rev=$(fab path "$t" "$p" --proto udp --sport $UDP_PORT --dport "$sport")
			n=$((n + 1))
			[[ $rev = *" $BH_A $BH_B "* ]] && nrev=$((nrev + 1))
			[ $n -le 2 ] && log_info "$p -> $t sport $sport lost $lost of $sent forward; probes: $fwd; replies: $rev"
		done < <(grep -v '^#' "$LAB_TMP/blackhole.obs")
		cut=$(paths_cut "$LAB_TMP/blackhole.obs")
		RET_MSG="$RET_MSG: $n flows whose probes do not cross $BH_A -> $BH_B lost \
probes forward, $nrev of them have replies that cross it (a flow whose replies \
all drop is written off as forward loss, prober/flow.c flow_acct_close); \
${cut%% *} exported paths end short of the target's leaf without a '*' (a trace \
that ends on its gap limit drops its silent hops, prober/trace_do.c trace_do_job_finish)${cut#* }"
	fi
	log_test "blackhole: no other suspect (from replies lost on the blackholed link)"
}


lab_init loc
loc_setup || { echo "FAIL: setup"; exit 1; }
tests_run
exit $EXIT_STATUS
