/* Suspect lists: growth, ranking and kind names. */
#include "suspect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const suspect_kind_names[] = {
	[SUSPECT_LINK] = "link",
	[SUSPECT_DEVICE] = "device",
	[SUSPECT_BLACKHOLE] = "blackhole",
	[SUSPECT_HOST] = "host",
};

int suspect_list_add(struct suspect_list *l, const struct suspect *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct suspect *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			errno = ENOMEM;
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *s;
	return 0;
}

static int suspect_cmp(const void *pa, const void *pb)
{
	const struct suspect *a = pa, *b = pb;
	int c;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if ((c = strcmp(a->from, b->from)))
		return c;
	return strcmp(a->to, b->to);
}

void suspect_list_sort(struct suspect_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), suspect_cmp);
}

void suspect_list_free(struct suspect_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

const char *suspect_kind_name(enum suspect_kind k)
{
	return (unsigned)k < sizeof(suspect_kind_names) / sizeof(*suspect_kind_names)
		       ? suspect_kind_names[k]
		       : "?";
}

int suspect_kind_parse(const char *s, enum suspect_kind *k)
{
	for (unsigned i = 0; i < sizeof(suspect_kind_names) / sizeof(*suspect_kind_names); i++) {
		if (!strcmp(s, suspect_kind_names[i])) {
			*k = (enum suspect_kind)i;
			return 0;
		}
	}
	return -1;
}
