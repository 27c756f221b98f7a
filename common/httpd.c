/* The GET server on libmicrohttpd: ADDR:PORT parsing, the bounds (connections,
 * idle timeout, memory per connection, threads) and the one answer path from
 * a callback's body to a response. */
#include "httpd.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HTTPD_CONN_MAX 64
#define HTTPD_TIMEOUT_S 10
#define HTTPD_THREADS 2
#define HTTPD_CONN_MEMORY (32u << 10) /* request head and buffers, per connection */

struct httpd {
	struct MHD_Daemon *d;
	httpd_get_cb cb;
	void *arg;
	int port;
};

struct httpd_req {
	struct MHD_Connection *c;
};

const char *httpd_req_arg(struct httpd_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->c, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned status,
				   char *body, size_t len, const char *type)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
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
				    size_t *upload_len, void **con_cls)
{
	struct httpd *s = cls;
	struct httpd_req req = { c };
	const char *type = "text/plain; charset=utf-8";
	char *body = NULL;
	size_t len = 0;
	int status;

	(void)version;
	(void)upload;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		*upload_len = 0; /* a body is not read, only refused */
		body = httpd_text("only GET and HEAD\n", &len);
		return httpd_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, body, len, type);
	}
	status = s->cb(&req, url, &body, &len, &type, s->arg);
	if (status < 0 || !body) {
		free(body);
		type = "text/plain; charset=utf-8";
		body = httpd_text("internal error\n", &len);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	return httpd_reply(c, (unsigned)status, body, len, type);
}

struct httpd *httpd_start(const char *listen, const struct httpd_limits *limits,
			  httpd_get_cb cb, void *arg, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const union MHD_DaemonInfo *info;
	const char *colon = strrchr(listen, ':'), *host_start = listen;
	unsigned conn_max = HTTPD_CONN_MAX, timeout_s = HTTPD_TIMEOUT_S,
		 threads = HTTPD_THREADS, flags = MHD_USE_INTERNAL_POLLING_THREAD;
	struct httpd *s;
	char host[256];
	size_t hl;
	int rc;

	if (!colon || colon == listen || !colon[1] ||
	    (hl = (size_t)(colon - listen)) >= sizeof(host)) {
		snprintf(err, errlen, "'%s': expected ADDR:PORT", listen);
		return NULL;
	}
	if (listen[0] == '[' && colon[-1] == ']') {
		host_start = listen + 1;
		hl -= 2;
	}
	memcpy(host, host_start, hl);
	host[hl] = '\0';
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "'%s': %s", listen, gai_strerror(rc));
		return NULL;
	}
	if (limits) {
		conn_max = limits->conn_max ? limits->conn_max : conn_max;
		timeout_s = limits->timeout_s ? limits->timeout_s : timeout_s;
		threads = limits->threads ? limits->threads : threads;
	}
	if (res->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!(s = calloc(1, sizeof(*s)))) {
		freeaddrinfo(res);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cb = cb;
	s->arg = arg;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, httpd_access, s,
				MHD_OPTION_SOCK_ADDR, res->ai_addr,
				MHD_OPTION_CONNECTION_LIMIT, conn_max,
				MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_CONN_MEMORY,
				MHD_OPTION_THREAD_POOL_SIZE, threads,
				MHD_OPTION_END);
	freeaddrinfo(res);
	if (!s->d) {
		snprintf(err, errlen, "%s: cannot listen (address in use or not local?)",
			 listen);
		free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return s;
}

int httpd_port(const struct httpd *s)
{
	return s->port;
}

void httpd_stop(struct httpd *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
