/* The one suspect JSON shape (schemas/suspect.md), tested at its writer and
 * at each place that prints suspects: localize --json, the watch's hook and
 * Alertmanager bodies, and the report's summary. */
#include "alert_sink.h"
#include "json_out.h"
#include "output.h"
#include "suspect_json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct suspect t_link = { .kind = SUSPECT_LINK, .from = "spine1", .to = "leaf2",
				       .loss_ratio = 0.5, .loss_lo = 0.25, .loss_hi = 0.75,
				       .confidence = 0.99, .score = 12, .flows = 3,
				       .lossy_flows = 2, .probers = 1 };
static const struct suspect t_host = { .kind = SUSPECT_HOST, .from = "h\"1", .to = "",
				       .loss_ratio = 0.1, .flows = 8, .lossy_flows = 8,
				       .probers = 4 };

/* One suspect through the writer (malloc'd text). */
static char *t_json(const struct suspect *s)
{
	char *buf;
	size_t n;
	FILE *f = open_memstream(&buf, &n);

	cr_assert_eq(suspect_json_write(f, s), 0);
	fclose(f);
	return buf;
}

Test(suspect_json, link_has_from_to_name_and_every_figure)
{
	char *buf = t_json(&t_link);

	cr_assert_str_eq(buf,
			 "{\"kind\": \"link\", \"from\": \"spine1\", \"to\": \"leaf2\", "
			 "\"name\": \"spine1 -> leaf2\", \"loss\": 0.5, \"loss_lo\": 0.25, "
			 "\"loss_hi\": 0.75, \"confidence\": 0.99, \"score\": 12, \"flows\": 3, "
			 "\"lossy_flows\": 2, \"probers\": 1}");
	free(buf);
}

Test(suspect_json, host_and_device_are_from_with_to_null_never_their_own_key)
{
	struct suspect d = t_host;
	char *buf;
	size_t n;
	FILE *f = open_memstream(&buf, &n);

	cr_assert_eq(suspect_json_write(f, &t_host), 0);
	d.kind = SUSPECT_DEVICE;
	fputc('\n', f);
	cr_assert_eq(suspect_json_write(f, &d), 0);
	fclose(f);
	cr_assert(strstr(buf, "{\"kind\": \"host\", \"from\": \"h\\\"1\", \"to\": null, "
			      "\"name\": \"h\\\"1\", "), "%s", buf);
	cr_assert(strstr(buf, "{\"kind\": \"device\", \"from\": \"h\\\"1\", \"to\": null, "),
		  "%s", buf);
	cr_assert(strstr(buf, "\"host\":") == NULL && strstr(buf, "\"device\":") == NULL, "%s",
		  buf);
	free(buf);
}

/* Every printer of suspects carries the same members for the same suspect. */
Test(suspect_json, localize_hook_and_alert_bodies_share_the_shape)
{
	struct suspect_list l = { 0 };
	struct alert a = { 0 };
	struct alert_sink_env env = { .db_path = "/tmp/fm.db", .resend_ms = 60000 };
	char *one, *whole, *loc, *hook, *am;
	size_t n;
	FILE *f;

	a.s = t_host;
	a.starts_ms = 1800000000000LL;
	a.last_seen_ms = a.starts_ms + 20000;
	a.window_ms = 30000;
	f = open_memstream(&one, &n);
	suspect_json_members_write(f, &t_host);
	fclose(f);
	cr_assert_eq(suspect_list_add(&l, &t_host), 0);
	f = open_memstream(&loc, &n);
	cr_assert_eq(output_json_ops.write(f, &l), 0);
	fclose(f);
	f = open_memstream(&hook, &n);
	cr_assert_eq(alert_json_write(f, &env, ALERT_FIRE, &a), 0);
	fclose(f);
	f = open_memstream(&am, &n);
	cr_assert_eq(alert_am_body_write(f, &env, ALERT_FIRE, &a, a.last_seen_ms), 0);
	fclose(f);
	cr_assert(strstr(loc, "{\"version\": 1, \"suspects\": ["), "%s", loc);
	cr_assert(strstr(loc, one), "localize: %s\nwant %s", loc, one);
	cr_assert(strstr(hook, one), "hook: %s\nwant %s", hook, one);
	/* Alertmanager annotations are strings: the object rides as JSON text */
	f = open_memstream(&whole, &n);
	suspect_json_write(f, &t_host);
	fclose(f);
	{
		char *esc;
		FILE *g = open_memstream(&esc, &n);

		json_string_write(g, whole);
		fclose(g);
		cr_assert(strstr(am, esc), "alertmanager: %s\nwant %s", am, esc);
		free(esc);
	}
	suspect_list_free(&l);
	free(whole);
	free(one);
	free(loc);
	free(hook);
	free(am);
}

Test(suspect_json, ambiguous_link_names_both_and_its_rival)
{
	struct suspect s = t_link;
	char *buf;

	snprintf(s.also_from, sizeof(s.also_from), "leaf2");
	snprintf(s.also_to, sizeof(s.also_to), "h3");
	buf = t_json(&s);
	cr_assert(strstr(buf, "\"name\": \"spine1 -> leaf2 | leaf2 -> h3\", "
			      "\"ambiguous_with\": {\"from\": \"leaf2\", \"to\": \"h3\"}, "
			      "\"loss\": 0.5"), "%s", buf);
	free(buf);
}

/* A link and a device on the same flows: the device is the other element,
 * "to" null, and the name joins the two whichever comes first. */
Test(suspect_json, ambiguous_link_and_device_name_each_other)
{
	struct suspect s = t_link, d = t_host;
	char where[SUSPECT_WHERE_MAX], *buf;

	snprintf(s.also_from, sizeof(s.also_from), "leaf2");
	buf = t_json(&s);
	cr_assert(strstr(buf, "\"name\": \"spine1 -> leaf2 | leaf2\", "
			      "\"ambiguous_with\": {\"from\": \"leaf2\", \"to\": null}, "),
		  "%s", buf);
	free(buf);
	d.kind = SUSPECT_DEVICE;
	snprintf(d.from, sizeof(d.from), "leaf2");
	snprintf(d.also_from, sizeof(d.also_from), "spine1");
	snprintf(d.also_to, sizeof(d.also_to), "leaf2");
	buf = t_json(&d);
	cr_assert(strstr(buf, "\"name\": \"leaf2 | spine1 -> leaf2\", "
			      "\"ambiguous_with\": {\"from\": \"spine1\", \"to\": \"leaf2\"}, "),
		  "%s", buf);
	free(buf);
	cr_assert_str_eq(suspect_where_format(where, sizeof(where), &d), "leaf2 | spine1 -> leaf2");
}
