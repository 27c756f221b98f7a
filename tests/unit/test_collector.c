/* Collector over loopback TCP, server in a thread of the test: batch -> ACK ->
 * row; resends stored once; bad frames cost only their own connection. */
#include "collector/keys.h"
#include "collector/server.h"
#include "wire.h"
#include "store.h"
#include "clock.h"
#include "unit_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>

static struct unit_collector col;
static struct keyring *keys;

static int64_t start_maintenance_ms, start_raw_keep_ms = 7 * 86400000LL;

static void collector_start(const char *keys_text)
{
	struct server_cfg cfg = { 0 };
	char err[512];

	unit_collector_store_open(&col, "col");
	keys = NULL;
	if (keys_text) {
		char kp[160];

		snprintf(kp, sizeof(kp), "%s/keys", col.dir);
		unit_file_write(kp, keys_text);
		keys = keyring_load(kp, err, sizeof(err));
		cr_assert_not_null(keys, "%s", err);
	}
	cfg.keys = keys;
	cfg.raw_keep_ms = start_raw_keep_ms;
	cfg.maintenance_ms = start_maintenance_ms;
	unit_collector_serve(&col, &cfg);
}

static void collector_stop(void)
{
	unit_collector_stop(&col);
	keyring_free(keys);
}

static void setup_plain(void)
{
	collector_start(NULL);
}

static int client_connect(void)
{
	return unit_collector_connect(&col);
}

static uint64_t recv_ack(int fd)
{
	uint8_t f[256];
	size_t len;
	uint64_t seq = 0;
	char err[128];

	cr_assert_eq(unit_recv_frame(fd, f, sizeof(f), &len), WIRE_ACK);
	cr_assert_eq(wire_ack_decode(f + 16, len - 16, &seq, err, sizeof(err)), 0, "%s", err);
	return seq;
}

/* Open a collector frame signed with key through the one frame-open path. */
static int frame_verify(const uint8_t *f, size_t len, const uint8_t *key, size_t *body,
			char *err, size_t errlen)
{
	struct wire_reader rd = { .types = WIRE_TYPE_BIT(WIRE_ACK) | WIRE_TYPE_BIT(WIRE_ERROR) |
					    WIRE_TYPE_BIT(WIRE_TARGETS),
				  .nkeys = 1 };
	struct wire_frame fr;

	rd.keys[0].bytes = key;
	rd.keys[0].len = 16;
	if (wire_frame_open(&rd, f, len, &fr, err, errlen) < 0)
		return -1;
	*body = fr.body_len;
	return 0;
}

/* Expect ERROR whose text contains want (signed with key if not NULL), then
 * the connection closing. */
