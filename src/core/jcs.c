/*
 * RFC 8785 canonical JSON writer. The number form is ECMAScript's
 * Number::toString: the shortest digit string that parses back to the same
 * double, found by asking the C library for correctly rounded p-digit forms
 * with p = 1..17 (and checking the two neighbours, which matters only at
 * powers of two where the rounding interval is lopsided). Integers below
 * 2^53 take a direct path, since rows are mostly integers and strings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json_internal.h"

/* Formats digits s (p of them, s < 10^p) × 10^e as "<s>e<e>" and parses it. */
static double parse_scaled(uint64_t s, int e)
{
    char buf[48];
    snprintf(buf, sizeof(buf), "%llue%d", (unsigned long long)s, e);
    return strtod(buf, NULL);
}

int vmdb_jcs_shortest(double d, char digits[18], int *exp10)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        /* "%.*e" gives d.ddd...e±XX correctly rounded to p digits. */
        snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
        uint64_t s = 0;
        const char *c = buf;
        for (; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9')
                s = s * 10 + (uint64_t)(*c - '0');
        int e = (int)strtol(c + 1, NULL, 10) - (p - 1); /* d ≈ s × 10^e */
        uint64_t cand[3] = {s, s + 1, s - 1};
        for (int i = 0; i < 3; i++) {
            if (cand[i] == 0 || parse_scaled(cand[i], e) != d)
                continue;
            /* Strip trailing zeros; the value is 0.digits × 10^exp10. */
            uint64_t v = cand[i];
            int ee = e;
            while (v % 10 == 0) {
                v /= 10;
                ee++;
            }
            char tmp[24];
            int k = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
            memcpy(digits, tmp, (size_t)k + 1);
            *exp10 = ee + k;
            return k;
        }
    }
    /* Unreachable for finite doubles: 17 digits always round-trip. */
    digits[0] = '0';
    digits[1] = '\0';
    *exp10 = 0;
    return 1;
}

int vmdb_jcs_number(vmdb_buf *out, double d)
{
    char tmp[64];
    size_t n = 0;

    if (!isfinite(d))
        return vmdb_error_set(VMDB_EINVAL, "NaN and Infinity have no JSON form");
    if (d == 0)
        return vmdb_buf_putc(out, '0');
    if (d < 0)
        tmp[n++] = '-';
    double a = fabs(d);
    if (a < 9007199254740992.0 && a == floor(a)) {
        n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llu", (unsigned long long)a);
        return vmdb_buf_put(out, tmp, n);
    }
    char dg[18];
    int e;
    int k = vmdb_jcs_shortest(a, dg, &e);
    if (k <= e && e <= 21) {
        memcpy(tmp + n, dg, (size_t)k);
        n += (size_t)k;
        for (int i = 0; i < e - k; i++)
            tmp[n++] = '0';
    } else if (0 < e && e <= 21) {
        memcpy(tmp + n, dg, (size_t)e);
        n += (size_t)e;
        tmp[n++] = '.';
        memcpy(tmp + n, dg + e, (size_t)(k - e));
        n += (size_t)(k - e);
    } else if (-6 < e && e <= 0) {
        tmp[n++] = '0';
        tmp[n++] = '.';
        for (int i = 0; i < -e; i++)
            tmp[n++] = '0';
        memcpy(tmp + n, dg, (size_t)k);
        n += (size_t)k;
    } else {
        tmp[n++] = dg[0];
        if (k > 1) {
            tmp[n++] = '.';
            memcpy(tmp + n, dg + 1, (size_t)(k - 1));
            n += (size_t)(k - 1);
        }
        n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "e%c%d", e - 1 < 0 ? '-' : '+', abs(e - 1));
    }
    return vmdb_buf_put(out, tmp, n);
}

