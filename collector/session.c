/* Frame reassembly and handling for one prober connection: header checked
 * before any payload is buffered, payload memory grown only as bytes arrive,
 * every batch committed (group commit by the server) before its ACK is
 * queued, any bad frame -> ERROR after the ACKs of the batches before it. */
#include "session.h"
#include "keys.h"
#include "plan_targets.h"
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_OUT_MAX (1u << 20) /* a peer that never reads ACKs is cut */

/* A decoded batch waiting for the group commit. */
struct pending {
	struct wire_batch b;
	int added;     /* in the open group */
	int duplicate; /* already stored earlier */
	int seq_reused;
};

struct session {
	const struct session_env *env;
	char peer[80];
	char prober[WIRE_NAME_MAX];
	/* the key that verified the HELLO, copied (the keyring may be reloaded
	 * meanwhile); keylen 0: unsigned session (authentication off) */
	uint8_t key[KEYS_KEY_MAX];
	size_t keylen;
	struct wire_reader rd; /* what may arrive now: HELLO, then BATCH */
	enum session_state state;
	char reason[256];
	int fail_is_store; /* the failure is ours, not the prober's */
	int error_queued;

	struct pending *pend;
	size_t npend, pend_cap;

	uint8_t hdr[WIRE_HEADER_LEN];
	size_t hdr_have;
	int frame_type;
	uint32_t payload_len;
	uint8_t *frame; /* header + payload, grown as the payload arrives */
	size_t frame_have, frame_cap;
	size_t reserved;     /* bytes of the ingest budget held (frames this round) */
	int budget_wait;     /* the header is in, its payload waits for room */
	int name_claimed;    /* a batch was taken: the prober name is ours */

	uint8_t *out;
	size_t out_len, out_cap;
};

/* wire_reader keys_find_cb for the HELLO: the name in it picks the keys. */
static int session_keys_find(void *arg, int type, const uint8_t *body,
			     size_t body_len, struct wire_key *keys, size_t *nkeys,
			     char *err, size_t errlen)
{
	struct session *s = arg;
	char name[WIRE_NAME_MAX], why[128];

	*nkeys = 0;
	if (type != WIRE_HELLO || !s->env->keys)
		return 0;
	if (wire_hello_decode(body, body_len, name, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "bad HELLO: %s", why);
		return -1;
	}
	*nkeys = keyring_keys(s->env->keys, name, keys);
	if (!*nkeys) {
		snprintf(err, errlen, "prober %s has no key in the keys file", name);
		return -1;
	}
	return 0;
}

struct session *session_new(const struct session_env *env, const char *peer)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->env = env;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	/* before HELLO only a HELLO, so at most a HELLO-sized buffer */
	s->rd.types = WIRE_TYPE_BIT(WIRE_HELLO);
	s->rd.keys_find_cb = session_keys_find;
	s->rd.arg = s;
	return s;
}

/* The metrics thread reads these counters while the loop updates them. */
static void stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static void pending_clear(struct session *s)
{
	size_t i;

	for (i = 0; i < s->npend; i++)
		wire_batch_free(&s->pend[i].b);
	s->npend = 0;
}

size_t session_pending(const struct session *s)
{
	return s->npend;
}

/* Take payload_len bytes of the ingest budget for the frame whose header
 * just arrived; 0, or -1 (and budget_wait) when it does not fit now. */
static int budget_take(struct session *s)
{
	struct ingest_budget *b = s->env->budget;
	size_t want = s->payload_len;

	/* the limit is at least one largest frame (server_create), so a frame
	 * always fits once the others are gone */
	if (!b || !b->limit_bytes || b->used_bytes + want <= b->limit_bytes) {
		if (b)
			b->used_bytes += want;
		s->reserved += want;
		if (s->budget_wait && b)
			b->waiting--;
		s->budget_wait = 0;
		return 0;
	}
	if (!s->budget_wait)
		b->waiting++;
	s->budget_wait = 1;
	return -1;
}

static void budget_release(struct session *s)
{
	struct ingest_budget *b = s->env->budget;

	if (b)
		b->used_bytes -= s->reserved;
	s->reserved = 0;
}

int session_budget_retry(struct session *s)
{
	if (!s->budget_wait)
		return 1;
	return budget_take(s) == 0;
}

