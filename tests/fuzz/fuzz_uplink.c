/* libFuzzer target for the prober's stream reader: arbitrary bytes from "the
 * collector", in arbitrary cuts, through uplink_bytes_take (the path
 * uplink_run reads the socket into, frames opened by wire_frame_open with the
 * stream's rules), keyed (the first byte's low bit) or not. Nothing was sent
 * on this connection, so no input may delete a spooled batch. */
#include "prober/spool.h"
#include "prober/uplink.h"
#include "wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct spool *fuzz_spool;
static char fuzz_dir[64];

static void fuzz_spool_remove(void)
{
	char cmd[96];

	spool_close(fuzz_spool);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_uplink: could not remove %s\n", fuzz_dir);
}

/* A spool holding one batch (seq 1), on tmpfs when there is one. */
static void fuzz_spool_open(void)
{
	struct wire_flow fl = { .proto = 17, .sport = 40000, .dport = 31338, .sent = 1 };
	struct wire_batch b = { .nflows = 1, .flows = &fl, .start_ms = 1, .end_ms = 2 };
	char err[256];
	uint8_t *buf;
	size_t len;

	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fm-fuzz-uplink-%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	fuzz_spool = spool_open(fuzz_dir, 1 << 20, err, sizeof(err));
	if (!fuzz_spool) {
		fprintf(stderr, "fuzz_uplink: %s\n", err);
		abort();
	}
	atexit(fuzz_spool_remove);
	wire_addr_parse("198.18.0.1", &fl.src);
	wire_addr_parse("198.18.0.2", &fl.dst);
	snprintf(b.prober, sizeof(b.prober), "p1");
	b.seq = spool_seq_next(fuzz_spool);
	if (wire_batch_encode(&b, &buf, &len) < 0 ||
	    spool_batch_append(fuzz_spool, b.seq, buf, len) < 0)
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[16] = "fuzz-uplink-key!";
	struct uplink_cfg cfg = { .collector = "198.18.0.1:31337", .name = "p1", .window = 4,
				  .backoff_min_ms = 10, .backoff_max_ms = 40 };
	struct uplink *u;
	char err[256];
	size_t cut;

	if (!fuzz_spool)
		fuzz_spool_open();
	if (size && (data[0] & 1)) {
		cfg.key = key;
		cfg.keylen = sizeof(key);
	}
	u = uplink_new(&cfg, fuzz_spool, err, sizeof(err));
	if (!u)
		abort();
	/* the first byte also picks the cut, so frame reassembly sees splits */
	cut = size ? (size_t)(data[0] >> 1) % 64 + 1 : 1;
	if (size) {
		data++;
		size--;
	}
	while (size > 0) {
		size_t n = size < cut ? size : cut;

		if (uplink_bytes_take(u, data, n, 1000) < 0)
			break;
		data += n;
		size -= n;
	}
	if (spool_count(fuzz_spool) != 1 || uplink_acked(u) != 0)
		abort(); /* an ACK for a batch this connection never sent */
	uplink_free(u);
	return 0;
}
