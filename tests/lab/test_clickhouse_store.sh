#!/usr/bin/env bash
# lab: heavy (two ClickHouse servers: never beside another heavy test)
# test_clickhouse_store.sh: the same answers from either store. One synthetic
# fabric's window (a 5% fault on spine1 -> leaf2) is written into SQLite and
# into a real clickhouse-server started here (own config, data dir, ports on
# 127.0.0.1; stopped on exit, also on failure); localize, device, link,
# export and report answer identically from both; so do the suspect history a
# watch records (suspects, the device/link timeline, the report's episodes),
# the report's prober-health table and the collector's per-prober metrics.
# Every batch written twice (a resend) is counted once. `triangulate import`
# loads an observations file into either store; the inventory kept in either
# store answers the same. A sharded store (clickhouse://A/fs?cluster=...)
# over two servers (each its own process, config and ports) writes through
# Distributed tables onto both shards and every query reads through them:
# the same answers as SQLite.
#
#   synthdb --store fm.db ---------> SQLite
#   synthdb --store clickhouse://127.0.0.1:HTTP/fm (twice) -> clickhouse-server A
#   synthdb --store clickhouse://127.0.0.1:A/fs?cluster=fm_shards -> A and B
# Skips (exit 4) when clickhouse-server is not installed.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	store_answers_identical
	store_history_and_probers_identical
	store_history_unit_tests_on_clickhouse
	store_metrics_identical
	store_resent_batches_counted_once
	store_import_observations
	store_sharded_reads_every_shard
"

# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh"

CHL=$LAB_ROOT/scripts/clickhouse-local
tri() { "$FM_BIN/triangulate" "$@"; }
chq() { curl -sS --fail-with-body --data-binary "$2" "http://127.0.0.1:$1/"; }

setup() {
	lab_need clickhouse-server curl jq synthdb triangulate
	lab_init chs
	lab_defer "$CHL stop $LAB_TMP/chA"
	lab_defer "$CHL stop $LAB_TMP/chB"
	# B first: A's cluster names B's native port
	"$CHL" start "$LAB_TMP/chB" >/dev/null || exit 1
	PORT_A=$("$CHL" start "$LAB_TMP/chA" "self,127.0.0.1:$(cat "$LAB_TMP/chB/tcp_port")") || exit 1
	PORT_B=$(cat "$LAB_TMP/chB/http_port")
	CH=clickhouse://127.0.0.1:$PORT_A/fm
	SQ=$LAB_TMP/fm.db
	END=$(date +%s%3N)
	UNTIL=$((END + 1000))
	"$FM_BIN/synthdb" --store "$SQ" --inventory "$LAB_TMP/inv" --end "$END" --span 1h \
		--fault spine1,leaf2 >/dev/null &&
		"$FM_BIN/synthdb" --store "$CH" --end "$END" --span 1h --fault spine1,leaf2 >/dev/null ||
		{ echo "synthdb failed"; exit 1; }
}

# both CMD ARGS...: run a query on each store into $LAB_TMP/out.{sq,ch}
both() {
	tri "$@" --store "$SQ" >"$LAB_TMP/out.sq" 2>"$LAB_TMP/err.sq" &&
		tri "$@" --store "$CH" >"$LAB_TMP/out.ch" 2>"$LAB_TMP/err.ch"
}

same() {
	cmp -s "$LAB_TMP/out.sq" "$LAB_TMP/out.ch" ||
		{ diff "$LAB_TMP/out.sq" "$LAB_TMP/out.ch" | head -5; return 1; }
}

# JSON with every *_ms field dropped: the watch's rounds ran at other times
# on each store, all else must match
NO_MS='walk(if type == "object" then with_entries(select(.key | endswith("_ms") | not)) else . end)'
same_json() {
	local f
	for f in sq ch; do jq -S "$NO_MS" "$LAB_TMP/out.$f" >"$LAB_TMP/norm.$f" || return 1; done
	cmp -s "$LAB_TMP/norm.sq" "$LAB_TMP/norm.ch" ||
		{ diff "$LAB_TMP/norm.sq" "$LAB_TMP/norm.ch" | head -5; return 1; }
}

# watch_rounds STORE: three rounds of a watch over the window, as a
# running watch records them
# The watch's window ends at its own now, which moves between the SQLite and
# the ClickHouse run (seconds under load): a window over the whole synthetic
# hour and more (its rows end at END) reads the same rows in both, where 30m
# cut the hour at different rows and the suspects' loss differed in the 4th digit.
watch_rounds() {
	tri watch --store "$1" --inventory "$LAB_TMP/inv" --window 2h --timer \
		--interval 1s --rounds 3 >/dev/null 2>>"$LAB_TMP/watch.log"
}