size_t session_input_room(const struct session *s)
{
	if (s->state != SESSION_OPEN || s->budget_wait)
		return 0;
	if (s->hdr_have < WIRE_HEADER_LEN)
		return WIRE_HEADER_LEN - s->hdr_have;
	/* frame_have is 0 until the header is copied in after a budget wait */
	return WIRE_HEADER_LEN + (size_t)s->payload_len -
	       (s->frame_have > WIRE_HEADER_LEN ? s->frame_have : WIRE_HEADER_LEN);
}

int session_authenticated(const struct session *s)
{
	return s->prober[0] != '\0';
}

void session_free(struct session *s)
{
	if (!s)
		return;
	budget_release(s);
	if (s->budget_wait && s->env->budget)
		s->env->budget->waiting--;
	pending_clear(s);
	free(s->pend);
	free(s->frame);
	free(s->out);
	free(s);
}

const char *session_close_reason(const struct session *s)
{
	return s->reason;
}

int session_name_claimed(const struct session *s)
{
	return s->name_claimed;
}

const char *session_peer(const struct session *s)
{
	return s->peer;
}

const char *session_prober(const struct session *s)
{
	return s->prober;
}

size_t session_buffered(const struct session *s)
{
	return s->hdr_have + s->frame_have;
}

const uint8_t *session_output(const struct session *s, size_t *len)
{
	*len = s->out_len;
	return s->out;
}

void session_output_consumed(struct session *s, size_t n)
{
	if (n >= s->out_len) {
		s->out_len = 0;
		return;
	}
	memmove(s->out, s->out + n, s->out_len - n);
	s->out_len -= n;
}

static int out_append(struct session *s, const uint8_t *p, size_t n)
{
	if (s->out_len + n > SESSION_OUT_MAX)
		return -1;
	if (s->out_len + n > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 256;
		uint8_t *no;

		while (cap < s->out_len + n)
			cap *= 2;
		no = realloc(s->out, cap);
		if (!no)
			return -1;
		s->out = no;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, p, n);
	s->out_len += n;
	return 0;
}

/* Queue an encoded frame, signed when the prober has a key. Takes buf. */
static int out_frame_queue(struct session *s, uint8_t *buf, size_t len)
{
	int rc;

	if (s->keylen && wire_frame_sign(&buf, &len, s->key, s->keylen) < 0) {
		free(buf);
		return -1;
	}
	rc = out_append(s, buf, len);
	free(buf);
	return rc;
}

/* Stop reading and remember why; the ERROR goes out at round end, after the
 * ACKs of batches that came before the bad frame. The first reason wins. */
