/* The prober's packet ring and its pcap writer: which flows lost a probe
 * (a probe with no reply, older than the reply timeout), their packets in
 * time order, headers rebuilt where the socket gave only the payload. */
#include "dump.h"

#include "probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct dump_rec {
	struct dump_pkt p;      /* p.bytes unused: the copy is in data */
	uint16_t caplen;
	uint8_t data[DUMP_SNAP_BYTES];
};

struct dump_ring {
	struct dump_rec *v;
	size_t cap, next, n;
};

struct dump_ring *dump_ring_new(size_t cap)
{
	struct dump_ring *r = calloc(1, sizeof(*r));

	if (!r || !cap || !(r->v = calloc(cap, sizeof(*r->v)))) {
		free(r);
		if (!cap)
			errno = EINVAL;
		return NULL;
	}
	r->cap = cap;
	return r;
}

void dump_ring_free(struct dump_ring *r)
{
	if (!r)
		return;
	free(r->v);
	free(r);
}

void dump_ring_add(struct dump_ring *r, const struct dump_pkt *p)
{
	struct dump_rec *x = &r->v[r->next];

	x->p = *p;
	x->p.bytes = NULL;
	x->caplen = (uint16_t)(p->len < DUMP_SNAP_BYTES ? p->len : DUMP_SNAP_BYTES);
	memcpy(x->data, p->bytes, x->caplen);
	r->next = r->next + 1 == r->cap ? 0 : r->next + 1;
	if (r->n < r->cap)
		r->n++;
}

static int dump_flow_cmp(const struct dump_pkt *a, const struct dump_pkt *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if ((c = memcmp(a->flow_target, b->flow_target, sizeof(a->flow_target))))
		return c;
	if (a->flow_sport != b->flow_sport)
		return a->flow_sport < b->flow_sport ? -1 : 1;
	return (int)a->flow_proto - (int)b->flow_proto;
}

/* Probes and replies by flow, then seq, the probe before its replies. */
static int dump_seq_cmp(const void *x, const void *y)
{
	const struct dump_rec *a = *(const struct dump_rec *const *)x;
	const struct dump_rec *b = *(const struct dump_rec *const *)y;
	int c = dump_flow_cmp(&a->p, &b->p);

	if (c)
		return c;
	if (a->p.seq != b->p.seq)
		return a->p.seq < b->p.seq ? -1 : 1;
	return (int)a->p.kind - (int)b->p.kind;
}

