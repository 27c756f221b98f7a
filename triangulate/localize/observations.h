/* Observations exchange format v2 (schemas/observations.md; v1 still read): an in-memory set
 * of flows with interned names, its parser and its writer. Duplicate 5-tuples
 * are summed; the inference reads a set, whatever filled it (file or store). */
#ifndef FM_OBSERVATIONS_H
#define FM_OBSERVATIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define OBS_VERSION 2
#define OBS_HEADER "# faultmesh observations v2"
#define OBS_HEADER_V1 "# faultmesh observations v1" /* no lost_rev column */
#define OBS_HOPS_MAX 64             /* longer paths are rejected */
#define OBS_PATH_UNKNOWN UINT32_MAX /* obs_flow.nhops of a "-" path */
#define OBS_HOP_STAR UINT32_MAX     /* a hop id for "*" (no answer) */

enum obs_proto { OBS_PROTO_UDP = 17, OBS_PROTO_TCP = 6 };

/* One flow; names are ids in the set's string table. */
struct obs_flow {
	uint32_t prober, target;
	uint8_t proto; /* enum obs_proto */
	uint16_t sport, dport;
	uint64_t sent, lost; /* lost <= sent, forward direction */
	uint64_t lost_rev;   /* replies lost on the way back, lost + lost_rev <= sent */
	uint32_t hop_first;  /* index into the set's hop array */
	uint32_t nhops;      /* OBS_PATH_UNKNOWN when the path is "-" */
	uint64_t lost_dark;  /* of lost, probes of intervals half or more unanswered */
};

/* A flow as text, to add from any source (e.g. the collector's store). */
struct obs_row {
	const char *prober, *target;
	int proto; /* enum obs_proto */
	unsigned sport, dport;
	uint64_t sent, lost;
	int nhops;                /* -1: path unknown */
	const char *const *hops;  /* nhops entries; NULL or "*" = no answer */
	uint64_t lost_rev;        /* replies lost, lost + lost_rev <= sent */
	/* of lost, the probes of the window's intervals half or more
	 * unanswered (the flow went dark); 0 when not known (files carry no intervals) */
	uint64_t lost_dark;
};

struct obs_set;

/* Returns an empty set, or NULL with errno ENOMEM. */
struct obs_set *obs_set_new(void);
void obs_set_free(struct obs_set *s);

/* Add one flow (summed into an existing one with the same 5-tuple; a known
 * path replaces an unknown one, otherwise the first path is kept). Returns 0,
 * or -1 with the reason in err (bad counts, too many hops, out of memory). */
int obs_set_row_add(struct obs_set *s, const struct obs_row *row, char *err,
		    size_t errlen);

/* Parse a whole v2 (or v1) text (buf need not be NUL-terminated) into s; name is used
 * in messages. Returns 0, or -1 with "NAME:LINE: reason" in err; on error s
 * may hold the flows of earlier lines. */
int obs_set_parse(struct obs_set *s, const char *buf, size_t len,
		  const char *name, char *err, size_t errlen);

/* Read and parse a file. Returns 0 or -1 with "PATH[:LINE]: reason" in err. */
int obs_set_file_read(struct obs_set *s, const char *path, char *err,
		      size_t errlen);

size_t obs_set_flow_count(const struct obs_set *s);
const struct obs_flow *obs_set_flow(const struct obs_set *s, size_t i);
/* The hop ids of a flow (OBS_HOP_STAR for "*"); NULL for an unknown path. */
const uint32_t *obs_set_flow_hops(const struct obs_set *s, const struct obs_flow *f);
/* Number of interned names and the text of one (valid until the next add). */
uint32_t obs_set_name_count(const struct obs_set *s);
const char *obs_set_name(const struct obs_set *s, uint32_t id);

/* Writers: the header line, and one flow line. Return 0 or -1 (errno). */
int obs_header_write(FILE *out);
int obs_row_write(FILE *out, const struct obs_row *row);

#endif
