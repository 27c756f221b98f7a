#!/usr/bin/env bash
# test_fabric.sh: proves scripts/fabric-lab with real packets (issue 2):
# reachability, ECMP spread, link/device loss, blackholes, truth, down, 3-tier.
#
#   spine1     spine2     spine3     spine4     full mesh: every leaf has a
#     |  \     /  |  \     /  |  \     /  |       /31 to every spine, from
#     |   `-.-'   |   `-.-'   |   `-.-'   |       198.18.0.0/16
#   leaf1 ...           leaf2 ...       leaf3     leaf G serves 198.19.G.0/24
#   /   \               /   \           /   \     and 2001:2:0:G00::/56
#  h1   h2             h3   h4         h5   h6
#
# Flows h1 -> h3 take leaf1 -> spineN -> leaf2; faults sit on spine1->leaf2
# and spine2. Which spine carried a flow is read from per-source-port nft
# counters in every spine; which packets arrived from the labtraf sink.
# The 3-tier case is 4 pods x 4 ToRs x 4 planes x 4 spines, one host per ToR.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	sysctls_set
	reach_all
	icmp_inbound_source
	truth_matches_kernel
	ecmp_spread_v4
	ecmp_spread_v6
	link_loss
	device_loss
	blackhole_share
	fault_errors
	three_tier
	down_leaves_nothing
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

NUM_SPINES=4
SPINES="spine1 spine2 spine3 spine4"

# flows_run SRC DST FAMILY PORT FLOWS COUNT: FLOWS UDP flows of COUNT packets
# from SRC to DST; writes $LAB_TMP/flows.PORT lines "SPORT SPINE SENT RECEIVED"
# (SPINE "multi" if a flow was seen at two spines, "none" if at none).
flows_run() {
	local src=$1 dst=$2 fam=$3 port=$4 flows=$5 count=$6 s addr sinkpid
	addr=$(fab addr "$dst" "-$fam")
	for s in $SPINES; do
		lab_flow_count_start "$s" "$port" || return 1
	done
	lab_sink_start "$dst" "$port" "$LAB_TMP/sink.$port" --idle 700ms --duration 30s || return 1
	sinkpid=$LAB_LAST_PID
	fab exec "$src" -- "$FM_BIN/labtraf" send --dst "$addr" --dport "$port" \
		--sport-from 20000 --flows "$flows" --count "$count" >"$LAB_TMP/sent.$port"
	wait "$sinkpid"
	for s in $SPINES; do
		lab_flow_count_dump "$s" | sed "s/^/$s /"
	done >"$LAB_TMP/paths.$port"
	awk 'FILENAME == ARGV[1] { if ($2 in path) path[$2] = "multi"; else path[$2] = $1; next }
	     FILENAME == ARGV[2] { recv[$2] = $3; next }
	     { print $1, ($1 in path) ? path[$1] : "none", $2, recv[$1] + 0 }' \
		"$LAB_TMP/paths.$port" "$LAB_TMP/sink.$port" "$LAB_TMP/sent.$port" \
		>"$LAB_TMP/flows.$port"
}

# flows_sum PORT AWK-CONDITION: prints "FLOWS SENT LOST" over matching flows.
flows_sum() {
	awk "$2"' { n++; s += $3; l += $3 - $4 } END { print n + 0, s + 0, l + 0 }' \
		"$LAB_TMP/flows.$1"
}

# At most 0.1% (and at least 2 packets) lost where no fault is: "~0".
near_zero() { [ "$2" -le $(($1 / 1000 > 2 ? $1 / 1000 : 2)) ]; }

sysctls_set() {
	local ns v
	ns=$(fab ns spine1)
	for v in net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv6.fib_multipath_hash_policy=1 net.ipv4.icmp_errors_use_inbound_ifaddr=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.icmp_ratelimit=1000; do
		[ "$(ip netns exec "$ns" sysctl -n "${v%=*}")" = "${v#*=}" ]
		check_err $? "spine1: $v not set"
	done
	[ "$(ip netns exec "$ns" sysctl -n net.ipv4.fib_multipath_hash_seed)" != \
		"$(ip netns exec "$(fab ns spine2)" sysctl -n net.ipv4.fib_multipath_hash_seed)" ]
	check_err $? "spine1 and spine2 share a multipath hash seed"
	log_test "router sysctls: forwarding, L4 multipath hash, own seeds, ICMP source and limits"
}

