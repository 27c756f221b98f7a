/* Unit tests for the inventory v1 parser: address owners, link lines,
 * duplicate owners, names, version header. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "inventory.h"
#include "unit_util.h"

Test(inventory, maps_addresses_and_links)
{
	static const char text[] = "# faultmesh inventory v1\n"
				   "198.18.1.1\tleaf1\n"
				   "198.18.0.1\tspine1\n"
				   "2001:DB8::1\tspine1\n"
				   "198.18.1.1\tleaf1\n"
				   "# comment\n"
				   "link\tleaf1\tspine1\n";
	struct inventory *inv = inventory_new();
	const char *a, *b;
	char err[256];

	cr_assert_eq(inventory_parse(inv, text, strlen(text), "t.inv", err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(inventory_device_find(inv, "198.18.1.1"), "leaf1");
	cr_assert_str_eq(inventory_device_find(inv, "2001:db8::1"), "spine1");
	cr_assert_str_eq(inventory_device_find(inv, "2001:db8:0::1"), "spine1");
	cr_assert_null(inventory_device_find(inv, "198.18.9.9"));
	cr_assert_eq(inventory_addr_count(inv), 3);
	cr_assert_eq(inventory_link_count(inv), 1);
	inventory_link_get(inv, 0, &a, &b);
	cr_assert_str_eq(a, "leaf1");
	cr_assert_str_eq(b, "spine1");
	inventory_free(inv);
}

static int t_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	struct inventory *inv = inventory_new();
	int rc = inventory_parse(inv, text, len, name, err, errlen);

	inventory_free(inv);
	return rc;
}

Test(inventory, rejects_bad_input_naming_file_and_line)
{
	static const struct unit_bad_text cases[] = {
		{ "198.18.1.1\tleaf1\n", "t.inv:1: missing header" },
		{ "# faultmesh inventory v9\n", "t.inv:1: unsupported inventory version" },
		{ "\n\n", "t.inv: empty file" },
		{ "# faultmesh inventory v1\n198.18.1.1\tleaf1\n198.18.1.1\tleaf2\n",
		  "t.inv:3: address 198.18.1.1 already belongs to leaf1" },
		{ "# faultmesh inventory v1\nnot-an-ip\tleaf1\n", "t.inv:2: 'not-an-ip' is not" },
		{ "# faultmesh inventory v1\n198.18.1.1\tbad name\n", "t.inv:2: bad device name" },
		{ "# faultmesh inventory v1\n198.18.1.1\n", "t.inv:2: expected" },
		{ "# faultmesh inventory v1\nlink\ta\n", "t.inv:2: expected" },
		{ "# faultmesh inventory v1\nlink\ta\tb/c\n", "t.inv:2: bad device name" },
	};

	unit_bad_texts_check(cases, sizeof(cases) / sizeof(cases[0]), "t.inv", t_parse);
}

Test(inventory, device_name_length_limit)
{
	struct inventory *inv = inventory_new();
	char name[80], err[256];

	memset(name, 'a', sizeof(name));
	name[INVENTORY_NAME_MAX] = '\0';
	cr_assert_eq(inventory_addr_add(inv, "10.0.0.1", name, err, sizeof(err)), 0, "%s", err);
	name[INVENTORY_NAME_MAX] = 'a';
	name[INVENTORY_NAME_MAX + 1] = '\0';
	cr_assert_eq(inventory_addr_add(inv, "10.0.0.2", name, err, sizeof(err)), -1);
	inventory_free(inv);
}

Test(inventory, file_open_reads_or_names_the_file)
{
	char path[] = "/tmp/fm-inv-open-XXXXXX", err[256];
	int fd = mkstemp(path);
	static const char text[] = "# faultmesh inventory v1\n198.18.0.1\tspine1\n";
	struct inventory *inv;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	inv = inventory_file_open(path, err, sizeof(err));
	cr_assert_not_null(inv, "%s", err);
	inventory_free(inv);
	unlink(path);
	cr_assert_null(inventory_file_open(path, err, sizeof(err)));
	cr_assert(strstr(err, path) != NULL, "err: %s", err);
}
