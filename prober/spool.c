/* Spool: files DIR/NNNNNNNNNNNNNNNNNNNN.batch hold one encoded frame each;
 * DIR/seq holds the last seq handed out; DIR/drops the drop accounting
 * ("total reported last_dropped_seq assigned_seq assigned_count"). A batch
 * dropped for space is first renamed to .dropped, then counted in DIR/drops,
 * then unlinked, so a crash in between counts it once (on open). Every write goes to a temp file that
 * is fsync'd and renamed, then the directory is fsync'd, so a crash leaves
 * either the old or the new state, never a torn batch. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct spool_item {
	uint64_t seq;
	uint64_t bytes;
};

struct spool {
	char dir[PATH_MAX - 64];
	int dirfd;
	uint64_t max_bytes, bytes;
	uint64_t last_seq;
	struct spool_item *items; /* ascending seq */
	size_t n, cap;
	uint32_t dropped_new;
	uint64_t dropped_total;    /* batches ever dropped for space */
	uint64_t dropped_reported; /* of them, carried by an acknowledged batch */
	uint64_t dropped_last_seq; /* the newest seq counted as dropped */
	uint64_t assigned_seq;     /* the batch carrying the unreported drops; 0 none */
	uint32_t assigned_count;
	int scan_recounted;        /* the open finished a drop: rewrite DIR/drops */
};

static void spool_path(const struct spool *s, uint64_t seq, char *out, size_t len)
{
	snprintf(out, len, "%s/%020" PRIu64 ".batch", s->dir, seq);
}

static int write_all_sync(int dirfd, const char *tmp, const char *final,
			  const void *buf, size_t len)
{
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const uint8_t *p = buf;
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto err;
	}
	if (renameat(dirfd, tmp, dirfd, final) < 0 || fsync(dirfd) < 0)
		return -1;
	return 0;
err:
	{
		int e = errno;

		if (fd >= 0)
			close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e;
	}
	return -1;
}

static int spool_drops_write(struct spool *s)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n",
			 s->dropped_total, s->dropped_reported, s->dropped_last_seq,
			 s->assigned_seq, s->assigned_count);

	return write_all_sync(s->dirfd, "drops.tmp", "drops", buf, (size_t)n);
}

static int spool_drops_read(struct spool *s)
{
	char buf[128];
	int fd = openat(s->dirfd, "drops", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	if (sscanf(buf, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %u", &s->dropped_total,
		   &s->dropped_reported, &s->dropped_last_seq, &s->assigned_seq,
		   &s->assigned_count) != 5 ||
	    s->dropped_reported > s->dropped_total) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const struct spool_item *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int spool_item_push(struct spool *s, uint64_t seq, uint64_t bytes)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct spool_item *v = realloc(s->items, cap * sizeof(*v));

		if (!v)
			return -1;
		s->items = v;
		s->cap = cap;
	}
	s->items[s->n].seq = seq;
	s->items[s->n].bytes = bytes;
	s->n++;
	s->bytes += bytes;
	return 0;
}

static int spool_scan(struct spool *s)
{
	int fd = dup(s->dirfd);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		char *end;
		unsigned long long seq;
		struct stat st;

		if (strlen(de->d_name) == 28 && !strcmp(de->d_name + 20, ".dropped")) {
			/* a drop cut short by a crash: count it if DIR/drops has
			 * not yet, then finish it */
			seq = strtoull(de->d_name, &end, 10);
			if (end == de->d_name + 20 && seq > s->dropped_last_seq) {
				s->dropped_total++;
				s->dropped_last_seq = seq;
				s->scan_recounted = 1;
			}
			unlinkat(s->dirfd, de->d_name, 0);
			continue;
		}
		if (strlen(de->d_name) != 26 || strcmp(de->d_name + 20, ".batch"))
			continue;
		errno = 0;
		seq = strtoull(de->d_name, &end, 10);
		if (errno || end != de->d_name + 20 || seq == 0)
			continue;
		if (fstatat(s->dirfd, de->d_name, &st, 0) < 0 || spool_item_push(s, seq, (uint64_t)st.st_size) < 0) {
			int e = errno;

			closedir(d);
			errno = e;
			return -1;
		}
		if (seq > s->last_seq)
			s->last_seq = seq;
	}
	closedir(d);
	if (s->n > 1)
		qsort(s->items, s->n, sizeof(*s->items), item_cmp);
	return 0;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct spool *s = calloc(1, sizeof(*s));
	char buf[32];
	int fd;

	if (!s) {
		snprintf(err, errlen, "spool %s: out of memory", dir);
		return NULL;
	}
	s->dirfd = -1;
	if (strlen(dir) >= sizeof(s->dir)) {
		errno = ENAMETOOLONG;
		goto err;
	}
	strcpy(s->dir, dir);
	s->max_bytes = max_bytes;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto err;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		goto err;
	/* one prober per spool: two would share its batch numbers */
	if (flock(s->dirfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			snprintf(err, errlen, "spool %s: in use by another prober (give each its own "
				 "--spool)", dir);
			close(s->dirfd);
			free(s);
			return NULL;
		}
		goto err;
	}
	fd = openat(s->dirfd, "seq", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, buf, sizeof(buf) - 1);

		close(fd);
		if (r > 0) {
			buf[r] = '\0';
			s->last_seq = strtoull(buf, NULL, 10);
		}
	} else if (errno != ENOENT) {
		goto err;
	}
	if (spool_drops_read(s) < 0 || spool_scan(s) < 0)
		goto err;
	if (s->scan_recounted && spool_drops_write(s) < 0)
		goto err;
	if (s->assigned_seq) {
		/* the carrier batch is gone (dropped by an older version, or
		 * deleted by hand): its count goes back to the unreported */
		int held = 0;

		for (size_t i = 0; i < s->n; i++)
			held |= s->items[i].seq == s->assigned_seq;
		if (!held) {
			s->assigned_seq = 0;
			s->assigned_count = 0;
			if (spool_drops_write(s) < 0)
				goto err;
		}
	}
	return s;
