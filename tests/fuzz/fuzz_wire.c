/* libFuzzer target for the wire stream decoders: header, HELLO, BATCH, ACK,
 * ERROR, TARGETS and MAC check must reject any input cleanly, and a batch that
 * decodes must re-encode to exactly the same bytes (one canonical form). */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[16] = "fuzz-key-0123456";
	char err[256], name[WIRE_NAME_MAX], reason[64], *text;
	size_t textlen;
	struct wire_batch b;
	uint32_t plen;
	uint64_t seq;
	size_t body;
	int type;

	if (wire_header_decode(data, size, &type, &plen, err, sizeof(err)) == 0 &&
	    size >= WIRE_HEADER_LEN + (size_t)plen)
		wire_frame_verify(data, WIRE_HEADER_LEN + plen, key,
				    sizeof(key), &body, err, sizeof(err));
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
