/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), small and dependency-free,
 * for authenticating wire frames with a per-prober shared key. */
#ifndef FM_SHA256_H
#define FM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t total_len; /* bytes hashed so far */
	uint8_t block[64];
	size_t block_len;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/* HMAC-SHA256 over the concatenation of two buffers (either may be empty), so
 * a frame's header and payload need not be copied together first. */
void hmac_sha256(const uint8_t *key, size_t keylen, const void *a, size_t alen,
		 const void *b, size_t blen, uint8_t out[SHA256_LEN]);

/* Compare two buffers in time independent of where they differ: 0 if equal. */
int sha256_mem_diff(const uint8_t *a, const uint8_t *b, size_t len);

#endif
