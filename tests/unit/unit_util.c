/* Helpers the unit tests share (unit_util.h): scratch paths, store
 * removal, stdout capture of a command, a wire client over loopback. */
#include "unit_util.h"
#include "inventory.h"
#include "observations.h"
#include "server.h"
#include "sim.h"
#include "store.h"
#include "wire.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

void unit_tmp_path(char *buf, size_t buflen, const char *tag, const char *suffix)
{
	snprintf(buf, buflen, "/tmp/fm-%s-%d%s", tag, (int)getpid(), suffix);
}

void unit_dir_remove(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

void unit_scratch_make(struct unit_scratch *s, const char *tag)
{
	unit_tmp_path(s->dir, sizeof(s->dir), tag, "");
	unit_dir_remove(s->dir);
	cr_assert_eq(mkdir(s->dir, 0755), 0, "%s", s->dir);
	snprintf(s->db, sizeof(s->db), "%s/fm.db", s->dir);
	snprintf(s->inv, sizeof(s->inv), "%s/inv", s->dir);
	snprintf(s->out, sizeof(s->out), "%s/out", s->dir);
	snprintf(s->hook, sizeof(s->hook), "%s/hook", s->dir);
	snprintf(s->obs, sizeof(s->obs), "%s/obs", s->dir);
}

struct unit_scratch unit_dir;

void unit_dir_setup(void)
{
	unit_scratch_make(&unit_dir, "unit");
}

void unit_dir_teardown(void)
{
	unit_dir_remove(unit_dir.dir);
}

void unit_db_remove(const char *db_path)
{
	char p[512];

	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
}

char *unit_file_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

void unit_file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	cr_assert_geq(fputs(text, f), 0, "%s", path);
	cr_assert_eq(fclose(f), 0, "%s", path);
}

void unit_text_has_all(const char *text, const char *const *needles)
{
	for (; *needles; needles++)
		cr_expect(strstr(text, *needles), "no \"%s\" in: %s", *needles, text);
}

/* Point stdout at path (NULL: /dev/null); returns the saved stdout. */
static int unit_stdout_to(const char *path)
{
	int fd, saved;

	fflush(stdout);
	saved = dup(1);
	fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : open("/dev/null", O_WRONLY);
	cr_assert(fd >= 0 && saved >= 0);
	dup2(fd, 1);
	close(fd);
	optind = 0; /* getopt_long state is global; each command restarts it */
	return saved;
}

static void unit_stdout_restore(int saved)
{
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
}

int unit_stdout_quiet(int (*cmd)(int, char **), int argc, char **argv)
{
	int saved = unit_stdout_to(NULL), rc = cmd(argc, argv);

	unit_stdout_restore(saved);
	return rc;
}

int unit_stdout_capture(const char *out_path, int (*cmd)(int, char **), int argc, char **argv,
			char **text)
{
	int saved = unit_stdout_to(out_path), rc = cmd ? cmd(argc, argv) : -1;

	unit_stdout_restore(saved);
	*text = unit_file_read(out_path);
	return rc;
}

int unit_tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

