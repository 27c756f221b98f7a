#!/usr/bin/env bash
# lab: serial (two ClickHouse servers; heavy on 2 cores)
# test_clickhouse_store.sh: the same answers from either store. One synthetic
# fabric's window (a 5% fault on spine1 -> leaf2) is written into SQLite and
# into a real clickhouse-server started here (own config, data dir, ports on
# 127.0.0.1; stopped on exit, also on failure); localize, device, link,
# export and report answer identically from both. Every batch written twice
# (a resend) is counted once. `triangulate import` loads an observations
# file into either store; the inventory kept in either store answers the
# same. A Distributed table over two servers (each its own
# process, config and ports) sees both shards' rows.
#
#   synthdb --store fm.db ---------> SQLite
#   synthdb --store clickhouse://127.0.0.1:HTTP/fm (twice) -> clickhouse-server A
#   shard tables on A and B, Distributed on A over [A, B]
# Skips (exit 4) when clickhouse-server is not installed.
# shellcheck disable=SC2317,SC2034 # test functions run through ALL_TESTS

ALL_TESTS="
	store_answers_identical
	store_resent_batches_counted_once
	store_import_observations
	store_distributed_over_two_servers
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

store_distributed_over_two_servers() {
	local cols="end_ms Int64, prober String, sent UInt64" a b d
	RET=0
	for p in "$PORT_A" "$PORT_B"; do
		chq "$p" "CREATE DATABASE IF NOT EXISTS shard" &&
			chq "$p" "CREATE TABLE shard.results ($cols) ENGINE = MergeTree ORDER BY (end_ms, prober)"
	done
	chq "$PORT_A" "CREATE TABLE shard.results_all ($cols) ENGINE = Distributed(fm_shards, shard, results, cityHash64(prober))"
	check_err $? "creating the Distributed table failed"
	# rows written through the Distributed table land on the shard their prober hashes to
	chq "$PORT_A" "INSERT INTO shard.results_all SELECT number, concat('p', toString(number % 20)), 1 FROM system.numbers LIMIT 1000" &&
		chq "$PORT_A" "SYSTEM FLUSH DISTRIBUTED shard.results_all" >/dev/null 2>&1
	lab_wait_until 20000 test "$(chq "$PORT_A" "SELECT count() FROM shard.results_all")" = 1000
	check_err $? "the Distributed table does not see 1000 rows"
	a=$(chq "$PORT_A" "SELECT count() FROM shard.results")
	b=$(chq "$PORT_B" "SELECT count() FROM shard.results")
	d=$(chq "$PORT_A" "SELECT sum(sent) FROM shard.results_all")
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ $((a + b)) = 1000 ] && [ "$d" = 1000 ]
	check_err $? "shards hold $a + $b rows, the Distributed sum is $d"
	log_test "Distributed over two servers: rows split $a/$b, queries see all 1000"
}

setup
tests_run
exit "$EXIT_STATUS"
