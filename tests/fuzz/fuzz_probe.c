/* libFuzzer target for everything a prober or responder reads off the wire:
 * the UDP probe payload, TCP replies (IPv4 with header, IPv6 without), SYN
 * probes; plus the loss accounting fed with arbitrary reply sequences. */
#include "prober/flow.h"
#include "prober/probe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replies with fuzzer-chosen seq and count must keep the books balanced. */
static void flow_events_run(const uint8_t *p, size_t n)
{
	struct flow_acct f;
	struct flow_figures g;

	flow_acct_init(&f);
	for (; n >= 3; p += 3, n -= 3) {
		switch (p[0] & 3) {
		case 0:
			for (unsigned i = 0; i <= (p[1] & 15u); i++)
				flow_acct_send(&f);
			break;
		case 1:
			flow_acct_reply(&f, flow_acct_seq_widen(&f, p[1], 16),
					(uint32_t)p[2] + (p[0] >> 2) * 256u);
			break;
		case 2:
			flow_acct_unsent(&f);
			break;
		default:
			flow_acct_close(&f, &g);
			if (g.sent != g.received + g.lost_fwd + g.lost_rev || g.received > g.sent ||
			    g.lost_fwd > g.sent || g.lost_rev > g.sent)
				abort();
			break;
		}
	}
}

/* Every answering kind on bytes as the responder reads them: an answer is
 * never larger than its probe (no amplification). */
static void answer_check(int family, const uint8_t *pkt, size_t len)
{
	uint8_t buf[PROBE_PAYLOAD_MAX];
	struct probe_flow_key back = { .family = family };

	if (len > sizeof(buf))
		return; /* the responder's buffer holds no more */
	for (size_t i = 0; probe_kinds[i]; i++) {
		const struct probe_ops *k = probe_kinds[i];
		struct probe_answer a;

		if (!k->answer_parse)
			continue;
		memcpy(buf, pkt, len);
		if (k->answer_parse(family, buf, len, &a) < 0)
			continue;
		if (a.len > len || k->answer_build(&a, &back, 1, 2, 3, buf, sizeof(buf)) > a.len)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_msg m;
	struct probe_reply r;
	uint16_t sp, dp;
	uint32_t seq, ts, tse;

	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
		if (probe_msg_decode(data + 1, size - 1, &m) == 0 && m.flow_id >= PROBE_FLOWS_MAX)
			abort();
		break;
	case 1:
		probe_udp_ops.parse(AF_INET, data + 1, size - 1, &r);
		break;
	case 2:
		probe_tcp_ops.parse(AF_INET, data + 1, size - 1, &r);
		break;
	case 3:
		probe_tcp_ops.parse(AF_INET6, data + 1, size - 1, &r);
		break;
	case 4:
		probe_tcp_syn_parse(data[0] & 8 ? AF_INET6 : AF_INET, data + 1, size - 1, &sp, &dp,
				    &seq, &ts, &tse);
		answer_check(data[0] & 8 ? AF_INET6 : AF_INET, data + 1, size - 1);
		break;
	default:
		flow_events_run(data + 1, size - 1);
		break;
	}
	return 0;
}
