/* Keys file parser: one prober name and one hex key per line; a malformed
 * line is an error naming the file and line, so a typo never disables auth. */
#include "keys.h"
#include "wire.h"
#include "textio.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keyring_entry {
	char name[WIRE_NAME_MAX];
	uint8_t key[KEYS_KEY_MAX];
	size_t len;
};

struct keyring {
	struct keyring_entry *e;
	size_t n, cap;
};

static int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse one non-comment line into e; returns 0 or -1 with a reason. */
static int keyring_line_parse(char *line, struct keyring_entry *e,
			      const char **why)
{
	char *tab = strchr(line, '\t'), *hex;
	size_t hl, i;

	if (!tab) {
		*why = "expected prober<TAB>hex-key";
		return -1;
	}
	*tab = '\0';
	hex = tab + 1;
	if (strlen(line) == 0 || strlen(line) >= WIRE_NAME_MAX) {
		*why = "bad prober name length";
		return -1;
	}
	strcpy(e->name, line);
	hl = strlen(hex);
	if (hl % 2 || hl / 2 < KEYS_KEY_MIN || hl / 2 > KEYS_KEY_MAX) {
		*why = "key must be 32-128 hex digits (16-64 bytes)";
		return -1;
	}
	for (i = 0; i < hl / 2; i++) {
		int hi = hex_nibble((unsigned char)hex[2 * i]);
		int lo = hex_nibble((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			*why = "key is not hex";
			return -1;
		}
		e->key[i] = (uint8_t)(hi << 4 | lo);
	}
	e->len = hl / 2;
	return 0;
}

struct keyring *keyring_parse(const char *text, size_t len, const char *name, char *err,
			      size_t errlen)
{
	struct keyring *k = calloc(1, sizeof(*k));
	size_t pos = 0, lineno = 0, ll;
	const char *raw;
	char line[512];

	if (!k) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	while (textio_line_next(text, len, &pos, &raw, &ll)) {
		struct keyring_entry e;
		const char *why;

		lineno++;
		while (ll && raw[ll - 1] == ' ')
			ll--;
		if (ll == 0 || raw[0] == '#')
			continue;
		if (ll >= sizeof(line) || memchr(raw, '\0', ll)) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno,
				 ll >= sizeof(line) ? "line too long" : "NUL byte in line");
			goto err;
		}
		memcpy(line, raw, ll);
		line[ll] = '\0';
		if (keyring_line_parse(line, &e, &why) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
			goto err;
		}
		{
			struct wire_key have[WIRE_KEYS_MAX];
			size_t nhave = keyring_keys(k, e.name, have), i;

			/* two lines per prober while its key is rotated: the old
			 * and the new key both verify until the old line goes */
			if (nhave >= WIRE_KEYS_MAX) {
				snprintf(err, errlen,
					 "%s:%zu: prober %s listed %d times (at most %d keys: old and new during a rotation)",
					 name, lineno, e.name, WIRE_KEYS_MAX + 1, WIRE_KEYS_MAX);
				goto err;
			}
			for (i = 0; i < nhave; i++)
				if (have[i].len == e.len && !memcmp(have[i].bytes, e.key, e.len)) {
					snprintf(err, errlen, "%s:%zu: prober %s listed twice with the same key",
						 name, lineno, e.name);
					goto err;
				}
		}
		if (k->n == k->cap) {
			size_t cap = k->cap ? k->cap * 2 : 16;
			struct keyring_entry *ne = realloc(k->e, cap * sizeof(*ne));

			if (!ne) {
				snprintf(err, errlen, "%s: out of memory", name);
				goto err;
			}
			k->e = ne;
			k->cap = cap;
		}
		k->e[k->n++] = e;
	}
	return k;
err:
	keyring_free(k);
	return NULL;
}

/* textio_parse_cb: the keyring lands in *(struct keyring **)out */
static int keyring_parse_cb(void *out, const char *text, size_t len,
			    const char *name, char *err, size_t errlen)
{
	struct keyring **k = out;

	*k = keyring_parse(text, len, name, err, errlen);
	return *k ? 0 : -1;
}

struct keyring *keyring_load(const char *path, char *err, size_t errlen)
{
	struct keyring *k = NULL;

	textio_file_parse(path, keyring_parse_cb, &k, err, errlen);
	return k;
}

void keyring_free(struct keyring *k)
{
	if (!k)
		return;
	free(k->e);
	free(k);
}

const uint8_t *keyring_find(const struct keyring *k, const char *prober,
			    size_t *len)
{
	size_t i;

	/* linear: a fleet's keys file is read at start, looked up per HELLO */
	for (i = 0; i < k->n; i++)
		if (strcmp(k->e[i].name, prober) == 0) {
			*len = k->e[i].len;
			return k->e[i].key;
		}
	return NULL;
}

size_t keyring_keys(const struct keyring *k, const char *prober,
		    struct wire_key keys[WIRE_KEYS_MAX])
{
	size_t i, n = 0;

	for (i = 0; i < k->n && n < WIRE_KEYS_MAX; i++)
		if (strcmp(k->e[i].name, prober) == 0) {
			keys[n].bytes = k->e[i].key;
			keys[n].len = k->e[i].len;
			n++;
		}
	return n;
}
