/* Inventory v1 parser: address -> device map in interned string tables, with
 * duplicate-owner and name checks; link lines kept as device-id pairs. */
#include "inventory.h"
#include "strtab.h"
#include "textio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct inventory {
	struct strtab *addrs;   /* canonical address text -> id */
	struct strtab *devices; /* device name -> id */
	uint32_t *owner;        /* address id -> device id */
	size_t cap_owner;
	uint32_t (*links)[2];   /* device ids */
	size_t nlinks, cap_links;
};

struct inventory *inventory_new(void)
{
	struct inventory *inv = calloc(1, sizeof(*inv));

	if (!inv)
		return NULL;
	inv->addrs = strtab_new();
	inv->devices = strtab_new();
	if (!inv->addrs || !inv->devices) {
		inventory_free(inv);
		errno = ENOMEM;
		return NULL;
	}
	return inv;
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	strtab_free(inv->addrs);
	strtab_free(inv->devices);
	free(inv->owner);
	free(inv->links);
	free(inv);
}

static int inventory_name_valid(const char *s, size_t len)
{
	if (len < 1 || len > INVENTORY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

/* Canonical text of an address (so 2001:DB8::1 and 2001:db8::1 agree);
 * returns 0, or -1 when s is no address. */
static int inventory_addr_canon(const char *s, size_t len, char *out, size_t outlen)
{
	unsigned char bin[16];
	char tmp[INET6_ADDRSTRLEN + 1];

	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)outlen) ? 0 : -1;
	if (inet_pton(AF_INET6, tmp, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)outlen) ? 0 : -1;
	return -1;
}

static int inventory_addr_add_n(struct inventory *inv, const char *addr,
				size_t alen, const char *dev, size_t dlen,
				char *err, size_t errlen)
{
	char canon[INET6_ADDRSTRLEN];
	int64_t aid, did;

	if (inventory_addr_canon(addr, alen, canon, sizeof(canon)) < 0) {
		snprintf(err, errlen, "'%.*s' is not an IPv4 or IPv6 address",
			 (int)(alen > 64 ? 64 : alen), addr);
		return -1;
	}
	if (!inventory_name_valid(dev, dlen)) {
		snprintf(err, errlen,
			 "bad device name '%.*s' (1-63 of A-Z a-z 0-9 . _ : -)",
			 (int)(dlen > 64 ? 64 : dlen), dev);
		return -1;
	}
	did = strtab_intern(inv->devices, dev, dlen);
	if (did < 0)
		goto nomem;
	aid = strtab_find(inv->addrs, canon, strlen(canon));
	if (aid >= 0) {
		if (inv->owner[aid] != (uint32_t)did) {
			snprintf(err, errlen, "address %s already belongs to %s",
				 canon, strtab_str(inv->devices, inv->owner[aid]));
			return -1;
		}
		return 0;
	}
	aid = strtab_intern(inv->addrs, canon, strlen(canon));
	if (aid < 0)
		goto nomem;
	if ((size_t)aid >= inv->cap_owner) {
		size_t cap = inv->cap_owner ? inv->cap_owner * 2 : 1024;
		uint32_t *o = realloc(inv->owner, cap * sizeof(*o));

		if (!o)
			goto nomem;
		inv->owner = o;
		inv->cap_owner = cap;
	}
	inv->owner[aid] = (uint32_t)did;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return -1;
}

static int inventory_link_add_n(struct inventory *inv, const char *a, size_t al,
				const char *b, size_t bl, char *err, size_t errlen)
{
	int64_t ia, ib;

	if (!inventory_name_valid(a, al) || !inventory_name_valid(b, bl)) {
		snprintf(err, errlen, "bad device name in link line");
		return -1;
	}
	ia = strtab_intern(inv->devices, a, al);
	ib = strtab_intern(inv->devices, b, bl);
	if (ia < 0 || ib < 0)
		goto nomem;
	if (inv->nlinks == inv->cap_links) {
		size_t cap = inv->cap_links ? inv->cap_links * 2 : 1024;
		uint32_t(*l)[2] = realloc(inv->links, cap * sizeof(*l));

		if (!l)
			goto nomem;
		inv->links = l;
		inv->cap_links = cap;
	}
	inv->links[inv->nlinks][0] = (uint32_t)ia;
	inv->links[inv->nlinks][1] = (uint32_t)ib;
	inv->nlinks++;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return -1;
}

int inventory_addr_add(struct inventory *inv, const char *addr,
		       const char *device, char *err, size_t errlen)
{
	return inventory_addr_add_n(inv, addr, strlen(addr), device,
				    strlen(device), err, errlen);
}

