/* libFuzzer target for the prober's collector list (--collector A,B,...,
 * prober/uplink.c): any string through uplink_new, which parses it before
 * connecting anywhere; an accepted list is freed again. */
#include "prober/uplink.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uplink_cfg cfg = { .name = "fuzz", .window = 4,
				  .backoff_min_ms = 100, .backoff_max_ms = 1000 };
	char err[512] = "", *list = malloc(size + 1);
	struct uplink *u;

	if (!list)
		abort();
	memcpy(list, data, size);
	list[size] = 0;
	cfg.collector = list;
	u = uplink_new(&cfg, NULL, err, sizeof(err));
	if (!u && !err[0])
		abort(); /* a refusal says why */
	if (u && uplink_fd(u) != -1)
		abort(); /* parsing connects nowhere */
	uplink_free(u);
	free(list);
	return 0;
}
