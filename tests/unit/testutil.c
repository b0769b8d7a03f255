/*
 * Test helpers; see testutil.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "trust/identity.h"
#include "vmdb/header.h"
#include "vmdb/proof.h"

uint64_t tu_rand(tu_rng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void tu_fill(tu_rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = tu_rand(r);
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
}

uint8_t *tu_unhex(const char *hex, size_t hexlen, size_t *outlen)
{
    uint8_t *b = malloc(hexlen / 2 + 1);
    assert_non_null(b);
    assert_int_equal(hexlen % 2, 0);
    assert_int_equal(vmdb_hex_decode(b, hexlen / 2, hex, hexlen), 0);
    *outlen = hexlen / 2;
    return b;
}

void tu_unhex32(uint8_t out[32], const char *hex, size_t hexlen)
{
    assert_int_equal(vmdb_hex_decode(out, 32, hex, hexlen), 0);
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        b = malloc((size_t)n + 1);
        if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
            free(b);
            b = NULL;
        }
        if (b)
            *len = (size_t)n;
    }
    fclose(f);
    return b;
}

int tu_leaf_cmp(const void *a, const void *b)
{
    return memcmp(((const vmdb_smt_leaf *)a)->key, ((const vmdb_smt_leaf *)b)->key, 32);
}

static void ref_rec(vmdb_hasher *h, const vmdb_smt_leaf *l, size_t n, unsigned d, uint8_t out[32])
{
    if (n == 0) {
        memset(out, 0, 32);
        return;
    }
    if (n == 1) {
        vmdb_hash_node(h, out, 0x00, l[0].key, l[0].value);
        return;
    }
    assert_true(d < 256);
    size_t s = 0;
    while (s < n && !vmdb_key_bit(l[s].key, d))
        s++;
    uint8_t a[32], b[32];
    ref_rec(h, l, s, d + 1, a);
    ref_rec(h, l + s, n - s, d + 1, b);
    vmdb_hash_node(h, out, 0x01, a, b);
}

void tu_ref_root(vmdb_hasher *h, const vmdb_smt_leaf *leaves, size_t n, uint8_t out[32])
{
    ref_rec(h, leaves, n, 0, out);
}

vmdb_slice tu_json_str(const vmdb_json *obj, const char *key)
{
    const vmdb_json *v = vmdb_json_get(obj, key);
    if (!v || vmdb_json_typeof(v) != VMDB_JSON_STRING)
        fail_msg("JSON member \"%s\" missing or not a string", key);
    return vmdb_json_string(v);
}

void tu_json_hex32(const vmdb_json *obj, const char *key, uint8_t out[32])
{
    vmdb_slice s = tu_json_str(obj, key);
    if (s.len != 64 || vmdb_hex_decode(out, 32, (const char *)s.ptr, s.len) != 0)
        fail_msg("JSON member \"%s\" is not 32 bytes of hex", key);
}

uint8_t *tu_json_hex(const vmdb_json *obj, const char *key, size_t *len)
{
    vmdb_slice s = tu_json_str(obj, key);
    return tu_unhex((const char *)s.ptr, s.len, len);
}

uint64_t tu_json_u64(const vmdb_json *obj, const char *key)
{
    const vmdb_json *v = vmdb_json_get(obj, key);
    if (!v || vmdb_json_typeof(v) != VMDB_JSON_NUMBER)
        fail_msg("JSON member \"%s\" missing or not a number", key);
    double d = vmdb_json_number(v);
    /* 2^53 bounds every integer a double holds without a gap. */
    if (!(d >= 0 && d <= 9007199254740992.0) || (double)(uint64_t)d != d)
        fail_msg("JSON member \"%s\" is not a non-negative integer", key);
    return (uint64_t)d;
}

