/* Address filling, comparison and socket-address conversion (addr.h). IPv4
 * sits in the last 4 bytes behind the ::ffff: prefix, so the 16 bytes of an
 * address compare and hash the same whatever code filled them. */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

void addr_set4(struct wire_addr *a, const void *b4)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->bytes[10] = 0xff;
	a->bytes[11] = 0xff;
	memcpy(a->bytes + 12, b4, 4);
}

void addr_set6(struct wire_addr *a, const void *b16)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET6;
	memcpy(a->bytes, b16, 16);
}

void addr_set(struct wire_addr *a, int family, const void *bytes)
{
	if (family == AF_INET)
		addr_set4(a, bytes);
	else
		addr_set6(a, bytes);
}

void addr_from_sockaddr(struct wire_addr *a, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		addr_set4(a, &((const struct sockaddr_in *)ss)->sin_addr);
	else if (ss->ss_family == AF_INET6)
		addr_set6(a, &((const struct sockaddr_in6 *)ss)->sin6_addr);
	else
		memset(a, 0, sizeof(*a));
}

socklen_t addr_to_sockaddr(const struct wire_addr *a, uint16_t port,
			   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->bytes + 12, 4);
		return sizeof(*s4);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->bytes, 16);
		return sizeof(*s6);
	}
	return 0;
}

int addr_eq(const struct wire_addr *a, const struct wire_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}
