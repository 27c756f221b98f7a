/* The window-localize pipeline: load (file, store or a given set), build the
 * model, run the method; with per-step timings for --stats. */
#include "window.h"
#include "db_source.h"
#include "method.h"
#include "model.h"
#include "observations.h"
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int window_load(const struct window_req *req, struct window_result *res,
		       char *err, size_t errlen)
{
	long n;

	if (req->src == WINDOW_SRC_SET) {
		if (!req->obs) {
			snprintf(err, errlen, "no observations given");
			return -1;
		}
		res->obs = req->obs;
		return 0;
	}
	if (!req->path) {
		snprintf(err, errlen, "no observations file or database given");
		return -1;
	}
	if (!(res->obs_own = obs_set_new())) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	res->obs = res->obs_own;
	switch (req->src) {
	case WINDOW_SRC_FILE:
		return obs_set_file_read(res->obs_own, req->path, err, errlen);
	case WINDOW_SRC_DB:
		n = db_source_load(req->path, req->since_ms, req->until_ms,
				   res->obs_own, err, errlen);
		return n < 0 ? -1 : 0;
	case WINDOW_SRC_DB_HOURLY:
		n = db_source_hourly_load(req->path, req->since_ms, req->until_ms,
					  res->obs_own, err, errlen);
		return n < 0 ? -1 : 0;
	default:
		snprintf(err, errlen, "unknown observation source %d", (int)req->src);
		return -1;
	}
}

int window_localize_run(const struct window_req *req, struct window_result *res,
			char *err, size_t errlen)
{
	const struct method_ops *method = req->method ? req->method : method_find("faultmesh");
	struct infer_cfg dcfg;
	const struct infer_cfg *cfg = req->cfg;
	double t0, t1, c0, c1;

	memset(res, 0, sizeof(*res));
	if (!cfg) {
		infer_cfg_default(&dcfg);
		cfg = &dcfg;
	}
	t0 = clock_mono_ns() / 1e6;
	c0 = clock_cpu_ns() / 1e6;
	if (window_load(req, res, err, errlen) < 0)
		goto err;
	res->nflows = obs_set_flow_count(res->obs);
	t1 = clock_mono_ns() / 1e6;
	c1 = clock_cpu_ns() / 1e6;
	res->load_ms = t1 - t0;
	res->load_cpu_ms = c1 - c0;
	if (!(res->m = model_build(res->obs, req->inv, err, errlen)))
		goto err;
	t0 = clock_mono_ns() / 1e6;
	res->model_ms = t0 - t1;
	c0 = clock_cpu_ns() / 1e6;
	res->model_cpu_ms = c0 - c1;
	if (!method || method->run(res->m, cfg, &res->sus, err, errlen) < 0) {
		if (!method)
			snprintf(err, errlen, "no localization method");
		goto err;
	}
	res->infer_ms = (clock_mono_ns() / 1e6) - t0;
	res->infer_cpu_ms = (clock_cpu_ns() / 1e6) - c0;
	return 0;
err:
	window_result_free(res);
	return -1;
}

void window_result_free(struct window_result *res)
{
	suspect_list_free(&res->sus);
	model_free(res->m);
	obs_set_free(res->obs_own);
	memset(res, 0, sizeof(*res));
}
