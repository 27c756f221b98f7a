/* libFuzzer target for the targets v1 parser as the prober runs it on a list
 * the collector served (addresses only, so no name lookups). */
#include "fuzz_text.h"
#include "prober/probe.h"
#include "prober/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int targets_check(const char *text, size_t len, const char *name, char *err,
			 size_t errlen)
{
	const struct targets_defaults def = { .flows = 16, .rate_pps = 10, .port = 31338,
					      .kind = &probe_udp_ops, .numeric_only = 1 };
	struct target_spec *t = NULL;
	size_t n = 0;

	if (targets_parse(text, len, name, &def, &t, &n, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (t[i].flows < 1 || t[i].flows > TARGETS_FLOWS_MAX || t[i].dscp > 63 ||
		    !t[i].kind || (t[i].family != AF_INET && t[i].family != AF_INET6))
			abort();
	free(t);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_text_run(data, size, targets_check);
}
