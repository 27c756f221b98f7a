/* A small HTTP server for GETs on libmicrohttpd (triangulate serve, the
 * collector's metrics): listen on ADDR:PORT, bounded connections and
 * timeouts, one callback that fills a body. */
#ifndef FM_HTTPD_H
#define FM_HTTPD_H

#include <stddef.h>
#include <stdint.h>

struct httpd;
struct httpd_req; /* one request, valid during the callback only */

/* Called for each GET (and HEAD) on one of the server's threads, path
 * without the query string. Fills *body with a malloc'd buffer of *len bytes
 * (freed by the server) and *content_type (static), and returns the HTTP
 * status (200, 404, ...), or -1 for a 500 (then *body is ignored). */
typedef int (*httpd_get_cb)(struct httpd_req *req, const char *path, char **body,
			    size_t *len, const char **content_type, void *arg);

/* Bounds; 0 in a field takes its default. */
struct httpd_limits {
	unsigned conn_max;      /* open connections at once (default 64) */
	unsigned conn_per_ip_max; /* of them from one address (default: conn_max) */
	unsigned timeout_s;     /* an idle connection is closed (default 10) */
	unsigned threads;       /* threads answering (default 1: an idle or slow
				 * client holds a connection slot, never a thread) */
	size_t conn_memory;     /* request head and buffers per connection (32 KiB) */
};

/* Listen on "ADDR:PORT" ("[v6]:PORT", numeric; port 0 = any free) and answer
 * GETs with cb on threads of the server's own. Other methods get 405, a
 * request holding a NUL byte (which would cut its method, URI or a header
 * name or value short) 400 and counted, a request body is read and ignored. limits may be NULL.
 * Returns the server, or NULL with the reason in err. */
struct httpd *httpd_start(const char *listen, const struct httpd_limits *limits,
			  httpd_get_cb cb, void *arg, char *err, size_t errlen);
/* The port bound (the one chosen for port 0). */
int httpd_port(const struct httpd *s);
/* Requests answered 400 because they held a NUL byte (in the method, the
 * URI, or a header's name or value), since start. */
uint64_t httpd_nul_refused_count(const struct httpd *s);
/* Stop answering, close every connection, free. NULL is a no-op. */
void httpd_stop(struct httpd *s);

/* The value of query argument name ("?name=value", decoded), or NULL. */
const char *httpd_req_arg(struct httpd_req *req, const char *name);

#endif
