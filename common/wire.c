/* Encoder and decoder of the wire stream (schemas/wire.md, version 1).
 * Decoders trust nothing: every length and count is checked against the bytes
 * left before it is used, and nothing is allocated for a frame that lies. */
#include "wire.h"
#include "addr.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define WIRE_ADDR_LEN 17
#define WIRE_HEALTH_LEN 40
#define WIRE_PATH_FIXED_LEN 40
#define WIRE_HOP_LEN 21

/* ---- writing ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static int wbuf_reserve(struct wbuf *w, size_t n)
{
	if (n > WIRE_HEADER_LEN + WIRE_FRAME_MAX - w->len) {
		errno = EMSGSIZE;
		return -1;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *np;

		while (cap < w->len + n)
			cap *= 2;
		np = realloc(w->p, cap);
		if (!np)
			return -1;
		w->p = np;
		w->cap = cap;
	}
	return 0;
}

/* Writers after a successful wbuf_reserve of the whole record cannot fail. */
static void put_u8(struct wbuf *w, uint8_t v)
{
	w->p[w->len++] = v;
}

static void put_u16(struct wbuf *w, uint16_t v)
{
	put_u8(w, (uint8_t)(v >> 8));
	put_u8(w, (uint8_t)v);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	put_u16(w, (uint16_t)(v >> 16));
	put_u16(w, (uint16_t)v);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static void put_bytes(struct wbuf *w, const void *p, size_t n)
{
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static int put_addr(struct wbuf *w, const struct wire_addr *a)
{
	static const uint8_t zero[16];
	static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0,
					       0, 0, 0, 0, 0xff, 0xff };

	switch (a->family) {
	case 0:
		put_u8(w, 0);
		put_bytes(w, zero, 16);
		return 0;
	case AF_INET:
		/* a prober that filled the struct another way must learn it at
		 * encode time, not from an ERROR after reconnecting forever */
		if (memcmp(a->bytes, v4_prefix, 12) != 0) {
			errno = EINVAL;
			return -1;
		}
		put_u8(w, 4);
		put_bytes(w, a->bytes, 16);
		return 0;
	case AF_INET6:
		put_u8(w, 6);
		put_bytes(w, a->bytes, 16);
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

static int name_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len >= WIRE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

static int put_name(struct wbuf *w, const char *name)
{
	size_t n = strnlen(name, WIRE_NAME_MAX);

	if (!name_valid(name, n)) {
		errno = EINVAL;
		return -1;
	}
	if (wbuf_reserve(w, 1 + n) < 0)
		return -1;
	put_u8(w, (uint8_t)n);
	put_bytes(w, name, n);
	return 0;
}

static int frame_begin(struct wbuf *w, int type)
{
	memset(w, 0, sizeof(*w));
	if (wbuf_reserve(w, WIRE_HEADER_LEN) < 0)
		return -1;
	put_u32(w, WIRE_MAGIC);
	put_u16(w, WIRE_VERSION);
	put_u16(w, (uint16_t)type);
	put_u32(w, 0); /* payload length, patched by frame_end */
	put_u32(w, 0);
	return 0;
}

static int frame_end(struct wbuf *w, uint8_t **buf, size_t *len)
{
	uint32_t plen = (uint32_t)(w->len - WIRE_HEADER_LEN);

	w->p[8] = (uint8_t)(plen >> 24);
	w->p[9] = (uint8_t)(plen >> 16);
	w->p[10] = (uint8_t)(plen >> 8);
	w->p[11] = (uint8_t)plen;
	*buf = w->p;
	*len = w->len;
	return 0;
}

static int flow_encode(struct wbuf *w, const struct wire_flow *f)
{
	if (wbuf_reserve(w, WIRE_FLOW_LEN) < 0)
		return -1;
	if (!f->src.family || !f->dst.family || put_addr(w, &f->src) < 0 ||
	    put_addr(w, &f->dst) < 0) {
		errno = EINVAL;
		return -1;
	}
	put_u8(w, f->proto);
	put_u8(w, f->dscp);
	put_u16(w, f->sport);
	put_u16(w, f->dport);
	put_u32(w, f->sent);
	put_u32(w, f->received);
	put_u32(w, f->lost_fwd);
	put_u32(w, f->lost_rev);
	put_u64(w, f->rtt_min_ns);
	put_u64(w, f->rtt_p50_ns);
	put_u64(w, f->rtt_p99_ns);
	put_u64(w, f->rtt_max_ns);
	put_u8(w, f->target_down ? 1 : 0);
	return 0;
}

static int path_encode(struct wbuf *w, const struct wire_path *p)
{
	unsigned i;

	if (p->nhops > WIRE_HOPS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (wbuf_reserve(w, WIRE_PATH_FIXED_LEN + WIRE_HOP_LEN * p->nhops) < 0)
		return -1;
	if (put_addr(w, &p->src) < 0 || put_addr(w, &p->dst) < 0)
		return -1;
	put_u8(w, p->proto);
	put_u16(w, p->sport);
	put_u16(w, p->dport);
	put_u8(w, p->nhops);
	for (i = 0; i < p->nhops; i++) {
		if (put_addr(w, &p->hops[i]) < 0)
			return -1;
		put_u16(w, p->hop_replies[i]);
		put_u16(w, p->hop_probes[i]);
	}
	return 0;
}

int wire_batch_encode(const struct wire_batch *b, uint8_t **buf, size_t *len)
{
	struct wbuf w;
	uint32_t i;

	if (frame_begin(&w, WIRE_BATCH) < 0)
		return -1;
	if (b->seq == 0 || b->end_ms < b->start_ms) {
		errno = EINVAL;
		goto err;
	}
	if (put_name(&w, b->prober) < 0)
		goto err;
	if (wbuf_reserve(&w, 24 + WIRE_HEALTH_LEN + 8) < 0)
		goto err;
	put_u64(&w, b->seq);
	put_u64(&w, (uint64_t)b->start_ms);
	put_u64(&w, (uint64_t)b->end_ms);
	put_u64(&w, b->health.if_rx_errors);
	put_u64(&w, b->health.if_tx_errors);
	put_u64(&w, b->health.if_rx_dropped);
	put_u64(&w, b->health.if_tx_dropped);
	put_u32(&w, b->health.links_down);
	put_u32(&w, b->health.spool_dropped);
	put_u32(&w, b->nflows);
	put_u32(&w, b->npaths);
	for (i = 0; i < b->nflows; i++)
		if (flow_encode(&w, &b->flows[i]) < 0)
			goto err;
	for (i = 0; i < b->npaths; i++)
		if (path_encode(&w, &b->paths[i]) < 0)
			goto err;
	return frame_end(&w, buf, len);
err:
	free(w.p);
	return -1;
}

int wire_hello_encode(const char *prober, uint8_t **buf, size_t *len)
{
	return wire_hello_encode_flags(prober, 0, buf, len);
}

int wire_hello_encode_flags(const char *prober, uint32_t flags, uint8_t **buf,
			      size_t *len)
{
	struct wbuf w;

	if (flags & ~WIRE_FLAG_WANT_TARGETS) {
		errno = EINVAL;
		return -1;
	}
	if (frame_begin(&w, WIRE_HELLO) < 0)
		return -1;
	if (put_name(&w, prober) < 0) {
		free(w.p);
		return -1;
	}
	w.p[12] = (uint8_t)(flags >> 24), w.p[13] = (uint8_t)(flags >> 16);
	w.p[14] = (uint8_t)(flags >> 8), w.p[15] = (uint8_t)flags;
	return frame_end(&w, buf, len);
}

int wire_targets_encode(const char *text, size_t textlen, uint8_t **buf,
			  size_t *len)
{
	struct wbuf w;

	if (textlen > WIRE_TARGETS_TEXT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (memchr(text, '\0', textlen)) {
		errno = EINVAL;
		return -1;
	}
	if (frame_begin(&w, WIRE_TARGETS) < 0)
		return -1;
	if (wbuf_reserve(&w, 4 + textlen) < 0) {
		free(w.p);
		return -1;
	}
	put_u32(&w, (uint32_t)textlen);
	put_bytes(&w, text, textlen);
	return frame_end(&w, buf, len);
}

int wire_ack_encode(uint64_t seq, uint8_t **buf, size_t *len)
{
	struct wbuf w;

	if (frame_begin(&w, WIRE_ACK) < 0)
		return -1;
	if (wbuf_reserve(&w, 8) < 0) {
		free(w.p);
		return -1;
	}
	put_u64(&w, seq);
	return frame_end(&w, buf, len);
}

int wire_error_encode(const char *reason, uint8_t **buf, size_t *len)
{
	size_t n = strnlen(reason, WIRE_ERROR_TEXT_MAX);
	struct wbuf w;

	if (frame_begin(&w, WIRE_ERROR) < 0)
		return -1;
	if (wbuf_reserve(&w, 2 + n) < 0) {
		free(w.p);
		return -1;
	}
	put_u16(&w, (uint16_t)n);
	put_bytes(&w, reason, n);
	return frame_end(&w, buf, len);
}

/* ---- reading ---- */

struct rbuf {
	const uint8_t *p;
	size_t left;
	char *err;
	size_t errlen;
	int failed;
};

static void rfail(struct rbuf *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rfail(struct rbuf *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return; /* keep the first reason: later ones are consequences */
	r->failed = 1;
	if (r->err && r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
}

static int need(struct rbuf *r, size_t n, const char *what)
{
	if (r->failed)
		return -1;
	if (r->left < n) {
		rfail(r, "truncated %s: need %zu bytes, %zu left", what, n,
		      r->left);
		return -1;
	}
	return 0;
}

/* Getters assume need() covered them. */
static uint8_t get_u8(struct rbuf *r)
{
	r->left--;
	return *r->p++;
}

static uint16_t get_u16(struct rbuf *r)
{
	uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);

	r->p += 2;
	r->left -= 2;
	return v;
}

static uint32_t get_u32(struct rbuf *r)
{
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
		     (uint32_t)r->p[2] << 8 | r->p[3];

	r->p += 4;
	r->left -= 4;
	return v;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t hi = get_u32(r);

	return hi << 32 | get_u32(r);
}

static int get_addr(struct rbuf *r, struct wire_addr *a, const char *what)
{
	static const uint8_t zero[16];
	static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0,
					       0, 0, 0, 0, 0xff, 0xff };
	uint8_t fam;

	if (need(r, WIRE_ADDR_LEN, what) < 0)
		return -1;
	fam = get_u8(r);
	memcpy(a->bytes, r->p, 16);
	r->p += 16;
	r->left -= 16;
	switch (fam) {
	case 0:
		if (memcmp(a->bytes, zero, 16) != 0)
			break;
		a->family = 0;
		return 0;
	case 4:
		if (memcmp(a->bytes, v4_prefix, 12) != 0)
			break;
		a->family = AF_INET;
		return 0;
	case 6:
		a->family = AF_INET6;
		return 0;
	}
	rfail(r, "bad %s address (family byte %u)", what, fam);
	return -1;
}

static int get_name(struct rbuf *r, char *out)
{
	uint8_t n;

	if (need(r, 1, "name length") < 0)
		return -1;
	n = get_u8(r);
	if (need(r, n, "name") < 0)
		return -1;
	if (!name_valid((const char *)r->p, n)) {
		rfail(r, "bad prober name (length %u or characters)", n);
		return -1;
	}
	memcpy(out, r->p, n);
	out[n] = '\0';
	r->p += n;
	r->left -= n;
	return 0;
}

static int proto_valid(uint8_t proto)
{
	return proto == WIRE_PROTO_UDP || proto == WIRE_PROTO_TCP;
}

static int end_check(struct rbuf *r, const char *what)
{
	if (r->failed)
		return -1;
	if (r->left != 0) {
		rfail(r, "%zu trailing bytes after %s", r->left, what);
		return -1;
	}
	return 0;
}

/* Payload bytes a frame of type t may declare (MAC included). */
static uint32_t wire_payload_max(int t)
{
	switch (t) {
	case WIRE_HELLO:
		return WIRE_HELLO_PAYLOAD_MAX;
	case WIRE_ACK:
		return WIRE_ACK_PAYLOAD_MAX;
	case WIRE_ERROR:
		return WIRE_ERROR_PAYLOAD_MAX;
	case WIRE_TARGETS:
		return WIRE_TARGETS_PAYLOAD_MAX;
	default:
		return WIRE_FRAME_MAX;
	}
}

int wire_header_decode(const uint8_t *hdr, size_t len, int *type,
			 uint32_t *payload_len, char *err, size_t errlen)
{
	struct rbuf r = { hdr, len, err, errlen, 0 };
	uint32_t magic, plen, flags;
	uint16_t version, t;

	if (need(&r, WIRE_HEADER_LEN, "header") < 0)
		return -1;
	magic = get_u32(&r);
	version = get_u16(&r);
	t = get_u16(&r);
	plen = get_u32(&r);
	flags = get_u32(&r);
	if (magic != WIRE_MAGIC) {
		rfail(&r, "bad magic 0x%08x", magic);
		return -1;
	}
	if (version != WIRE_VERSION) {
		rfail(&r, "unknown version %u (this reader knows %u)", version,
		      WIRE_VERSION);
		return -1;
	}
	if (t < WIRE_HELLO || t > WIRE_TARGETS) {
		rfail(&r, "unknown frame type %u", t);
		return -1;
	}
	if (plen > wire_payload_max(t)) {
		rfail(&r, "payload length %u over limit %u for frame type %u",
		      plen, wire_payload_max(t), t);
		return -1;
	}
	if (flags & ~(WIRE_FLAG_AUTH |
		      (t == WIRE_HELLO ? WIRE_FLAG_WANT_TARGETS : 0))) {
		rfail(&r, "unknown flags 0x%x", flags);
		return -1;
	}
	if ((flags & WIRE_FLAG_AUTH) && plen < WIRE_MAC_LEN) {
		rfail(&r, "payload length %u too short for its MAC", plen);
		return -1;
	}
	*type = t;
	*payload_len = plen;
	return 0;
}

uint32_t wire_header_flags(const uint8_t *hdr)
{
	return (uint32_t)hdr[12] << 24 | (uint32_t)hdr[13] << 16 |
	       (uint32_t)hdr[14] << 8 | hdr[15];
}

int wire_hello_decode(const uint8_t *p, size_t len, char *prober, char *err,
			size_t errlen)
{
	struct rbuf r = { p, len, err, errlen, 0 };

	if (get_name(&r, prober) < 0)
		return -1;
	return end_check(&r, "hello");
}

int wire_ack_decode(const uint8_t *p, size_t len, uint64_t *seq, char *err,
		      size_t errlen)
{
	struct rbuf r = { p, len, err, errlen, 0 };

	if (need(&r, 8, "ack") < 0)
		return -1;
	*seq = get_u64(&r);
	return end_check(&r, "ack");
}

int wire_targets_decode(const uint8_t *p, size_t len, char **text,
			  size_t *textlen, char *err, size_t errlen)
{
	struct rbuf r = { p, len, err, errlen, 0 };
	size_t n;
	char *t;

	if (need(&r, 4, "targets length") < 0)
		return -1;
	n = get_u32(&r);
	if (n > WIRE_TARGETS_TEXT_MAX) {
		rfail(&r, "targets text length %zu over %u", n,
		      WIRE_TARGETS_TEXT_MAX);
		return -1;
	}
	if (need(&r, n, "targets text") < 0)
		return -1;
	if (memchr(r.p, '\0', n)) {
		rfail(&r, "NUL byte in targets text");
		return -1;
	}
	r.left -= n;
	if (end_check(&r, "targets") < 0)
		return -1;
	t = malloc(n + 1);
	if (!t) {
		rfail(&r, "out of memory for %zu bytes of targets", n);
		return -1;
	}
	memcpy(t, r.p, n);
	t[n] = '\0';
	*text = t;
	*textlen = n;
	return 0;
}

int wire_error_decode(const uint8_t *p, size_t len, char *reason,
			size_t reason_len, char *err, size_t errlen)
{
	struct rbuf r = { p, len, err, errlen, 0 };
	size_t n, copy, i;

	if (need(&r, 2, "error length") < 0)
		return -1;
	n = get_u16(&r);
	if (n > WIRE_ERROR_TEXT_MAX) {
		rfail(&r, "error text length %zu over %d", n,
		      WIRE_ERROR_TEXT_MAX);
		return -1;
	}
	if (need(&r, n, "error text") < 0 || reason_len == 0)
		return -1;
	copy = n < reason_len - 1 ? n : reason_len - 1;
	/* the text ends up in a log: keep only printable ASCII */
	for (i = 0; i < copy; i++)
		reason[i] = (r.p[i] >= 0x20 && r.p[i] < 0x7f) ? (char)r.p[i]
							       : '?';
	reason[copy] = '\0';
	r.p += n;
	r.left -= n;
	return end_check(&r, "error");
}

static int flow_decode(struct rbuf *r, struct wire_flow *f, uint32_t idx)
{
	if (need(r, WIRE_FLOW_LEN, "flow") < 0 ||
	    get_addr(r, &f->src, "flow src") < 0 ||
	    get_addr(r, &f->dst, "flow dst") < 0)
		return -1;
	f->proto = get_u8(r);
	f->dscp = get_u8(r);
	f->sport = get_u16(r);
	f->dport = get_u16(r);
	f->sent = get_u32(r);
	f->received = get_u32(r);
	f->lost_fwd = get_u32(r);
	f->lost_rev = get_u32(r);
	f->rtt_min_ns = get_u64(r);
	f->rtt_p50_ns = get_u64(r);
	f->rtt_p99_ns = get_u64(r);
	f->rtt_max_ns = get_u64(r);
	f->target_down = get_u8(r);
	if (!f->src.family || !f->dst.family)
		rfail(r, "flow %u: src or dst address missing", idx);
	else if (!proto_valid(f->proto))
		rfail(r, "flow %u: bad proto %u", idx, f->proto);
	else if (f->dscp > 63)
		rfail(r, "flow %u: bad dscp %u", idx, f->dscp);
	else if (f->received > f->sent ||
		 (uint64_t)f->lost_fwd + f->lost_rev > f->sent)
		rfail(r, "flow %u: counts inconsistent (sent %u received %u lost %u+%u)",
		      idx, f->sent, f->received, f->lost_fwd, f->lost_rev);
	else if (f->target_down > 1)
		rfail(r, "flow %u: bad target_down %u", idx, f->target_down);
	return r->failed ? -1 : 0;
}

static int path_decode(struct rbuf *r, struct wire_path *p, uint32_t idx)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	if (need(r, WIRE_PATH_FIXED_LEN, "path") < 0 ||
	    get_addr(r, &p->src, "path src") < 0 ||
	    get_addr(r, &p->dst, "path dst") < 0)
		return -1;
	p->proto = get_u8(r);
	p->sport = get_u16(r);
	p->dport = get_u16(r);
	p->nhops = get_u8(r);
	if (!proto_valid(p->proto)) {
		rfail(r, "path %u: bad proto %u", idx, p->proto);
		return -1;
	}
	if (p->nhops > WIRE_HOPS_MAX) {
		rfail(r, "path %u: %u hops over %d", idx, p->nhops,
		      WIRE_HOPS_MAX);
		return -1;
	}
	if (need(r, (size_t)WIRE_HOP_LEN * p->nhops, "path hops") < 0)
		return -1;
	for (i = 0; i < p->nhops; i++) {
		if (get_addr(r, &p->hops[i], "hop") < 0)
			return -1;
		p->hop_replies[i] = get_u16(r);
		p->hop_probes[i] = get_u16(r);
	}
	return 0;
}

int wire_batch_decode(const uint8_t *p, size_t len, struct wire_batch *b,
			char *err, size_t errlen)
{
	struct rbuf r = { p, len, err, errlen, 0 };
	uint32_t i;

	memset(b, 0, sizeof(*b));
	if (get_name(&r, b->prober) < 0 ||
	    need(&r, 24 + WIRE_HEALTH_LEN + 8, "batch header") < 0)
		return -1;
	b->seq = get_u64(&r);
	b->start_ms = (int64_t)get_u64(&r);
	b->end_ms = (int64_t)get_u64(&r);
	b->health.if_rx_errors = get_u64(&r);
	b->health.if_tx_errors = get_u64(&r);
	b->health.if_rx_dropped = get_u64(&r);
	b->health.if_tx_dropped = get_u64(&r);
	b->health.links_down = get_u32(&r);
	b->health.spool_dropped = get_u32(&r);
	b->nflows = get_u32(&r);
	b->npaths = get_u32(&r);
	if (b->seq == 0) {
		rfail(&r, "batch seq 0");
		goto err;
	}
	if (b->end_ms < b->start_ms) {
		rfail(&r, "batch ends before it starts");
		goto err;
	}
	/* check the counts fit the bytes left before allocating for them */
	if ((uint64_t)b->nflows * WIRE_FLOW_LEN > r.left) {
		rfail(&r, "nflows %u does not fit %zu payload bytes", b->nflows,
		      r.left);
		goto err;
	}
	if (b->npaths > WIRE_PATHS_MAX) {
		rfail(&r, "npaths %u over %u", b->npaths, WIRE_PATHS_MAX);
		goto err;
	}
	if ((uint64_t)b->npaths * WIRE_PATH_FIXED_LEN >
	    r.left - (size_t)b->nflows * WIRE_FLOW_LEN) {
		rfail(&r, "npaths %u does not fit the payload", b->npaths);
		goto err;
	}
	if (b->nflows) {
		b->flows = calloc(b->nflows, sizeof(*b->flows));
		if (!b->flows) {
			rfail(&r, "out of memory for %u flows", b->nflows);
			goto err;
		}
	}
	if (b->npaths) {
		b->paths = calloc(b->npaths, sizeof(*b->paths));
		if (!b->paths) {
			rfail(&r, "out of memory for %u paths", b->npaths);
			goto err;
		}
	}
	for (i = 0; i < b->nflows; i++)
		if (flow_decode(&r, &b->flows[i], i) < 0)
			goto err;
	for (i = 0; i < b->npaths; i++)
		if (path_decode(&r, &b->paths[i], i) < 0)
			goto err;
	if (end_check(&r, "batch") < 0)
		goto err;
	return 0;
err:
	wire_batch_free(b);
	return -1;
}

int wire_batch_spool_dropped_set(uint8_t *buf, size_t len, uint32_t dropped)
{
	size_t off;

	/* header, name, seq start end, four u64 health counters, links_down */
	if (len < WIRE_HEADER_LEN + 1 || buf[7] != WIRE_BATCH ||
	    (wire_header_flags(buf) & WIRE_FLAG_AUTH)) {
		errno = EINVAL;
		return -1;
	}
	off = WIRE_HEADER_LEN + 1 + buf[WIRE_HEADER_LEN] + 24 + 32 + 4;
	if (off + 4 > len) {
		errno = EINVAL;
		return -1;
	}
	buf[off] = (uint8_t)(dropped >> 24);
	buf[off + 1] = (uint8_t)(dropped >> 16);
	buf[off + 2] = (uint8_t)(dropped >> 8);
	buf[off + 3] = (uint8_t)dropped;
	return 0;
}

void wire_batch_free(struct wire_batch *b)
{
	free(b->flows);
	free(b->paths);
	b->flows = NULL;
	b->paths = NULL;
	b->nflows = 0;
	b->npaths = 0;
}

/* ---- authentication ---- */

int wire_frame_sign(uint8_t **buf, size_t *len, const uint8_t *key,
		      size_t keylen)
{
	uint8_t *f = *buf, *nf;
	uint32_t plen, flags;

	if (*len < WIRE_HEADER_LEN ||
	    *len - WIRE_HEADER_LEN + WIRE_MAC_LEN > WIRE_FRAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	nf = realloc(f, *len + WIRE_MAC_LEN);
	if (!nf)
		return -1;
	*buf = f = nf;
	plen = (uint32_t)(*len - WIRE_HEADER_LEN + WIRE_MAC_LEN);
	flags = wire_header_flags(f) | WIRE_FLAG_AUTH;
	f[8] = (uint8_t)(plen >> 24), f[9] = (uint8_t)(plen >> 16);
	f[10] = (uint8_t)(plen >> 8), f[11] = (uint8_t)plen;
	f[12] = (uint8_t)(flags >> 24), f[13] = (uint8_t)(flags >> 16);
	f[14] = (uint8_t)(flags >> 8), f[15] = (uint8_t)flags;
	/* the MAC covers the final header, so length and flags are bound too */
	wire_mac(key, keylen, f, *len, f + *len);
	*len += WIRE_MAC_LEN;
	return 0;
}

void wire_mac(const uint8_t *key, size_t keylen, const uint8_t *data,
	      size_t len, uint8_t out[WIRE_MAC_LEN])
{
	unsigned int outlen = WIRE_MAC_LEN;

	/* HMAC() fails only for an unknown digest or a NULL key with a length:
	 * neither can happen here, and a zeroed MAC then never verifies */
	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen))
		memset(out, 0, WIRE_MAC_LEN);
}

static const char *wire_type_name(int t)
{
	static const char *const names[] = { "?", "HELLO", "BATCH", "ACK",
					     "ERROR", "TARGETS" };

	return t >= WIRE_HELLO && t <= WIRE_TARGETS ? names[t] : names[0];
}

int wire_frame_head(const struct wire_reader *r, const uint8_t *hdr, size_t len,
		    int *type, uint32_t *payload_len, char *err, size_t errlen)
{
	if (wire_header_decode(hdr, len, type, payload_len, err, errlen) < 0)
		return -1;
	if (!(r->types & WIRE_TYPE_BIT(*type))) {
		snprintf(err, errlen, "unexpected %s frame", wire_type_name(*type));
		return -1;
	}
	return 0;
}

/* MAC of frame[0 .. len - MAC) against its last WIRE_MAC_LEN bytes with each
 * key: the index of the key that verifies, or -1. */
static int frame_mac_match(const uint8_t *frame, size_t len,
			   const struct wire_key *keys, size_t nkeys)
{
	uint8_t mac[WIRE_MAC_LEN];
	int match = -1;
	size_t i;

	for (i = 0; i < nkeys; i++) {
		wire_mac(keys[i].bytes, keys[i].len, frame, len - WIRE_MAC_LEN, mac);
		if (CRYPTO_memcmp(mac, frame + len - WIRE_MAC_LEN, WIRE_MAC_LEN) == 0 &&
		    match < 0)
			match = (int)i;
	}
	return match;
}

int wire_frame_open(const struct wire_reader *r, const uint8_t *frame,
		    size_t len, struct wire_frame *f, char *err, size_t errlen)
{
	struct wire_key found[WIRE_KEYS_MAX];
	const struct wire_key *keys = r->keys;
	size_t nkeys = r->nkeys;
	uint32_t plen;
	int match;

	memset(f, 0, sizeof(*f));
	if (wire_frame_head(r, frame, len, &f->type, &plen, err, errlen) < 0)
		return -1;
	if (len != WIRE_HEADER_LEN + (size_t)plen) {
		snprintf(err, errlen, "frame of %zu bytes, its header says %zu", len,
			 WIRE_HEADER_LEN + (size_t)plen);
		return -1;
	}
	f->flags = wire_header_flags(frame);
	f->body = frame + WIRE_HEADER_LEN;
	f->body_len = plen - ((f->flags & WIRE_FLAG_AUTH) ? WIRE_MAC_LEN : 0);
	if (!nkeys && r->keys_find_cb) {
		if (r->keys_find_cb(r->arg, f->type, f->body, f->body_len, found,
				    &nkeys, err, errlen) < 0)
			return -1;
		if (nkeys > WIRE_KEYS_MAX)
			nkeys = WIRE_KEYS_MAX;
		keys = found;
	}
	if (!nkeys)
		return 0; /* authentication off: a MAC is stripped unchecked */
	if (!(f->flags & WIRE_FLAG_AUTH)) {
		if (r->unsigned_types & WIRE_TYPE_BIT(f->type))
			return 0; /* reported unauthenticated to the caller */
		snprintf(err, errlen, "unauthenticated %s frame (AUTH flag clear) from a keyed peer",
			 wire_type_name(f->type));
		return -1;
	}
	match = frame_mac_match(frame, len, keys, nkeys);
	if (match < 0) {
		snprintf(err, errlen, "%s frame: MAC mismatch", wire_type_name(f->type));
		return -1;
	}
	f->authenticated = 1;
	f->key_index = (size_t)match;
	f->key = keys[match];
	return 0;
}

/* ---- addresses ---- */

const char *wire_addr_str(const struct wire_addr *a, char *buf, size_t len)
{
	if (a->family == AF_INET) {
		if (!inet_ntop(AF_INET, a->bytes + 12, buf, (socklen_t)len))
			return "?";
	} else if (a->family == AF_INET6) {
		if (!inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)len))
			return "?";
	} else {
		snprintf(buf, len, "*");
	}
	return buf;
}

int wire_addr_parse(const char *s, struct wire_addr *a)
{
	uint8_t b[16];

	if (inet_pton(AF_INET, s, b) == 1) {
		addr_set4(a, b);
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		addr_set6(a, b);
		return 0;
	}
	memset(a, 0, sizeof(*a));
	errno = EINVAL;
	return -1;
}
