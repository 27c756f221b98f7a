/* Uplink state machine: DOWN --(timer)--> CONNECTING --(writable)--> UP;
 * any error or ERROR frame --> DOWN with backoff. While UP, the batch after
 * the last one sent is read from the spool and queued whenever the write
 * buffer is empty and fewer than `window` batches await their ACK. */
#include "uplink.h"
#include "log.h"
#include "wire.h"
#include "spool.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum uplink_state { UL_DOWN, UL_CONNECTING, UL_UP };

struct uplink {
	struct uplink_cfg cfg;
	char name[WIRE_NAME_MAX];
	struct spool *sp;
	struct sockaddr_storage addr; /* the collector in use: addrs[cur] */
	socklen_t addrlen;
	/* --collector A,B,...: on losing one, the next is tried at once; the
	 * backoff grows only once every collector of the list failed in a row */
	struct sockaddr_storage addrs[UPLINK_COLLECTORS_MAX];
	socklen_t addrlens[UPLINK_COLLECTORS_MAX];
	char labels[UPLINK_COLLECTORS_MAX][64];
	unsigned naddrs, cur, failed_in_row;
	enum uplink_state state;
	int fd;
	int64_t retry_ms;
	uint32_t backoff_ms;
	uint8_t *out; /* bytes waiting to be written */
	size_t out_len, out_off;
	uint64_t last_sent_seq; /* highest seq queued on this connection */
	uint32_t inflight;      /* queued but not acknowledged */
	/* the seqs of those inflight batches: an ACK must name one of them
	 * (an ACK for anything else is a replay or a forgery) */
	uint64_t *sent_seqs;
	struct wire_reader rd;  /* ACK or ERROR, signed when keyed */
	uint8_t in[WIRE_HEADER_LEN + 64 + WIRE_ERROR_TEXT_MAX + WIRE_MAC_LEN];
	size_t in_len;
	uint64_t acked;
	struct log_limit lim;
};

static int collector_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[128];
	const char *colon, *h = s;
	size_t hl;
	unsigned long port;
	char *end;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*sl = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*sl = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

/* Split "A,B,..." into addresses and their labels; the count, or -1. */
static int collector_list_parse(const char *list, struct sockaddr_storage *ss,
				socklen_t *sl, char (*labels)[64], unsigned max)
{
	unsigned n = 0;

	while (*list) {
		size_t len = strcspn(list, ",");

		if (n == max || len == 0 || len >= sizeof(labels[0]))
			return -1;
		memcpy(labels[n], list, len);
		labels[n][len] = '\0';
		if (collector_addr_parse(labels[n], &ss[n], &sl[n]) < 0)
			return -1;
		n++;
		list += len;
		if (*list == ',' && !*++list)
			return -1; /* a trailing comma */
	}
	return n ? (int)n : -1;
}

/* The rules for frames from the collector: the types this reader takes, and
 * with a key every frame signed, but for ERROR (a collector refusing a HELLO
 * before it knows our key cannot sign), which only ends the connection. */
static void uplink_reader_init(struct wire_reader *rd, const struct uplink_cfg *cfg,
			       uint32_t types)
{
	memset(rd, 0, sizeof(*rd));
	rd->types = types;
	if (cfg->key) {
		rd->keys[0].bytes = cfg->key;
		rd->keys[0].len = cfg->keylen;
		rd->nkeys = 1;
	}
	rd->unsigned_types = WIRE_TYPE_BIT(WIRE_ERROR);
}

