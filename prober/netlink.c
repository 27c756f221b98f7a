/* libmnl requests in the shape of libmnl's rtnl examples: build one request,
 * mnl_socket_sendto, run the replies through mnl_cb_run, validate every
 * attribute before use. */
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct nl_handle {
	struct mnl_socket *nl;
	unsigned portid;
	unsigned seq;
	char buf[32768]; /* a dump reply of many links fits */
};

struct nl_handle *nl_open(void)
{
	struct nl_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!h->nl || mnl_socket_bind(h->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		nl_close(h);
		errno = e;
		return NULL;
	}
	h->portid = mnl_socket_get_portid(h->nl);
	h->seq = (unsigned)time(NULL);
	return h;
}

void nl_close(struct nl_handle *h)
{
	if (!h)
		return;
	if (h->nl)
		mnl_socket_close(h->nl);
	free(h);
}

/* Send the request and feed replies to cb: a dump until NLMSG_DONE, a plain
 * request until its one reply has been read. */
static int nl_request_run(struct nl_handle *h, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	int dump = !!(nlh->nlmsg_flags & NLM_F_DUMP);

	int ret;

	if (mnl_socket_sendto(h->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		ret = (int)mnl_socket_recvfrom(h->nl, h->buf, sizeof(h->buf));
		if (ret <= 0)
			return -1;
		ret = mnl_cb_run(h->buf, (size_t)ret, nlh->nlmsg_seq, h->portid, cb, data);
	} while (dump && ret > MNL_CB_STOP);
	return ret < 0 ? -1 : 0;
}

struct route_src_ctx {
	int family;
	void *src;
	int found;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK;
	if ((type == RTA_PREFSRC || type == RTA_SRC) && mnl_attr_validate(attr, MNL_TYPE_BINARY) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int route_src_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_src_ctx *ctx = data;
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	size_t alen = ctx->family == AF_INET ? 4 : 16;

	mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, tb);
	if (tb[RTA_PREFSRC] && mnl_attr_get_payload_len(tb[RTA_PREFSRC]) == alen) {
		memcpy(ctx->src, mnl_attr_get_payload(tb[RTA_PREFSRC]), alen);
		ctx->found = 1;
	}
	return MNL_CB_OK;
}

int nl_route_src(struct nl_handle *h, int family, const void *dst, void *src)
{
	char req[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct rtmsg *rtm;
	struct route_src_ctx ctx = { family, src, 0 };
	size_t alen = family == AF_INET ? 4 : 16;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++h->seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_dst_len = (unsigned char)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (nl_request_run(h, nlh, route_src_cb, &ctx) < 0)
		return -1;
	if (!ctx.found) {
		errno = ENETUNREACH;
		return -1;
	}
	return 0;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
		return MNL_CB_OK;
	if (type == IFLA_STATS64 &&
	    mnl_attr_validate2(attr, MNL_TYPE_UNSPEC, sizeof(struct rtnl_link_stats64)) < 0)
		return MNL_CB_ERROR;
	if (type == IFLA_OPERSTATE && mnl_attr_validate(attr, MNL_TYPE_U8) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_link_totals *t = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };

	if (ifm->ifi_flags & IFF_LOOPBACK)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb);
	t->links++;
	/* a link someone set up that has no carrier is a sick host, not fabric */
	if ((ifm->ifi_flags & IFF_UP) &&
	    (!(ifm->ifi_flags & IFF_RUNNING) ||
	     (tb[IFLA_OPERSTATE] && mnl_attr_get_u8(tb[IFLA_OPERSTATE]) == IF_OPER_DOWN)))
		t->links_down++;
	if (tb[IFLA_STATS64]) {
		struct rtnl_link_stats64 st;

		memcpy(&st, mnl_attr_get_payload(tb[IFLA_STATS64]), sizeof(st));
		t->rx_errors += st.rx_errors;
		t->tx_errors += st.tx_errors;
		t->rx_dropped += st.rx_dropped;
		t->tx_dropped += st.tx_dropped;
	}
	return MNL_CB_OK;
}

int nl_link_totals_read(struct nl_handle *h, struct nl_link_totals *t)
{
	char req[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct rtgenmsg *rt;

	memset(t, 0, sizeof(*t));
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++h->seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	return nl_request_run(h, nlh, link_cb, t);
}
