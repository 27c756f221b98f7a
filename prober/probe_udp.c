/* UDP probe kind: one unconnected socket per flow port (the port is what
 * varies the ECMP hash), the faultmesh payload of schemas/probe.md inside. */
#include "probe.h"
#include "bytes.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int udp_open(int family, uint16_t sport_base, unsigned nsocks, int *fds)
{
	unsigned i;

	for (i = 0; i < nsocks; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t sl;
		int one = 1;
		int fd = socket(family, SOCK_DGRAM, IPPROTO_UDP);

		if (fd < 0)
			goto err;
		fds[i] = fd;
		if (family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			/* separate v4 sockets own the same ports */
			if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
				goto err_close;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)(sport_base + i));
			sl = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)(sport_base + i));
			sl = sizeof(*s4);
		}
		if (probe_sock_prepare(fd) < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0)
			goto err_close;
		/* DF set, PMTU ignored: probes never fragment, and the kernel
		 * skips hashing a fresh IP ID for every datagram */
		if (family == AF_INET) {
			int pmtu = IP_PMTUDISC_PROBE;

			if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) < 0)
				goto err_close;
		}
	}
	return (int)nsocks;
err_close:
	i++;
err:
	{
		int e = errno;

		while (i-- > 0)
			close(fds[i]);
		errno = e;
	}
	return -1;
}

static void udp_tmpl_init(struct probe_tmpl *t, const struct probe_flow_key *key)
{
	struct probe_msg m = { .type = PROBE_REQUEST,
			       .session = key->session,
			       .flow_id = key->flow_id };

	probe_msg_encode(&m, t->buf);
	t->len = PROBE_HDR_LEN;
	t->sum = 0; /* the kernel checksums UDP */
}

static size_t udp_build(struct probe_tmpl *t, uint32_t seq, uint64_t tx_ns)
{
	uint8_t *p = t->buf;

	/* only seq (offset 16) and the send time (offset 24) change per probe */
	bytes_be32_put(p + 16, seq);
	bytes_be64_put(p + 24, tx_ns);
	return t->len;
}

static int udp_parse(int family, const uint8_t *pkt, size_t len, struct probe_reply *r)
{
	struct probe_msg m;

	(void)family;
	if (probe_msg_decode(pkt, len, &m) < 0 || m.type != PROBE_REPLY)
		return -1;
	memset(r, 0, sizeof(*r));
	r->flow_id = m.flow_id;
	r->seq = m.seq;
	r->seq_bits = 32;
	r->count = m.count;
	r->tx_ns = m.tx_ns;
	r->tx_bits = 64;
	r->session = m.session;
	/* both stamps come from the responder's clock: their difference is
	 * valid even when the two hosts' clocks disagree */
	if (m.rx_ns && m.rtx_ns >= m.rx_ns)
		r->dwell_ns = m.rtx_ns - m.rx_ns;
	return 0;
}

const struct probe_ops probe_udp_ops = {
	.name = "udp",
	.proto = IPPROTO_UDP,
	.open = udp_open,
	.tmpl_init = udp_tmpl_init,
	.build = udp_build,
	.parse = udp_parse,
};
