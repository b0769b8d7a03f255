/*
 * Strict JSON parser for canonicalisation. Everything a JCS hash depends on
 * is decided here: strings are validated UTF-8 and unescaped, lone
 * surrogates and duplicate member names are errors, object members are
 * sorted in JCS order (UTF-16 code units), and a number is accepted only if
 * its decimal value is exactly the double it becomes (the round-trip rule of
 * PROTOCOL.md §2.1). Values live in one arena owned by the document; the
 * recursion depth and the input size are capped so that network input
 * cannot exhaust the stack or memory.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json_internal.h"

#define JSON_DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define JSON_DEFAULT_MAX_DEPTH 128
#define JSON_MAX_NUMBER_CHARS 1024
#define ARENA_BLOCK 65536

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

struct vmdb_json_doc {
    arena_block *blocks;
    vmdb_json *root;
};

typedef struct parser {
    const uint8_t *start, *p, *end;
    size_t depth, max_depth;
    vmdb_json_doc *doc;
    /* Scratch stacks reused by every array/object while it is open. */
    vmdb_json **items;
    size_t nitems, citems;
    vmdb_json_member *members;
    size_t nmembers, cmembers;
    vmdb_buf str; /* unescaped string being built */
} parser;

static void *arena_alloc(vmdb_json_doc *doc, size_t n)
{
    arena_block *b = doc->blocks;
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof(arena_block) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = doc->blocks;
        doc->blocks = b;
    }
    void *r = (uint8_t *)b->data + b->used;
    b->used += n;
    return r;
}

