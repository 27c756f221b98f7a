/* The nightly fabric health report: what triangulate report gathers from the
 * database over a day, and its writers (summary.json, a self-contained
 * index.html with inline SVG pictures) behind one interface. */
#ifndef FM_TRIANGULATE_FABRIC_REPORT_H
#define FM_TRIANGULATE_FABRIC_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fabric_view.h"
#include "query.h"

#define FREPORT_VERSION 1
#define FREPORT_SLICES_MAX 96     /* timeline slices over the window */
#define FREPORT_WORST_PAIRS 15
#define FREPORT_SUSPECTS_MAX 64
#define FREPORT_FAULT_COLOR "#e000e0" /* faulty links and devices, nothing else */
#define FREPORT_HEALTHY_LOSS 1e-3 /* end-to-end loss below this, with no suspect, is healthy */

/* Links between two adjacent tiers (hosts-leaf, leaf-spine, ...). */
struct freport_layer {
	int lower;                 /* tier of the lower end */
	char name[80];             /* "h-leaf" */
	unsigned links;            /* directed links seen */
	double sent;               /* probes crossing, path-weighted */
	double loss_ratio;         /* probe-weighted loss charged to its links */
	unsigned suspects;         /* suspect links among them */
};

/* One slice of the day's timeline, localized on its own. */
struct freport_slice {
	int64_t start_ms, end_ms;
	uint64_t sent, lost;
	size_t nsuspects;
};

/* A suspect seen on the day (in the whole-day fit, in some slice, or in a
 * watch episode), with its loss per slice (-1: not a suspect then). */
struct freport_suspect {
	struct suspect fit;       /* the whole-day fit's figures (kind and names
				   * always; figures 0 when the day did not name it) */
	enum suspect_kind kind;
	char from[SUSPECT_NAME_MAX], to[SUSPECT_NAME_MAX];
	double loss_ratio;        /* in the whole-day fit (0: not a suspect there) */
	double loss_max;          /* highest over the slices and the day */
	double confidence;        /* highest seen */
	uint64_t flows, lossy_flows;
	int64_t first_ms, last_ms; /* first and last slice that named it */
	unsigned slices;          /* slices that named it */
	double slice_loss[FREPORT_SLICES_MAX];
};

struct freport_prober {
	char name[QUERY_NAME_MAX];
	uint64_t batches;
	int64_t first_ms;         /* its first batch's start in the window (0: none) */
	int64_t last_ms, gap_max_ms;
	uint64_t if_errors, if_dropped, spool_dropped;
	uint32_t links_down_max;
	const char *status;       /* "ok", "down", "sick" */
	char reason[160];
};

struct freport_previous {
	int have;
	char path[512];
	int64_t until_ms;
	double loss_ratio;
	char **keys;              /* "kind from to" of its suspects */
	size_t nkeys;
};

struct freport {
	const char *db;
	const char *inventory;    /* NULL: names are addresses */
	int64_t since_ms, until_ms, generated_ms;
	struct fabric_view day;   /* whole window: heatmap, pairs, coverage */
	struct freport_layer *layers;
	size_t nlayers;
	struct freport_slice slices[FREPORT_SLICES_MAX];
	size_t nslices;
	struct freport_suspect *suspects; /* day's fit first, then by loss */
	size_t nsuspects;
	struct freport_prober *probers;
	size_t nprobers;
	struct query_episode *episodes;   /* watch history over the window */
	size_t nepisodes;
	uint64_t rounds;                  /* watch rounds over the window */
	struct freport_previous prev;
	/* path coverage: distinct paths per prober/target pair */
	unsigned paths_min, paths_median, paths_max, pairs_single_path;
};

struct freport_ops {
	const char *name;
	const char *file; /* written in the output directory */
	/* Write the whole report; 0 or -1 (errno). */
	int (*write)(FILE *out, const struct freport *r);
};

extern const struct freport_ops freport_json_ops;

struct inventory;
/* Fill r over [r->since_ms, r->until_ms) of the database r->db (both set by
 * the caller, as are generated_ms, inventory and prev): the whole-window fit,
 * timeline slices of slice_ms (0: the window/24, whole hours past an hour),
 * watch history and prober health (down when silent down_after_ms). Names
 * through inv (may be NULL). Returns 0, or -1 with the reason in err; free r
 * with freport_free either way. */
int freport_gather(struct freport *r, const struct inventory *inv, int64_t slice_ms,
		   int64_t down_after_ms, char *err, size_t errlen);
void freport_free(struct freport *r);
extern const struct freport_ops freport_html_ops;

struct infer_cfg;
/* The settings each of nslices timeline slices is localized with: the
 * defaults, with the false-alarm probability alpha split evenly over the
 * slices (Bonferroni), since a suspect any one slice names is a suspect of
 * the day. */
void freport_slice_cfg_set(struct infer_cfg *cfg, size_t nslices);

/* Stable key of a suspect across reports: "link spine1 leaf2". */
const char *freport_suspect_key(const struct freport_suspect *s, char *buf,
				size_t len);
/* Whether the previous report named the key. */
int freport_previous_has(const struct freport_previous *p, const char *key);
/* Whether a key of the previous report is gone: none of r's suspects has it. */
int freport_key_gone(const struct freport *r, const char *key);
/* Read a previous summary.json (only the fields the comparison needs).
 * Returns 0, or -1 with the reason in err. */
int freport_previous_read(struct freport_previous *p, const char *path,
			  char *err, size_t errlen);
/* The same from text in memory (need not be NUL-terminated); name is used
 * in messages and kept as the path. */
int freport_previous_parse(struct freport_previous *p, const char *text,
			   size_t len, const char *name, char *err, size_t errlen);
void freport_previous_free(struct freport_previous *p);

/* A colour for a loss ratio on the heatmap scale (not the fault colour). */
const char *freport_loss_color(double loss_ratio);

/* Inline SVG pictures for the HTML writer. */
int freport_svg_heatmap_write(FILE *out, const struct freport *r);
int freport_svg_fabric_timeline_write(FILE *out, const struct freport *r);
int freport_svg_suspect_timeline_write(FILE *out, const struct freport *r,
				       const struct freport_suspect *s);

/* Write s with HTML/XML special characters escaped. */
void freport_xml_write(FILE *out, const char *s);

#endif
