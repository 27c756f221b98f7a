/* The prober->collector wire stream (schemas/wire.md, version 1): the
 * in-memory batch the prober fills each interval, and its wire encoding. */
#ifndef FM_WIRE_H
#define FM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_MAGIC 0x464d5231u /* "FMR1" */
#define WIRE_HEADER_LEN 16
#define WIRE_FRAME_MAX (16u << 20) /* larger frames are rejected unread */
#define WIRE_NAME_MAX 64
#define WIRE_HOPS_MAX 32
#define WIRE_FLAG_AUTH 0x1u /* payload ends with an HMAC-SHA256 */
/* HELLO only: answer with a TARGETS frame (this prober's list from the
 * collector's plan) before anything else */
#define WIRE_FLAG_WANT_TARGETS 0x2u
#define WIRE_TARGETS_TEXT_MAX (1u << 20) /* bytes of a TARGETS text */
#define WIRE_MAC_LEN 32
#define WIRE_ERROR_TEXT_MAX 1024
#define WIRE_FLOW_LEN 89 /* bytes of one flow record on the wire */
/* Paths per batch: a decoded path is ~17x its smallest wire form, so the
 * count is capped to bound a hostile frame's memory (~45 MiB). */
#define WIRE_PATHS_MAX 65536

enum wire_frame_type {
	WIRE_HELLO = 1, /* prober -> collector: name, then batches follow */
	WIRE_BATCH = 2, /* prober -> collector: one interval's results */
	WIRE_ACK = 3,   /* collector -> prober: batch committed (or duplicate) */
	WIRE_ERROR = 4, /* collector -> prober: reason text, then close */
	WIRE_TARGETS = 5, /* collector -> prober: targets file text (HELLO asked) */
};