static void recv_error_signed_then_eof(int fd, const char *want, const uint8_t *key)
{
	uint8_t f[2048];
	char reason[1100], err[128];
	size_t len, body;

	cr_assert_eq(unit_recv_frame(fd, f, sizeof(f), &len), WIRE_ERROR);
	body = len - 16;
	if (key)
		cr_assert_eq(frame_verify(f, len, key, &body, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(wire_error_decode(f + 16, body, reason, sizeof(reason), err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(reason, want), "reason '%s' lacks '%s'", reason, want);
	cr_assert_eq(recv(fd, f, 1, 0), 0, "connection not closed after ERROR");
}

static void recv_error_then_eof(int fd, const char *want)
{
	recv_error_signed_then_eof(fd, want, NULL);
}

static void hello_send(int fd, const char *name)
{
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_hello_encode(name, &buf, &len), 0);
	unit_send_frame(fd, buf, len);
}

static void batch_encode(const char *prober, uint64_t seq, uint32_t nflows, uint8_t **buf, size_t *len)
{
	struct wire_batch b = { 0 };
	uint32_t i;

	snprintf(b.prober, sizeof(b.prober), "%s", prober);
	b.seq = seq;
	b.start_ms = 1700000000000 + (int64_t)seq * 10000;
	b.end_ms = b.start_ms + 10000;
	b.nflows = nflows;
	b.flows = calloc(nflows, sizeof(*b.flows));
	for (i = 0; i < nflows; i++)
		unit_udp_flow_fill(&b.flows[i], "198.18.1.2", "198.18.2.2", (uint16_t)(40000 + i), 10,
				   1, 0);
	cr_assert_eq(wire_batch_encode(&b, buf, len), 0);
	free(b.flows);
}

static void batch_send(int fd, const char *prober, uint64_t seq, uint32_t nflows)
{
	uint8_t *buf;
	size_t len;

	batch_encode(prober, seq, nflows, &buf, &len);
	unit_send_frame(fd, buf, len);
}

static long long sql_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n = -1;

	cr_assert_eq(sqlite3_open(col.db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

TestSuite(collector, .init = setup_plain, .fini = collector_stop, .timeout = 30);

Test(collector, batch_acked_and_stored)
{
	int fd = client_connect();

	hello_send(fd, "host1");
	batch_send(fd, "host1", 1, 8);
	cr_assert_eq(recv_ack(fd), 1);
	/* the ACK came after the commit: another connection sees the rows */
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 8);
	cr_assert_eq(sql_count("SELECT sum(lost_fwd) FROM results"), 8);
	close(fd);
}

Test(collector, duplicate_acked_again_stored_once)
{
	int fd = client_connect(), fd2;

	hello_send(fd, "host1");
	batch_send(fd, "host1", 5, 4);
	batch_send(fd, "host1", 5, 4);
	cr_assert_eq(recv_ack(fd), 5);
	cr_assert_eq(recv_ack(fd), 5);
	close(fd);
	/* and on a new connection, as after a reconnect */
	fd2 = client_connect();
	hello_send(fd2, "host1");
	batch_send(fd2, "host1", 5, 4);
	cr_assert_eq(recv_ack(fd2), 5);
	close(fd2);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 1);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 4);
}

Test(collector, pipelined_batches_acked_in_order)
{
	int fd = client_connect();
	uint8_t *all = NULL;
	size_t all_len = 0;
	uint64_t i;

	hello_send(fd, "host1");
	/* 40 batches in one write: several frames per read on the server */
	for (i = 1; i <= 40; i++) {
		uint8_t *buf;
		size_t len;

		batch_encode("host1", i, 3, &buf, &len);
		all = realloc(all, all_len + len);
		memcpy(all + all_len, buf, len);
		all_len += len;
		free(buf);
	}
	unit_send_frame(fd, all, all_len);
	for (i = 1; i <= 40; i++)
		cr_assert_eq(recv_ack(fd), i);
	close(fd);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 120);
}

/* A frame split into 1-byte writes is reassembled. */
Test(collector, byte_at_a_time_frame)
{
	int fd = client_connect();
	uint8_t *buf;
	size_t len, i;

	hello_send(fd, "host1");
	batch_encode("host1", 9, 2, &buf, &len);
	for (i = 0; i < len; i++)
		unit_send_all(fd, buf + i, 1);
	free(buf);
	cr_assert_eq(recv_ack(fd), 9);
	close(fd);
}

Test(collector, garbage_closes_only_its_connection)
{
	int good = client_connect(), bad = client_connect();
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	hello_send(good, "host1");
	batch_send(good, "host1", 1, 2);
	cr_assert_eq(recv_ack(good), 1);
	unit_send_all(bad, junk, sizeof(junk) - 1);
	recv_error_then_eof(bad, "magic");
	close(bad);
	/* the good connection and what it stored are untouched */
	batch_send(good, "host1", 2, 2);
	cr_assert_eq(recv_ack(good), 2);
	close(good);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 2);
}

struct wire_case {
	const char *name;
	const char *want; /* in the ERROR text */
};