static void session_fail(struct session *s, int is_store, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void session_fail(struct session *s, int is_store, const char *fmt, ...)
{
	va_list ap;

	if (s->state == SESSION_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	s->state = SESSION_CLOSING;
	s->fail_is_store = is_store;
	if (is_store)
		stat_add(&s->env->stats->store_errors, 1);
	else
		stat_add(&s->env->stats->frames_rejected, 1);
}

static void error_queue(struct session *s)
{
	uint8_t *buf;
	size_t len;

	if (s->error_queued)
		return;
	s->error_queued = 1;
	/* best effort: the connection closes either way */
	if (wire_error_encode(s->fail_is_store
					? "collector store unavailable, retry later"
					: s->reason,
				&buf, &len) == 0)
		out_frame_queue(s, buf, len);
}

/* Answer a HELLO that asked for targets: the plan's list for this prober
 * (the header alone for a prober the plan does not name). */
static void targets_answer(struct session *s)
{
	uint8_t *buf;
	size_t len, tlen;
	char *text;

	if (!s->env->plan) {
		session_fail(s, 0, "targets requested, but this collector has no plan (--plan)");
		return;
	}
	if (plan_targets_text(s->env->plan, s->prober, &text, &tlen) < 0) {
		session_fail(s, 1, "out of memory for targets");
		return;
	}
	if (wire_targets_encode(text, tlen, &buf, &len) < 0) {
		session_fail(s, 1, "targets of %s: %zu bytes, over the frame limit",
			     s->prober, tlen);
		free(text);
		return;
	}
	free(text);
	if (out_frame_queue(s, buf, len) < 0)
		session_fail(s, 1, "out of memory for targets");
}

static void hello_handle(struct session *s, const struct wire_frame *f)
{
	char name[WIRE_NAME_MAX], err[128];

	if (wire_hello_decode(f->body, f->body_len, name, err, sizeof(err)) < 0) {
		session_fail(s, 0, "bad HELLO: %s", err);
		return;
	}
	/* the key that verified (old or new during a rotation) signs replies */
	if (f->authenticated) {
		memcpy(s->key, f->key.bytes, f->key.len);
		s->keylen = f->key.len;
		s->rd.keys[0].bytes = s->key;
		s->rd.keys[0].len = s->keylen;
		s->rd.nkeys = 1;
	}
	s->rd.keys_find_cb = NULL;
	s->rd.types = WIRE_TYPE_BIT(WIRE_BATCH);
	snprintf(s->prober, sizeof(s->prober), "%s", name);
	if (f->flags & WIRE_FLAG_WANT_TARGETS)
		targets_answer(s);
}

static void batch_handle(struct session *s, const struct wire_frame *f)
{
	struct wire_batch b;
	char err[320];

	if (wire_batch_decode(f->body, f->body_len, &b, err, sizeof(err)) < 0) {
		session_fail(s, 0, "bad BATCH: %s", err);
		return;
	}
	if (strcmp(b.prober, s->prober) != 0) {
		session_fail(s, 0, "BATCH names prober %s, HELLO said %s",
			     b.prober, s->prober);
		wire_batch_free(&b);
		return;
	}
	/* the name is claimed by the first batch, not the HELLO: a prober's
	 * targets fetch (its own short connection) sends none */
	if (!s->name_claimed && s->env->name_claim_cb) {
		if (s->env->name_claim_cb(s->env->name_claim_arg, s, s->prober, err,
					  sizeof(err)) < 0) {
			session_fail(s, 0, "%s", err);
			wire_batch_free(&b);
			return;
		}
	}
	s->name_claimed = 1;
	if (s->npend == s->pend_cap) {
		size_t cap = s->pend_cap ? s->pend_cap * 2 : 8;
		struct pending *np = realloc(s->pend, cap * sizeof(*np));

		if (!np) {
			wire_batch_free(&b);
			session_fail(s, 1, "out of memory");
			return;
		}
		s->pend = np;
		s->pend_cap = cap;
	}
	memset(&s->pend[s->npend], 0, sizeof(s->pend[0]));
	s->pend[s->npend++].b = b;
}

void session_pending_add(struct session *s)
{
	size_t i;

	for (i = 0; i < s->npend; i++) {
		struct pending *p = &s->pend[i];

		if (store_batch_add(s->env->store, &p->b, s->env->now_ms(),
				    &p->duplicate, &p->seq_reused) < 0) {
			/* later batches are not added: ACKs must stay in order */
			session_fail(s, 1, "seq %llu: store: %s",
				     (unsigned long long)p->b.seq,
				     store_error(s->env->store));
			return;
		}
		p->added = 1;
	}
}

void session_round_end(struct session *s, int committed)
{
	size_t i;

	for (i = 0; i < s->npend; i++) {
		struct pending *p = &s->pend[i];
		uint8_t *buf;
		size_t len;

		if (!p->added)
			break;
		if (!committed) {
			session_fail(s, 1, "seq %llu: commit failed: %s",
				     (unsigned long long)p->b.seq,
				     store_error(s->env->store));
			break;
		}
		if (p->duplicate) {
			stat_add(&s->env->stats->batches_duplicate, 1);
		} else {
			stat_add(&s->env->stats->batches_stored, 1);
			stat_add(&s->env->stats->rows_stored, p->b.nflows);
		}
		if (p->seq_reused && s->env->note) {
			char msg[160];

			snprintf(msg, sizeof(msg),
				 "prober %s reused seq %llu with a new interval (restarted numbering?); stored as a new batch",
				 s->prober, (unsigned long long)p->b.seq);
			s->env->note(s->peer, msg);
		}
		/* the batch is durable: only now may the prober forget it */
		if (wire_ack_encode(p->b.seq, &buf, &len) < 0 ||
		    out_frame_queue(s, buf, len) < 0) {
			session_fail(s, 0, "output backlog over %u bytes (not reading ACKs)",
				     SESSION_OUT_MAX);
			break;
		}
	}
	pending_clear(s);
	/* frames handled this round are stored or refused: their room is free
	 * (the frame in progress keeps its share) */
	if (s->reserved) {
		size_t keep = (s->hdr_have == WIRE_HEADER_LEN && !s->budget_wait) ? s->payload_len : 0;
		struct ingest_budget *b = s->env->budget;

		if (b)
			b->used_bytes -= s->reserved - keep;
		s->reserved = keep;
	}
	if (s->state == SESSION_CLOSING) {
		error_queue(s);
		budget_release(s);
		free(s->frame);
		s->frame = NULL;
		s->frame_cap = s->frame_have = 0;
	}
}

/* Why a frame the reader refused is refused, in the session's words. */
static void frame_refuse(struct session *s, int type, const char *stage, const char *err)
{
	if (type == WIRE_HELLO && s->prober[0])
		session_fail(s, 0, "second HELLO");
	else
		session_fail(s, 0, "%s%s%s", stage, err, s->prober[0] ? "" : " (before HELLO)");
}

/* A whole frame is buffered: open it (header, length, MAC rules: the one
 * path of wire_frame_open) and handle it. */
static void frame_handle(struct session *s)
{
	struct wire_frame f;
	char err[160];

	stat_add(&s->env->stats->frames, 1);
	if (wire_frame_open(&s->rd, s->frame, s->frame_have, &f, err, sizeof(err)) < 0) {
		frame_refuse(s, s->frame_type, "", err);
		return;
	}
	if (f.type == WIRE_HELLO)
		hello_handle(s, &f);
	else
		batch_handle(s, &f);
}

/* Make room for the next part of the payload: memory follows the bytes that
 * actually arrived, so a header claiming 16 MiB costs nothing until sent. */
static int frame_grow(struct session *s, size_t want)
{
	size_t total = WIRE_HEADER_LEN + (size_t)s->payload_len;
	size_t cap;
	uint8_t *nf;

	if (want <= s->frame_cap)
		return 0;
	cap = s->frame_cap ? s->frame_cap * 2 : 4096;
	if (cap < want)
		cap = want;
	if (cap > total)
		cap = total;
	nf = realloc(s->frame, cap);
	if (!nf)
		return -1;
	s->frame = nf;
	s->frame_cap = cap;
	return 0;
}

enum session_state session_input(struct session *s, const uint8_t *data,
				 size_t len)
{
	char err[128];

	while (len > 0 && s->state == SESSION_OPEN) {
		size_t total, take;

		if (s->budget_wait && budget_take(s) < 0)
			break; /* bytes fed while waiting are not taken */
		if (s->hdr_have == WIRE_HEADER_LEN && s->frame_have == 0) {
			/* the header waited for room; it has it now */
			if (frame_grow(s, WIRE_HEADER_LEN) < 0) {
				session_fail(s, 1, "out of memory");
				break;
			}
			memcpy(s->frame, s->hdr, WIRE_HEADER_LEN);
			s->frame_have = WIRE_HEADER_LEN;
		}

		if (s->hdr_have < WIRE_HEADER_LEN) {
			take = WIRE_HEADER_LEN - s->hdr_have;
			if (take > len)
				take = len;
			memcpy(s->hdr + s->hdr_have, data, take);
			s->hdr_have += take;
			data += take;
			len -= take;
			if (s->hdr_have < WIRE_HEADER_LEN)
				break;
			s->frame_type = 0;
			if (wire_frame_head(&s->rd, s->hdr, WIRE_HEADER_LEN,
					    &s->frame_type, &s->payload_len,
					    err, sizeof(err)) < 0) {
				frame_refuse(s, s->frame_type, "bad frame header: ", err);
				break;
			}
			if (budget_take(s) < 0) {
				/* the server reads nothing more until there is room */
				break;
			}
			if (frame_grow(s, WIRE_HEADER_LEN) < 0) {
				session_fail(s, 1, "out of memory");
				break;
			}
			memcpy(s->frame, s->hdr, WIRE_HEADER_LEN);
			s->frame_have = WIRE_HEADER_LEN;
		}
		total = WIRE_HEADER_LEN + (size_t)s->payload_len;
		take = total - s->frame_have;
		if (take > len)
			take = len;
		if (frame_grow(s, s->frame_have + take) < 0) {
			session_fail(s, 1, "out of memory for a %zu-byte frame", total);
			break;
		}
		memcpy(s->frame + s->frame_have, data, take);
		s->frame_have += take;
		data += take;
		len -= take;
		if (s->frame_have < total)
			break;
		frame_handle(s);
		s->hdr_have = 0;
		s->frame_have = 0;
		/* keep small buffers for the next frame, drop big ones */
		if (s->frame_cap > (1u << 20)) {
			free(s->frame);
			s->frame = NULL;
			s->frame_cap = 0;
		}
	}
	return s->state;
}
