/* webhook_sink: a loopback HTTP receiver for lab tests; appends each POST body
 * as one line to a file and answers 200, so a test can read what Alertmanager
 * notified (firing and resolved). Runs until SIGTERM. */
#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_REQ_MAX (1 << 20)

struct sink_cfg {
	long long port;    /* loopback TCP port to listen on */
	const char *out;   /* file the bodies are appended to */
	const char *ready; /* created once listening */
};

static const struct opt_spec sink_opts[] = {
	{ "port", 'p', OPT_INT, offsetof(struct sink_cfg, port), 1, 65535, NULL, "PORT",
	  "127.0.0.1 port to listen on (required)" },
	{ "out", 'o', OPT_STR, offsetof(struct sink_cfg, out), 0, 0, NULL, "FILE",
	  "append each request body to FILE, one per line (required)" },
	{ "ready", 0, OPT_STR, offsetof(struct sink_cfg, ready), 0, 0, NULL, "FILE",
	  "create FILE once listening" },
};

static volatile sig_atomic_t sink_stop;

static void sink_signal(int sig)
{
	(void)sig;
	sink_stop = 1;
}

/* Read one request; returns its body (in buf) and length, or -1. */
static long sink_request_read(int fd, char *buf, size_t cap, char **body)
{
	size_t got = 0;

	for (;;) {
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		char *hend, *cl;

		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = 0;
		hend = strstr(buf, "\r\n\r\n");
		if (!hend)
			continue;
		cl = strcasestr(buf, "content-length:");
		*body = hend + 4;
		if (!cl || cl > hend)
			return 0;
		if (got >= (size_t)(*body - buf) + strtoul(cl + 15, NULL, 10))
			return (long)strtoul(cl + 15, NULL, 10);
		if (got == cap - 1)
			return -1;
	}
}

int main(int argc, char **argv)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	struct sink_cfg cfg = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sigaction act = { .sa_handler = sink_signal };
	char err[256], *buf = malloc(SINK_REQ_MAX), *body;
	int rc = opts_parse(sink_opts, OPTS_LEN(sink_opts), &cfg, argc, argv, err, sizeof(err));
	int lfd, one = 1;
	FILE *f;

	rc = opts_main_result(rc, "webhook_sink", "webhook_sink --port PORT --out FILE",
			      "Append every POSTed body to a file (lab tests).", sink_opts,
			      OPTS_LEN(sink_opts), err);
	if (rc >= 0)
		return rc;
	if (!cfg.port || !cfg.out || !buf) {
		fprintf(stderr, "webhook_sink: --port and --out are required\n");
		return 2;
	}
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	sa.sin_port = htons((uint16_t)cfg.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		fprintf(stderr, "webhook_sink: 127.0.0.1:%lld: %s\n", cfg.port, strerror(errno));
		return 1;
	}
	if (cfg.ready && (f = fopen(cfg.ready, "w")))
		fclose(f);
	while (!sink_stop) {
		int fd = accept(lfd, NULL, NULL);
		long n;

		if (fd < 0)
			continue; /* EINTR on SIGTERM ends the loop above */
		n = sink_request_read(fd, buf, SINK_REQ_MAX, &body);
		if (n >= 0 && (f = fopen(cfg.out, "a"))) {
			fwrite(body, 1, (size_t)n, f);
			fputc('\n', f);
			fclose(f);
		}
		if (write(fd, ok, sizeof(ok) - 1) < 0)
			fprintf(stderr, "webhook_sink: reply: %s\n", strerror(errno));
		close(fd);
	}
	close(lfd);
	free(buf);
	return 0;
}
