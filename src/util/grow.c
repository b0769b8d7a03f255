/*
 * Growing malloc'ed arrays (see grow.h).
 */
#include "util/grow.h"

#include <stdint.h>
#include <stdlib.h>

void *vmdb_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return v;
    size_t nc = *cap ? *cap * 2 : first;
    if (nc <= n || nc > SIZE_MAX / size)
        return NULL;
    void *p = realloc(v, nc * size);
    if (p)
        *cap = nc;
    return p;
}
