/* vec_room and vec_room_n (vec.h): the doubling every growing array in the tree shares,
 * with the overflow check written once. */
#include "vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int vec_room_n(void *pv, size_t need, size_t *cap, size_t elem, size_t first_cap)
{
	size_t nc = *cap ? *cap : (first_cap ? first_cap : 1);
	void *v, *nv;

	if (need <= *cap)
		return 0;
	if (*cap)
		nc = *cap > SIZE_MAX / 2 ? 0 : 2 * *cap;
	while (nc && nc < need)
		nc = nc > SIZE_MAX / 2 ? 0 : 2 * nc;
	/* nc 0: doubling would overflow */
	if (!nc || (elem && nc > SIZE_MAX / elem)) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(&v, pv, sizeof(v)); /* pv points at a T *, whatever T is */
	if (!(nv = realloc(v, nc * elem))) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(pv, &nv, sizeof(nv));
	*cap = nc;
	return 0;
}

int vec_room(void *pv, size_t n, size_t *cap, size_t elem, size_t first_cap)
{
	return n < *cap ? 0 : vec_room_n(pv, n + 1, cap, elem, first_cap);
}
