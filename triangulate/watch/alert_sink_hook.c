/* The command hook sink: runs "sh -c CMD" per event with the alert's JSON on
 * stdin (one line), bounded by the delivery timeout, so any script can page,
 * open a ticket or drain a link without faultmesh knowing how. */
#include "alert_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int alert_sink_hook_wait(pid_t pid, int timeout_ms, int *status)
{
	struct timespec tick = { 0, 10 * 1000000 };

	for (int waited_ms = 0;; waited_ms += 10) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited_ms >= timeout_ms) {
			/* the whole group: a hook's own children must not linger */
			kill(-pid, SIGKILL);
			waitpid(pid, status, 0);
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&tick, NULL);
	}
}

static int alert_sink_hook_deliver(void *ctx, const struct alert_sink_env *env,
				   enum alert_event ev, const struct alert *a,
				   char *err, size_t errlen)
{
	const char *cmd = ctx;
	char *json = NULL;
	size_t len = 0, off = 0;
	FILE *mem = open_memstream(&json, &len);
	int fds[2], status = 0;
	pid_t pid;

	if (!mem) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (alert_json_write(mem, env, ev, a) < 0 || fputc('\n', mem) == EOF ||
	    fclose(mem) != 0) {
		free(json);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "hook: pipe: %s", strerror(errno));
		free(json);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "hook: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(json);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		dup2(fds[0], STDIN_FILENO);
		setenv("FM_ALERT_EVENT", alert_event_name(ev), 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* set in both processes, so the group exists whichever runs first */
	setpgid(pid, pid);
	close(fds[0]);
	/* a hook that exits without reading must not kill the watch (SIGPIPE is
	 * ignored by the caller); short JSON fits the pipe buffer at once */
	while (off < len) {
		ssize_t w = write(fds[1], json + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	close(fds[1]);
	free(json);
	if (alert_sink_hook_wait(pid, env->timeout_ms, &status) < 0) {
		snprintf(err, errlen, "hook '%s': %s", cmd,
			 errno == ETIMEDOUT ? "killed after the delivery timeout"
					    : strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "hook '%s' failed (status %d)", cmd,
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return -1;
	}
	return 0;
}

const struct alert_sink_ops alert_sink_hook_ops = {
	.name = "hook",
	.deliver = alert_sink_hook_deliver,
};
