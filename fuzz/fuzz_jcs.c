/*
 * Fuzz target for the JSON parser and the RFC 8785 (JCS) writer of
 * PROTOCOL.md §2.1. Arbitrary bytes are canonicalised (1 MiB, depth 64);
 * when they are accepted the target checks, with code of its own rather
 * than the library's: that the input was valid UTF-8; that every object's
 * members come out strictly ascending in UTF-16 code-unit order; that the
 * output is in canonical form (no whitespace, no raw byte below 0x20, only
 * the minimal escapes, valid UTF-8); that it parses back to the same value
 * and canonicalises to itself byte for byte. Independently it checks the
 * number form: the first 8 input bytes, read as a double, must print (via
 * vmdb_jcs_number) as the shortest ECMAScript form that strtod reads back
 * to the same double ("0" for -0), laid out as §2.1 prescribes, and that
 * text must be accepted by the parser unchanged; it also checks
 * vmdb_jcs_string on the raw input against its own UTF-8 validator. Any
 * violation abort()s.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdb/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vmdb_json_limits in_limits = {(size_t)1 << 20, 64};
/* The canonical form can be longer than its input ("1e20" becomes 21
 * digits), so it is re-read under the default size cap. */
static const vmdb_json_limits out_limits = {0, 64};

#define MAX_NUMBER_CHECKS 32

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_jcs: property violated: %s (last error: %s)\n", what,
                vmdb_error_last());
        abort();
    }
}

/* --- UTF-8 and UTF-16 order, written independently of the library ------ */

/* Decodes one well-formed UTF-8 sequence (no overlongs, no surrogates, at
 * most U+10FFFF) at s[0..n). Returns its length (0 if malformed). */
static size_t utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t len;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        c &= 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        c &= 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_next(s + i, n - i, &cp);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

/* Appends the UTF-16 code units of valid UTF-8 `s` to u (room for 2n). */
static size_t to_utf16(const uint8_t *s, size_t n, uint16_t *u)
{
    size_t i = 0, m = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t l = utf8_next(s + i, n - i, &cp);
        check(l != 0, "parser kept invalid UTF-8 in a string");
        i += l;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[m++] = (uint16_t)(0xD800 + (cp >> 10));
            u[m++] = (uint16_t)(0xDC00 + (cp & 0x3FF));
        } else {
            u[m++] = (uint16_t)cp;
        }
    }
    return m;
}

/* <0, 0, >0 as a compares to b as UTF-16 code-unit sequences. */
static int utf16_cmp(vmdb_slice a, vmdb_slice b)
{
    uint16_t *ua = malloc((2 * a.len + 1) * sizeof(uint16_t));
    uint16_t *ub = malloc((2 * b.len + 1) * sizeof(uint16_t));
    check(ua && ub, "out of memory");
    size_t na = to_utf16(a.ptr, a.len, ua), nb = to_utf16(b.ptr, b.len, ub);
    int r = 0;
    for (size_t i = 0; r == 0 && i < na && i < nb; i++)
        r = ua[i] < ub[i] ? -1 : ua[i] > ub[i];
    if (r == 0)
        r = na < nb ? -1 : na > nb;
    free(ua);
    free(ub);
    return r;
}

/* --- the number form --------------------------------------------------- */

/* strtod over a slice (copied so that it is NUL-terminated). Sets *all
 * when every byte was consumed. */
static double slice_strtod(const uint8_t *p, size_t n, int *all)
{
    char tmp[64];
    char *end = NULL;
    check(n < sizeof(tmp), "number text too long");
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    double d = strtod(tmp, &end);
    *all = end == tmp + n && n > 0;
    return d;
}

/* Decimal s (k digits) × 10^e as text, parsed. */
static double digits_value(const char *s, int e)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%se%d", s, e);
    return strtod(tmp, NULL);
}

/* Rounds d (> 0) correctly to p significant digits: digits into dg (p of
 * them, NUL-terminated), value = dg × 10^*e. */
