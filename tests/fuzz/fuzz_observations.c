/* libFuzzer target for the observations v1 parser; inputs that parse are
 * also run through the model and the inference, which take them as is. */
#include "observations.h"
#include "infer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obs_set *s = obs_set_new();
	struct suspect_list out = { 0 };
	struct infer_cfg cfg;
	char err[512];
	char *copy = malloc(size ? size : 1);

	if (!s || !copy)
		abort();
	/* an exact-size copy, not NUL-terminated, so over-reads trip ASan */
	memcpy(copy, data, size);
	if (obs_set_parse(s, copy, size, "fuzz", err, sizeof(err)) == 0) {
		for (size_t i = 0; i < obs_set_flow_count(s); i++) {
			const struct obs_flow *f = obs_set_flow(s, i);

			if (f->lost > f->sent || (f->nhops != OBS_PATH_UNKNOWN &&
						  f->nhops > OBS_HOPS_MAX))
				abort();
		}
		infer_cfg_default(&cfg);
		if (infer_localize(s, NULL, &cfg, &out, NULL, err, sizeof(err)) == 0)
			for (size_t i = 0; i < out.n; i++)
				if (!(out.v[i].loss_ratio >= 0 && out.v[i].loss_ratio <= 1))
					abort();
		suspect_list_free(&out);
	} else if (!strstr(err, "fuzz")) {
		abort(); /* every error names the input */
	}
	obs_set_free(s);
	free(copy);
	return 0;
}
