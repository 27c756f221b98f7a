/* The one migration runner (see store_migrate.h), its SQLite rule, and the
 * SQLite file open the store and its history share. */
#include "store_migrate.h"
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MIGRATIONS_MAX 64

int store_migrate_run(const char *schema_sql, const char *label,
		      const char *what, const struct store_migrate_ops *ops,
		      void *h, char *err, size_t errlen)
{
	static const char marker[] = "-- migration ";
	const char *starts[STORE_MIGRATIONS_MAX];
	int nums[STORE_MIGRATIONS_MAX], n = 0, version, latest;
	char e[384];

	for (const char *p = schema_sql; p && *p;) {
		if (!strncmp(p, marker, sizeof(marker) - 1)) {
			if (n == STORE_MIGRATIONS_MAX) {
				snprintf(err, errlen, "%s schema: more than %d migrations",
					 what, STORE_MIGRATIONS_MAX);
				return -1;
			}
			nums[n] = atoi(p + sizeof(marker) - 1);
			starts[n++] = p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	latest = n ? nums[n - 1] : 0;
	if (ops->version_read(h, &version, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s: reading %s schema version: %s", label,
			 what, e);
		return -1;
	}
	if (version > latest) {
		snprintf(err, errlen,
			 "%s: %s schema version %d is newer than this program's %d; "
			 "use a newer faultmesh or another store",
			 label, what, version, latest);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *end = i + 1 < n ? starts[i + 1]
					    : starts[i] + strlen(starts[i]);
		char *chunk;
		int rc;

		if (nums[i] <= version)
			continue;
		chunk = strndup(starts[i], (size_t)(end - starts[i]));
		if (!chunk) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		rc = ops->apply(h, nums[i], chunk, e, sizeof(e));
		free(chunk);
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s migration %d failed: %s",
				 label, what, nums[i], e);
			return -1;
		}
	}
	return 0;
}

struct store_sqlite_mig {
	sqlite3 *db;
	const char *table;
};

static int store_sqlite_version_read(void *arg, int *version, char *err,
				     size_t errlen)
{
	struct store_sqlite_mig *m = arg;
	sqlite3_stmt *st;
	char sql[160];
	int rc;

	*version = 0;
	if (sqlite3_prepare_v2(m->db,
			       "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
			       "AND name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, m->table, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		goto fail;
	}
	rc = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc == 0)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT max(version) FROM %s", m->table);
	if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
fail:
	snprintf(err, errlen, "%s", sqlite3_errmsg(m->db));
	return -1;
}

static int store_sqlite_apply(void *arg, int num, const char *sql, char *err,
			      size_t errlen)
{
	struct store_sqlite_mig *m = arg;
	char setv[128], *msg = NULL;
	int version;

	if (sqlite3_exec(m->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	/* another program may have applied it while this one waited */
	if (store_sqlite_version_read(m, &version, err, errlen) < 0)
		goto rollback;
	if (num <= version)
		return sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK
			       ? 0 : -1;
	snprintf(setv, sizeof(setv), "UPDATE %s SET version = %d;", m->table,
		 num);
	if (sqlite3_exec(m->db, sql, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(m->db, setv, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(m->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(m->db));
	sqlite3_free(msg);
rollback:
	if (!sqlite3_get_autocommit(m->db))
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int store_sqlite_migrate(struct sqlite3 *db, const char *schema_sql,
			 const char *version_table, const char *label,
			 const char *what, char *err, size_t errlen)
{
	static const struct store_migrate_ops ops = {
		.version_read = store_sqlite_version_read,
		.apply = store_sqlite_apply,
	};
	struct store_sqlite_mig m = { .db = db, .table = version_table };

	return store_migrate_run(schema_sql, label, what, &ops, &m, err, errlen);
}

/* Run a PRAGMA; with want, its answer must be that ("wal"). */
static int store_sqlite_pragma(sqlite3 *db, const char *path, const char *sql,
			       const char *want, char *err, size_t errlen)
{
	const unsigned char *got = NULL;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s: %s", path, sql, sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		got = sqlite3_column_text(st, 0);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		snprintf(err, errlen, "%s: %s: %s", path, sql, sqlite3_errmsg(db));
	else if (want && (!got || strcmp((const char *)got, want)))
		snprintf(err, errlen, "%s: %s: got '%s', need '%s'", path, sql,
			 got ? (const char *)got : "", want);
	else
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

/* SQL fm_path_moved(old_hops, new_hops): store_path_hops_moved, so the
 * queries that read path changes follow its one rule for "*" hops. */
static void store_sqlite_path_moved_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int(ctx, store_path_hops_moved((const char *)sqlite3_value_text(argv[0]),
						      (const char *)sqlite3_value_text(argv[1])));
}

int store_sqlite_file_open(const char *path, int busy_ms, const char *sync,
			   const char *schema_sql, const char *version_table,
			   const char *what, const char *const *sql,
			   sqlite3_stmt **st, int n, sqlite3 **db, char *err,
			   size_t errlen)
{
	char setsync[64];

	if (sqlite3_open_v2(path, db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 *db ? sqlite3_errmsg(*db) : "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(*db, busy_ms);
	if (sqlite3_create_function_v2(*db, "fm_path_moved", 2,
				       SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				       store_sqlite_path_moved_fn, NULL, NULL,
				       NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(*db));
		return -1;
	}
	snprintf(setsync, sizeof(setsync), "PRAGMA synchronous=%s", sync);
	if (store_sqlite_pragma(*db, path, "PRAGMA journal_mode=WAL", "wal", err,
				errlen) < 0 ||
	    store_sqlite_pragma(*db, path, setsync, NULL, err, errlen) < 0 ||
	    store_sqlite_migrate(*db, schema_sql, version_table, path, what, err,
				 errlen) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (sqlite3_prepare_v3(*db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: preparing %s statement %d: %s",
				 path, what, i, sqlite3_errmsg(*db));
			return -1;
		}
	return 0;
}
