/* Which inventory a triangulate command names devices with: the --inventory
 * file when given, else the one loaded into the store (collector --inventory
 * or `triangulate inventory load`). One home for that rule and its errors. */
#ifndef FM_TRIANGULATE_INVENTORY_SOURCE_H
#define FM_TRIANGULATE_INVENTORY_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct inventory;

/* The inventory to use. Returns it, or NULL with the reason in err: an
 * unreadable or bad file, a store error, or (with *none = 1) no file given
 * and none stored, where err says how to load one. db may be NULL (no store:
 * only a file can give it). */
struct inventory *inventory_source_open(const char *file, const char *db, int *none,
					char *err, size_t errlen);

/* When the inventory stored in db was stored (ms since the epoch, the
 * store's loaded_ms) in *loaded_ms, 0 when none is: a long-running reader
 * (triangulate serve) compares it to see a newer one. Returns 0, or -1 with
 * the store's error in err. */
int inventory_source_stamp(const char *db, int64_t *loaded_ms, char *err, size_t errlen);

/* Validate the inventory file at path and store it in the store at db;
 * *changed = 0 when the store already held the same text. Returns 0, or -1
 * with "PATH[:LINE]: reason" or the store's error in err. */
int inventory_source_load(const char *path, const char *db, int *changed, char *err,
			  size_t errlen);

#endif
