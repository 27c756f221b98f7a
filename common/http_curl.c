/* HTTP client requests over libcurl (see http_curl.h): the transport for the
 * Alertmanager sink and the ClickHouse store backend. */
#include "http_curl.h"
#include "vec.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_conn {
	CURL *curl;
	char *buf; /* response body, NUL-terminated */
	size_t len, cap;
	char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t http_curl_once = PTHREAD_ONCE_INIT;
static CURLcode http_curl_init_rc;

static void http_curl_init(void)
{
	http_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_url_parse(const char *url, char *host, size_t hostlen, char *port,
		   size_t portlen, char *path, size_t pathlen)
{
	CURLU *u;
	char *h = NULL, *p = NULL, *pa = NULL;
	int rc = -1;
	size_t n;

	/* libcurl guesses schemes and fills defaults; the contract is
	 * http:// only, with digits after any ':' */
	if (strncmp(url, "http://", 7) != 0 || !url[7])
		goto out_einval;
	n = strcspn(url + 7, "/");
	if (n && url[7 + n - 1] == ':')
		goto out_einval; /* "http://a:" */
	u = curl_url();
	if (!u)
		goto out_einval;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &pa, 0) != CURLUE_OK)
		goto out;
	/* libcurl keeps the brackets of an IPv6 host */
	if (h[0] == '[') {
		n = strlen(h);
		if (n < 3 || h[n - 1] != ']')
			goto out;
		memmove(h, h + 1, n - 2);
		h[n - 2] = 0;
	}
	if (!h[0] || strlen(h) >= hostlen || strlen(p) >= portlen ||
	    strspn(p, "0123456789") != strlen(p) ||
	    (size_t)snprintf(path, pathlen, "%s", pa[0] ? pa : "/") >= pathlen)
		goto out;
	snprintf(host, hostlen, "%s", h);
	snprintf(port, portlen, "%s", p);
	rc = 0;
out:
	curl_free(h);
	curl_free(p);
	curl_free(pa);
	curl_url_cleanup(u);
	if (rc == 0)
		return 0;
out_einval:
	errno = EINVAL;
	return -1;
}

static size_t http_conn_write_cb(char *data, size_t size, size_t nmemb,
				 void *arg)
{
	struct http_conn *c = arg;
	size_t n = size * nmemb;

	if (vec_room_n(&c->buf, c->len + n + 1, &c->cap, 1, 4096) < 0)
		return 0; /* libcurl reports a write error */
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = 0;
	return n;
}

struct http_conn *http_conn_open(char *err, size_t errlen)
{
	struct http_conn *c;

	pthread_once(&http_curl_once, http_curl_init);
	if (http_curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s",
			 curl_easy_strerror(http_curl_init_rc));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->curl = curl_easy_init())) {
		free(c);
		snprintf(err, errlen, "libcurl: cannot start a handle");
		return NULL;
	}
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_conn_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	return c;
}

void http_conn_close(struct http_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->buf);
	free(c);
}

static int http_conn_request(struct http_conn *c, const char *url,
			     const char *content_type, const char *body,
			     size_t body_len, int timeout_ms, char *err,
			     size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char ct[128];
	long status = 0;
	CURLcode rc;

	c->len = 0;
	if (c->buf)
		c->buf[0] = 0;
	c->curl_err[0] = 0;
	if (content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, ct);
	}
	/* no "Expect: 100-continue" round trip before large bodies */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)body_len);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	rc = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		char host[256], port[16], path[1024];

		if (http_url_parse(url, host, sizeof(host), port, sizeof(port),
				   path, sizeof(path)) < 0)
			snprintf(port, sizeof(port), "%s", "?");
		snprintf(err, errlen, "%s %s:%s: %s",
			 rc == CURLE_COULDNT_CONNECT ? "connect" :
			 rc == CURLE_OPERATION_TIMEDOUT ? "timeout talking to" :
							  "request to",
			 port[0] == '?' ? url : host, port,
			 c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	return (int)status;
}

int http_conn_post(struct http_conn *c, const char *url, const char *body,
		   size_t body_len, int timeout_ms, const char **resp,
		   size_t *resp_len, char *err, size_t errlen)
{
	int status = http_conn_request(c, url, NULL, body, body_len,
				       timeout_ms, err, errlen);

	*resp = c->buf ? c->buf : "";
	*resp_len = c->len;
	return status;
}

int http_post(const char *base_url, const char *path, const char *content_type,
	      const char *body, size_t body_len, int timeout_ms, char *err,
	      size_t errlen)
{
	char host[256], port[16], upath[1024], url[2048];
	struct http_conn *c;
	size_t n;
	int status;

	if (http_url_parse(base_url, host, sizeof(host), port, sizeof(port),
			   upath, sizeof(upath)) < 0) {
		snprintf(err, errlen, "bad URL '%s' (want http://HOST[:PORT][/PATH])",
			 base_url);
		return -1;
	}
	n = strlen(base_url);
	while (n && base_url[n - 1] == '/')
		n--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s%s%s", (int)n, base_url,
			     path[0] == '/' ? "" : "/", path) >= sizeof(url)) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	c = http_conn_open(err, errlen);
	if (!c)
		return -1;
	/* one request: no connection to keep */
	curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, 1L);
	status = http_conn_request(c, url, content_type, body, body_len,
				   timeout_ms, err, errlen);
	http_conn_close(c);
	return status;
}

int http_query_escape(const char *s, char *out, size_t outlen)
{
	char *e = curl_easy_escape(NULL, s, 0);
	int rc = -1;

	if (e && strlen(e) < outlen) {
		memcpy(out, e, strlen(e) + 1);
		rc = 0;
	}
	curl_free(e);
	return rc;
}
