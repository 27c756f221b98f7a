#!/usr/bin/env bash
# test_alert.sh: alerting end to end with real packets and the real Alertmanager:
# a clean mesh raises nothing; a lossy spine->leaf link fires one alert naming
# it (Alertmanager v2 API, command hook, log); clearing the fault resolves it
# (endsAt, Alertmanager's resolved notification, hook); metrics pass promtool.
#
#        spine1   spine2   spine3           fault: spine1 -> leaf2, 5% loss
#         |  \  \ /  / \  /  |             (at leaf2's ingress)
#        leaf1    leaf2    leaf3
#        h1 h2    h3 h4    h5 h6            collector on h1 (+ metrics)
#
#   4 flows per target at 40 probes/s, 2 s reports; a watch round as new batches land
#   over 10 s and alerts after 2 rounds.
#   root namespace: triangulate watch --db (collector's file) --alertmanager
#   http://127.0.0.1:AM --hook 'cat >> hook.jsonl'; prometheus-alertmanager on
#   127.0.0.1:AM with a webhook receiver (webhook_sink) that records its
#   notifications, so "resolved" is seen as Alertmanager itself reports it.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	alert_quiet_when_clean
	alert_fires_on_link_loss
	alert_metrics_promtool
	alert_resolves_when_cleared
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

HOSTS="h1 h2 h3 h4 h5 h6"
LOSS_PCT=5
FLOWS=4       # per target: 120 flows, traced within ~40 s under ICMP pacing
INTERVAL=2s   # prober reporting interval
ROUND=2s      # watch interval
WINDOW=10s    # watch window
AM_PORT=$((20000 + $$ % 20000))
SINK_PORT=$((AM_PORT + 1))
METRICS_PORT=$((AM_PORT + 2))
FAULT=
declare -A ADDR

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# am_alerts: the FaultmeshLoss alerts Alertmanager holds, one compact JSON each
am_alerts() {
	curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts?filter=alertname%3DFaultmeshLoss" |
		jq -c '.[] | {labels, annotations, startsAt, endsAt, state: .status.state}'
}

# am_has_link FROM TO: Alertmanager has an active link alert FROM -> TO
am_has_link() {
	am_alerts | jq -s -e --arg f "$1" --arg t "$2" \
		'map(select(.labels.kind == "link" and .labels.from == $f and .labels.to == $t))
		| length > 0' >/dev/null
}

# traced_enough: 95% of the mesh's 6 * 5 * FLOWS flows have a path
traced_enough() {
	[ "$(sqlite3 "$DB" 'SELECT count(DISTINCT flow_id) FROM paths' 2>/dev/null || echo 0)" \
		-ge $((6 * 5 * FLOWS * 95 / 100)) ]
}

alert_setup() {
	local h
	lab_need jq curl sqlite3 prometheus-alertmanager promtool prober collector triangulate webhook_sink
	fab up --spines 3 --leaves 3 --hosts-per-leaf 2 >/dev/null || return 1
	fab truth >"$LAB_TMP/inventory" || return 1
	for h in $HOSTS; do ADDR[$h]=$(fab addr "$h" -4) || return 1; done
	DB=$LAB_TMP/fm.db
	lab_collector_start "$DB" --metrics-listen "${ADDR[h1]}:$METRICS_PORT" || return 1
	# shellcheck disable=SC2086 # HOSTS is a list
	lab_mesh_start "flows=$FLOWS rate=40 proto=udp port=31338" $HOSTS -- \
		--interval "$INTERVAL" || return 1

	"$FM_BIN/webhook_sink" --port "$SINK_PORT" --out "$LAB_TMP/am_notify.json" \
		--ready "$LAB_TMP/sink.ready" &
	LAB_PIDS+=($!)
	cat >"$LAB_TMP/am.yml" <<EOF
route:
  receiver: sink
  group_by: [alertname, kind, from, to, device]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:$SINK_PORT/
        send_resolved: true
EOF
	prometheus-alertmanager --config.file="$LAB_TMP/am.yml" --storage.path="$LAB_TMP/am" \
		--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
		2>"$LAB_TMP/am.log" &
	LAB_PIDS+=($!)
	lab_wait_until 15000 curl -sf "http://127.0.0.1:$AM_PORT/-/ready" ||
		{ echo "alertmanager did not start"; return 1; }
	lab_wait_until 5000 test -e "$LAB_TMP/sink.ready" || { echo "webhook sink did not start"; return 1; }
	"$FM_BIN/triangulate" watch --db "$DB" --interval "$ROUND" --window "$WINDOW" \
		--persist 2 --resend 4s --inventory "$LAB_TMP/inventory" \
		--alertmanager "http://127.0.0.1:$AM_PORT" \
		--hook "cat >> $LAB_TMP/hook.jsonl" 2>"$LAB_TMP/watch.log" &
	WATCH_PID=$!
	LAB_PIDS+=("$WATCH_PID")
	: >"$LAB_TMP/hook.jsonl"
}

alert_quiet_when_clean() {
	local n
	RET=0
	# the mesh settles and traces its flows (localizing needs paths); every
	# round meanwhile is a clean round that must not alert
	lab_wait_until 90000 traced_enough
	log_info "$(sqlite3 "$DB" 'SELECT count(DISTINCT flow_id) FROM paths') of 120 flows traced"
	n=$(am_alerts | wc -l)
	[ "$n" -eq 0 ]
	check_err $? "clean fabric: $n alerts in Alertmanager: $(am_alerts | head -3)"
	[ ! -s "$LAB_TMP/hook.jsonl" ]
	check_err $? "clean fabric: hook called: $(head -c 300 "$LAB_TMP/hook.jsonl")"
	kill -0 "$WATCH_PID" 2>/dev/null
	check_err $? "watch exited: $(tail -3 "$LAB_TMP/watch.log")"
	log_test "clean mesh: no alert after several rounds"
}

