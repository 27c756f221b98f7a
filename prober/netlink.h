/* The prober's only netlink user (libmnl): the kernel's source address for a
 * destination (RTM_GETROUTE) and the host's link state and error/drop
 * counters (RTM_GETLINK), so a sick host is not blamed on the fabric. */
#ifndef FM_NETLINK_H
#define FM_NETLINK_H

#include <stdint.h>
#include <netinet/in.h>

struct nl_handle;

struct nl_link_totals {
	uint64_t rx_errors, tx_errors, rx_dropped, tx_dropped; /* summed, lo excluded */
	uint32_t links_down; /* administratively up but without carrier / oper up */
	uint32_t links;      /* links counted (lo excluded) */
};

/* Open a NETLINK_ROUTE socket; NULL with errno. */
struct nl_handle *nl_open(void);
void nl_close(struct nl_handle *h);
/* Source address the kernel would use towards dst (family AF_INET: 4 bytes,
 * AF_INET6: 16 bytes, network order) written to src. 0, or -1 with errno
 * (ENETUNREACH when the route has no preferred source). */
int nl_route_src(struct nl_handle *h, int family, const void *dst, void *src);
/* Sum the counters of every non-loopback link. 0, or -1 with errno. */
int nl_link_totals_read(struct nl_handle *h, struct nl_link_totals *t);

#endif