static void round_digits(double d, int p, char dg[24], int *e)
{
    char tmp[48];
    int n = 0;
    snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
    const char *c = tmp;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9')
            dg[n++] = *c;
    dg[n] = '\0';
    *e = (int)strtol(c + 1, NULL, 10) - (p - 1);
}

/* Adds delta (+1 or -1) to the decimal digit string s in place; it may
 * grow by one digit or keep leading zeros. Returns 0 if it would go
 * negative. */
static int digits_add(char *s, int delta)
{
    int n = (int)strlen(s);
    for (int i = n - 1; i >= 0; i--) {
        int v = s[i] - '0' + delta;
        if (v >= 0 && v <= 9) {
            s[i] = (char)('0' + v);
            return 1;
        }
        s[i] = delta > 0 ? '0' : '9';
    }
    if (delta < 0)
        return 0;
    memmove(s + 1, s, (size_t)n + 1);
    s[0] = '1';
    return 1;
}

/* Lays out digits (k of them, first non-zero, last non-zero) with value
 * 0.digits × 10^n as PROTOCOL.md §2.1 prescribes. */
static size_t expected_layout(char *out, size_t cap, int neg, const char *dg, int k, int n)
{
    size_t m = 0;
    if (neg)
        out[m++] = '-';
    if (k <= n && n <= 21) {
        memcpy(out + m, dg, (size_t)k);
        m += (size_t)k;
        for (int i = 0; i < n - k; i++)
            out[m++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + m, dg, (size_t)n);
        m += (size_t)n;
        out[m++] = '.';
        memcpy(out + m, dg + n, (size_t)(k - n));
        m += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        out[m++] = '0';
        out[m++] = '.';
        for (int i = 0; i < -n; i++)
            out[m++] = '0';
        memcpy(out + m, dg, (size_t)k);
        m += (size_t)k;
    } else {
        out[m++] = dg[0];
        if (k > 1) {
            out[m++] = '.';
            memcpy(out + m, dg + 1, (size_t)(k - 1));
            m += (size_t)(k - 1);
        }
        m += (size_t)snprintf(out + m, cap - m, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    return m;
}

/* Checks vmdb_jcs_number(d) for a finite d. */
static void check_number(double d)
{
    vmdb_buf b = VMDB_BUF_INIT;
    int all = 0;

    check(vmdb_buf_put(&b, "#", 1) == 0, "out of memory");
    check(vmdb_jcs_number(&b, d) == 0, "vmdb_jcs_number failed on a finite double");
    char t[48];
    size_t n = b.len - 1;
    check(b.ptr[0] == '#', "vmdb_jcs_number overwrote the buffer");
    check(n > 0 && n < 40, "number text has an odd length");
    memcpy(t, b.ptr + 1, n);
    t[n] = '\0';
    if (d == 0) {
        check(n == 1 && t[0] == '0', "zero (or -0) is not written as 0");
        vmdb_buf_free(&b);
        return;
    }
    double back = slice_strtod((const uint8_t *)t, n, &all);
    check(all && back == d, "number text does not read back to the same double");

    /* Recover the significant digits and the exponent n of 0.digits×10^n
     * from the text, then lay them out again by the rules. */
    char dg[48];
    int k = 0, point = -1, exp10 = 0, seen_nonzero = 0, lead_zeros_after_point = 0;
    size_t i = 0;
    int neg = t[0] == '-';
    if (neg)
        i++;
    int intdigits = 0;
    for (; i < n && t[i] != 'e'; i++) {
        if (t[i] == '.') {
            point = intdigits;
            continue;
        }
        check(t[i] >= '0' && t[i] <= '9', "stray character in number text");
        if (point < 0)
            intdigits++;
        if (t[i] == '0' && !seen_nonzero) {
            if (point >= 0)
                lead_zeros_after_point++;
            continue;
        }
        seen_nonzero = 1;
        dg[k++] = t[i];
    }
    if (i < n) {
        exp10 = (int)strtol(t + i + 1, NULL, 10);
        check(t[i + 1] == '+' || t[i + 1] == '-', "exponent without a sign");
    }
    /* Trailing zeros of an integer are not significant. */
    while (k > 1 && dg[k - 1] == '0')
        k--;
    dg[k] = '\0';
    check(k > 0 && k <= 17, "no significant digit, or more than 17");
    int nexp;
    if (intdigits > 0 && !(intdigits == 1 && t[neg] == '0'))
        nexp = intdigits + exp10;
    else
        nexp = -lead_zeros_after_point + exp10;
    char want[64];
    size_t wl = expected_layout(want, sizeof(want), neg, dg, k, nexp);
    check(wl == n && memcmp(want, t, n) == 0, "number layout differs from the spec");

    /* Shortest: no decimal with k-1 significant digits reads back to d. */
    double a = fabs(d);
    if (k > 1) {
        char r[24];
        int e;
        round_digits(a, k - 1, r, &e);
        char c1[24], c2[24];
        memcpy(c1, r, sizeof(c1));
        memcpy(c2, r, sizeof(c2));
        check(digits_value(r, e) != a, "a shorter decimal reads back to the same double");
        if (digits_add(c1, 1))
            check(digits_value(c1, e) != a, "a shorter decimal reads back to the same double");
        if (digits_add(c2, -1) && strspn(c2, "0") != strlen(c2))
            check(digits_value(c2, e) != a, "a shorter decimal reads back to the same double");
    }
    /* Closest: if the correctly rounded k-digit decimal reads back to d it
     * is the one ECMAScript chooses. */
    {
        char r[24];
        int e;
        round_digits(a, k, r, &e);
        if (digits_value(r, e) == a) {
            int rk = (int)strlen(r);
            while (rk > 1 && r[rk - 1] == '0')
                rk--;
            check(rk == k && memcmp(r, dg, (size_t)k) == 0,
                  "number digits are not the closest shortest decimal");
        }
    }

    /* The canonical text is accepted by the parser and is its own JCS. */
    vmdb_buf c = VMDB_BUF_INIT;
    check(vmdb_jcs_canonicalize(&c, (vmdb_slice){(const uint8_t *)t, n}, &in_limits) == 0,
          "parser rejects the canonical form of a double");
    check(c.len == n && memcmp(c.ptr, t, n) == 0, "canonical number is not a fixed point");
    vmdb_buf_free(&c);
    vmdb_buf_free(&b);
}

/* --- the round-trip rule on the input's own literals -------------------- */

/* Length of the JSON number literal (RFC 8259 grammar, maximal) at s, or
 * 0 if none starts there. */
static size_t number_token(const uint8_t *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && s[j] >= '0' && s[j] <= '9') {
            while (j < n && s[j] >= '0' && s[j] <= '9')
                j++;
            i = j;
        }
    }
    return i;
}