static int fail(parser *ps, int code, const char *what)
{
    return vmdb_error_set(code, "JSON %s at byte %zu", what, (size_t)(ps->p - ps->start));
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Decodes one UTF-8 sequence at s (n bytes available). Returns its length
 * and the code point, or 0 when the bytes are not well-formed UTF-8
 * (overlong forms, surrogates and values above U+10FFFF included). */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        *cp = (uint32_t)(c & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
            return 0;
        *cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
            return 0;
        *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
              (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        return 4;
    }
    return 0;
}

static int put_utf8(vmdb_buf *b, uint32_t cp)
{
    uint8_t o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (uint8_t)(0xF0 | cp >> 18);
        o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return vmdb_buf_put(b, o, n);
}

static int hex4(parser *ps, uint32_t *out)
{
    uint32_t v = 0;
    if (ps->end - ps->p < 4)
        return fail(ps, VMDB_EPARSE, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        uint8_t c = ps->p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10u;
        else
            return fail(ps, VMDB_EPARSE, "bad \\u escape");
        v = v << 4 | d;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

/* Parses a string literal (ps->p at the opening quote) into ps->str. */
static int parse_string_raw(parser *ps)
{
    int rc = 0;
    ps->str.len = 0;
    ps->p++;
    for (;;) {
        const uint8_t *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && *ps->p >= 0x20 &&
               *ps->p < 0x80)
            ps->p++;
        if ((rc = vmdb_buf_put(&ps->str, run, (size_t)(ps->p - run))) != 0)
            return rc;
        if (ps->p >= ps->end)
            return fail(ps, VMDB_EPARSE, "unterminated string");
        uint8_t c = *ps->p;
        if (c == '"') {
            ps->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(ps, VMDB_EPARSE, "raw control character in string");
        if (c >= 0x80) {
            uint32_t cp;
            size_t n = utf8_decode(ps->p, (size_t)(ps->end - ps->p), &cp);
            if (!n)
                return fail(ps, VMDB_EPARSE, "invalid UTF-8");
            if ((rc = vmdb_buf_put(&ps->str, ps->p, n)) != 0)
                return rc;
            ps->p += n;
            continue;
        }
        /* backslash */
        ps->p++;
        if (ps->p >= ps->end)
            return fail(ps, VMDB_EPARSE, "unterminated escape");
        c = *ps->p++;
        uint8_t out;
        switch (c) {
        case '"':
            out = '"';
            break;
        case '\\':
            out = '\\';
            break;
        case '/':
            out = '/';
            break;
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            if ((rc = hex4(ps, &cp)) != 0)
                return rc;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(ps, VMDB_EPARSE, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    return fail(ps, VMDB_EPARSE, "lone high surrogate");
                ps->p += 2;
                if ((rc = hex4(ps, &lo)) != 0)
                    return rc;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, VMDB_EPARSE, "lone high surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if ((rc = put_utf8(&ps->str, cp)) != 0)
                return rc;
            continue;
        }
        default:
            return fail(ps, VMDB_EPARSE, "bad escape");
        }
        if ((rc = vmdb_buf_putc(&ps->str, out)) != 0)
            return rc;
    }
}

static int parse_string(parser *ps, vmdb_json **out)
{
    int rc = parse_string_raw(ps);
    if (rc)
        return rc;
    vmdb_json *v = arena_alloc(ps->doc, sizeof(*v) + ps->str.len);
    if (!v)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
    uint8_t *s = (uint8_t *)(v + 1);
    if (ps->str.len)
        memcpy(s, ps->str.ptr, ps->str.len);
    v->type = VMDB_JSON_STRING;
    v->n = ps->str.len;
    v->u.str = s;
    *out = v;
    return 0;
}

/* Compares a literal's decimal value with the double's shortest form. The
 * literal is sign? int frac? exp?; both sides are reduced to significant
 * digits without leading/trailing zeros and an exponent n with
 * value = 0.digits × 10^n. */
static bool roundtrips(const char *lit, size_t len, double d)
{
    char digs[JSON_MAX_NUMBER_CHARS];
    size_t nd = 0;
    long exp10 = 0, e = 0;
    bool seen_point = false, seen_nonzero = false;
    size_t i = 0;

    if (lit[i] == '-')
        i++;
    for (; i < len && lit[i] != 'e' && lit[i] != 'E'; i++) {
        if (lit[i] == '.') {
            seen_point = true;
            continue;
        }
        if (!seen_nonzero && lit[i] == '0') {
            /* leading zero: after the point it shifts the exponent down */
            if (seen_point)
                exp10--;
            continue;
        }
        seen_nonzero = true;
        digs[nd++] = lit[i];
        if (!seen_point)
            exp10++;
    }
    if (i < len) {
        bool neg = false;
        i++;
        if (lit[i] == '+' || lit[i] == '-')
            neg = lit[i++] == '-';
        for (; i < len; i++)
            if (e < 1000000)
                e = e * 10 + (lit[i] - '0');
        exp10 += neg ? -e : e;
    }
    while (nd && digs[nd - 1] == '0')
        nd--;
    if (nd == 0)
        return d == 0;
    if (d == 0 || !isfinite(d))
        return false;
    char sd[18];
    int sn;
    int k = vmdb_jcs_shortest(fabs(d), sd, &sn);
    return (size_t)k == nd && sn == exp10 && memcmp(sd, digs, nd) == 0;
}

static int parse_number(parser *ps, vmdb_json **out)
{
    const uint8_t *s = ps->p;
    bool is_int = true;
    size_t intdigits = 0;

    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end)
        return fail(ps, VMDB_EPARSE, "bad number");
    if (*ps->p == '0') {
        ps->p++;
        intdigits = 1;
    } else if (*ps->p >= '1' && *ps->p <= '9') {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            ps->p++;
            intdigits++;
        }
    } else {
        return fail(ps, VMDB_EPARSE, "bad number");
    }
    if (ps->p < ps->end && *ps->p == '.') {
        is_int = false;
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, VMDB_EPARSE, "bad number fraction");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_int = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, VMDB_EPARSE, "bad number exponent");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    size_t len = (size_t)(ps->p - s);
    if (len >= JSON_MAX_NUMBER_CHARS)
        return fail(ps, VMDB_ELIMIT, "number literal too long");
    char lit[JSON_MAX_NUMBER_CHARS];
    memcpy(lit, s, len);
    lit[len] = '\0';
    errno = 0;
    double d = strtod(lit, NULL);
    /* Integers of up to 15 digits always survive the trip through a
     * double; everything else is checked digit by digit. */
    if (!(is_int && intdigits <= 15) && !roundtrips(lit, len, d))
        return vmdb_error_set(VMDB_ERANGE,
                              "JSON number %.40s%s is not exactly representable as an "
                              "IEEE-754 double; send it as a string",
                              lit, len > 40 ? "..." : "");
    vmdb_json *v = arena_alloc(ps->doc, sizeof(*v));
    if (!v)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
    v->type = VMDB_JSON_NUMBER;
    v->n = is_int; /* for numbers: 1 when written without fraction or exponent */
    v->u.num = d;
    *out = v;
    return 0;
}

/* Iterates a UTF-8 string (already validated) as UTF-16 code units. */
typedef struct u16iter {
    const uint8_t *p, *end;
    uint16_t pending;
} u16iter;

static int u16next(u16iter *it)
{
    uint32_t cp = 0;
    if (it->pending) {
        int r = it->pending;
        it->pending = 0;
        return r;
    }
    if (it->p >= it->end)
        return -1;
    it->p += utf8_decode(it->p, (size_t)(it->end - it->p), &cp);
    if (cp >= 0x10000) {
        cp -= 0x10000;
        it->pending = (uint16_t)(0xDC00 + (cp & 0x3FF));
        return (int)(0xD800 + (cp >> 10));
    }
    return (int)cp;
}

