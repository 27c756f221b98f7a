/* libFuzzer target for the wire stream: the one frame-open path (header and
 * MAC rules, with every reader's rules) and the HELLO, BATCH, ACK, ERROR and
 * TARGETS decoders must reject any input cleanly, and a batch that
 * decodes must re-encode to exactly the same bytes (one canonical form). */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[16] = "fuzz-key-0123456";
	static const uint8_t key2[16] = "fuzz-key-rotated";
	static const uint32_t readers[] = {
		WIRE_TYPE_BIT(WIRE_HELLO),
		WIRE_TYPE_BIT(WIRE_BATCH),
		WIRE_TYPE_BIT(WIRE_ACK) | WIRE_TYPE_BIT(WIRE_ERROR),
		WIRE_TYPE_BIT(WIRE_TARGETS) | WIRE_TYPE_BIT(WIRE_ERROR),
	};
	char err[256], name[WIRE_NAME_MAX], reason[64], *text;
	size_t textlen;
	struct wire_batch b;
	uint32_t plen;
	uint64_t seq;
	int type;

	/* the one frame-open path with the rules of each reader: the
	 * collector's session (HELLO with a looked-up key, then BATCH), the
	 * prober's stream (ACK, ERROR) and its targets fetch (TARGETS, ERROR),
	 * keyed and not */
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		for (int keyed = 0; keyed < 2; keyed++) {
			struct wire_reader rd = { .types = readers[i] };
			struct wire_frame f;

			if (keyed) {
				rd.keys[0].bytes = key;
				rd.keys[0].len = sizeof(key);
				rd.keys[1].bytes = key2;
				rd.keys[1].len = sizeof(key2);
				rd.nkeys = 2;
				rd.unsigned_types = WIRE_TYPE_BIT(WIRE_ERROR);
			}
			if (wire_frame_head(&rd, data, size, &type, &plen, err, sizeof(err)) == 0 &&
			    size >= WIRE_HEADER_LEN + (size_t)plen &&
			    wire_frame_open(&rd, data, WIRE_HEADER_LEN + plen, &f, err,
					    sizeof(err)) == 0) {
				if (f.body + f.body_len > data + size || f.type != type)
					abort(); /* the body stays inside the frame */
				if (keyed && !f.authenticated && f.type != WIRE_ERROR)
					abort(); /* keyed: only ERROR may be unsigned */
			}
		}
	}
	/* every payload decoder on the bytes after a would-be header, so the
	 * fuzzer need not solve the header to reach them */
	if (size < WIRE_HEADER_LEN)
		return 0;
	data += WIRE_HEADER_LEN;
	size -= WIRE_HEADER_LEN;
	wire_hello_decode(data, size, name, err, sizeof(err));
	wire_ack_decode(data, size, &seq, err, sizeof(err));
	wire_error_decode(data, size, reason, sizeof(reason), err, sizeof(err));
	if (wire_targets_decode(data, size, &text, &textlen, err, sizeof(err)) == 0) {
		uint8_t *buf;
		size_t len;

		if (wire_targets_encode(text, textlen, &buf, &len) != 0 ||
		    len != size + WIRE_HEADER_LEN ||
		    memcmp(buf + WIRE_HEADER_LEN, data, size) != 0)
			abort(); /* what decodes re-encodes to the same bytes */
		free(buf);
		free(text);
	}
	if (wire_batch_decode(data, size, &b, err, sizeof(err)) == 0) {
		uint8_t *buf;
		size_t len;

		if (wire_batch_encode(&b, &buf, &len) != 0)
			abort(); /* what decodes must encode */
		if (len != size + WIRE_HEADER_LEN ||
		    memcmp(buf + WIRE_HEADER_LEN, data, size) != 0)
			abort(); /* and to the very same bytes */
		free(buf);
		wire_batch_free(&b);
	}
	return 0;
}
