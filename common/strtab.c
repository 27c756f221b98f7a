/* String interning with open addressing (linear probing, FNV-1a) over one
 * growing arena; ids index an offsets array in insertion order. */
#include "strtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct strtab {
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *offsets; /* id -> offset in arena */
	uint32_t *lens;    /* id -> length without NUL */
	uint32_t *hashes;  /* id -> hash, so probes skip most memcmp calls */
	uint32_t count, cap_ids;
	uint32_t *slots; /* id + 1, 0 = empty */
	uint32_t nslots; /* power of two */
};

static uint32_t strtab_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

struct strtab *strtab_new(void)
{
	struct strtab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nslots = 1024;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void strtab_free(struct strtab *t)
{
	if (!t)
		return;
	free(t->arena);
	free(t->offsets);
	free(t->lens);
	free(t->hashes);
	free(t->slots);
	free(t);
}

static int64_t strtab_lookup(const struct strtab *t, const char *s, size_t len,
			     uint32_t *slot)
{
	uint32_t mask = t->nslots - 1, h = strtab_hash(s, len);
	uint32_t i = h & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t v = t->slots[i];

		if (!v) {
			*slot = i;
			return -1;
		}
		if (t->hashes[v - 1] == h && t->lens[v - 1] == len &&
		    !memcmp(t->arena + t->offsets[v - 1], s, len))
			return v - 1;
	}
}

int64_t strtab_find(const struct strtab *t, const char *s, size_t len)
{
	uint32_t slot;

	return strtab_lookup(t, s, len, &slot);
}

/* Keep the load factor under one half so probe chains stay short. */
static int strtab_grow_slots(struct strtab *t)
{
	uint32_t n = t->nslots * 2, mask = n - 1;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -1;
	for (uint32_t id = 0; id < t->count; id++) {
		uint32_t i = t->hashes[id] & mask;

		while (slots[i])
			i = (i + 1) & mask;
		slots[i] = id + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return 0;
}

int64_t strtab_intern(struct strtab *t, const char *s, size_t len)
{
	uint32_t slot;
	int64_t id = strtab_lookup(t, s, len, &slot);

	if (id >= 0)
		return id;
	if (len >= UINT32_MAX / 2 || t->count >= UINT32_MAX / 4) {
		errno = ENOMEM;
		return -1;
	}
	if (t->arena_len + len + 1 > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap * 2 : 4096;
		char *a;

		while (cap < t->arena_len + len + 1)
			cap *= 2;
		if (cap > UINT32_MAX || !(a = realloc(t->arena, cap))) {
			errno = ENOMEM;
			return -1;
		}
		t->arena = a;
		t->arena_cap = cap;
	}
	if (t->count == t->cap_ids) {
		uint32_t cap = t->cap_ids ? t->cap_ids * 2 : 256;
		uint32_t *o = realloc(t->offsets, cap * sizeof(*o));

		if (!o)
			return -1;
		t->offsets = o;
		o = realloc(t->lens, cap * sizeof(*o));
		if (!o)
			return -1;
		t->lens = o;
		o = realloc(t->hashes, cap * sizeof(*o));
		if (!o)
			return -1;
		t->hashes = o;
		t->cap_ids = cap;
	}
	memcpy(t->arena + t->arena_len, s, len);
	t->arena[t->arena_len + len] = '\0';
	t->offsets[t->count] = (uint32_t)t->arena_len;
	t->lens[t->count] = (uint32_t)len;
	t->hashes[t->count] = strtab_hash(s, len);
	t->arena_len += len + 1;
	id = t->count++;
	t->slots[slot] = (uint32_t)id + 1;
	if (t->count * 2 > t->nslots && strtab_grow_slots(t) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return id;
}

const char *strtab_str(const struct strtab *t, uint32_t id)
{
	return id < t->count ? t->arena + t->offsets[id] : NULL;
}

uint32_t strtab_count(const struct strtab *t)
{
	return t->count;
}
