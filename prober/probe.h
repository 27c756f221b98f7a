/* Probe kinds (schemas/probe.md v1): one struct probe_ops per kind, listed in
 * probe_kinds[]; plus the faultmesh UDP payload codec both ends share. */
#ifndef FM_PROBE_H
#define FM_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define PROBE_MAGIC 0x464d5031u /* "FMP1" */
#define PROBE_VERSION 1
#define PROBE_HDR_LEN 48      /* smallest valid UDP probe payload */
#define PROBE_PAYLOAD_MAX 1024 /* larger requests are echoed only this far */
#define PROBE_PORT_DEFAULT 31338
#define PROBE_TCP_WINDOW_MARK 0x464d /* "FM": window of a responder's TCP reply */
#define PROBE_TCP_LEN 32       /* TCP header (20) + NOP NOP TS option (12) */
#define PROBE_TCP_BARE_LEN 20  /* TCP header without options */
#define PROBE_FLOWS_MAX 65536  /* flow ids ride in 16 bits of the TCP seq */

enum probe_type { PROBE_REQUEST = 1, PROBE_REPLY = 2 };

/* The UDP payload, host byte order. Requests carry zero reply fields. */
struct probe_msg {
	uint8_t type;     /* enum probe_type */
	uint32_t session; /* random per prober run: a restart starts new counts */
	uint32_t flow_id; /* prober's flow number, < PROBE_FLOWS_MAX */
	uint32_t seq;     /* per flow, from 0 */
	uint32_t count;   /* reply: probes of this flow the responder has received */
	uint64_t tx_ns;   /* prober send time, CLOCK_REALTIME ns */
	uint64_t rx_ns;   /* reply: responder receive time (kernel stamp) */
	uint64_t rtx_ns;  /* reply: responder send time */
};

/* Write the 48-byte header of m into buf (len >= PROBE_HDR_LEN). */
void probe_msg_encode(const struct probe_msg *m, uint8_t *buf);
/* Parse a payload: 0 when it is a well-formed faultmesh v1 message, -1 with
 * errno EBADMSG otherwise (short, bad magic/version/type, flow id too big). */
int probe_msg_decode(const uint8_t *buf, size_t len, struct probe_msg *m);

/* Internet checksum helpers (RFC 1071): sum 16-bit words into a 32-bit
 * accumulator, then fold. */
uint32_t probe_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t probe_csum_fold(uint32_t sum);

/* What a flow's packets are built from. Addresses in network byte order. */
struct probe_flow_key {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} src, dst;
	uint16_t sport, dport;
	uint32_t session, flow_id;
};

/* A prebuilt packet: constant bytes written once by tmpl_init, then build
 * patches only the fields that change per probe. `sum` caches the checksum
 * of the constant part (pseudo header included) where the kind needs one. */
struct probe_tmpl {
	uint8_t buf[PROBE_HDR_LEN];
	uint16_t len;
	uint32_t sum;
};

/* A reply a kind recognised, reduced to what the pinger's flow table needs. */
struct probe_reply {
	uint32_t flow_id;
	uint32_t seq;        /* full seq (UDP) or its low 16 bits (TCP) */
	uint8_t seq_bits;    /* 32 or 16 */
	uint32_t count;      /* responder's received count for the flow */
	uint64_t tx_ns;      /* echoed send time; TCP echoes only the low 32 bits */
	uint8_t tx_bits;     /* 64 or 32 */
	uint32_t session;    /* the prober run's session the reply echoes */
	uint16_t local_port;  /* our port the reply came to (sport of the flow) */
	uint16_t remote_port; /* the responder's port it came from */
	uint64_t dwell_ns;    /* time the reply spent in the responder, 0 unknown */
};

/* One probe kind. Contracts:
 *  open:  create the kind's sockets for one family; nsocks sockets for UDP
 *         (one per flow port, bound to sport_base+i), one raw socket for TCP
 *         with a BPF filter that passes only replies from a responder.
 *         Returns the count written to fds, or -1 with errno.
 *  tmpl_init: write the constant bytes of key's packet into t.
 *  build: patch seq and tx_ns (and checksum) into t->buf; returns length.
 *  parse: given bytes as received on one of the kind's sockets (TCP over
 *         IPv4 includes the IP header), fill r and return 0, or -1 when the
 *         packet is not a faultmesh reply (never an error worth logging
 *         per packet: raw sockets see all traffic of the protocol). */
struct probe_ops {
	const char *name;
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
	int (*open)(int family, uint16_t sport_base, unsigned nsocks, int *fds);
	void (*tmpl_init)(struct probe_tmpl *t, const struct probe_flow_key *key);
	size_t (*build)(struct probe_tmpl *t, uint32_t seq, uint64_t tx_ns);
	int (*parse)(int family, const uint8_t *pkt, size_t len,
		     struct probe_reply *r);
};

extern const struct probe_ops probe_udp_ops;
extern const struct probe_ops probe_tcp_ops;

/* All kinds, NULL-terminated; probe_kind_find returns NULL for an unknown name. */
extern const struct probe_ops *const probe_kinds[];
const struct probe_ops *probe_kind_find(const char *name);

/* Shared socket setup: nonblocking, kernel RX timestamps (SO_TIMESTAMPNS). */
int probe_sock_prepare(int fd);

/* TCP reply the responder crafts: RST|ACK from dport back to the probe's
 * source, seq = count, ack = probe seq + 1, window PROBE_TCP_WINDOW_MARK, TS
 * option TSval = the probe's TSecr (session), TSecr = the probe's TSval
 * (send time). Writes PROBE_TCP_LEN bytes into out. */
void probe_tcp_reply_build(const struct probe_flow_key *back, uint32_t count,
			   uint32_t ack, uint32_t tsval, uint32_t tsecr,
			   uint8_t *out);
/* Parse a SYN probe as the responder sees it (same framing as parse). Returns
 * 0 and fills sport/dport/seq and the TS option's tsval/tsecr (0 when
 * absent), or -1 when it is not a plain SYN. */
/* The same RST|ACK without the timestamp option (PROBE_TCP_BARE_LEN bytes
 * used of out's PROBE_TCP_LEN), for a SYN that carried none (a tracer's SYN,
 * a stranger's): the reply is never larger than the probe. */
void probe_tcp_reply_bare_build(const struct probe_flow_key *back, uint32_t count,
				uint32_t ack, uint8_t *out);
int probe_tcp_syn_parse(int family, const uint8_t *pkt, size_t len,
			uint16_t *sport, uint16_t *dport, uint32_t *seq,
			uint32_t *tsval, uint32_t *tsecr);

#endif
