/* What a localization method returns: ranked suspects of four kinds, each
 * with a loss estimate, its interval, a confidence and the evidence. */
#ifndef FM_TRIANGULATE_SUSPECT_H
#define FM_TRIANGULATE_SUSPECT_H

#include <stddef.h>
#include <stdint.h>

enum suspect_kind {
	SUSPECT_LINK,      /* a directed link drops packets of all its flows */
	SUSPECT_DEVICE,    /* most links into or out of a device drop */
	SUSPECT_BLACKHOLE, /* a link drops all packets of some flows, none of others */
	SUSPECT_HOST,      /* a prober or target loses on every path it has */
};

#define SUSPECT_NAME_MAX 64

struct suspect {
	enum suspect_kind kind;
	char from[SUSPECT_NAME_MAX]; /* link ends; the device/host is in from */
	char to[SUSPECT_NAME_MAX];   /* empty for device and host */
	double loss_ratio;           /* maximum-likelihood loss rate */
	double loss_lo, loss_hi;     /* 95% profile-likelihood interval */
	double confidence;           /* 1 - family-wise adjusted p-value */
	double score;                /* ranking key: likelihood-ratio statistic */
	uint64_t flows;              /* flows crossing it */
	uint64_t lossy_flows;        /* of those, flows that lost probes */
	uint32_t probers;            /* distinct probers among the lossy flows */
	/* An ambiguous link suspect: another link crossed by exactly the same
	 * flows, which no evidence splits from this one; the fault is on one of
	 * the two (or both). Empty when the link is identified alone. */
	char also_from[SUSPECT_NAME_MAX], also_to[SUSPECT_NAME_MAX];
};

struct suspect_list {
	struct suspect *v;
	size_t n, cap;
};

/* Append a copy; returns 0 or -1 (ENOMEM). */
int suspect_list_add(struct suspect_list *l, const struct suspect *s);
/* Rank: highest score first, ties by names so output is deterministic. */
void suspect_list_sort(struct suspect_list *l);
void suspect_list_free(struct suspect_list *l);

const char *suspect_kind_name(enum suspect_kind k);
/* Parse a kind name; returns 0, or -1 if unknown. */
int suspect_kind_parse(const char *s, enum suspect_kind *k);

#endif
