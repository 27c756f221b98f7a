/* The faultmesh probe payload codec, checksum helpers and the table of probe
 * kinds; the kinds themselves live in probe_<kind>.c. */
#include "probe.h"
#include "bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

uint32_t probe_pseudo_sum(int family, const void *src, const void *dst, uint8_t proto,
			  uint32_t l4_len)
{
	size_t alen = family == AF_INET6 ? 16 : 4;
	uint32_t sum = probe_csum_add(0, src, alen);

	/* proto and length as plain words: for lengths below 64 KiB this is
	 * the sum of both pseudo-header layouts (IPv6 pads them to 32 bits) */
	return probe_csum_add(sum, dst, alen) + proto + l4_len;
}

size_t probe_ip_hdr_write(uint8_t *out, const struct probe_ip_hdr *h)
{
	if (h->family == AF_INET6) {
		memset(out, 0, 40);
		out[0] = (uint8_t)(0x60 | h->tos >> 4);
		out[1] = (uint8_t)(h->tos << 4);
		bytes_be16_put(out + 4, (uint16_t)h->payload_len);
		out[6] = h->proto;
		out[7] = h->ttl;
		memcpy(out + 8, h->src, 16);
		memcpy(out + 24, h->dst, 16);
		return 40;
	}
	memset(out, 0, 20);
	out[0] = 0x45;
	out[1] = h->tos;
	bytes_be16_put(out + 2, (uint16_t)(20 + h->payload_len));
	bytes_be16_put(out + 4, h->id);
	out[6] = h->df ? 0x40 : 0;
	out[8] = h->ttl;
	out[9] = h->proto;
	memcpy(out + 12, h->src, 4);
	memcpy(out + 16, h->dst, 4);
	bytes_be16_put(out + 10, probe_csum_fold(probe_csum_add(0, out, 20)));
	return 20;
}

int probe_sock_prepare(int fd)
{
	int one = 1;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
}

int probe_sock_bind_any(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int one = 1;

	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	}
	return bind(fd, (struct sockaddr *)&ss, sl);
}

size_t probe_cmsg_put(char *cbuf, size_t off, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *c = (struct cmsghdr *)(cbuf + off);

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	return off + CMSG_SPACE(len);
}

int probe_sock_close_err(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
	return -1;
}

int probe_bpf_attach(int fd, const struct sock_filter *code, unsigned short n)
{
	struct sock_fprog prog = { .len = n, .filter = (struct sock_filter *)code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

struct sock_filter probe_bpf_l4_x(int family)
{
	if (family == AF_INET)
		return (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0);
	return (struct sock_filter)BPF_STMT(BPF_LDX | BPF_IMM, 0);
}

int probe_reply_match(const struct probe_reply *r, const struct probe_flow_key *key)
{
	/* the session tells a loss probe's reply from a trace probe's on the
	 * same ports, and this run's from a previous one's */
	return r->session == key->session && r->local_port == key->sport &&
	       r->remote_port == key->dport;
}

/* The kinds: adding one is a line here and its file. */
const struct probe_ops *const probe_kinds[] = { &probe_udp_ops, &probe_tcp_ops, NULL };

const struct probe_ops *probe_kind_find(const char *name)
{
	for (size_t i = 0; probe_kinds[i]; i++)
		if (strcmp(probe_kinds[i]->name, name) == 0)
			return probe_kinds[i];
	return NULL;
}

const struct probe_ops *probe_kind_by_proto(uint8_t proto)
{
	for (size_t i = 0; probe_kinds[i]; i++)
		if (probe_kinds[i]->proto == proto)
			return probe_kinds[i];
	return NULL;
}

unsigned probe_kind_index(const struct probe_ops *kind)
{
	unsigned i = 0;

	while (probe_kinds[i] && probe_kinds[i] != kind)
		i++;
	return i;
}

void probe_kind_names(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; probe_kinds[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
					probe_kinds[i]->name);
}

_Static_assert(sizeof(probe_kinds) / sizeof(probe_kinds[0]) <= PROBE_KINDS_MAX + 1,
	       "per-kind arrays hold PROBE_KINDS_MAX kinds");
