/*
 * Text building helpers. JSON strings go through the core's JCS string
 * writer so that response text and hashed text escape identically.
 */
#include "util/sb.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmdb/json.h"

int vmdb_sb_printf(vmdb_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return VMDB_EINVAL;
    if ((size_t)n < sizeof tmp)
        return vmdb_buf_put(b, tmp, (size_t)n);
    int rc = vmdb_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int vmdb_sb_puts(vmdb_buf *b, const char *s)
{
    return vmdb_buf_put(b, s, strlen(s));
}

int vmdb_sb_cstr(vmdb_buf *b)
{
    int rc = vmdb_buf_reserve(b, 1);
    if (rc)
        return rc;
    b->ptr[b->len] = 0;
    return 0;
}

int vmdb_sb_ident(vmdb_buf *b, const char *ident)
{
    int rc = vmdb_buf_putc(b, '"');
    for (const char *p = ident; rc == 0 && *p; p++) {
        if (*p == '"')
            rc = vmdb_buf_putc(b, '"');
        if (rc == 0)
            rc = vmdb_buf_putc(b, (uint8_t)*p);
    }
    if (rc == 0)
        rc = vmdb_buf_putc(b, '"');
    return rc;
}

int vmdb_sb_jstr(vmdb_buf *b, const char *s, size_t n)
{
    int rc = vmdb_jcs_string(b, VMDB_SLICE(s, n));
    if (rc != VMDB_EPARSE)
        return rc;
    /* Not UTF-8: keep the ASCII, replace the rest. */
    rc = vmdb_buf_putc(b, '"');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = vmdb_sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            rc = vmdb_sb_printf(b, "\\u%04x", c);
        else if (c < 0x80)
            rc = vmdb_buf_putc(b, c);
        else
            rc = vmdb_sb_puts(b, "\xef\xbf\xbd");
    }
    if (rc == 0)
        rc = vmdb_buf_putc(b, '"');
    return rc;
}

int vmdb_sb_jstrz(vmdb_buf *b, const char *s)
{
    return vmdb_sb_jstr(b, s, strlen(s));
}

int vmdb_sb_jstrs(vmdb_buf *b, const char *const *v, size_t n)
{
    int rc = vmdb_buf_putc(b, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = i ? vmdb_buf_putc(b, ',') : 0;
        rc = rc ? rc : vmdb_sb_jstrz(b, v[i]);
    }
    return rc ? rc : vmdb_buf_putc(b, ']');
}

int vmdb_sb_jhex(vmdb_buf *b, const uint8_t *p, size_t n)
{
    if (n > (SIZE_MAX - 3) / 2)
        return VMDB_ELIMIT;
    int rc = vmdb_buf_reserve(b, 2 * n + 2);
    if (rc)
        return rc;
    b->ptr[b->len++] = '"';
    vmdb_hex_encode((char *)b->ptr + b->len, p, n);
    b->len += 2 * n;
    b->ptr[b->len++] = '"';
    return 0;
}

int vmdb_sb_jhex32(vmdb_buf *b, const uint8_t h[32])
{
    return vmdb_sb_jhex(b, h, 32);
}

int vmdb_sb_pgarr_elem(vmdb_buf *b, const char *s, size_t n)
{
    int rc = vmdb_buf_putc(b, '"');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            rc = vmdb_buf_putc(b, '\\');
        if (rc == 0)
            rc = vmdb_buf_putc(b, (uint8_t)s[i]);
    }
    if (rc == 0)
        rc = vmdb_buf_putc(b, '"');
    return rc;
}