reach_all() {
	local h fam targets=() out
	for h in $HOSTS; do
		for fam in 4 6; do
			targets+=("$(fab addr "$h" -$fam)")
		done
	done
	for h in $HOSTS; do
		out=$(fab exec "$h" -- fping -q -c1 -t1000 -r1 "${targets[@]}" 2>&1)
		check_err $? "from $h: $(echo "$out" | grep -v '/0%' | head -3)"
	done
	log_test "every host reaches every other (IPv4 and IPv6, ${#targets[@]} addresses)"
}

# owner ADDR: the device truth names for ADDR; peer31 ADDR: the other end
# of ADDR's /31.
owner() { fab truth | awk -F'\t' -v a="$1" '$1 == a { print $2 }'; }
peer31() { awk -F. '{ d = $4 % 2 ? $4 - 1 : $4 + 1; printf "%s.%s.%s.%d\n", $1, $2, $3, d }' <<<"$1"; }

# time_exceeded_src TTL: the source of the ICMP time exceeded answering an
# h1 -> h3 echo with that TTL.
time_exceeded_src() {
	fab exec h1 -- fping -c1 -t500 -H "$1" "$(fab addr h3 -4)" 2>&1 |
		sed -n 's/.*Time Exceeded from \([0-9.]*\) .*/\1/p' | head -1
}

icmp_inbound_source() {
	local src
	src=$(time_exceeded_src 1)
	[ -n "$src" ] && [ "$src" = "$(peer31 "$(fab addr h1 -4)")" ]
	check_err $? "TTL 1: time exceeded from '$src', not leaf1's address facing h1"
	src=$(time_exceeded_src 2)
	[[ $(owner "$src") == spine* ]] && [ "$(owner "$(peer31 "$src")")" = leaf1 ]
	check_err $? "TTL 2: time exceeded from '$src' ($(owner "$src")), not a spine's address facing leaf1"
	log_test "ICMP time exceeded comes from the ingress interface address"
}

truth_matches_kernel() {
	local name kind ns
	fab truth >"$LAB_TMP/truth"
	[ "$(head -1 "$LAB_TMP/truth")" = "# faultmesh inventory v1" ]
	check_err $? "truth does not start with the inventory v1 header"
	awk -F'\t' '!/^#/ && $1 != "link" { print $1, $2 }' "$LAB_TMP/truth" | sort >"$LAB_TMP/truth.addr"
	while read -r name kind ns; do
		ip -n "$ns" -o addr show scope global |
			awk -v d="$name" '{ split($4, a, "/"); print a[1], d }'
	done < <(fab list) | sort >"$LAB_TMP/kernel.addr"
	diff -u "$LAB_TMP/kernel.addr" "$LAB_TMP/truth.addr" >"$LAB_TMP/truth.diff"
	check_err $? "truth addresses differ from the namespaces': $(head -5 "$LAB_TMP/truth.diff")"
	[ "$(awk -F'\t' '$1 ~ /^[0-9]/ { print $1 }' "$LAB_TMP/truth" | sort | uniq -d | wc -l)" = 0 ]
	check_err $? "an address appears twice in truth"
	[ "$(grep -c '^link	' "$LAB_TMP/truth")" = $((NUM_SPINES * 3 + 6)) ]
	check_err $? "truth has $(grep -c '^link	' "$LAB_TMP/truth") links, want $((NUM_SPINES * 3 + 6))"
	log_test "truth: v1 header, every kernel address once with its device, all links"
}

