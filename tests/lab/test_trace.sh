#!/usr/bin/env bash
# Lab test for the Paris tracer (fmtrace): on a 2-tier and a 3-tier fabric,
# UDP and TCP, IPv4 and IPv6, with Linux's default ICMP rate limits, every
# traced flow's hop list must equal the routers its own packets cross.
#
#   2-tier (trc2-PID):          3-tier (trc3-PID):
#   spine1..spine4              ssw1-1 ssw1-2   ssw2-1 ssw2-2   (plane 1, 2)
#     \  |  |  /                  |  \  /  |      |  \  /  |
#    leaf1    leaf2             fsw1-1  fsw2-1  fsw1-2  fsw2-2
#      |        |                  \  tor1-1  /    \ tor2-1 /
#      h1       h2                       h1              h2
#
# Ground truth per flow: after tracing, nft dynamic sets in every router
# record (input interface, protocol, source port) of forwarded packets; the
# test sends a few packets of each traced 5-tuple with ordinary kernel sockets
# and follows the interfaces from h1: hop k is the address of router k's
# input interface (the lab's routers answer ICMP from the inbound interface).
set -u
cd "$(dirname "$0")/../.." || exit 1

ALL_TESTS="trace_2tier trace_3tier"
FM_BIN=${FM_BIN:-$PWD/bin}
FABRIC=scripts/fabric-lab
FLOWS=${TRACE_FLOWS:-8}
SPORT_BASE=47000 # verify sets count source ports 47000..47999 only
# Lab names unique per run: other engineers' `make lab` may run this at once.
LAB2=trc2-$$
LAB3=trc3-$$
LABS=()
fails=0
WORK=$(mktemp -d /tmp/trc-lab.XXXXXX)

cleanup() {
	local lab
	for lab in "${LABS[@]}"; do
		FM_LAB=$lab "$FABRIC" down >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }
fail() {
	log "FAIL: $*"
	fails=$((fails + 1))
}

lab_up() {
	local lab=$1
	shift
	LABS+=("$lab")
	FM_LAB=$lab "$FABRIC" up "$@" --ipv6 >/dev/null || {
		fail "$lab: fabric-lab up $*"
		return 1
	}
}

routers_of() { FM_LAB=$1 "$FABRIC" list | awk '$2 != "host" { print $1 " " $3 }'; }

# Record forwarded packets of our source ports in every router of the lab.
verify_sets_add() {
	local lab=$1 name ns
	while read -r name ns; do
		ip netns exec "$ns" nft -f - <<-EOF || return 1
			table inet trc_verify {
				set seen {
					type ifname . inet_proto . inet_service
					flags dynamic
					counter
					size 65535
				}
				chain verify {
					type filter hook forward priority -300; policy accept;
					meta l4proto { udp, tcp } th sport $SPORT_BASE-$((SPORT_BASE + 999)) update @seen { iifname . meta l4proto . th sport }
				}
			}
		EOF
	done < <(routers_of "$lab")
}

# One line per router: NAME NFT-JSON-OF-THE-SET, then interface addresses.
verify_sets_dump() {
	local lab=$1 name ns
	while read -r name ns; do
		printf 'set\t%s\t%s\n' "$name" "$(ip netns exec "$ns" nft -j list set inet trc_verify seen)"
		ip -n "$ns" -o addr show scope global | awk -v r="$name" '{ sub(/\/.*/, "", $4); print "addr\t" r "\t" $2 "\t" $4 }'
		ip netns exec "$ns" nft delete table inet trc_verify
	done < <(routers_of "$lab")
}

