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
};

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
/* Close every connection and the listener. */
void server_destroy(struct server *s);
const struct session_stats *server_stats(const struct server *s);

#endif
