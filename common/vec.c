/* vec_room (vec.h): the doubling every growing array in the tree shares,
 * with the overflow check written once. */
#include "vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int vec_room(void *pv, size_t n, size_t *cap, size_t elem, size_t first_cap)
{
	size_t nc = *cap ? 2 * *cap : first_cap;
	void *v, *nv;

	if (n < *cap)
		return 0;
	if (nc < *cap || (elem && nc > SIZE_MAX / elem)) {
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
