/* ingest_bench: load generator and baseline for the collector benchmark.
 * "send" plays P probers (one thread each) sending numbered batches over TCP,
 * resending unacknowledged ones after a reconnect like the prober's spool;
 * "bare" inserts the same rows into SQLite directly, the ingest baseline. */
#include "log.h"
#include "addr.h"
#include "opts.h"
#include "wire.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct bench_cfg {
	const char *connect;     /* collector ADDR:PORT (send) */
	const char *db;          /* database file (bare) */
	long long probers;       /* concurrent prober connections */
	long long batches;       /* batches per prober */
	long long flows;         /* flows (rows) per batch */
	long long window;        /* batches in flight before waiting for an ACK */
	long long retry_ms;      /* keep reconnecting this long after a drop */
	long long pace_ms;       /* pause between batches (0 = as fast as acked) */
	long long first_seq;     /* seq of each prober's first batch */
	const char *prefix;      /* prober names are PREFIX0, PREFIX1, ... */
	int verbose;             /* log reconnects */
};

static const struct opt_spec bench_opts[] = {
	{ "connect", 'c', OPT_STR, offsetof(struct bench_cfg, connect), 0, 0, "127.0.0.1:31337", "ADDR:PORT",
	  "collector to send to (send)" },
	{ "db", 'd', OPT_STR, offsetof(struct bench_cfg, db), 0, 0, "bare.db", "FILE", "database to create (bare)" },
	{ "probers", 'p', OPT_INT, offsetof(struct bench_cfg, probers), 1, 256, "8", "N", "probers (connections)" },
	{ "batches", 'b', OPT_INT, offsetof(struct bench_cfg, batches), 1, 1000000, "50", "N", "batches per prober" },
	{ "flows", 'f', OPT_INT, offsetof(struct bench_cfg, flows), 1, 100000, "1000", "N", "flows per batch" },
	{ "window", 'w', OPT_INT, offsetof(struct bench_cfg, window), 1, 1024, "8", "N",
	  "unacknowledged batches in flight per prober" },
	{ "retry", 0, OPT_MS, offsetof(struct bench_cfg, retry_ms), 0, 3600000, "0", "DURATION",
	  "after a drop, reconnect and resend for this long (0 = fail)" },
	{ "pace", 0, OPT_MS, offsetof(struct bench_cfg, pace_ms), 0, 60000, "0", "DURATION",
	  "pause between a prober's batches" },
	{ "first-seq", 0, OPT_INT, offsetof(struct bench_cfg, first_seq), 1, 1e15, "1", "N",
	  "seq of the first batch" },
	{ "prefix", 0, OPT_STR, offsetof(struct bench_cfg, prefix), 0, 0, "bench", "NAME", "prober name prefix" },
	{ "verbose", 'v', OPT_FLAG, offsetof(struct bench_cfg, verbose), 0, 0, NULL, NULL, "log reconnects" },
};

static struct bench_cfg cfg;

/* Flow i of prober p: 16 flows per target, distinct source ports. */
static void flow_fill(struct wire_flow *f, unsigned p, unsigned i, uint64_t seq)
{
	uint8_t src[4] = { 198, 18, (uint8_t)(p >> 8), (uint8_t)p };
	uint8_t dst[4] = { 198, 19, (uint8_t)((i / 16) >> 8), (uint8_t)(i / 16) };

	memset(f, 0, sizeof(*f));
	addr_set4(&f->src, src);
	addr_set4(&f->dst, dst);
	f->proto = WIRE_PROTO_UDP;
	f->sport = (uint16_t)(33000 + i % 16 + 16 * (i / 4096));
	f->dport = 31338;
	f->sent = 100;
	f->lost_fwd = (uint32_t)((seq + i) % 3 == 0);
	f->received = f->sent - f->lost_fwd;
	f->rtt_min_ns = 20000 + i;
	f->rtt_p50_ns = 40000;
	f->rtt_p99_ns = 90000;
	f->rtt_max_ns = 150000;
}