static int dump_time_cmp(const void *x, const void *y)
{
	const struct dump_rec *a = *(const struct dump_rec *const *)x;
	const struct dump_rec *b = *(const struct dump_rec *const *)y;

	if (a->p.ts_ns != b->p.ts_ns)
		return a->p.ts_ns < b->p.ts_ns ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int dump_key_cmp(const void *x, const void *y)
{
	return dump_flow_cmp(*(const struct dump_pkt *const *)x, *(const struct dump_pkt *const *)y);
}

/* The packet as it was on the wire, into out (cap bytes); its length. The
 * lengths in rebuilt headers are the original ones, so a cut payload reads
 * as a snapshot, not a short packet. Headers come from their one home: the
 * IP header from probe_ip_hdr_write, the L4 header the kernel wrote before
 * a payload from the probe kind's kernel_hdr_write. */
static size_t dump_packet_build(const struct dump_rec *x, uint8_t *out, size_t cap,
				size_t *wire_len)
{
	const struct dump_pkt *p = &x->p;
	const struct probe_ops *kind = NULL;
	struct probe_ip_hdr ip = { .family = p->family, .tos = p->tos, .ttl = p->ttl,
				   .proto = p->proto, .df = 1, .src = p->src, .dst = p->dst };
	size_t iplen = p->family == AF_INET ? 20 : 40, l4 = 0;

	if (p->layer == DUMP_L_IP) {
		memcpy(out, x->data, x->caplen);
		*wire_len = p->len;
		return x->caplen;
	}
	if (p->layer == DUMP_L_PAYLOAD) {
		kind = probe_kind_by_proto(p->proto);
		if (!kind || !kind->kernel_hdr_write)
			return 0;
		l4 = PROBE_KERNEL_HDR_MAX;
	}
	if (iplen + l4 + x->caplen > cap)
		return 0;
	if (kind) {
		struct probe_flow_key k = { .family = p->family, .sport = p->sport,
					    .dport = p->dport };

		memcpy(&k.src, p->src, iplen == 20 ? 4 : 16);
		memcpy(&k.dst, p->dst, iplen == 20 ? 4 : 16);
		/* the header's length first: the payload goes right after it */
		l4 = kind->kernel_hdr_write(out + iplen, &k, NULL, p->len);
		memcpy(out + iplen + l4, x->data, x->caplen);
		/* the checksum needs the whole payload: only when we kept it */
		if (x->caplen == p->len)
			kind->kernel_hdr_write(out + iplen, &k, out + iplen + l4, p->len);
	} else {
		memcpy(out + iplen, x->data, x->caplen);
	}
	ip.payload_len = l4 + p->len; /* IP payload length on the wire */
	probe_ip_hdr_write(out, &ip);
	*wire_len = iplen + ip.payload_len;
	return iplen + l4 + x->caplen;
}

int dump_write(const struct dump_ring *r, const char *path, const struct dump_limits *lim,
	       struct dump_stats *st, char *err, size_t errlen)
{
	const struct dump_rec **pr = NULL, **all = NULL;
	const struct dump_pkt **lossy = NULL;
	struct dump_stats s = { 0 };
	size_t npr = 0, nall = 0, nlossy = 0;
	uint64_t newest = 0, since;
	pcap_t *pd = NULL;
	pcap_dumper_t *dd = NULL;
	char tmp[4200];
	int rc = -1;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].p.ts_ns > newest)
			newest = r->v[i].p.ts_ns;
	since = newest > lim->span_ns ? newest - lim->span_ns : 0;
	pr = calloc(r->n + 1, sizeof(*pr));
	all = calloc(r->n + 1, sizeof(*all));
	lossy = calloc(r->n + 1, sizeof(*lossy));
	if (!pr || !all || !lossy) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct dump_rec *x = &r->v[i];

		if (x->p.ts_ns < since)
			continue;
		all[nall++] = x;
		if (x->p.kind == DUMP_PROBE || x->p.kind == DUMP_REPLY)
			pr[npr++] = x;
	}
	/* a probe is lost when no reply with its seq follows it in the sorted
	 * list, and it is old enough that none can still come */
	qsort(pr, npr, sizeof(*pr), dump_seq_cmp);
	for (size_t i = 0; i < npr; i++) {
		const struct dump_rec *x = pr[i];
		int answered = i + 1 < npr && pr[i + 1]->p.kind == DUMP_REPLY &&
			       !dump_flow_cmp(&pr[i + 1]->p, &x->p) && pr[i + 1]->p.seq == x->p.seq;

		if (x->p.kind != DUMP_PROBE || answered || x->p.ts_ns + lim->timeout_ns > newest)
			continue;
		if (!nlossy || dump_flow_cmp(lossy[nlossy - 1], &x->p))
			lossy[nlossy++] = &x->p;
	}
	s.flows_lossy = (unsigned)nlossy;
	qsort(all, nall, sizeof(*all), dump_time_cmp);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(pd = pcap_open_dead(DLT_RAW, 65535))) {
		snprintf(err, errlen, "%s: pcap_open_dead failed", path);
		goto out;
	}
	if (!(dd = pcap_dump_open(pd, tmp))) {
		snprintf(err, errlen, "%s", pcap_geterr(pd));
		goto out;
	}
	s.bytes = 24; /* the file header */
	for (size_t i = 0; i < nall; i++) {
		const struct dump_rec *x = all[i];
		const struct dump_pkt *key = &x->p;
		uint8_t pkt[40 + PROBE_KERNEL_HDR_MAX + DUMP_SNAP_BYTES];
		struct pcap_pkthdr h;
		size_t wire, n;

		if (!nlossy || !bsearch(&key, lossy, nlossy, sizeof(*lossy), dump_key_cmp))
			continue;
		if (!(n = dump_packet_build(x, pkt, sizeof(pkt), &wire)))
			continue;
		if (s.bytes + 16 + n > lim->max_bytes) {
			s.truncated = 1;
			break;
		}
		h.ts.tv_sec = (time_t)(x->p.ts_ns / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(x->p.ts_ns % 1000000000u / 1000u);
		h.caplen = (bpf_u_int32)n;
		h.len = (bpf_u_int32)(wire > n ? wire : n);
		pcap_dump((u_char *)dd, &h, pkt);
		s.bytes += 16 + n;
		s.packets++;
		s.probes += x->p.kind == DUMP_PROBE;
	}
	/* the lost count, again over the packets written */
	for (size_t i = 0; i < npr; i++) {
		const struct dump_rec *x = pr[i];
		int answered = i + 1 < npr && pr[i + 1]->p.kind == DUMP_REPLY &&
			       !dump_flow_cmp(&pr[i + 1]->p, &x->p) && pr[i + 1]->p.seq == x->p.seq;

		s.lost += x->p.kind == DUMP_PROBE && !answered &&
			  x->p.ts_ns + lim->timeout_ns <= newest;
	}
	if (pcap_dump_flush(dd) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	pcap_dump_close(dd);
	dd = NULL;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
	if (st)
		*st = s;
out:
	if (dd) {
		pcap_dump_close(dd);
		unlink(tmp);
	}
	if (pd)
		pcap_close(pd);
	free(pr);
	free(all);
	free(lossy);
	return rc;
}
