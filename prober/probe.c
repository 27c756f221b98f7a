/* The faultmesh probe payload codec, checksum helpers and the table of probe
 * kinds; the kinds themselves live in probe_<kind>.c. */
#include "probe.h"
#include "bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

void probe_msg_encode(const struct probe_msg *m, uint8_t *buf)
{
	bytes_be32_put(buf, PROBE_MAGIC);
	buf[4] = PROBE_VERSION;
	buf[5] = m->type;
	bytes_be16_put(buf + 6, 0); /* flags: none defined in v1 */
	bytes_be32_put(buf + 8, m->session);
	bytes_be32_put(buf + 12, m->flow_id);
	bytes_be32_put(buf + 16, m->seq);
	bytes_be32_put(buf + 20, m->count);
	bytes_be64_put(buf + 24, m->tx_ns);
	bytes_be64_put(buf + 32, m->rx_ns);
	bytes_be64_put(buf + 40, m->rtx_ns);
}

int probe_msg_decode(const uint8_t *buf, size_t len, struct probe_msg *m)
{
	if (len < PROBE_HDR_LEN || bytes_be32_get(buf) != PROBE_MAGIC ||
	    buf[4] != PROBE_VERSION ||
	    (buf[5] != PROBE_REQUEST && buf[5] != PROBE_REPLY) || buf[6] || buf[7])
		goto bad;
	m->type = buf[5];
	m->session = bytes_be32_get(buf + 8);
	m->flow_id = bytes_be32_get(buf + 12);
	if (m->flow_id >= PROBE_FLOWS_MAX)
		goto bad;
	m->seq = bytes_be32_get(buf + 16);
	m->count = bytes_be32_get(buf + 20);
	m->tx_ns = bytes_be64_get(buf + 24);
	m->rx_ns = bytes_be64_get(buf + 32);
	m->rtx_ns = bytes_be64_get(buf + 40);
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
