/* libFuzzer target for the observations v2 (and v1) parser; inputs that parse are
 * also run through the model and the inference, which take them as is. */
#include "fuzz_text.h"
#include "infer.h"
#include "observations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int observations_check(const char *text, size_t len, const char *name, char *err,
			      size_t errlen)
{
	struct obs_set *s = obs_set_new();
	struct suspect_list out = { 0 };
	struct infer_cfg cfg;

	if (!s)
		abort();
	if (obs_set_parse(s, text, len, name, err, errlen) != 0) {
		obs_set_free(s);
		return -1;
	}
	for (size_t i = 0; i < obs_set_flow_count(s); i++) {
		const struct obs_flow *f = obs_set_flow(s, i);

		if (f->lost > f->sent || f->lost_rev > f->sent - f->lost ||
		    (f->nhops != OBS_PATH_UNKNOWN && f->nhops > OBS_HOPS_MAX))
			abort();
	}
	infer_cfg_default(&cfg);
	if (infer_localize(s, NULL, &cfg, &out, NULL, err, errlen) == 0)
		for (size_t i = 0; i < out.n; i++)
			if (!(out.v[i].loss_ratio >= 0 && out.v[i].loss_ratio <= 1))
				abort();
	suspect_list_free(&out);
	obs_set_free(s);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_text_run(data, size, observations_check);
}