static int member_cmp(const void *a, const void *b)
{
    const vmdb_json_member *x = a, *y = b;
    u16iter i = {x->key, x->key + x->klen, 0}, j = {y->key, y->key + y->klen, 0};
    for (;;) {
        int c = u16next(&i), d = u16next(&j);
        if (c != d)
            return c < d ? -1 : 1;
        if (c < 0)
            return 0;
    }
}

static int parse_value(parser *ps, vmdb_json **out);

static int push_item(parser *ps, vmdb_json *v)
{
    if (ps->nitems == ps->citems) {
        size_t nc = ps->citems ? ps->citems * 2 : 64;
        vmdb_json **n = realloc(ps->items, nc * sizeof(*n));
        if (!n)
            return vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
        ps->items = n;
        ps->citems = nc;
    }
    ps->items[ps->nitems++] = v;
    return 0;
}

static int push_member(parser *ps, vmdb_json_member m)
{
    if (ps->nmembers == ps->cmembers) {
        size_t nc = ps->cmembers ? ps->cmembers * 2 : 64;
        vmdb_json_member *n = realloc(ps->members, nc * sizeof(*n));
        if (!n)
            return vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
        ps->members = n;
        ps->cmembers = nc;
    }
    ps->members[ps->nmembers++] = m;
    return 0;
}

static int parse_array(parser *ps, vmdb_json **out)
{
    int rc = 0;
    size_t base = ps->nitems;
    vmdb_json *v;

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            vmdb_json *item = NULL;
            if ((rc = parse_value(ps, &item)) != 0 || (rc = push_item(ps, item)) != 0)
                goto done;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            rc = fail(ps, VMDB_EPARSE, "expected ',' or ']'");
            goto done;
        }
    }
    size_t n = ps->nitems - base;
    v = arena_alloc(ps->doc, sizeof(*v) + n * sizeof(vmdb_json *));
    if (!v) {
        rc = vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
        goto done;
    }
    v->type = VMDB_JSON_ARRAY;
    v->n = n;
    v->u.items = (vmdb_json **)(v + 1);
    if (n)
        memcpy(v->u.items, ps->items + base, n * sizeof(vmdb_json *));
    *out = v;
done:
    ps->nitems = base;
    return rc;
}

static int parse_object(parser *ps, vmdb_json **out)
{
    int rc = 0;
    size_t base = ps->nmembers;
    vmdb_json *v;

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            vmdb_json_member m = {0};
            uint8_t *key;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') {
                rc = fail(ps, VMDB_EPARSE, "expected member name");
                goto done;
            }
            if ((rc = parse_string_raw(ps)) != 0)
                goto done;
            key = arena_alloc(ps->doc, ps->str.len ? ps->str.len : 1);
            if (!key) {
                rc = vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
                goto done;
            }
            if (ps->str.len)
                memcpy(key, ps->str.ptr, ps->str.len);
            m.key = key;
            m.klen = ps->str.len;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                rc = fail(ps, VMDB_EPARSE, "expected ':'");
                goto done;
            }
            ps->p++;
            if ((rc = parse_value(ps, &m.val)) != 0 || (rc = push_member(ps, m)) != 0)
                goto done;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            rc = fail(ps, VMDB_EPARSE, "expected ',' or '}'");
            goto done;
        }
    }
    size_t n = ps->nmembers - base;
    v = arena_alloc(ps->doc, sizeof(*v) + n * sizeof(vmdb_json_member));
    if (!v) {
        rc = vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
        goto done;
    }
    v->type = VMDB_JSON_OBJECT;
    v->n = n;
    v->u.members = (vmdb_json_member *)(v + 1);
    if (n) {
        memcpy(v->u.members, ps->members + base, n * sizeof(vmdb_json_member));
        qsort(v->u.members, n, sizeof(vmdb_json_member), member_cmp);
        for (size_t i = 1; i < n; i++)
            if (member_cmp(&v->u.members[i - 1], &v->u.members[i]) == 0) {
                rc = vmdb_error_set(VMDB_EPARSE, "JSON object has a duplicate member name");
                goto done;
            }
    }
    *out = v;
done:
    ps->nmembers = base;
    return rc;
}

static int parse_literal(parser *ps, const char *word, vmdb_json_type t, vmdb_json **out)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, VMDB_EPARSE, "unexpected token");
    ps->p += n;
    vmdb_json *v = arena_alloc(ps->doc, sizeof(*v));
    if (!v)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
    v->type = t;
    v->n = 0;
    *out = v;
    return 0;
}

