/*
 * Value coercion. The text produced here is what PostgreSQL parses, so it is
 * canonical where vmdb can make it so (integers in plain decimal, uuids in
 * lower case, JSON in RFC 8785 form); PostgreSQL still has the last word and
 * its refusals map to 400 INVALID_VALUE.
 */
#include "store/coerce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sb.h"

int vmdb_field_errors_add(vmdb_arena *a, vmdb_field_errors *e, size_t index, const char *field,
                          const char *expected, const char *got, const vmdb_json *value)
{
    e->total++;
    if (e->n >= VMDB_FIELD_ERRORS_KEPT)
        return 0;
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        vmdb_field_error *nv = vmdb_arena_alloc(a, nc * sizeof *nv);
        if (!nv)
            return VMDB_ENOMEM;
        if (e->n)
            memcpy(nv, e->v, e->n * sizeof *nv);
        e->v = nv;
        e->cap = nc;
    }
    vmdb_field_error *x = &e->v[e->n];
    x->index = index;
    x->field = vmdb_arena_strndup(a, field, strlen(field));
    x->expected = expected;
    x->got = got;
    x->value = value;
    if (!x->field)
        return VMDB_ENOMEM;
    e->n++;
    return 0;
}

static char *jcs_text(vmdb_arena *a, const vmdb_json *v)
{
    vmdb_buf b = VMDB_BUF_INIT;
    char *out = NULL;
    if (vmdb_jcs_write(&b, v) == 0)
        out = vmdb_arena_strndup(a, (const char *)b.ptr, b.len);
    vmdb_buf_free(&b);
    return out;
}

/* Parses [+-]digits into int64 with no spaces, decimals or exponent. */
static bool parse_i64(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (9223372036854775808ULL - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (!neg && v > 9223372036854775807ULL)
        return false;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits (or the 32 digits alone), any case → lower hyphenated. */
static bool canon_uuid(const char *s, size_t n, char out[37])
{
    char hex[32];
    size_t k = 0;
    if (n == 36) {
        for (size_t i = 0; i < 36; i++) {
            bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? s[i] != '-' : !is_hex(s[i]))
                return false;
            if (!dash)
                hex[k++] = s[i];
        }
    } else if (n == 32) {
        for (size_t i = 0; i < 32; i++) {
            if (!is_hex(s[i]))
                return false;
            hex[k++] = s[i];
        }
    } else {
        return false;
    }
    for (size_t i = 0, j = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            out[i] = '-';
            continue;
        }
        char c = hex[j++];
        out[i] = (c >= 'A' && c <= 'F') ? (char)(c + 32) : c;
    }
    out[36] = 0;
    return true;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* RFC 3339 date-time with a mandatory offset. */
static bool rfc3339(const char *s, size_t n)
{
    if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2) ||
        s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return false;
    int mon = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
    int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0');
    int ss = (s[17] - '0') * 10 + (s[18] - '0');
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
        (mon == 2 && day == 29 && !leap) || hh > 23 || mm > 59 || ss > 60)
        return false;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t j = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) && s[i + 3] == ':' &&
        digits(s + i + 4, 2))
        return (s[i + 1] - '0') * 10 + (s[i + 2] - '0') <= 23 &&
               (s[i + 4] - '0') * 10 + (s[i + 5] - '0') <= 59;
    return false;
}

int vmdb_coerce_key(vmdb_arena *a, vmdb_ctype t, const char *s, size_t n, const char **out)
{
    char tmp[40];
    long long v;
    if (memchr(s, 0, n))
        return VMDB_EINVAL;
    switch (t) {
    case VMDB_T_INT:
    case VMDB_T_BIGINT:
        if (!parse_i64(s, n, &v) || (t == VMDB_T_INT && (v < -2147483648LL || v > 2147483647LL)))
            return VMDB_EINVAL;
        snprintf(tmp, sizeof tmp, "%lld", v);
        *out = vmdb_arena_strndup(a, tmp, strlen(tmp));
        break;
    case VMDB_T_UUID:
        if (!canon_uuid(s, n, tmp))
            return VMDB_EINVAL;
        *out = vmdb_arena_strndup(a, tmp, 36);
        break;
    default:
        *out = vmdb_arena_strndup(a, s, n);
    }
    return *out ? 0 : VMDB_ENOMEM;
}

