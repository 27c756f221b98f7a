/* A minimal HTTP/1.1 client (one POST, Connection: close) for the alert sinks,
 * and a minimal server thread answering GETs for the collector's metrics.
 * Plain http:// on numeric or resolvable hosts only; enough for Alertmanager
 * and Prometheus on a management network, not a general-purpose library. */
#ifndef FM_HTTP_H
#define FM_HTTP_H

#include <stddef.h>

/* Split "http://HOST[:PORT][/PATH]" (HOST may be "[v6]"); port defaults to
 * 80 and path to "/". Returns 0, or -1 with errno EINVAL. */
int http_url_parse(const char *url, char *host, size_t hostlen, char *port,
		   size_t portlen, char *path, size_t pathlen);

/* POST body (content_type, e.g. "application/json") to base_url joined with
 * path (path replaces the URL's path when the URL has none, and is appended
 * otherwise). Waits at most timeout_ms in all. Returns the HTTP status (any,
 * the caller judges), or -1 with a reason in err (resolve, connect, timeout,
 * malformed response). */
int http_post(const char *base_url, const char *path, const char *content_type,
	      const char *body, size_t body_len, int timeout_ms, char *err,
	      size_t errlen);

struct http_server;

/* Called for each GET; writes the response body into a malloc'd buffer
 * (*body, *len) and returns the HTTP status (200, 404, ...), or -1 for 500.
 * Runs on the server's thread. */
typedef int (*http_get_cb)(const char *path, char **body, size_t *len,
			   const char **content_type, void *arg);

/* Listen on "ADDR:PORT" ("[v6]:PORT"; port 0 = any) and serve GETs on a
 * thread of its own, one short connection at a time. NULL with err. */
struct http_server *http_server_start(const char *listen, http_get_cb cb,
				      void *arg, char *err, size_t errlen);
/* The port bound. */
int http_server_port(const struct http_server *s);
/* Stop the thread, close the socket, free. */
void http_server_stop(struct http_server *s);

#endif