alert_fires_on_link_loss() {
	local t0 t1 waited=0 a
	RET=0
	FAULT=$(fab fault link spine1 leaf2 --loss "$LOSS_PCT") || { check_err 1 "fault"; log_test "alert fires"; return; }
	t0=$(now_ms)
	until am_has_link spine1 leaf2; do
		[ "$waited" -ge 600 ] && break
		sleep 0.1
		waited=$((waited + 1))
	done
	t1=$(now_ms)
	am_has_link spine1 leaf2
	check_err $? "no spine1 -> leaf2 alert in Alertmanager after 60 s: $(am_alerts | head -3); watch: $(grep ALERT "$LAB_TMP/watch.log" | tail -2)"
	log_info "alert in Alertmanager $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s after injecting ${LOSS_PCT}% on spine1 -> leaf2"
	a=$(am_alerts | jq -c 'select(.labels.from == "spine1")' | head -1)
	log_info "alertmanager: $a"
	jq -e '.labels.alertname == "FaultmeshLoss" and .state == "active" and
		(.annotations.query | test("^triangulate link spine1 leaf2 --db ")) and
		(.annotations.pairs | length > 0) and (.endsAt > .startsAt)' <<<"$a" >/dev/null
	check_err $? "alert lacks labels/annotations/times: $a"
	# nothing else alerts: the one faulty link is the only culprit named
	[ "$(am_alerts | wc -l)" -eq 1 ]
	check_err $? "more than one alert: $(am_alerts | jq -c .labels)"
	jq -e -s 'map(select(.event == "fire" and .kind == "link" and .from == "spine1"
		and .to == "leaf2" and .loss > 0 and .confidence > 0.9 and (.pairs | length) > 0))
		| length == 1' "$LAB_TMP/hook.jsonl" >/dev/null
	check_err $? "hook did not get exactly one fire event for spine1 -> leaf2: $(head -c 400 "$LAB_TMP/hook.jsonl")"
	grep -q 'ALERT FIRING link spine1 -> leaf2: loss' "$LAB_TMP/watch.log"
	check_err $? "no log line for the alert"
	log_test "${LOSS_PCT}% loss on spine1 -> leaf2: one alert naming it (Alertmanager, hook, log)"
}

alert_metrics_promtool() {
	local m
	RET=0
	m=$(ip netns exec "$(fab ns h1)" curl -sf "http://${ADDR[h1]}:$METRICS_PORT/metrics")
	check_err $? "metrics endpoint did not answer"
	promtool check metrics <<<"$m" >"$LAB_TMP/promtool.out" 2>&1
	check_err $? "promtool: $(head -5 "$LAB_TMP/promtool.out")"
	grep -q '^faultmesh_probers_reporting 6$' <<<"$m"
	check_err $? "not 6 probers reporting: $(grep probers_reporting <<<"$m")"
	grep -qE '^faultmesh_suspect_loss_ratio\{kind="link",from="spine1",to="leaf2"\} 0\.0[0-9]' <<<"$m"
	check_err $? "no open spine1 -> leaf2 suspect with its loss: $(grep suspect_loss_ratio <<<"$m")"
	grep -qE '^faultmesh_collector_batches_stored_total [1-9]' <<<"$m"
	check_err $? "no batches counted"
	log_test "collector metrics: promtool accepts them; probers, batches, link loss"
}

alert_resolves_when_cleared() {
	local waited=0 n
	RET=0
	fab fault del "$FAULT" >/dev/null
	# the window must slide past the lossy intervals, then two clean rounds
	while am_has_link spine1 leaf2 ||
		! jq -e -s 'map(select(.status == "resolved")) | length > 0' \
			"$LAB_TMP/am_notify.json" >/dev/null 2>&1; do
		[ "$waited" -ge 600 ] && break
		sleep 0.1
		waited=$((waited + 1))
	done
	! am_has_link spine1 leaf2
	check_err $? "alert still active 60 s after clearing the fault"
	jq -e -s '[.[] | select(.status == "resolved") | .alerts[] |
		select(.labels.from == "spine1" and .labels.to == "leaf2" and .status == "resolved")]
		| length > 0' "$LAB_TMP/am_notify.json" >/dev/null 2>&1
	check_err $? "Alertmanager sent no resolved notification: $(tail -c 400 "$LAB_TMP/am_notify.json")"
	jq -e -s 'map(select(.event == "resolve" and .from == "spine1" and .ends_at != null))
		| length == 1' "$LAB_TMP/hook.jsonl" >/dev/null
	check_err $? "hook did not get one resolve with ends_at"
	log_info "resolved $((waited / 10)) s after clearing; hook events: $(jq -r .event "$LAB_TMP/hook.jsonl" | tr '\n' ' ')"
	kill "$WATCH_PID"
	for n in $(seq 50); do kill -0 "$WATCH_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$WATCH_PID"
	check_err $? "watch did not exit 0 on SIGTERM"
	grep -q 'stopping after' "$LAB_TMP/watch.log"
	check_err $? "watch did not log its clean stop"
	log_test "fault cleared: alert resolved (endsAt, Alertmanager notification, hook); SIGTERM clean"
}

lab_init alr
alert_setup || { echo "FAIL: setup"; exit 1; }
tests_run
[ $EXIT_STATUS -eq 0 ] || { echo "--- watch log"; tail -20 "$LAB_TMP/watch.log"; }
exit $EXIT_STATUS
