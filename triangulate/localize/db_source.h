/* Fills an observation set from the collector's store over a time window, so
 * every triangulate command reads the database and a file the same way. */
#ifndef FM_TRIANGULATE_DB_SOURCE_H
#define FM_TRIANGULATE_DB_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct obs_set;

/* Flows whose intervals overlap [since_ms, until_ms) in the store at db_path,
 * summed per 5-tuple, with each flow's latest path. Intervals in which the
 * target was reported down are left out (a down target is not fabric loss).
 * Returns the number of flows added, or -1 with "DB: reason" in err. */
long db_source_load(const char *db_path, int64_t since_ms, int64_t until_ms,
		    struct obs_set *out, char *err, size_t errlen);

/* The same from the store's hourly rollups: batches that ended in
 * [since_ms, until_ms), whole hours from rollups, the rest from raw results,
 * so long look-backs stay fast and outlive raw retention. */
long db_source_hourly_load(const char *db_path, int64_t since_ms,
			   int64_t until_ms, struct obs_set *out, char *err,
			   size_t errlen);

/* Split a path text in the observations syntax ("a,*,b", "-") into hops in
 * place. Returns the hop count, -1 for "-", or -2 when over max hops. */
int db_source_path_split(char *path, const char **hops, int max);

#endif
