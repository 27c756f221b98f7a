/* Paris-traceroute-style path tracing per ECMP flow: TTL-limited UDP or TCP SYN
 * probes that keep the flow's exact 5-tuple, driven by the caller's event loop.
 * Replies (ICMP errors, the destination's answer) are matched from the quote. */
#ifndef FM_TRACE_H
#define FM_TRACE_H

#include "probe.h"
#include "wire.h"

#include <stdint.h>

/* The flow to trace: the same 5-tuple the prober's loss probes use, so the
 * routers' ECMP hash sends the trace down the same path. */
struct trace_flow {
	struct wire_addr src; /* family 0: the kernel's route source is used */
	struct wire_addr dst;
	uint8_t proto;          /* a probe kind's: WIRE_PROTO_UDP or WIRE_PROTO_TCP */
	uint8_t dscp;           /* copied into the probes' traffic class */
	uint16_t sport, dport;
};

enum trace_infer { TRACE_INFER_OFF = 0, TRACE_INFER_NODE = 1, TRACE_INFER_LITE = 2 };

struct tracer_cfg {
	uint8_t first_ttl;        /* first hop probed, >= 1 */
	uint8_t max_ttl;          /* last hop probed, <= WIRE_HOPS_MAX */
	uint8_t retries;          /* extra probes for a hop that stays silent */
	uint8_t gap_limit;        /* silent hops in a row that end a trace */
	uint32_t timeout_ms;      /* wait for one probe's answer */
	uint32_t max_active;      /* flows probed at once; more wait in a queue */
	/* Routers' ICMP rate limit the pacing respects (Linux: icmp_ratelimit
	 * 1000 ms per peer with a burst of 6). Probes at one TTL are spaced so
	 * each router that answered at that TTL stays under it. */
	uint32_t router_interval_ms;
	uint32_t router_burst;
	/* Hops taken from what earlier flows to the same destination showed,
	 * instead of probed (such hops carry hop_probes 0 and are flagged in
	 * trace_result.inferred_mask; a destination inferred so sets
	 * dst_inferred):
	 *  TRACE_INFER_OFF:  probe every hop (exact per-flow measurement).
	 *  TRACE_INFER_NODE: MDA node control - the flow's previous hop was seen
	 *    on mda_stop_flows(1) = 6 flows, always with the same successor.
	 *  TRACE_INFER_LITE: MDA-Lite (Vermeulen et al. 2018) for unmeshed hops -
	 *    at least 6 flows crossed from the previous hop to this one and no
	 *    node there showed two successors; then any previous-hop node seen
	 *    before gives its successor. Cheaper, and wrong only when a node
	 *    that splits flows has been crossed by a single flow so far. Also
	 *    its path length rule: once 6 flows all met the destination at
	 *    one TTL (and none elsewhere), others meet it there too. */
	int infer;
	/* With infer on: the caller knows (e.g. from RTM_GETROUTE) that its
	 * route to every destination has a single next hop, so hop 1 is the
	 * same router interface for every flow: probed once per destination,
	 * then inferred. */
	int first_hop_single;
	/* Bytes every UDP probe starts with (e.g. a header the responder
	 * recognizes so it answers); the tracer appends 2 bytes it chooses so the
	 * UDP checksum carries the probe's identity (after a pad byte when the
	 * template's length is odd). A UDP answer from the destination counts
	 * only if it echoes those 2 bytes at the same payload offset; otherwise
	 * the trace ends on ICMP port unreachable, or on gap_limit. NULL:
	 * "FMTRACE\0". Copied by tracer_open. */
	const uint8_t *udp_payload;
	uint16_t udp_payload_len; /* <= 256 */
	/* 1: watch for the destination's own UDP answers (a raw socket that
	 * sees every UDP packet of the host - costly beside a busy prober).
	 * 0: UDP traces end on ICMP port unreachable or gap_limit only. */
	int udp_replies;
	/* >= 0: payload offset of a 4-byte word of udp_payload that the
	 * destination's answers echo unchanged (faultmesh: the session), so the
	 * raw UDP socket's filter drops the host's other UDP traffic in the
	 * kernel. -1: answers are told only by their length. */
	int udp_echo_off;
};

/* Fill cfg with the defaults: TTL 1..30, 3 retries, gap 3, 1000 ms timeout,
 * 16 active flows, 1000 ms / burst 6 router pacing, infer off, UDP answers
 * watched. */
void tracer_cfg_default(struct tracer_cfg *cfg);

enum trace_end {
	TRACE_END_REACHED = 1, /* the destination answered */
	TRACE_END_GAP,         /* gap_limit silent hops in a row */
	TRACE_END_MAX_TTL,     /* max_ttl probed without reaching it */
	TRACE_END_UNREACH,     /* a router answered Destination Unreachable */
	TRACE_END_ERROR,       /* probes could not be sent (errno in err_no) */
	TRACE_END_CANCELLED,   /* tracer_close with the trace unfinished */
};

