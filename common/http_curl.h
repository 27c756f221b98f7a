/* HTTP client requests over libcurl: one-shot POSTs (Alertmanager) and a
 * reusable keep-alive connection with the response body kept (ClickHouse's
 * HTTP interface). No HTTP is written by hand in faultmesh. */
#ifndef FM_HTTP_CURL_H
#define FM_HTTP_CURL_H

#include <stddef.h>

/* Split "http://HOST[:PORT][/PATH]" (HOST may be "[v6]"); port defaults to
 * 80 and path to "/". Returns 0, or -1 with errno EINVAL (any other scheme,
 * an empty host, a port that is not digits). */
int http_url_parse(const char *url, char *host, size_t hostlen, char *port,
		   size_t portlen, char *path, size_t pathlen);

/* POST body (content_type, e.g. "application/json") to base_url joined with
 * path (path is appended to the URL's path, a trailing '/' not doubled).
 * Waits at most timeout_ms in all. Returns the HTTP status (any, the caller
 * judges), or -1 with a reason in err (resolve, connect, timeout). */
int http_post(const char *base_url, const char *path, const char *content_type,
	      const char *body, size_t body_len, int timeout_ms, char *err,
	      size_t errlen);

struct http_conn;

/* A connection to reuse for many requests (keep-alive). NULL if out of
 * memory or libcurl failed to start. */
struct http_conn *http_conn_open(char *err, size_t errlen);
void http_conn_close(struct http_conn *c);

/* POST body to url (complete, with its query string) and keep the response
 * body: on return *resp points to it (NUL-terminated, owned by c, valid until
 * the next request) and *resp_len is its length. Returns the HTTP status, or
 * -1 with a reason in err naming the URL's host. */
int http_conn_post(struct http_conn *c, const char *url, const char *body,
		   size_t body_len, int timeout_ms, const char **resp,
		   size_t *resp_len, char *err, size_t errlen);

/* Percent-encode s for a URL query value into out. Returns 0, or -1 when it
 * does not fit. */
int http_query_escape(const char *s, char *out, size_t outlen);

#endif