ecmp_spread() {
	local fam=$1 port=$2 s n min=$((256 / NUM_SPINES / 2)) bad sport want got
	flows_run h1 h3 "$fam" "$port" 256 4 || { check_err 1 "flow run failed"; return; }
	bad=$(awk '$2 == "multi" || $2 == "none" || $4 != 4' "$LAB_TMP/flows.$port" | head -3)
	[ -z "$bad" ]
	check_err $? "flows not on exactly one spine or not delivered: $bad"
	for s in $SPINES; do
		n=$(awk -v s="$s" '$2 == s' "$LAB_TMP/flows.$port" | wc -l)
		log_info "IPv$fam $s carried $n of 256 flows"
		[ "$n" -ge "$min" ]
		check_err $? "$s carried $n flows, under half its fair share ($min)"
	done
	# fabric-lab path predicts each flow's spine from the kernel's hash.
	for sport in $(seq 20000 8 20255); do
		want=$(awk -v p="$sport" '$1 == p { print $2 }' "$LAB_TMP/flows.$port")
		got=$(fab path h1 h3 "-$fam" --sport "$sport" --dport "$port")
		[ "$got" = "h1 leaf1 $want leaf2 h3" ]
		check_err $? "sport $sport went through $want, fabric-lab path says '$got'"
	done
	# fabric-lab paths, all 256 flows in one batch, says the same
	awk -v p="$port" '{ print "h1 h3 udp", $1, p }' "$LAB_TMP/flows.$port" |
		fab paths "-$fam" >"$LAB_TMP/batch.$port"
	check_err $? "fabric-lab paths failed"
	bad=$(paste -d ' ' "$LAB_TMP/flows.$port" "$LAB_TMP/batch.$port" |
		awk 'NF != 9 || $5 " " $6 " " $7 " " $8 " " $9 != "h1 leaf1 " $2 " leaf2 h3"' | head -3)
	[ -z "$bad" ] && [ "$(wc -l <"$LAB_TMP/batch.$port")" = 256 ]
	check_err $? "fabric-lab paths disagrees with the packets (sport spine sent received path): $bad"
	log_test "IPv$fam: 256 flows spread over all $NUM_SPINES spines, each flow on one; path, paths agree"
}

ecmp_spread_v4() { ecmp_spread 4 9001; }
ecmp_spread_v6() { ecmp_spread 6 9002; }

# binom_retry FUNC ARGS...: FUNC draws a sample and returns its 99%-interval
# verdict, leaving a description in $STAT_MSG. Each check fails by chance 1%
# of the time, so a failing one gets one fresh sample: a wrong loss rate
# still fails both, a chance miss of a right one passes (1e-4 flake rate).
binom_retry() {
	"$@" && return 0
	log_info "outside the 99% interval ($STAT_MSG); drawing one fresh sample"
	"$@"
}

# fault_loss_sample SRC DST PORT SPINE: 256 flows SRC -> DST, none lost
# off SPINE (~0), and the 99%-interval verdict on 10% through SPINE
fault_loss_sample() {
	local n s l
	flows_run "$1" "$2" 4 "$3" 256 80 || { STAT_MSG="flow run failed"; return 1; }
	read -r n s l < <(flows_sum "$3" "\$2 != \"$4\"")
	near_zero "$s" "$l"
	check_err $? "other spines: lost $l of $s"
	read -r n s l < <(flows_sum "$3" "\$2 == \"$4\"")
	STAT_MSG="$n flows, lost $(lab_binom_ok "$s" "$l" 0.10)"
	lab_binom_ok "$s" "$l" 0.10 >/dev/null
}

link_loss() {
	local n s l
	fab fault link spine1 leaf2 --loss 10 >/dev/null
	check_err $? "fault link failed"
	fab faults | grep -q "link	spine1	leaf2	loss_pct=10"
	check_err $? "faults does not list the link fault"
	fab truth --faults | grep -q "^# fault	1	link	spine1	leaf2"
	check_err $? "truth --faults lacks the fault"
	binom_retry fault_loss_sample h1 h3 9003 spine1
	check_err $? "through spine1->leaf2: $STAT_MSG"
	log_info "through spine1->leaf2: $STAT_MSG"
	# The reverse direction and the rest of spine1 carry no fault.
	flows_run h3 h1 4 9004 128 20 || check_err 1 "flow run failed"
	read -r n s l < <(flows_sum 9004 1)
	near_zero "$s" "$l"
	check_err $? "leaf2->spine1 direction: lost $l of $s"
	flows_run h2 h5 4 9005 128 20 || check_err 1 "flow run failed"
	read -r n s l < <(flows_sum 9005 1)
	near_zero "$s" "$l"
	check_err $? "leaf1->leaf3 through spine1: lost $l of $s"
	fab fault clear
	[ -z "$(fab faults)" ]
	check_err $? "fault clear left faults listed"
	log_test "link fault 10%: binomially plausible loss on spine1->leaf2 only"
}