/* The decimal value of a literal: sign, significant digits (no leading or
 * trailing zeros; none for zero) and n with value = 0.digits × 10^n. */
typedef struct decimal {
    int neg;
    size_t nd; /* digits are written to the caller's array */
    long long n;
} decimal;

static void to_decimal(const uint8_t *s, size_t len, decimal *d, char *digits, size_t cap)
{
    size_t i = 0, nd = 0;
    long long intpos = 0, lead = 0, e = 0;
    int point = 0, nonzero = 0, eneg = 0;
    memset(d, 0, sizeof(*d));
    if (i < len && s[i] == '-') {
        d->neg = 1;
        i++;
    }
    for (; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            point = 1;
            continue;
        }
        if (!point)
            intpos++;
        if (!nonzero && s[i] == '0') {
            lead++;
            continue;
        }
        nonzero = 1;
        check(nd < cap, "literal too long for the checker");
        digits[nd++] = (char)s[i];
    }
    if (i < len) {
        i++;
        if (s[i] == '+' || s[i] == '-')
            eneg = s[i++] == '-';
        for (; i < len; i++)
            if (e < 1000000000000LL)
                e = e * 10 + (s[i] - '0');
    }
    while (nd > 0 && digits[nd - 1] == '0')
        nd--;
    d->nd = nd;
    /* value = 0.d1d2... × 10^(intpos - lead) × 10^e, where `lead` counts
     * the zeros before the first significant digit. */
    d->n = intpos - lead + (eneg ? -e : e);
}

