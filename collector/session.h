/* One prober connection's protocol state, without sockets: bytes in, frames
 * checked and stored, ACK/ERROR bytes out. The server moves the bytes. */
#ifndef FM_COLLECTOR_SESSION_H
#define FM_COLLECTOR_SESSION_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

struct store;
struct keyring;
struct plan_targets;
struct session;

/* Counters shared by all sessions of a server; updated with relaxed atomics
 * so another thread (metrics) may read them with __atomic_load_n. */
struct session_stats {
	uint64_t frames;
	uint64_t batches_stored;
	uint64_t batches_duplicate;
	uint64_t rows_stored;    /* flow results in stored batches */
	uint64_t frames_rejected; /* sessions closed for a bad frame */
	uint64_t store_errors;
};

/* Bytes of frames held by all sessions of a server (one thread: no locks).
 * A session reserves a frame's whole payload when its header arrives and
 * releases it when the round that handled the frame ends; a frame that does
 * not fit waits, unread, until others release (backpressure, never growth). */
struct ingest_budget {
	size_t limit_bytes; /* 0: no limit */
	size_t used_bytes;
	size_t waiting;     /* sessions waiting for room */
};

/* What a session needs from its server; shared, outlives every session. */
struct session_env {
	struct store *store;
	const struct keyring *keys; /* NULL: authentication off */
	/* probe plan served to a HELLO with WIRE_FLAG_WANT_TARGETS; NULL:
	 * such a HELLO is answered with ERROR (no --plan) */
	const struct plan_targets *plan;
	struct session_stats *stats;
	struct ingest_budget *budget; /* NULL: no global limit */
	int64_t (*now_ms)(void);    /* wall clock, Unix ms */
	/* The first BATCH of a session for name arrived (authenticated): 0 to
	 * go on, or -1 with the reason in err when another live session sending
	 * batches holds the name (the reason names both peers). NULL: names are
	 * not checked. */
	int (*name_claim_cb)(void *arg, const struct session *self, const char *name,
			     char *err, size_t errlen);
	void *name_claim_arg;
	/* log once per accepted event worth an operator's eye (seq reused) */
	void (*note)(const char *peer, const char *msg);
};

enum session_state {
	SESSION_OPEN,    /* reading frames */
	SESSION_CLOSING, /* failed: ERROR queued at round end; flush, close */
};

struct session;

/* A session for a peer (text like "198.18.1.2:40000", used in reasons). */
struct session *session_new(const struct session_env *env, const char *peer);
void session_free(struct session *s);

/* Feed received bytes. Complete frames are checked at once; decoded batches
 * wait in the session until the server stores them (session_pending_add) and
 * ends the round. Returns the state afterwards; once SESSION_CLOSING, further
 * input is ignored and session_close_reason says why. */
enum session_state session_input(struct session *s, const uint8_t *data,
				 size_t len);

/* Batches decoded and not yet stored. */
size_t session_pending(const struct session *s);

/* Add the pending batches to the store group the server has open. A batch
 * the store refuses fails the session (store error); the rest are dropped
 * unacknowledged, and the prober resends them. */
void session_pending_add(struct session *s);

/* After the group's commit (committed = 1) or its failure (0): queue an ACK
 * for every batch now durable, in order, then the ERROR if the session
 * failed, and forget the pending batches. */
void session_round_end(struct session *s, int committed);

/* Bytes waiting to go to the peer, and how many the server has sent. */
const uint8_t *session_output(const struct session *s, size_t *len);
void session_output_consumed(struct session *s, size_t n);

/* Why the session is closing ("" while open). */
const char *session_close_reason(const struct session *s);
/* Peer text given to session_new. */
const char *session_peer(const struct session *s);
/* Whether the session has sent a batch (holds its prober name). */
int session_name_claimed(const struct session *s);
/* Prober name from HELLO ("" before). */
const char *session_prober(const struct session *s);
/* Bytes of a partial frame held in memory (for limits and tests). */
size_t session_buffered(const struct session *s);

/* How many bytes the session can take now: up to the end of the header or
 * of the frame in progress, so the server never reads past what the session
 * may buffer; 0 while a frame waits for room in the ingest budget or the
 * session is closing. */
size_t session_input_room(const struct session *s);
/* A frame waiting for budget room: try again (after others released).
 * Returns 1 if it now has its room. */
int session_budget_retry(struct session *s);
/* Whether the HELLO was accepted (authenticated when keys are on). */
int session_authenticated(const struct session *s);

#endif
