/* Uplink against a fake collector in a private network namespace: HELLO
 * first, spooled batches in seq order, a batch leaves the spool only on its
 * ACK, and after the connection drops the unacknowledged ones are resent. */
#include "prober/spool.h"
#include "prober/uplink.h"
#include "wire.h"
#include "clock.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static uint32_t last_spool_dropped; /* of the last BATCH frame_next saw */
static int lfd = -1;
static uint16_t lport;

/* A namespace of our own, so the fake collector's address is ours alone. */
static void setup(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	if (geteuid() != 0)
		cr_skip_test("needs root for a private network namespace");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(system("ip link set lo up && ip addr add 198.18.0.1/32 dev lo"), 0);
	snprintf(dir, sizeof(dir), "/tmp/fm-uplink-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	inet_pton(AF_INET, "198.18.0.1", &sa.sin_addr);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	lport = ntohs(sa.sin_port);
}

static void teardown(void)
{
	char cmd[128];

	if (lfd >= 0)
		close(lfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (dir[0])
		cr_assert_eq(system(cmd), 0);
}

TestSuite(uplink, .init = setup, .fini = teardown, .timeout = 15);

static void batch_spool(struct spool *sp)
{
	struct wire_flow fl = { .proto = 17, .sport = 40000, .dport = 31338, .sent = 10,
				  .received = 9, .lost_fwd = 1 };
	struct wire_batch b = { .nflows = 1, .flows = &fl, .start_ms = 1000 };
	uint8_t *buf;
	size_t len;

	wire_addr_parse("198.18.0.1", &fl.src);
	wire_addr_parse("198.18.0.2", &fl.dst);
	snprintf(b.prober, sizeof(b.prober), "p1");
	b.seq = spool_seq_next(sp);
	b.end_ms = 2000 + (int64_t)b.seq;
	cr_assert_eq(wire_batch_encode(&b, &buf, &len), 0);
	cr_assert_eq(spool_batch_append(sp, b.seq, buf, len), 0);
	free(buf);
}

/* Run the uplink until the fake collector has a whole frame on cfd; returns
 * its type and, for a batch, its seq. */
static int frame_next(struct uplink *u, int *cfd, uint64_t *seq)
{
	static uint8_t buf[1 << 16];
	static size_t have;
	int64_t deadline = clock_mono_ms() + 3000;

	while (clock_mono_ms() < deadline) {
		int type;
		uint32_t plen;
		char err[128];

		uplink_run(u, 1, 1, clock_mono_ms());
		if (*cfd < 0) {
			*cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
			have = 0;
			continue;
		}
		ssize_t r = read(*cfd, buf + have, sizeof(buf) - have);

		if (r > 0)
			have += (size_t)r;
		if (have >= WIRE_HEADER_LEN &&
		    wire_header_decode(buf, have, &type, &plen, err, sizeof(err)) == 0 &&
		    have >= WIRE_HEADER_LEN + plen) {
			struct wire_batch b;

			*seq = 0;
			if (type == WIRE_BATCH) {
				size_t body = plen - ((wire_header_flags(buf) & WIRE_FLAG_AUTH) ? 32 : 0);

				cr_assert_eq(wire_batch_decode(buf + WIRE_HEADER_LEN, body, &b, err,
								 sizeof(err)), 0, "%s", err);
				*seq = b.seq;
				last_spool_dropped = b.health.spool_dropped;
				wire_batch_free(&b);
			}
			memmove(buf, buf + WIRE_HEADER_LEN + plen, have - WIRE_HEADER_LEN - plen);
			have -= WIRE_HEADER_LEN + plen;
			return type;
		}
		usleep(1000);
	}
	cr_assert_fail("no frame within 3 s");
	return -1;
}

static void ack_send(int cfd, uint64_t seq)
{
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_ack_encode(seq, &buf, &len), 0);
	cr_assert_eq(write(cfd, buf, len), (ssize_t)len);
	free(buf);
}

/* Let the uplink read what we sent it. */
static void uplink_settle(struct uplink *u)
{
	for (int i = 0; i < 50; i++) {
		uplink_run(u, 1, 1, clock_mono_ms());
		usleep(1000);
	}
}

Test(uplink, hello_then_batches_in_order_acked_ones_deleted_rest_resent)
{
	char err[256], where[64];
	struct spool *sp = spool_open(dir, 1 << 20, err, sizeof(err));
	struct uplink_cfg cfg = { .collector = where, .name = "p1", .window = 8,
				  .backoff_min_ms = 10, .backoff_max_ms = 40 };
	struct uplink *u;
	int cfd = -1;
	uint64_t seq;

	cr_assert_not_null(sp, "%s", err);
	for (int i = 0; i < 3; i++)
		batch_spool(sp);
	snprintf(where, sizeof(where), "198.18.0.1:%u", lport);
	u = uplink_new(&cfg, sp, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);

	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO);
	for (uint64_t want = 1; want <= 3; want++) {
		cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
		cr_assert_eq(seq, want, "batch %llu, want %llu", (unsigned long long)seq,
			     (unsigned long long)want);
	}
	ack_send(cfd, 1);
	ack_send(cfd, 2);
	uplink_settle(u);
	cr_assert_eq(spool_count(sp), 1, "acked batches leave the spool");
	cr_assert_eq(spool_seq_at(sp, 0), 3);
	cr_assert_eq(uplink_acked(u), 2);

	/* the collector goes away before acknowledging 3; a new batch arrives */
	close(cfd);
	cfd = -1;
	batch_spool(sp);
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO, "reconnects with HELLO");
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
	cr_assert_eq(seq, 3, "the unacknowledged batch is resent first");
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
	cr_assert_eq(seq, 4);
	ack_send(cfd, 3);
	ack_send(cfd, 4);
	uplink_settle(u);
	cr_assert_eq(spool_count(sp), 0);
	close(cfd);
	uplink_free(u);
	spool_close(sp);
}

