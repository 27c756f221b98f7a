/* summary.json of the fabric health report (the figures of index.html for
 * programs and for the next night's comparison), and its reader for that
 * comparison. Times are Unix ms, ratios fractions. */
#include "fabric_report.h"
#include "json_out.h"
#include "suspect_json.h"

#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FREPORT_PREVIOUS_MAX (4u << 20) /* a summary is a few kB; refuse more */

const char *freport_suspect_key(const struct freport_suspect *s, char *buf,
				size_t len)
{
	snprintf(buf, len, "%s %s%s%s", suspect_kind_name(s->kind), s->from,
		 s->to[0] ? " " : "", s->to);
	return buf;
}

int freport_previous_has(const struct freport_previous *p, const char *key)
{
	for (size_t i = 0; p->have && i < p->nkeys; i++)
		if (!strcmp(p->keys[i], key))
			return 1;
	return 0;
}

int freport_key_gone(const struct freport *r, const char *key)
{
	char buf[2 * SUSPECT_NAME_MAX + 16];

	for (size_t k = 0; k < r->nsuspects; k++)
		if (!strcmp(key, freport_suspect_key(&r->suspects[k], buf, sizeof(buf))))
			return 0;
	return 1;
}

static void json_suspect_write(FILE *out, const struct freport *r,
			       const struct freport_suspect *s)
{
	char key[2 * SUSPECT_NAME_MAX + 16];

	/* the day fit's suspect (schemas/suspect.md), then the report's own */
	fputc('{', out);
	suspect_json_members_write(out, &s->fit);
	fprintf(out,
		", \"loss_max\": %.6g, \"confidence_max\": %.6g, \"first_ms\": %" PRId64
		", \"last_ms\": %" PRId64 ", \"slices\": %u, \"new\": %s, \"timeline\": [",
		json_num(s->loss_max), json_num(s->confidence), s->first_ms, s->last_ms, s->slices,
		r->prev.have && !freport_previous_has(&r->prev,
						      freport_suspect_key(s, key, sizeof(key)))
			? "true" : "false");
	for (size_t i = 0; i < r->nslices; i++) {
		if (s->slice_loss[i] < 0)
			fprintf(out, "%snull", i ? ", " : "");
		else
			fprintf(out, "%s%.6g", i ? ", " : "", json_num(s->slice_loss[i]));
	}
	fprintf(out, "]}");
}

