/* Keys file: names and keys found, and every malformed line an error naming
 * file and line, so a typo never turns authentication off for a prober. */
#include "collector/keys.h"

#include <criterion/criterion.h>
#include <string.h>

#define KEY32 "00112233445566778899aabbccddeeff"

Test(keys, names_and_keys_are_found_comments_skipped)
{
	static const char text[] = "# probers\n\nh1\t" KEY32 "\r\nh2\t" KEY32 KEY32 "  \n";
	char err[256];
	struct keyring *k = keyring_parse(text, sizeof(text) - 1, "keys", err, sizeof(err));
	const uint8_t *key;
	size_t len = 0;

	cr_assert_not_null(k, "%s", err);
	key = keyring_find(k, "h1", &len);
	cr_assert_not_null(key);
	cr_expect_eq(len, 16);
	cr_expect_eq(key[15], 0xff);
	cr_expect_not_null(keyring_find(k, "h2", &len));
	cr_expect_eq(len, 32);
	cr_expect_null(keyring_find(k, "h3", &len));
	keyring_free(k);
}

Test(keys, malformed_lines_name_file_and_line)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		const char *want;
	} cases[] = {
		{ "h1 " KEY32 "\n", 0, "keys:1: expected prober<TAB>hex-key" },
		{ "# c\nh1\t0011\n", 0, "keys:2: key must be 32-128 hex digits" },
		{ "h1\t" KEY32 "\nh1\t" KEY32 "\n", 0, "keys:2: prober h1 listed twice with the same key" },
		{ "h1\t" KEY32 "\nh1\t" KEY32 KEY32 "\nh1\t" KEY32 "ff\n", 0, "keys:3: prober h1 listed 3 times" },
		{ "h1\t" KEY32 "\n\nh2\t00112233445566778899aabbccddeefg\n", 0, "keys:3: key is not hex" },
		{ "\t" KEY32 "\n", 0, "keys:1: bad prober name length" },
		{ "h1\t0011\0" "2233445566778899aabbccddeeff\n", 37, "keys:1: NUL byte in line" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		struct keyring *k = keyring_parse(cases[i].text, len, "keys", err, sizeof(err));

		cr_expect_null(k, "case %zu parsed", i);
		cr_expect(strstr(err, cases[i].want) != NULL, "case %zu: '%s', want '%s'", i, err,
			  cases[i].want);
		keyring_free(k);
	}
}
