/* The collector's TCP server: one epoll loop serving many probers, each
 * connection a session; periodic rollup and retention on the same thread. */
#ifndef FM_COLLECTOR_SERVER_H
#define FM_COLLECTOR_SERVER_H

#include "session.h"

#include <stddef.h>
#include <stdint.h>

struct store;
struct keyring;
struct plan_targets;

struct server_cfg {
	const char *listen;          /* "ADDR:PORT", "[v6]:PORT"; port 0 = any */
	struct store *store;         /* owned by the caller */
	const struct keyring *keys;  /* NULL: authentication off */
	const struct plan_targets *plan; /* served on request; NULL: none */
	int64_t raw_keep_ms;         /* raw results kept this long */
	int64_t rollup_keep_ms;      /* hourly rollups kept this long */
	int64_t maintenance_ms;      /* rollup + retention period; 0 = never */
	int64_t idle_timeout_ms;     /* close a connection silent this long */
	unsigned max_conns;          /* connections beyond are refused */
	/* Limits against hostile peers (README "Security"); 0 = default. */
	int64_t handshake_timeout_ms; /* HELLO accepted within this of accept */
	int64_t frame_timeout_ms;    /* a started frame complete within this */
	unsigned max_conns_per_addr; /* connections from one source address */
	size_t ingest_budget_bytes;  /* frame bytes held by all connections */
};

#define SERVER_HANDSHAKE_TIMEOUT_MS_DEFAULT 5000
#define SERVER_FRAME_TIMEOUT_MS_DEFAULT 60000
#define SERVER_MAX_CONNS_PER_ADDR_DEFAULT 16
#define SERVER_INGEST_BUDGET_BYTES_DEFAULT (256u << 20)
/* an idle authenticated connection may be evicted for a new one after this */
#define SERVER_EVICT_IDLE_MS 60000
/* a live session holding a prober name is replaced by a new HELLO for that
 * name only when silent this long (a dead connection not yet timed out) */
#define SERVER_TAKEOVER_IDLE_MS 30000

struct server;

/* Bind and listen. Returns NULL with the reason in err. */
struct server *server_create(const struct server_cfg *cfg, char *err,
			     size_t errlen);
/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);
/* Serve until server_stop; returns 0, or -1 with err on a fatal loop error
 * (epoll itself failing), never because of what a peer sent. */
int server_run(struct server *s, char *err, size_t errlen);
/* Ask server_run to return; async-signal-safe and thread-safe. Connections
 * stay open: calling server_run again goes on serving them. */
void server_stop(struct server *s);
/* Serve plan (NULL: none) to the HELLOs that come from now on; the caller
 * owns it and frees the old one after this. Between server_run calls. */
void server_plan_set(struct server *s, const struct plan_targets *plan);
/* Verify the HELLOs that come from now on with keys (NULL: authentication
 * off); open sessions keep the key they verified with. The caller owns keys
 * and frees the old ring after this. Between server_run calls. */
void server_keys_set(struct server *s, const struct keyring *keys);
/* SIGHUP's key step: load the keys file at path again and verify new
 * HELLOs with it, freeing the ring in *keys and putting the new one there.
 * A file that does not load changes nothing: -1 with the reason in err (the
 * old keys stay in use). path NULL (no --keys) is 0 and a no-op. Between
 * server_run calls. */
int server_keys_reload(struct server *s, const char *path, struct keyring **keys, char *err,
		       size_t errlen);
/* Close every connection and the listener. */
void server_destroy(struct server *s);
const struct session_stats *server_stats(const struct server *s);

#endif