void unit_send_all(int fd, const void *p, size_t len)
{
	cr_assert_eq(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

void unit_send_frame(int fd, uint8_t *buf, size_t len)
{
	unit_send_all(fd, buf, len);
	free(buf);
}

int unit_recv_all(int fd, uint8_t *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, p + got, len - got, 0);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

int unit_recv_frame(int fd, uint8_t *frame, size_t cap, size_t *frame_len)
{
	char err[128];
	uint32_t plen;
	int type;

	if (unit_recv_all(fd, frame, 16) < 0)
		return -1;
	cr_assert_eq(wire_header_decode(frame, 16, &type, &plen, err, sizeof(err)), 0, "%s", err);
	cr_assert(16 + plen <= cap);
	if (unit_recv_all(fd, frame + 16, plen) < 0)
		return -1;
	*frame_len = 16 + plen;
	return type;
}

void unit_collector_store_open(struct unit_collector *c, const char *tag)
{
	char err[512];

	snprintf(c->dir, sizeof(c->dir), "/tmp/fm-test-%s-XXXXXX", tag);
	cr_assert_not_null(mkdtemp(c->dir));
	snprintf(c->db_path, sizeof(c->db_path), "%s/fm.db", c->dir);
	c->store = store_open("sqlite", c->db_path, err, sizeof(err));
	cr_assert_not_null(c->store, "%s", err);
}

void unit_collector_serve(struct unit_collector *c, struct server_cfg *cfg)
{
	char err[512];

	cfg->listen = "127.0.0.1:0";
	cfg->store = c->store;
	if (!cfg->raw_keep_ms)
		cfg->raw_keep_ms = 7 * 86400000LL;
	if (!cfg->rollup_keep_ms)
		cfg->rollup_keep_ms = 36500 * 86400000LL;
	if (!cfg->idle_timeout_ms)
		cfg->idle_timeout_ms = 60000;
	if (!cfg->max_conns)
		cfg->max_conns = 64;
	c->server = server_create(cfg, err, sizeof(err));
	cr_assert_not_null(c->server, "%s", err);
	unit_collector_run(c);
}

static void *unit_collector_main(void *arg)
{
	struct unit_collector *c = arg;
	char err[256];

	c->rc = server_run(c->server, err, sizeof(err));
	return NULL;
}

void unit_collector_run(struct unit_collector *c)
{
	cr_assert_eq(pthread_create(&c->thread, NULL, unit_collector_main, c), 0);
}

void unit_collector_pause(struct unit_collector *c)
{
	server_stop(c->server);
	pthread_join(c->thread, NULL);
}

void unit_collector_stop(struct unit_collector *c)
{
	unit_collector_pause(c);
	cr_assert_eq(c->rc, 0);
	server_destroy(c->server);
	store_close(c->store);
	unit_dir_remove(c->dir);
}

int unit_collector_connect(const struct unit_collector *c)
{
	return unit_tcp_connect(server_port(c->server));
}

long long unit_sim_read(const struct sim_cfg *cfg, struct obs_set *obs, struct inventory *inv,
			char **truth)
{
	struct unit_scratch d;
	char err[512], pt[128];
	long long placed;
	FILE *fo, *fi, *ft;

	unit_scratch_make(&d, "sim");
	snprintf(pt, sizeof(pt), "%s/truth", d.dir);
	fo = fopen(d.obs, "w");
	fi = fopen(d.inv, "w");
	ft = fopen(pt, "w");
	cr_assert(fo && fi && ft);
	cr_assert_eq(sim_run(cfg, fo, fi, ft, &placed, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fclose(fo) | fclose(fi) | fclose(ft), 0);
	cr_assert_eq(obs_set_file_read(obs, d.obs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(inventory_file_read(inv, d.inv, err, sizeof(err)), 0, "%s", err);
	*truth = unit_file_read(pt);
	unit_dir_remove(d.dir);
	return placed;
}

void unit_udp_flow_fill(struct wire_flow *f, const char *src, const char *dst, uint16_t sport,
			uint32_t sent, uint32_t lost_fwd, uint32_t lost_rev)
{
	memset(f, 0, sizeof(*f));
	cr_assert_eq(wire_addr_parse(src, &f->src), 0, "%s", src);
	cr_assert_eq(wire_addr_parse(dst, &f->dst), 0, "%s", dst);
	f->proto = WIRE_PROTO_UDP;
	f->sport = sport;
	f->dport = 31338;
	f->sent = sent;
	f->lost_fwd = lost_fwd;
	f->lost_rev = lost_rev;
	f->received = sent - lost_fwd - lost_rev;
}

void unit_bad_texts_check(const struct unit_bad_text *cases, size_t n, const char *name,
			  unit_parse_fn parse)
{
	for (size_t i = 0; i < n; i++) {
		char err[256] = "";

		cr_expect_lt(parse(cases[i].text, strlen(cases[i].text), name, err, sizeof(err)), 0,
			     "case %zu accepted", i);
		cr_expect(strstr(err, cases[i].want), "case %zu: '%s' lacks '%s'", i, err,
			  cases[i].want);
	}
}