struct uplink *uplink_new(const struct uplink_cfg *cfg, struct spool *sp, char *err,
			  size_t errlen)
{
	struct uplink *u = calloc(1, sizeof(*u));
	int n;

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->cfg = *cfg;
	snprintf(u->name, sizeof(u->name), "%s", cfg->name);
	u->cfg.name = u->name;
	u->sp = sp;
	u->fd = -1;
	u->backoff_ms = cfg->backoff_min_ms;
	if (!u->cfg.window)
		u->cfg.window = 1;
	uplink_reader_init(&u->rd, &u->cfg, WIRE_TYPE_BIT(WIRE_ACK) | WIRE_TYPE_BIT(WIRE_ERROR));
	u->sent_seqs = calloc(u->cfg.window, sizeof(*u->sent_seqs));
	if (!u->sent_seqs) {
		snprintf(err, errlen, "out of memory");
		free(u);
		return NULL;
	}
	n = collector_list_parse(cfg->collector, u->addrs, u->addrlens, u->labels,
				 UPLINK_COLLECTORS_MAX);
	if (n < 0) {
		snprintf(err, errlen,
			 "collector address '%s': expected ADDR:PORT or [V6]:PORT, "
			 "or up to %d of them separated by commas",
			 cfg->collector, UPLINK_COLLECTORS_MAX);
		free(u->sent_seqs);
		free(u);
		return NULL;
	}
	u->naddrs = (unsigned)n;
	u->addr = u->addrs[0];
	u->addrlen = u->addrlens[0];
	return u;
}

static void uplink_down(struct uplink *u, int64_t now_ms, const char *why)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	if (u->state == UL_UP || why)
		log_limited(&u->lim, 5, LOG_WARN, "collector %s: %s; %zu batches spooled, %s",
			    u->labels[u->cur], why ? why : "connection lost", spool_count(u->sp),
			    u->naddrs > 1 ? "failing over to the next collector" : "retrying");
	u->state = UL_DOWN;
	u->cur = (u->cur + 1) % u->naddrs;
	u->addr = u->addrs[u->cur];
	u->addrlen = u->addrlens[u->cur];
	if (++u->failed_in_row < u->naddrs) {
		u->retry_ms = now_ms; /* the next collector at once */
	} else {
		/* every one failed: jitter the retry so a fleet does not
		 * reconnect in lockstep */
		u->failed_in_row = 0;
		u->retry_ms = now_ms + u->backoff_ms / 2 + rand() % (u->backoff_ms / 2 + 1);
		u->backoff_ms = u->backoff_ms * 2 > u->cfg.backoff_max_ms ? u->cfg.backoff_max_ms
									    : u->backoff_ms * 2;
	}
	free(u->out);
	u->out = NULL;
	u->out_len = u->out_off = 0;
	u->in_len = 0;
	u->inflight = 0;
	u->last_sent_seq = 0;
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	free(u->out);
	free(u->sent_seqs);
	free(u);
}

int uplink_fd(const struct uplink *u)
{
	return u->fd;
}

int uplink_wants_write(const struct uplink *u)
{
	return u->state == UL_CONNECTING || (u->state == UL_UP && u->out_off < u->out_len);
}

uint64_t uplink_acked(const struct uplink *u)
{
	return u->acked;
}

int uplink_connected(const struct uplink *u)
{
	return u->state == UL_UP;
}

static int uplink_frame_queue(struct uplink *u, uint8_t *buf, size_t len)
{
	if (u->cfg.key && wire_frame_sign(&buf, &len, u->cfg.key, u->cfg.keylen) < 0) {
		free(buf);
		return -1;
	}
	free(u->out);
	u->out = buf;
	u->out_len = len;
	u->out_off = 0;
	return 0;
}

/* Queue the next spooled batch after last_sent_seq, if the window allows. */
static int uplink_batch_next(struct uplink *u)
{
	size_t n = spool_count(u->sp);

	if (u->out_off < u->out_len || u->inflight >= u->cfg.window)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = spool_seq_at(u->sp, i);
		uint32_t dropped;
		uint8_t *buf;
		size_t len;

		if (seq <= u->last_sent_seq)
			continue;
		if (spool_batch_read(u->sp, seq, &buf, &len) < 0) {
			if (errno == ENOENT) /* dropped for space meanwhile */
				continue;
			return -1;
		}
		/* the spool's unreported drops ride on this batch if it is
		 * their carrier (the same count on every resend) */
		dropped = spool_dropped_assign(u->sp, seq);
		if (dropped == (uint32_t)-1 ||
		    wire_batch_spool_dropped_set(buf, len, dropped) < 0) {
			free(buf);
			return -1;
		}
		u->last_sent_seq = seq;
		u->sent_seqs[u->inflight++] = seq;
		return uplink_frame_queue(u, buf, len);
	}
	return 0;
}

