/* libFuzzer target for the probe plan v1 parser the collector serves from,
 * and the targets text it renders for a prober. */
#include "collector/plan_targets.h"
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int plan_check(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	struct plan_targets *p = plan_targets_parse(text, len, name, err, errlen);
	char *served = NULL;
	size_t slen = 0;

	if (!p)
		return -1;
	/* the text served to a named prober and to one the plan lacks */
	if (plan_targets_text(p, "h1", &served, &slen) < 0 || strlen(served) != slen)
		abort();
	free(served);
	if (plan_targets_text(p, "no-such-prober", &served, &slen) < 0 || strlen(served) != slen)
		abort();
	free(served);
	plan_targets_free(p);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_text_run(data, size, plan_check);
}
