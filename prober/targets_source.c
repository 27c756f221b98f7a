/* Targets source: reads the targets file or asks the collector for this
 * prober's plan, at start and on refresh; the fetch runs on its own thread. */
#include "targets_source.h"
#include "log.h"
#include "textio.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Start-up fetch: attempts and pause between them; every fetch's bound. */
#define TS_FIRST_TRIES 3
#define TS_FIRST_PAUSE_S 2
#define TS_FETCH_TIMEOUT_MS 5000

enum ts_state { TS_IDLE, TS_RUNNING, TS_DONE, TS_FILE_DUE };

struct targets_source {
	struct targets_source_cfg cfg;
	char name[96];
	char *last;      /* text of the list last handed out */
	size_t last_len;
	pthread_t thread;
	_Atomic int state; /* enum ts_state */
	/* written by the thread before state becomes TS_DONE */
	int fetch_rc;
	char *fetch_text;
	size_t fetch_len;
	char fetch_why[256];
};

struct targets_source *targets_source_open(const struct targets_source_cfg *cfg)
{
	struct targets_source *s = calloc(1, sizeof(*s));

	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->cfg = *cfg;
	if (cfg->file)
		snprintf(s->name, sizeof(s->name), "%s", cfg->file);
	else
		snprintf(s->name, sizeof(s->name), "collector %s", cfg->up.collector);
	atomic_init(&s->state, TS_IDLE);
	return s;
}

const char *targets_source_name(const struct targets_source *s)
{
	return s->name;
}

/* The raw text, blocking: the file, or one exchange with the collector. */
static int ts_text_get(const struct targets_source *s, char **text, size_t *len, char *why,
		       size_t whylen)
{
	if (s->cfg.file) {
		if (textio_file_read(s->cfg.file, text, len) == 0)
			return 0;
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	return uplink_targets_fetch(&s->cfg.up, TS_FETCH_TIMEOUT_MS, text, len, why, whylen);
}

/* Parse text into a list and remember it as the last one handed out. */
static int ts_parse_keep(struct targets_source *s, char *text, size_t len,
			 struct target_spec **out, size_t *n, char *err, size_t errlen)
{
	if (targets_parse(text, len, s->name, &s->cfg.def, out, n, err, errlen) < 0) {
		free(text);
		return -1;
	}
	free(s->last);
	s->last = text;
	s->last_len = len;
	return 0;
}

int targets_source_first(struct targets_source *s, volatile sig_atomic_t *stop,
			 struct target_spec **out, size_t *n, char *err, size_t errlen)
{
	char why[256];
	char *text = NULL;
	size_t len = 0;

	for (int i = 1;; i++) {
		if (ts_text_get(s, &text, &len, why, sizeof(why)) == 0)
			break;
		/* a file is there or not; a collector may be starting too */
		if (s->cfg.file || i == TS_FIRST_TRIES || *stop) {
			snprintf(err, errlen, "%s: targets: %s%s", s->name, why,
				 s->cfg.file ? "" : " (after retries)");
			return -1;
		}
		log_msg(LOG_WARN, "%s: targets: %s; retry in %d s", s->name, why, TS_FIRST_PAUSE_S);
		sleep(TS_FIRST_PAUSE_S);
	}
	return ts_parse_keep(s, text, len, out, n, err, errlen);
}

static void *ts_fetch_thread(void *arg)
{
	struct targets_source *s = arg;

	s->fetch_text = NULL;
	s->fetch_rc = ts_text_get(s, &s->fetch_text, &s->fetch_len, s->fetch_why,
				  sizeof(s->fetch_why));
	atomic_store_explicit(&s->state, TS_DONE, memory_order_release);
	return NULL;
}

void targets_source_refresh(struct targets_source *s)
{
	if (atomic_load_explicit(&s->state, memory_order_acquire) != TS_IDLE)
		return;
	if (s->cfg.file) {
		/* a local file is read at once when taken */
		atomic_store_explicit(&s->state, TS_FILE_DUE, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&s->state, TS_RUNNING, memory_order_relaxed);
	if (pthread_create(&s->thread, NULL, ts_fetch_thread, s) != 0) {
		/* no thread now: the next refresh tries again */
		log_msg(LOG_WARN, "%s: cannot start the targets fetch: %s", s->name, strerror(errno));
		atomic_store_explicit(&s->state, TS_IDLE, memory_order_relaxed);
	}
}

int targets_source_take(struct targets_source *s, struct target_spec **out, size_t *n,
			char *err, size_t errlen)
{
	int state = atomic_load_explicit(&s->state, memory_order_acquire);
	char *text = NULL;
	size_t len = 0;

	if (state == TS_FILE_DUE) {
		atomic_store_explicit(&s->state, TS_IDLE, memory_order_relaxed);
		if (ts_text_get(s, &text, &len, s->fetch_why, sizeof(s->fetch_why)) < 0) {
			snprintf(err, errlen, "%s: %s", s->name, s->fetch_why);
			return -1;
		}
	} else if (state == TS_DONE) {
		pthread_join(s->thread, NULL);
		atomic_store_explicit(&s->state, TS_IDLE, memory_order_relaxed);
		if (s->fetch_rc < 0) {
			snprintf(err, errlen, "%s: targets: %s", s->name, s->fetch_why);
			return -1;
		}
		text = s->fetch_text;
		len = s->fetch_len;
		s->fetch_text = NULL;
	} else {
		return 0;
	}
	if (s->last && len == s->last_len && memcmp(text, s->last, len) == 0) {
		free(text);
		return 0;
	}
	return ts_parse_keep(s, text, len, out, n, err, errlen) < 0 ? -1 : 1;
}

void targets_source_close(struct targets_source *s)
{
	if (!s)
		return;
	if (atomic_load_explicit(&s->state, memory_order_acquire) == TS_RUNNING ||
	    atomic_load_explicit(&s->state, memory_order_acquire) == TS_DONE)
		pthread_join(s->thread, NULL);
	free(s->fetch_text);
	free(s->last);
	free(s);
}
