/* The one home of filling and comparing addresses (struct wire_addr, which
 * holds IPv4 as IPv4-mapped IPv6: ::ffff:a.b.c.d) and of converting them to
 * and from socket addresses. Text forms are wire_addr_str / wire_addr_parse. */
#ifndef FM_ADDR_H
#define FM_ADDR_H

#include "wire.h"

#include <stdint.h>
#include <sys/socket.h>

/* a = the address of family (AF_INET: 4 bytes, AF_INET6: 16 bytes). */
void addr_set(struct wire_addr *a, int family, const void *bytes);
void addr_set4(struct wire_addr *a, const void *b4);
void addr_set6(struct wire_addr *a, const void *b16);
/* a = the address in ss (AF_INET or AF_INET6); any other family: all zero. */
void addr_from_sockaddr(struct wire_addr *a, const struct sockaddr_storage *ss);
/* ss = a with port (host order); returns the length to pass to the socket
 * call, or 0 (ss zeroed) when a is neither IPv4 nor IPv6. */
socklen_t addr_to_sockaddr(const struct wire_addr *a, uint16_t port,
			   struct sockaddr_storage *ss);
/* Same family and bytes. */
int addr_eq(const struct wire_addr *a, const struct wire_addr *b);

#endif