int vmdb_jcs_string(vmdb_buf *out, vmdb_slice s)
{
    static const char hexd[] = "0123456789abcdef";
    size_t start = out->len;
    int rc = vmdb_buf_putc(out, '"');
    size_t i = 0;

    while (rc == 0 && i < s.len) {
        size_t run = i;
        while (i < s.len && s.ptr[i] >= 0x20 && s.ptr[i] != '"' && s.ptr[i] != '\\' &&
               s.ptr[i] < 0x80)
            i++;
        if (i > run && (rc = vmdb_buf_put(out, s.ptr + run, i - run)) != 0)
            break;
        if (i >= s.len)
            break;
        uint8_t c = s.ptr[i];
        if (c >= 0x80) {
            /* Validate the sequence; JCS copies it unchanged. */
            size_t n = 0;
            if (c >= 0xC2 && c <= 0xDF)
                n = 2;
            else if (c >= 0xE0 && c <= 0xEF)
                n = 3;
            else if (c >= 0xF0 && c <= 0xF4)
                n = 4;
            if (!n || i + n > s.len) {
                rc = vmdb_error_set(VMDB_EPARSE, "invalid UTF-8 in string");
                break;
            }
            for (size_t j = 1; j < n; j++)
                if ((s.ptr[i + j] & 0xC0) != 0x80)
                    n = 0;
            if (n && ((c == 0xE0 && s.ptr[i + 1] < 0xA0) || (c == 0xED && s.ptr[i + 1] > 0x9F) ||
                      (c == 0xF0 && s.ptr[i + 1] < 0x90) || (c == 0xF4 && s.ptr[i + 1] > 0x8F)))
                n = 0;
            if (!n) {
                rc = vmdb_error_set(VMDB_EPARSE, "invalid UTF-8 in string");
                break;
            }
            rc = vmdb_buf_put(out, s.ptr + i, n);
            i += n;
            continue;
        }
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hexd[c >> 4];
            esc[5] = hexd[c & 15];
            en = 6;
        }
        rc = vmdb_buf_put(out, esc, en);
        i++;
    }
    if (rc == 0)
        rc = vmdb_buf_putc(out, '"');
    if (rc)
        out->len = start;
    return rc;
}

static int write_value(vmdb_buf *out, const vmdb_json *v)
{
    int rc = 0;
    switch (v->type) {
    case VMDB_JSON_NULL:
        return vmdb_buf_put(out, "null", 4);
    case VMDB_JSON_TRUE:
        return vmdb_buf_put(out, "true", 4);
    case VMDB_JSON_FALSE:
        return vmdb_buf_put(out, "false", 5);
    case VMDB_JSON_NUMBER:
        return vmdb_jcs_number(out, v->u.num);
    case VMDB_JSON_STRING:
        return vmdb_jcs_string(out, (vmdb_slice){v->u.str, v->n});
    case VMDB_JSON_ARRAY:
        rc = vmdb_buf_putc(out, '[');
        for (size_t i = 0; rc == 0 && i < v->n; i++) {
            if (i)
                rc = vmdb_buf_putc(out, ',');
            if (rc == 0)
                rc = write_value(out, v->u.items[i]);
        }
        return rc ? rc : vmdb_buf_putc(out, ']');
    case VMDB_JSON_OBJECT:
        /* Members are already in JCS order: the parser sorted them. */
        rc = vmdb_buf_putc(out, '{');
        for (size_t i = 0; rc == 0 && i < v->n; i++) {
            if (i)
                rc = vmdb_buf_putc(out, ',');
            if (rc == 0)
                rc = vmdb_jcs_string(out, (vmdb_slice){v->u.members[i].key, v->u.members[i].klen});
            if (rc == 0)
                rc = vmdb_buf_putc(out, ':');
            if (rc == 0)
                rc = write_value(out, v->u.members[i].val);
        }
        return rc ? rc : vmdb_buf_putc(out, '}');
    }
    return vmdb_error_set(VMDB_EINVAL, "unknown JSON value type");
}

int vmdb_jcs_write(vmdb_buf *out, const vmdb_json *v)
{
    size_t start = out->len;
    int rc = write_value(out, v);
    if (rc)
        out->len = start;
    return rc;
}

int vmdb_jcs_canonicalize(vmdb_buf *out, vmdb_slice in, const vmdb_json_limits *lim)
{
    vmdb_json_doc *doc = NULL;
    int rc = vmdb_json_parse(&doc, in, lim);
    if (rc == 0)
        rc = vmdb_jcs_write(out, vmdb_json_doc_root(doc));
    vmdb_json_doc_free(doc);
    return rc;
}