int inventory_link_add(struct inventory *inv, const char *a, const char *b,
		       char *err, size_t errlen)
{
	return inventory_link_add_n(inv, a, strlen(a), b, strlen(b), err, errlen);
}

int inventory_parse(struct inventory *inv, const char *buf, size_t len,
		    const char *name, char *err, size_t errlen)
{
	static const char prefix[] = "# faultmesh inventory v";
	size_t pos = 0, lineno = 0, ll;
	const char *line;
	int seen_header = 0;

	while (textio_line_next(buf, len, &pos, &line, &ll)) {
		const char *fl[4];
		size_t fln[4], nf;
		char why[160];
		int rc;

		lineno++;
		if (!ll)
			continue;
		if (!seen_header) {
			if (ll != sizeof(INVENTORY_HEADER) - 1 ||
			    memcmp(line, INVENTORY_HEADER, ll)) {
				int vers = ll > sizeof(prefix) - 1 &&
					   !memcmp(line, prefix, sizeof(prefix) - 1);

				snprintf(err, errlen, "%s:%zu: %s", name, lineno,
					 vers ? "unsupported inventory version (want v1)"
					      : "missing header '" INVENTORY_HEADER "'");
				return -1;
			}
			seen_header = 1;
			continue;
		}
		if (line[0] == '#')
			continue;
		nf = textio_fields_split(line, ll, fl, fln, 3);
		if (fln[0] == 4 && !memcmp(fl[0], "link", 4)) {
			if (nf == 3)
				rc = inventory_link_add_n(inv, fl[1], fln[1], fl[2],
							  fln[2], why, sizeof(why));
			else {
				snprintf(why, sizeof(why), "expected 'link<TAB>a<TAB>b'");
				rc = -1;
			}
		} else if (nf == 2)
			rc = inventory_addr_add_n(inv, fl[0], fln[0], fl[1], fln[1],
						  why, sizeof(why));
		else {
			snprintf(why, sizeof(why),
				 "expected 'ip<TAB>device' or 'link<TAB>a<TAB>b'");
			rc = -1;
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
			return -1;
		}
	}
	if (!seen_header) {
		snprintf(err, errlen, "%s: empty file, missing header '%s'", name,
			 INVENTORY_HEADER);
		return -1;
	}
	return 0;
}

static int inventory_parse_cb(void *inv, const char *buf, size_t len,
			      const char *name, char *err, size_t errlen)
{
	return inventory_parse(inv, buf, len, name, err, errlen);
}

int inventory_file_read(struct inventory *inv, const char *path, char *err,
			size_t errlen)
{
	return textio_file_parse(path, inventory_parse_cb, inv, err, errlen);
}

const char *inventory_device_find(const struct inventory *inv, const char *addr)
{
	char canon[INET6_ADDRSTRLEN];
	int64_t id = strtab_find(inv->addrs, addr, strlen(addr));

	if (id < 0 && inventory_addr_canon(addr, strlen(addr), canon,
					   sizeof(canon)) == 0)
		id = strtab_find(inv->addrs, canon, strlen(canon));
	return id < 0 ? NULL : strtab_str(inv->devices, inv->owner[id]);
}

size_t inventory_addr_count(const struct inventory *inv)
{
	return strtab_count(inv->addrs);
}

void inventory_addr_get(const struct inventory *inv, size_t i, const char **addr,
			const char **device)
{
	*addr = strtab_str(inv->addrs, (uint32_t)i);
	*device = strtab_str(inv->devices, inv->owner[i]);
}

size_t inventory_link_count(const struct inventory *inv)
{
	return inv->nlinks;
}

void inventory_link_get(const struct inventory *inv, size_t i, const char **a,
			const char **b)
{
	*a = strtab_str(inv->devices, inv->links[i][0]);
	*b = strtab_str(inv->devices, inv->links[i][1]);
}

int inventory_header_write(FILE *out)
{
	return fprintf(out, "%s\n", INVENTORY_HEADER) < 0 ? -1 : 0;
}

int inventory_addr_write(FILE *out, const char *addr, const char *device)
{
	return fprintf(out, "%s\t%s\n", addr, device) < 0 ? -1 : 0;
}

int inventory_link_write(FILE *out, const char *a, const char *b)
{
	return fprintf(out, "link\t%s\t%s\n", a, b) < 0 ? -1 : 0;
}

struct inventory *inventory_file_open(const char *path, char *err, size_t errlen)
{
	struct inventory *inv = inventory_new();

	if (!inv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (inventory_file_read(inv, path, err, errlen) < 0) {
		inventory_free(inv);
		return NULL;
	}
	return inv;
}