static int batch_frame_build(unsigned p, uint64_t seq, uint8_t **buf, size_t *len)
{
	struct wire_batch b = { 0 };
	unsigned i;
	int rc;

	snprintf(b.prober, sizeof(b.prober), "%s%u", cfg.prefix, p);
	b.seq = seq;
	/* intervals follow seq, so a resend has the same start as the original */
	b.start_ms = 1700000000000LL + (int64_t)seq * 10000;
	b.end_ms = b.start_ms + 10000;
	b.nflows = (uint32_t)cfg.flows;
	b.flows = calloc(b.nflows, sizeof(*b.flows));
	if (!b.flows)
		return -1;
	for (i = 0; i < b.nflows; i++)
		flow_fill(&b.flows[i], p, i, seq);
	rc = wire_batch_encode(&b, buf, len);
	free(b.flows);
	return rc;
}

static int tcp_connect(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	struct timeval tv = { .tv_sec = 10 };
	int fd, one = 1;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Move all len bytes through fd (send when sending, else recv), retrying on
 * EINTR and short transfers; -1 on error, EOF or timeout. */
static int fd_xfer_all(int fd, uint8_t *p, size_t len, int sending)
{
	while (len) {
		ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL)
				    : recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_all(int fd, const uint8_t *p, size_t len)
{
	/* fd_xfer_all only reads the buffer when sending */
	return fd_xfer_all(fd, (uint8_t *)(uintptr_t)p, len, 1);
}

static int recv_all(int fd, uint8_t *p, size_t len)
{
	return fd_xfer_all(fd, p, len, 0);
}

/* Read one ACK; returns 0 and its seq, or -1 (drop, ERROR, timeout). */
static int ack_recv(int fd, uint64_t *seq)
{
	uint8_t f[16 + 2048];
	char err[128];
	uint32_t plen;
	int type;

	if (recv_all(fd, f, 16) < 0 ||
	    wire_header_decode(f, 16, &type, &plen, err, sizeof(err)) < 0 ||
	    plen > 2048 || recv_all(fd, f + 16, plen) < 0)
		return -1;
	if (type == WIRE_ERROR) {
		char reason[256];

		if (wire_error_decode(f + 16, plen, reason, sizeof(reason), err, sizeof(err)) == 0)
			log_msg(LOG_WARN, "collector said: %s", reason);
		return -1;
	}
	if (type != WIRE_ACK)
		return -1;
	return wire_ack_decode(f + 16, plen, seq, err, sizeof(err));
}

static int hello_send(int fd, const char *name)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if (wire_hello_encode(name, &buf, &len) < 0)
		return -1;
	rc = send_all(fd, buf, len);
	free(buf);
	return rc;
}

struct prober_run {
	unsigned idx;
	uint64_t acked;      /* batches acknowledged (in order) */
	uint64_t reconnects;
	int failed;
	pthread_t thread;
};

/* One prober: batches first_seq.. in order; after a drop, reconnect and
 * resend from the oldest unacknowledged one, as the spool does. */
static void *prober_main(void *arg)
{
	struct prober_run *r = arg;
	uint64_t first = (uint64_t)cfg.first_seq, last = first + (uint64_t)cfg.batches - 1;
	uint64_t next_ack = first;
	double give_up = 0;

	while (next_ack <= last) {
		uint64_t next_send = next_ack, seq;
		char name[WIRE_NAME_MAX];
		uint8_t *buf;
		size_t len;
		int fd = tcp_connect(cfg.connect);

		snprintf(name, sizeof(name), "%s%u", cfg.prefix, r->idx);
		if (fd < 0 || hello_send(fd, name) < 0)
			goto drop;
		while (next_ack <= last) {
			while (next_send <= last && next_send - next_ack < (uint64_t)cfg.window) {
				if (batch_frame_build(r->idx, next_send, &buf, &len) < 0)
					goto drop;
				if (send_all(fd, buf, len) < 0) {
					free(buf);
					goto drop;
				}
				free(buf);
				next_send++;
				if (cfg.pace_ms)
					usleep((useconds_t)cfg.pace_ms * 1000);
			}
			if (ack_recv(fd, &seq) < 0)
				goto drop;
			if (seq != next_ack) {
				log_msg(LOG_ERR, "%s: ACK %llu, expected %llu", name,
					(unsigned long long)seq, (unsigned long long)next_ack);
				r->failed = 1;
				close(fd);
				return NULL;
			}
			next_ack++;
			r->acked++;
			give_up = 0;
		}
		close(fd);
		break;
drop:
		if (fd >= 0)
			close(fd);
		if (!cfg.retry_ms) {
			r->failed = 1;
			return NULL;
		}
		if (!give_up)
			give_up = (clock_mono_ns() / 1e9) + cfg.retry_ms / 1000.0;
		if ((clock_mono_ns() / 1e9) > give_up) {
			log_msg(LOG_ERR, "%s%u: collector unreachable for %lld ms", cfg.prefix, r->idx,
				cfg.retry_ms);
			r->failed = 1;
			return NULL;
		}
		r->reconnects++;
		if (cfg.verbose)
			log_msg(LOG_INFO, "%s%u: reconnecting, resending from seq %llu", cfg.prefix, r->idx,
				(unsigned long long)next_ack);
		usleep(100000);
	}
	return NULL;
}

static int bench_send(void)
{
	struct prober_run *runs = calloc((size_t)cfg.probers, sizeof(*runs));
	uint64_t acked = 0, reconnects = 0;
	double t0, dt;
	int failed = 0;
	long long i;

	t0 = clock_mono_ns() / 1e9;
	for (i = 0; i < cfg.probers; i++) {
		runs[i].idx = (unsigned)i;
		pthread_create(&runs[i].thread, NULL, prober_main, &runs[i]);
	}
	for (i = 0; i < cfg.probers; i++) {
		pthread_join(runs[i].thread, NULL);
		acked += runs[i].acked;
		reconnects += runs[i].reconnects;
		failed |= runs[i].failed;
	}
	dt = (clock_mono_ns() / 1e9) - t0;
	printf("send: probers %lld batches %llu rows %llu seconds %.3f rows_per_s %.0f reconnects %llu%s\n",
	       cfg.probers, (unsigned long long)acked, (unsigned long long)acked * (unsigned long long)cfg.flows,
	       dt, acked * (double)cfg.flows / dt, (unsigned long long)reconnects, failed ? " FAILED" : "");
	free(runs);
	return failed ? 1 : 0;
}

/* The baseline: the same rows (already in memory, as after decoding) inserted
 * with one prepared statement into one flat table in one transaction, with
 * the collector's durability settings. SQL here is deliberate: this is the
 * bare-SQLite yardstick the store is measured against, not a store. */
static int bench_bare(void)
{
	static const char *const setup[] = {
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=FULL",
		"CREATE TABLE IF NOT EXISTS bare (prober TEXT, src TEXT, dst TEXT, proto INTEGER, "
		"sport INTEGER, dport INTEGER, dscp INTEGER, start_ms INTEGER, end_ms INTEGER, "
		"sent INTEGER, received INTEGER, lost_fwd INTEGER, lost_rev INTEGER, rtt_min_ns INTEGER, "
		"rtt_p50_ns INTEGER, rtt_p99_ns INTEGER, rtt_max_ns INTEGER, target_down INTEGER)",
	};
	uint64_t rows = (uint64_t)cfg.probers * (uint64_t)cfg.batches * (uint64_t)cfg.flows;
	struct wire_flow *flows = calloc((size_t)cfg.flows, sizeof(*flows));
	sqlite3_stmt *st;
	sqlite3 *db;
	double t0, dt;
	size_t k;
	long long p, b, i;

	if (!flows || sqlite3_open(cfg.db, &db) != SQLITE_OK)
		return 1;
	for (k = 0; k < sizeof(setup) / sizeof(setup[0]); k++)
		if (sqlite3_exec(db, setup[k], NULL, NULL, NULL) != SQLITE_OK) {
			log_msg(LOG_ERR, "%s: %s", setup[k], sqlite3_errmsg(db));
			return 1;
		}
	if (sqlite3_prepare_v2(db, "INSERT INTO bare VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
				   "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
			       -1, &st, NULL) != SQLITE_OK)
		return 1;
	t0 = clock_mono_ns() / 1e9;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (p = 0; p < cfg.probers; p++) {
		char name[WIRE_NAME_MAX];

		snprintf(name, sizeof(name), "%s%lld", cfg.prefix, p);
		for (b = 0; b < cfg.batches; b++) {
			uint64_t seq = (uint64_t)(cfg.first_seq + b);
			int64_t start = 1700000000000LL + (int64_t)seq * 10000;

			for (i = 0; i < cfg.flows; i++)
				flow_fill(&flows[i], (unsigned)p, (unsigned)i, seq);
			for (i = 0; i < cfg.flows; i++) {
				struct wire_flow *f = &flows[i];
				char s[64], d[64];

				sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 2, wire_addr_str(&f->src, s, sizeof(s)), -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(st, 3, wire_addr_str(&f->dst, d, sizeof(d)), -1, SQLITE_TRANSIENT);
				sqlite3_bind_int(st, 4, f->proto);
				sqlite3_bind_int(st, 5, f->sport);
				sqlite3_bind_int(st, 6, f->dport);
				sqlite3_bind_int(st, 7, f->dscp);
				sqlite3_bind_int64(st, 8, start);
				sqlite3_bind_int64(st, 9, start + 10000);
				sqlite3_bind_int64(st, 10, f->sent);
				sqlite3_bind_int64(st, 11, f->received);
				sqlite3_bind_int64(st, 12, f->lost_fwd);
				sqlite3_bind_int64(st, 13, f->lost_rev);
				sqlite3_bind_int64(st, 14, (int64_t)f->rtt_min_ns);
				sqlite3_bind_int64(st, 15, (int64_t)f->rtt_p50_ns);
				sqlite3_bind_int64(st, 16, (int64_t)f->rtt_p99_ns);
				sqlite3_bind_int64(st, 17, (int64_t)f->rtt_max_ns);
				sqlite3_bind_int(st, 18, f->target_down);
				if (sqlite3_step(st) != SQLITE_DONE) {
					log_msg(LOG_ERR, "insert: %s", sqlite3_errmsg(db));
					return 1;
				}
				sqlite3_reset(st);
			}
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_msg(LOG_ERR, "commit: %s", sqlite3_errmsg(db));
		return 1;
	}
	dt = (clock_mono_ns() / 1e9) - t0;
	printf("bare: rows %llu seconds %.3f rows_per_s %.0f\n", (unsigned long long)rows, dt, rows / dt);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(flows);
	return 0;
}

int main(int argc, char **argv)
{
	static const char synopsis[] = "ingest_bench send|bare [options]";
	char err[256];
	int rc, code;

	log_init("ingest_bench", LOG_INFO);
	rc = opts_parse(bench_opts, OPTS_LEN(bench_opts), &cfg, argc, argv, err, sizeof(err));
	code = opts_main_result(rc, "ingest_bench", synopsis,
				"Collector ingest load generator (send) and bare SQLite baseline (bare).", bench_opts,
				OPTS_LEN(bench_opts), err);
	if (code >= 0)
		return code;
	if (rc >= argc) {
		fprintf(stderr, "usage: %s\n", synopsis);
		return 2;
	}
	if (strcmp(argv[rc], "send") == 0)
		return bench_send();
	if (strcmp(argv[rc], "bare") == 0)
		return bench_bare();
	fprintf(stderr, "ingest_bench: unknown mode '%s'\n", argv[rc]);
	return 2;
}
