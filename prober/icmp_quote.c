/* Decoder for ICMP/ICMPv6 errors quoting one of our probes: every offset is
 * checked against the buffer before it is read, because the bytes come from
 * any router (or anyone) on the path. */
#include "icmp_quote.h"
#include "bytes.h"
#include "addr.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define ICMP_HDR_LEN 8
#define IP4_HDR_MIN 20
#define IP6_HDR_LEN 40
#define EXT_MIN_QUOTE 128 /* RFC 4884: original datagram padded to >= 128 */
#define IP6_EXT_MAX 8     /* extension headers walked before giving up */

static int fail(int e)
{
	errno = e;
	return -1;
}

/* Ports and identity fields from the first bytes of the quoted L4 header. */
static void quote_l4_read(struct icmp_quote *q, const uint8_t *l4, size_t n)
{
	q->l4_len = n > 255 ? 255 : (uint8_t)n;
	if (n < 4 || (q->proto != 17 && q->proto != 6))
		return;
	q->sport = bytes_be16_get(l4);
	q->dport = bytes_be16_get(l4 + 2);
	if (n < 8)
		return;
	if (q->proto == 17) {
		q->udp_len = bytes_be16_get(l4 + 4);
		q->udp_sum = bytes_be16_get(l4 + 6);
	} else {
		q->tcp_seq = bytes_be32_get(l4 + 4);
	}
}

/* RFC 4884 extension structure: version 2 header, then objects; only the MPLS
 * label stack (class 1, c-type 1) is kept. A malformed extension is ignored,
 * not fatal: the quote itself is still good evidence. */
static void quote_ext_read(struct icmp_quote *q, const uint8_t *p, size_t n)
{
	size_t off = 4;

	if (n < 4 || (p[0] >> 4) != 2)
		return;
	q->has_ext = 1;
	while (off + 4 <= n) {
		size_t olen = bytes_be16_get(p + off);
		uint8_t cls = p[off + 2], ctype = p[off + 3];

		if (olen < 4 || off + olen > n)
			return;
		if (cls == 1 && ctype == 1) {
			for (size_t i = 4; i + 4 <= olen && q->mpls_n < 4; i += 4)
				q->mpls[q->mpls_n++] = bytes_be32_get(p + off + i);
		}
		off += olen;
	}
}

/* Split the ICMP body into the original datagram and the extension using the
 * RFC 4884 length (in units of unit_bytes); 0 means no extension. */
static size_t quote_len_split(struct icmp_quote *q, const uint8_t *body, size_t n,
			      size_t words, size_t unit_bytes)
{
	size_t qlen = words * unit_bytes;

	if (words == 0 || qlen < EXT_MIN_QUOTE || qlen > n)
		return n;
	quote_ext_read(q, body + qlen, n - qlen);
	return qlen;
}

static enum icmp_quote_kind kind4(uint8_t type, uint8_t code)
{
	if (type == 11 && code == 0)
		return ICMP_QUOTE_TTL_EXCEEDED;
	if (type == 3)
		return code == 3 ? ICMP_QUOTE_PORT_UNREACH : ICMP_QUOTE_UNREACH;
	return ICMP_QUOTE_OTHER;
}

