/* libFuzzer target for the ClickHouse answer parser (store/store_ch.c): any
 * bytes as a TabSeparated answer, split into a column count the first byte
 * picks; and any string through the TSV escape and back unchanged. */
#include "store_ch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_rows {
	const char *lo, *hi; /* the answer buffer: every field points inside */
	int ncols;
	unsigned rows;
};

static int fuzz_row_cb(char **f, void *arg)
{
	struct fuzz_rows *x = arg;

	for (int i = 0; i < x->ncols; i++)
		if (f[i] < x->lo || f[i] + strlen(f[i]) > x->hi)
			abort(); /* a field outside the answer */
	return ++x->rows > 100000; /* a non-zero return stops the walk */
}

/* s escaped as one TSV field, then split: s again, in one field. */
static void fuzz_tsv_round_trip(const char *s)
{
	struct ch_buf b = { 0 };
	char *f[2], small[7];

	ch_buf_tsv_add(&b, s);
	ch_buf_add(&b, "", 0);
	if (b.oom)
		abort();
	if (!b.p) /* empty s: nothing added */
		return;
	if (ch_tsv_split(b.p, f, 2) != 1 || strcmp(f[0], s))
		abort();
	free(b.p);
	ch_tsv_escape(s, small, sizeof(small)); /* truncates, never overflows */
	if (strlen(small) >= sizeof(small))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rows x = { 0 };
	char err[256] = "", *text;
	int rc;

	if (size < 1)
		return 0;
	x.ncols = 1 + data[0] % CH_COLS_MAX;
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	fuzz_tsv_round_trip(text);
	x.lo = text;
	x.hi = text + size - 1;
	rc = ch_rows_parse(text, x.ncols, fuzz_row_cb, &x, "fuzz", err, sizeof(err));
	if (rc < 0 && !strstr(err, "fuzz"))
		abort(); /* every error names the server */
	free(text);
	return 0;
}