Test(collector, malformed_frames_rejected_with_reason)
{
	static const uint8_t bad_version[16] = { 'F', 'M', 'R', '1', 0, 9, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0 };
	static const uint8_t huge[16] = { 'F', 'M', 'R', '1', 0, 1, 0, 2, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	uint8_t *buf;
	size_t len;
	int fd;

	fd = client_connect();
	unit_send_all(fd, bad_version, 16);
	recv_error_then_eof(fd, "version 9");
	close(fd);

	/* rejected on the header alone: no 2 GiB wait or allocation */
	fd = client_connect();
	hello_send(fd, "host1");
	unit_send_all(fd, huge, 16);
	recv_error_then_eof(fd, "over limit");
	close(fd);

	fd = client_connect();
	batch_send(fd, "host1", 1, 1);
	recv_error_then_eof(fd, "before HELLO");
	close(fd);

	fd = client_connect();
	hello_send(fd, "host1");
	batch_send(fd, "host2", 1, 1);
	recv_error_then_eof(fd, "names prober host2");
	close(fd);

	fd = client_connect();
	hello_send(fd, "host1");
	hello_send(fd, "host1");
	recv_error_then_eof(fd, "second HELLO");
	close(fd);

	fd = client_connect();
	hello_send(fd, "host1");
	cr_assert_eq(wire_ack_encode(1, &buf, &len), 0);
	unit_send_frame(fd, buf, len);
	recv_error_then_eof(fd, "unexpected ACK frame");
	close(fd);

	/* a batch whose counts lie about the payload */
	fd = client_connect();
	hello_send(fd, "host1");
	batch_encode("host1", 1, 1, &buf, &len);
	buf[16 + 6 + 24 + 40] = 0x01; /* nflows high byte */
	unit_send_frame(fd, buf, len);
	recv_error_then_eof(fd, "does not fit");
	close(fd);

	/* a truncated frame followed by the peer closing: nothing stored */
	fd = client_connect();
	hello_send(fd, "host1");
	batch_encode("host1", 77, 3, &buf, &len);
	unit_send_all(fd, buf, len - 5);
	free(buf);
	close(fd);
	usleep(100000);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 0);

	/* the server is still serving */
	fd = client_connect();
	hello_send(fd, "host1");
	batch_send(fd, "host1", 3, 1);
	cr_assert_eq(recv_ack(fd), 3);
	close(fd);
	cr_assert_eq(server_stats(col.server)->frames_rejected, 7);
}

/* ---- authentication ---- */

static void setup_auth(void)
{
	collector_start("# test keys\nhost1\t000102030405060708090a0b0c0d0e0f\n");
}