/* 1 if the literal obeys the round-trip rule of PROTOCOL.md §2.1: the
 * double it parses to prints (as JCS) to the same decimal number. */
static int literal_roundtrips(const uint8_t *s, size_t len)
{
    char a[1100], b[64];
    decimal x, y;
    if (len >= 1024)
        return 0;
    char lit[1100];
    memcpy(lit, s, len);
    lit[len] = '\0';
    double v = strtod(lit, NULL);
    if (!isfinite(v))
        return 0;
    to_decimal(s, len, &x, a, sizeof(a));
    vmdb_buf out = VMDB_BUF_INIT;
    check(vmdb_jcs_number(&out, v) == 0 && out.len < sizeof(b), "vmdb_jcs_number failed");
    to_decimal(out.ptr, out.len, &y, b, sizeof(b));
    vmdb_buf_free(&out);
    if (x.nd == 0 || y.nd == 0)
        return x.nd == y.nd;
    return x.neg == y.neg && x.nd == y.nd && x.n == y.n && memcmp(a, b, x.nd) == 0;
}

/* Scans the input's number literals outside strings. Returns how many
 * break the round-trip rule (scanning stops at the first byte that cannot
 * start a token, which only happens in rejected input). */
static size_t count_bad_literals(const uint8_t *s, size_t n)
{
    size_t bad = 0, i = 0;
    int in_str = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            i++;
            continue;
        }
        size_t t = number_token(s + i, n - i);
        if (t) {
            bad += !literal_roundtrips(s + i, t);
            i += t;
            continue;
        }
        i++;
    }
    return bad;
}

/* --- documents --------------------------------------------------------- */

/* Walks a parsed input: strings valid UTF-8, members strictly ascending in
 * UTF-16 order, numbers finite (and, a bounded number of them, printed
 * correctly). */
static void walk(const vmdb_json *v, size_t depth, int *nnum)
{
    check(depth <= 64, "document deeper than the depth cap");
    switch (vmdb_json_typeof(v)) {
    case VMDB_JSON_NULL:
    case VMDB_JSON_FALSE:
    case VMDB_JSON_TRUE:
        break;
    case VMDB_JSON_NUMBER: {
        double d = vmdb_json_number(v);
        check(isfinite(d), "parser accepted a non-finite number");
        if ((*nnum)++ < MAX_NUMBER_CHECKS)
            check_number(d);
        break;
    }
    case VMDB_JSON_STRING: {
        vmdb_slice s = vmdb_json_string(v);
        check(utf8_valid(s.ptr, s.len), "parser accepted a string that is not UTF-8");
        break;
    }
    case VMDB_JSON_ARRAY:
        for (size_t i = 0; i < vmdb_json_size(v); i++) {
            const vmdb_json *e = vmdb_json_at(v, i);
            check(e != NULL, "array element missing");
            walk(e, depth + 1, nnum);
        }
        check(vmdb_json_at(v, vmdb_json_size(v)) == NULL, "array index past the end");
        break;
    case VMDB_JSON_OBJECT:
        for (size_t i = 0; i < vmdb_json_size(v); i++) {
            vmdb_slice k = vmdb_json_key_at(v, i);
            check(utf8_valid(k.ptr, k.len), "parser accepted a member name that is not UTF-8");
            if (i > 0)
                check(utf16_cmp(vmdb_json_key_at(v, i - 1), k) < 0,
                      "members not strictly ascending in UTF-16 order");
            const vmdb_json *e = vmdb_json_value_at(v, i);
            check(e != NULL, "member value missing");
            walk(e, depth + 1, nnum);
        }
        break;
    default:
        check(0, "unknown value type");
    }
}

