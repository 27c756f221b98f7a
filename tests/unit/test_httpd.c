/* Tests of the shared HTTP server (common/httpd.c): a request whose header
 * name or value holds a NUL byte is refused 400 and counted, not cut short. */
#include "httpd.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Answers 200 to every request that reaches it. */
static int t_echo(struct httpd_req *req, const char *path, char **body, size_t *len,
		  const char **type, void *arg)
{
	(void)req;
	(void)path;
	(void)type;
	(void)arg;
	*body = strdup("ok\n");
	*len = 3;
	return 200;
}

/* Send n bytes of req, return the status of the reply (0 if none). */
static int t_status(int port, const char *req, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 3 };
	char resp[256] = "";
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;

	cr_assert(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(write(fd, req, n), (ssize_t)n);
	r = read(fd, resp, sizeof(resp) - 1);
	close(fd);
	if (r > 0 && sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		status = 0;
	return status;
}

#define T_REQ(s) { s, sizeof(s) - 1 }

/* A NUL in a header value (middle, end, last header, after blanks, bare LF
 * line ends) is a 400, counted once each; the same requests
 * without the NUL, with bare LF line ends, blanks or no headers at all are
 * answered 200 (the check does not misfire). */
Test(httpd, header_with_nul_byte_gets_400_and_is_counted)
{
	static const struct { const char *s; size_t n; } bad[] = {
		T_REQ("GET / HTTP/1.1\r\nX-Key: ab\0cd\r\nHost: x\r\nConnection: close\r\n\r\n"),
		T_REQ("GET / HTTP/1.1\r\nHost: x\r\nX-Key: ab\0\r\nConnection: close\r\n\r\n"),
		T_REQ("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Key: ab\0cd\r\n\r\n"),
		T_REQ("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Key: ab\0\0\0\0\0\0cd\r\n\r\n"),
		T_REQ("GET / HTTP/1.1\r\nHost: x\r\nX-Key:  \0abcd\r\nConnection: close\r\n\r\n"),
		T_REQ("GET / HTTP/1.1\nHost: x\nX-Key: ab\0cd\nConnection: close\n\n"),
	};
	static const struct { const char *s; size_t n; } good[] = {
		T_REQ("GET / HTTP/1.1\r\nX-Key: abcd\r\nHost: x\r\nConnection: close\r\n\r\n"),
		T_REQ("GET / HTTP/1.1\nHost: x\nX-Key: ab cd \t\nConnection: close\n\n"),
		T_REQ("GET / HTTP/1.1\r\nHost: x\r\nX-Key:\r\nConnection: close\r\n\r\n"),
		T_REQ("GET /?a=%00b HTTP/1.0\r\n\r\n"),
	};
	static const char name_nul[] =
		"GET / HTTP/1.1\r\nHost: x\r\nX-K\0ey: abcd\r\nConnection: close\r\n\r\n";
	char err[256];
	struct httpd *h = httpd_start("127.0.0.1:0", NULL, t_echo, NULL, err, sizeof(err));

	cr_assert_not_null(h, "%s", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(t_status(httpd_port(h), bad[i].s, bad[i].n), 400,
			     "request %zu with a NUL in a header was not refused", i);
		cr_expect_eq(httpd_nul_refused_count(h), i + 1, "request %zu not counted", i);
	}
	/* a NUL in a name hides its ':', which libmicrohttpd refuses itself */
	cr_expect_eq(t_status(httpd_port(h), name_nul, sizeof(name_nul) - 1), 400);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect_eq(t_status(httpd_port(h), good[i].s, good[i].n), 200,
			     "clean request %zu was refused", i);
	cr_expect_eq(httpd_nul_refused_count(h), sizeof(bad) / sizeof(bad[0]), "counted %llu",
		     (unsigned long long)httpd_nul_refused_count(h));
	httpd_stop(h);
}
