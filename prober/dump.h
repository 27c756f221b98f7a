/* Packets for the engineer: a bounded ring of the prober's recent probes,
 * replies and trace packets, and its writer: the packets of the lossy flows
 * (a probe with no reply) as a pcap file through libpcap (LINKTYPE_RAW, so
 * tcpdump and Wireshark read it). Headers the sockets do not hand us (a UDP
 * socket's payload, an IPv6 raw socket's L4) are rebuilt from the packet's
 * addresses and ports, checksums included. */
#ifndef FM_PROBER_DUMP_H
#define FM_PROBER_DUMP_H

#include <stddef.h>
#include <stdint.h>

#define DUMP_SNAP_BYTES 128 /* bytes kept of each packet (a probe and an ICMP quote of it fit) */

enum dump_kind {
	DUMP_PROBE = 1,   /* a loss probe the prober sent */
	DUMP_REPLY,       /* the responder's answer to it (counted, in time) */
	DUMP_TRACE_PROBE, /* a TTL-limited trace probe */
	DUMP_TRACE_REPLY, /* an ICMP error or the target's answer to it */
};

/* What bytes hold. */
enum dump_layer {
	DUMP_L_PAYLOAD = 1, /* the UDP payload: IP and UDP headers rebuilt */
	DUMP_L_L4,          /* the L4 header onwards: the IP header rebuilt */
	DUMP_L_IP,          /* the whole IP packet */
};

/* One packet as a hook hands it over. Addresses in network byte order,
 * ports in host order. */
struct dump_pkt {
	enum dump_kind kind;
	enum dump_layer layer;
	int family;            /* AF_INET or AF_INET6 */
	uint8_t proto;         /* IPPROTO_UDP, _TCP, _ICMP, _ICMPV6 of the bytes */
	uint8_t ttl, tos;      /* for a rebuilt IP header */
	uint8_t src[16], dst[16]; /* the packet's addresses (4 used for IPv4) */
	uint16_t sport, dport; /* the packet's ports (rebuilt UDP header) */
	/* the flow it belongs to: the prober's source port towards target */
	uint8_t flow_target[16];
	uint16_t flow_sport;
	uint8_t flow_proto;    /* IPPROTO_UDP or IPPROTO_TCP */
	uint32_t seq;          /* probe/reply: the flow's probe sequence */
	uint64_t ts_ns;        /* CLOCK_REALTIME: sent, or the kernel's receive stamp */
	const uint8_t *bytes;
	size_t len;
};

struct dump_ring;

/* A ring of the last cap packets (cap * ~230 bytes). NULL with errno. */
struct dump_ring *dump_ring_new(size_t cap);
void dump_ring_free(struct dump_ring *r);
/* Keep p (its bytes cut at DUMP_SNAP_BYTES), overwriting the oldest. */
void dump_ring_add(struct dump_ring *r, const struct dump_pkt *p);

struct dump_limits {
	uint64_t span_ns;      /* packets newer than the newest minus this */
	uint64_t timeout_ns;   /* a probe this much older than the newest packet
				* with no reply is lost (younger: may still come) */
	uint64_t max_bytes;    /* the file stops growing past this */
};

/* What a write found. */
struct dump_stats {
	unsigned flows_lossy;
	uint64_t probes, lost, packets;
	uint64_t bytes;         /* file size */
	int truncated;          /* max_bytes stopped it */
};

/* Write the packets of every flow with a lost probe in the span (probes,
 * replies, trace packets) in time order to path (via a temporary and a
 * rename). Returns 0 and fills st (may be NULL), or -1 with the reason,
 * naming path, in err. */
int dump_write(const struct dump_ring *r, const char *path, const struct dump_limits *lim,
	       struct dump_stats *st, char *err, size_t errlen);

#endif