store_answers_identical() {
	local inv=(--inventory "$LAB_TMP/inv")
	RET=0
	both localize "${inv[@]}" --window 30m --json
	check_err $? "localize failed: $(cat "$LAB_TMP"/err.*)"
	same
	check_err $? "localize --json differs between SQLite and ClickHouse"
	[ "$(jq -r '[.suspects[] | "\(.kind) \(.from) \(.to)"] | join(";")' "$LAB_TMP/out.ch")" = \
		"link spine1 leaf2" ]
	check_err $? "ClickHouse localize did not name spine1 -> leaf2 alone: $(head -c 300 "$LAB_TMP/out.ch")"
	both link spine1 leaf2 "${inv[@]}" --since 1h --until "$UNTIL" --json && same
	check_err $? "link spine1 leaf2 differs"
	[ "$(jq -r .verdict "$LAB_TMP/out.ch")" = dropping ]
	check_err $? "link verdict from ClickHouse is not 'dropping'"
	both device spine1 "${inv[@]}" --since 1h --until "$UNTIL" --json && same
	check_err $? "device spine1 differs"
	both device leaf1 "${inv[@]}" --since 1h --until "$UNTIL" && same
	check_err $? "device leaf1 (text) differs"
	both export --since 3h && same
	check_err $? "export (every flow's sums and path) differs"
	# the inventory kept in the store: loaded once, found by device without --inventory
	both inventory load "$LAB_TMP/inv" &&
		both device leaf2 --since 1h --until "$UNTIL" --json && same
	check_err $? "the stored inventory differs: $(head -2 "$LAB_TMP/out.ch")"
	tri report --store "$SQ" "${inv[@]}" --since 1h --until "$UNTIL" --out "$LAB_TMP/rsq" >/dev/null 2>&1 &&
		tri report --store "$CH" "${inv[@]}" --since 1h --until "$UNTIL" --out "$LAB_TMP/rch" >/dev/null 2>&1
	check_err $? "report failed"
	for f in suspects slices links worst_pairs coverage; do
		[ "$(jq -c ".$f" "$LAB_TMP/rsq/summary.json")" = "$(jq -c ".$f" "$LAB_TMP/rch/summary.json")" ] ||
			{ check_err 1 "report .$f differs"; break; }
	done
	"$LAB_ROOT/scripts/nightly-report" --store "$CH" --dir "$LAB_TMP/nightly" --stamp n1 \
		--inventory "$LAB_TMP/inv" --since 1h --triangulate "$FM_BIN/triangulate" &&
		[ "$(jq -c '[.suspects[] | [.kind, .from, .to]]' "$LAB_TMP/nightly/latest/summary.json")" = \
			'[["link","spine1","leaf2"]]' ]
	check_err $? "nightly-report --store clickhouse:// did not report the same suspects"
	log_test "localize, device, link, export, report, nightly-report: identical from SQLite and ClickHouse"
}

store_history_and_probers_identical() {
	local inv=(--inventory "$LAB_TMP/inv") f now
	RET=0
	watch_rounds "$SQ" && watch_rounds "$CH"
	check_err $? "watch failed: $(tail -3 "$LAB_TMP/watch.log")"
	both suspects --since 2h --json && same_json
	check_err $? "suspects differ between SQLite and ClickHouse"
	[ "$(jq -r '[.episodes[] | "\(.kind) \(.from) \(.to) \(.rounds) \(.open)"] | join(";")' "$LAB_TMP/out.ch")" = \
		"link spine1 leaf2 3 true" ]
	check_err $? "ClickHouse suspects: not one open episode of spine1 -> leaf2 over 3 rounds: $(head -c 300 "$LAB_TMP/out.ch")"
	both device leaf2 "${inv[@]}" --window 30m --since 1h --json && same_json
	check_err $? "device leaf2 with its history differs"
	[ "$(jq '.points | length' "$LAB_TMP/out.ch")" = 3 ]
	check_err $? "device leaf2 from ClickHouse has not the watch's 3 points"
	both link spine1 leaf2 "${inv[@]}" --window 30m --since 1h --json && same_json
	check_err $? "link spine1 leaf2 with its history differs"
	# until now: the watch's rounds ran after the data's end
	now=$(date +%s%3N)
	tri report --store "$SQ" "${inv[@]}" --since 1h --until "$now" --out "$LAB_TMP/hsq" >/dev/null 2>&1 &&
		tri report --store "$CH" "${inv[@]}" --since 1h --until "$now" --out "$LAB_TMP/hch" >/dev/null 2>&1
	check_err $? "report failed"
	for f in probers probers_down probers_sick watch; do
		[ "$(jq -c ".$f | $NO_MS" "$LAB_TMP/hsq/summary.json")" = "$(jq -c ".$f | $NO_MS" "$LAB_TMP/hch/summary.json")" ] ||
			{ check_err 1 "report .$f differs"; break; }
	done
	[ "$(jq '[.probers[] | select(.batches > 0)] | length' "$LAB_TMP/hch/summary.json")" = 6 ] &&
		[ "$(jq '.watch.episodes | length' "$LAB_TMP/hch/summary.json")" = 1 ]
	check_err $? "the ClickHouse report lacks its 6 probers or the watch's episode"
	log_test "watch history (suspects, device/link timeline, report episodes) and prober health: identical"
}

