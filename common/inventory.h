/* Inventory format v1 (schemas/inventory.md): which device owns each
 * interface address, plus optional physical link lines. */
#ifndef FM_INVENTORY_H
#define FM_INVENTORY_H

#include <stddef.h>
#include <stdio.h>

#define INVENTORY_VERSION 1
#define INVENTORY_HEADER "# faultmesh inventory v1"
#define INVENTORY_NAME_MAX 63 /* device names: 1..63 of [A-Za-z0-9._:-] */

struct inventory;

/* Returns an empty inventory, or NULL with errno ENOMEM. */
struct inventory *inventory_new(void);
void inventory_free(struct inventory *inv);

/* Parse a whole v1 text into inv; name is used in messages. Returns 0, or -1
 * with "NAME:LINE: reason" in err. */
int inventory_parse(struct inventory *inv, const char *buf, size_t len,
		    const char *name, char *err, size_t errlen);
/* Read and parse a file; errors name the path (and line). */
int inventory_file_read(struct inventory *inv, const char *path, char *err,
			size_t errlen);

/* A new inventory read from the file at path: the one call for commands
 * whose --inventory is optional. Returns NULL with "PATH[:LINE]: reason" (or
 * "out of memory") in err. */
struct inventory *inventory_file_open(const char *path, char *err, size_t errlen);

/* Record that addr belongs to device. Returns 0; -1 with the reason in err
 * when the address is not IPv4/IPv6, the name is invalid, or the address
 * already belongs to another device. */
int inventory_addr_add(struct inventory *inv, const char *addr,
		       const char *device, char *err, size_t errlen);
/* Record a physical link between two devices (valid names). */
int inventory_link_add(struct inventory *inv, const char *a, const char *b,
		       char *err, size_t errlen);

/* The device owning addr (exact text match first, then parsed address so
 * "10.0.0.01"-style spellings of IPv6 compress alike), or NULL. */
const char *inventory_device_find(const struct inventory *inv, const char *addr);

size_t inventory_addr_count(const struct inventory *inv);
/* Address i (0 <= i < count, in file order) and its device. */
void inventory_addr_get(const struct inventory *inv, size_t i, const char **addr,
			const char **device);
size_t inventory_link_count(const struct inventory *inv);
/* Endpoints of link i (0 <= i < count); strings live as long as inv. */
void inventory_link_get(const struct inventory *inv, size_t i, const char **a,
			const char **b);

/* Writers for generators (the simulator): header, address line, link line. */
int inventory_header_write(FILE *out);
int inventory_addr_write(FILE *out, const char *addr, const char *device);
int inventory_link_write(FILE *out, const char *a, const char *b);

#endif