static const uint8_t key1[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static void send_signed(int fd, uint8_t *buf, size_t len, const uint8_t *key)
{
	cr_assert_eq(wire_frame_sign(&buf, &len, key, 16), 0);
	unit_send_frame(fd, buf, len);
}

Test(collector_auth, signed_frames_accepted_and_ack_signed, .init = setup_auth, .fini = collector_stop,
     .timeout = 30)
{
	uint8_t *buf, f[256];
	size_t len, body;
	char err[128];
	uint64_t seq;
	int fd = client_connect();

	cr_assert_eq(wire_hello_encode("host1", &buf, &len), 0);
	send_signed(fd, buf, len, key1);
	batch_encode("host1", 4, 2, &buf, &len);
	send_signed(fd, buf, len, key1);
	cr_assert_eq(unit_recv_frame(fd, f, sizeof(f), &len), WIRE_ACK);
	cr_assert_eq(frame_verify(f, len, key1, &body, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(wire_ack_decode(f + 16, body, &seq, err, sizeof(err)), 0);
	cr_assert_eq(seq, 4);
	close(fd);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 2);
}

Test(collector_auth, unsigned_forged_or_unknown_rejected, .init = setup_auth, .fini = collector_stop,
     .timeout = 30)
{
	static const uint8_t wrong[16] = "not the real key";
	uint8_t *buf;
	size_t len;
	int fd;

	fd = client_connect();
	hello_send(fd, "host1");
	recv_error_then_eof(fd, "AUTH flag clear");
	close(fd);

	fd = client_connect();
	cr_assert_eq(wire_hello_encode("host1", &buf, &len), 0);
	send_signed(fd, buf, len, wrong);
	recv_error_then_eof(fd, "MAC mismatch");
	close(fd);

	fd = client_connect();
	cr_assert_eq(wire_hello_encode("host9", &buf, &len), 0);
	send_signed(fd, buf, len, key1);
	recv_error_then_eof(fd, "no key");
	close(fd);

	/* a valid HELLO, then a batch altered after signing */
	fd = client_connect();
	cr_assert_eq(wire_hello_encode("host1", &buf, &len), 0);
	send_signed(fd, buf, len, key1);
	batch_encode("host1", 4, 2, &buf, &len);
	cr_assert_eq(wire_frame_sign(&buf, &len, key1, 16), 0);
	buf[16 + 6 + 24 + 40 + 8 + 40 + 3] ^= 1; /* first flow's sent count */
	unit_send_frame(fd, buf, len);
	/* the session was authenticated, so even its ERROR is signed */
	recv_error_signed_then_eof(fd, "MAC mismatch", key1);
	close(fd);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 0);
}

/* A good batch and a bad frame in one write: the batch is stored and its ACK
 * comes first, then the ERROR. */
Test(collector, ack_of_earlier_batch_precedes_error)
{
	static const uint8_t bad[16] = { 'F', 'M', 'R', '1', 0, 7, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t *buf, *all;
	size_t len;
	int fd = client_connect();

	hello_send(fd, "host1");
	batch_encode("host1", 11, 2, &buf, &len);
	all = malloc(len + 16);
	memcpy(all, buf, len);
	memcpy(all + len, bad, 16);
	free(buf);
	unit_send_frame(fd, all, len + 16);
	cr_assert_eq(recv_ack(fd), 11);
	recv_error_then_eof(fd, "version 7");
	close(fd);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 1);
}

/* A prober that sends its batches and half-closes still gets every ACK. */
Test(collector, half_closed_peer_gets_acks)
{
	int fd = client_connect();
	uint8_t b;

	hello_send(fd, "host1");
	batch_send(fd, "host1", 1, 2);
	batch_send(fd, "host1", 2, 2);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(recv_ack(fd), 1);
	cr_assert_eq(recv_ack(fd), 2);
	cr_assert_eq(recv(fd, &b, 1, 0), 0);
	close(fd);
}

/* The maintenance timer rolls up and expires raw results while serving:
 * batches from 2023 with a 1 s raw retention leave only hourly rollups. */
static void setup_maintenance(void)
{
	start_maintenance_ms = 200;
	start_raw_keep_ms = 1000;
	collector_start(NULL);
}

Test(collector_maint, timer_rolls_up_and_expires_raw, .init = setup_maintenance, .fini = collector_stop,
     .timeout = 30)
{
	int fd = client_connect(), i;

	hello_send(fd, "host1");
	batch_send(fd, "host1", 1, 4);
	batch_send(fd, "host1", 2, 4);
	cr_assert_eq(recv_ack(fd), 1);
	cr_assert_eq(recv_ack(fd), 2);
	close(fd);
	for (i = 0; i < 50 && sql_count("SELECT count(*) FROM results") != 0; i++)
		usleep(100000);
	cr_assert_eq(sql_count("SELECT count(*) FROM results"), 0, "raw results not expired");
	cr_assert_eq(sql_count("SELECT sum(sent) FROM rollup_hourly"), 80);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches WHERE raw_deleted = 1"), 2);
}

/* ---- hostile peers: names, deadlines, key rotation ---- */

static void sock_peer_text(int fd, int local, char *buf, size_t len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	if (local)
		getsockname(fd, (struct sockaddr *)&sa, &sl);
	else
		getpeername(fd, (struct sockaddr *)&sa, &sl);
	snprintf(buf, len, "127.0.0.1:%u", ntohs(sa.sin_port));
}

/* Two probers sharing a name would share batch numbering: the second live
 * session sending batches is refused with an error naming both peers, its
 * batch is not stored, and the first session goes on. */
Test(collector, second_live_session_under_same_name_refused_naming_both_peers)
{
	int fd1 = client_connect(), fd2;
	char p1[64], p2[64], want[200];
	uint8_t f[2048];
	char reason[1100], err[128];
	size_t len;

	hello_send(fd1, "host1");
	batch_send(fd1, "host1", 1, 1);
	cr_assert_eq(recv_ack(fd1), 1);
	fd2 = client_connect();
	sock_peer_text(fd1, 1, p1, sizeof(p1));
	sock_peer_text(fd2, 1, p2, sizeof(p2));
	hello_send(fd2, "host1");
	batch_send(fd2, "host1", 7, 1);
	cr_assert_eq(unit_recv_frame(fd2, f, sizeof(f), &len), WIRE_ERROR);
	cr_assert_eq(wire_error_decode(f + 16, len - 16, reason, sizeof(reason), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "already has a live session from %s", p1);
	cr_assert(strstr(reason, want), "reason '%s' lacks '%s'", reason, want);
	cr_assert(strstr(reason, p2), "reason '%s' lacks the second peer %s", reason, p2);
	close(fd2);
	batch_send(fd1, "host1", 2, 1);
	cr_assert_eq(recv_ack(fd1), 2, "the first session goes on");
	close(fd1);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 2);
}

/* A peer sending one byte every 1.5 s never goes idle, but it must finish
 * its HELLO within the handshake deadline (5 s by default). */
Test(collector, trickling_peer_cut_at_handshake_deadline)
{
	int fd = client_connect();
	int64_t t0 = clock_mono_ms(), cut_ms = -1;
	uint8_t *buf, b;
	size_t len;

	cr_assert_eq(wire_hello_encode("host1", &buf, &len), 0);
	for (size_t i = 0; i < len && i < 12; i++) {
		ssize_t r;

		if (send(fd, buf + i, 1, MSG_NOSIGNAL) != 1) {
			cut_ms = clock_mono_ms() - t0;
			break;
		}
		/* 1.5 s between bytes, watching for the close meanwhile */
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 1500) == 1) {
			r = recv(fd, &b, 1, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno == ECONNRESET)) {
				cut_ms = clock_mono_ms() - t0;
				break;
			}
			usleep(1500 * 1000); /* unexpected data: keep the pace */
		}
	}
	free(buf);
	close(fd);
	cr_assert_geq(cut_ms, 0, "a trickling peer was never cut");
	cr_assert(cut_ms >= SERVER_HANDSHAKE_TIMEOUT_MS_DEFAULT - 100 &&
		  cut_ms <= SERVER_HANDSHAKE_TIMEOUT_MS_DEFAULT + 2500,
		  "cut after %lld ms, the handshake deadline is %d ms", (long long)cut_ms,
		  SERVER_HANDSHAKE_TIMEOUT_MS_DEFAULT);
}

