/* Targets source: reads the targets file or asks the collector for this
 * prober's plan, at start and on refresh; the fetch runs on its own thread. */
#include "targets_source.h"
#include "log.h"
#include "textio.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
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

enum ts_state { TS_IDLE, TS_RUNNING, TS_DONE };

struct targets_source {
	struct targets_source_cfg cfg;
	char name[96];
	char *last;      /* text of the list last handed out */
	size_t last_len;
	pthread_t thread;
	_Atomic int state; /* enum ts_state */
	/* written by the thread before state becomes TS_DONE */
	int res_rc;      /* 1 new list, 0 same text, -1 error */
	char *res_text;
	size_t res_len;
	struct target_spec *res_list;
	size_t res_n;
	char res_err[512];
	int self_warned; /* said once that the list holds this host's address */
};

/* Whether a is one of this host's (this namespace's) own addresses. */
static int ts_addr_is_local(const struct sockaddr_storage *a, const struct ifaddrs *ifs)
{
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != a->ss_family)
			continue;
		if (a->ss_family == AF_INET &&
		    !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			    &((const struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr,
			    sizeof(struct in_addr)))
			return 1;
		if (a->ss_family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			    &((const struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr,
			    sizeof(struct in6_addr)))
			return 1;
	}
	return 0;
}

/* A target that is this host itself crosses no link and only measures the
 * host: say so, once per process, naming the line. */
static void ts_self_check(struct targets_source *s, const struct target_spec *v, size_t n)
{
	struct ifaddrs *ifs;

	if (s->self_warned || getifaddrs(&ifs) < 0)
		return;
	for (size_t i = 0; i < n && !s->self_warned; i++) {
		if (ts_addr_is_local(&v[i].addr, ifs)) {
			log_msg(LOG_WARN, "%s: target '%s' is this host's own address: its probes "
				"cross no link and say nothing about the fabric", s->name, v[i].host);
			s->self_warned = 1;
		}
	}
	freeifaddrs(ifs);
}

struct targets_source *targets_source_open(const struct targets_source_cfg *cfg)
{
	struct targets_source *s = calloc(1, sizeof(*s));

	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->cfg = *cfg;
	if (cfg->file) {
		snprintf(s->name, sizeof(s->name), "%s", cfg->file);
	} else {
		snprintf(s->name, sizeof(s->name), "collector %s", cfg->up.collector);
		/* a list from the network names no host to look up */
		s->cfg.def.numeric_only = 1;
	}
	atomic_init(&s->state, TS_IDLE);
	return s;
}

int targets_source_running(const struct targets_source *s)
{
	return atomic_load_explicit(&s->state, memory_order_acquire) == TS_RUNNING;
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

/* Remember text as the last list handed out. */
static void ts_keep(struct targets_source *s, char *text, size_t len)
{
	free(s->last);
	s->last = text;
	s->last_len = len;
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
	if (targets_parse(text, len, s->name, &s->cfg.def, out, n, err, errlen) < 0) {
		free(text);
		return -1;
	}
	ts_self_check(s, *out, *n);
	ts_keep(s, text, len);
	return 0;
}

/* Off the probing thread: read or fetch, and parse (names may need DNS)
 * unless the text is the one in use. s->last is only written by take,
 * which waits for this thread, so reading it here is safe. */
static void *ts_refresh_thread(void *arg)
{
	struct targets_source *s = arg;
	char why[256];

	s->res_text = NULL;
	s->res_list = NULL;
	if (ts_text_get(s, &s->res_text, &s->res_len, why, sizeof(why)) < 0) {
		snprintf(s->res_err, sizeof(s->res_err), "%s: targets: %s", s->name, why);
		s->res_rc = -1;
	} else if (s->last && s->res_len == s->last_len &&
		   memcmp(s->res_text, s->last, s->res_len) == 0) {
		s->res_rc = 0;
	} else if (targets_parse(s->res_text, s->res_len, s->name, &s->cfg.def, &s->res_list,
				 &s->res_n, s->res_err, sizeof(s->res_err)) < 0) {
		s->res_rc = -1;
	} else {
		s->res_rc = 1;
	}
	atomic_store_explicit(&s->state, TS_DONE, memory_order_release);
	return NULL;
}

void targets_source_refresh(struct targets_source *s)
{
	sigset_t all, old;
	int rc;

	if (atomic_load_explicit(&s->state, memory_order_acquire) != TS_IDLE)
		return;
	atomic_store_explicit(&s->state, TS_RUNNING, memory_order_relaxed);
	/* the thread starts with every signal blocked, so SIGTERM and SIGHUP
	 * always interrupt the probing thread's wait */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&s->thread, NULL, ts_refresh_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		/* no thread now: the next refresh tries again */
		log_msg(LOG_WARN, "%s: cannot start the targets refresh: %s", s->name,
			strerror(errno));
		atomic_store_explicit(&s->state, TS_IDLE, memory_order_relaxed);
	}
}

int targets_source_take(struct targets_source *s, struct target_spec **out, size_t *n,
			char *err, size_t errlen)
{
	int rc;

	if (atomic_load_explicit(&s->state, memory_order_acquire) != TS_DONE)
		return 0;
	pthread_join(s->thread, NULL);
	atomic_store_explicit(&s->state, TS_IDLE, memory_order_relaxed);
	rc = s->res_rc;
	if (rc < 0)
		snprintf(err, errlen, "%s", s->res_err);
	if (rc > 0) {
		*out = s->res_list;
		*n = s->res_n;
		ts_self_check(s, *out, *n);
		ts_keep(s, s->res_text, s->res_len);
	} else {
		/* a broken text is not kept: the list in use stays the one
		 * compared against, and a fix back to it changes nothing */
		free(s->res_text);
	}
	s->res_text = NULL;
	s->res_list = NULL;
	return rc;
}

/* The refresh under way, if any, and its result. */
static void ts_wait(struct targets_source *s)
{
	if (atomic_load_explicit(&s->state, memory_order_acquire) == TS_IDLE)
		return;
	pthread_join(s->thread, NULL);
	atomic_store_explicit(&s->state, TS_IDLE, memory_order_relaxed);
	free(s->res_text);
	free(s->res_list);
	s->res_text = NULL;
	s->res_list = NULL;
}

void targets_source_close(struct targets_source *s)
{
	if (!s)
		return;
	ts_wait(s);
	free(s->last);
	free(s);
}
