/* The answers of triangulate device, link and suspects, and their writers
 * (a text page for people, one JSON object for programs) behind one
 * interface; cmd_query.c fills the answers from the collector's database. */
#ifndef FM_TRIANGULATE_QUERY_H
#define FM_TRIANGULATE_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "suspect.h"

#define QUERY_NAME_MAX SUSPECT_NAME_MAX

/* One link of the subject (each in and out link of a device, or the link). */
struct query_link {
	char from[QUERY_NAME_MAX], to[QUERY_NAME_MAX];
	double loss_ratio;     /* charged to the link (fabric_link.loss_ratio) */
	double observed_ratio; /* raw loss of the flows crossing it */
	uint64_t flows, lossy_flows;
	int suspect;           /* 1: a link or blackhole suspect */
	double confidence;     /* of that suspect, else 0 */
};

/* A prober/target pair with lost probes on flows through the subject. */
struct query_pair {
	char prober[QUERY_NAME_MAX], target[QUERY_NAME_MAX];
	uint64_t flows, lossy_flows, sent, lost;
};

/* The subject over one slice of the longer look-back. */
struct query_bucket {
	int64_t start_ms, end_ms;
	double sent;
	double loss_ratio;
	const char *verdict; /* static string */
};

/* One history point (a watch round that named the subject). */
struct query_point {
	int64_t at_ms;
	char kind[16], from[QUERY_NAME_MAX], to[QUERY_NAME_MAX];
	double loss_ratio, confidence;
};

struct query_episode {
	int64_t id;
	char kind[16], from[QUERY_NAME_MAX], to[QUERY_NAME_MAX];
	int64_t opened_ms, last_seen_ms, closed_ms;
	double loss_ratio_max, loss_ratio_last, confidence_last;
	uint64_t rounds;
};

struct query_answer {
	const char *subject;               /* "device" or "link" */
	char from[QUERY_NAME_MAX], to[QUERY_NAME_MAX]; /* to "" for a device */
	int64_t now_ms, window_ms, since_ms;
	/* verdict over the last window */
	const char *verdict;               /* "dropping", "partial blackhole",
					    * "sick host", "not dropping", "no data" */
	char detail[256];                  /* why, in a sentence */
	double confidence;                 /* of a suspect verdict; 0 otherwise */
	double loss_ratio, loss_lo, loss_hi;
	uint64_t flows, lossy_flows;       /* flows through it in the window */
	struct query_link *links;
	size_t nlinks;
	struct query_pair *pairs;          /* worst first */
	size_t npairs;
	struct query_link *blackholes;     /* partial blackhole suspects through it */
	size_t nblackholes;
	struct query_bucket *buckets;      /* oldest first */
	size_t nbuckets;
	struct query_point *points;        /* oldest first */
	size_t npoints;
	struct query_episode *episodes;    /* oldest first */
	size_t nepisodes;
};

struct query_ops {
	const char *name;
	/* Write a device or link answer; 0 or -1 (errno). */
	int (*answer_write)(FILE *out, const struct query_answer *a);
	/* Write suspect episodes over [since_ms, until_ms); 0 or -1. */
	int (*episodes_write)(FILE *out, const struct query_episode *v, size_t n,
			      int64_t since_ms, int64_t until_ms);
};

extern const struct query_ops query_text_ops;
extern const struct query_ops query_json_ops;

/* One suspect episode as a JSON object, the one shape everywhere an
 * episode is written (suspects, device and link answers, summary.json). */
void query_episode_json_write(FILE *out, const struct query_episode *e);

/* "2026-11-28 13:05:00Z" for a Unix time in ms, into buf. */
const char *query_time_format(int64_t ms, char *buf, size_t len);

struct inventory;
/* Answer "is this device (a->to "") or link (a->from -> a->to) dropping" at
 * a->now_ms (set by the caller, with from and to): the verdict over the last
 * window_ms, the look-back over since_ms in slices of bucket_ms (0: 1h, or
 * since/24 in whole hours past a day), and the watch's history of it, from
 * the database db, names through inv (may be NULL). Returns 0; 1 when
 * neither the database nor the inventory knows the subject (the reason in
 * err); -1 with the reason in err. Free a with query_answer_free either way. */
int query_answer_build(struct query_answer *a, const char *db,
		       const struct inventory *inv, int64_t window_ms,
		       int64_t since_ms, int64_t bucket_ms, char *err, size_t errlen);
void query_answer_free(struct query_answer *a);

struct history_episode;
/* Append a copy of a history episode to a growing array; 0 or -1 (ENOMEM). */
int query_episode_append(struct query_episode **v, size_t *n, size_t *cap,
			 const struct history_episode *e);

#endif
