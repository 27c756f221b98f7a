/* Plan file parser for the collector: every line checked (four tab-separated
 * fields, a valid address, 1-256 flows) so a damaged plan is refused at start
 * with file:line rather than served to probers. */
#include "plan_targets.h"
#include "wire.h"
#include "textio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_FLOWS_MAX 256

struct plan_entry {
	char prober[WIRE_NAME_MAX];
	char addr[64]; /* canonical text of the target address */
	unsigned flows;
	size_t order;  /* line order, kept within a prober */
};

struct plan_targets {
	struct plan_entry *e; /* sorted by prober, then line order */
	size_t n, cap;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct plan_entry *x = a, *y = b;
	int c = strcmp(x->prober, y->prober);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* One entry line into e; 0, or -1 with a reason in why. */
static int plan_line_parse(const char *line, size_t len, struct plan_entry *e,
			   char *why, size_t whylen)
{
	const char *f[5];
	size_t fl[5], i;
	char buf[64], *end;
	struct wire_addr a;
	unsigned long flows;

	if (textio_fields_split(line, len, f, fl, 4) != 4) {
		snprintf(why, whylen,
			 "expected PROBER<TAB>TARGET<TAB>TARGET_ADDRESS<TAB>FLOWS");
		return -1;
	}
	if (fl[0] == 0 || fl[0] >= WIRE_NAME_MAX) {
		snprintf(why, whylen, "prober name must be 1-%d characters",
			 WIRE_NAME_MAX - 1);
		return -1;
	}
	for (i = 0; i < fl[0]; i++) {
		char c = f[0][i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-')) {
			snprintf(why, whylen, "bad character in prober name");
			return -1;
		}
	}
	memcpy(e->prober, f[0], fl[0]);
	e->prober[fl[0]] = '\0';
	if (fl[2] == 0 || fl[2] >= sizeof(buf)) {
		snprintf(why, whylen, "bad target address");
		return -1;
	}
	memcpy(buf, f[2], fl[2]);
	buf[fl[2]] = '\0';
	if (wire_addr_parse(buf, &a) < 0) {
		snprintf(why, whylen, "bad target address '%s'", buf);
		return -1;
	}
	wire_addr_str(&a, e->addr, sizeof(e->addr));
	if (fl[3] == 0 || fl[3] >= sizeof(buf)) {
		snprintf(why, whylen, "bad flow count");
		return -1;
	}
	memcpy(buf, f[3], fl[3]);
	buf[fl[3]] = '\0';
	errno = 0;
	flows = strtoul(buf, &end, 10);
	if (errno || *end || buf[0] < '0' || buf[0] > '9' || flows < 1 ||
	    flows > PLAN_FLOWS_MAX) {
		snprintf(why, whylen, "flow count '%s' not in 1-%d", buf,
			 PLAN_FLOWS_MAX);
		return -1;
	}
	e->flows = (unsigned)flows;
	return 0;
}

struct plan_targets *plan_targets_parse(const char *text, size_t len,
					const char *name, char *err,
					size_t errlen)
{
	struct plan_targets *p = calloc(1, sizeof(*p));
	size_t pos = 0, lineno = 0, ll;
	const char *line;
	int header = 0;
	char why[160];

	if (!p) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	while (textio_line_next(text, len, &pos, &line, &ll)) {
		lineno++;
		if (ll == 0)
			continue;
		if (!header) {
			if (ll != strlen(PLAN_TARGETS_HEADER) ||
			    memcmp(line, PLAN_TARGETS_HEADER, ll) != 0) {
				snprintf(err, errlen,
					 "%s:%zu: unknown version or not a plan (expected '%s')",
					 name, lineno, PLAN_TARGETS_HEADER);
				goto err;
			}
			header = 1;
			continue;
		}
		if (line[0] == '#')
			continue;
		if (p->n == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 64;
			struct plan_entry *ne = realloc(p->e, cap * sizeof(*ne));

			if (!ne) {
				snprintf(err, errlen, "%s: out of memory", name);
				goto err;
			}
			p->e = ne;
			p->cap = cap;
		}
		if (plan_line_parse(line, ll, &p->e[p->n], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
			goto err;
		}
		p->e[p->n].order = p->n;
		p->n++;
	}
	if (!header) {
		snprintf(err, errlen, "%s: empty, expected '%s'", name,
			 PLAN_TARGETS_HEADER);
		goto err;
	}
	if (p->n)
		qsort(p->e, p->n, sizeof(*p->e), entry_cmp);
	return p;
err:
	plan_targets_free(p);
	return NULL;
}

/* textio_parse_cb: the plan lands in *(struct plan_targets **)out */
static int plan_targets_parse_cb(void *out, const char *buf, size_t len,
				 const char *name, char *err, size_t errlen)
{
	struct plan_targets **p = out;

	*p = plan_targets_parse(buf, len, name, err, errlen);
	return *p ? 0 : -1;
}

struct plan_targets *plan_targets_load(const char *path, char *err,
				       size_t errlen)
{
	struct plan_targets *p = NULL;

	textio_file_parse(path, plan_targets_parse_cb, &p, err, errlen);
	return p;
}

void plan_targets_free(struct plan_targets *p)
{
	if (!p)
		return;
	free(p->e);
	free(p);
}

size_t plan_targets_count(const struct plan_targets *p)
{
	return p->n;
}

int plan_targets_text(const struct plan_targets *p, const char *prober,
		      char **text, size_t *len)
{
	static const char hdr[] = "# faultmesh targets v1\n";
	size_t lo = 0, hi = p->n, i, cap, off;
	char *t;

	/* first entry of this prober (entries are sorted by prober) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(p->e[mid].prober, prober) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	cap = sizeof(hdr);
	for (i = lo; i < p->n && strcmp(p->e[i].prober, prober) == 0; i++)
		cap += strlen(p->e[i].addr) + sizeof(" flows=256\n");
	t = malloc(cap);
	if (!t)
		return -1;
	off = (size_t)snprintf(t, cap, "%s", hdr);
	for (i = lo; i < p->n && strcmp(p->e[i].prober, prober) == 0; i++)
		off += (size_t)snprintf(t + off, cap - off, "%s flows=%u\n",
					p->e[i].addr, p->e[i].flows);
	*text = t;
	*len = off;
	return 0;
}