device_loss() {
	fab fault device spine2 --loss 10 >/dev/null
	check_err $? "fault device failed"
	binom_retry fault_loss_sample h2 h6 9006 spine2
	check_err $? "through spine2: $STAT_MSG"
	log_info "through spine2: $STAT_MSG"
	fab fault clear
	log_test "device fault 10%: binomially plausible loss through spine2 only"
}

# blackhole_fam FAMILY PORT: one flow run; appends to $STAT_MSG, returns the
# binomial verdict on the number of blackholed flows through spine1->leaf2.
blackhole_fam() {
	local fam=$1 port=$2 r n s l k mixed
	flows_run h1 h3 "$fam" "$port" 256 20 || { STAT_MSG+=" IPv$fam: flow run failed"; return 1; }
	# A blackholed flow loses every packet, any other none.
	mixed=$(awk '$4 != 0 && $4 != $3' "$LAB_TMP/flows.$port" | head -3)
	[ -z "$mixed" ]
	check_err $? "IPv$fam flows partly lost: $mixed"
	read -r n s l < <(flows_sum "$port" '$2 != "spine1"')
	near_zero "$s" "$l"
	check_err $? "IPv$fam other spines: lost $l of $s"
	n=$(awk '$2 == "spine1"' "$LAB_TMP/flows.$port" | wc -l)
	k=$(awk '$2 == "spine1" && $4 == 0' "$LAB_TMP/flows.$port" | wc -l)
	r=$(lab_binom_ok "$n" "$k" 0.25)
	local ok=$?
	STAT_MSG+=" IPv$fam blackholed flows $r;"
	return $ok
}

# A fresh fault per sample: a new hash seed picks a new set of flows.
blackhole_sample() {
	local v4 v6
	STAT_MSG=
	fab fault clear
	fab fault blackhole spine1 leaf2 --share 0.25 >/dev/null
	check_err $? "fault blackhole failed"
	blackhole_fam 4 9007
	v4=$?
	blackhole_fam 6 9008
	v6=$?
	[ $v4 -eq 0 ] && [ $v6 -eq 0 ]
}

blackhole_share() {
	binom_retry blackhole_sample
	check_err $? "through spine1->leaf2:$STAT_MSG"
	log_info "through spine1->leaf2:$STAT_MSG"
	fab fault clear
	log_test "blackhole share 0.25: a plausible quarter of spine1->leaf2 flows lose all"
}

fault_errors() {
	local out id
	out=$(fab fault link spine1 leaf9 --loss 10 2>&1)
	check_fail $? "fault on an unknown device succeeded"
	[[ $out == *"no device 'leaf9'"* ]]
	check_err $? "unclear error: $out"
	out=$(fab fault link spine1 spine2 --loss 10 2>&1)
	check_fail $? "fault on a missing link succeeded"
	[[ $out == *"no link"* ]]
	check_err $? "unclear error: $out"
	fab fault link spine1 leaf1 --loss 101 >/dev/null 2>&1
	check_fail $? "--loss 101 accepted"
	fab fault device h1 --loss 5 >/dev/null 2>&1
	check_fail $? "device fault on a host accepted"
	fab exec nosuch -- true >/dev/null 2>&1
	check_fail $? "exec in an unknown device succeeded"
	out=$(printf 'h1 h3 udp 20000 9000\nh1 nosuch udp 20000 9000\n' | fab paths 2>&1)
	check_fail $? "paths with an unknown device succeeded"
	[[ $out == *"line 2: no device or lab address 'nosuch'"* ]]
	check_err $? "unclear paths error: $out"
	fab fault link spine1 leaf1 --loss 0.5 >/dev/null
	check_err $? "fractional --loss 0.5 refused"
	ip netns exec "$(fab ns leaf1)" nft list chain inet faultmesh prerouting | grep -q 'mod 1000000 < 5000 '
	check_err $? "0.5% is not 5000 ppm in the nft rule"
	id=$(fab fault blackhole spine2 leaf1 --share 0.5)
	fab fault del "$id" &&
		! ip netns exec "$(fab ns leaf1)" nft list chain inet faultmesh prerouting | grep -q jhash &&
		ip netns exec "$(fab ns leaf1)" nft list chain inet faultmesh prerouting | grep -q numgen &&
		[ "$(fab faults | wc -l)" = 1 ]
	check_err $? "fault del $id did not remove exactly its own rules"
	fab fault clear
	[ -z "$(fab faults)" ] && ! ip netns exec "$(fab ns leaf1)" nft list table inet faultmesh >/dev/null 2>&1
	check_err $? "fault clear left rules behind"
	log_test "fault/exec/paths: clear errors for bad input; 0.5% granularity; del one; clear"
}