int vmdb_coerce_value(vmdb_arena *a, vmdb_ctype t, const vmdb_json *v, const char **out,
                      const char **got)
{
    vmdb_json_type jt = vmdb_json_typeof(v);
    vmdb_slice s = vmdb_json_string(v);
    *got = vmdb_json_type_name(v);
    *out = NULL;
    if (jt == VMDB_JSON_NULL)
        return 0; /* SQL NULL for every type; NOT NULL is PostgreSQL's to enforce */
    if (jt == VMDB_JSON_STRING && memchr(s.ptr, 0, s.len))
        return VMDB_EINVAL; /* PostgreSQL text cannot hold U+0000 */
    switch (t) {
    case VMDB_T_INT:
    case VMDB_T_BIGINT: {
        char tmp[32];
        long long x;
        if (jt == VMDB_JSON_NUMBER) {
            /* The integer is read from the number's canonical text, not from
             * the double: above 2^53 the two differ (4611686018427388000 is
             * stored as written, not as the double's 4611686018427387904). */
            char *txt = vmdb_json_is_integer_literal(v) ? jcs_text(a, v) : NULL;
            if (!txt || !parse_i64(txt, strlen(txt), &x))
                return txt || !vmdb_json_is_integer_literal(v) ? VMDB_EINVAL : VMDB_ENOMEM;
        } else if (jt != VMDB_JSON_STRING || !parse_i64((const char *)s.ptr, s.len, &x)) {
            return VMDB_EINVAL;
        }
        if (t == VMDB_T_INT && (x < -2147483648LL || x > 2147483647LL))
            return VMDB_EINVAL;
        snprintf(tmp, sizeof tmp, "%lld", x);
        *out = vmdb_arena_strndup(a, tmp, strlen(tmp));
        break;
    }
    case VMDB_T_BOOL:
        if (jt == VMDB_JSON_TRUE || jt == VMDB_JSON_FALSE) {
            *out = jt == VMDB_JSON_TRUE ? "true" : "false";
            return 0;
        } else if (jt == VMDB_JSON_STRING) {
            size_t b = 0, e = s.len;
            while (b < e &&
                   (s.ptr[b] == ' ' || s.ptr[b] == '\t' || s.ptr[b] == '\n' || s.ptr[b] == '\r'))
                b++;
            while (e > b && (s.ptr[e - 1] == ' ' || s.ptr[e - 1] == '\t' || s.ptr[e - 1] == '\n' ||
                             s.ptr[e - 1] == '\r'))
                e--;
            char w[8] = {0};
            if (e - b == 0 || e - b > 5)
                return VMDB_EINVAL;
            for (size_t i = b; i < e; i++)
                w[i - b] = (char)((s.ptr[i] >= 'A' && s.ptr[i] <= 'Z') ? s.ptr[i] + 32 : s.ptr[i]);
            if (!strcmp(w, "true") || !strcmp(w, "t") || !strcmp(w, "1"))
                *out = "true";
            else if (!strcmp(w, "false") || !strcmp(w, "f") || !strcmp(w, "0"))
                *out = "false";
            else
                return VMDB_EINVAL;
            return 0;
        }
        return VMDB_EINVAL;
    case VMDB_T_UUID: {
        char u[37];
        if (jt != VMDB_JSON_STRING || !canon_uuid((const char *)s.ptr, s.len, u))
            return VMDB_EINVAL;
        *out = vmdb_arena_strndup(a, u, 36);
        break;
    }
    case VMDB_T_TIMESTAMPTZ:
        if (jt != VMDB_JSON_STRING || !rfc3339((const char *)s.ptr, s.len))
            return VMDB_EINVAL;
        *out = vmdb_arena_strndup(a, (const char *)s.ptr, s.len);
        break;
    case VMDB_T_JSONB:
        *out = jcs_text(a, v);
        break;
    case VMDB_T_NUMERIC:
        if (jt != VMDB_JSON_STRING && jt != VMDB_JSON_NUMBER)
            return VMDB_EINVAL;
        /* fallthrough */
    default: /* text and other types: strings as given, anything else as JSON text */
        if (jt == VMDB_JSON_STRING)
            *out = vmdb_arena_strndup(a, (const char *)s.ptr, s.len);
        else
            *out = jcs_text(a, v);
    }
    return *out ? 0 : VMDB_ENOMEM;
}

