/* Per-prober shared keys for frame authentication, loaded from the file given
 * with --keys: lines "prober<TAB>hex-key", '#' comments; a prober may have two
 * lines (old and new key) while its key is rotated. */
#ifndef FM_COLLECTOR_KEYS_H
#define FM_COLLECTOR_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define KEYS_KEY_MIN 16
#define KEYS_KEY_MAX 64

struct keyring;

/* Load a keys file. Returns NULL with the reason (file and line) in err. */
struct keyring *keyring_load(const char *path, char *err, size_t errlen);
/* Parse a keys file's text; same contract, name stands for the file. */
struct keyring *keyring_parse(const char *text, size_t len, const char *name, char *err,
			      size_t errlen);
void keyring_free(struct keyring *k);

/* The prober's keys (1 or 2, in file order; 0: none). They point into k:
 * valid until keyring_free. */
size_t keyring_keys(const struct keyring *k, const char *prober,
		    struct wire_key keys[WIRE_KEYS_MAX]);
/* The first key for a prober name, or NULL if it has none; sets *len. */
const uint8_t *keyring_find(const struct keyring *k, const char *prober,
			    size_t *len);

#endif
