/* Responder tables: the per-flow received counter (keyed by address, port,
 * protocol, flow id and session) and the per-source token bucket. */
#include "prober/responder.h"

#include <criterion/criterion.h>
#include <string.h>

static const struct responder_cfg cfg = { .udp_port = 31338, .rate_pps = 100, .burst = 10 };

static void addr_make(uint8_t a[16], uint8_t last)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = 198;
	a[13] = 18;
	a[15] = last;
}

Test(responder, counts_per_flow_key)
{
	struct responder *r = responder_new_detached(&cfg);
	uint8_t a[16], b[16];

	cr_assert_not_null(r);
	addr_make(a, 1);
	addr_make(b, 2);
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 0), 1);
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 1), 2);
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 2), 3);
	/* any field of the key differing is another flow */
	cr_assert_eq(responder_count_bump(r, b, 40000, 17, 5, 77, 3), 1, "address");
	cr_assert_eq(responder_count_bump(r, a, 40001, 17, 5, 77, 3), 1, "port");
	cr_assert_eq(responder_count_bump(r, a, 40000, 6, 5, 77, 3), 1, "protocol");
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 6, 77, 3), 1, "flow id");
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 78, 3), 1, "session (restart)");
	cr_assert_eq(responder_count_bump(r, a, 40000, 17, 5, 77, 4), 4);
	responder_close(r);
}

Test(responder, many_flows_evict_without_growing)
{
	struct responder *r = responder_new_detached(&cfg);
	uint8_t a[16];
	unsigned ones = 0;

	addr_make(a, 1);
	/* 4x the table: every bump succeeds; early flows get evicted and restart */
	for (uint32_t f = 0; f < 65536; f++)
		responder_count_bump(r, a, 40000, 17, f, 1, f);
	for (uint32_t f = 0; f < 64; f++)
		ones += responder_count_bump(r, a, 40000, 17, f, 1, 70000) == 1;
	cr_assert_gt(ones, 32, "evicted flows restart at 1");
	responder_close(r);
}

Test(responder, token_bucket_per_source)
{
	struct responder *r = responder_new_detached(&cfg);
	uint8_t a[16], b[16];
	int allowed = 0;

	addr_make(a, 1);
	addr_make(b, 2);
	for (int i = 0; i < 50; i++)
		allowed += responder_rate_allow(r, a, 1000);
	cr_assert_eq(allowed, 10, "the burst, then nothing in the same ms");
	cr_assert_eq(responder_rate_allow(r, b, 1000), 1, "another source has its own bucket");
	/* 100 pps refills one token per 10 ms */
	cr_assert_eq(responder_rate_allow(r, a, 1005), 0);
	cr_assert_eq(responder_rate_allow(r, a, 1010), 1);
	cr_assert_eq(responder_rate_allow(r, a, 1010), 0);
	allowed = 0;
	for (int i = 0; i < 50; i++)
		allowed += responder_rate_allow(r, a, 60000);
	cr_assert_eq(allowed, 10, "refill is capped at the burst");
	responder_close(r);
}
