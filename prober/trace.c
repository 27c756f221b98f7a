/* Paris-traceroute-style tracer, the public API: configuration, opening,
 * queueing flows, closing. Each flow is probed hop by hop with its own
 * 5-tuple; the probe kind (probe_<kind>.c) builds the probes and matches
 * their answers. The state machine is in trace_do.c, the sockets in
 * trace_sock.c; the caller polls tracer_fd and calls tracer_readable /
 * tracer_timer. */
#include "trace_int.h"
#include "mda.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const uint8_t trace_udp_default[] = { 'F', 'M', 'T', 'R', 'A', 'C', 'E', 0 };

void tracer_dump_set(struct tracer *t, struct dump_ring *r)
{
	t->dump = r;
}

void tracer_cfg_default(struct tracer_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->first_ttl = 1;
	cfg->max_ttl = 30;
	cfg->retries = 3;
	cfg->gap_limit = 3;
	cfg->timeout_ms = 1000;
	cfg->max_active = 16;
	cfg->router_interval_ms = 1000;
	cfg->router_burst = 6;
	cfg->infer = TRACE_INFER_OFF;
	cfg->udp_replies = 1;
	cfg->udp_echo_off = -1;
}

/* Paris traceroute: every probe of a flow keeps the 5-tuple the routers
 * hash on; the kind puts the identity where they do not look. The IPv4 ID
 * is the id too, for routers that quote only 8 bytes of a rewritten L4
 * header; IPv6 probes carry flow label 0 (see trace_sock_open). */
int trace_probe_build(const struct trace_flow *f, const struct probe_trace_cfg *c, uint8_t ttl,
		      uint16_t id, uint8_t try, uint8_t *buf, size_t cap,
		      struct probe_trace_tag *tag)
{
	const struct probe_ops *kind = probe_kind_by_proto(f->proto);
	int v4 = f->dst.family == AF_INET;
	size_t off = v4 ? 12 : 0, alen = v4 ? 4 : 16, ip_len = v4 ? 20 : 0;
	struct probe_flow_key k = { .family = f->dst.family, .sport = f->sport, .dport = f->dport };
	int l4_len;

