/* Probe kinds (schemas/probe.md v1): one struct probe_ops per kind, listed in
 * probe_kinds[]; plus the faultmesh UDP payload codec both ends share. */
#ifndef FM_PROBE_H
#define FM_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/filter.h>
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
/* The unfolded sum of the pseudo header (RFC 768, RFC 793, RFC 8200 8.1)
 * of an L4 segment of l4_len (< 65536) bytes: src and dst are 4 (AF_INET)
 * or 16 (AF_INET6) bytes in network order. */
uint32_t probe_pseudo_sum(int family, const void *src, const void *dst, uint8_t proto,
			  uint32_t l4_len);

/* An IP header as the kernel writes it, for raw IPv4 sends (IP_HDRINCL)
 * and for packets the dump rebuilds. Addresses in network order. */
struct probe_ip_hdr {
	int family;         /* AF_INET or AF_INET6 */
	uint8_t tos;        /* DSCP << 2 | ECN (the IPv6 traffic class) */
	uint8_t ttl;        /* TTL or hop limit */
	uint8_t proto;      /* the L4 protocol (IPv6 next header) */
	uint8_t df;         /* IPv4: set Don't Fragment */
	uint16_t id;        /* IPv4 identification */
	size_t payload_len; /* bytes after the IP header */
	const void *src, *dst;
};
/* Write h at out: 20 bytes (IPv4, header checksum set) or 40 (IPv6).
 * Returns the header length. */
size_t probe_ip_hdr_write(uint8_t *out, const struct probe_ip_hdr *h);

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

/* How a kind's packets meet the kernel; the pinger opens, sends and reads
 * by it and never by the kind's name. */
enum probe_sock {
	/* One kernel socket per flow port (bound to sport_base + i): the kernel
	 * writes the IP and L4 headers, so the bytes sent and received are the
	 * L4 payload; the reply's ports and address come from the socket and
	 * recvmsg's source. Needs no privilege. */
	PROBE_SOCK_PORT = 1,
	/* One raw socket per family (CAP_NET_RAW) behind the kind's BPF filter:
	 * bytes are the L4 header onwards (received IPv4 packets start with
	 * the IP header); probes go to the target with port 0 and their source
	 * pinned, as the L4 checksum covers it. */
	PROBE_SOCK_RAW,
};

/* What a trace probe carries beyond its flow (from struct tracer_cfg). */
struct probe_trace_cfg {
	const uint8_t *payload; /* bytes a payload-carrying kind's probe starts with */
	uint16_t payload_len;   /* <= PROBE_TRACE_PAYLOAD_MAX */
	int echo_off;           /* >= 0: a 4-byte word of payload answers echo; -1 none */
	int answers;            /* 0: skip answers that are costly to watch */
};
#define PROBE_TRACE_PAYLOAD_MAX 256
#define PROBE_KERNEL_HDR_MAX 20 /* kernel_hdr_write writes at most this */

/* A trace probe's identity as its answers show it (set by trace_build). */
struct probe_trace_tag {
	uint16_t id;     /* the tracer's probe id; the IPv4 ID carries it too */
	uint32_t quoted; /* what an ICMP error's quote of the probe shows */
	uint32_t echoed; /* what the destination's own answer echoes */
};

struct icmp_quote;

/* A probe the responder received, as the kind's answer_parse read it. The
 * count key (with the sender's address and the kind's proto) is sport,
 * flow_id and session; the rest is what answer_build echoes. */
struct probe_answer {
	uint16_t sport, dport; /* the probe's ports; PORT kinds: sport from the sender */
	uint32_t flow_id;      /* the prober's flow, < PROBE_FLOWS_MAX */
	uint32_t session;      /* the prober run the probe names */
	uint32_t seq;          /* the probe's seq as the kind carries it */
	uint64_t tx_ns;        /* the probe's send time as carried (TCP: 32 bits) */
	size_t len;            /* L4 bytes received (payload for PORT kinds, the
				* segment for RAW ones): the answer's bound */
};
#define PROBE_ANSWER_FDS_MAX 2

