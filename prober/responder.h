/* Responder: answers faultmesh UDP probes (and, optionally, TCP SYN probes)
 * with the receive/send times and how many probes of that flow it has seen,
 * rate-limited per source. */
#ifndef FM_RESPONDER_H
#define FM_RESPONDER_H

#include <stddef.h>
#include <stdint.h>

#include "probe.h"

struct responder;

/* A small multiple of a large mesh's probe rate into one responder (100
 * probers x 50 probes/s = 5,000/s): README "Security". */
#define RESPONDER_GLOBAL_RATE_PPS_DEFAULT 20000.0
#define RESPONDER_GLOBAL_BURST_DEFAULT 5000.0

struct responder_cfg {
	/* the port each probe kind is answered on (by probe_kind_index), 0 =
	 * off; kinds without answer_ callbacks are never answered */
	uint16_t port[PROBE_KINDS_MAX];
	double rate_pps;    /* per-source answer rate */
	double burst;       /* per-source bucket depth, in probes */
	/* all sources together (0: the defaults below): a flood from many
	 * addresses gets no more than this */
	double global_rate_pps;
	double global_burst;
	int ipv6;           /* also answer over IPv6 */
};

struct responder_stats {
	uint64_t answered;     /* replies sent */
	uint64_t rate_limited; /* probes dropped by the per-source bucket */
	uint64_t global_limited; /* probes dropped by the all-sources bucket */
	uint64_t malformed;    /* datagrams/segments that were not faultmesh probes
				* (a SYN smaller than our reply is not answered) */
	uint64_t send_errors;  /* replies the kernel refused */
};

/* Open the sockets. Returns NULL with a reason in err. Needs CAP_NET_RAW
 * only when a PROBE_SOCK_RAW kind (tcp) has a port. */
struct responder *responder_open(const struct responder_cfg *cfg, char *err, size_t errlen);
/* The sockets to poll for input; returns how many were written (<= max). */
size_t responder_fds(const struct responder *r, int *fds, size_t max);
/* Read and answer what is queued on fd (one of responder_fds). Never fails:
 * bad packets are counted. */
void responder_fd_ready(struct responder *r, int fd);
void responder_stats_get(const struct responder *r, struct responder_stats *s);
void responder_close(struct responder *r);

/* The per-flow received counter, exposed for tests: bumps and returns the
 * count for a key (16-byte address, port, proto, flow id, session). */
uint32_t responder_count_bump(struct responder *r, const uint8_t addr[16],
			      uint16_t sport, uint8_t proto, uint32_t flow_id,
			      uint32_t session, int64_t now_ms);
/* Per-source token bucket, then the global one: 1 when a probe from addr may
 * be answered now (both buckets pay), 0 when either is empty. Sources are
 * kept in a set-associative table with their address; a source that takes a
 * slot over from another inherits that slot's tokens (refilled only for the
 * time elapsed), so sources sharing a set, or cycling through it, never get
 * more than the set's elapsed-time credit. */
int responder_rate_allow(struct responder *r, const uint8_t addr[16], int64_t now_ms);
/* A responder with tables but no sockets (tests). */
struct responder *responder_new_detached(const struct responder_cfg *cfg);

#endif
