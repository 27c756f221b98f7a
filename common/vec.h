/* Growing arrays: the one doubling rule for an array that takes one more
 * element at a time (capacity doubles; the first allocation is given). */
#ifndef FM_VEC_H
#define FM_VEC_H

#include <stddef.h>

/* Make room for element n of the array whose pointer is at pv (any
 * object-pointer variable: &v for struct x *v) with *cap elements of elem
 * bytes allocated: when n == *cap, grow it to twice *cap (first_cap when
 * 0). Returns 0, or -1 with errno ENOMEM and the array and *cap as they
 * were. */
int vec_room(void *pv, size_t n, size_t *cap, size_t elem, size_t first_cap);

/* The same rule for appends of many elements at once (bytes of a text
 * buffer): make room for need elements in all, doubling *cap (from
 * first_cap) until it holds them. Returns 0, or -1 with errno ENOMEM and
 * the array and *cap as they were. */
int vec_room_n(void *pv, size_t need, size_t *cap, size_t elem, size_t first_cap);

#endif