/* What a finished trace hands to the callback. path.hops excludes the prober
 * and the target; trailing silent hops are dropped; a silent hop in between
 * has family 0. path.hop_probes/hop_replies count every probe and answer per
 * hop, retries included, so a hop that answered 1 of 3 is rate-limited, not a
 * failed hop (only end-to-end loss is loss). */
struct trace_result {
	struct wire_path path;
	enum trace_end end;
	int err_no;              /* for TRACE_END_ERROR */
	uint8_t dst_ttl;         /* TTL the destination answered at, 0 if not */
	uint8_t dst_inferred;    /* dst_ttl taken from a confirmed last hop */
	uint32_t probes_sent;    /* all probes of this trace */
	uint32_t inferred_mask;  /* bit i: hops[i] inferred, not probed */
	uint64_t start_ns, end_ns;
	uint64_t user;           /* as passed to tracer_flow_start */
};

/* Called once per started flow, from tracer_readable, tracer_timer or
 * tracer_close; res is valid only during the call. The callback may start
 * new flows but must not close the tracer. */
typedef void (*tracer_done_cb)(void *arg, const struct trace_result *res);

struct tracer;

/* Open a tracer for one address family (AF_INET or AF_INET6): raw sockets to
 * send probes and to catch ICMP errors and the destinations' UDP/TCP answers
 * (needs CAP_NET_RAW). cfg NULL means the defaults. Returns NULL with errno
 * (EINVAL for a bad family or cfg, EPERM without the capability). */
struct tracer *tracer_open(int family, const struct tracer_cfg *cfg,
			   tracer_done_cb cb, void *arg);

/* One descriptor that becomes readable when any of the tracer's sockets has
 * data (an epoll descriptor): poll it for POLLIN and then call
 * tracer_readable. */
int tracer_fd(const struct tracer *t);

/* Queue a trace of flow at now_ns (CLOCK_MONOTONIC ns); user comes back in
 * the result. Nothing is sent here: probes go out from tracer_timer. Returns
 * 0, or -1 with errno EINVAL (bad flow, family mismatch) or ENOMEM. */
int tracer_flow_start(struct tracer *t, const struct trace_flow *flow,
		      uint64_t user, uint64_t now_ns);

/* Read and match every pending packet (non-blocking); packets that are not
 * answers to our probes are counted and dropped. May call the callback.
 * Returns the number of packets matched to a probe. */
int tracer_readable(struct tracer *t, uint64_t now_ns);

/* Send due probes and expire timed-out ones; may call the callback. Call it
 * when tracer_next_ns says, after tracer_flow_start, and after
 * tracer_readable. Returns the number of probes sent. */
int tracer_timer(struct tracer *t, uint64_t now_ns);

/* When tracer_timer next has work, in CLOCK_MONOTONIC ns; UINT64_MAX when
 * idle (no flow queued or active) - so check it (or tracer_busy) after every
 * tracer_timer, which may have just finished the last flow. */
uint64_t tracer_next_ns(const struct tracer *t);

/* Flows queued or being traced. */
unsigned tracer_busy(const struct tracer *t);

/* Counters since open, for logs and benches. */
struct tracer_stats {
	uint64_t probes_sent;
	uint64_t replies_matched;
	uint64_t packets_ignored; /* not an answer to one of our probes */
	uint64_t packets_malformed;
	uint64_t send_errors;
	uint64_t hops_inferred;
};
void tracer_stats_get(const struct tracer *t, struct tracer_stats *st);

/* Forget what the tracer learned about the fabric (path lengths, confirmed
 * successors), e.g. before a periodic retrace that must probe every hop. */
void tracer_knowledge_reset(struct tracer *t);

struct dump_ring;
/* Keep every probe sent and every answer matched in r (NULL: stop), for the
 * prober's pcap dump. */
void tracer_dump_set(struct tracer *t, struct dump_ring *r);

/* Close the sockets; unfinished flows are reported as TRACE_END_CANCELLED
 * (the callback must not start flows then). NULL is a no-op. */
void tracer_close(struct tracer *t);

/* Write a probe of flow f (src and dst set, same family, a probe kind's
 * protocol) at ttl with identity id (1..0xfffe), try try, into buf: IPv4
 * header + L4 for AF_INET (sent with IP_HDRINCL; its ID is id too), L4 only
 * for AF_INET6 (the kernel writes the header). The L4 segment is the kind's
 * trace_build with c; tag gets what answers name the probe by. Exposed for
 * golden-byte tests. Returns the length, or -1 with errno EINVAL / ENOSPC. */
int trace_probe_build(const struct trace_flow *f, const struct probe_trace_cfg *c, uint8_t ttl,
		      uint16_t id, uint8_t try, uint8_t *buf, size_t cap,
		      struct probe_trace_tag *tag);

#endif