# The suspect history's unit tests (episodes open, close, reopen; points by
# device; prober health; expiry) once more against ClickHouse: the unit
# binary of this build (build/tests, or beside a sanitizer build's bin).
store_history_unit_tests_on_clickhouse() {
	local t=$FM_BIN/../tests/test_store_history
	RET=0
	[ -x "$t" ] || t=$LAB_ROOT/build/tests/test_store_history
	if [ ! -x "$t" ]; then
		log_info "no unit test binary (make unit first): skipped"
		return 0
	fi
	FM_TEST_STORE=clickhouse://127.0.0.1:$PORT_A/ "$t" >"$LAB_TMP/unit.log" 2>&1
	check_err $? "test_store_history against ClickHouse: $(grep -A3 FAIL "$LAB_TMP/unit.log" | head -8)"
	log_test "the history's unit tests pass against ClickHouse: $(grep -o 'Passing: [0-9]*' "$LAB_TMP/unit.log")"
}

# scrape STORE: the collector's per-prober and suspect metrics on STORE
scrape() {
	local port pid
	rm -f "$LAB_TMP/col.port"
	port=$((30000 + RANDOM % 20000))
	"$FM_BIN/collector" --listen 127.0.0.1:0 --port-file "$LAB_TMP/col.port" --store "$1" \
		--metrics-listen "127.0.0.1:$port" 2>>"$LAB_TMP/collector.log" &
	pid=$!
	lab_wait_until 10000 test -s "$LAB_TMP/col.port"
	curl -sf "http://127.0.0.1:$port/metrics" | grep -E '^faultmesh_(prober|probers|suspect)' |
		grep -v '_age_seconds'
	kill "$pid"
	wait "$pid" 2>/dev/null
}

store_metrics_identical() {
	local end
	RET=0
	# a fresh minute of batches, inside the metrics' one-minute window
	end=$(date +%s%3N)
	"$FM_BIN/synthdb" --store "$LAB_TMP/m.db" --end "$end" --span 1m --interval 10s \
		--fault spine1,leaf2 >/dev/null &&
		"$FM_BIN/synthdb" --store "${CH}_m" --end "$end" --span 1m --interval 10s \
			--fault spine1,leaf2 >/dev/null
	check_err $? "synthdb failed"
	scrape "$LAB_TMP/m.db" >"$LAB_TMP/out.sq" && scrape "${CH}_m" >"$LAB_TMP/out.ch" && same
	check_err $? "collector metrics differ between SQLite and ClickHouse"
	grep -q '^faultmesh_probers_known 6$' "$LAB_TMP/out.ch" &&
		[ "$(grep -c '^faultmesh_prober_probes_sent{.* [1-9]' "$LAB_TMP/out.ch")" = 6 ]
	check_err $? "ClickHouse metrics lack the 6 probers' figures: $(head -5 "$LAB_TMP/out.ch")"
	log_test "collector per-prober metrics: identical from SQLite and ClickHouse"
}

store_resent_batches_counted_once() {
	local n1 n2
	RET=0
	n1=$(chq "$PORT_A" "SELECT count() FROM fm.batches FINAL")
	# the same batches again, as a prober resends after a lost ACK
	"$FM_BIN/synthdb" --store "$CH" --end "$END" --span 1h --fault spine1,leaf2 >/dev/null
	check_err $? "second synthdb failed"
	n2=$(chq "$PORT_A" "SELECT count() FROM fm.batches FINAL")
	[ "$n1" -gt 0 ] && [ "$n1" = "$n2" ]
	check_err $? "batches counted $n1 then $n2 after the resend"
	[ "$(chq "$PORT_A" "SELECT count() FROM fm.results")" -gt \
		"$(chq "$PORT_A" "SELECT count() FROM fm.results FINAL")" ] ||
		log_info "the server already merged the copies away"
	both export --since 3h && same
	check_err $? "export after the resend differs from SQLite's"
	log_test "a resent batch is stored again and counted once ($n2 batches)"
}

