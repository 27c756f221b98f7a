#!/usr/bin/env bash
# lab: serial (judges probes unanswered past the reply timeout: under load, late replies look lost)
# test_dump.sh: packets for the engineer. A prober on h1 probes h2 on 8 flows;
# 30% loss on spine1 -> leaf2 hits the flows whose path crosses it. SIGUSR1
# makes the running prober write its lossy flows' packets as a pcap file;
# tcpdump reads it back, and the probes in it without a reply are exactly the
# probes that never reached h2 (a tcpdump capture on h2 is the truth).
#
#        spine1      spine2              fault: spine1 -> leaf2, 30% loss
#           |   \  /   |                 (at leaf2's ingress; replies go
#        leaf1      leaf2                 leaf2 -> spine -> leaf1, untouched)
#          h1         h2                 prober on h1 probes h2; h2 answers
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	dump_lost_probes_are_the_unanswered_ones
	dump_has_the_lossy_flows_trace_packets
	dump_bad_path_keeps_the_prober_running
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

FLOWS=8
SPORT_BASE=40000
DPORT=31338

dump_setup() {
	local f path
	lab_need tcpdump prober
	[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 missing"; exit 4; }
	fab up --spines 2 --leaves 2 --hosts-per-leaf 1 >/dev/null || return 1
	H1=$(fab addr h1 -4) && H2=$(fab addr h2 -4) || return 1
	# the flows whose path crosses spine1 -> leaf2: they will lose
	VIA=""
	for ((f = 0; f < FLOWS; f++)); do
		path=$(fab path h1 h2 -4 --proto udp --sport $((SPORT_BASE + f)) --dport $DPORT) || return 1
		[[ " $path " == *" spine1 leaf2 "* ]] && VIA+="$((SPORT_BASE + f)) "
	done
	[ -n "$VIA" ] || { echo "no flow crosses spine1 -> leaf2"; return 1; }
	# the truth: every probe that reached h2
	lab_bg h2 tcpdump -i any -nn -U -w "$LAB_TMP/h2.pcap" "udp and src host $H1 and dst port $DPORT" \
		2>"$LAB_TMP/tcpdump.log"
	TCPDUMP_PID=$LAB_LAST_PID
	lab_wait_until 10000 grep -q listening "$LAB_TMP/tcpdump.log" || { echo "tcpdump did not start"; return 1; }
	lab_bg h2 "$FM_BIN/prober" --name h2 --spool "$LAB_TMP/spool.h2" 2>>"$LAB_TMP/prober.h2.log"
	printf "# faultmesh targets v1\n%s flows=%d rate=80 proto=udp port=%d\n" "$H2" $FLOWS $DPORT >"$LAB_TMP/targets.h1"
	lab_bg h1 "$FM_BIN/prober" --name h1 --targets "$LAB_TMP/targets.h1" --interval 2s \
		--spool "$LAB_TMP/spool.h1" --dump "$LAB_TMP/h1.pcap" 2>>"$LAB_TMP/prober.h1.log"
	PROBER_PID=$LAB_LAST_PID
	sleep 4 # both probers up, flows answered and traced
	kill -0 "$PROBER_PID" || { echo "prober h1 exited: $(tail -2 "$LAB_TMP/prober.h1.log")"; return 1; }
	FAULT=$(fab fault link spine1 leaf2 --loss 30) || return 1
	sleep 10
	fab fault del "$FAULT" >/dev/null || return 1
	sleep 3 # past the reply timeout (1s): every probe is answered or lost
	kill -USR1 "$PROBER_PID" || return 1
	lab_wait_until 10000 test -s "$LAB_TMP/h1.pcap" ||
		{ echo "no dump: $(tail -3 "$LAB_TMP/prober.h1.log")"; return 1; }
	kill -INT "$TCPDUMP_PID"
	lab_wait_until 10000 bash -c "! kill -0 $TCPDUMP_PID" || { echo "tcpdump did not stop"; return 1; }
	tcpdump -r "$LAB_TMP/h1.pcap" -nn -v -x >"$LAB_TMP/dump.txt" 2>"$LAB_TMP/dump.err" ||
		{ echo "tcpdump cannot read the dump: $(cat "$LAB_TMP/dump.err")"; return 1; }
	tcpdump -r "$LAB_TMP/h2.pcap" -nn -x >"$LAB_TMP/h2.txt" 2>/dev/null || return 1
}

# probes FILE: "KIND SPORT SEQ" for each faultmesh probe (KIND 1) or reply
# (KIND 2) in tcpdump -x text, read from the payload after the UDP header
probes() {
	/usr/bin/python3 - "$1" "$H1" "$DPORT" <<'EOF'
import re, sys
path, h1, dport = sys.argv[1], sys.argv[2], sys.argv[3]
pkts, cur = [], None
for line in open(path):
	m = re.match(r"\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{4}\s?)+)", line)
	if m and cur is not None:
		cur += bytes.fromhex(m.group(1).replace(" ", ""))
	elif not line.startswith((" ", "\t")):
		if cur is not None:
			pkts.append(cur)
		cur = bytearray()
if cur is not None:
	pkts.append(cur)
for p in pkts:
	# tcpdump -x prints from the IP header on
	i = 0
	if len(p) < 28 + 20 or p[0] >> 4 != 4 or p[9] != 17:
		continue
	ttl, ihl = p[i + 8], (p[i] & 15) * 4
	u = i + ihl
	sport, dp = int.from_bytes(p[u:u + 2], "big"), int.from_bytes(p[u + 2:u + 4], "big")
	pl = p[u + 8:]
	if pl[:4] != b"FMP1":
		continue
	kind, seq = pl[5], int.from_bytes(pl[16:20], "big")
	flow = sport if kind == 1 else dp
	print(kind, flow, seq, ttl)
EOF
}

dump_lost_probes_are_the_unanswered_ones() {
	local lossy bad
	RET=0
	probes "$LAB_TMP/dump.txt" >"$LAB_TMP/dump.probes"
	probes "$LAB_TMP/h2.txt" >"$LAB_TMP/h2.probes"
	# loss probes only: trace probes (ttl below 64) are not counted here
	lossy=$(awk '$1 == 1 && $4 == 64 { print $2 }' "$LAB_TMP/dump.probes" | sort -un | tr '\n' ' ')
	log_info "flows via spine1 -> leaf2: $VIA; lossy flows in the dump: $lossy"
	[ "$lossy" = "$VIA" ]
	check_err $? "the dump's flows ($lossy) are not the flows through the faulty link ($VIA)"
	bad=$(/usr/bin/python3 - "$LAB_TMP/dump.probes" "$LAB_TMP/h2.probes" <<'EOF'
import sys
sent, answered, arrived = {}, {}, {}
for line in open(sys.argv[1]):
	kind, flow, seq, ttl = map(int, line.split())
	if kind == 1 and ttl == 64:
		sent.setdefault(flow, set()).add(seq)
	elif kind == 2:
		answered.setdefault(flow, set()).add(seq)
for line in open(sys.argv[2]):
	kind, flow, seq, ttl = map(int, line.split())
	if kind == 1 and ttl >= 32:  # trace probes that got there arrive with a low TTL
		arrived.setdefault(flow, set()).add(seq)
total = 0
for flow in sorted(sent):
	# the capture on h2 stops a moment after the dump: compare up to the
	# last probe it saw of the flow
	last = max(arrived.get(flow, {-1}))
	mine = {s for s in sent[flow] if s <= last}
	unanswered = mine - answered.get(flow, set())
	lost = mine - arrived.get(flow, set())
	total += len(lost)
	if unanswered != lost:
		print("flow %d: unanswered in the dump %s, never reached h2 %s"
		      % (flow, sorted(unanswered - lost), sorted(lost - unanswered)))
	if not lost:
		print("flow %d: in the dump without a lost probe" % flow)
print("INFO: %d probes lost on the flows in the dump" % total, file=sys.stderr)
EOF
	)
	[ -z "$bad" ]
	check_err $? "$bad"
	[ -s "$LAB_TMP/dump.probes" ]
	check_err $? "no faultmesh probe in the dump"
	log_test "tcpdump reads the dump; its unanswered probes are exactly those h2 never got"
}

dump_has_the_lossy_flows_trace_packets() {
	local n
	RET=0
	n=$(awk '$1 == 1 && $4 < 64' "$LAB_TMP/dump.probes" | wc -l)
	[ "$n" -gt 0 ]
	check_err $? "no trace probe (TTL < 64) of a lossy flow in the dump"
	grep -q "ICMP time exceeded in-transit" "$LAB_TMP/dump.txt"
	check_err $? "no ICMP time exceeded answer in the dump"
	log_test "the lossy flows' trace probes ($n) and ICMP answers come along"
}

dump_bad_path_keeps_the_prober_running() {
	RET=0
	# a directory where the dump's temporary goes: the write fails (root
	# ignores permissions, not file types); the prober says so and goes on
	mkdir "$LAB_TMP/h1.pcap.tmp"
	kill -USR1 "$PROBER_PID"
	lab_wait_until 10000 grep -q "dump: .*h1.pcap" "$LAB_TMP/prober.h1.log"
	check_err $? "no error naming the file: $(tail -2 "$LAB_TMP/prober.h1.log")"
	rmdir "$LAB_TMP/h1.pcap.tmp"
	sleep 1
	kill -0 "$PROBER_PID"
	check_err $? "the prober exited on a dump it could not write"
	log_test "a dump that cannot be written is logged with its path; probing goes on"
}

lab_init dmp
dump_setup || { echo "setup failed"; exit 1; }
tests_run
exit $EXIT_STATUS