/* A port on our address that nobody listens on. */
static uint16_t port_closed(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "198.18.0.1", &sa.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	return ntohs(sa.sin_port);
}

Test(uplink, collector_down_fails_over_to_the_next_at_once)
{
	char err[256], where[96];
	struct spool *sp = spool_open(dir, 1 << 20, err, sizeof(err));
	/* a backoff far past frame_next's 3 s: only an immediate failover
	 * reaches the live collector in time */
	struct uplink_cfg cfg = { .collector = where, .name = "p1", .window = 8,
				  .backoff_min_ms = 20000, .backoff_max_ms = 40000 };
	struct uplink *u;
	int cfd = -1;
	uint64_t seq;

	cr_assert_not_null(sp, "%s", err);
	batch_spool(sp);
	snprintf(where, sizeof(where), "198.18.0.1:%u,198.18.0.1:%u", port_closed(), lport);
	u = uplink_new(&cfg, sp, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO, "the second collector gets HELLO");
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
	cr_assert_eq(seq, 1);
	ack_send(cfd, 1);
	uplink_settle(u);
	cr_assert_eq(spool_count(sp), 0, "the second collector's ACK frees the batch");
	close(cfd);
	uplink_free(u);
	spool_close(sp);
}

Test(uplink, collector_list_refuses_bad_entries)
{
	static const char *const bad[] = { "198.18.0.1:1,", ",198.18.0.1:1", "198.18.0.1:1,,198.18.0.1:2",
					   "198.18.0.1:1,nothing" };
	char err[256];
	struct spool *sp = spool_open(dir, 1 << 20, err, sizeof(err));

	cr_assert_not_null(sp, "%s", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct uplink_cfg cfg = { .collector = bad[i], .name = "p1", .window = 1,
					  .backoff_min_ms = 10, .backoff_max_ms = 40 };

		cr_expect_null(uplink_new(&cfg, sp, err, sizeof(err)), "%s", bad[i]);
		cr_expect(strstr(err, bad[i]), "%s", err);
	}
	spool_close(sp);
}

static const uint8_t test_key[16] = "uplink-test-key!";

static void ack_send_signed(int cfd, uint64_t seq, const uint8_t *key)
{
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_ack_encode(seq, &buf, &len), 0);
	if (key)
		cr_assert_eq(wire_frame_sign(&buf, &len, key, 16), 0);
	cr_assert_eq(write(cfd, buf, len), (ssize_t)len);
	free(buf);
}

/* Run the uplink until it closes our end of the connection (EOF on cfd);
 * returns 1 if it did within 2 s. */
static int uplink_hangs_up(struct uplink *u, int cfd)
{
	int64_t deadline = clock_mono_ms() + 2000;
	uint8_t b[4096];

	while (clock_mono_ms() < deadline) {
		ssize_t r;

		uplink_run(u, 1, 1, clock_mono_ms());
		r = read(cfd, b, sizeof(b));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 1;
		usleep(1000);
	}
	return 0;
}

/* Anyone able to inject one TCP segment could forge an unsigned ACK: with a
 * key set it must not delete the batch, and the connection is dropped. A
 * signed ACK for a seq this connection never sent (a replay) is refused too;
 * a signed ACK for a batch it sent deletes it. */
