/*
 * Request-scoped arena: everything a request allocates while it is parsed,
 * coerced and answered lives here and goes away in one call, so error paths
 * cannot leak.
 */
#ifndef VMDB_UTIL_ARENA_H
#define VMDB_UTIL_ARENA_H

#include <stddef.h>

typedef struct vmdb_arena_chunk vmdb_arena_chunk;

typedef struct vmdb_arena {
    vmdb_arena_chunk *head;
    size_t used; /* bytes allocated in all chunks, for the cap */
    size_t max;  /* hard cap (0: 256 MiB) */
    /* Test builds (VMDB_TEST_HOOKS): the fault_at-th allocation fails (0:
     * none), so that tests can walk every allocation failure of a request. */
    unsigned fault_at, count;
} vmdb_arena;

/* clang-format off */
#define VMDB_ARENA_INIT {NULL, 0, 0, 0, 0}
/* clang-format on */

/* Aligned allocation; NULL when out of memory or over the cap. */
void *vmdb_arena_alloc(vmdb_arena *a, size_t n);
void *vmdb_arena_zalloc(vmdb_arena *a, size_t n);
/* Copy of n bytes plus a NUL. */
char *vmdb_arena_strndup(vmdb_arena *a, const char *s, size_t n);
/* A list of strings in an arena. Zero-initialise. */
typedef struct vmdb_strs {
    const char **v;
    size_t n, cap;
} vmdb_strs;

/* Appends a copy of `s` (into the arena). 0 or VMDB_ENOMEM. */
int vmdb_strs_add(vmdb_arena *a, vmdb_strs *l, const char *s);

/* Frees every chunk (accepts NULL) and resets the arena. */
void vmdb_arena_free(vmdb_arena *a);

#endif
