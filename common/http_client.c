/* One HTTP/1.1 POST with Connection: close, bounded by a deadline: enough to
 * deliver alerts to Alertmanager without a library dependency. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int http_url_parse(const char *url, char *host, size_t hostlen, char *port,
		   size_t portlen, char *path, size_t pathlen)
{
	const char *p, *hend, *pstart;
	size_t n;

	if (strncmp(url, "http://", 7)) {
		errno = EINVAL;
		return -1;
	}
	p = url + 7;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend) {
			errno = EINVAL;
			return -1;
		}
		n = (size_t)(hend - p - 1);
		p++;
		hend++;
	} else {
		hend = p + strcspn(p, ":/");
		n = (size_t)(hend - p);
	}
	if (!n || n >= hostlen) {
		errno = EINVAL;
		return -1;
	}
	memcpy(host, p, n);
	host[n] = 0;
	if (*hend == ':') {
		pstart = hend + 1;
		n = strcspn(pstart, "/");
		if (!n || n >= portlen || strspn(pstart, "0123456789") != n) {
			errno = EINVAL;
			return -1;
		}
		memcpy(port, pstart, n);
		port[n] = 0;
		hend = pstart + n;
	} else if (*hend == '/' || !*hend) {
		snprintf(port, portlen, "80");
	} else {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(path, pathlen, "%s", *hend ? hend : "/") >= (int)pathlen) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static long long http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline; 0, or -1 on timeout/error. */
static int http_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int rc;

	for (;;) {
		left = deadline_ms - http_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int http_connect(const char *host, const char *port,
			long long deadline_ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, gai, soerr, e;
	socklen_t sl = sizeof(soerr);

	gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(gai));
		return -1;
	}
	snprintf(err, errlen, "connect %s:%s: no usable address", host, port);
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		if (e == EINPROGRESS) {
			soerr = 0;
			if (http_wait(fd, POLLOUT, deadline_ms) < 0 ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				e = errno;
			else if (soerr)
				e = soerr;
			else
				break;
		}
		snprintf(err, errlen, "connect %s:%s: %s", host, port, strerror(e));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int http_send_all(int fd, const char *buf, size_t len, long long deadline_ms)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);

		if (w > 0) {
			buf += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (http_wait(fd, POLLOUT, deadline_ms) < 0)
			return -1;
	}
	return 0;
}

int http_post(const char *base_url, const char *path, const char *content_type,
	      const char *body, size_t body_len, int timeout_ms, char *err,
	      size_t errlen)
{
	char host[256], port[16], upath[512], full[1024], head[1536], resp[512];
	long long deadline_ms = http_now_ms() + timeout_ms;
	size_t got = 0;
	int fd, hl, status;

	if (http_url_parse(base_url, host, sizeof(host), port, sizeof(port), upath,
			   sizeof(upath)) < 0) {
		snprintf(err, errlen, "bad URL '%s' (want http://HOST[:PORT][/PATH])",
			 base_url);
		return -1;
	}
	/* "http://am:9093" + "/api/v2/alerts"; "http://x/prefix" + path appended */
	snprintf(full, sizeof(full), "%s%s",
		 strcmp(upath, "/") ? upath : "", path ? path : "");
	if (!full[0])
		snprintf(full, sizeof(full), "/");
	fd = http_connect(host, port, deadline_ms, err, errlen);
	if (fd < 0)
		return -1;
	hl = snprintf(head, sizeof(head),
		      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: faultmesh\r\n"
		      "Content-Type: %s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n",
		      full, host, port, content_type, body_len);
	if (hl < 0 || hl >= (int)sizeof(head)) {
		snprintf(err, errlen, "request header too long");
		goto err;
	}
	if (http_send_all(fd, head, (size_t)hl, deadline_ms) < 0 ||
	    http_send_all(fd, body, body_len, deadline_ms) < 0) {
		snprintf(err, errlen, "send to %s:%s: %s", host, port, strerror(errno));
		goto err;
	}
	/* only the status line matters; read until it is complete */
	while (got < sizeof(resp) - 1 && !memchr(resp, '\n', got)) {
		ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "recv from %s:%s: %s", host, port,
				 strerror(errno));
			goto err;
		}
		if (http_wait(fd, POLLIN, deadline_ms) < 0) {
			snprintf(err, errlen, "no response from %s:%s: %s", host,
				 port, strerror(errno));
			goto err;
		}
	}
	resp[got] = 0;
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || status < 100 ||
	    status > 599) {
		snprintf(err, errlen, "malformed response from %s:%s", host, port);
		goto err;
	}
	close(fd);
	return status;
err:
	close(fd);
	return -1;
}
