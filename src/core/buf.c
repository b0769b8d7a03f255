/*
 * Growable byte buffer with a hard cap. Encoders append here; the cap is how
 * a buffer fed from the network refuses to grow without bound.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define VMDB_BUF_DEFAULT_MAX (SIZE_MAX / 2)

int vmdb_buf_reserve(vmdb_buf *b, size_t extra)
{
    size_t max = b->max ? b->max : VMDB_BUF_DEFAULT_MAX;
    size_t need, ncap;
    uint8_t *p;

    if (extra > max || b->len > max - extra)
        return vmdb_error_set(VMDB_ELIMIT, "buffer cap of %zu bytes exceeded", max);
    need = b->len + extra;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > max / 2 ? max : ncap * 2;
    p = realloc(b->ptr, ncap);
    if (!p)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory growing buffer to %zu", ncap);
    b->ptr = p;
    b->cap = ncap;
    return 0;
}

int vmdb_buf_put(vmdb_buf *b, const void *p, size_t n)
{
    int rc = vmdb_buf_reserve(b, n);
    if (rc == 0 && n) {
        memcpy(b->ptr + b->len, p, n);
        b->len += n;
    }
    return rc;
}

int vmdb_buf_putc(vmdb_buf *b, uint8_t c)
{
    if (b->len < b->cap) {
        b->ptr[b->len++] = c;
        return 0;
    }
    return vmdb_buf_put(b, &c, 1);
}

void vmdb_buf_free(vmdb_buf *b)
{
    if (!b)
        return;
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}