err:
	snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
	{
		int e = errno;

		spool_close(s);
		errno = e;
	}
	return NULL;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->items);
	free(s);
}

uint64_t spool_seq_next(struct spool *s)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", s->last_seq + 1);

	if (write_all_sync(s->dirfd, "seq.tmp", "seq", buf, (size_t)n) < 0)
		return 0;
	return ++s->last_seq;
}

static int spool_unlink(struct spool *s, size_t i)
{
	char path[PATH_MAX];

	spool_path(s, s->items[i].seq, path, sizeof(path));
	if (unlinkat(s->dirfd, strrchr(path, '/') + 1, 0) < 0 && errno != ENOENT)
		return -1;
	s->bytes -= s->items[i].bytes;
	memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*s->items));
	s->n--;
	return 0;
}

/* Drop the i-th batch for space, counted exactly once (see the top). */
static int spool_drop(struct spool *s, size_t i)
{
	char path[PATH_MAX], dropped[PATH_MAX];
	const char *name;
	uint64_t seq = s->items[i].seq;

	spool_path(s, seq, path, sizeof(path));
	name = strrchr(path, '/') + 1;
	snprintf(dropped, sizeof(dropped), "%020" PRIu64 ".dropped", seq);
	if (renameat(s->dirfd, name, s->dirfd, dropped) < 0 || fsync(s->dirfd) < 0)
		return -1;
	s->dropped_total++;
	if (seq > s->dropped_last_seq)
		s->dropped_last_seq = seq;
	if (spool_drops_write(s) < 0)
		return -1;
	unlinkat(s->dirfd, dropped, 0);
	s->bytes -= s->items[i].bytes;
	memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*s->items));
	s->n--;
	s->dropped_new++;
	return 0;
}

uint32_t spool_dropped_assign(struct spool *s, uint64_t seq)
{
	uint64_t unreported = s->dropped_total - s->dropped_reported;

	if (s->assigned_seq)
		return s->assigned_seq == seq ? s->assigned_count : 0;
	if (!unreported)
		return 0;
	s->assigned_seq = seq;
	s->assigned_count = unreported > UINT32_MAX ? UINT32_MAX : (uint32_t)unreported;
	if (spool_drops_write(s) < 0) {
		s->assigned_seq = 0;
		s->assigned_count = 0;
		return (uint32_t)-1;
	}
	return s->assigned_count;
}

int spool_batch_append(struct spool *s, uint64_t seq, const uint8_t *buf, size_t len)
{
	char path[PATH_MAX];
	const char *name;

	spool_path(s, seq, path, sizeof(path));
	name = strrchr(path, '/') + 1;
	if (write_all_sync(s->dirfd, "batch.tmp", name, buf, len) < 0)
		return -1;
	if (s->n && s->items[s->n - 1].seq >= seq) {
		/* out of order append: keep the list sorted */
		if (spool_item_push(s, seq, len) < 0)
			return -1;
		qsort(s->items, s->n, sizeof(*s->items), item_cmp);
	} else if (spool_item_push(s, seq, len) < 0) {
		return -1;
	}
	while (s->bytes > s->max_bytes && s->n > 1) {
		size_t i = 0;

		/* never the new batch, nor the one carrying the drop count */
		while (i < s->n && (s->items[i].seq == seq || s->items[i].seq == s->assigned_seq))
			i++;
		if (i == s->n)
			break;
		if (spool_drop(s, i) < 0)
			return -1;
	}
	if (s->last_seq < seq)
		s->last_seq = seq;
	return 0;
}

size_t spool_count(const struct spool *s)
{
	return s->n;
}

uint64_t spool_seq_at(const struct spool *s, size_t i)
{
	return i < s->n ? s->items[i].seq : 0;
}

int spool_batch_read(const struct spool *s, uint64_t seq, uint8_t **buf, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *b;
	size_t off = 0;
	int fd;

	spool_path(s, seq, path, sizeof(path));
	fd = openat(s->dirfd, strrchr(path, '/') + 1, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto err;
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b)
		goto err;
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, b + off, (size_t)st.st_size - off);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				errno = EIO;
			free(b);
			goto err;
		}
		off += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = off;
	return 0;
err:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

int spool_batch_remove(struct spool *s, uint64_t seq)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->items[i].seq == seq) {
			if (seq == s->assigned_seq) {
				/* acknowledged: its drops are in the database now.
				 * Recorded before the file goes: a crash between
				 * resends a batch the collector already holds */
				s->dropped_reported += s->assigned_count;
				s->assigned_seq = 0;
				s->assigned_count = 0;
				if (spool_drops_write(s) < 0)
					return -1;
			}
			return spool_unlink(s, i);
		}
	errno = ENOENT;
	return -1;
}

uint32_t spool_dropped_take(struct spool *s)
{
	uint32_t d = s->dropped_new;

	s->dropped_new = 0;
	return d;
}

uint64_t spool_dropped_total(const struct spool *s)
{
	return s->dropped_total;
}

uint64_t spool_bytes(const struct spool *s)
{
	return s->bytes;
}
