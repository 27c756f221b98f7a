/* libFuzzer target for the ICMP/ICMPv6 quote decoder: the first byte picks
 * the family, the rest is the packet as the raw socket would return it. */
#include "prober/icmp_quote.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct icmp_quote q;
	struct wire_addr from = { .family = AF_INET6 };
	uint8_t *copy;

	if (size < 1)
		return 0;
	/* An exact-size heap copy so any read past the end trips ASan. */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1) {
		if (icmp_quote_parse6(copy, size - 1, &from, &q) == 0 && q.mpls_n > 4)
			abort();
	} else {
		if (icmp_quote_parse4(copy, size - 1, &q) == 0 && q.mpls_n > 4)
			abort();
	}
	free(copy);
	return 0;
}
