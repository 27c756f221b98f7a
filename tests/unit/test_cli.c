/* The command line as a whole: one option letter means one thing across
 * every triangulate command (and the prober and collector), read from what
 * each --help prints. */
#include "cmd.h"
#include "unit_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct t_letters {
	char long_name[128][40]; /* by letter */
	char where[128][40];
};

/* Note each "-x, --name" line of a --help text. */
static void t_letters_note(struct t_letters *t, const char *help, const char *who)
{
	for (const char *p = help; (p = strstr(p, "\n  -")); p++) {
		char c = p[4];
		char name[40];

		if (p[5] != ',' || sscanf(p + 6, " --%39[a-z-]", name) != 1)
			continue;
		cr_assert(!t->long_name[(int)c][0] || !strcmp(t->long_name[(int)c], name),
			  "-%c is --%s in %s but --%s in %s", c, t->long_name[(int)c],
			  t->where[(int)c], name, who);
		snprintf(t->long_name[(int)c], sizeof(t->long_name[0]), "%s", name);
		snprintf(t->where[(int)c], sizeof(t->where[0]), "%s", who);
	}
}

static char *t_help_of(const struct cmd *c)
{
	char path[64], *argv[] = { (char *)c->name, "--help", NULL }, *out, *text;

	unit_tmp_path(path, sizeof(path), "cli", ".txt");
	cr_assert_eq(unit_stdout_capture(path, c->run, 2, argv, &out), 0, "%s --help", c->name);
	unlink(path);
	cr_assert(asprintf(&text, "\n%s", out) >= 0);
	free(out);
	return text;
}

Test(cli, one_option_letter_means_one_thing_in_every_command)
{
	static struct t_letters t;
	const char *bin = getenv("FM_BIN") ? getenv("FM_BIN") : "bin";
	int commands = 0;

	for (const struct cmd *c = cmd_table; c->name; c++) {
		char *help = t_help_of(c);

		t_letters_note(&t, help, c->name);
		free(help);
		commands++;
	}
	cr_assert_gt(commands, 8);
	cr_assert_str_eq(t.long_name['i'], "inventory");
	/* the daemons too, when built */
	for (int k = 0; k < 2; k++) {
		const char *prog = k ? "collector" : "prober";
		char cmd[300], buf[16384] = "\n";
		size_t n;
		FILE *p;

		snprintf(cmd, sizeof(cmd), "%s/%s", bin, prog);
		if (access(cmd, X_OK) < 0)
			continue;
		snprintf(cmd, sizeof(cmd), "%s/%s --help", bin, prog);
		p = popen(cmd, "r");
		cr_assert_not_null(p);
		n = fread(buf + 1, 1, sizeof(buf) - 2, p);
		buf[n + 1] = 0;
		pclose(p);
		t_letters_note(&t, buf, prog);
	}
}
