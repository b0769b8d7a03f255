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
} vmdb_arena;

#define VMDB_ARENA_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Aligned allocation; NULL when out of memory or over the cap. */
void *vmdb_arena_alloc(vmdb_arena *a, size_t n);
void *vmdb_arena_zalloc(vmdb_arena *a, size_t n);
/* Copy of n bytes plus a NUL. */
char *vmdb_arena_strndup(vmdb_arena *a, const char *s, size_t n);
/* Frees every chunk (accepts NULL) and resets the arena. */
void vmdb_arena_free(vmdb_arena *a);

#endif
