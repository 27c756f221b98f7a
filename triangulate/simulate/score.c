/* Truth-file parsing and precision / recall / top-1 scoring for the bench. */
#include "score.h"
#include "sim.h"
#include "textio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int truth_parse(struct truth *t, const char *buf, size_t len, const char *name,
		char *err, size_t errlen)
{
	size_t pos = 0, lineno = 0, ll, cap = 0;
	const char *line;
	int seen = 0, v2 = 0;

	memset(t, 0, sizeof(*t));
	while (textio_line_next(buf, len, &pos, &line, &ll)) {
		const char *f[5];
		size_t fl[5], nf;
		struct truth_item it = { 0 };
		int link;

		lineno++;
		if (!ll)
			continue;
		if (!seen) {
			v2 = ll == strlen(SIM_TRUTH_HEADER) && !memcmp(line, SIM_TRUTH_HEADER, ll);
			if (!v2 && (ll != strlen(SIM_TRUTH_HEADER_V1) ||
				    memcmp(line, SIM_TRUTH_HEADER_V1, ll))) {
				snprintf(err, errlen, "%s:%zu: missing header '%s'", name,
					 lineno, SIM_TRUTH_HEADER);
				goto err;
			}
			seen = 1;
			continue;
		}
		if (line[0] == '#')
			continue;
		nf = textio_fields_split(line, ll, f, fl, 5);
		if (nf < 3 + (size_t)v2 || nf > 4 + (size_t)v2 || fl[0] >= 16)
			goto bad;
		{
			char kind[16];

			memcpy(kind, f[0], fl[0]);
			kind[fl[0]] = '\0';
			if (suspect_kind_parse(kind, &it.kind) < 0)
				goto bad;
		}
		link = it.kind == SUSPECT_LINK || it.kind == SUSPECT_BLACKHOLE;
		if (nf != (size_t)(link ? 4 : 3) + (size_t)v2 || fl[1] >= SUSPECT_NAME_MAX ||
		    (v2 && (fl[nf - 1] != 1 || (f[nf - 1][0] != '0' && f[nf - 1][0] != '1'))) ||
		    (link && fl[2] >= SUSPECT_NAME_MAX))
			goto bad;
		memcpy(it.a, f[1], fl[1]);
		if (link)
			memcpy(it.b, f[2], fl[2]);
		it.loss = strtod(f[nf - 1 - v2], NULL);
		it.shown = v2 ? f[nf - 1][0] == '1' : 1;
		if (t->n == cap) {
			struct truth_item *v;

			cap = cap ? cap * 2 : 16;
			if (!(v = realloc(t->v, cap * sizeof(*v)))) {
				snprintf(err, errlen, "out of memory");
				goto err;
			}
			t->v = v;
		}
		t->v[t->n++] = it;
		continue;
bad:
		snprintf(err, errlen, "%s:%zu: expected KIND<TAB>NAME[<TAB>NAME]<TAB>LOSS%s",
			 name, lineno, v2 ? "<TAB>SHOWN (0 or 1)" : "");
		goto err;
	}
	if (!seen) {
		snprintf(err, errlen, "%s: empty file, missing header", name);
		goto err;
	}
	return 0;
err:
	truth_free(t);
	return -1;
}

static int truth_parse_cb(void *t, const char *buf, size_t len,
			  const char *name, char *err, size_t errlen)
{
	return truth_parse(t, buf, len, name, err, errlen);
}

int truth_file_read(struct truth *t, const char *path, char *err, size_t errlen)
{
	return textio_file_parse(path, truth_parse_cb, t, err, errlen);
}

void truth_free(struct truth *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int is_link(enum suspect_kind k)
{
	return k == SUSPECT_LINK || k == SUSPECT_BLACKHOLE;
}

int score_suspect_matches(const struct suspect *s, const struct truth_item *t)
{
	if (is_link(s->kind)) {
		/* an ambiguous suspect names a fault on either of its links */
		if (is_link(t->kind))
			return (!strcmp(s->from, t->a) && !strcmp(s->to, t->b)) ||
			       (s->also_from[0] && !strcmp(s->also_from, t->a) &&
				!strcmp(s->also_to, t->b));
		return !strcmp(s->from, t->a) || !strcmp(s->to, t->a) ||
		       (s->also_from[0] &&
			(!strcmp(s->also_from, t->a) || !strcmp(s->also_to, t->a)));
	}
	/* a device or host ambiguous with another element names either: a
	 * device or host, or a link (and, as a link suspect does, its ends) */
	if (s->also_from[0] && s->also_to[0] && is_link(t->kind) &&
	    !strcmp(s->also_from, t->a) && !strcmp(s->also_to, t->b))
		return 1;
	if (s->also_from[0] && !is_link(t->kind) &&
	    (!strcmp(s->also_from, t->a) || (s->also_to[0] && !strcmp(s->also_to, t->a))))
		return 1;
	return s->kind == t->kind && !strcmp(s->from, t->a);
}

void score_compute(const struct truth *t, const struct suspect_list *l,
		   struct score *out)
{
	memset(out, 0, sizeof(*out));
	out->suspects = l->n;
	out->faults = t->n;
	for (size_t i = 0; i < l->n; i++) {
		for (size_t j = 0; j < t->n; j++) {
			if (score_suspect_matches(&l->v[i], &t->v[j])) {
				out->correct++;
				if (i == 0)
					out->top1 = 1;
				break;
			}
		}
	}
	for (size_t j = 0; j < t->n; j++) {
		out->oracle_faults += t->v[j].shown;
		for (size_t i = 0; i < l->n; i++) {
			if (score_suspect_matches(&l->v[i], &t->v[j])) {
				out->found++;
				out->oracle_found += t->v[j].shown;
				break;
			}
		}
	}
	out->precision = l->n ? (double)out->correct / (double)l->n : 1;
	out->recall = t->n ? (double)out->found / (double)t->n : 1;
	out->oracle_recall = out->oracle_faults ?
				     (double)out->oracle_found / (double)out->oracle_faults : 1;
}