static int json_write(FILE *out, const struct freport *r)
{
	const struct fabric_view *v = &r->day;
	double loss = v->sent ? (double)v->lost / (double)v->sent : 0;
	char buf[2 * SUSPECT_NAME_MAX + 16];
	size_t down = 0, sick = 0, gone = 0;

	fprintf(out, "{\"version\": %d, \"generated_ms\": %" PRId64 ", \"since_ms\": %" PRId64
		", \"until_ms\": %" PRId64 ", \"db\": ",
		FREPORT_VERSION, r->generated_ms, r->since_ms, r->until_ms);
	json_string_write(out, r->db);
	fprintf(out, ",\n \"fabric\": {\"loss\": %.6g, \"sent\": %llu, \"lost\": %llu, "
		"\"flows\": %llu, \"lossy_flows\": %llu, \"flows_unplaced\": %llu, "
		"\"devices\": %u, \"links\": %u, \"suspects\": %zu},\n",
		json_num(loss), (unsigned long long)v->sent, (unsigned long long)v->lost,
		(unsigned long long)v->flows, (unsigned long long)v->lossy_flows,
		(unsigned long long)v->flows_unplaced, v->m->ndevs, v->m->nlinks, v->sus.n);
	fprintf(out, " \"tiers\": [");
	for (int t = 0; t < v->tiers; t++) {
		unsigned n = 0;

		for (uint32_t d = 0; d < v->m->ndevs; d++)
			n += v->devs[d].tier == t;
		fprintf(out, "%s{\"tier\": %d, \"label\": ", t ? ", " : "", t);
		json_string_write(out, fabric_view_tier_label(v, t, buf, sizeof(buf)));
		fprintf(out, ", \"devices\": %u}", n);
	}
	fprintf(out, "],\n \"layers\": [");
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct freport_layer *y = &r->layers[i];

		json_item_open(out, i, "name", y->name);
		fprintf(out, ", \"lower_tier\": %d, \"links\": %u, \"loss\": %.6g, "
			"\"suspect_links\": %u}",
			y->lower, y->links, json_num(y->loss_ratio), y->suspects);
	}
	fprintf(out, "],\n \"suspects\": [");
	for (size_t i = 0; i < r->nsuspects; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		json_suspect_write(out, r, &r->suspects[i]);
	}
	/* one line, so the next night's reader can take it without a parser */
	fprintf(out, "],\n \"suspect_keys\": [");
	for (size_t i = 0; i < r->nsuspects; i++) {
		fprintf(out, "%s", i ? ", " : "");
		json_string_write(out, freport_suspect_key(&r->suspects[i], buf, sizeof(buf)));
	}
	fprintf(out, "],\n \"slices\": [");
	for (size_t i = 0; i < r->nslices; i++) {
		const struct freport_slice *s = &r->slices[i];

		fprintf(out, "%s\n  {\"start_ms\": %" PRId64 ", \"end_ms\": %" PRId64
			", \"sent\": %llu, \"lost\": %llu, \"loss\": %.6g, \"suspects\": %zu}",
			i ? "," : "", s->start_ms, s->end_ms, (unsigned long long)s->sent,
			(unsigned long long)s->lost,
			s->sent ? (double)s->lost / (double)s->sent : 0, s->nsuspects);
	}
	fprintf(out, "],\n \"worst_pairs\": [");
	for (size_t i = 0; i < v->npairs && i < FREPORT_WORST_PAIRS; i++) {
		const struct fabric_pair *p = &v->pairs[i];

		json_item_open(out, i, "prober", fabric_view_dev_name(v, p->prober));
		json_field_string_write(out, "target", fabric_view_dev_name(v, p->target));
		fprintf(out, ", \"loss\": %.6g, \"sent\": %llu, \"lost\": %llu, \"flows\": %llu, "
			"\"lossy_flows\": %llu, \"paths\": %u}",
			p->sent ? (double)p->lost / (double)p->sent : 0,
			(unsigned long long)p->sent, (unsigned long long)p->lost,
			(unsigned long long)p->flows, (unsigned long long)p->lossy_flows,
			p->paths);
	}
	fprintf(out, "],\n \"coverage\": {\"pairs\": %zu, \"paths_min\": %u, "
		"\"paths_median\": %u, \"paths_max\": %u, \"pairs_single_path\": %u, "
		"\"links\": %u},\n",
		v->npairs, r->paths_min, r->paths_median, r->paths_max,
		r->pairs_single_path, v->m->nlinks);
	fprintf(out, " \"probers\": [");
	for (size_t i = 0; i < r->nprobers; i++) {
		const struct freport_prober *p = &r->probers[i];

		down += !strcmp(p->status, "down");
		sick += !strcmp(p->status, "sick");
		json_item_open(out, i, "name", p->name);
		fprintf(out, ", \"status\": \"%s\", \"reason\": ", p->status);
		json_string_write(out, p->reason);
		fprintf(out, ", \"batches\": %llu, \"last_ms\": %" PRId64
			", \"gap_max_ms\": %" PRId64 ", \"if_errors\": %llu, "
			"\"if_dropped\": %llu, \"spool_dropped\": %llu, \"links_down_max\": %u}",
			(unsigned long long)p->batches, p->last_ms, p->gap_max_ms,
			(unsigned long long)p->if_errors, (unsigned long long)p->if_dropped,
			(unsigned long long)p->spool_dropped, p->links_down_max);
	}
	fprintf(out, "],\n \"probers_down\": %zu, \"probers_sick\": %zu,\n", down, sick);
	fprintf(out, " \"watch\": {\"rounds\": %llu, \"episodes\": [",
		(unsigned long long)r->rounds);
	for (size_t i = 0; i < r->nepisodes; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		query_episode_json_write(out, &r->episodes[i]);
	}
	fprintf(out, "]},\n \"links\": [");
	for (uint32_t l = 0; l < v->m->nlinks; l++) {
		const struct fabric_link *fl = &v->links[l];

		json_item_open(out, l, "from", fabric_view_dev_name(v, fl->from));
		json_field_string_write(out, "to", fabric_view_dev_name(v, fl->to));
		fprintf(out, ", \"loss\": %.6g, \"observed_loss\": %.6g, \"flows\": %llu, "
			"\"lossy_flows\": %llu, \"suspect\": %s}",
			json_num(fl->loss_ratio), fl->sent > 0 ? json_num(fl->lost / fl->sent) : 0,
			(unsigned long long)fl->flows, (unsigned long long)fl->lossy_flows,
			fl->suspect >= 0 ? "true" : "false");
	}
	fprintf(out, "],\n \"previous\": ");
	if (!r->prev.have) {
		fprintf(out, "null}\n");
		return ferror(out) ? -1 : 0;
	}
	fprintf(out, "{\"file\": ");
	json_string_write(out, r->prev.path);
	fprintf(out, ", \"until_ms\": %" PRId64 ", \"loss\": %.6g, \"loss_change\": %.6g, "
		"\"suspects_gone\": [",
		r->prev.until_ms, json_num(r->prev.loss_ratio), json_num(loss - r->prev.loss_ratio));
	for (size_t i = 0; i < r->prev.nkeys; i++) {
		if (!freport_key_gone(r, r->prev.keys[i]))
			continue;
		fprintf(out, "%s", gone++ ? ", " : "");
		json_string_write(out, r->prev.keys[i]);
	}
	fprintf(out, "]}}\n");
	return ferror(out) ? -1 : 0;
}