static const uint8_t key2[16] = "new-rotated-key!";

static void server_restart_with_keys(const char *text)
{
	char kp[160], err[256];
	struct keyring *k;

	snprintf(kp, sizeof(kp), "%s/keys", col.dir);
	unit_file_write(kp, text);
	k = keyring_load(kp, err, sizeof(err));
	cr_assert_not_null(k, "%s", err);
	unit_collector_pause(&col);
	server_keys_set(col.server, k);
	keyring_free(keys);
	keys = k;
	unit_collector_run(&col);
}

/* HELLO signed with key, then one batch; returns 1 if acked with an ACK
 * signed by the same key. */
static int session_with_key_at(int port, const uint8_t *key, uint64_t seq)
{
	uint8_t *buf, f[256];
	size_t len, body;
	char err[128];
	uint64_t got = 0;
	int fd = unit_tcp_connect(port), ok;

	cr_assert_eq(wire_hello_encode("host1", &buf, &len), 0);
	send_signed(fd, buf, len, key);
	batch_encode("host1", seq, 1, &buf, &len);
	send_signed(fd, buf, len, key);
	ok = unit_recv_frame(fd, f, sizeof(f), &len) == WIRE_ACK &&
	     frame_verify(f, len, key, &body, err, sizeof(err)) == 0 &&
	     wire_ack_decode(f + 16, body, &got, err, sizeof(err)) == 0 && got == seq;
	close(fd);
	return ok;
}

