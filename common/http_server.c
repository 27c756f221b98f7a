/* A minimal HTTP/1.1 GET server on its own thread: one short connection at a
 * time, each bounded by a deadline, so a slow scraper cannot stall the owner
 * (the collector's ingest loop runs on another thread and never waits here). */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_REQ_MAX 4096       /* request head; longer ones get 431 */
#define HTTP_CONN_TIMEOUT_MS 2000 /* whole request/response exchange */

struct http_server {
	int lfd, port;
	int wake[2]; /* a byte on wake[1] stops the thread */
	http_get_cb cb;
	void *arg;
	pthread_t thread;
};

static long long http_server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int http_listen_open(const char *spec, int *port, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':'), *h = host;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV },
			*res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	int fd, one = 1, rc;

	if (!colon || colon == spec || (hl = (size_t)(colon - spec)) >= sizeof(host)) {
		snprintf(err, errlen, "'%s': expected ADDR:PORT", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		h = host + 1;
	}
	rc = getaddrinfo(h, colon + 1, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "'%s': %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "'%s': %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	*port = ss.ss_family == AF_INET6
			? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
			: ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* Wait for fd to be ready until the deadline; 0 ready, -1 timeout/error. */
static int http_server_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left = deadline_ms - http_server_now_ms();

	if (left <= 0)
		return -1;
	return poll(&p, 1, (int)left) == 1 ? 0 : -1;
}

static void http_reply(int fd, int status, const char *ctype, const char *body,
		       size_t len, long long deadline_ms)
{
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" :
			     status == 405 ? "Method Not Allowed" :
			     status == 400 ? "Bad Request" :
			     status == 431 ? "Request Header Fields Too Large" :
					     "Internal Server Error";
	char head[256];
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, reason, ctype, len);
	struct iovec_part {
		const char *p;
		size_t n;
	} parts[2] = { { head, (size_t)hl }, { body, len } };

	for (int i = 0; i < 2; i++) {
		while (parts[i].n) {
			ssize_t w = send(fd, parts[i].p, parts[i].n,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0) {
				parts[i].p += w;
				parts[i].n -= (size_t)w;
			} else if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				   http_server_wait(fd, POLLOUT, deadline_ms) < 0) {
				return;
			}
		}
	}
}

static void http_conn_serve(struct http_server *s, int fd)
{
	long long deadline_ms = http_server_now_ms() + HTTP_CONN_TIMEOUT_MS;
	char req[HTTP_REQ_MAX + 1], method[8], path[1024];
	const char *ctype = "text/plain; charset=utf-8";
	size_t got = 0;
	char *body = NULL;
	size_t len = 0;
	int status;

	req[0] = 0;
	while (!strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
		ssize_t r;

		if (got == HTTP_REQ_MAX) {
			http_reply(fd, 431, ctype, "", 0, deadline_ms);
			return;
		}
		if (http_server_wait(fd, POLLIN, deadline_ms) < 0)
			return;
		r = recv(fd, req + got, HTTP_REQ_MAX - got, MSG_DONTWAIT);
		if (r == 0)
			return;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return;
		}
		got += (size_t)r;
		req[got] = 0;
	}
	if (sscanf(req, "%7s %1023s HTTP/1.%*d", method, path) != 2) {
		http_reply(fd, 400, ctype, "", 0, deadline_ms);
		return;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		http_reply(fd, 405, ctype, "", 0, deadline_ms);
		return;
	}
	status = s->cb(path, &body, &len, &ctype, s->arg);
	if (status < 0) {
		status = 500;
		free(body);
		body = NULL;
		len = 0;
	}
	/* HEAD: same headers, no body */
	http_reply(fd, status, ctype, body ? body : "",
		   strcmp(method, "HEAD") ? len : 0, deadline_ms);
	free(body);
}

static void *http_server_main(void *arg)
{
	struct http_server *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN },
				       { .fd = s->wake[0], .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* a peer gone before accept, or EMFILE: try later */
		http_conn_serve(s, fd);
		close(fd);
	}
	return NULL;
}

struct http_server *http_server_start(const char *listen, http_get_cb cb,
				      void *arg, char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cb = cb;
	s->arg = arg;
	s->wake[0] = s->wake[1] = -1;
	s->lfd = http_listen_open(listen, &s->port, err, errlen);
	if (s->lfd < 0)
		goto err;
	if (pipe2(s->wake, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto err;
	}
	if ((errno = pthread_create(&s->thread, NULL, http_server_main, s))) {
		snprintf(err, errlen, "thread: %s", strerror(errno));
		goto err;
	}
	return s;
err:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	free(s);
	return NULL;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	ssize_t w;

	if (!s)
		return;
	/* the pipe is ours and empty, so this one byte always fits */
	w = write(s->wake[1], "x", 1);
	(void)w;
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	free(s);
}
