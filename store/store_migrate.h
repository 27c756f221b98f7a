/* The one migration runner of every store schema (SQLite store and history,
 * ClickHouse): a schema file is a list of "-- migration N" chunks applied in
 * order, each once, each under the same rule whatever the backend; and the
 * one way the SQLite store and its history open their file. */
#ifndef FM_STORE_MIGRATE_H
#define FM_STORE_MIGRATE_H

#include <stddef.h>

struct sqlite3;
struct sqlite3_stmt;

/* How a backend reads its version and applies one migration. apply runs the
 * chunk and records num as the version, atomically where the backend can;
 * it first re-reads the version itself when another process may migrate at
 * the same time, skipping a chunk already applied. */
struct store_migrate_ops {
	int (*version_read)(void *h, int *version, char *err, size_t errlen);
	int (*apply)(void *h, int num, const char *sql, char *err,
		     size_t errlen);
};

/* Apply every migration of schema_sql newer than the stored version, in
 * order. label names the store in errors (a path or URL), what the schema
 * ("store", "history"). Refuses (-1) a stored version newer than the newest
 * migration. Returns 0, or -1 with the reason in err. */
int store_migrate_run(const char *schema_sql, const char *label,
		      const char *what, const struct store_migrate_ops *ops,
		      void *h, char *err, size_t errlen);

/* The SQLite rule: each migration in its own BEGIN IMMEDIATE transaction
 * that re-reads version_table first (two programs opening one new file at
 * once apply it once). version_table holds one row, "version". */
int store_sqlite_migrate(struct sqlite3 *db, const char *schema_sql,
			 const char *version_table, const char *label,
			 const char *what, char *err, size_t errlen);

/* Open the SQLite file at path as the store and its history do: created if
 * missing, waiting up to busy_ms for another program's lock, WAL journal
 * (readers never block ingest) with synchronous=sync ("FULL", "NORMAL"),
 * schema_sql migrated (store_sqlite_migrate), the store's SQL function
 * fm_path_moved (store_path_hops_moved) defined, and each of the n statements
 * of sql prepared (persistent) into st. On failure -1 with err naming path;
 * the caller finalizes st (NULLs skipped) and closes *db. */
int store_sqlite_file_open(const char *path, int busy_ms, const char *sync,
			   const char *schema_sql, const char *version_table,
			   const char *what, const char *const *sql,
			   struct sqlite3_stmt **st, int n, struct sqlite3 **db,
			   char *err, size_t errlen);

#endif
