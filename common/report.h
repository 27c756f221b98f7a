/* The prober->collector report stream (schemas/report.md, version 1): the
 * in-memory batch the prober fills each interval, and its wire encoding. */
#ifndef FM_REPORT_H
#define FM_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define REPORT_VERSION 1
#define REPORT_MAGIC 0x464d5231u /* "FMR1" */
#define REPORT_HEADER_LEN 16
#define REPORT_FRAME_MAX (16u << 20) /* larger frames are rejected unread */
#define REPORT_NAME_MAX 64
#define REPORT_HOPS_MAX 32
#define REPORT_FLAG_AUTH 0x1u /* payload ends with an HMAC-SHA256 */
/* HELLO only: answer with a TARGETS frame (this prober's list from the
 * collector's plan) before anything else */
#define REPORT_FLAG_WANT_TARGETS 0x2u
#define REPORT_TARGETS_TEXT_MAX (1u << 20) /* bytes of a TARGETS text */
#define REPORT_MAC_LEN 32
#define REPORT_ERROR_TEXT_MAX 1024
#define REPORT_FLOW_WIRE_LEN 89 /* bytes of one flow record on the wire */
/* Paths per batch: a decoded path is ~17x its smallest wire form, so the
 * count is capped to bound a hostile frame's memory (~45 MiB). */
#define REPORT_PATHS_MAX 65536

enum report_frame_type {
	REPORT_HELLO = 1, /* prober -> collector: name, then batches follow */
	REPORT_BATCH = 2, /* prober -> collector: one interval's results */
	REPORT_ACK = 3,   /* collector -> prober: batch committed (or duplicate) */
	REPORT_ERROR = 4, /* collector -> prober: reason text, then close */
	REPORT_TARGETS = 5, /* collector -> prober: targets file text (HELLO asked) */
};

/* An address of either family, kept as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
struct report_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

enum report_proto { REPORT_PROTO_UDP = 17, REPORT_PROTO_TCP = 6 };

/* One flow's figures for one interval. */
struct report_flow {
	struct report_addr src, dst;
	uint8_t proto; /* enum report_proto */
	uint8_t dscp;
	uint16_t sport, dport;
	uint32_t sent;
	uint32_t received;
	uint32_t lost_fwd;    /* requests the responder never saw */
	uint32_t lost_rev;    /* replies lost after the responder sent them */
	uint64_t rtt_min_ns, rtt_p50_ns, rtt_p99_ns, rtt_max_ns; /* 0 = none */
	uint8_t target_down; /* nothing answered on any flow for several intervals */
};

/* A flow's traced path: router interface addresses in hop order; a hop that
 * did not answer has family 0 ("*"). */
struct report_path {
	struct report_addr src, dst;
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t nhops;
	struct report_addr hops[REPORT_HOPS_MAX];
	uint16_t hop_replies[REPORT_HOPS_MAX]; /* answers per hop (fbtracert view) */
	uint16_t hop_probes[REPORT_HOPS_MAX];  /* probes sent per hop */
};

/* The prober's own health over the interval, so a sick host is not blamed
 * on the fabric. */
struct report_health {
	uint64_t if_rx_errors, if_tx_errors, if_rx_dropped, if_tx_dropped;
	uint32_t links_down;
	uint32_t spool_dropped; /* batches dropped from a full spool */
};

struct report_batch {
	char prober[REPORT_NAME_MAX]; /* NUL-terminated */
	uint64_t seq;                 /* per prober, increasing from 1 */
	int64_t start_ms, end_ms;     /* interval, Unix time in ms */
	struct report_health health;
	uint32_t nflows, npaths;
	struct report_flow *flows;
	struct report_path *paths;
};

/* Encode a whole frame (header + payload) of the given type into a malloc'd
 * buffer. Returns 0 and sets *buf and *len, or -1 with errno. */
int report_batch_encode(const struct report_batch *b, uint8_t **buf, size_t *len);
int report_hello_encode(const char *prober, uint8_t **buf, size_t *len);
int report_ack_encode(uint64_t seq, uint8_t **buf, size_t *len);
int report_error_encode(const char *reason, uint8_t **buf, size_t *len);
/* HELLO with header flags (REPORT_FLAG_WANT_TARGETS or 0). */
int report_hello_encode_flags(const char *prober, uint32_t flags, uint8_t **buf,
			      size_t *len);
/* TARGETS: text (targets file v1, no NUL bytes, at most
 * REPORT_TARGETS_TEXT_MAX); -1 with EINVAL/EMSGSIZE otherwise. */
int report_targets_encode(const char *text, size_t textlen, uint8_t **buf,
			  size_t *len);

/* Read a frame header: returns 0 and sets *type and *payload_len, or -1 with a
 * reason in err (bad magic, unknown version, length over REPORT_FRAME_MAX). */
int report_header_decode(const uint8_t *hdr, size_t len, int *type,
			 uint32_t *payload_len, char *err, size_t errlen);

/* Decode payloads. Every length and count is checked against the payload;
 * on error returns -1 with the reason in err and nothing allocated. */
int report_batch_decode(const uint8_t *p, size_t len, struct report_batch *b,
			char *err, size_t errlen);
int report_hello_decode(const uint8_t *p, size_t len, char *prober,
			char *err, size_t errlen);
int report_ack_decode(const uint8_t *p, size_t len, uint64_t *seq, char *err,
		      size_t errlen);

int report_error_decode(const uint8_t *p, size_t len, char *reason,
			size_t reason_len, char *err, size_t errlen);

/* TARGETS payload: sets *text to a malloc'd NUL-terminated copy and *textlen.
 * -1 with the reason in err (length over the limit or the payload, a NUL
 * byte) and nothing allocated. */
int report_targets_decode(const uint8_t *p, size_t len, char **text,
			  size_t *textlen, char *err, size_t errlen);

/* Flags word of a header that report_header_decode accepted. */
uint32_t report_header_flags(const uint8_t *hdr);

/* Append HMAC-SHA256(key, frame) to a whole encoded frame, setting the AUTH
 * flag and growing the payload length (realloc of *buf). 0, or -1 with errno. */
int report_frame_sign(uint8_t **buf, size_t *len, const uint8_t *key,
		      size_t keylen);
/* Check the MAC at the end of a whole frame (header + payload). Returns 0 and
 * sets *body_len to the payload length without the MAC, or -1 with a reason
 * in err (flag not set, too short, MAC mismatch). Constant-time compare. */
int report_frame_verify(const uint8_t *frame, size_t len, const uint8_t *key,
			size_t keylen, size_t *body_len, char *err,
			size_t errlen);

void report_batch_free(struct report_batch *b); /* frees flows and paths */

/* Text form of an address ("198.18.0.1", "2001:db8::1", "*" for family 0). */
const char *report_addr_str(const struct report_addr *a, char *buf, size_t len);
/* Parse text into an address; returns 0, or -1 when it is neither family. */
int report_addr_parse(const char *s, struct report_addr *a);

#endif
