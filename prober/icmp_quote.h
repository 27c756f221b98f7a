/* Decoder for ICMP (RFC 792) and ICMPv6 (RFC 4443) error messages: the
 * replying router, the quoted probe's 5-tuple and identity fields, and the
 * RFC 4884 extension (MPLS label stack). Input comes off the wire: untrusted. */
#ifndef FM_ICMP_QUOTE_H
#define FM_ICMP_QUOTE_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

enum icmp_quote_kind {
	ICMP_QUOTE_TTL_EXCEEDED = 1, /* v4 type 11 code 0, v6 type 3 code 0 */
	ICMP_QUOTE_PORT_UNREACH,     /* v4 3/3, v6 1/4: the destination itself */
	ICMP_QUOTE_UNREACH,          /* any other destination unreachable */
	ICMP_QUOTE_OTHER,            /* other error types that quote a packet */
};

struct icmp_quote {
	enum icmp_quote_kind kind;
	uint8_t type, code;        /* as on the wire */
	struct wire_addr from;   /* the router (or host) that sent the error */
	/* The quoted probe. */
	struct wire_addr src, dst;
	uint8_t proto;             /* IPPROTO_UDP / IPPROTO_TCP / other */
	uint8_t quoted_ttl;        /* TTL / hop limit left when it expired */
	uint16_t ip_id;            /* IPv4 identification, 0 for IPv6 */
	uint32_t flow_label;       /* IPv6 flow label, 0 for IPv4 */
	uint16_t sport, dport;     /* 0 when the quote is shorter than 4 L4 bytes */
	uint16_t udp_len, udp_sum; /* UDP: from the first 8 bytes */
	uint32_t tcp_seq;          /* TCP: from the first 8 bytes */
	uint8_t l4_len;            /* L4 bytes present in the quote (capped at 255) */
	/* RFC 4884 extension structure (v4 length in 32-bit words, v6 in 64). */
	uint8_t has_ext;
	uint8_t mpls_n;            /* MPLS labels decoded (at most 4) */
	uint32_t mpls[4];          /* label << 12 | TC << 9 | S << 8 | TTL */
};

/* Decode an IPv4 packet as a raw IPPROTO_ICMP socket returns it (IPv4
 * header first). Returns 0 and fills q (ports valid when l4_len >= 4, udp_sum
 * and tcp_seq when l4_len >= 8); -1 with errno EPROTO when it is not an ICMP
 * error quoting an IP packet of its family, or EBADMSG when a length or header
 * field does not fit the buffer. Never reads past buf + len. */
int icmp_quote_parse4(const uint8_t *buf, size_t len, struct icmp_quote *q);

/* Decode an ICMPv6 message as a raw IPPROTO_ICMPV6 socket returns it (ICMPv6
 * header first, no IPv6 header); from is the sender from recvfrom. Same
 * returns as icmp_quote_parse4. */
int icmp_quote_parse6(const uint8_t *buf, size_t len,
		      const struct wire_addr *from, struct icmp_quote *q);

#endif
