/* The GET server on libmicrohttpd for every HTTP endpoint we serve (the
 * collector's metrics, triangulate serve): our own listening socket (so the
 * bound port is known and errors say what failed), the bounds (connections,
 * per address, idle timeout, memory per connection), NUL bytes refused, and
 * the one answer path from a callback's body to a response. */
#include "httpd.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTPD_CONN_MAX 64
#define HTTPD_TIMEOUT_S 10
#define HTTPD_CONN_MEMORY (32u << 10)

struct httpd {
	struct MHD_Daemon *d;
	httpd_get_cb cb;
	void *arg;
	int lfd, port;
	size_t conn_memory;
	uint64_t nul_refused; /* requests refused for a NUL byte (atomic) */
};

/* One request's state: where its raw URI starts and how long it reads as a
 * C string, taken before libmicrohttpd unescapes it (a NUL byte would cut
 * it short), and whether the headers were seen. */
struct httpd_req {
	struct MHD_Connection *c;
	const char *uri;
	size_t uri_clen;
	int started;
};

const char *httpd_req_arg(struct httpd_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->c, MHD_GET_ARGUMENT_KIND, name);
}

/* MHD_OPTION_URI_LOG_CALLBACK: called with the raw URI of each request. */
static void *httpd_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct httpd_req *r = calloc(1, sizeof(*r));

	(void)cls;
	if (r) {
		r->c = c;
		r->uri = uri;
		r->uri_clen = strlen(uri);
	}
	return r;
}

static void httpd_req_done(void *cls, struct MHD_Connection *c, void **req_cls,
			   enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*req_cls);
	*req_cls = NULL;
}

/* The walk over the header lines in arrival order. libmicrohttpd parses
 * them in place in one buffer and hands us C strings, so a NUL byte inside a
 * name or value cuts it short and the rest of the line stays in the buffer
 * between this field and the next one: what lies between them tells. */
struct httpd_header_walk {
	const char *prev_end; /* end of the previous field (version, value) */
	const char *end;      /* end of the request head */
	int nul;
};

/* Whether [from, to) is only a line end ("\r\n" or "\n", which
 * libmicrohttpd turns into NULs), at most max bytes. */
static int httpd_gap_is_eol(const char *from, const char *to, size_t max)
{
	if (to < from || (size_t)(to - from) > max)
		return 0;
	for (; from < to; from++)
		if (*from && *from != '\r' && *from != '\n')
			return 0;
	return 1;
}

static enum MHD_Result httpd_header_nul(void *cls, enum MHD_ValueKind kind, const char *key,
					size_t key_size, const char *value, size_t value_size)
{
	struct httpd_header_walk *w = cls;
	const char *p, *kend = key + key_size;

	(void)kind;
	/* in order, inside the head, and after the last field a line end only */
	if (key < w->prev_end || kend > w->end || !value || value < kend ||
	    value + value_size > w->end || !httpd_gap_is_eol(w->prev_end, key, 2))
		goto nul;
	/* name, then ':' (made a NUL), then blanks only, up to the value */
	if (kend == value || *kend)
		goto nul;
	for (p = kend + 1; p < value; p++)
		if (*p != ' ' && *p != '\t')
			goto nul;
	w->prev_end = value + value_size;
	return MHD_YES;
nul:
	w->nul = 1;
	return MHD_NO;
}

/* Whether the request holds a NUL byte. The request line sits in one
 * buffer (method, URI, version in order, the separators made NULs), so a URI
 * whose C-string length stops before the version has a NUL of its own. */
static int httpd_request_has_nul(const struct httpd *s, const struct httpd_req *r,
				 const char *method, const char *version)
{
	const union MHD_ConnectionInfo *hs;
	struct httpd_header_walk w = { 0 };

	if (r->uri > method && (size_t)(r->uri - method) < s->conn_memory) {
		const char *p = method + strlen(method) + 1;

		for (; p < r->uri; p++)
			if (*p != ' ')
				return 1; /* the method went on after a NUL */
	}
	if (version > r->uri && (size_t)(version - r->uri) < s->conn_memory &&
	    r->uri + r->uri_clen + 1 != version)
		return 1;
	hs = MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (!hs || hs->header_size > s->conn_memory || version < method ||
	    (size_t)(version - method) >= hs->header_size)
		return 1; /* the head is not one buffer from the method on: refuse */
	w.prev_end = version + strlen(version);
	w.end = method + hs->header_size;
	MHD_get_connection_values_n(r->c, MHD_HEADER_KIND, httpd_header_nul, &w);
	/* after the last field: its line end and the empty line, nothing more */
	return w.nul || !httpd_gap_is_eol(w.prev_end, w.end, 4);
}

static enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned status,
				   char *body, size_t len, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* live data: a browser or proxy must ask again, not keep a copy */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static char *httpd_text(const char *s, size_t *len)
{
	char *b = strdup(s);

	*len = b ? strlen(b) : 0;
	return b;
}

static enum MHD_Result httpd_access(void *cls, struct MHD_Connection *c,
				    const char *url, const char *method,
				    const char *version, const char *upload,
				    size_t *upload_len, void **req_cls)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct httpd *s = cls;
	struct httpd_req *r = *req_cls;
	const char *type = text;
	char *body = NULL;
	size_t len = 0;
	int status;

	(void)upload;
	if (!r)
		return MHD_NO; /* out of memory in httpd_uri_log: drop it */
	if (!r->started) {
		r->started = 1; /* headers are in; answer on the next call */
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0; /* a body is read and ignored */
		return MHD_YES;
	}
	if (httpd_request_has_nul(s, r, method, version)) {
		__atomic_fetch_add(&s->nul_refused, 1, __ATOMIC_RELAXED);
		body = httpd_text("NUL byte in the request\n", &len);
		return httpd_reply(c, MHD_HTTP_BAD_REQUEST, body, len, text);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		body = httpd_text("GET only\n", &len);
		return httpd_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, body, len, text);
	}
	status = s->cb(r, url, &body, &len, &type, s->arg);
	if (status < 0 || !body) {
		free(body);
		type = text;
		body = httpd_text("internal error\n", &len);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	return httpd_reply(c, (unsigned)status, body, len, type);
}

/* Bind ADDR:PORT ("[v6]:PORT", port 0 = any) and listen; the socket, and
 * the port bound in *port, or -1 with err. */
static int httpd_listen(const char *spec, int *port, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':'), *h = host;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST };
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	int fd = -1, one = 1, rc;

	if (!colon || colon == spec || !colon[1] || (hl = (size_t)(colon - spec)) >= sizeof(host)) {
		snprintf(err, errlen, "'%s': expected ADDR:PORT", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		h = host + 1;
	}
	rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "'%s': %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "'%s': %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

struct httpd *httpd_start(const char *listen, const struct httpd_limits *limits,
			  httpd_get_cb cb, void *arg, char *err, size_t errlen)
{
	struct httpd_limits lim = { HTTPD_CONN_MAX, 0, HTTPD_TIMEOUT_S, 1, HTTPD_CONN_MEMORY };
	struct httpd *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (limits) {
		lim.conn_max = limits->conn_max ? limits->conn_max : lim.conn_max;
		lim.conn_per_ip_max = limits->conn_per_ip_max;
		lim.timeout_s = limits->timeout_s ? limits->timeout_s : lim.timeout_s;
		lim.threads = limits->threads ? limits->threads : lim.threads;
		lim.conn_memory = limits->conn_memory ? limits->conn_memory : lim.conn_memory;
	}
	if (!lim.conn_per_ip_max || lim.conn_per_ip_max > lim.conn_max)
		lim.conn_per_ip_max = lim.conn_max;
	s->cb = cb;
	s->arg = arg;
	s->conn_memory = lim.conn_memory;
	if ((s->lfd = httpd_listen(listen, &s->port, err, errlen)) < 0) {
		free(s);
		return NULL;
	}
	s->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, httpd_access, s,
				MHD_OPTION_LISTEN_SOCKET, s->lfd,
				MHD_OPTION_CONNECTION_LIMIT, lim.conn_max,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim.conn_per_ip_max,
				MHD_OPTION_CONNECTION_TIMEOUT, lim.timeout_s,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, lim.conn_memory,
				MHD_OPTION_THREAD_POOL_SIZE, lim.threads > 1 ? lim.threads : 0,
				MHD_OPTION_URI_LOG_CALLBACK, httpd_uri_log, (void *)NULL,
				MHD_OPTION_NOTIFY_COMPLETED, httpd_req_done, (void *)NULL,
				MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "'%s': libmicrohttpd could not start", listen);
		close(s->lfd);
		free(s);
		return NULL;
	}
	return s;
}

int httpd_port(const struct httpd *s)
{
	return s->port;
}

uint64_t httpd_nul_refused_count(const struct httpd *s)
{
	return __atomic_load_n(&s->nul_refused, __ATOMIC_RELAXED);
}

void httpd_stop(struct httpd *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	close(s->lfd);
	free(s);
}