# Send 3 packets of each flow (proto:sport:dport) from the source host. They must
# carry no socket hash: veths hand the sender's skb hash to the next
# namespace and Linux's policy-1 multipath hash uses a present L4 hash as is,
# so a connected socket's random sk_txhash (or IPv6's automatic flow label
# hash) would pick the path instead of the 5-tuple. Hence unconnected UDP with
# IPV6_AUTOFLOWLABEL off, and TCP SYNs from a raw socket (built here, not by
# the tracer's code).
flows_send() {
	local src_ns=$1 src=$2 dst=$3
	shift 3
	ip netns exec "$src_ns" python3 - "$src" "$dst" "$@" <<-'EOF'
		import socket, struct, sys
		src, dst = sys.argv[1], sys.argv[2]
		v6 = ":" in dst
		fam = socket.AF_INET6 if v6 else socket.AF_INET
		IPV6_AUTOFLOWLABEL, IPV6_CHECKSUM = 70, 7
		def csum(b):
		    if len(b) % 2:
		        b += b"\0"
		    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    while s >> 16:
		        s = (s & 0xffff) + (s >> 16)
		    return ~s & 0xffff
		def syn(sport, dport):
		    hdr = struct.pack("!HHIIBBHHH", sport, dport, 0x5eed0000 | sport, 0, 5 << 4, 2, 1024, 0, 0)
		    if v6:
		        return hdr  # the kernel fills the checksum (IPV6_CHECKSUM)
		    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
		    return hdr[:16] + struct.pack("!H", csum(ph + hdr)) + hdr[18:]
		raw = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
		if v6:
		    raw.setsockopt(socket.IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, 0)
		    raw.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 16)
		raw.bind((src, 0))
		for item in sys.argv[3:]:
		    proto, sport, dport = item.split(":")
		    dport = int(dport)
		    for _ in range(3):
		        if proto == "udp":
		            s = socket.socket(fam, socket.SOCK_DGRAM)
		            if v6:
		                s.setsockopt(socket.IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, 0)
		            s.bind((src, int(sport)))
		            s.sendto(b"verify", (dst, dport))
		            s.close()
		        else:
		            raw.sendto(syn(int(sport), dport), (dst, 0))
	EOF
}

# From the set dumps, print "proto sport fam hop,hop,..." per flow: follow
# the routers whose input interface is named after the previous device.
paths_expected() {
	python3 - "$1" "$2" <<-'EOF'
		import json, sys
		dump, src_host = sys.argv[1], sys.argv[2]
		seen = {}   # (proto, sport) -> {prev_device: router}
		addrs = {}  # (router, ifname, fam) -> address
		for line in open(dump):
		    kind, rest = line.rstrip("\n").split("\t", 1)
		    if kind == "addr":
		        r, ifn, a = rest.split("\t")
		        addrs[(r, ifn, 6 if ":" in a else 4)] = a
		        continue
		    r, js = rest.split("\t", 1)
		    for obj in json.loads(js)["nftables"]:
		        for e in obj.get("set", {}).get("elem", []):
		            ifn, proto, sport = e["elem"]["val"]["concat"]
		            seen.setdefault((proto, int(sport)), {})[ifn] = r
		for (proto, sport), hops in sorted(seen.items()):
		    for fam in (4, 6):
		        prev, out = src_host, []
		        while prev in hops and len(out) < 32:
		            r = hops[prev]
		            out.append(addrs.get((r, prev, fam), "?"))
		            prev = r
		        print(proto, sport, fam, ",".join(out))
	EOF
}