tu_vectors *tu_vectors_load(const char *path, uint64_t version, const char *const *known,
                            size_t nknown)
{
    static const vmdb_json_limits no_limits = {0, 0};
    tu_vectors *v = calloc(1, sizeof(*v));
    size_t len = 0;
    assert_non_null(v);
    v->text = tu_read_file(path, &len);
    if (!v->text)
        fail_msg("cannot read %s", path);
    int rc = vmdb_json_parse(&v->doc, (vmdb_slice){v->text, len}, &no_limits);
    if (rc != 0)
        fail_msg("vmdb cannot parse %s: %s", path, vmdb_error_last());
    v->root = vmdb_json_doc_root(v->doc);
    assert_int_equal(vmdb_json_typeof(v->root), VMDB_JSON_OBJECT);
    assert_int_equal(tu_json_u64(v->root, "version"), version);
    for (size_t i = 0; i < vmdb_json_size(v->root); i++) {
        vmdb_slice k = vmdb_json_key_at(v->root, i);
        bool found = false;
        for (size_t j = 0; j < nknown; j++)
            found |= k.len == strlen(known[j]) && memcmp(k.ptr, known[j], k.len) == 0;
        if (!found)
            fail_msg("vector section \"%.*s\" is not checked here", (int)k.len,
                     (const char *)k.ptr);
    }
    assert_int_equal(vmdb_hasher_new(&v->h, 0), 0);
    return v;
}

void tu_vectors_free(tu_vectors *v)
{
    if (!v)
        return;
    vmdb_json_doc_free(v->doc);
    vmdb_hasher_free(v->h);
    free(v->text);
    free(v);
}

const vmdb_json *tu_section(const tu_vectors *v, const char *key)
{
    const vmdb_json *a = vmdb_json_get(v->root, key);
    if (!a || vmdb_json_typeof(a) != VMDB_JSON_ARRAY || vmdb_json_size(a) == 0)
        fail_msg("vector section \"%s\" missing or empty", key);
    return a;
}

const vmdb_json *tu_json_array(const vmdb_json *obj, const char *key)
{
    const vmdb_json *a = vmdb_json_get(obj, key);
    if (!a || vmdb_json_typeof(a) != VMDB_JSON_ARRAY)
        fail_msg("member \"%s\" missing or not an array", key);
    return a;
}

bool tu_json_bool(const vmdb_json *obj, const char *key)
{
    const vmdb_json *b = vmdb_json_get(obj, key);
    if (!b || (vmdb_json_typeof(b) != VMDB_JSON_TRUE && vmdb_json_typeof(b) != VMDB_JSON_FALSE))
        fail_msg("member \"%s\" missing or not a boolean", key);
    return vmdb_json_typeof(b) == VMDB_JSON_TRUE;
}

void tu_elem_hex32(const vmdb_json *s, uint8_t out[32])
{
    vmdb_slice x = vmdb_json_string(s);
    if (vmdb_json_typeof(s) != VMDB_JSON_STRING || x.len != 64 ||
        vmdb_hex_decode(out, 32, (const char *)x.ptr, x.len) != 0)
        fail_msg("array element is not 32 bytes of hex");
}

void tu_expect_bytes(const char *what, const uint8_t *got, size_t gotlen, const uint8_t *want,
                     size_t wantlen)
{
    if (gotlen == wantlen && (wantlen == 0 || memcmp(got, want, wantlen) == 0))
        return;
    char g[129], w[129];
    size_t gn = gotlen < 64 ? gotlen : 64, wn = wantlen < 64 ? wantlen : 64;
    vmdb_hex_encode(g, got, gn);
    vmdb_hex_encode(w, want, wn);
    fail_msg("%s: got %zu bytes %s%s, want %zu bytes %s%s", what, gotlen, g,
             gotlen > 64 ? "..." : "", wantlen, w, wantlen > 64 ? "..." : "");
}

void tu_make_identity(struct vmdb_identity *id, uint8_t first)
{
    uint8_t seed[32];
    memset(id, 0, sizeof *id);
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(first + i);
    assert_int_equal(vmdb_ed25519_from_seed(id->pk, id->sk, seed), 0);
    vmdb_hex_encode(id->pk_hex, id->pk, 32);
}
