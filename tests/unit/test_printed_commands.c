/* Every command an alert prints works as printed: a watch over a synthetic
 * fabric database with a faulty link fires; each command of its hook JSON
 * (and of the Alertmanager body built from the same alert) is split into
 * words and run through triangulate's command table, with no inventory flag
 * (the watch put its inventory in the store). */
#include "alert_sink.h"
#include "cmd.h"
#include "synth_db.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* Run one printed command line; returns its exit code, output in *text. */
static int t_command_run(const char *line, char **text)
{
	char buf[8192], *argv[32], *save = NULL;
	int argc = 0;
	int (*run)(int, char **) = NULL;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok_r(buf, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	cr_assert_geq(argc, 2, "%s", line);
	cr_assert_str_eq(argv[0], "triangulate", "%s", line);
	for (const struct cmd *c = cmd_table; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			run = c->run;
	return unit_stdout_capture(unit_dir.out, run, argc - 1, argv + 1, text);
}

/* The strings of the JSON array "name": [...] in s, one per line (no
 * escapes expected in commands of plain paths). */
static size_t t_json_strings(const char *s, const char *name, char out[][512], size_t max)
{
	char key[64];
	const char *p;
	size_t n = 0;

	snprintf(key, sizeof(key), "\"%s\": [", name);
	p = strstr(s, key);
	cr_assert_not_null(p, "no %s in %s", name, s);
	p += strlen(key);
	while (n < max && *p == '"') {
		const char *e = strchr(p + 1, '"');

		snprintf(out[n++], 512, "%.*s", (int)(e - p - 1), p + 1);
		p = e + 1;
		if (!strncmp(p, ", ", 2))
			p += 2;
	}
	return n;
}

Test(printed_commands, every_command_of_a_fired_alert_runs_as_printed, .fini = unit_dir_teardown)
{
	struct synth_db_cfg cfg;
	struct timespec ts;
	char err[256], hook[128], line[8192] = "", cmds[8][512], *text;
	char *argv[] = { "watch", "--db", unit_dir.db, "--inventory", unit_dir.inv, "--hook", hook,
			 "--rounds=2", "--interval=200ms", "--timer", NULL };
	int64_t now_ms;
	size_t n;
	FILE *f;

	unit_dir_setup();
	snprintf(hook, sizeof(hook), "cat >> %s", unit_dir.hook);
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	synth_db_cfg_default(&cfg);
	cfg.spines = 3;
	cfg.interval_ms = 10000;
	cfg.intervals = 10;
	cfg.start_ms = now_ms - 100000;
	cfg.fault_from = "spine2";
	cfg.fault_to = "leaf3";
	cfg.fault_loss_ratio = 0.03;
	cfg.fault_start_ms = now_ms - 50000;
	cfg.fault_end_ms = now_ms + 60000;
	cr_assert_gt(synth_db_write(unit_dir.db, unit_dir.inv, &cfg, err, sizeof(err)), 0, "%s", err);
	optind = 0;
	cr_assert_eq(cmd_watch(10, argv), 0);
	f = fopen(unit_dir.hook, "r");
	cr_assert_not_null(f, "the watch fired nothing");
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	n = t_json_strings(line, "commands", cmds, 8);
	cr_assert_eq(n, 3, "%s", line);
	for (size_t i = 0; i < n; i++) {
		int rc = t_command_run(cmds[i], &text);

		cr_assert_eq(rc, 0, "'%s' exited %d: %s", cmds[i], rc, text);
		if (!strncmp(cmds[i], "triangulate link spine2 leaf3 ", 30))
			cr_assert(strstr(text, "link spine2 -> leaf3: dropping"), "'%s': %s", cmds[i],
				  text);
		if (!strncmp(cmds[i], "triangulate localize ", 21))
			cr_assert(strstr(text, "spine2 -> leaf3"), "'%s': %s", cmds[i], text);
		free(text);
	}
}