# Trace FLOWS flows per family and protocol from h1 to the last host, then
# check each hop list against the packets' own path.
trace_check() {
	local lab=$1 dst_host=$2 src_ns dst4 dst6 fam proto dst out idx=0 items
	src_ns=$(FM_LAB=$lab "$FABRIC" ns h1)
	dst4=$(FM_LAB=$lab "$FABRIC" addr "$dst_host" -4)
	dst6=$(FM_LAB=$lab "$FABRIC" addr "$dst_host" -6)
	local src4 src6
	src4=$(FM_LAB=$lab "$FABRIC" addr h1 -4)
	src6=$(FM_LAB=$lab "$FABRIC" addr h1 -6)
	: >"$WORK/$lab.traced"
	for fam in 4 6; do
		for proto in udp tcp; do
			dst=$dst4
			[ $fam = 6 ] && dst=$dst6
			local sport=$((SPORT_BASE + 100 * idx))
			idx=$((idx + 1))
			out=$WORK/$lab.$fam.$proto
			# Default pacing and retries: the lab keeps Linux's ICMP limits.
			if ! ip netns exec "$src_ns" timeout -k 10 60 "$FM_BIN/fmtrace" --dst "$dst" \
				--proto "$proto" --sport "$sport" --dport 33434 --flows "$FLOWS" \
				--max-ttl 12 >"$out" 2>"$out.err"; then
				fail "$lab: fmtrace -$fam $proto exited $? ($(tail -n 3 "$out.err"))"
			fi
			awk -F'\t' -v fam=$fam '$1 == "flow" { sub(/hops=/, "", $10); print $2, $4, fam, $10, $7, $11, $6 }' \
				"$out" >>"$WORK/$lab.traced"
		done
	done
	# MDA mode: flows added until all paths are seen at 95%, most hops
	# inferred (MDA-Lite); the inferred hop lists must be right as well.
	out=$WORK/$lab.lite
	if ! ip netns exec "$src_ns" timeout -k 10 90 "$FM_BIN/fmtrace" --dst "$dst4" --proto udp \
		--sport $((SPORT_BASE + 400)) --dport 33434 --mda --infer 2 --first-hop-single \
		--active 2 --max-ttl 12 >"$out" 2>"$out.err"; then
		fail "$lab: fmtrace --mda --infer 2 exited $? ($(tail -n 3 "$out.err"))"
	fi
	awk -F'\t' '$1 == "flow" { sub(/hops=/, "", $10); print $2, $4, 4, $10, $7, $11, $6 }' \
		"$out" >>"$WORK/$lab.traced"
	local lite_flows lite_inferred
	lite_flows=$(grep -c '^flow' "$out")
	lite_inferred=$(awk -F'\t' '$1 == "summary" { sub(/inferred=/, "", $7); print $7 }' "$out")
	log "$lab: --mda --infer 2: $(grep '^summary' "$out" | cut -f2-)"
	[ "${lite_inferred:-0}" -gt 0 ] || fail "$lab: MDA-Lite inferred no hop"
	# Through the prober's own responder (UDP 31338), as the path watch
	# traces: probes carry a faultmesh request and the echo ends the trace.
	local dst_ns spool=$WORK/$lab.spool
	dst_ns=$(FM_LAB=$lab "$FABRIC" ns "$dst_host")
	mkdir -p "$spool"
	# -k: a process that hangs on its way out (seen once: LeakSanitizer's
	# exit-time scan under heavy load) is killed, so the test stays bounded
	ip netns exec "$dst_ns" timeout -k 10 60 "$FM_BIN/prober" --spool "$spool" --duration 40s \
		>"$WORK/$lab.responder.log" 2>&1 &
	local resp_pid=$!
	for _ in $(seq 1 50); do
		ip netns exec "$dst_ns" ss -Hlun | grep -q ':31338 ' && break
		sleep 0.1
	done
	# Listening, so the kernel sends no port unreachable: only the
	# responder's echo can end these traces as reached.
	ip netns exec "$dst_ns" ss -Hlun | grep -q ':31338 ' ||
		fail "$lab: responder not listening ($(tail -n 2 "$WORK/$lab.responder.log"))"
	for fam in 4 6; do
		dst=$dst4
		[ $fam = 6 ] && dst=$dst6
		out=$WORK/$lab.$fam.responder
		if ! ip netns exec "$src_ns" timeout -k 10 60 "$FM_BIN/fmtrace" --dst "$dst" --proto udp \
			--sport $((SPORT_BASE + 500 + 100 * (fam / 6))) --dport 31338 --probe-payload \
			--flows 4 --max-ttl 12 >"$out" 2>"$out.err"; then
			fail "$lab: fmtrace -$fam via the responder exited $? ($(tail -n 3 "$out.err"))"
		fi
		awk -F'\t' -v fam=$fam '$1 == "flow" { sub(/hops=/, "", $10); print $2, $4, fam, $10, $7, $11, $6 }' \
			"$out" >>"$WORK/$lab.traced"
	done
	kill "$resp_pid" 2>/dev/null
	wait "$resp_pid" 2>/dev/null
	verify_sets_add "$lab" || {
		fail "$lab: nft verify sets"
		return
	}
	items=$(awk '$3 == 4 { print $1 ":" $2 ":" $7 }' "$WORK/$lab.traced")
	# shellcheck disable=SC2086
	flows_send "$src_ns" "$src4" "$dst4" $items
	items=$(awk '$3 == 6 { print $1 ":" $2 ":" $7 }' "$WORK/$lab.traced")
	# shellcheck disable=SC2086
	flows_send "$src_ns" "$src6" "$dst6" $items
	verify_sets_dump "$lab" >"$WORK/$lab.sets"
	paths_expected "$WORK/$lab.sets" h1 >"$WORK/$lab.expected"

	local n=0 ok=0 paths
	while read -r proto sport f hops end replies _; do
		n=$((n + 1))
		local want
		want=$(awk -v p="$proto" -v s="$sport" -v f="$f" '$1 == p && $2 == s && $3 == f { print $4 }' \
			"$WORK/$lab.expected")
		if [ "$end" != "end=reached" ]; then
			fail "$lab: -$f $proto sport $sport: $end (hops $hops)"
		elif [[ $hops == *"*"* ]]; then
			fail "$lab: -$f $proto sport $sport: a silent hop under rate limiting: $hops ($replies)"
		elif [ -z "$want" ] || [ "$hops" != "$want" ]; then
			fail "$lab: -$f $proto sport $sport: traced $hops, packets crossed ${want:-nothing}"
		else
			ok=$((ok + 1))
		fi
	done <"$WORK/$lab.traced"
	# The point of the retries: routers keep Linux's default ICMP limits.
	local rl
	rl=$(ip netns exec "$(FM_LAB=$lab "$FABRIC" ns "$(routers_of "$lab" | awk 'NR == 1 { print $1 }')")" \
		sysctl -n net.ipv4.icmp_ratelimit)
	[ "$rl" = 1000 ] || fail "$lab: routers' icmp_ratelimit is $rl, not Linux's default 1000"
	log "$lab: probes unanswered (rate limits) and retried: $(
		cat "$WORK/$lab".[46].* "$WORK/$lab.lite" 2>/dev/null | awk -F'\t' '$1 == "summary" {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] } }
			END { print v["probes"] - v["replies"] " of " v["probes"] + 0 }')"
	paths=$(awk '{ print $3, $4 }' "$WORK/$lab.traced" | sort -u | wc -l)
	log "$lab: $ok of $n traced flows match their packets' path ($paths distinct paths over both families)"
	[ "$n" -eq $((4 * FLOWS + lite_flows + 8)) ] || fail "$lab: traced $n flows, expected $((4 * FLOWS + lite_flows + 8))"
	# With several equal-cost paths, flows that all agree on one path would
	# mean the 5-tuple was not kept; demand at least 2 per family.
	for f in 4 6; do
		[ "$(awk -v f=$f '$3 == f { print $4 }' "$WORK/$lab.traced" | sort -u | wc -l)" -ge 2 ] ||
			fail "$lab: -$f: all flows on one path"
	done
}

trace_2tier() {
	lab_up "$LAB2" --spines 4 --leaves 2 --hosts-per-leaf 1 || return
	trace_check "$LAB2" h2
	FM_LAB=$LAB2 "$FABRIC" down
}

trace_3tier() {
	lab_up "$LAB3" --pods 2 --tors-per-pod 1 --planes 2 --spines-per-plane 2 --hosts-per-leaf 1 || return
	trace_check "$LAB3" h2
	FM_LAB=$LAB3 "$FABRIC" down
}

[ -x "$FM_BIN/fmtrace" ] || {
	log "no $FM_BIN/fmtrace (make first)"
	exit 1
}
for t in ${TESTS:-$ALL_TESTS}; do
	start=$(date +%s)
	before=$fails
	$t
	log "$t: $([ $fails -eq $before ] && echo ok || echo FAILED) ($(($(date +%s) - start))s)"
done
[ $fails -eq 0 ]