	if ((f->dst.family != AF_INET && f->dst.family != AF_INET6) ||
	    f->src.family != f->dst.family || id == 0 || id == 0xffff || !kind ||
	    c->payload_len > PROBE_TRACE_PAYLOAD_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (cap < ip_len) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(&k.src, f->src.bytes + off, alen);
	memcpy(&k.dst, f->dst.bytes + off, alen);
	l4_len = kind->trace_build(&k, c, id, ttl, try, buf + ip_len, cap - ip_len, tag);
	if (l4_len < 0)
		return -1;
	if (v4) {
		struct probe_ip_hdr ip = { .family = AF_INET, .tos = (uint8_t)(f->dscp << 2),
					   .ttl = ttl, .proto = f->proto, .id = id,
					   .payload_len = (size_t)l4_len, .src = &k.src,
					   .dst = &k.dst };

		probe_ip_hdr_write(buf, &ip);
	}
	return (int)ip_len + l4_len;
}

struct tracer *tracer_open(int family, const struct tracer_cfg *cfg,
			   tracer_done_cb cb, void *arg)
{
	struct tracer *t;
	int saved;

	if ((family != AF_INET && family != AF_INET6) || !cb) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (cfg)
		t->cfg = *cfg;
	else
		tracer_cfg_default(&t->cfg);
	if (t->cfg.first_ttl < 1 || t->cfg.max_ttl < t->cfg.first_ttl ||
	    t->cfg.infer < TRACE_INFER_OFF || t->cfg.infer > TRACE_INFER_LITE ||
	    t->cfg.max_ttl > WIRE_HOPS_MAX || t->cfg.gap_limit < 1 ||
	    t->cfg.max_active < 1 || t->cfg.timeout_ms < 1 || t->cfg.router_burst < 1 ||
	    t->cfg.udp_payload_len > PROBE_TRACE_PAYLOAD_MAX ||
	    (t->cfg.udp_payload_len && !t->cfg.udp_payload) ||
	    (t->cfg.udp_echo_off >= 0 &&
	     (!t->cfg.udp_payload || t->cfg.udp_echo_off + 4 > t->cfg.udp_payload_len))) {
		free(t);
		errno = EINVAL;
		return NULL;
	}
	t->family = family;
	t->cb = cb;
	t->cb_arg = arg;
	t->epfd = t->icmp_fd = t->send_fd = -1;
	for (unsigned k = 0; k < PROBE_KINDS_MAX; k++)
		t->kind_fd[k] = -1;
	if (t->cfg.udp_payload) {
		memcpy(t->payload, t->cfg.udp_payload, t->cfg.udp_payload_len);
		t->pcfg.payload_len = t->cfg.udp_payload_len;
	} else {
		memcpy(t->payload, trace_udp_default, sizeof(trace_udp_default));
		t->pcfg.payload_len = sizeof(trace_udp_default);
	}
	t->pcfg.payload = t->payload;
	t->pcfg.echo_off = t->cfg.udp_echo_off;
	t->pcfg.answers = t->cfg.udp_replies;
	t->cfg.udp_payload = NULL; /* the caller's buffer need not outlive open */
	t->n1 = mda_stop_flows(1, TRACE_MDA_ALPHA);
	t->next_id = (uint16_t)(1 + (unsigned)(time(NULL) ^ getpid()) % 0xfffe);
	t->active = calloc(t->cfg.max_active, sizeof(*t->active));
	if (!t->active || trace_sock_open(t) < 0)
		goto err;
	for (int i = 0; i < TRACE_TTL_SLOTS; i++) {
		t->pace[i].tokens = t->cfg.router_burst;
		t->pace[i].routers = 1;
	}
	return t;
err:
	saved = errno;
	trace_sock_close(t);
	free(t->active);
	free(t);
	errno = saved;
	return NULL;
}

int tracer_fd(const struct tracer *t)
{
	return t->epfd;
}

int tracer_flow_start(struct tracer *t, const struct trace_flow *flow,
		      uint64_t user, uint64_t now_ns)
{
	struct trace_job *j;

	if (!flow || flow->dst.family != t->family ||
	    (flow->src.family && flow->src.family != t->family) ||
	    !probe_kind_by_proto(flow->proto)) {
		errno = EINVAL;
		return -1;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -1;
	j->flow = *flow;
	j->kind = probe_kind_by_proto(flow->proto);
	if (!j->flow.src.family && trace_sock_source_for(t->family, &flow->dst, &j->flow.src) < 0) {
		int saved = errno;

		free(j);
		errno = saved;
		return -1;
	}
	j->user = user;
	j->ttl = t->cfg.first_ttl;
	j->state = JOB_READY;
	j->res.user = user;
	j->res.start_ns = now_ns;
	j->res.path.src = j->flow.src;
	j->res.path.dst = j->flow.dst;
	j->res.path.proto = j->flow.proto;
	j->res.path.sport = j->flow.sport;
	j->res.path.dport = j->flow.dport;
	if (t->queue_tail)
		t->queue_tail->next = j;
	else
		t->queue_head = j;
	t->queue_tail = j;
	t->nqueued++;
	return 0;
}

unsigned tracer_busy(const struct tracer *t)
{
	return t->nactive + t->nqueued;
}

void tracer_stats_get(const struct tracer *t, struct tracer_stats *st)
{
	*st = t->st;
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	while (t->queue_head && t->nactive < t->cfg.max_active) {
		struct trace_job *j = t->queue_head;

		t->queue_head = j->next;
		t->active[t->nactive++] = j;
	}
	while (t->nactive)
		trace_do_job_finish(t, t->nactive - 1, TRACE_END_CANCELLED, 0);
	while (t->queue_head) {
		struct trace_job *j = t->queue_head;

		t->queue_head = j->next;
		j->res.end = TRACE_END_CANCELLED;
		t->cb(t->cb_arg, &j->res);
		free(j);
	}
	trace_sock_close(t);
	free(t->active);
	free(t->nodes);
	free(t->dsts);
	free(t);
}
