/* A prober whose targets list holds its own address says so, once: such a
 * target crosses no link (the lab's h1 -> h1 pairs came from that). */
#include "log.h"
#include "probe.h"
#include "targets_source.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(prober_self_target, own_address_in_the_list_is_warned_once)
{
	char path[64], log[64], text[4096] = "";
	struct targets_source_cfg cfg = { 0 };
	struct targets_source *s;
	struct target_spec *t = NULL;
	volatile sig_atomic_t stop = 0;
	char err[256];
	size_t n = 0;
	int fd, saved;
	FILE *f;

	unit_tmp_path(path, sizeof(path), "self", ".targets");
	unit_tmp_path(log, sizeof(log), "self", ".log");
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "# faultmesh targets v1\n127.0.0.1\n127.0.0.1 port=31339\n");
	fclose(f);
	cfg.file = path;
	cfg.def.flows = 4;
	cfg.def.rate_pps = 10;
	cfg.def.port = 31338;
	cfg.def.kind = &probe_udp_ops;
	log_init("test", LOG_INFO);
	s = targets_source_open(&cfg);
	cr_assert_not_null(s);
	fflush(stderr);
	saved = dup(2);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	cr_assert_eq(targets_source_first(s, &stop, &t, &n, err, sizeof(err)), 0, "%s", err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(log, "r");
	cr_assert_not_null(f);
	cr_assert_gt(fread(text, 1, sizeof(text) - 1, f), 0, "no warning at all");
	fclose(f);
	unlink(log);
	unlink(path);
	cr_assert(strstr(text, "target '127.0.0.1' is this host's own address"), "%s", text);
	cr_assert(strstr(strstr(text, "own address") + 1, "own address") == NULL,
		  "warned twice: %s", text);
	free(t);
	targets_source_close(s);
}