store_import_observations() {
	local obs=$LAB_TMP/window.obs ch2=clickhouse://127.0.0.1:$PORT_A/fm_import
	RET=0
	tri export --store "$SQ" --since 30m >"$obs" 2>/dev/null
	tri import --observations "$obs" --store "$ch2" 2>"$LAB_TMP/import.log" &&
		tri import --observations "$obs" --store "$LAB_TMP/import.db" 2>>"$LAB_TMP/import.log"
	check_err $? "import failed: $(cat "$LAB_TMP/import.log")"
	tri localize --observations "$obs" --inventory "$LAB_TMP/inv" --json >"$LAB_TMP/out.obs"
	for st in "$ch2" "$LAB_TMP/import.db"; do
		tri localize --store "$st" --window 1h --inventory "$LAB_TMP/inv" --json >"$LAB_TMP/out.imp"
		cmp -s "$LAB_TMP/out.obs" "$LAB_TMP/out.imp" ||
			{ check_err 1 "localize from $st differs from the file's"; break; }
	done
	log_test "import: an observations file localizes the same from either store"
}

store_sharded_reads_every_shard() {
	local fs=clickhouse://127.0.0.1:$PORT_A/fs?cluster=fm_shards a b n1 n2
	RET=0
	# B's own tables first (any store opened on it migrates it), then A's
	# and the Distributed tables over both; every write goes through them
	tri inventory load "$LAB_TMP/inv" --store "clickhouse://127.0.0.1:$PORT_B/fs" >/dev/null 2>&1 &&
		"$FM_BIN/synthdb" --store "$fs" --end "$END" --span 1h --fault spine1,leaf2 >/dev/null
	check_err $? "writing the sharded store failed"
	a=$(chq "$PORT_A" "SELECT count() FROM fs.results")
	b=$(chq "$PORT_B" "SELECT count() FROM fs.results")
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ]
	check_err $? "the shards hold $a and $b result rows: not spread over both"
	n1=$(chq "$PORT_A" "SELECT count() FROM fs.batches_all FINAL")
	"$FM_BIN/synthdb" --store "$fs" --end "$END" --span 1h --fault spine1,leaf2 >/dev/null
	n2=$(chq "$PORT_A" "SELECT count() FROM fs.batches_all FINAL")
	[ "$n1" -gt 0 ] && [ "$n1" = "$n2" ]
	check_err $? "sharded batches counted $n1 then $n2 after the resend"
	# every answer from the Distributed tables is SQLite's; A's own rows alone are not
	tri export --store "$SQ" --since 3h >"$LAB_TMP/out.sq" 2>/dev/null &&
		tri export --store "$fs" --since 3h >"$LAB_TMP/out.ch" 2>/dev/null && same
	check_err $? "export through the Distributed tables differs from SQLite's"
	tri export --store "clickhouse://127.0.0.1:$PORT_A/fs" --since 3h >"$LAB_TMP/out.a" 2>/dev/null
	! cmp -s "$LAB_TMP/out.sq" "$LAB_TMP/out.a"
	check_err $? "shard A alone answers like the whole store: the test proves nothing"
	tri localize --store "$SQ" --window 30m --json >"$LAB_TMP/out.sq" &&
		tri localize --store "$fs" --window 30m --json >"$LAB_TMP/out.ch" && same
	check_err $? "localize (with the inventory stored on shard B) differs"
	both_fs device spine1 --since 1h --until "$UNTIL" --json && same
	check_err $? "device spine1 differs"
	watch_rounds "$fs" && tri suspects --store "$SQ" --since 2h --json >"$LAB_TMP/out.sq" &&
		tri suspects --store "$fs" --since 2h --json >"$LAB_TMP/out.ch" && same_json
	check_err $? "suspects recorded through the Distributed tables differ"
	log_test "sharded store over two servers: rows split $a/$b, every query reads both, resends once"
}

# both_fs CMD ARGS...: CMD on SQLite and on the sharded store
both_fs() {
	tri "$@" --store "$SQ" >"$LAB_TMP/out.sq" 2>"$LAB_TMP/err.sq" &&
		tri "$@" --store "clickhouse://127.0.0.1:$PORT_A/fs?cluster=fm_shards" >"$LAB_TMP/out.ch" 2>"$LAB_TMP/err.ch"
}

setup
tests_run
exit "$EXIT_STATUS"
