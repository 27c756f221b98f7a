/* triangulate serve: options, then the server until SIGINT or SIGTERM. */
#include "serve.h"
#include "cmd.h"

#include "opts.h"
#include "query.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static const struct opt_spec serve_opts[] = {
	{ "listen", 'l', OPT_STR, offsetof(struct serve_cfg, listen), 0, 0,
	  "127.0.0.1:8080", "ADDR:PORT", "answer HTTP here ([v6]:PORT for IPv6; port 0: any)" },
	CMD_STORE_OPTS(struct serve_cfg, db, CMD_STORE_HELP),
	{ "inventory", 0, OPT_STR, offsetof(struct serve_cfg, inventory), 0, 0, NULL,
	  "FILE", "inventory file mapping addresses to device names (default: the one loaded into the store)" },
	{ "window", 'w', OPT_MS, offsetof(struct serve_cfg, window_ms), 5000,
	  86400e3, "2m", "DURATION", "the heatmap and suspects cover this last stretch" },
	{ "slice", 0, OPT_MS, offsetof(struct serve_cfg, slice_ms), 0, 86400e3, "0",
	  "DURATION", "timeline slice of the window (0: a twelfth of it)" },
	{ "since", 's', OPT_MS, offsetof(struct serve_cfg, since_ms), 60e3,
	  7 * 86400e3, "1h", "DURATION", "device and link pages look back this far" },
	{ "refresh", 0, OPT_MS, offsetof(struct serve_cfg, refresh_ms), 500,
	  3600e3, "5s", "DURATION", "gather the window again this often" },
	{ "down-after", 0, OPT_MS, offsetof(struct serve_cfg, down_after_ms), 1e3,
	  86400e3, "1m", "DURATION", "a prober that sent nothing this long is down" },
	{ "until", 0, OPT_INT, offsetof(struct serve_cfg, until_ms), 0, 1e15, "0",
	  "UNIX_MS", "a fixed end of the window in Unix ms, for a replay (0: now)" },
	{ "conn-max", 0, OPT_INT, offsetof(struct serve_cfg, conn_max), 1, 1024, "64",
	  "N", "open HTTP connections at once" },
	{ "timeout", 0, OPT_MS, offsetof(struct serve_cfg, timeout_ms), 1000, 600e3,
	  "10s", "DURATION", "close an HTTP connection idle this long" },
};

static volatile sig_atomic_t serve_stop_sig;

static void serve_signal_handle(int sig)
{
	serve_stop_sig = sig;
}

static const struct opts_cmd serve_cmd =
	OPTS_CMD("triangulate serve",
		 "triangulate serve --db FILE [--listen 127.0.0.1:8080] [--inventory FILE] "
		 "[--window 2m]",
		 "Serve the fabric page live: the heatmap and suspects of the last "
		 "window, refreshed from the database; a page per device and per "
		 "link with its loss over time; the same as JSON under /api/.",
		 serve_opts);

int cmd_serve(int argc, char **argv)
{
	struct serve_cfg cfg = { 0 };
	struct sigaction sa = { 0 };
	sigset_t stop, old;
	struct serve *s;
	char err[1024];
	int rc, idx = opts_cmd_parse(&serve_cmd, &cfg, argc, argv, &rc);

	if (idx < 0)
		return rc;
	if (!cfg.db || idx != argc)
		return opts_cmd_usage_fail(&serve_cmd);
	sa.sa_handler = serve_signal_handle;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* blocked here and in every thread the server starts; only the wait
	 * below takes them, so none is lost between the check and the wait */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	if (!(s = serve_start(&cfg, err, sizeof(err)))) {
		fprintf(stderr, "triangulate serve: %s\n", err);
		return 1;
	}
	printf("triangulate serve: listening on %s, port %d\n", cfg.listen, serve_port(s));
	fflush(stdout);
	while (!serve_stop_sig)
		sigsuspend(&old);
	serve_stop(s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}
