/* Targets file parsing: header check, one target per line, key=value
 * options, names resolved once at load (schemas/targets.md). */
#include "targets.h"
#include "probe.h"
#include "textio.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define TARGETS_HEADER "# faultmesh targets v1"

static int target_resolve(const char *host, int numeric_only, struct target_spec *t)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = numeric_only ? AI_NUMERICHOST : 0 };
	struct addrinfo *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc)
		return rc;
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

static int target_opt_set(struct target_spec *t, const char *key, const char *val,
			  char *why, size_t whylen)
{
	char *end;
	double d;

	if (strcmp(key, "proto") == 0) {
		t->kind = probe_kind_find(val);
		if (!t->kind) {
			char kinds[128];

			probe_kind_names(kinds, sizeof(kinds));
			snprintf(why, whylen, "unknown proto '%s' (%s)", val, kinds);
			return -1;
		}
		return 0;
	}
	errno = 0;
	d = strtod(val, &end);
	if (errno || end == val || *end) {
		snprintf(why, whylen, "%s: '%s' is not a number", key, val);
		return -1;
	}
	if (strcmp(key, "flows") == 0 && d >= 1 && d <= TARGETS_FLOWS_MAX && d == (unsigned)d) {
		t->flows = (unsigned)d;
		t->flows_auto = 0;
	}
	else if (strcmp(key, "rate") == 0 && d >= 0.01 && d <= 100000)
		t->rate_pps = d;
	else if (strcmp(key, "dscp") == 0 && d >= 0 && d <= 63 && d == (unsigned)d)
		t->dscp = (uint8_t)d;
	else if (strcmp(key, "port") == 0 && d >= 1 && d <= 65535 && d == (unsigned)d)
		t->port = (uint16_t)d;
	else {
		snprintf(why, whylen, "bad key or value out of range: %s=%s", key, val);
		return -1;
	}
	return 0;
}

/* One line: "host [key=value]...", words split at blanks. */
static int target_line_parse(char *line, const struct targets_defaults *def,
			     struct target_spec *t, char *why, size_t whylen)
{
	char *save = NULL;
	char *host = strtok_r(line, " \t", &save);
	char *w;
	int rc;

	memset(t, 0, sizeof(*t));
	t->flows = def->flows;
	t->flows_auto = 1;
	t->rate_pps = def->rate_pps;
	t->dscp = def->dscp;
	t->port = def->port;
	t->kind = def->kind;
	if (!host) {
		snprintf(why, whylen, "no host");
		return -1;
	}
	if (strlen(host) >= sizeof(t->host)) {
		snprintf(why, whylen, "host name too long");
		return -1;
	}
	strcpy(t->host, host);
	while ((w = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(w, '=');

		if (!eq) {
			snprintf(why, whylen, "expected key=value, got '%s'", w);
			return -1;
		}
		*eq = '\0';
		if (target_opt_set(t, w, eq + 1, why, whylen) < 0)
			return -1;
	}
	rc = target_resolve(host, def->numeric_only, t);
	if (rc) {
		snprintf(why, whylen, def->numeric_only ? "'%s' is not an address: %s"
							: "cannot resolve '%s': %s",
			 host, gai_strerror(rc));
		return -1;
	}
	if (t->family == AF_INET)
		((struct sockaddr_in *)&t->addr)->sin_port = htons(t->port);
	else
		((struct sockaddr_in6 *)&t->addr)->sin6_port = htons(t->port);
	return 0;
}

int targets_parse(const char *text, size_t len, const char *name,
		  const struct targets_defaults *def, struct target_spec **out,
		  size_t *n, char *err, size_t errlen)
{
	struct target_spec *v = NULL;
	size_t nv = 0, cap = 0, pos = 0, lineno = 0;
	const char *line;
	size_t ll;
	int seen_header = 0;
	char why[200];
	char buf[1024];

	while (textio_line_next(text, len, &pos, &line, &ll)) {
		size_t i = 0;

		lineno++;
		while (i < ll && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == ll)
			continue;
		if (!seen_header) {
			if (ll != strlen(TARGETS_HEADER) || memcmp(line, TARGETS_HEADER, ll)) {
				snprintf(why, sizeof(why), "first line must be '%s'", TARGETS_HEADER);
				goto bad;
			}
			seen_header = 1;
			continue;
		}
		if (line[i] == '#')
			continue;
		if (ll - i >= sizeof(buf)) {
			snprintf(why, sizeof(why), "line too long");
			goto bad;
		}
		for (size_t k = i; k < ll; k++) {
			/* text only: a NUL would cut the line short unseen */
			if ((unsigned char)line[k] < 0x20 && line[k] != '\t') {
				snprintf(why, sizeof(why), "control character 0x%02x in line",
					 (unsigned char)line[k]);
				goto bad;
			}
		}
		memcpy(buf, line + i, ll - i);
		buf[ll - i] = '\0';
		if (nv == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct target_spec *nvp = realloc(v, nc * sizeof(*v));

			if (!nvp) {
				snprintf(why, sizeof(why), "out of memory");
				goto bad;
			}
			v = nvp;
			cap = nc;
		}
		if (target_line_parse(buf, def, &v[nv], why, sizeof(why)) < 0)
			goto bad;
		nv++;
	}
	if (!seen_header) {
		snprintf(err, errlen, "%s: empty, expected '%s'", name, TARGETS_HEADER);
		free(v);
		return -1;
	}
	*out = v;
	*n = nv;
	return 0;
bad:
	snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
	free(v);
	return -1;
}

/* targets_parse's extra arguments, carried through textio_file_parse */
struct targets_load_args {
	const struct targets_defaults *def;
	struct target_spec **out;
	size_t *n;
};

static int targets_parse_cb(void *arg, const char *text, size_t len,
			    const char *name, char *err, size_t errlen)
{
	struct targets_load_args *a = arg;

	return targets_parse(text, len, name, a->def, a->out, a->n, err, errlen);
}

int targets_load(const char *path, const struct targets_defaults *def,
		 struct target_spec **out, size_t *n, char *err, size_t errlen)
{
	struct targets_load_args a = { def, out, n };

	return textio_file_parse(path, targets_parse_cb, &a, err, errlen);
}
