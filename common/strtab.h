/* String interning: each distinct string gets a small dense id, kept once in
 * one arena, so million-line inputs cost one hash probe per name, no malloc. */
#ifndef FM_STRTAB_H
#define FM_STRTAB_H

#include <stddef.h>
#include <stdint.h>

struct strtab;

/* Returns an empty table, or NULL with errno ENOMEM. */
struct strtab *strtab_new(void);
void strtab_free(struct strtab *t);

/* Id of s[0..len) (need not be NUL-terminated), adding it if new.
 * Returns the id (>= 0), or -1 with errno ENOMEM. */
int64_t strtab_intern(struct strtab *t, const char *s, size_t len);

/* Id of s[0..len), or -1 when it is not in the table. */
int64_t strtab_find(const struct strtab *t, const char *s, size_t len);

/* The NUL-terminated string of an id. The pointer stays valid only until the
 * next strtab_intern (the arena may move). */
const char *strtab_str(const struct strtab *t, uint32_t id);

uint32_t strtab_count(const struct strtab *t);

#endif
