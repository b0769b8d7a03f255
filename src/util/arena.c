/*
 * Bump allocator over a list of chunks. Large requests get a chunk of their
 * own; nothing is freed before the whole arena is.
 */
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmdb/common.h"

#define ARENA_CHUNK (64 * 1024)
#define ARENA_DEFAULT_MAX ((size_t)256 << 20)

struct vmdb_arena_chunk {
    vmdb_arena_chunk *next;
    size_t cap, off;
    max_align_t data[];
};

void *vmdb_arena_alloc(vmdb_arena *a, size_t n)
{
    size_t max = a->max ? a->max : ARENA_DEFAULT_MAX;
    n = (n + 15) & ~(size_t)15;
    if (n > max || a->used > max - n)
        return NULL;
#ifdef VMDB_TEST_HOOKS
    if (a->fault_at && ++a->count == a->fault_at)
        return NULL;
#endif
    vmdb_arena_chunk *c = a->head;
    if (!c || c->cap - c->off < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->off = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->off;
    c->off += n;
    a->used += n;
    return p;
}

void *vmdb_arena_zalloc(vmdb_arena *a, size_t n)
{
    void *p = vmdb_arena_alloc(a, n ? n : 1);
    if (p)
        memset(p, 0, n);
    return p;
}

char *vmdb_arena_strndup(vmdb_arena *a, const char *s, size_t n)
{
    char *p = vmdb_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

int vmdb_strs_add(vmdb_arena *a, vmdb_strs *l, const char *s)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        const char **nv = vmdb_arena_alloc(a, nc * sizeof *nv);
        if (!nv)
            return VMDB_ENOMEM;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = nc;
    }
    const char *c = vmdb_arena_strndup(a, s, strlen(s));
    if (!c)
        return VMDB_ENOMEM;
    l->v[l->n++] = c;
    return 0;
}

void vmdb_arena_free(vmdb_arena *a)
{
    if (!a)
        return;
    vmdb_arena_chunk *c = a->head;
    while (c) {
        vmdb_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->used = 0;
}
