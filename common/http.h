/* A minimal server thread answering GETs for the collector's metrics (HTTP
 * client requests are in http_curl.h, over libcurl). */
#ifndef FM_HTTP_H
#define FM_HTTP_H

#include <stddef.h>

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