static void uplink_connect(struct uplink *u, int64_t now_ms)
{
	int one = 1;

	u->fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		uplink_down(u, now_ms, strerror(errno));
		return;
	}
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(u->fd, (struct sockaddr *)&u->addr, u->addrlen) < 0 && errno != EINPROGRESS) {
		uplink_down(u, now_ms, strerror(errno));
		return;
	}
	u->state = UL_CONNECTING;
}

static int uplink_connected_now(struct uplink *u, int64_t now_ms)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	uint8_t *buf;
	size_t len;

	if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
		uplink_down(u, now_ms, strerror(soerr ? soerr : errno));
		return -1;
	}
	if (wire_hello_encode(u->name, &buf, &len) < 0 || uplink_frame_queue(u, buf, len) < 0) {
		uplink_down(u, now_ms, "cannot encode HELLO");
		return -1;
	}
	u->state = UL_UP;
	log_msg(LOG_INFO, "collector %s: connected, %zu batches to send", u->labels[u->cur],
		spool_count(u->sp));
	return 0;
}

/* Forget seq from the batches this connection sent: 0, or -1 when it sent
 * no such batch (or it was acknowledged already). */
static int uplink_sent_take(struct uplink *u, uint64_t seq)
{
	for (uint32_t i = 0; i < u->inflight; i++)
		if (u->sent_seqs[i] == seq) {
			memmove(&u->sent_seqs[i], &u->sent_seqs[i + 1],
				(u->inflight - i - 1) * sizeof(*u->sent_seqs));
			u->inflight--;
			return 0;
		}
	return -1;
}

/* One whole frame from the collector, opened by the reader's rules: an ACK
 * for a batch this connection sent deletes it from the spool; anything else
 * ends the connection. 0, or -1 after uplink_down. */
static int uplink_frame_take(struct uplink *u, const uint8_t *frame, size_t len,
			     int64_t now_ms)
{
	char err[160], why[200], reason[WIRE_ERROR_TEXT_MAX + 1];
	struct wire_frame f;
	uint64_t seq;

	if (wire_frame_open(&u->rd, frame, len, &f, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "refused a frame from the collector: %s", err);
		uplink_down(u, now_ms, why);
		return -1;
	}
	if (f.type == WIRE_ERROR) {
		if (wire_error_decode(f.body, f.body_len, reason, sizeof(reason), err,
				      sizeof(err)) < 0)
			snprintf(reason, sizeof(reason), "(unreadable reason)");
		log_limited(&u->lim, 5, LOG_ERR, "collector %s refused%s: %s", u->labels[u->cur],
			    u->cfg.key && !f.authenticated ? " (unauthenticated ERROR)" : "",
			    reason);
		uplink_down(u, now_ms, "collector sent ERROR");
		return -1;
	}
	if (wire_ack_decode(f.body, f.body_len, &seq, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "bad ACK from the collector: %s", err);
		uplink_down(u, now_ms, why);
		return -1;
	}
	if (uplink_sent_take(u, seq) < 0) {
		snprintf(why, sizeof(why), "ACK for seq %llu, which this connection did not send",
			 (unsigned long long)seq);
		uplink_down(u, now_ms, why);
		return -1;
	}
	/* ENOENT: an ACK for a batch already dropped: nothing to do */
	if (spool_batch_remove(u->sp, seq) < 0 && errno != ENOENT)
		log_msg(LOG_ERR, "spool: cannot delete acknowledged batch %llu: %s",
			(unsigned long long)seq, strerror(errno));
	u->acked++;
	/* only an ACK proves the collector takes our batches: a collector that
	 * accepts and then refuses keeps backing off */
	u->backoff_ms = u->cfg.backoff_min_ms;
	u->failed_in_row = 0;
	return 0;
}