/* An address of either family, kept as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
struct wire_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

enum wire_proto { WIRE_PROTO_UDP = 17, WIRE_PROTO_TCP = 6 };

/* One flow's figures for one interval. */
struct wire_flow {
	struct wire_addr src, dst;
	uint8_t proto; /* enum wire_proto */
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
struct wire_path {
	struct wire_addr src, dst;
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t nhops;
	struct wire_addr hops[WIRE_HOPS_MAX];
	uint16_t hop_replies[WIRE_HOPS_MAX]; /* answers per hop (fbtracert view) */
	uint16_t hop_probes[WIRE_HOPS_MAX];  /* probes sent per hop */
};

/* The prober's own health over the interval, so a sick host is not blamed
 * on the fabric. */
struct wire_health {
	uint64_t if_rx_errors, if_tx_errors, if_rx_dropped, if_tx_dropped;
	uint32_t links_down;
	uint32_t spool_dropped; /* batches dropped from a full spool */
};

struct wire_batch {
	char prober[WIRE_NAME_MAX]; /* NUL-terminated */
	uint64_t seq;                 /* per prober, increasing from 1 */
	int64_t start_ms, end_ms;     /* interval, Unix time in ms */
	struct wire_health health;
	uint32_t nflows, npaths;
	struct wire_flow *flows;
	struct wire_path *paths;
};

/* Encode a whole frame (header + payload) of the given type into a malloc'd
 * buffer. Returns 0 and sets *buf and *len, or -1 with errno. */
int wire_batch_encode(const struct wire_batch *b, uint8_t **buf, size_t *len);
int wire_hello_encode(const char *prober, uint8_t **buf, size_t *len);
int wire_ack_encode(uint64_t seq, uint8_t **buf, size_t *len);
int wire_error_encode(const char *reason, uint8_t **buf, size_t *len);
/* HELLO with header flags (WIRE_FLAG_WANT_TARGETS or 0). */
int wire_hello_encode_flags(const char *prober, uint32_t flags, uint8_t **buf,
			      size_t *len);
/* TARGETS: text (targets file v1, no NUL bytes, at most
 * WIRE_TARGETS_TEXT_MAX); -1 with EINVAL/EMSGSIZE otherwise. */
int wire_targets_encode(const char *text, size_t textlen, uint8_t **buf,
			  size_t *len);

/* Payload bytes (MAC included) a frame of each type may declare: a header
 * over its type's limit is refused before any payload is read, so a reader
 * that accepts only HELLO buffers at most WIRE_HELLO_PAYLOAD_MAX bytes. */
#define WIRE_HELLO_PAYLOAD_MAX (1 + (WIRE_NAME_MAX - 1) + WIRE_MAC_LEN)
#define WIRE_ACK_PAYLOAD_MAX (8 + WIRE_MAC_LEN)
#define WIRE_ERROR_PAYLOAD_MAX (2 + WIRE_ERROR_TEXT_MAX + WIRE_MAC_LEN)
#define WIRE_TARGETS_PAYLOAD_MAX (4 + WIRE_TARGETS_TEXT_MAX + WIRE_MAC_LEN)
#define WIRE_TYPE_BIT(t) (1u << (t))
#define WIRE_KEYS_MAX 2 /* keys a reader tries: two while a key is rotated */

/* A key a frame may be signed with. */
struct wire_key {
	const uint8_t *bytes;
	size_t len;
};

/* The rules of one reader of frames (the collector's session, the prober's
 * stream and its targets fetch). Every reader opens frames only through
 * wire_frame_head and wire_frame_open with its rules, so the header, length,
 * version and MAC rules are the same for all of them. */
struct wire_reader {
	uint32_t types; /* WIRE_TYPE_BIT of every frame type accepted now */
	/* Keys the frame must be signed with (any one of them). nkeys > 0, or
	 * a keys_find_cb that finds keys: AUTH required and the MAC checked.
	 * No keys: a MAC present is stripped unchecked (authentication off). */
	struct wire_key keys[WIRE_KEYS_MAX];
	size_t nkeys;
	/* When the key depends on the frame (the collector's HELLO: the name
	 * picks it): called with the payload without its MAC, before the MAC
	 * is checked; sets keys (0 keys: authentication off for this peer) or
	 * returns -1 with a reason in err (a name with no key). NULL: none. */
	int (*keys_find_cb)(void *arg, int type, const uint8_t *body,
			    size_t body_len, struct wire_key *keys,
			    size_t *nkeys, char *err, size_t errlen);
	void *arg;
	/* Types accepted without AUTH even when keyed. Only WIRE_ERROR makes
	 * sense (a collector refusing a HELLO before it knows the key): such a
	 * frame is reported as unauthenticated and may only end the
	 * connection, never change state. */
	uint32_t unsigned_types;
};

/* An opened frame: points into the caller's buffer. */
struct wire_frame {
	int type;
	uint32_t flags;
	const uint8_t *body; /* payload without the MAC */
	size_t body_len;
	int authenticated; /* MAC verified with keys[key_index] */
	size_t key_index;
	struct wire_key key; /* the key that verified (bytes NULL: none) */
};

/* Check a frame header against the reader's rules (magic, version, a type
 * this reader accepts now, the type's payload limit, flags) before any of
 * its payload is buffered. 0 and *type / *payload_len, or -1 with the
 * reason in err. */
int wire_frame_head(const struct wire_reader *r, const uint8_t *hdr, size_t len,
		    int *type, uint32_t *payload_len, char *err, size_t errlen);

/* Open a whole frame (header + payload, exactly): the header rules again,
 * then the MAC rules: with keys, AUTH must be set (unless the type is in
 * unsigned_types) and the MAC must verify with one of them, compared in
 * constant time. 0 with *f filled, or -1 with the reason in err. */
int wire_frame_open(const struct wire_reader *r, const uint8_t *frame,
		    size_t len, struct wire_frame *f, char *err, size_t errlen);

/* Header-only parse without a reader's rules (type any known type, length
 * up to WIRE_FRAME_MAX): for tests and tools that read frames they wrote;
 * readers of frames from the network use wire_frame_head. */
int wire_header_decode(const uint8_t *hdr, size_t len, int *type,
			 uint32_t *payload_len, char *err, size_t errlen);

/* Decode payloads. Every length and count is checked against the payload;
 * on error returns -1 with the reason in err and nothing allocated. */
int wire_batch_decode(const uint8_t *p, size_t len, struct wire_batch *b,
			char *err, size_t errlen);
int wire_hello_decode(const uint8_t *p, size_t len, char *prober,
			char *err, size_t errlen);
int wire_ack_decode(const uint8_t *p, size_t len, uint64_t *seq, char *err,
		      size_t errlen);

int wire_error_decode(const uint8_t *p, size_t len, char *reason,
			size_t reason_len, char *err, size_t errlen);

/* TARGETS payload: sets *text to a malloc'd NUL-terminated copy and *textlen.
 * -1 with the reason in err (length over the limit or the payload, a NUL
 * byte) and nothing allocated. */
int wire_targets_decode(const uint8_t *p, size_t len, char **text,
			  size_t *textlen, char *err, size_t errlen);

/* Flags word of a header that wire_header_decode accepted. */
uint32_t wire_header_flags(const uint8_t *hdr);

/* HMAC-SHA256(key, data) from libcrypto into out (WIRE_MAC_LEN bytes). */
void wire_mac(const uint8_t *key, size_t keylen, const uint8_t *data,
	      size_t len, uint8_t out[WIRE_MAC_LEN]);

/* Set the health.spool_dropped field of an encoded, unsigned BATCH frame
 * (the prober fills it when it sends the batch, not when it spools it).
 * 0, or -1 with EINVAL when buf is not such a frame. */
int wire_batch_spool_dropped_set(uint8_t *buf, size_t len, uint32_t dropped);

/* Append HMAC-SHA256(key, frame) to a whole encoded frame, setting the AUTH
 * flag and growing the payload length (realloc of *buf). 0, or -1 with errno. */
int wire_frame_sign(uint8_t **buf, size_t *len, const uint8_t *key,
		      size_t keylen);

void wire_batch_free(struct wire_batch *b); /* frees flows and paths */

/* Text form of an address ("198.18.0.1", "2001:db8::1", "*" for family 0). */
const char *wire_addr_str(const struct wire_addr *a, char *buf, size_t len);
/* Parse text into an address; returns 0, or -1 when it is neither family. */
int wire_addr_parse(const char *s, struct wire_addr *a);

#endif