/* One probe kind. A new kind is this struct in prober/probe_<kind>.c, its
 * line in probe_kinds[] (probe.c) and its test in tests/unit/test_probe*.c:
 * the pinger, tracer, dump and responder use it through these callbacks
 * only. (A kind the target's kernel answers, like an ICMP echo, sets the
 * answer_ callbacks NULL: the faultmesh responder then leaves it alone.)
 * Contracts:
 *  sock:  the socket model above.
 *  open:  create the kind's sockets for one family: nsocks sockets bound to
 *         sport_base + i (PROBE_SOCK_PORT), or one raw socket with the
 *         kind's BPF filter passing only replies from a responder
 *         (PROBE_SOCK_RAW). Returns the count written to fds, or -1 with
 *         errno (sockets opened so far are closed).
 *  tmpl_init: write the constant bytes of key's packet into t.
 *  build: patch seq and tx_ns (and the checksum) into t->buf; returns length.
 *  parse: given bytes as received on one of the kind's sockets (TCP over
 *         IPv4 includes the IP header), fill r and return 0, or -1 when the
 *         packet is not a faultmesh reply (never an error worth logging
 *         per packet: raw sockets see all traffic of the protocol).
 *         PROBE_SOCK_PORT kinds leave local_port and remote_port 0: the
 *         caller takes them from the socket and the sender.
 *  match: 1 when reply r (ports filled in) answers a probe of flow key (a
 *         prober's session, the flow's ports), else 0; the caller has
 *         checked the sender's address.
 *  trace_build: write the L4 segment of a TTL-limited probe of flow k
 *         (addresses, ports) with identity id at ttl, try into l4 (cap
 *         bytes; the caller writes any IP header) and fill tag. Every probe
 *         of a flow keeps the 5-tuple routers hash on (Paris traceroute):
 *         the identity rides in fields they do not. Returns the length,
 *         or -1 with errno ENOSPC.
 *  trace_quote_match: 1 when ICMP quote q (L4 bytes >= 8) is of the probe
 *         that got tag, else 0 (5-tuple checked by the caller).
 *  trace_answer_match: 1 when the destination's own packet (L4 header
 *         onwards, len bytes, ports reversed and checked by the caller)
 *         answers the probe that got tag, else 0.
 *  trace_answers: 1 when the tracer reads the kind's raw socket for the
 *         destination's own answers under c (0: ICMP errors only).
 *  trace_bpf_filter: attach to the tracer's raw socket of the kind a filter
 *         that passes only what can answer a probe under c (drops all when
 *         trace_answers is 0). 0, or -1 with errno.
 *  kernel_hdr_write: PROBE_SOCK_PORT kinds: write at l4 the L4 header the
 *         kernel put before a payload of payload_len bytes of flow k (the
 *         dump rebuilds sent packets); the checksum only when payload is
 *         not NULL (the whole payload kept). Returns the header length.
 *         NULL for PROBE_SOCK_RAW kinds, whose bytes include it.
 *  answer_open: the responder's sockets of the kind for one family on port
 *         (host order): fds[0] is read for probes (PROBE_SOCK_PORT: a socket
 *         bound to port with IP_PKTINFO/IP_RECVTOS or their IPv6 forms, so
 *         the answer leaves from the address and class the probe came to;
 *         PROBE_SOCK_RAW: a raw socket whose filter passes only the kind's
 *         probes to port, with IPV6_RECVPKTINFO/IPV6_RECVTCLASS), any more
 *         (<= PROBE_ANSWER_FDS_MAX in all) are only held open (tcp's muted
 *         listener). Returns the count, or -1 with errno (none left open).
 *  answer_parse: given bytes as received on fds[0] (framing as for parse),
 *         fill a and return 0 when it is a probe to answer; -1 with errno
 *         EBADMSG for a malformed one (the responder counts it) or ENOMSG
 *         for other traffic a raw socket sees (dropped uncounted). Reads
 *         only len bytes; never logs.
 *  answer_build: write the answer to probe a, which the responder counted
 *         count times (rx_ns: kernel receive stamp, rtx_ns: send time), of
 *         flow back (addresses and ports from the responder to the prober,
 *         for the checksum), into out, which holds the probe's L4 bytes as
 *         answer_parse saw them (PORT kinds echo them in place; RAW kinds
 *         write from out[0]; cap >= PROBE_TCP_LEN). Returns the length, never more
 *         than a->len (no amplification); a kind whose answer would be
 *         larger rejects the probe in answer_parse. */
struct probe_ops {
	const char *name;
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
	enum probe_sock sock;
	int (*open)(int family, uint16_t sport_base, unsigned nsocks, int *fds);
	void (*tmpl_init)(struct probe_tmpl *t, const struct probe_flow_key *key);
	size_t (*build)(struct probe_tmpl *t, uint32_t seq, uint64_t tx_ns);
	int (*parse)(int family, const uint8_t *pkt, size_t len,
		     struct probe_reply *r);
	int (*match)(const struct probe_reply *r, const struct probe_flow_key *key);
	int (*trace_build)(const struct probe_flow_key *k, const struct probe_trace_cfg *c,
			   uint16_t id, uint8_t ttl, uint8_t try, uint8_t *l4, size_t cap,
			   struct probe_trace_tag *tag);
	int (*trace_quote_match)(const struct icmp_quote *q, const struct probe_trace_tag *tag);
	int (*trace_answer_match)(const uint8_t *l4, size_t len, const struct probe_trace_cfg *c,
				  const struct probe_trace_tag *tag);
	int (*trace_answers)(const struct probe_trace_cfg *c);
	int (*trace_bpf_filter)(int fd, int family, const struct probe_trace_cfg *c);
	size_t (*kernel_hdr_write)(uint8_t *l4, const struct probe_flow_key *k,
				   const uint8_t *payload, size_t payload_len);
	int (*answer_open)(int family, uint16_t port, int *fds);
	int (*answer_parse)(int family, const uint8_t *pkt, size_t len, struct probe_answer *a);
	size_t (*answer_build)(const struct probe_answer *a, const struct probe_flow_key *back,
			       uint32_t count, uint64_t rx_ns, uint64_t rtx_ns, uint8_t *out,
			       size_t cap);
};

