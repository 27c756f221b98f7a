/* Responder: answers faultmesh UDP probes (and, optionally, TCP SYN probes)
 * with the receive/send times and how many probes of that flow it has seen,
 * rate-limited per source. */
#ifndef FM_RESPONDER_H
#define FM_RESPONDER_H

#include <stddef.h>
#include <stdint.h>

struct responder;

struct responder_cfg {
	uint16_t udp_port;  /* UDP port to answer on */
	uint16_t tcp_port;  /* TCP port to answer SYN probes on, 0 = off */
	double rate_pps;    /* per-source answer rate */
	double burst;       /* per-source bucket depth, in probes */
	int ipv6;           /* also answer over IPv6 */
};

struct responder_stats {
	uint64_t answered;     /* replies sent */
	uint64_t rate_limited; /* probes dropped by the per-source bucket */
	uint64_t malformed;    /* UDP datagrams that were not faultmesh probes */
	uint64_t send_errors;  /* replies the kernel refused */
};

/* Open the sockets. Returns NULL with a reason in err. Needs CAP_NET_RAW
 * (raw TCP socket) only when tcp_port is set. */
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
/* Per-source token bucket: 1 when a probe from addr may be answered now. */
int responder_rate_allow(struct responder *r, const uint8_t addr[16], int64_t now_ms);
/* A responder with tables but no sockets (tests). */
struct responder *responder_new_detached(const struct responder_cfg *cfg);

#endif
