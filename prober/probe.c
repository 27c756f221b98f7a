/* The faultmesh probe payload codec, checksum helpers and the table of probe
 * kinds; the kinds themselves live in probe_<kind>.c. */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void probe_msg_encode(const struct probe_msg *m, uint8_t *buf)
{
	put_be32(buf, PROBE_MAGIC);
	buf[4] = PROBE_VERSION;
	buf[5] = m->type;
	put_be16(buf + 6, 0); /* flags: none defined in v1 */
	put_be32(buf + 8, m->session);
	put_be32(buf + 12, m->flow_id);
	put_be32(buf + 16, m->seq);
	put_be32(buf + 20, m->count);
	put_be64(buf + 24, m->tx_ns);
	put_be64(buf + 32, m->rx_ns);
	put_be64(buf + 40, m->rtx_ns);
}

int probe_msg_decode(const uint8_t *buf, size_t len, struct probe_msg *m)
{
	if (len < PROBE_HDR_LEN || get_be32(buf) != PROBE_MAGIC ||
	    buf[4] != PROBE_VERSION ||
	    (buf[5] != PROBE_REQUEST && buf[5] != PROBE_REPLY) || buf[6] || buf[7])
		goto bad;
	m->type = buf[5];
	m->session = get_be32(buf + 8);
	m->flow_id = get_be32(buf + 12);
	if (m->flow_id >= PROBE_FLOWS_MAX)
		goto bad;
	m->seq = get_be32(buf + 16);
	m->count = get_be32(buf + 20);
	m->tx_ns = get_be64(buf + 24);
	m->rx_ns = get_be64(buf + 32);
	m->rtx_ns = get_be64(buf + 40);
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

uint32_t probe_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t probe_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int probe_sock_prepare(int fd)
{
	int one = 1;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
}

const struct probe_ops *const probe_kinds[] = { &probe_udp_ops, &probe_tcp_ops, NULL };

const struct probe_ops *probe_kind_find(const char *name)
{
	for (size_t i = 0; probe_kinds[i]; i++)
		if (strcmp(probe_kinds[i]->name, name) == 0)
			return probe_kinds[i];
	return NULL;
}
