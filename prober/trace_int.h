/* The tracer's insides, shared by its three files: trace.c (the public API),
 * trace_do.c (the job state machine, pacing, knowledge) and trace_sock.c
 * (sockets, sending and reading packets). Not for use outside the tracer. */
#ifndef FM_TRACE_INT_H
#define FM_TRACE_INT_H

#include "trace.h"
#include "dump.h"
#include "icmp_quote.h"
#include "probe.h"

#include <stddef.h>
#include <stdint.h>

#define TRACE_PKT_MAX (20 + 20 + PROBE_TRACE_PAYLOAD_MAX + 4) /* IPv4 + the largest L4 */
#define TRACE_RX_BATCH 256       /* packets read per tracer_readable call */
#define TRACE_TTL_SLOTS (WIRE_HOPS_MAX + 2)
#define TRACE_RESPONDERS_MAX 64  /* distinct responders counted per TTL */
#define TRACE_MDA_ALPHA 0.05
#define NS_PER_MS 1000000ull
#ifndef IPV6_AUTOFLOWLABEL
#define IPV6_AUTOFLOWLABEL 70 /* linux/in6.h; older libc headers lack it */
#endif

enum job_state { JOB_READY, JOB_WAIT };

struct trace_job {
	struct trace_flow flow;
	uint64_t user;
	enum job_state state;
	uint8_t ttl;        /* hop being probed */
	uint8_t tries;      /* probes sent at ttl */
	uint8_t gap;        /* silent hops in a row */
	uint64_t deadline_ns;
	const struct probe_ops *kind; /* the kind of flow.proto */
	/* the last probe per TTL, as its answers name it; id 0: none sent */
	struct probe_trace_tag tag_by_ttl[TRACE_TTL_SLOTS];
	struct trace_result res;
	struct trace_job *next; /* queue link */
};

/* What the tracer learned about one router interface on the way to one
 * destination: the successor flows through it showed (MDA node control). */
struct trace_node {
	struct wire_addr dst, addr, succ;
	uint8_t ttl;   /* hop of addr; 0 = the prober itself */
	uint8_t multi; /* more than one successor seen */
	uint32_t flows;
};

/* Where the destination answered, over the flows that reached it by probe. */
struct trace_dst {
	struct wire_addr dst;
	uint8_t ttl;   /* TTL of the first answer */
	uint8_t mixed; /* another flow reached it at another TTL */
	uint32_t flows;
};

/* Per-TTL token bucket, scaled by how many routers answer at that TTL. Two
 * addresses may be one router (the far leaf answers from each spine-facing
 * interface), so the scale is earned: it grows towards the number of
 * responders with answers and halves when a probe goes unanswered (AIMD). */
struct ttl_pace {
	double tokens;
	double routers; /* effective router count, 1..nresp */
	uint64_t last_ns;
	unsigned nresp;
	struct wire_addr resp[TRACE_RESPONDERS_MAX];
};

struct tracer {
	int family;
	struct tracer_cfg cfg;
	tracer_done_cb cb;
	void *cb_arg;
	int epfd, icmp_fd, send_fd;
	/* per probe kind (probe_kind_index): its raw socket, which sends IPv6
	 * probes and reads the destinations' own answers; -1 none */
	int kind_fd[PROBE_KINDS_MAX];
	uint8_t payload[PROBE_TRACE_PAYLOAD_MAX]; /* cfg.udp_payload, copied */
	struct probe_trace_cfg pcfg; /* what the kinds build and match with */
	uint16_t next_id;
	struct trace_job **active;
	unsigned nactive, rr;
	struct trace_job *queue_head, *queue_tail;
	unsigned nqueued;
	struct trace_node *nodes;
	size_t nnodes, cap_nodes;
	struct trace_dst *dsts;
	size_t ndsts, cap_dsts;
	int n1; /* flows that confirm a single successor */
	struct ttl_pace pace[TRACE_TTL_SLOTS];
	struct tracer_stats st;
	struct dump_ring *dump;       /* probes and answers kept for a pcap, or NULL */
	struct trace_flow answered;   /* the flow the last matched answer was for */
};

/* trace_sock.c */
/* Open the tracer's sockets for t->family (ICMP errors, a raw socket per
 * kind that needs one, IPv4's IPPROTO_RAW sender) under one epoll fd. 0, or
 * -1 with errno (what was opened stays for trace_sock_close). */
int trace_sock_open(struct tracer *t);
/* Close every socket of t that is open; safe on a half-opened tracer. */
void trace_sock_close(struct tracer *t);
/* The kernel's choice of source for dst, without sending anything. 0, or
 * -1 with errno. */
int trace_sock_source_for(int family, const struct wire_addr *dst, struct wire_addr *src);
/* Build and send job j's probe at its TTL with identity id; tag names it
 * for the answers. 0, or -1 with errno. */
int trace_sock_probe_send(struct tracer *t, struct trace_job *j, uint16_t id,
			  struct probe_trace_tag *tag);

/* trace_do.c */
/* End active job idx with end: report it through the callback, free it and
 * let a queued job take its place. */
void trace_do_job_finish(struct tracer *t, unsigned idx, enum trace_end end, uint64_t now_ns);
/* An ICMP error quoting a probe (q parsed), or the destination's own answer
 * (addresses and ports as it sent them, l4: n bytes from its L4 header):
 * match it to its job and probe and move that job on; counted as ignored
 * when it answers none. */
void trace_do_icmp_handle(struct tracer *t, const struct icmp_quote *q, uint64_t now_ns);
void trace_do_l4_handle(struct tracer *t, uint8_t proto, const struct wire_addr *from,
			const struct wire_addr *to, const uint8_t *l4, size_t n, uint64_t now_ns);

#endif
