/* The one home of byte-order access to packet and frame bytes: big-endian
 * (network order) loads and stores at any alignment. */
#ifndef FM_BYTES_H
#define FM_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void bytes_be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void bytes_be32_put(uint8_t *p, uint32_t v)
{
	bytes_be16_put(p, (uint16_t)(v >> 16));
	bytes_be16_put(p + 2, (uint16_t)v);
}

static inline void bytes_be64_put(uint8_t *p, uint64_t v)
{
	bytes_be32_put(p, (uint32_t)(v >> 32));
	bytes_be32_put(p + 4, (uint32_t)v);
}

static inline uint16_t bytes_be16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t bytes_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t bytes_be64_get(const uint8_t *p)
{
	return (uint64_t)bytes_be32_get(p) << 32 | bytes_be32_get(p + 4);
}

#endif
