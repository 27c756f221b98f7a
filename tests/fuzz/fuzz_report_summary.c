/* libFuzzer target for the reader of a previous night's summary.json (a file
 * from disk that triangulate report compares with): any bytes must either be
 * refused or give a loss and keys the writer could have written. */
#include "fabric_report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct freport_previous p = { 0 };
	char err[256];

	if (freport_previous_parse(&p, (const char *)data, size, "fuzz", err,
				   sizeof(err)) == 0) {
		if (!p.have)
			abort();
		for (size_t i = 0; i < p.nkeys; i++)
			if (!p.keys[i] || strlen(p.keys[i]) > size)
				abort();
		/* what was parsed can be asked about */
		if (p.nkeys)
			(void)freport_previous_has(&p, p.keys[0]);
	}
	freport_previous_free(&p);
	return 0;
}