# fab3 ARGS...: fabric-lab for the 3-tier lab.
fab3() { FM_LAB=${LAB_NAME}x fab "$@"; }

# spread_3tier FAMILY PORT: 256 flows h1 -> h16 (pod 1 to pod 4) must use all
# 16 spines (one seed for all routers would pin spine index to plane index:
# 4 of 16), and fabric-lab path must name each sampled flow's spine.
spread_3tier() {
	local fam=$1 port=$2 s ssws idle sport want got bad
	ssws=$(fab3 list | awk '$2 == "ssw" { print $1 }')
	for s in $ssws; do
		FM_LAB=${LAB_NAME}x lab_flow_count_start "$s" "$port"
	done
	# No listener needed: the spines count the packets on their way.
	fab3 exec h1 -- "$FM_BIN/labtraf" send --dst "$(fab3 addr h16 -"$fam")" \
		--dport "$port" --flows 256 --count 1 >/dev/null
	for s in $ssws; do
		FM_LAB=${LAB_NAME}x lab_flow_count_dump "$s" | sed "s/^/$s /"
	done >"$LAB_TMP/paths3.$port"
	idle=$(for s in $ssws; do grep -q "^$s " "$LAB_TMP/paths3.$port" || echo "$s"; done)
	[ -z "$idle" ] && [ "$(wc -l <"$LAB_TMP/paths3.$port")" = 256 ]
	check_err $? "IPv$fam: spines without flows: $(echo $idle); $(wc -l <"$LAB_TMP/paths3.$port") of 256 flows seen"
	for sport in $(seq 20000 16 20255); do
		want=$(awk -v p="$sport" '$2 == p { print $1 }' "$LAB_TMP/paths3.$port")
		got=$(fab3 path h1 h16 "-$fam" --sport "$sport" --dport "$port" | awk '{ print $4 }')
		[ "$got" = "$want" ]
		check_err $? "IPv$fam sport $sport crossed $want, fabric-lab path says $got"
	done
	# fabric-lab paths, all 256 flows in one batch, names each flow's spine
	for ((sport = 20000; sport < 20256; sport++)); do
		echo "h1 h16 udp $sport $port"
	done | fab3 paths "-$fam" >"$LAB_TMP/batch3.$port"
	check_err $? "fabric-lab paths failed (3-tier)"
	bad=$(awk 'NR == FNR { spine[$2] = $1; next }
		{ sport = 19999 + FNR; if (NF != 7 || spine[sport] != $4) print sport, spine[sport], $0 }' \
		"$LAB_TMP/paths3.$port" "$LAB_TMP/batch3.$port" | head -3)
	[ -z "$bad" ] && [ "$(wc -l <"$LAB_TMP/batch3.$port")" = 256 ]
	check_err $? "IPv$fam: fabric-lab paths disagrees with the spines' counters: $bad"
}

three_tier() {
	local t0 t1 h fam targets=() out
	t0=$(date +%s%N)
	fab3 up --pods 4 --tors-per-pod 4 --planes 4 --spines-per-plane 4 \
		--hosts-per-leaf 1 --ipv6 --no-icmp-ratelimit >/dev/null
	check_err $? "3-tier up failed"
	t1=$(date +%s%N)
	log_info "3-tier 4x4x4x4 up in $(((t1 - t0) / 1000000)) ms"
	for h in $(fab3 list | awk '$2 == "host" && $1 != "h1" { print $1 }'); do
		for fam in 4 6; do
			targets+=("$(fab3 addr "$h" -$fam)")
		done
	done
	out=$(fab3 exec h1 -- fping -q -c1 -t1000 -r1 "${targets[@]}" 2>&1)
	check_err $? "h1 cannot reach: $(echo "$out" | grep -v '/0%' | head -3)"
	[ ${#targets[@]} -eq 30 ]
	check_err $? "expected 15 other hosts x 2 families, got ${#targets[@]} addresses"
	# ECMP in every tier: a ToR over all 4 planes, a fabric switch over all
	# 4 spines of its plane.
	[ "$(ip -n "${LAB_NAME}x-tor1-1" route show 198.19.16.0/24 | grep -c nexthop)" = 4 ] &&
		[ "$(ip -n "${LAB_NAME}x-fsw1-1" route show 198.19.16.0/24 | grep -c nexthop)" = 4 ]
	check_err $? "3-tier routes to pod 4 lack 4-way multipath"
	spread_3tier 4 9204
	spread_3tier 6 9206
	[ "$(ip netns exec "${LAB_NAME}x-ssw1-1" sysctl -n net.ipv4.icmp_ratelimit)" = 0 ]
	check_err $? "--no-icmp-ratelimit did not set icmp_ratelimit=0"
	fab3 down
	[ -z "$(ip netns list | grep "^${LAB_NAME}x-")" ]
	check_err $? "3-tier down left namespaces"
	log_test "3-tier 4x4x4x4: h1 reaches all pods; flows use all 16 spines; path, paths agree"
}

down_leaves_nothing() {
	local pid c=${LAB_NAME}c
	# A second lab with the same device names lives beside this one; after
	# a crash that lost its state dir, down still finds its namespaces, and
	# up over a dirty lab starts clean. This lab must not notice any of it.
	FM_LAB=$c fab up --spines 1 --leaves 2 --hosts-per-leaf 1 >/dev/null &&
		FM_LAB=$c fab up --spines 1 --leaves 2 --hosts-per-leaf 1 >/dev/null
	check_err $? "up over an existing lab failed"
	rm -rf "/run/faultmesh-lab/$c"
	FM_LAB=$c fab down
	[ -z "$(ip netns list | grep "^$c-")" ]
	check_err $? "down after a lost state dir left namespaces"
	fab exec h1 -- fping -q -c1 -t1000 "$(fab addr h6 -4)" "$(fab addr h6 -6)" 2>/dev/null
	check_err $? "the other lab's up/down broke this one"

	"$LAB_FABRIC" exec h1 -- sleep 300 &
	pid=$!
	disown "$pid"
	lab_wait_until 2000 test -n "$(ip netns pids "$(fab ns h1)")"
	fab down
	check_err $? "down failed"
	lab_wait_until 2000 bash -c "! kill -0 $pid"
	check_err $? "process in h1 survived down"
	[ -z "$(ip netns list | grep "^$LAB_NAME-")" ]
	check_err $? "namespaces left: $(ip netns list | grep "^$LAB_NAME-" | head -3)"
	[ -z "$(ip -o link show type veth | grep -E ': (spine|leaf|h)[0-9]+@')" ]
	check_err $? "veths left in the root namespace"
	[ ! -e "/run/faultmesh-lab/$LAB_NAME" ]
	check_err $? "state dir left"
	fab down
	check_err $? "second down failed"
	log_test "down: no namespace, veth, process or state left; repeatable; crash-safe"
}

lab_init fab
lab_need fping nft "$FM_BIN/labtraf"
lab_defer "FM_LAB=${LAB_NAME}x $LAB_FABRIC down"
lab_defer "FM_LAB=${LAB_NAME}c $LAB_FABRIC down"
fab up --spines $NUM_SPINES --leaves 3 --hosts-per-leaf 2 --ipv6 >/dev/null ||
	{ echo "FAIL: fabric-lab up"; exit 1; }
HOSTS=$(fab list | awk '$2 == "host" { print $1 }')

tests_run
exit $EXIT_STATUS