Test(uplink, spoofed_unsigned_ack_leaves_batch_in_spool_and_drops_connection)
{
	char err[256], where[64];
	struct spool *sp = spool_open(dir, 1 << 20, err, sizeof(err));
	struct uplink_cfg cfg = { .collector = where, .name = "p1", .window = 8,
				  .key = test_key, .keylen = 16,
				  .backoff_min_ms = 10, .backoff_max_ms = 40 };
	struct uplink *u;
	int cfd = -1;
	uint64_t seq;

	cr_assert_not_null(sp, "%s", err);
	batch_spool(sp);
	snprintf(where, sizeof(where), "198.18.0.1:%u", lport);
	u = uplink_new(&cfg, sp, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);

	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO);
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
	cr_assert_eq(seq, 1);
	ack_send_signed(cfd, 1, NULL); /* the spoofed, unsigned ACK */
	cr_assert(uplink_hangs_up(u, cfd), "connection kept after an unsigned ACK");
	cr_assert_eq(spool_count(sp), 1, "an unsigned ACK deleted a spooled batch");
	cr_assert_eq(uplink_acked(u), 0);
	close(cfd);
	cfd = -1;

	/* a correctly signed ACK (captured earlier, replayed) for a batch this
	 * connection did not send */
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO);
	ack_send_signed(cfd, 7, test_key);
	cr_assert(uplink_hangs_up(u, cfd), "connection kept after an ACK for an unsent batch");
	cr_assert_eq(spool_count(sp), 1, "a replayed ACK deleted a spooled batch");
	close(cfd);
	cfd = -1;

	/* the honest path still works */
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO);
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
	ack_send_signed(cfd, 1, test_key);
	uplink_settle(u);
	cr_assert_eq(spool_count(sp), 0, "a signed ACK for a sent batch deletes it");
	cr_assert_eq(uplink_acked(u), 1);
	close(cfd);
	uplink_free(u);
	spool_close(sp);
}

/* Every batch dropped from a full spool is counted exactly once by the
 * batches the collector stores, also when the batch that would carry the
 * count is itself dropped, and across a prober restart (the count used to
 * ride on the next batch encoded, which could be dropped too: 41 drops, 25
 * in the database). Here: each batch is acknowledged or dropped, and the
 * drop counts of the acknowledged ones add up to the drops. */
Test(uplink, every_dropped_batch_counted_once_by_stored_batches)
{
	char err[256], where[64];
	struct uplink_cfg cfg = { .collector = where, .name = "p1", .window = 8,
				  .backoff_min_ms = 10, .backoff_max_ms = 40 };
	uint32_t stored_dropped[64] = { 0 };
	int stored[64] = { 0 };
	uint64_t appended = 0, acked = 0, total = 0;
	struct spool *sp;
	struct uplink *u;
	int cfd = -1, type;
	uint64_t seq;
	size_t one;

	snprintf(where, sizeof(where), "198.18.0.1:%u", lport);
	/* the bound holds about three batches */
	sp = spool_open(dir, 1 << 20, err, sizeof(err));
	cr_assert_not_null(sp, "%s", err);
	batch_spool(sp);
	one = (size_t)spool_bytes(sp);
	spool_close(sp);
	sp = spool_open(dir, 3 * one, err, sizeof(err));
	cr_assert_not_null(sp, "%s", err);
	appended = 1;
	for (int i = 0; i < 9; i++, appended++)
		batch_spool(sp);
	u = uplink_new(&cfg, sp, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);

	/* the collector stores and acknowledges the first batch it gets */
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO);
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
	stored[seq] = 1, stored_dropped[seq] = last_spool_dropped;
	/* and the next one, without acknowledging it (the ACK is lost) */
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_BATCH);
	stored[seq] = 1, stored_dropped[seq] = last_spool_dropped;
	ack_send(cfd, spool_seq_at(sp, 0));
	uplink_settle(u);
	acked++;
	/* more intervals while the link is slow: more drops */
	for (int i = 0; i < 6; i++, appended++)
		batch_spool(sp);
	close(cfd);
	cfd = -1;
	/* the prober restarts */
	uplink_free(u);
	spool_close(sp);
	sp = spool_open(dir, 3 * one, err, sizeof(err));
	cr_assert_not_null(sp, "%s", err);
	u = uplink_new(&cfg, sp, err, sizeof(err));
	cr_assert_not_null(u, "%s", err);
	batch_spool(sp);
	appended++;
	cr_assert_eq(frame_next(u, &cfd, &seq), WIRE_HELLO);
	while (spool_count(sp) > 0) {
		type = frame_next(u, &cfd, &seq);
		cr_assert_eq(type, WIRE_BATCH);
		cr_assert_lt(seq, 64);
		if (stored[seq])
			cr_assert_eq(last_spool_dropped, stored_dropped[seq],
				     "batch %llu resent with another drop count",
				     (unsigned long long)seq);
		else
			stored[seq] = 1, stored_dropped[seq] = last_spool_dropped;
		ack_send(cfd, seq);
		uplink_settle(u);
		acked++;
	}
	for (int i = 0; i < 64; i++)
		if (stored[i])
			total += stored_dropped[i];
	cr_assert_gt(spool_dropped_total(sp), 5, "the test dropped too little");
	cr_assert_eq(acked + spool_dropped_total(sp), appended,
		     "each batch is acknowledged or dropped");
	cr_assert_eq(total, spool_dropped_total(sp),
		     "stored batches count %llu drops, the spool dropped %llu",
		     (unsigned long long)total, (unsigned long long)spool_dropped_total(sp));
	close(cfd);
	uplink_free(u);
	spool_close(sp);
}
