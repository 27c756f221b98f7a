/* libFuzzer target for the collector's keys file parser. */
#include "collector/keys.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyring *k;
	char err[512];
	char *copy = malloc(size ? size : 1);
	size_t len;

	if (!copy)
		abort();
	/* an exact-size copy, not NUL-terminated, so over-reads trip ASan */
	memcpy(copy, data, size);
	k = keyring_parse(copy, size, "fuzz", err, sizeof(err));
	if (k) {
		const uint8_t *key = keyring_find(k, "h1", &len);

		if (key && (len < KEYS_KEY_MIN || len > KEYS_KEY_MAX))
			abort();
		keyring_free(k);
	} else if (!strstr(err, "fuzz")) {
		abort(); /* every error names the input */
	}
	free(copy);
	return 0;
}