static int session_with_key(const uint8_t *key, uint64_t seq)
{
	return session_with_key_at(server_port(col.server), key, seq);
}

#define KEY1_HEX "000102030405060708090a0b0c0d0e0f"
#define KEY2_HEX "6e65772d726f74617465642d6b657921"

/* Rotation without downtime: the keys file gains the new key beside the old
 * (both verify), the collector re-reads it (SIGHUP calls server_keys_set),
 * then the old line goes and only the new key verifies. */
Test(collector_auth, key_rotation_two_keys_then_new_only, .init = setup_auth, .fini = collector_stop,
     .timeout = 30)
{
	cr_assert(session_with_key(key1, 1), "the old key works before the rotation");
	cr_assert_not(session_with_key(key2, 2), "the new key works before it is listed");
	server_restart_with_keys("host1\t" KEY1_HEX "\nhost1\t" KEY2_HEX "\n");
	cr_assert(session_with_key(key1, 3), "the old key works during the rotation");
	cr_assert(session_with_key(key2, 4), "the new key works during the rotation");
	server_restart_with_keys("host1\t" KEY2_HEX "\n");
	cr_assert(session_with_key(key2, 5), "the new key works after the rotation");
	cr_assert_not(session_with_key(key1, 6), "the old key is refused after the rotation");
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 4);
}

/* One source address holds at most --max-conns-per-addr (16) connections:
 * the 17th is closed at once, and a slot freed is a slot to use again. */
Test(collector, connections_per_source_address_limited)
{
	int fds[SERVER_MAX_CONNS_PER_ADDR_DEFAULT], extra, ok = 0;
	uint8_t b;

	for (int i = 0; i < SERVER_MAX_CONNS_PER_ADDR_DEFAULT; i++)
		fds[i] = client_connect();
	extra = client_connect(); /* the kernel accepts; the collector closes */
	cr_assert_eq(recv(extra, &b, 1, 0), 0, "connection %d from one address kept",
		     SERVER_MAX_CONNS_PER_ADDR_DEFAULT + 1);
	close(extra);
	close(fds[0]);
	for (int tries = 0; tries < 20 && !ok; tries++) {
		int fd = client_connect();
		uint8_t *buf;
		size_t len;

		/* sent by hand: a refused try must not fail the test on EPIPE */
		cr_assert_eq(wire_hello_encode("host1", &buf, &len), 0);
		ok = send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
		free(buf);
		batch_encode("host1", 1, 1, &buf, &len);
		ok = ok && send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
		free(buf);
		ok = ok && recv(fd, &b, 1, MSG_PEEK) == 1;
		close(fd);
		if (!ok)
			usleep(100 * 1000);
	}
	cr_assert(ok, "a freed slot was not usable again");
	for (int i = 1; i < SERVER_MAX_CONNS_PER_ADDR_DEFAULT; i++)
		close(fds[i]);
}

/* ---- deadlines and eviction, as server.c documents them ---- */

#define T_FRAME_TIMEOUT_MS 1500

static void setup_deadlines(void)
{
	struct server_cfg cfg = { .frame_timeout_ms = T_FRAME_TIMEOUT_MS, .max_conns = 4 };

	unit_collector_store_open(&col, "col");
	keys = NULL;
	unit_collector_serve(&col, &cfg);
}