/* Take every whole frame in the input buffer. 0, or -1 after uplink_down. */
static int uplink_in_frames(struct uplink *u, int64_t now_ms)
{
	while (u->in_len >= WIRE_HEADER_LEN) {
		char err[160], why[200];
		int type;
		uint32_t plen;
		size_t flen;

		/* the reader's types fit in[] (ERROR is the largest) */
		if (wire_frame_head(&u->rd, u->in, u->in_len, &type, &plen, err, sizeof(err)) < 0) {
			snprintf(why, sizeof(why), "refused a frame from the collector: %s", err);
			uplink_down(u, now_ms, why);
			return -1;
		}
		flen = WIRE_HEADER_LEN + (size_t)plen;
		if (u->in_len < flen)
			break;
		if (uplink_frame_take(u, u->in, flen, now_ms) < 0)
			return -1;
		memmove(u->in, u->in + flen, u->in_len - flen);
		u->in_len -= flen;
	}
	return 0;
}

/* Read what the collector sent and take every whole frame in it. */
static int uplink_input(struct uplink *u, int64_t now_ms)
{
	for (;;) {
		ssize_t r = read(u->fd, u->in + u->in_len, sizeof(u->in) - u->in_len);

		if (r == 0) {
			uplink_down(u, now_ms, "collector closed the connection");
			return -1;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			uplink_down(u, now_ms, strerror(errno));
			return -1;
		}
		u->in_len += (size_t)r;
		if (uplink_in_frames(u, now_ms) < 0)
			return -1;
	}
	return 0;
}

int uplink_bytes_take(struct uplink *u, const uint8_t *data, size_t len, int64_t now_ms)
{
	while (len > 0) {
		size_t room = sizeof(u->in) - u->in_len, n = len < room ? len : room;

		memcpy(u->in + u->in_len, data, n);
		u->in_len += n;
		data += n;
		len -= n;
		if (uplink_in_frames(u, now_ms) < 0)
			return -1;
	}
	return 0;
}

static int uplink_output(struct uplink *u, int64_t now_ms)
{
	for (;;) {
		if (u->out_off == u->out_len) {
			if (uplink_batch_next(u) < 0) {
				log_msg(LOG_ERR, "spool: cannot read batch: %s", strerror(errno));
				return 0;
			}
			if (u->out_off == u->out_len)
				return 0;
		}
		ssize_t w = send(u->fd, u->out + u->out_off, u->out_len - u->out_off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			uplink_down(u, now_ms, strerror(errno));
			return -1;
		}
		u->out_off += (size_t)w;
	}
}

void uplink_run(struct uplink *u, int readable, int writable, int64_t now_ms)
{
	if (u->state == UL_DOWN) {
		if (now_ms >= u->retry_ms)
			uplink_connect(u, now_ms);
		return;
	}
	if (u->state == UL_CONNECTING) {
		if (!writable || uplink_connected_now(u, now_ms) < 0)
			return;
	}
	if (readable && uplink_input(u, now_ms) < 0)
		return;
	uplink_output(u, now_ms);
}

int64_t uplink_next_ms(const struct uplink *u, int64_t now_ms)
{
	if (u->state == UL_DOWN)
		return u->retry_ms;
	return now_ms + 1000;
}

/* Wait until fd is ready for events or the deadline passes: 0, or -1
 * (ETIMEDOUT or poll's errno). */
