/* Tests of vec_room, the one doubling rule of the growing arrays: first
 * capacity, doubling only when full, contents kept, overflow refused. */
#include "vec.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

Test(vec, grows_by_doubling_only_when_full_and_keeps_the_elements)
{
	int *v = NULL;
	size_t n = 0, cap = 0;

	for (int i = 0; i < 100; i++) {
		cr_assert_eq(vec_room(&v, n, &cap, sizeof(*v), 4), 0);
		v[n++] = i;
		cr_assert(cap >= n);
	}
	cr_assert_eq(cap, 128, "4, 8, ... 128: got %zu", cap);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(v[i], i);
	/* room left: nothing moves */
	cr_assert_eq(vec_room(&v, 100, &cap, sizeof(*v), 4), 0);
	cr_assert_eq(cap, 128);
	free(v);
}

Test(vec, size_overflow_is_refused_and_leaves_the_array)
{
	char *v = malloc(1);
	size_t cap = SIZE_MAX / 2 + 1;

	errno = 0;
	cr_assert_eq(vec_room(&v, cap, &cap, 1, 1), -1);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(cap, SIZE_MAX / 2 + 1);
	cr_assert_not_null(v);
	free(v);
}

Test(vec, appends_of_many_grow_by_doubling_to_hold_them_all)
{
	char *b = NULL;
	size_t cap = 0;

	cr_assert_eq(vec_room_n(&b, 10, &cap, 1, 16), 0);
	cr_assert_eq(cap, 16);
	cr_assert_eq(vec_room_n(&b, 16, &cap, 1, 16), 0);
	cr_assert_eq(cap, 16, "room enough: nothing moves");
	cr_assert_eq(vec_room_n(&b, 100, &cap, 1, 16), 0);
	cr_assert_eq(cap, 128, "16 -> 32 -> 64 -> 128: got %zu", cap);
	memset(b, 'x', 100);
	free(b);
	b = malloc(1);
	cap = SIZE_MAX / 2 + 1;
	errno = 0;
	cr_assert_eq(vec_room_n(&b, cap + 1, &cap, 1, 16), -1);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(cap, SIZE_MAX / 2 + 1);
	free(b);
}
