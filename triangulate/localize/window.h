/* The one window-localize pipeline: a window of observations (a file, the
 * collector's store raw or hourly, or a set already in memory) -> the model ->
 * a localization method -> ranked suspects. localize, watch, the query views
 * and score all run it; nothing else assembles these steps. */
#ifndef FM_TRIANGULATE_WINDOW_H
#define FM_TRIANGULATE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "infer.h"
#include "suspect.h"

struct obs_set;
struct inventory;
struct model;
struct method_ops;

enum window_source {
	WINDOW_SRC_SET,       /* req.obs: a set the caller filled */
	WINDOW_SRC_FILE,      /* req.path: an observations file (v1 or v2) */
	WINDOW_SRC_DB,        /* req.path: the collector's store, raw results */
	WINDOW_SRC_DB_HOURLY, /* req.path: the store's hourly rollups + raw tail */
};

struct window_req {
	enum window_source src;
	const char *path;              /* file or database (not for SET) */
	int64_t since_ms, until_ms;    /* DB sources: the window [since, until) */
	const struct obs_set *obs;     /* SET: the observations (borrowed) */
	const struct inventory *inv;   /* addresses -> devices; NULL: names are devices */
	const struct method_ops *method; /* NULL: faultmesh's inference */
	const struct infer_cfg *cfg;   /* NULL: infer_cfg_default */
};

struct window_result {
	const struct obs_set *obs; /* the window's observations */
	struct obs_set *obs_own;   /* ... when loaded here (freed with the result) */
	struct model *m;           /* the model the method ran on */
	struct suspect_list sus;   /* ranked suspects */
	size_t nflows;             /* flows in the window */
	double load_ms, model_ms, infer_ms; /* wall time per step */
	/* this process's CPU time per step: what the bench's cost is judged on,
	 * since wall time grows with the machine's load */
	double load_cpu_ms, model_cpu_ms, infer_cpu_ms;
};

/* Run the pipeline for req into res (zeroed first). An empty window is not an
 * error: res->nflows is 0 and the suspects are none. Returns 0, or -1 with a
 * reason naming the file or database (and line) in err; res is then freed. */
int window_localize_run(const struct window_req *req, struct window_result *res,
			char *err, size_t errlen);
void window_result_free(struct window_result *res);

#endif