/* Deep equality of two parsed values (numbers by value: -0 equals 0). */
static int same_value(const vmdb_json *a, const vmdb_json *b)
{
    vmdb_json_type t = vmdb_json_typeof(a);
    if (t != vmdb_json_typeof(b))
        return 0;
    switch (t) {
    case VMDB_JSON_NUMBER:
        return vmdb_json_number(a) == vmdb_json_number(b);
    case VMDB_JSON_STRING: {
        vmdb_slice x = vmdb_json_string(a), y = vmdb_json_string(b);
        return x.len == y.len && (x.len == 0 || memcmp(x.ptr, y.ptr, x.len) == 0);
    }
    case VMDB_JSON_ARRAY:
        if (vmdb_json_size(a) != vmdb_json_size(b))
            return 0;
        for (size_t i = 0; i < vmdb_json_size(a); i++)
            if (!same_value(vmdb_json_at(a, i), vmdb_json_at(b, i)))
                return 0;
        return 1;
    case VMDB_JSON_OBJECT:
        if (vmdb_json_size(a) != vmdb_json_size(b))
            return 0;
        for (size_t i = 0; i < vmdb_json_size(a); i++) {
            vmdb_slice x = vmdb_json_key_at(a, i), y = vmdb_json_key_at(b, i);
            if (x.len != y.len || (x.len && memcmp(x.ptr, y.ptr, x.len) != 0))
                return 0;
            if (!same_value(vmdb_json_value_at(a, i), vmdb_json_value_at(b, i)))
                return 0;
        }
        return 1;
    default:
        return 1;
    }
}

