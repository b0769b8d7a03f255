/*
 * Growing malloc'ed arrays: the one doubling rule behind every list that
 * collects an unknown number of items (leaves, ranges, anchors, changes).
 * A failed growth leaves the array as it was, so callers free it as usual.
 */
#ifndef VMDB_UTIL_GROW_H
#define VMDB_UTIL_GROW_H
#include <stddef.h>

/* Makes room for element `n` of the array `v` (`*cap` elements of `size`
 * bytes, malloc'ed or NULL): when n == *cap it doubles the capacity (to
 * `first` from empty). Returns the array, moved or not, or NULL when out of
 * memory (then `v` is untouched and still owned by the caller). */
void *vmdb_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

#endif
