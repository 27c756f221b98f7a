/* Clock readings in the units the tree uses (see clock.h). clock_gettime
 * cannot fail for these clocks on Linux, so nothing is returned but time. */
#include "clock.h"

#include <time.h>

static uint64_t clock_ns_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t clock_ms_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ns(void)
{
	return clock_ns_read(CLOCK_MONOTONIC);
}

int64_t clock_mono_ms(void)
{
	return clock_ms_read(CLOCK_MONOTONIC);
}

uint64_t clock_real_ns(void)
{
	return clock_ns_read(CLOCK_REALTIME);
}

int64_t clock_real_ms(void)
{
	return clock_ms_read(CLOCK_REALTIME);
}

uint64_t clock_cpu_ns(void)
{
	return clock_ns_read(CLOCK_PROCESS_CPUTIME_ID);
}