/* The text after "name": in buf, or NULL. */
static const char *json_field_find(const char *buf, const char *name)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", name);
	p = strstr(buf, pat);
	return p ? p + strlen(pat) : NULL;
}

/* Read one JSON string at p (our writer's escapes only) into a new buffer. */
static char *json_string_read(const char **pp, const char *end)
{
	const char *p = *pp;
	char *s, *o;

	if (p >= end || *p != '"')
		return NULL;
	if (!(s = o = malloc((size_t)(end - p) + 1)))
		return NULL;
	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		*o++ = *p;
	}
	*o = '\0';
	if (p >= end) {
		free(s);
		return NULL;
	}
	*pp = p + 1;
	return s;
}

int freport_previous_parse(struct freport_previous *prev, const char *text,
			   size_t len, const char *name, char *err, size_t errlen)
{
	char *buf;
	const char *p, *end;

	freport_previous_free(prev);
	if (len > FREPORT_PREVIOUS_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes, not a summary", name,
			 FREPORT_PREVIOUS_MAX);
		return -1;
	}
	/* a NUL-terminated copy, so the field search cannot run off the end */
	if (!(buf = malloc(len + 1))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	end = buf + strlen(buf);
	if (!(p = json_field_find(buf, "version")) || atoi(p) != FREPORT_VERSION ||
	    !(p = json_field_find(buf, "fabric")) ||
	    !(p = json_field_find(p, "loss"))) {
		snprintf(err, errlen, "%s: not a faultmesh summary.json v%d", name,
			 FREPORT_VERSION);
		goto err;
	}
	prev->loss_ratio = strtod(p, NULL);
	if (!isfinite(prev->loss_ratio))
		prev->loss_ratio = 0;
	if ((p = json_field_find(buf, "until_ms")))
		prev->until_ms = strtoll(p, NULL, 10);
	if ((p = json_field_find(buf, "suspect_keys")) && *p == '[') {
		const char *stop = memchr(p, ']', (size_t)(end - p));

		if (!stop) {
			snprintf(err, errlen, "%s: unterminated suspect_keys", name);
			goto err;
		}
		for (p++; p < stop;) {
			char *k, **nk;

			while (p < stop && (*p == ' ' || *p == ','))
				p++;
			if (p >= stop)
				break;
			if (!(k = json_string_read(&p, stop))) {
				snprintf(err, errlen, "%s: bad suspect_keys", name);
				goto err;
			}
			if (!(nk = realloc(prev->keys, (prev->nkeys + 1) * sizeof(*nk)))) {
				free(k);
				snprintf(err, errlen, "out of memory");
				goto err;
			}
			prev->keys = nk;
			prev->keys[prev->nkeys++] = k;
		}
	}
	snprintf(prev->path, sizeof(prev->path), "%s", name);
	prev->have = 1;
	free(buf);
	return 0;
err:
	free(buf);
	freport_previous_free(prev);
	return -1;
}

int freport_previous_read(struct freport_previous *prev, const char *path,
			  char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	freport_previous_free(prev);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!(buf = malloc(FREPORT_PREVIOUS_MAX + 1))) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(buf, 1, FREPORT_PREVIOUS_MAX + 1, f);
	fclose(f);
	rc = freport_previous_parse(prev, buf, n, path, err, errlen);
	free(buf);
	return rc;
}

void freport_previous_free(struct freport_previous *p)
{
	for (size_t i = 0; i < p->nkeys; i++)
		free(p->keys[i]);
	free(p->keys);
	memset(p, 0, sizeof(*p));
}

const struct freport_ops freport_json_ops = { "json", "summary.json", json_write };