static int cmp_cval(const void *x, const void *y)
{
    return strcmp(((const vmdb_cval *)x)->col->name, ((const vmdb_cval *)y)->col->name);
}

int vmdb_coerce_records(vmdb_arena *a, const vmdb_model *m, const vmdb_json *records, bool need_pk,
                        vmdb_crec **out, vmdb_field_errors *errors)
{
    size_t n = vmdb_json_size(records);
    vmdb_crec *recs = vmdb_arena_zalloc(a, (n ? n : 1) * sizeof *recs);
    vmdb_column *pkcol = vmdb_arena_zalloc(a, sizeof *pkcol);
    if (!recs || !pkcol)
        return VMDB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const vmdb_json *r = vmdb_json_at(records, i);
        int rc = 0;
        if (vmdb_json_typeof(r) != VMDB_JSON_OBJECT) {
            rc = vmdb_field_errors_add(a, errors, i, "<record>", "object", vmdb_json_type_name(r),
                                       r);
            if (rc)
                return rc;
            continue;
        }
        if (need_pk && !vmdb_json_get(r, m->pk)) {
            rc = vmdb_field_errors_add(a, errors, i, m->pk, "present", "missing", NULL);
            if (rc)
                return rc;
            continue;
        }
        size_t nm = vmdb_json_size(r);
        recs[i].v = vmdb_arena_zalloc(a, (nm ? nm : 1) * sizeof(vmdb_cval));
        if (!recs[i].v)
            return VMDB_ENOMEM;
        for (size_t j = 0; j < nm; j++) {
            vmdb_slice k = vmdb_json_key_at(r, j);
            const vmdb_json *val = vmdb_json_value_at(r, j);
            char *key = vmdb_arena_strndup(a, (const char *)k.ptr, k.len);
            if (!key)
                return VMDB_ENOMEM;
            bool has_nul = memchr(k.ptr, 0, k.len) != NULL;
            /* Column names are lower case; PostgreSQL folds unquoted
             * identifiers the same way, so "Name" means column name. */
            char *low = vmdb_arena_strndup(a, key, strlen(key));
            if (!low)
                return VMDB_ENOMEM;
            for (char *p = low; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p + 32);
            const vmdb_column *c = has_nul ? NULL : vmdb_model_column(m, low, pkcol);
            if (!c) {
                if ((rc = vmdb_field_errors_add(a, errors, i, has_nul ? "<key with U+0000>" : key,
                                                "column", "unknown", val)))
                    return rc;
                continue;
            }
            bool dup = false;
            for (size_t q = 0; q < recs[i].n && !dup; q++)
                dup = strcmp(recs[i].v[q].col->name, c->name) == 0;
            if (dup) {
                if ((rc = vmdb_field_errors_add(a, errors, i, key, "column", "duplicate", val)))
                    return rc;
                continue;
            }
            const char *text, *got;
            bool is_pk = strcmp(c->name, m->pk) == 0;
            /* The key is coerced by the key's type, so its text is the
             * canonical form PostgreSQL renders with ::text. */
            vmdb_ctype t = is_pk ? m->pk_type : c->type;
            if (c == pkcol) {
                c = vmdb_arena_zalloc(a, sizeof *c);
                if (!c)
                    return VMDB_ENOMEM;
                *(vmdb_column *)c = *pkcol;
            }
            rc = vmdb_coerce_value(a, t, val, &text, &got);
            if (rc == VMDB_ENOMEM)
                return rc;
            if (rc == 0 && is_pk && !text)
                rc = VMDB_EINVAL; /* a key cannot be NULL */
            if (rc) {
                if ((rc = vmdb_field_errors_add(
                         a, errors, i, c->name,
                         is_pk ? vmdb_ctype_name(t) : vmdb_ctype_name(c->type), got, val)))
                    return rc;
                continue;
            }
            if (is_pk)
                recs[i].pk_text = text;
            recs[i].v[recs[i].n++] = (vmdb_cval){c, text};
        }
        qsort(recs[i].v, recs[i].n, sizeof(vmdb_cval), cmp_cval);
    }
    *out = recs;
    return 0;
}
