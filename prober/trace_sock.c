/* The tracer's sockets: opening them with their filters, sending a probe
 * (IPv4 through IPPROTO_RAW, IPv6 with per-packet cmsgs), reading ICMP
 * errors and the destinations' own answers, keeping both for the dump. */
#include "trace_int.h"
#include "addr.h"
#include "bytes.h"
#include "clock.h"

#include <errno.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Keep a trace packet of flow f for the pcap dump. */
static void tracer_dump_add(struct tracer *t, const struct trace_flow *f, enum dump_kind kind,
			    const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
			    uint8_t ttl, uint8_t answer_proto)
{
	struct dump_pkt d = { .kind = kind, .family = t->family, .ttl = ttl,
			      .flow_sport = f->sport, .flow_proto = f->proto,
			      .bytes = buf, .len = len };
	size_t off = t->family == AF_INET ? 12 : 0, alen = t->family == AF_INET ? 4 : 16;

	d.ts_ns = clock_real_ns();
	memcpy(d.flow_target, f->dst.bytes + off, alen);
	/* IPv4 raw sockets carry the IP header both ways; IPv6 ones do not, so
	 * the header is rebuilt from the flow (sent) or the sender (answers) */
	d.layer = t->family == AF_INET ? DUMP_L_IP : DUMP_L_L4;
	if (kind == DUMP_TRACE_PROBE) {
		d.proto = f->proto;
		d.tos = (uint8_t)(f->dscp << 2);
		memcpy(d.src, f->src.bytes + off, alen);
		memcpy(d.dst, f->dst.bytes + off, alen);
	} else {
		d.proto = answer_proto;
		memcpy(d.src, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
		memcpy(d.dst, f->src.bytes, 16);
		d.ttl = 64;
	}
	dump_ring_add(t->dump, &d);
}

static int sock_raw(int family, int proto)
{
	int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	int bufsz = 1 << 20;

	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	return fd;
}

static int epoll_watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

void trace_sock_close(struct tracer *t)
{
	int *fds[3 + PROBE_KINDS_MAX] = { &t->epfd, &t->icmp_fd, &t->send_fd };

	for (unsigned k = 0; k < PROBE_KINDS_MAX; k++)
		fds[3 + k] = &t->kind_fd[k];
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The raw socket of each probe kind: IPv6 sends on it (the kernel writes the
 * header from cmsg), so it is always there; IPv4 sends on the IPPROTO_RAW
 * socket, so there it exists only to read answers, and a raw socket that
 * would copy every packet of its protocol is not opened for nothing. */
static int tracer_kind_socks_open(struct tracer *t)
{
	int zero = 0;

	for (unsigned k = 0; probe_kinds[k]; k++) {
		const struct probe_ops *kind = probe_kinds[k];
		int watch = kind->trace_answers(&t->pcfg);

		if (t->family == AF_INET && !watch)
			continue;
		t->kind_fd[k] = sock_raw(t->family, kind->proto);
		if (t->kind_fd[k] < 0 || kind->trace_bpf_filter(t->kind_fd[k], t->family, &t->pcfg) < 0)
			return -1;
		/* Flow label 0, not the kernel's automatic one: its label hash
		 * would also ride along as the skb hash, which Linux's multipath
		 * hash prefers over the headers when packets cross veths. */
		if (t->family == AF_INET6)
			(void)setsockopt(t->kind_fd[k], IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, &zero,
					 sizeof(zero));
		if (watch && epoll_watch(t->epfd, t->kind_fd[k]) < 0)
			return -1;
	}
	return 0;
}

int trace_sock_open(struct tracer *t)
{
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		return -1;
	if (t->family == AF_INET) {
		/* Of all ICMP, only errors that quote a probe wake us. */
		struct icmp_filter ifilt = { .data = ~(1u << ICMP_DEST_UNREACH | 1u << ICMP_TIME_EXCEEDED |
						       1u << ICMP_PARAMETERPROB) };

		t->icmp_fd = sock_raw(AF_INET, IPPROTO_ICMP);
		t->send_fd = sock_raw(AF_INET, IPPROTO_RAW); /* implies IP_HDRINCL */
		if (t->icmp_fd < 0 || t->send_fd < 0 ||
		    setsockopt(t->icmp_fd, SOL_RAW, ICMP_FILTER, &ifilt, sizeof(ifilt)) < 0)
			return -1;
	} else {
		struct icmp6_filter filt;

		t->icmp_fd = sock_raw(AF_INET6, IPPROTO_ICMPV6);
		if (t->icmp_fd < 0)
			return -1;
		ICMP6_FILTER_SETBLOCKALL(&filt);
		ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filt);
		ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filt);
		ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &filt);
		if (setsockopt(t->icmp_fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filt, sizeof(filt)) < 0)
			return -1;
	}
	if (tracer_kind_socks_open(t) < 0 || epoll_watch(t->epfd, t->icmp_fd) < 0)
		return -1;
	return 0;
}

/* The kernel's choice of source for dst, without sending anything. */
int trace_sock_source_for(int family, const struct wire_addr *dst, struct wire_addr *src)
{
	struct sockaddr_storage ss;
	socklen_t sl = addr_to_sockaddr(dst, 9, &ss);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		goto out;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto out;
	addr_from_sockaddr(src, &ss);
	rc = 0;
out:
	close(fd);
	return rc;
}