extern const struct probe_ops probe_udp_ops;
extern const struct probe_ops probe_tcp_ops;

/* All kinds, NULL-terminated, at most PROBE_KINDS_MAX; probe_kind_find
 * returns NULL for an unknown name, probe_kind_by_proto for an unknown IP
 * protocol; probe_kind_index is a kind's position in probe_kinds (callers
 * keep per-kind state in arrays of PROBE_KINDS_MAX). */
#define PROBE_KINDS_MAX 8
extern const struct probe_ops *const probe_kinds[];
const struct probe_ops *probe_kind_find(const char *name);
const struct probe_ops *probe_kind_by_proto(uint8_t proto);
unsigned probe_kind_index(const struct probe_ops *kind);
/* The kinds' names joined by ", " into buf (for usage and errors). */
void probe_kind_names(char *buf, size_t len);

/* The match the udp and tcp kinds share: session and both ports. */
int probe_reply_match(const struct probe_reply *r, const struct probe_flow_key *key);

/* Attach classic BPF code (n instructions) to fd. 0, or -1 with errno. */
int probe_bpf_attach(int fd, const struct sock_filter *code, unsigned short n);
/* The first instruction of a raw L4 socket's filter: X = where the L4
 * header starts (IPv4 raw sockets see the IP header first, IPv6 ones do
 * not), so one program of BPF_IND loads serves both families. */
struct sock_filter probe_bpf_l4_x(int family);

/* Receive buffer asked for on every socket that reads probes or replies:
 * a stall of the process (a busy host) must not overflow the kernel's
 * 208 KiB default, or the host's own socket drops look like fabric loss on
 * its downlink. Best effort: the kernel caps it at net.core.rmem_max. */
#define PROBE_RCVBUF (1 << 20)

/* Shared socket setup: nonblocking, kernel RX timestamps (SO_TIMESTAMPNS). */
int probe_sock_prepare(int fd);
/* Append a control message (level, type, len bytes of data) at offset off
 * of cbuf, which has room and is zeroed; returns the offset after it. */
size_t probe_cmsg_put(char *cbuf, size_t off, int level, int type, const void *data, size_t len);
/* Bind fd to the wildcard address of family at port (host order); an IPv6
 * socket is made v6-only first, as separate IPv4 sockets own the same
 * ports. 0, or -1 with errno. */
int probe_sock_bind_any(int fd, int family, uint16_t port);
/* Close fd on an error path, keeping errno for the caller; returns -1. */
int probe_sock_close_err(int fd);

/* TCP reply the tcp kind's answer_build crafts: RST|ACK from dport back to the probe's
 * source, seq = count, ack = probe seq + 1, window PROBE_TCP_WINDOW_MARK, TS
 * option TSval = the probe's TSecr (session), TSecr = the probe's TSval
 * (send time). Writes PROBE_TCP_LEN bytes into out. */
void probe_tcp_reply_build(const struct probe_flow_key *back, uint32_t count,
			   uint32_t ack, uint32_t tsval, uint32_t tsecr,
			   uint8_t *out);
/* The same RST|ACK without the timestamp option (PROBE_TCP_BARE_LEN bytes
 * used of out's PROBE_TCP_LEN), for a SYN that carried none (a tracer's SYN,
 * a stranger's): the reply is never larger than the probe. */
void probe_tcp_reply_bare_build(const struct probe_flow_key *back, uint32_t count,
				uint32_t ack, uint8_t *out);
/* Parse a SYN probe as the responder sees it (same framing as parse). Returns
 * 0 and fills sport/dport/seq and the TS option's tsval/tsecr (0 when
 * absent), or -1 when it is not a plain SYN. */
int probe_tcp_syn_parse(int family, const uint8_t *pkt, size_t len,
			uint16_t *sport, uint16_t *dport, uint32_t *seq,
			uint32_t *tsval, uint32_t *tsecr);

#endif