int icmp_quote_parse4(const uint8_t *buf, size_t len, struct icmp_quote *q)
{
	size_t ihl, tot, n, qihl;
	const uint8_t *icmp, *in;

	memset(q, 0, sizeof(*q));
	if (!buf || len < IP4_HDR_MIN)
		return fail(EBADMSG);
	if ((buf[0] >> 4) != 4)
		return fail(EPROTO);
	ihl = (size_t)(buf[0] & 0x0f) * 4;
	if (ihl < IP4_HDR_MIN || ihl > len)
		return fail(EBADMSG);
	if (buf[9] != 1)
		return fail(EPROTO);
	if (bytes_be16_get(buf + 6) & 0x1fff)
		return fail(EPROTO); /* a later fragment: no ICMP header here */
	tot = bytes_be16_get(buf + 2);
	if (tot >= ihl && tot < len)
		len = tot; /* ignore link padding past the IP datagram */
	addr_set4(&q->from, buf + 12);
	icmp = buf + ihl;
	n = len - ihl;
	if (n < ICMP_HDR_LEN)
		return fail(EBADMSG);
	q->type = icmp[0];
	q->code = icmp[1];
	/* Only errors quote a packet: unreachable, source quench, redirect,
	 * time exceeded, parameter problem. */
	if (q->type != 3 && q->type != 4 && q->type != 5 && q->type != 11 && q->type != 12)
		return fail(EPROTO);
	q->kind = kind4(q->type, q->code);
	in = icmp + ICMP_HDR_LEN;
	n -= ICMP_HDR_LEN;
	if (q->type == 3 || q->type == 11 || q->type == 12)
		n = quote_len_split(q, in, n, icmp[5], 4);
	if (n < IP4_HDR_MIN)
		return fail(EBADMSG);
	if ((in[0] >> 4) != 4)
		return fail(EPROTO);
	qihl = (size_t)(in[0] & 0x0f) * 4;
	if (qihl < IP4_HDR_MIN || qihl > n)
		return fail(EBADMSG);
	q->ip_id = bytes_be16_get(in + 4);
	q->quoted_ttl = in[8];
	q->proto = in[9];
	addr_set4(&q->src, in + 12);
	addr_set4(&q->dst, in + 16);
	if (bytes_be16_get(in + 6) & 0x1fff)
		return 0; /* quoted a later fragment: no L4 header to read */
	quote_l4_read(q, in + qihl, n - qihl);
	return 0;
}

static enum icmp_quote_kind kind6(uint8_t type, uint8_t code)
{
	if (type == 3 && code == 0)
		return ICMP_QUOTE_TTL_EXCEEDED;
	if (type == 1)
		return code == 4 ? ICMP_QUOTE_PORT_UNREACH : ICMP_QUOTE_UNREACH;
	return ICMP_QUOTE_OTHER;
}

int icmp_quote_parse6(const uint8_t *buf, size_t len,
		      const struct wire_addr *from, struct icmp_quote *q)
{
	const uint8_t *in, *p;
	size_t n, off;
	uint8_t next;

	memset(q, 0, sizeof(*q));
	if (!buf || len < ICMP_HDR_LEN)
		return fail(EBADMSG);
	if (from)
		q->from = *from;
	q->type = buf[0];
	q->code = buf[1];
	/* Errors are types 1-4 (RFC 4443); 128 and up are informational. */
	if (q->type < 1 || q->type > 4)
		return fail(EPROTO);
	q->kind = kind6(q->type, q->code);
	in = buf + ICMP_HDR_LEN;
	n = len - ICMP_HDR_LEN;
	if (q->type == 1 || q->type == 3)
		n = quote_len_split(q, in, n, buf[4], 8);
	if (n < IP6_HDR_LEN)
		return fail(EBADMSG);
	if ((in[0] >> 4) != 6)
		return fail(EPROTO);
	q->flow_label = bytes_be32_get(in) & 0xfffff;
	q->quoted_ttl = in[7];
	addr_set6(&q->src, in + 8);
	addr_set6(&q->dst, in + 24);
	next = in[6];
	off = IP6_HDR_LEN;
	/* Walk hop-by-hop, routing and destination options headers (bounded);
	 * a fragment header with a non-zero offset means no L4 header follows. */
	for (int i = 0; i < IP6_EXT_MAX; i++) {
		if (next != 0 && next != 43 && next != 60 && next != 44)
			break;
		if (off + 8 > n) {
			q->proto = next;
			return 0;
		}
		p = in + off;
		if (next == 44) {
			if (bytes_be16_get(p + 2) & 0xfff8) {
				q->proto = p[0];
				return 0;
			}
			off += 8;
		} else {
			off += ((size_t)p[1] + 1) * 8;
		}
		next = p[0];
		if (off > n) {
			q->proto = next;
			return 0;
		}
	}
	q->proto = next;
	quote_l4_read(q, in + off, n - off);
	return 0;
}