static int is_hex_lower(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static unsigned hex_val(uint8_t c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* Checks the canonical text lexically: valid UTF-8, no raw byte below
 * 0x20, nothing but tokens outside strings, and inside strings only the
 * escapes RFC 8785 emits. */
static void check_canonical_text(const uint8_t *s, size_t n)
{
    check(utf8_valid(s, n), "canonical output is not UTF-8");
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        check(c >= 0x20, "raw control byte in canonical output");
        if (!in_str) {
            check(strchr("{}[],:\"-+.0123456789etrufalsn", c) != NULL,
                  "unexpected byte outside strings in canonical output");
            if (c == '"')
                in_str = 1;
            continue;
        }
        if (c == '"') {
            in_str = 0;
        } else if (c == '\\') {
            check(i + 1 < n, "escape at the end of the output");
            uint8_t e = s[++i];
            if (e == 'u') {
                check(i + 4 < n && s[i + 1] == '0' && s[i + 2] == '0' && is_hex_lower(s[i + 3]) &&
                          is_hex_lower(s[i + 4]),
                      "\\u escape that is not \\u00xx in lower case");
                unsigned v = hex_val(s[i + 3]) * 16 + hex_val(s[i + 4]);
                check(v < 0x20 && v != 0x08 && v != 0x09 && v != 0x0A && v != 0x0C && v != 0x0D,
                      "\\u escape for a character that has a short form or needs none");
                i += 4;
            } else {
                check(strchr("\"\\bfnrt", e) != NULL && e != 0, "escape RFC 8785 does not emit");
            }
        }
    }
    check(!in_str, "unterminated string in canonical output");
}

/* vmdb_jcs_string on raw bytes agrees with the UTF-8 validator, and a
 * valid string survives the trip through its literal. */
static void check_string(const uint8_t *data, size_t size)
{
    vmdb_buf b = VMDB_BUF_INIT;
    int ok = utf8_valid(data, size);
    check(vmdb_buf_put(&b, "#", 1) == 0, "out of memory");
    int rc = vmdb_jcs_string(&b, (vmdb_slice){data, size});
    if (!ok) {
        check(rc == VMDB_EPARSE, "vmdb_jcs_string accepted invalid UTF-8");
        check(b.len == 1, "vmdb_jcs_string left bytes behind on error");
        vmdb_buf_free(&b);
        return;
    }
    check(rc == 0, "vmdb_jcs_string rejected valid UTF-8");
    check_canonical_text(b.ptr + 1, b.len - 1);
    vmdb_json_doc *doc = NULL;
    check(vmdb_json_parse(&doc, (vmdb_slice){b.ptr + 1, b.len - 1}, &out_limits) == 0,
          "string literal from vmdb_jcs_string does not parse");
    const vmdb_json *r = vmdb_json_doc_root(doc);
    check(vmdb_json_typeof(r) == VMDB_JSON_STRING, "string literal parsed to another type");
    vmdb_slice s = vmdb_json_string(r);
    check(s.len == size && (size == 0 || memcmp(s.ptr, data, size) == 0),
          "string literal does not parse back to its bytes");
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmdb_slice in = {data, size};
    vmdb_buf out = VMDB_BUF_INIT, again = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL, *doc2 = NULL;

    if (size >= 8) {
        double d;
        memcpy(&d, data, 8);
        if (isfinite(d)) {
            check_number(d);
        } else {
            vmdb_buf b = VMDB_BUF_INIT;
            check(vmdb_jcs_number(&b, d) == VMDB_EINVAL && b.len == 0,
                  "vmdb_jcs_number accepted NaN or Infinity");
            vmdb_buf_free(&b);
        }
    }
    if (size <= 4096)
        check_string(data, size);

    /* Canonicalise after a sentinel byte: on error the buffer must be as
     * it was. */
    check(vmdb_buf_put(&out, "#", 1) == 0, "out of memory");
    int rc = vmdb_jcs_canonicalize(&out, in, &in_limits);
    int prc = vmdb_json_parse(&doc, in, &in_limits);
    check(rc == prc, "canonicalize and parse disagree on the input");
    if (rc != 0) {
        check(rc == VMDB_EPARSE || rc == VMDB_ERANGE || rc == VMDB_ELIMIT || rc == VMDB_ENOMEM,
              "undocumented error code");
        check(out.len == 1 && out.ptr[0] == '#', "output changed on error");
        if (rc == VMDB_ERANGE)
            check(count_bad_literals(data, size) > 0,
                  "a number was refused that obeys the round-trip rule");
        vmdb_json_doc_free(doc);
        vmdb_buf_free(&out);
        return 0;
    }
    const uint8_t *c = out.ptr + 1;
    size_t cn = out.len - 1;

    check(utf8_valid(data, size), "accepted input is not UTF-8");
    check(count_bad_literals(data, size) == 0,
          "a number was accepted that breaks the round-trip rule");
    int nnum = 0;
    walk(vmdb_json_doc_root(doc), 0, &nnum);
    check_canonical_text(c, cn);

    /* Idempotence, and the output means what the input meant. */
    check(vmdb_jcs_canonicalize(&again, (vmdb_slice){c, cn}, &out_limits) == 0,
          "canonical output is rejected");
    check(again.len == cn && memcmp(again.ptr, c, cn) == 0, "canonicalisation is not idempotent");
    check(vmdb_json_parse(&doc2, (vmdb_slice){c, cn}, &out_limits) == 0,
          "canonical output does not parse");
    check(same_value(vmdb_json_doc_root(doc), vmdb_json_doc_root(doc2)),
          "canonical output has another value than the input");

    /* vmdb_jcs_write over the parsed document gives the same bytes. */
    vmdb_buf w = VMDB_BUF_INIT;
    check(vmdb_jcs_write(&w, vmdb_json_doc_root(doc)) == 0, "vmdb_jcs_write failed");
    check(w.len == cn && memcmp(w.ptr, c, cn) == 0, "vmdb_jcs_write differs from canonicalize");
    vmdb_buf_free(&w);

    vmdb_json_doc_free(doc);
    vmdb_json_doc_free(doc2);
    vmdb_buf_free(&out);
    vmdb_buf_free(&again);
    return 0;
}
