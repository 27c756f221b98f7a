/* On-disk spool of encoded report batches: each batch one fsync'd file named
 * by its seq, deleted only when the collector has acknowledged it; bounded in
 * bytes (oldest dropped first); the seq counter survives restarts. */
#ifndef FM_SPOOL_H
#define FM_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* Open (creating) dir. Existing batch files are picked up in seq order.
 * Returns NULL with errno and a reason in err. */
struct spool *spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);
void spool_close(struct spool *s);

/* Reserve the next batch seq (>= 1, above every seq used before, even across
 * restarts): the counter is fsync'd before it is returned. 0 on error (errno). */
uint64_t spool_seq_next(struct spool *s);

/* Store one encoded frame under seq (tmp file, fsync, rename, fsync dir).
 * Then, while the spool is over max_bytes, the oldest other batches are
 * deleted and counted as dropped. 0, or -1 with errno. */
int spool_batch_append(struct spool *s, uint64_t seq, const uint8_t *buf, size_t len);

/* Number of batches held, and the seq of the i-th oldest (i < count). */
size_t spool_count(const struct spool *s);
uint64_t spool_seq_at(const struct spool *s, size_t i);
/* Read the batch with that seq into a malloc'd buffer. 0, or -1 with errno. */
int spool_batch_read(const struct spool *s, uint64_t seq, uint8_t **buf, size_t *len);
/* Delete the batch with that seq (acknowledged). 0; -1 with errno ENOENT
 * when it is not held (already removed or dropped), or another errno. */
int spool_batch_remove(struct spool *s, uint64_t seq);
/* Batches dropped for space since the last call (for the log), and the
 * total ever dropped from this spool (durable across restarts). */
uint32_t spool_dropped_take(struct spool *s);
uint64_t spool_dropped_total(const struct spool *s);

/* Drop accounting, kept durably in the spool (DIR/drops), so every dropped
 * batch reaches the collector's database exactly once: the drops not yet
 * reported ride on one batch at a time, assigned when it is sent and fixed
 * until its ACK (resends carry the same count; that batch is never dropped
 * for space meanwhile). spool_batch_remove of that batch (its ACK) marks
 * them reported. Returns the count the batch with this seq carries (0 for
 * every other batch while one holds an assignment); (uint32_t)-1 with errno
 * if the state cannot be written. */
uint32_t spool_dropped_assign(struct spool *s, uint64_t seq);
uint64_t spool_bytes(const struct spool *s);

#endif