/* Whether the collector closed fd within wait_ms (EOF or reset). */
static int closed_within(int fd, int wait_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t b;
	ssize_t r;

	if (poll(&pfd, 1, wait_ms) != 1)
		return 0;
	r = recv(fd, &b, 1, MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* A prober past its handshake that sends a batch frame one byte every
 * 300 ms is never idle, but the frame must be whole within the frame
 * deadline (--frame-timeout, here 1.5 s): it is cut then, and nothing of
 * the frame is stored. */
Test(collector_deadline, slow_frame_cut_at_frame_deadline, .init = setup_deadlines,
     .fini = collector_stop, .timeout = 30)
{
	int fd = client_connect();
	int64_t t0 = 0, cut_ms = -1;
	uint8_t *buf;
	size_t len;

	hello_send(fd, "host1");
	batch_send(fd, "host1", 1, 1);
	cr_assert_eq(recv_ack(fd), 1, "a whole frame is taken");
	batch_encode("host1", 2, 4, &buf, &len);
	for (size_t i = 0; i < len - 1 && i < 40; i++) {
		if (send(fd, buf + i, 1, MSG_NOSIGNAL) != 1) {
			cut_ms = clock_mono_ms() - t0;
			break;
		}
		if (!t0)
			t0 = clock_mono_ms();
		if (closed_within(fd, 300)) {
			cut_ms = clock_mono_ms() - t0;
			break;
		}
	}
	free(buf);
	close(fd);
	cr_assert_geq(cut_ms, 0, "a slow frame was never cut");
	/* the timers run every 500 ms at most apart; the machine is shared */
	cr_assert(cut_ms >= T_FRAME_TIMEOUT_MS - 100 && cut_ms <= T_FRAME_TIMEOUT_MS + 2500,
		  "cut %lld ms after the frame began, the frame deadline is %d ms",
		  (long long)cut_ms, T_FRAME_TIMEOUT_MS);
	cr_assert_eq(sql_count("SELECT count(*) FROM batches"), 1);
}

/* A prober with a session: HELLO and one batch acked. */
static int prober_open(const char *name)
{
	int fd = client_connect();

	hello_send(fd, name);
	batch_send(fd, name, 1, 1);
	cr_assert_eq(recv_ack(fd), 1);
	return fd;
}

/* At --max-conns (here 4) a new connection evicts the oldest one that has
 * not finished its handshake, then the next oldest; probers with a session
 * are never evicted for it (they idle less than SERVER_EVICT_IDLE_MS), and
 * when every slot is such a prober the newcomer is refused instead. */
Test(collector_deadline, full_server_evicts_oldest_unauthenticated_first,
     .init = setup_deadlines, .fini = collector_stop, .timeout = 30)
{
	int p1 = prober_open("host1"), p2 = prober_open("host2"), u1, u2, n1, n2, n3;

	u1 = client_connect();
	usleep(50 * 1000); /* accepted a clear few ms apart: the age decides */
	u2 = client_connect();
	usleep(50 * 1000);
	n1 = client_connect(); /* 5th: the oldest unauthenticated (u1) goes */
	cr_expect(closed_within(u1, 2000), "the oldest unauthenticated connection was kept");
	cr_expect_not(closed_within(u2, 300), "the newer unauthenticated connection was evicted first");
	usleep(50 * 1000);
	n2 = client_connect(); /* next: u2, now the oldest unauthenticated */
	cr_expect(closed_within(u2, 2000), "the second oldest unauthenticated was kept");
	cr_expect_not(closed_within(n1, 300), "a newer connection was evicted before an older");
	cr_expect_not(closed_within(p1, 100) || closed_within(p2, 100),
		      "a prober with a session was evicted");
	/* n1 and n2 become probers: every slot is a busy prober now */
	hello_send(n1, "host3");
	batch_send(n1, "host3", 1, 1);
	cr_assert_eq(recv_ack(n1), 1);
	hello_send(n2, "host4");
	batch_send(n2, "host4", 1, 1);
	cr_assert_eq(recv_ack(n2), 1);
	n3 = client_connect();
	cr_expect(closed_within(n3, 2000), "a 5th connection was kept beside 4 busy probers");
	batch_send(p1, "host1", 2, 1);
	cr_expect_eq(recv_ack(p1), 2, "the oldest prober was cut for a newcomer");
	close(n3);
	close(n2);
	close(n1);
	close(u2);
	close(u1);
	close(p2);
	close(p1);
}

/* ---- SIGHUP's key reload ---- */

/* The reload step SIGHUP runs (server_keys_reload): a keys file that does
 * not load leaves the old keys verifying; a good one makes the new key
 * verify and the old one refused. */
Test(collector_auth, keys_reload_takes_a_good_file_and_keeps_the_old_on_a_bad_one,
     .init = setup_auth, .fini = collector_stop, .timeout = 30)
{
	char kp[160], err[256] = "";

	snprintf(kp, sizeof(kp), "%s/keys", col.dir);
	unit_file_write(kp, "host1\tnot-hex\n");
	unit_collector_pause(&col);
	cr_assert_eq(server_keys_reload(col.server, kp, &keys, err, sizeof(err)), -1);
	cr_expect(strstr(err, kp), "the error does not name the file: %s", err);
	unit_collector_run(&col);
	cr_assert(session_with_key(key1, 1), "a bad keys file dropped the old key");
	unit_file_write(kp, "host1\t" KEY2_HEX "\n");
	unit_collector_pause(&col);
	cr_assert_eq(server_keys_reload(col.server, kp, &keys, err, sizeof(err)), 0, "%s", err);
	unit_collector_run(&col);
	cr_assert(session_with_key(key2, 2), "the new key is refused after the reload");
	cr_assert_not(session_with_key(key1, 3), "the old key is accepted after the reload");
}

/* The signal's wiring in the collector program: bin/collector with --keys
 * takes the old key; the file is rewritten with the new key only and the
 * process gets SIGHUP; then the new key is accepted and the old refused,
 * and the collector still stops cleanly on SIGTERM. */
Test(collector_sighup, collector_process_rereads_keys_on_sighup, .timeout = 60)
{
	const char *bin = getenv("FM_BIN") ? getenv("FM_BIN") : "bin";
	char exe[256], db[96], kp[96], pf[96], log[96];
	struct unit_scratch d;
	int port = 0, status, ok = 0;
	uint64_t seq = 1;
	pid_t pid;

	unit_scratch_make(&d, "sighup");
	snprintf(exe, sizeof(exe), "%s/collector", bin);
	snprintf(db, sizeof(db), "%s/fm.db", d.dir);
	snprintf(kp, sizeof(kp), "%s/keys", d.dir);
	snprintf(pf, sizeof(pf), "%s/port", d.dir);
	snprintf(log, sizeof(log), "%s/log", d.dir);
	unit_file_write(kp, "host1\t" KEY1_HEX "\n");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(exe, exe, "--listen", "127.0.0.1:0", "--db", db, "--keys", kp,
		      "--port-file", pf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && port <= 0; i++) { /* up to 10 s to listen */
		FILE *f = fopen(pf, "r");

		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port <= 0)
			usleep(100 * 1000);
	}
	if (port <= 0)
		kill(pid, SIGKILL);
	cr_assert_gt(port, 0, "%s did not start", exe);
	cr_expect(session_with_key_at(port, key1, seq++), "the old key is refused before SIGHUP");
	unit_file_write(kp, "host1\t" KEY2_HEX "\n");
	cr_assert_eq(kill(pid, SIGHUP), 0);
	for (int i = 0; i < 50 && !ok; i++) { /* the reload is asynchronous: 5 s */
		ok = session_with_key_at(port, key2, seq++);
		if (!ok)
			usleep(100 * 1000);
	}
	cr_expect(ok, "the new key is refused after SIGHUP");
	cr_expect_not(session_with_key_at(port, key1, seq++), "the old key is accepted after SIGHUP");
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "collector exit status %d", status);
	unit_dir_remove(d.dir);
}
