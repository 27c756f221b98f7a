/* libFuzzer target for the inventory v1 parser and address lookups. */
#include "inventory.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inventory *inv = inventory_new();
	char err[512];
	char *copy = malloc(size ? size : 1);

	if (!inv || !copy)
		abort();
	memcpy(copy, data, size);
	if (inventory_parse(inv, copy, size, "fuzz", err, sizeof(err)) == 0) {
		for (size_t i = 0; i < inventory_link_count(inv); i++) {
			const char *a, *b;

			inventory_link_get(inv, i, &a, &b);
			if (!a || !b || !*a || strlen(a) > INVENTORY_NAME_MAX)
				abort();
		}
		(void)inventory_device_find(inv, "10.0.0.1");
		(void)inventory_device_find(inv, "2001:db8::1");
	} else if (!strstr(err, "fuzz")) {
		abort();
	}
	inventory_free(inv);
	free(copy);
	return 0;
}