static int fetch_wait(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline_ms - clock_mono_ms();
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Read exactly n bytes before the deadline: 0, or -1 with errno (0-byte
 * read: ECONNRESET). */
static int fetch_read(int fd, uint8_t *p, size_t n, int64_t deadline_ms)
{
	while (n > 0) {
		ssize_t r;

		if (fetch_wait(fd, POLLIN, deadline_ms) < 0)
			return -1;
		r = recv(fd, p, n, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int fetch_write(int fd, const uint8_t *p, size_t n, int64_t deadline_ms)
{
	while (n > 0) {
		ssize_t w;

		if (fetch_wait(fd, POLLOUT, deadline_ms) < 0)
			return -1;
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int uplink_targets_fetch_one(const struct uplink_cfg *cfg, int timeout_ms,
				    char **text, size_t *len, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int64_t deadline = clock_mono_ms() + timeout_ms;
	uint8_t hdr[WIRE_HEADER_LEN], *frame = NULL, *hello = NULL;
	struct wire_reader rd;
	struct wire_frame f;
	size_t hello_len;
	uint32_t plen;
	int fd = -1, type, soerr = 0;
	socklen_t soerr_len = sizeof(soerr);
	char why[160];

	if (collector_addr_parse(cfg->collector, &ss, &sl) < 0) {
		snprintf(err, errlen, "address: expected ADDR:PORT or [V6]:PORT");
		return -1;
	}
	if (wire_hello_encode_flags(cfg->name, WIRE_FLAG_WANT_TARGETS, &hello,
				      &hello_len) < 0 ||
	    (cfg->key && wire_frame_sign(&hello, &hello_len, cfg->key, cfg->keylen) < 0)) {
		snprintf(err, errlen, "cannot encode HELLO: %s", strerror(errno));
		goto err;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto err;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		goto err;
	}
	if (fetch_wait(fd, POLLOUT, deadline) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) < 0 || soerr) {
		snprintf(err, errlen, "connect: %s", strerror(soerr ? soerr : errno));
		goto err;
	}
	if (fetch_write(fd, hello, hello_len, deadline) < 0 ||
	    fetch_read(fd, hdr, sizeof(hdr), deadline) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto err;
	}
	uplink_reader_init(&rd, cfg, WIRE_TYPE_BIT(WIRE_TARGETS) | WIRE_TYPE_BIT(WIRE_ERROR));
	if (wire_frame_head(&rd, hdr, sizeof(hdr), &type, &plen, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "bad frame: %s", why);
		goto err;
	}
	frame = malloc(WIRE_HEADER_LEN + (size_t)plen);
	if (!frame) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	memcpy(frame, hdr, sizeof(hdr));
	if (fetch_read(fd, frame + WIRE_HEADER_LEN, plen, deadline) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto err;
	}
	if (wire_frame_open(&rd, frame, WIRE_HEADER_LEN + (size_t)plen, &f, why,
			    sizeof(why)) < 0) {
		snprintf(err, errlen, "bad frame: %s", why);
		goto err;
	}
	if (f.type == WIRE_ERROR) {
		char reason[WIRE_ERROR_TEXT_MAX + 1];

		if (wire_error_decode(f.body, f.body_len, reason, sizeof(reason), why,
				      sizeof(why)) < 0)
			snprintf(reason, sizeof(reason), "(unreadable reason)");
		snprintf(err, errlen, "refused%s: %s",
			 cfg->key && !f.authenticated ? " (unauthenticated ERROR)" : "", reason);
		goto err;
	}
	if (wire_targets_decode(f.body, f.body_len, text, len, why,
				  sizeof(why)) < 0) {
		snprintf(err, errlen, "bad TARGETS: %s", why);
		goto err;
	}
	free(frame);
	free(hello);
	close(fd);
	return 0;
err:
	free(frame);
	free(hello);
	if (fd >= 0)
		close(fd);
	return -1;
}

int uplink_targets_fetch(const struct uplink_cfg *cfg, int timeout_ms, char **text,
			 size_t *len, char *err, size_t errlen)
{
	struct sockaddr_storage ss[UPLINK_COLLECTORS_MAX];
	socklen_t sl[UPLINK_COLLECTORS_MAX];
	char labels[UPLINK_COLLECTORS_MAX][64];
	int n = collector_list_parse(cfg->collector, ss, sl, labels, UPLINK_COLLECTORS_MAX);

	if (n < 0) {
		snprintf(err, errlen, "address: expected ADDR:PORT or [V6]:PORT, or a comma list");
		return -1;
	}
	/* the first collector of the list that answers */
	for (int i = 0; i < n; i++) {
		struct uplink_cfg one = *cfg;
		char e[1400];

		one.collector = labels[i];
		if (uplink_targets_fetch_one(&one, timeout_ms / n, text, len, e, sizeof(e)) == 0)
			return 0;
		snprintf(err, errlen, "%s%s%s", n > 1 ? labels[i] : "", n > 1 ? ": " : "", e);
	}
	return -1;
}
