/* The inventory a command uses (a file, else the store's) and loading a file
 * into the store (collector --inventory, `triangulate inventory load`): the
 * store keeps the text, this file validates and parses it. */
#include "inventory_source.h"

#include "inventory.h"
#include "store.h"
#include "textio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t inventory_source_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct inventory *inventory_source_open(const char *file, const char *db, int *none,
					char *err, size_t errlen)
{
	struct store_inventory si = { 0 };
	struct inventory *inv;
	struct store *s;
	const char *path;
	char name[300];
	int rc;

	*none = 0;
	if (file)
		return inventory_file_open(file, err, errlen);
	if (db && (!store_url_is_file(db, &path) || access(path, R_OK) == 0)) {
		if (!(s = store_open(NULL, db, err, errlen)))
			return NULL;
		rc = store_inventory_get(s, &si);
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", db, store_error(s));
			store_close(s);
			return NULL;
		}
		store_close(s);
		if (rc > 0) {
			if (!(inv = inventory_new())) {
				free(si.text);
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			snprintf(name, sizeof(name), "%s (inventory from %s)", db, si.source);
			if (inventory_parse(inv, si.text, si.len, name, err, errlen) < 0) {
				inventory_free(inv);
				inv = NULL;
			}
			free(si.text);
			return inv;
		}
	}
	*none = 1;
	snprintf(err, errlen,
		 "no inventory%s%s: without one, names are addresses and links are "
		 "guessed from them; load it once with 'triangulate inventory load FILE "
		 "--db %s' (or run the collector with --inventory FILE), or pass "
		 "--inventory FILE",
		 db ? " in " : "", db ? db : "", db ? db : "DB");
	return NULL;
}

int inventory_source_stamp(const char *db, int64_t *loaded_ms, char *err, size_t errlen)
{
	struct store_inventory si = { 0 };
	struct store *s = store_open(NULL, db, err, errlen);
	int rc;

	*loaded_ms = 0;
	if (!s)
		return -1;
	rc = store_inventory_get(s, &si);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", db, store_error(s));
	else if (rc > 0)
		*loaded_ms = si.loaded_ms;
	free(si.text);
	store_close(s);
	return rc < 0 ? -1 : 0;
}

int inventory_source_load(const char *path, const char *db, int *changed, char *err,
			  size_t errlen)
{
	struct inventory *inv = inventory_new();
	struct store *s = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (!inv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (textio_file_read(path, &text, &len) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (inventory_parse(inv, text, len, path, err, errlen) < 0)
		goto out;
	if (!(s = store_open(NULL, db, err, errlen)))
		goto out;
	if (store_inventory_put(s, text, len, path, inventory_source_now_ms(), changed) < 0) {
		snprintf(err, errlen, "%s: %s", db, store_error(s));
		goto out;
	}
	rc = 0;
out:
	store_close(s);
	free(text);
	inventory_free(inv);
	return rc;
}
