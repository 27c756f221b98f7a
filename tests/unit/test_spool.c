/* Spool: batches survive reopen in seq order, the seq counter never goes
 * back, ACKed batches go away, and a full spool drops the oldest first. */
#include "prober/spool.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void spool_dir_make(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fm-spool-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void spool_dir_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(spool, .init = spool_dir_make, .fini = spool_dir_remove);

static struct spool *spool_must_open(uint64_t max)
{
	char err[256];
	struct spool *s = spool_open(dir, max, err, sizeof(err));

	cr_assert_not_null(s, "%s", err);
	return s;
}

static void append_n(struct spool *s, unsigned n, size_t bytes)
{
	uint8_t buf[256];

	for (unsigned i = 0; i < n; i++) {
		uint64_t seq = spool_seq_next(s);

		cr_assert_gt(seq, 0);
		memset(buf, (int)seq, sizeof(buf));
		cr_assert_eq(spool_batch_append(s, seq, buf, bytes), 0);
	}
}

Test(spool, batches_survive_reopen_in_order_with_content)
{
	struct spool *s = spool_must_open(1 << 20);
	uint8_t *buf;
	size_t len;

	append_n(s, 5, 100);
	spool_close(s);
	s = spool_must_open(1 << 20);
	cr_assert_eq(spool_count(s), 5);
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(spool_seq_at(s, i), i + 1);
	cr_assert_eq(spool_batch_read(s, 3, &buf, &len), 0);
	cr_assert_eq(len, 100);
	cr_assert_eq(buf[0], 3);
	cr_assert_eq(buf[99], 3);
	free(buf);
	cr_assert_eq(spool_bytes(s), 500);
	spool_close(s);
}

Test(spool, seq_keeps_rising_after_every_batch_is_acked)
{
	struct spool *s = spool_must_open(1 << 20);

	append_n(s, 3, 10);
	for (uint64_t q = 1; q <= 3; q++)
		cr_assert_eq(spool_batch_remove(s, q), 0);
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(spool_batch_remove(s, 2), -1, "already gone");
	spool_close(s);
	s = spool_must_open(1 << 20);
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(spool_seq_next(s), 4, "a restart must not reuse seq numbers");
	spool_close(s);
}

Test(spool, ack_out_of_order_removes_only_that_batch)
{
	struct spool *s = spool_must_open(1 << 20);

	append_n(s, 4, 10);
	cr_assert_eq(spool_batch_remove(s, 2), 0);
	cr_assert_eq(spool_count(s), 3);
	cr_assert_eq(spool_seq_at(s, 0), 1);
	cr_assert_eq(spool_seq_at(s, 1), 3);
	cr_assert_eq(spool_seq_at(s, 2), 4);
	spool_close(s);
}

Test(spool, full_spool_drops_oldest_and_counts)
{
	struct spool *s = spool_must_open(1000);

	append_n(s, 10, 200); /* 2000 bytes into 1000: keep the newest 5 */
	cr_assert_eq(spool_count(s), 5);
	cr_assert_eq(spool_seq_at(s, 0), 6);
	cr_assert_eq(spool_seq_at(s, 4), 10);
	cr_assert_eq(spool_dropped_take(s), 5);
	cr_assert_eq(spool_dropped_take(s), 0, "taken once");
	cr_assert_eq(spool_dropped_total(s), 5);
	cr_assert_leq(spool_bytes(s), 1000);
	spool_close(s);
}

Test(spool, a_batch_larger_than_the_bound_is_still_kept_alone)
{
	struct spool *s = spool_must_open(4096);
	uint8_t big[8192] = { 0 };

	append_n(s, 2, 100);
	cr_assert_eq(spool_batch_append(s, spool_seq_next(s), big, sizeof(big)), 0);
	cr_assert_eq(spool_count(s), 1, "the newest batch is never the one dropped");
	cr_assert_eq(spool_seq_at(s, 0), 3);
	spool_close(s);
}

Test(spool, stray_files_are_ignored)
{
	struct spool *s;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("x", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/batch.tmp", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	s = spool_must_open(1 << 20);
	cr_assert_eq(spool_count(s), 0);
	spool_close(s);
}
