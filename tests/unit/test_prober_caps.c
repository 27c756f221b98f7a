/* Least privilege: after caps_keep_net_raw the process's effective set, as
 * the kernel reports it in /proc/self/status, is CAP_NET_RAW alone. */
#include "prober/caps.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned long long cap_line_read(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long v = ~0ull;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0)
			sscanf(line + strlen(name), "%llx", &v);
	fclose(f);
	return v;
}

Test(prober_caps, only_cap_net_raw_remains)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	cr_assert_neq(cap_line_read("CapEff:"), 1ull << 13, "started with more than NET_RAW");
	cr_assert_eq(caps_keep_net_raw(), 0);
	cr_assert_eq(cap_line_read("CapEff:"), 1ull << 13); /* CAP_NET_RAW = 13 */
	cr_assert_eq(cap_line_read("CapPrm:"), 1ull << 13);
	cr_assert_eq(cap_line_read("CapBnd:"), 1ull << 13);
	cr_assert_eq(cap_line_read("NoNewPrivs:"), 1);
}
