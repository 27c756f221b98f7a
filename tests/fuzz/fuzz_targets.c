/* libFuzzer target for the targets v1 parser as the prober runs it on a list
 * the collector served (addresses only, so no name lookups). */
#include "prober/probe.h"
#include "prober/targets.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct targets_defaults def = { .flows = 16, .rate_pps = 10, .port = 31338,
					      .kind = &probe_udp_ops, .numeric_only = 1 };
	struct target_spec *t = NULL;
	size_t n = 0;
	char err[512];
	char *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	/* an exact-size copy, not NUL-terminated, so over-reads trip ASan */
	memcpy(copy, data, size);
	if (targets_parse(copy, size, "fuzz", &def, &t, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++)
			if (t[i].flows < 1 || t[i].flows > TARGETS_FLOWS_MAX || t[i].dscp > 63 ||
			    !t[i].kind || (t[i].family != AF_INET && t[i].family != AF_INET6))
				abort();
		free(t);
	} else if (!strstr(err, "fuzz")) {
		abort(); /* every error names the input */
	}
	free(copy);
	return 0;
}
