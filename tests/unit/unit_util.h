/* Helpers the unit tests share: scratch paths under /tmp, removing a
 * store with its SQLite side files, running a command with its stdout
 * captured, and a wire-protocol client over loopback. Linked into every unit test (Makefile: UNIT_UTIL). */
#ifndef FM_TESTS_UNIT_UTIL_H
#define FM_TESTS_UNIT_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct inventory;
struct obs_set;
struct server_cfg;
struct sim_cfg;
struct wire_flow;

/* "/tmp/fm-<tag>-<pid><suffix>" into buf. */
void unit_tmp_path(char *buf, size_t buflen, const char *tag, const char *suffix);

/* A scratch directory for a test's store, inventory and output files. */
struct unit_scratch {
	char dir[64]; /* /tmp/fm-<tag>-<pid> */
	char db[96];  /* DIR/fm.db */
	char inv[96]; /* DIR/inv */
	char out[96]; /* DIR/out: a command's captured output */
	char hook[96]; /* DIR/hook: what an alert hook wrote */
	char obs[96]; /* DIR/obs: an observations file */
};

/* Make the directory (emptied first if a crashed run left it) and name the
 * files in it. */
void unit_scratch_make(struct unit_scratch *s, const char *tag);

/* One scratch directory per test as Criterion fixtures: unit_dir_setup
 * makes unit_dir (tag "unit"), unit_dir_teardown removes it. */
extern struct unit_scratch unit_dir;
void unit_dir_setup(void);
void unit_dir_teardown(void);

/* Remove a directory and everything in it (asserted). */
void unit_dir_remove(const char *dir);

/* Unlink a store file and its -wal and -shm files. */
void unit_db_remove(const char *db_path);

/* The whole file at path (malloc'd, NUL ended); asserts it reads. */
char *unit_file_read(const char *path);

/* Write text to path, replacing it (asserted). */
void unit_file_write(const char *path, const char *text);

/* Expect every string of the NULL-ended needles in text; each one missing
 * fails the test, naming it and showing the text. UNIT_TEXT_HAS lists the
 * needles inline. */
void unit_text_has_all(const char *text, const char *const *needles);
#define UNIT_TEXT_HAS(text, ...) \
	unit_text_has_all((text), (const char *const[]){ __VA_ARGS__, NULL })

/* A text a parser must refuse, and what its error must contain. */
struct unit_bad_text {
	const char *text;
	const char *want; /* a substring of the error, e.g. "t.inv:3: bad" */
};

/* Parse text (len bytes) named name: 0, or -1 with the reason in err. */
typedef int (*unit_parse_fn)(const char *text, size_t len, const char *name, char *err,
			     size_t errlen);

/* Each case through parse, named name: every one refused, its error naming
 * what want says (the file and line, for the line formats). */
void unit_bad_texts_check(const struct unit_bad_text *cases, size_t n, const char *name,
			  unit_parse_fn parse);

/* Run cmd(argc, argv) (cmd NULL: nothing runs, the code is -1) with stdout
 * into out_path; returns its exit code and the output (malloc'd, NUL
 * ended) in *text. getopt's state is reset first. */
int unit_stdout_capture(const char *out_path, int (*cmd)(int, char **), int argc, char **argv,
			char **text);

/* Run cmd(argc, argv) with stdout to /dev/null; returns its exit code. */
int unit_stdout_quiet(int (*cmd)(int, char **), int argc, char **argv);

/* A collector serving on 127.0.0.1 (any free port) from a fresh SQLite
 * store in a scratch directory, its loop in a thread of the test. */
struct unit_collector {
	char dir[64];      /* the scratch directory (removed by _stop) */
	char db_path[128]; /* the store's file in it */
	struct store *store;
	struct server *server;
	pthread_t thread;
	int rc; /* server_run's result once the loop returned */
};

/* Make c's directory (/tmp/fm-test-TAG-XXXXXX) and open its store; files
 * the server reads (keys, plan) go in c->dir before unit_collector_serve. */
void unit_collector_store_open(struct unit_collector *c, const char *tag);

/* Create the server from cfg and start its loop (unit_collector_run).
 * Filled in here: listen and store, and what cfg leaves 0 of the limits a
 * test rarely cares about: raw results kept 7 days, rollups 100 years,
 * 60 s idle timeout, 64 connections. */
void unit_collector_serve(struct unit_collector *c, struct server_cfg *cfg);

/* A connection to c's server (unit_tcp_connect). */
int unit_collector_connect(const struct unit_collector *c);

/* Start the server's loop in a thread; unit_collector_pause stops it and
 * waits, leaving the server for changes (new keys) before the next run. */
void unit_collector_run(struct unit_collector *c);
void unit_collector_pause(struct unit_collector *c);

/* Stop the loop (asserting it ended cleanly), free the server and the
 * store, remove the directory. */
void unit_collector_stop(struct unit_collector *c);

/* Run the simulator on cfg in a scratch directory and read its files back
 * as localize reads them: observations into obs, inventory into inv, and
 * the truth file's text (malloc'd) into *truth. Returns the faults placed. */
long long unit_sim_read(const struct sim_cfg *cfg, struct obs_set *obs, struct inventory *inv,
			char **truth);

/* A UDP flow result src -> dst (addresses, asserted) from sport to 31338:
 * sent probes, lost_fwd and lost_rev of them lost, the rest received;
 * every other field 0. */
void unit_udp_flow_fill(struct wire_flow *f, const char *src, const char *dst, uint16_t sport,
			uint32_t sent, uint32_t lost_fwd, uint32_t lost_rev);

/* A TCP connection to 127.0.0.1:port whose reads time out after 5 s (a
 * missing reply fails the test instead of hanging it). */
int unit_tcp_connect(int port);

/* Send all of len bytes (asserted). unit_send_frame also frees buf. */
void unit_send_all(int fd, const void *p, size_t len);
void unit_send_frame(int fd, uint8_t *buf, size_t len);

/* Read exactly len bytes: 0, or -1 on EOF/timeout. */
int unit_recv_all(int fd, uint8_t *p, size_t len);

/* Read one wire frame into frame (up to cap): returns its type and sets
 * *frame_len, or -1 on EOF/timeout. */
int unit_recv_frame(int fd, uint8_t *frame, size_t cap, size_t *frame_len);

#endif
