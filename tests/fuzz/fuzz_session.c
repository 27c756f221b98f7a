/* libFuzzer target for the collector's per-connection session: arbitrary
 * bytes, cut into arbitrary reads, through frame reassembly, auth-free
 * handling and a real store (on tmpfs); what the session sends back must
 * always be well-formed ACK or ERROR frames. */
#include "collector/session.h"
#include "wire.h"
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *fuzz_store;
static struct session_stats fuzz_stats;
static char fuzz_db_path[64];

static int64_t fuzz_now_ms(void)
{
	return 1700000000000LL;
}

static void fuzz_store_remove(void)
{
	char p[80];

	store_close(fuzz_store);
	unlink(fuzz_db_path);
	snprintf(p, sizeof(p), "%s-wal", fuzz_db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fuzz_db_path);
	unlink(p);
}

static void fuzz_store_open(void)
{
	char err[256];

	/* tmpfs when there is one: every stored batch is an fsync */
	snprintf(fuzz_db_path, sizeof(fuzz_db_path), "%s/fm-fuzz-session-%d.db",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	fuzz_store = store_open("sqlite", fuzz_db_path, err, sizeof(err));
	if (!fuzz_store) {
		fprintf(stderr, "fuzz_session: %s\n", err);
		abort();
	}
	atexit(fuzz_store_remove);
}

/* Every byte the session wants to send must parse as ACK or ERROR frames. */
static void output_check(struct session *s)
{
	size_t len, off = 0;
	const uint8_t *p = session_output(s, &len);

	while (off < len) {
		char err[128];
		uint32_t plen;
		int type;

		if (wire_header_decode(p + off, len - off, &type, &plen, err, sizeof(err)) < 0 ||
		    (type != WIRE_ACK && type != WIRE_ERROR) || off + 16 + plen > len)
			abort();
		off += 16 + plen;
	}
	session_output_consumed(s, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_env env = { 0 };
	struct session *s;
	size_t cut;

	if (!fuzz_store)
		fuzz_store_open();
	env.store = fuzz_store;
	env.stats = &fuzz_stats;
	env.now_ms = fuzz_now_ms;
	s = session_new(&env, "fuzz:1");
	if (!s)
		return 0;
	/* the first byte picks the read size, so reassembly sees every split */
	cut = size ? (size_t)data[0] % 64 + 1 : 1;
	if (size) {
		data++;
		size--;
	}
	while (size > 0) {
		size_t n = size < cut ? size : cut;

		session_input(s, data, n);
		data += n;
		size -= n;
		if (session_pending(s)) {
			int committed = 0;

			if (store_group_begin(fuzz_store) == 0) {
				session_pending_add(s);
				committed = store_group_commit(fuzz_store) == 0;
			}
			session_round_end(s, committed);
		} else {
			session_round_end(s, 0);
		}
		output_check(s);
	}
	session_free(s);
	return 0;
}