static int parse_value(parser *ps, vmdb_json **out)
{
    int rc;
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, VMDB_EPARSE, "unexpected end of input");
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > ps->max_depth)
            return fail(ps, VMDB_ELIMIT, "nesting too deep");
        rc = *ps->p == '{' ? parse_object(ps, out) : parse_array(ps, out);
        ps->depth--;
        return rc;
    case '"':
        return parse_string(ps, out);
    case 't':
        return parse_literal(ps, "true", VMDB_JSON_TRUE, out);
    case 'f':
        return parse_literal(ps, "false", VMDB_JSON_FALSE, out);
    case 'n':
        return parse_literal(ps, "null", VMDB_JSON_NULL, out);
    default:
        return parse_number(ps, out);
    }
}

int vmdb_json_parse(vmdb_json_doc **out, vmdb_slice in, const vmdb_json_limits *lim)
{
    int rc = 0;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : JSON_DEFAULT_MAX_BYTES;
    parser ps = {0};
    vmdb_json_doc *doc = NULL;

    *out = NULL;
    if (in.len > max_bytes) {
        rc = vmdb_error_set(VMDB_ELIMIT, "JSON input of %zu bytes exceeds the cap of %zu", in.len,
                            max_bytes);
        goto done;
    }
    doc = calloc(1, sizeof(*doc));
    if (!doc) {
        rc = vmdb_error_set(VMDB_ENOMEM, "out of memory parsing JSON");
        goto done;
    }
    ps.start = ps.p = in.ptr;
    ps.end = in.ptr + in.len;
    ps.max_depth = lim && lim->max_depth ? lim->max_depth : JSON_DEFAULT_MAX_DEPTH;
    ps.doc = doc;
    ps.str.max = max_bytes;
    if ((rc = parse_value(&ps, &doc->root)) != 0)
        goto done;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        rc = fail(&ps, VMDB_EPARSE, "trailing characters after value");
        goto done;
    }
    *out = doc;
    doc = NULL;
done:
    free(ps.items);
    free(ps.members);
    vmdb_buf_free(&ps.str);
    vmdb_json_doc_free(doc);
    return rc;
}

void vmdb_json_doc_free(vmdb_json_doc *doc)
{
    if (!doc)
        return;
    arena_block *b = doc->blocks;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    free(doc);
}

const vmdb_json *vmdb_json_doc_root(const vmdb_json_doc *doc)
{
    return doc->root;
}

vmdb_json_type vmdb_json_typeof(const vmdb_json *v)
{
    return v->type;
}

const char *vmdb_json_type_name(const vmdb_json *v)
{
    switch (v ? v->type : VMDB_JSON_OBJECT) {
    case VMDB_JSON_NULL:
        return "null";
    case VMDB_JSON_TRUE:
    case VMDB_JSON_FALSE:
        return "bool";
    case VMDB_JSON_NUMBER:
        return "number";
    case VMDB_JSON_STRING:
        return "string";
    case VMDB_JSON_ARRAY:
        return "array";
    default:
        return "object";
    }
}

bool vmdb_json_is_integer_literal(const vmdb_json *v)
{
    return v && v->type == VMDB_JSON_NUMBER && v->n == 1;
}

double vmdb_json_number(const vmdb_json *v)
{
    return v && v->type == VMDB_JSON_NUMBER ? v->u.num : 0;
}

vmdb_slice vmdb_json_string(const vmdb_json *v)
{
    if (!v || v->type != VMDB_JSON_STRING)
        return (vmdb_slice){NULL, 0};
    return (vmdb_slice){v->u.str, v->n};
}

size_t vmdb_json_size(const vmdb_json *v)
{
    return v && (v->type == VMDB_JSON_ARRAY || v->type == VMDB_JSON_OBJECT) ? v->n : 0;
}

const vmdb_json *vmdb_json_at(const vmdb_json *v, size_t i)
{
    return v && v->type == VMDB_JSON_ARRAY && i < v->n ? v->u.items[i] : NULL;
}

vmdb_slice vmdb_json_key_at(const vmdb_json *v, size_t i)
{
    if (!v || v->type != VMDB_JSON_OBJECT || i >= v->n)
        return (vmdb_slice){NULL, 0};
    return (vmdb_slice){v->u.members[i].key, v->u.members[i].klen};
}

const vmdb_json *vmdb_json_value_at(const vmdb_json *v, size_t i)
{
    return v && v->type == VMDB_JSON_OBJECT && i < v->n ? v->u.members[i].val : NULL;
}

const vmdb_json *vmdb_json_get(const vmdb_json *v, const char *key)
{
    size_t kl = strlen(key);
    if (!v || v->type != VMDB_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (v->u.members[i].klen == kl && memcmp(v->u.members[i].key, key, kl) == 0)
            return v->u.members[i].val;
    return NULL;
}
