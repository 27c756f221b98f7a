/* Observations v2 (and v1): strict line parser (header version, 9 or 8
 * tab-separated columns, ranges) into a flow set with interned names and
 * summed duplicates. */
#include "observations.h"
#include "strtab.h"
#include "textio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct obs_set {
	struct strtab *names;
	struct obs_flow *flows;
	size_t nflows, cap_flows;
	uint32_t *hops;
	size_t nhops, cap_hops;
	uint32_t *slots; /* 5-tuple hash -> flow index + 1 */
	size_t nslots;   /* power of two */
};

struct obs_set *obs_set_new(void)
{
	struct obs_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->names = strtab_new();
	s->nslots = 1024;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	/* never NULL, so a known empty path still has a (zero-length) hop list */
	s->cap_hops = 4096;
	s->hops = malloc(s->cap_hops * sizeof(*s->hops));
	if (!s->names || !s->slots || !s->hops) {
		obs_set_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void obs_set_free(struct obs_set *s)
{
	if (!s)
		return;
	strtab_free(s->names);
	free(s->flows);
	free(s->hops);
	free(s->slots);
	free(s);
}

static uint64_t obs_key_hash(const struct obs_flow *f)
{
	uint64_t h = (uint64_t)f->prober * 0x9E3779B97F4A7C15ull;

	h ^= (uint64_t)f->target + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
	h ^= ((uint64_t)f->proto << 32 | (uint64_t)f->sport << 16 | f->dport) *
	     0xC2B2AE3D27D4EB4Full;
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ull;
	return h ^ (h >> 32);
}

static int obs_key_equal(const struct obs_flow *a, const struct obs_flow *b)
{
	return a->prober == b->prober && a->target == b->target &&
	       a->proto == b->proto && a->sport == b->sport && a->dport == b->dport;
}

static int obs_slots_grow(struct obs_set *s)
{
	size_t n = s->nslots * 2, mask = n - 1;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < s->nflows; i++) {
		size_t j = obs_key_hash(&s->flows[i]) & mask;

		while (slots[j])
			j = (j + 1) & mask;
		slots[j] = (uint32_t)i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

static int obs_hops_reserve(struct obs_set *s, size_t more)
{
	if (s->nhops + more > s->cap_hops) {
		size_t cap = s->cap_hops ? s->cap_hops * 2 : 4096;
		uint32_t *h;

		while (cap < s->nhops + more)
			cap *= 2;
		if (cap > UINT32_MAX || !(h = realloc(s->hops, cap * sizeof(*h))))
			return -1;
		s->hops = h;
		s->cap_hops = cap;
	}
	return 0;
}

/* Add a flow whose names are already interned; hops has nhops ids. */
static int obs_set_flow_add(struct obs_set *s, const struct obs_flow *in,
			    const uint32_t *hops, char *err, size_t errlen)
{
	size_t mask = s->nslots - 1, j = obs_key_hash(in) & mask;
	struct obs_flow *f;

	for (; s->slots[j]; j = (j + 1) & mask) {
		f = &s->flows[s->slots[j] - 1];
		if (!obs_key_equal(f, in))
			continue;
		if (f->sent + in->sent < f->sent) {
			snprintf(err, errlen, "probe counts overflow");
			return -1;
		}
		f->sent += in->sent;
		f->lost += in->lost;
		f->lost_rev += in->lost_rev;
		f->lost_dark += in->lost_dark;
		if (f->nhops == OBS_PATH_UNKNOWN && in->nhops != OBS_PATH_UNKNOWN) {
			if (obs_hops_reserve(s, in->nhops) < 0)
				goto nomem;
			f = &s->flows[s->slots[j] - 1];
			f->hop_first = (uint32_t)s->nhops;
			f->nhops = in->nhops;
			memcpy(s->hops + s->nhops, hops, in->nhops * sizeof(*hops));
			s->nhops += in->nhops;
		}
		return 0;
	}
	if (s->nflows == s->cap_flows) {
		size_t cap = s->cap_flows ? s->cap_flows * 2 : 1024;
		struct obs_flow *nf;

		if (cap >= UINT32_MAX || !(nf = realloc(s->flows, cap * sizeof(*nf))))
			goto nomem;
		s->flows = nf;
		s->cap_flows = cap;
	}
	if (in->nhops != OBS_PATH_UNKNOWN && obs_hops_reserve(s, in->nhops) < 0)
		goto nomem;
	f = &s->flows[s->nflows];
	*f = *in;
	f->hop_first = (uint32_t)s->nhops;
	if (in->nhops != OBS_PATH_UNKNOWN) {
		memcpy(s->hops + s->nhops, hops, in->nhops * sizeof(*hops));
		s->nhops += in->nhops;
	}
	s->slots[j] = (uint32_t)++s->nflows;
	if (s->nflows * 2 > s->nslots && obs_slots_grow(s) < 0)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return -1;
}

static int obs_name_intern(struct obs_set *s, const char *p, size_t len,
			   uint32_t *id, char *err, size_t errlen)
{
	int64_t v = strtab_intern(s->names, p, len);

	if (v < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

int obs_set_row_add(struct obs_set *s, const struct obs_row *row, char *err,
		    size_t errlen)
{
	uint32_t hops[OBS_HOPS_MAX];
	struct obs_flow f = { 0 };

	if (!row->prober || !row->target || !*row->prober || !*row->target) {
		snprintf(err, errlen, "empty prober or target");
		return -1;
	}
	if (row->proto != OBS_PROTO_UDP && row->proto != OBS_PROTO_TCP) {
		snprintf(err, errlen, "protocol %d is neither udp nor tcp", row->proto);
		return -1;
	}
	if (row->sport > 65535 || row->dport > 65535 || row->lost > row->sent ||
	    row->lost_rev > row->sent - row->lost || row->lost_dark > row->lost) {
		snprintf(err, errlen, "port out of range, lost > sent, lost_rev > received or dark > lost");
		return -1;
	}
	if (row->nhops > OBS_HOPS_MAX) {
		snprintf(err, errlen, "path longer than %d hops", OBS_HOPS_MAX);
		return -1;
	}
	if (obs_name_intern(s, row->prober, strlen(row->prober), &f.prober, err, errlen) ||
	    obs_name_intern(s, row->target, strlen(row->target), &f.target, err, errlen))
		return -1;
	for (int i = 0; i < row->nhops; i++) {
		const char *h = row->hops[i];

		if (!h || !strcmp(h, "*"))
			hops[i] = OBS_HOP_STAR;
		else if (!*h) {
			snprintf(err, errlen, "empty hop %d", i + 1);
			return -1;
		} else if (obs_name_intern(s, h, strlen(h), &hops[i], err, errlen))
			return -1;
	}
	f.proto = (uint8_t)row->proto;
	f.sport = (uint16_t)row->sport;
	f.dport = (uint16_t)row->dport;
	f.sent = row->sent;
	f.lost = row->lost;
	f.lost_rev = row->lost_rev;
	f.lost_dark = row->lost_dark;
	f.nhops = row->nhops < 0 ? OBS_PATH_UNKNOWN : (uint32_t)row->nhops;
	return obs_set_flow_add(s, &f, hops, err, errlen);
}

/* Unsigned decimal without sign or spaces, at most max. */
static int obs_uint_parse(const char *p, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!len || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)p[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (x > max)
		return -1;
	*v = x;
	return 0;
}

/* A name: non-empty, no spaces or control characters. */
static int obs_name_valid(const char *p, size_t len)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == ',' || p[i] == 0x7f)
			return 0;
	return 1;
}

/* The header's version (1 or 2), or -1 with the reason in why. */
static int obs_header_check(const char *line, size_t len, const char **why)
{
	static const char prefix[] = "# faultmesh observations v";
	size_t pl = sizeof(prefix) - 1;

	if (len == sizeof(OBS_HEADER) - 1 && !memcmp(line, OBS_HEADER, len))
		return OBS_VERSION;
	if (len == sizeof(OBS_HEADER_V1) - 1 && !memcmp(line, OBS_HEADER_V1, len))
		return 1;
	*why = len > pl && !memcmp(line, prefix, pl)
		       ? "unsupported observations version (want v1 or v2)"
		       : "missing header '" OBS_HEADER "'";
	return -1;
}

/* One flow line of a file of version vers: v1 has no lost_rev column. */
static int obs_line_parse(struct obs_set *s, const char *line, size_t len, int vers,
			  char *why, size_t whylen)
{
	size_t ncol = vers == 1 ? 8 : 9, pc = ncol - 1;
	const char *fl[10];
	size_t ln[10], nf = textio_fields_split(line, len, fl, ln, ncol);
	uint32_t hops[OBS_HOPS_MAX];
	struct obs_flow f = { 0 };
	uint64_t v;

	if (nf != ncol) {
		snprintf(why, whylen, "expected %zu tab-separated columns, got %s%zu", ncol,
			 nf > ncol ? "more than " : "", nf > ncol ? ncol : nf);
		return -1;
	}
	if (!obs_name_valid(fl[0], ln[0]) || !obs_name_valid(fl[1], ln[1])) {
		snprintf(why, whylen, "bad prober or target name");
		return -1;
	}
	if (ln[2] == 3 && !memcmp(fl[2], "udp", 3))
		f.proto = OBS_PROTO_UDP;
	else if (ln[2] == 3 && !memcmp(fl[2], "tcp", 3))
		f.proto = OBS_PROTO_TCP;
	else {
		snprintf(why, whylen, "protocol must be udp or tcp");
		return -1;
	}
	if (obs_uint_parse(fl[3], ln[3], 65535, &v) < 0) {
		snprintf(why, whylen, "bad source port");
		return -1;
	}
	f.sport = (uint16_t)v;
	if (obs_uint_parse(fl[4], ln[4], 65535, &v) < 0) {
		snprintf(why, whylen, "bad destination port");
		return -1;
	}
	f.dport = (uint16_t)v;
	if (obs_uint_parse(fl[5], ln[5], UINT64_MAX / 2, &f.sent) < 0 ||
	    obs_uint_parse(fl[6], ln[6], UINT64_MAX / 2, &f.lost) < 0) {
		snprintf(why, whylen, "bad sent or lost count");
		return -1;
	}
	if (f.lost > f.sent) {
		snprintf(why, whylen, "lost %llu exceeds sent %llu",
			 (unsigned long long)f.lost, (unsigned long long)f.sent);
		return -1;
	}
	if (vers > 1 && (obs_uint_parse(fl[7], ln[7], UINT64_MAX / 2, &f.lost_rev) < 0 ||
			 f.lost_rev > f.sent - f.lost)) {
		snprintf(why, whylen, "bad lost_rev count (more than sent less lost)");
		return -1;
	}
	if (obs_name_intern(s, fl[0], ln[0], &f.prober, why, whylen) ||
	    obs_name_intern(s, fl[1], ln[1], &f.target, why, whylen))
		return -1;
	if (ln[pc] == 1 && fl[pc][0] == '-') {
		f.nhops = OBS_PATH_UNKNOWN;
	} else if (ln[pc] == 0) {
		f.nhops = 0; /* prober and target share a switch-less wire */
	} else {
		const char *p = fl[pc], *end = fl[pc] + ln[pc];

		f.nhops = 0;
		for (;;) {
			const char *c = memchr(p, ',', (size_t)(end - p));
			size_t hl = c ? (size_t)(c - p) : (size_t)(end - p);

			if (f.nhops == OBS_HOPS_MAX) {
				snprintf(why, whylen, "path longer than %d hops",
					 OBS_HOPS_MAX);
				return -1;
			}
			if (hl == 1 && *p == '*')
				hops[f.nhops++] = OBS_HOP_STAR;
			else if (!obs_name_valid(p, hl)) {
				snprintf(why, whylen, "bad hop %u in path", f.nhops + 1);
				return -1;
			} else if (obs_name_intern(s, p, hl, &hops[f.nhops++], why, whylen))
				return -1;
			if (!c)
				break;
			p = c + 1;
		}
	}
	return obs_set_flow_add(s, &f, hops, why, whylen);
}

int obs_set_parse(struct obs_set *s, const char *buf, size_t len,
		  const char *name, char *err, size_t errlen)
{
	size_t pos = 0, lineno = 0;
	const char *line;
	size_t ll;
	int vers = 0; /* 0 until the header */

	while (textio_line_next(buf, len, &pos, &line, &ll)) {
		char why[160];

		lineno++;
		if (!ll)
			continue;
		if (!vers) {
			const char *w;

			if ((vers = obs_header_check(line, ll, &w)) < 0) {
				snprintf(err, errlen, "%s:%zu: %s", name, lineno, w);
				return -1;
			}
			continue;
		}
		if (line[0] == '#')
			continue;
		if (obs_line_parse(s, line, ll, vers, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
			return -1;
		}
	}
	if (!vers) {
		snprintf(err, errlen, "%s: empty file, missing header '%s'", name,
			 OBS_HEADER);
		return -1;
	}
	return 0;
}

static int obs_set_parse_cb(void *s, const char *buf, size_t len,
			    const char *name, char *err, size_t errlen)
{
	return obs_set_parse(s, buf, len, name, err, errlen);
}

int obs_set_file_read(struct obs_set *s, const char *path, char *err,
		      size_t errlen)
{
	return textio_file_parse(path, obs_set_parse_cb, s, err, errlen);
}

size_t obs_set_flow_count(const struct obs_set *s)
{
	return s->nflows;
}

const struct obs_flow *obs_set_flow(const struct obs_set *s, size_t i)
{
	return i < s->nflows ? &s->flows[i] : NULL;
}

const uint32_t *obs_set_flow_hops(const struct obs_set *s, const struct obs_flow *f)
{
	return f->nhops == OBS_PATH_UNKNOWN ? NULL : s->hops + f->hop_first;
}

uint32_t obs_set_name_count(const struct obs_set *s)
{
	return strtab_count(s->names);
}

const char *obs_set_name(const struct obs_set *s, uint32_t id)
{
	return strtab_str(s->names, id);
}

int obs_header_write(FILE *out)
{
	return fprintf(out, "%s\n", OBS_HEADER) < 0 ? -1 : 0;
}

int obs_row_write(FILE *out, const struct obs_row *r)
{
	if (fprintf(out, "%s\t%s\t%s\t%u\t%u\t%llu\t%llu\t%llu\t", r->prober, r->target,
		    r->proto == OBS_PROTO_TCP ? "tcp" : "udp", r->sport, r->dport,
		    (unsigned long long)r->sent, (unsigned long long)r->lost,
		    (unsigned long long)r->lost_rev) < 0)
		return -1;
	if (r->nhops < 0)
		return fputs("-\n", out) < 0 ? -1 : 0;
	for (int i = 0; i < r->nhops; i++) {
		const char *h = r->hops[i] ? r->hops[i] : "*";

		if (fprintf(out, "%s%s", i ? "," : "", h) < 0)
			return -1;
	}
	/* A path with no routers (same switch) is written as an empty column. */
	return fputc('\n', out) == EOF ? -1 : 0;
}
