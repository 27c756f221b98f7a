/* libFuzzer target for the collector's keys file parser. */
#include "collector/keys.h"
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int keys_check(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	struct keyring *k = keyring_parse(text, len, name, err, errlen);
	const uint8_t *key;
	size_t klen;

	if (!k)
		return -1;
	key = keyring_find(k, "h1", &klen);
	if (key && (klen < KEYS_KEY_MIN || klen > KEYS_KEY_MAX))
		abort();
	keyring_free(k);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_text_run(data, size, keys_check);
}
