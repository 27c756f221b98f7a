/* Uplink: the prober's TCP connection to the collector. Sends HELLO, then
 * every spooled batch in seq order (pipelined), deletes a batch from the
 * spool on its ACK, and reconnects with jittered exponential backoff. */
#ifndef FM_UPLINK_H
#define FM_UPLINK_H

#include <stddef.h>
#include <stdint.h>

struct uplink;
struct spool;

#define UPLINK_COLLECTORS_MAX 8

struct uplink_cfg {
	/* "ADDR:PORT" or "[V6ADDR]:PORT", or several separated by commas: the
	 * first is used until it fails, then the next (failover) */
	const char *collector;
	const char *name;       /* prober name for HELLO */
	const uint8_t *key;     /* shared key for HMAC frames, NULL = none */
	size_t keylen;
	uint32_t window;        /* batches sent but not yet acknowledged, at most */
	uint32_t backoff_min_ms, backoff_max_ms;
};

/* Parse the address now; connect lazily. NULL with a reason in err. */
struct uplink *uplink_new(const struct uplink_cfg *cfg, struct spool *sp, char *err,
			  size_t errlen);
void uplink_free(struct uplink *u);
/* Current socket (-1 when disconnected) and whether it waits to write. */
int uplink_fd(const struct uplink *u);
int uplink_wants_write(const struct uplink *u);
/* Drive the connection: called on socket readiness and when the timer from
 * uplink_next_ms is due (and after a batch is spooled). Logs state changes
 * itself (it is the edge). */
void uplink_run(struct uplink *u, int readable, int writable, int64_t now_ms);
/* When uplink_run wants to be called again without socket activity. */
int64_t uplink_next_ms(const struct uplink *u, int64_t now_ms);
/* Take bytes as if the collector sent them on the open connection (the
 * fuzzer and tests use it; uplink_run reads the socket into the same path):
 * every frame is opened by the stream's rules (wire_frame_open). 0, or -1
 * when they ended the connection. */
int uplink_bytes_take(struct uplink *u, const uint8_t *data, size_t len, int64_t now_ms);
/* Batches acknowledged so far, and whether the link is up. */
uint64_t uplink_acked(const struct uplink *u);
int uplink_connected(const struct uplink *u);

/* Fetch this prober's targets from the collector once (blocking): connect,
 * HELLO with WIRE_FLAG_WANT_TARGETS, read the TARGETS frame, close; the
 * whole exchange within timeout_ms. Uses cfg's collector, name and key.
 * Returns 0 and sets *text (malloc'd, NUL-terminated targets file text) and
 * *len, or -1 with a reason in err (unreachable, timeout, ERROR from the
 * collector with its reason, bad or unauthenticated frame). */
int uplink_targets_fetch(const struct uplink_cfg *cfg, int timeout_ms, char **text,
			 size_t *len, char *err, size_t errlen);

#endif
