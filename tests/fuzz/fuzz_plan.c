/* libFuzzer target for the probe plan v1 parser the collector serves from,
 * and the targets text it renders for a prober. */
#include "collector/plan_targets.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan_targets *p;
	char err[512];
	char *copy = malloc(size ? size : 1), *text = NULL;
	size_t len = 0;

	if (!copy)
		abort();
	/* an exact-size copy, not NUL-terminated, so over-reads trip ASan */
	memcpy(copy, data, size);
	p = plan_targets_parse(copy, size, "fuzz", err, sizeof(err));
	if (p) {
		/* the text served to a named prober and to one the plan lacks */
		if (plan_targets_text(p, "h1", &text, &len) < 0 || strlen(text) != len)
			abort();
		free(text);
		if (plan_targets_text(p, "no-such-prober", &text, &len) < 0 || strlen(text) != len)
			abort();
		free(text);
		plan_targets_free(p);
	} else if (!strstr(err, "fuzz")) {
		abort(); /* every error names the input */
	}
	free(copy);
	return 0;
}
