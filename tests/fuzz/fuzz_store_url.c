/* libFuzzer target for the store URL parsers (store/store.c, store_ch.c):
 * any string as --store; a ClickHouse URL that parses has only the
 * characters its parts may carry into SQL and HTTP. */
#include "store.h"
#include "store_ch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_ident[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	const char *backend, *loc, *path;
	struct ch_url u;

	if (!url)
		abort();
	memcpy(url, data, size);
	url[size] = 0;
	store_url_split(url, &backend, &loc);
	if (loc < url || loc > url + strlen(url))
		abort();
	if (store_url_is_file(url, &path) != !strcmp(backend, "sqlite"))
		abort();
	if (ch_url_parse(url, &u) == 0) {
		if (strcmp(backend, "clickhouse"))
			abort(); /* parsed as ClickHouse, split as a file */
		if (!u.host[0] || !u.db[0] || strspn(u.db, fuzz_ident) != strlen(u.db) ||
		    strspn(u.cluster, fuzz_ident) != strlen(u.cluster) ||
		    !u.port[0] || strspn(u.port, "0123456789") != strlen(u.port) ||
		    atoi(u.port) < 1 || atoi(u.port) > 65535 ||
		    strpbrk(u.host, "/?#@%\\ \t\r\n"))
			abort();
	}
	free(url);
	return 0;
}