int trace_sock_probe_send(struct tracer *t, struct trace_job *j, uint16_t id,
			  struct probe_trace_tag *tag)
{
	uint8_t pkt[TRACE_PKT_MAX];
	int len = trace_probe_build(&j->flow, &t->pcfg, j->ttl, id, j->tries, pkt, sizeof(pkt),
				    tag);
	ssize_t rc;

	if (len < 0)
		return -1;
	if (t->family == AF_INET) {
		struct sockaddr_in to = { .sin_family = AF_INET };

		memcpy(&to.sin_addr, j->flow.dst.bytes + 12, 4);
		rc = sendto(t->send_fd, pkt, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
	} else {
		/* Hop limit, source and traffic class per packet, so one socket
		 * serves every flow and TTL. */
		struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
		union {
			char buf[CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { .iov_base = pkt, .iov_len = (size_t)len };
		struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to),
				      .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct in6_pktinfo pi = { 0 };
		int hlim = j->ttl, tclass = j->flow.dscp << 2;
		size_t off;

		memset(&u, 0, sizeof(u));
		memcpy(&to.sin6_addr, j->flow.dst.bytes, 16);
		/* sin6_port stays 0: on a raw socket it would name the protocol. */
		memcpy(&pi.ipi6_addr, j->flow.src.bytes, 16);
		off = probe_cmsg_put(u.buf, 0, IPPROTO_IPV6, IPV6_HOPLIMIT, &hlim, sizeof(hlim));
		off = probe_cmsg_put(u.buf, off, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass));
		probe_cmsg_put(u.buf, off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
		rc = sendmsg(t->kind_fd[probe_kind_index(j->kind)], &msg, 0);
	}
	if (rc == len && t->dump)
		tracer_dump_add(t, &j->flow, DUMP_TRACE_PROBE, pkt, (size_t)len, NULL, j->ttl, 0);
	return rc == len ? 0 : -1;
}

/* One packet off socket fd. */
static void packet_handle(struct tracer *t, int fd, const uint8_t *buf, size_t len,
			  const struct sockaddr_storage *from_sa, uint64_t now_ns)
{
	struct icmp_quote q;
	struct wire_addr from, to;
	uint8_t proto = 0;

	for (unsigned k = 0; probe_kinds[k]; k++)
		if (fd == t->kind_fd[k])
			proto = probe_kinds[k]->proto;

	if (fd == t->icmp_fd) {
		int rc;

		if (t->family == AF_INET) {
			rc = icmp_quote_parse4(buf, len, &q);
		} else {
			addr_from_sockaddr(&from, from_sa);
			rc = icmp_quote_parse6(buf, len, &from, &q);
		}
		if (rc < 0) {
			/* Echo replies and other ICMP are not ours: ignored,
			 * only broken errors count as malformed. */
			if (errno == EBADMSG)
				t->st.packets_malformed++;
			else
				t->st.packets_ignored++;
			return;
		}
		trace_do_icmp_handle(t, &q, now_ns);
		return;
	}
	if (t->family == AF_INET) {
		size_t ihl;

		if (len < 20 || (buf[0] >> 4) != 4 || (ihl = (size_t)(buf[0] & 0xf) * 4) < 20 ||
		    ihl > len || buf[9] != proto) {
			t->st.packets_malformed++;
			return;
		}
		addr_set4(&from, buf + 12);
		addr_set4(&to, buf + 16);
		trace_do_l4_handle(t, proto, &from, &to, buf + ihl, len - ihl, now_ns);
	} else {
		/* Raw IPv6 sockets give no IPv6 header; our own address is the
		 * flow's source, checked by job_lookup through the ports and
		 * the echoed identity. */
		addr_from_sockaddr(&from, from_sa);
		if (len < 8) {
			t->st.packets_malformed++;
			return;
		}
		for (unsigned i = 0; i < t->nactive; i++) {
			if (addr_eq(&t->active[i]->flow.dst, &from) &&
			    t->active[i]->flow.sport == bytes_be16_get(buf + 2)) {
				to = t->active[i]->flow.src;
				trace_do_l4_handle(t, proto, &from, &to, buf, len, now_ns);
				return;
			}
		}
		t->st.packets_ignored++;
	}
}

int tracer_readable(struct tracer *t, uint64_t now_ns)
{
	int fds[1 + PROBE_KINDS_MAX] = { t->icmp_fd };
	uint8_t protos[1 + PROBE_KINDS_MAX] = { IPPROTO_ICMPV6 }; /* of the answers, for the dump */
	unsigned nfds = 1;
	uint64_t before = t->st.replies_matched;
	uint8_t buf[2048];

	for (unsigned k = 0; probe_kinds[k]; k++) {
		if (t->kind_fd[k] < 0 || !probe_kinds[k]->trace_answers(&t->pcfg))
			continue;
		protos[nfds] = probe_kinds[k]->proto;
		fds[nfds++] = t->kind_fd[k];
	}
	for (unsigned k = 0; k < nfds; k++) {
		for (int n = 0; n < TRACE_RX_BATCH; n++) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			ssize_t len = recvfrom(fds[k], buf, sizeof(buf), MSG_DONTWAIT,
					       (struct sockaddr *)&ss, &sl);

			uint64_t matched = t->st.replies_matched;

			if (len < 0)
				break;
			packet_handle(t, fds[k], buf, (size_t)len, &ss, now_ns);
			if (t->dump && t->st.replies_matched != matched)
				tracer_dump_add(t, &t->answered, DUMP_TRACE_REPLY, buf, (size_t)len,
						&ss, 0, protos[k]);
		}
	}
	return (int)(t->st.replies_matched - before);
}
