/* libFuzzer target for the inventory v1 parser and address lookups. */
#include "fuzz_text.h"
#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inventory_check(const char *text, size_t len, const char *name, char *err,
			   size_t errlen)
{
	struct inventory *inv = inventory_new();

	if (!inv)
		abort();
	if (inventory_parse(inv, text, len, name, err, errlen) != 0) {
		inventory_free(inv);
		return -1;
	}
	for (size_t i = 0; i < inventory_link_count(inv); i++) {
		const char *a, *b;

		inventory_link_get(inv, i, &a, &b);
		if (!a || !b || !*a || strlen(a) > INVENTORY_NAME_MAX)
			abort();
	}
	(void)inventory_device_find(inv, "10.0.0.1");
	(void)inventory_device_find(inv, "2001:db8::1");
	inventory_free(inv);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_text_run(data, size, inventory_check);
}
