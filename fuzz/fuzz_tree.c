/*
 * Fuzz target for the sparse Merkle tree (PROTOCOL.md §3) and its proof
 * builders (§4-§5). The input is a program of at most 64 operations on a
 * fresh tree: upsert, delete, batch (repeated keys, last wins), a batch or
 * bulk build that is prepared and then discarded, bulk build (also with
 * unsorted input, which must be refused), taking and releasing holds on
 * versions, and collecting. Keys come from one input byte each: a fixed
 * base key with bits flipped at eight positions, shallow (0, 5), middle
 * (64, 128, 129, 200) and deep (254, 255), so keys share long prefixes and
 * splits happen down to the last level. A sorted array is the reference
 * model.
 *
 * After every operation the current root must equal a naive reference root
 * computed here straight from the recursive definition of §3 (with an
 * OpenSSL-only hasher, so the SHA-NI kernel is cross-checked too), the
 * count and lookups must match the model, and for a probe key a proof and a
 * multiproof built by the tree must pass both the library's verifiers and
 * independent ones written here from §4-§5, reporting the model's truth.
 * Versions held by a reader must keep their root and keep proving their
 * own contents while later versions are published. Any mismatch abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdb/proof.h"
#include "vmdb/smt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 64
#define MAX_BATCH 8
#define MAX_BUILD 16
#define MAX_HOLDS 2
#define NPOS 8

static const unsigned key_pos[NPOS] = {0, 5, 64, 128, 129, 200, 254, 255};
static const uint8_t zero32[32];

typedef struct model {
    vmdb_smt_leaf l[256]; /* sorted by key; the key space has 256 keys */
    size_t n;
} model;

typedef struct hold {
    const vmdb_smt_view *v;
    uint8_t root[32];
    model m;
} hold;

typedef struct reader {
    const uint8_t *p;
    size_t n, i;
} reader;

static vmdb_hasher *ref_h; /* the reference's own hasher (OpenSSL only) */
static model cur, tmp;
static hold holds[MAX_HOLDS];
static size_t nholds;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_tree: property violated: %s (last error: %s)\n", what,
                vmdb_error_last());
        abort();
    }
}

static uint8_t next(reader *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}

static int bit(const uint8_t k[32], unsigned i)
{
    return (k[i / 8] >> (7 - i % 8)) & 1;
}

static void key_of(uint8_t sel, uint8_t k[32])
{
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(0xA7 ^ (i * 29));
    for (int j = 0; j < NPOS; j++)
        if (sel >> j & 1)
            k[key_pos[j] / 8] ^= (uint8_t)(0x80 >> (key_pos[j] % 8));
}

static void value_of(uint8_t sel, uint8_t v[32])
{
    memset(v, sel, 32);
}

/* --- the reference model ------------------------------------------------ */

/* Index of k in m, or -1 - (insertion point). */
static long model_find(const model *m, const uint8_t k[32])
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(m->l[mid].key, k, 32);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1 - (long)lo;
}

static void model_apply(model *m, const vmdb_smt_change *c)
{
    long i = model_find(m, c->key);
    if (c->remove) {
        if (i >= 0) {
            memmove(&m->l[i], &m->l[i + 1], (m->n - (size_t)i - 1) * sizeof(vmdb_smt_leaf));
            m->n--;
        }
        return;
    }
    if (i >= 0) {
        memcpy(m->l[i].value, c->value, 32);
        return;
    }
    size_t at = (size_t)(-1 - i);
    check(m->n < 256, "model overflow");
    memmove(&m->l[at + 1], &m->l[at], (m->n - at) * sizeof(vmdb_smt_leaf));
    memcpy(m->l[at].key, c->key, 32);
    memcpy(m->l[at].value, c->value, 32);
    m->n++;
}

/* root(S, d) of §3 over the sorted leaves l[0..n), which share d bits. */
static void ref_root_at(const vmdb_smt_leaf *l, size_t n, unsigned d, uint8_t out[32])
{
    uint8_t a[32], b[32];
    if (n == 0) {
        memset(out, 0, 32);
        return;
    }
    if (n == 1) {
        vmdb_hash_node(ref_h, out, 0x00, l[0].key, l[0].value);
        return;
    }
    check(d < 256, "reference recursion past depth 256");
    size_t s = 0;
    while (s < n && !bit(l[s].key, d))
        s++;
    ref_root_at(l, s, d + 1, a);
    ref_root_at(l + s, n - s, d + 1, b);
    vmdb_hash_node(ref_h, out, 0x01, a, b);
}

static void ref_root(const model *m, uint8_t out[32])
{
    ref_root_at(m->l, m->n, 0, out);
}

/* --- independent verifiers (§4, §5) ------------------------------------- */

static int prefix_eq(const uint8_t a[32], const uint8_t b[32], unsigned bits)
{
    for (unsigned i = 0; i < bits; i++)
        if (bit(a, i) != bit(b, i))
            return 0;
    return 1;
}

/* Verifies the binary single proof b[0..n) for key (value, or NULL for
 * absent) against root, following §4 step by step. 1 if it holds. */
static int ref_verify_single(const uint8_t *b, size_t n, const uint8_t root[32],
                             const uint8_t key[32], const uint8_t *value)
{
    uint8_t h[32];
    if (n < 3)
        return 0;
    unsigned kind = b[0], L = (unsigned)b[1] << 8 | b[2];
    if (kind > 2 || L > 256)
        return 0;
    size_t bml = (L + 7) / 8;
    if (n < 3 + bml)
        return 0;
    const uint8_t *bm = b + 3;
    size_t set = 0;
    for (unsigned i = 0; i < bml * 8; i++) {
        if (!bit(bm, i))
            continue;
        if (i >= L)
            return 0;
        set++;
    }
    if (n != 3 + bml + 32 * set + (kind == 2 ? 64 : 0))
        return 0;
    const uint8_t *sib = b + 3 + bml;
    if ((value != NULL) != (kind == 0))
        return 0;
    if (kind == 0) {
        vmdb_hash_node(ref_h, h, 0x00, key, value);
    } else if (kind == 1) {
        memset(h, 0, 32);
    } else {
        const uint8_t *ok = sib + 32 * set, *ov = ok + 32;
        if (memcmp(ok, key, 32) == 0 || !prefix_eq(ok, key, L))
            return 0;
        vmdb_hash_node(ref_h, h, 0x00, ok, ov);
    }
    size_t j = 0;
    for (unsigned i = L; i-- > 0;) {
        const uint8_t *s = zero32;
        if (bit(bm, i)) {
            s = sib + 32 * j++;
            if (memcmp(s, zero32, 32) == 0)
                return 0;
        }
        if (bit(key, i))
            vmdb_hash_node(ref_h, h, 0x01, s, h);
        else
            vmdb_hash_node(ref_h, h, 0x01, h, s);
    }
    return memcmp(h, root, 32) == 0;
}

typedef struct mread {
    const uint8_t *p, *end;
    const uint8_t (*keys)[32];
    bool *present;
    uint8_t (*vals)[32];
} mread;

/* Reads a node no key enters: EMPTY or a non-zero HASH. */
static int mr_opaque(mread *r, uint8_t out[32])
{
    if (r->p >= r->end)
        return 0;
    uint8_t tag = *r->p++;
    if (tag == 0) {
        memset(out, 0, 32);
        return 1;
    }
    if (tag != 3 || r->end - r->p < 32 || memcmp(r->p, zero32, 32) == 0)
        return 0;
    memcpy(out, r->p, 32);
    r->p += 32;
    return 1;
}

/* Reads the node at depth d entered by keys[lo..hi). 1 if well-formed. */
static int mr_node(mread *r, unsigned d, size_t lo, size_t hi, uint8_t out[32])
{
    if (r->p >= r->end)
        return 0;
    uint8_t tag = *r->p++;
    if (tag == 0) {
        for (size_t i = lo; i < hi; i++)
            r->present[i] = false;
        memset(out, 0, 32);
        return 1;
    }
    if (tag == 1) {
        if (r->end - r->p < 64)
            return 0;
        const uint8_t *k = r->p, *v = r->p + 32;
        r->p += 64;
        for (size_t i = lo; i < hi; i++) {
            if (!prefix_eq(k, r->keys[i], d))
                return 0;
            r->present[i] = memcmp(k, r->keys[i], 32) == 0;
            if (r->present[i])
                memcpy(r->vals[i], v, 32);
        }
        vmdb_hash_node(ref_h, out, 0x00, k, v);
        return 1;
    }
    if (tag == 2) {
        uint8_t l[32], rr[32];
        if (d >= 256)
            return 0;
        size_t mid = lo;
        while (mid < hi && !bit(r->keys[mid], d))
            mid++;
        if (!(mid > lo ? mr_node(r, d + 1, lo, mid, l) : mr_opaque(r, l)))
            return 0;
        if (!(hi > mid ? mr_node(r, d + 1, mid, hi, rr) : mr_opaque(r, rr)))
            return 0;
        vmdb_hash_node(ref_h, out, 0x01, l, rr);
        return 1;
    }
    return 0;
}

static int ref_verify_multi(const uint8_t *b, size_t n, const uint8_t root[32],
                            const uint8_t (*keys)[32], size_t nk, bool *present,
                            uint8_t (*vals)[32])
{
    uint8_t h[32];
    mread r = {b, b + n, keys, present, vals};
    if (!mr_node(&r, 0, 0, nk, h) || r.p != r.end)
        return 0;
    return memcmp(h, root, 32) == 0;
}

/* --- checks ------------------------------------------------------------- */

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Checks a version against its model and reference root, probing with the
 * key of `probe`: lookup, single proof, multiproof. */
static void check_version(vmdb_smt *t, const vmdb_smt_view *v, const model *m,
                          const uint8_t want_root[32], uint8_t probe)
{
    vmdb_hasher *h = vmdb_smt_hasher(t);
    uint8_t root[32], k[32], val[32], pv[32];
    static vmdb_proof p;

    vmdb_smt_view_root(v, root);
    check(memcmp(root, want_root, 32) == 0, "root differs from the reference root");
    check(vmdb_smt_view_count(v) == m->n, "leaf count differs from the model");

    /* Single proof for the probe key. */
    key_of(probe, k);
    long i = model_find(m, k);
    int rc = vmdb_smt_get(t, v, k, val);
    check(i >= 0 ? rc == 0 && memcmp(val, m->l[i].value, 32) == 0 : rc == VMDB_ENOTFOUND,
          "lookup differs from the model");
    memset(pv, 0xEE, 32);
    vmdb_smt_prove(t, v, h, k, &p, pv);
    check((p.kind == VMDB_PROOF_INCLUSION) == (i >= 0), "proof kind differs from the model");
    if (i >= 0)
        check(memcmp(pv, m->l[i].value, 32) == 0, "prove returned another value");
    const uint8_t *truth = i >= 0 ? m->l[i].value : NULL;
    check(vmdb_proof_verify(h, want_root, k, truth, &p) == 0, "proof does not verify");
    check(vmdb_proof_verify(h, want_root, k, i >= 0 ? NULL : zero32, &p) != 0,
          "proof verifies the opposite claim");
    vmdb_buf b = VMDB_BUF_INIT;
    check(vmdb_proof_encode(&b, &p) == 0, "proof encoding failed");
    check(ref_verify_single(b.ptr, b.len, want_root, k, truth),
          "proof fails the reference verifier");
    vmdb_buf_free(&b);

    /* Multiproof for the probe's neighbourhood plus one present key. */
    uint8_t keys[5][32], vals[5][32];
    bool present[5];
    size_t nk = 0;
    static const uint8_t nb[4] = {0x00, 0x01, 0x80, 0x3c};
    for (int j = 0; j < 4; j++)
        key_of((uint8_t)(probe ^ nb[j]), keys[nk++]);
    if (m->n)
        memcpy(keys[nk++], m->l[probe % m->n].key, 32);
    qsort(keys, nk, 32, key_cmp);
    size_t u = 0;
    for (size_t j = 0; j < nk; j++)
        if (u == 0 || memcmp(keys[u - 1], keys[j], 32) != 0)
            memcpy(keys[u++], keys[j], 32);
    nk = u;
    check(vmdb_smt_multiprove(t, v, h, (const uint8_t(*)[32])keys, nk, &b) == 0,
          "multiprove failed");
    memset(present, 0, sizeof(present));
    check(ref_verify_multi(b.ptr, b.len, want_root, (const uint8_t(*)[32])keys, nk, present, vals),
          "multiproof fails the reference verifier");
    for (size_t j = 0; j < nk; j++) {
        long x = model_find(m, keys[j]);
        check(present[j] == (x >= 0), "multiproof presence differs from the model");
        if (x >= 0)
            check(memcmp(vals[j], m->l[x].value, 32) == 0, "multiproof value differs");
    }
    memset(present, 0, sizeof(present));
    check(vmdb_multiproof_verify(h, want_root, (const uint8_t(*)[32])keys, nk,
                                 (vmdb_slice){b.ptr, b.len}, vals, present) == 0,
          "multiproof does not verify");
    for (size_t j = 0; j < nk; j++) {
        long x = model_find(m, keys[j]);
        check(present[j] == (x >= 0), "multiproof presence differs from the model");
        if (x >= 0)
            check(memcmp(vals[j], m->l[x].value, 32) == 0, "multiproof value differs");
    }
    vmdb_buf_free(&b);
}

/* Reads up to `max` changes (key byte, value byte; value 0 removes). */
static size_t read_changes(reader *r, vmdb_smt_change *c, size_t max)
{
    size_t n = 1 + next(r) % max;
    memset(c, 0, n * sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        key_of(next(r), c[i].key);
        uint8_t v = next(r);
        c[i].remove = v == 0;
        value_of(v, c[i].value);
    }
    return n;
}

static int leaf_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32); /* the key is the first member */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size, 0};
    vmdb_smt *t = NULL;
    vmdb_smt_change ch[MAX_BATCH];
    vmdb_smt_leaf lv[MAX_BUILD];
    uint8_t want[32];

    if (!ref_h)
        check(vmdb_hasher_new(&ref_h, VMDB_HASHER_FORCE_OPENSSL) == 0, "reference hasher");
    if (size == 0)
        return 0;
    /* Byte 0: configuration (bit 0: the tree hashes with OpenSSL only). */
    unsigned flags = (next(&r) & 1) ? VMDB_HASHER_FORCE_OPENSSL : VMDB_HASHER_DEFAULT;
    check(vmdb_smt_new(&t, flags) == 0, "vmdb_smt_new");
    cur.n = 0;
    nholds = 0;

    for (int op = 0; op < MAX_OPS && r.i < r.n; op++) {
        uint8_t code = next(&r);
        switch (code % 8) {
        case 0: /* upsert one key */
        case 1: /* delete one key */
            memset(ch, 0, sizeof(ch[0]));
            key_of(next(&r), ch[0].key);
            ch[0].remove = code % 8 == 1;
            value_of(next(&r), ch[0].value);
            check(vmdb_smt_update(t, ch, 1) == 0, "single update failed");
            model_apply(&cur, &ch[0]);
            break;
        case 2: { /* batch, repeated keys allowed: the last change wins */
            size_t n = read_changes(&r, ch, MAX_BATCH);
            check(vmdb_smt_update(t, ch, n) == 0, "batch update failed");
            for (size_t i = 0; i < n; i++)
                model_apply(&cur, &ch[i]);
            break;
        }
        case 3: { /* prepare a batch, check it, discard it */
            size_t n = read_changes(&r, ch, MAX_BATCH);
            tmp = cur;
            for (size_t i = 0; i < n; i++)
                model_apply(&tmp, &ch[i]);
            check(vmdb_smt_apply(t, ch, n) == 0, "apply failed");
            const vmdb_smt_view *pv = vmdb_smt_pending(t);
            check(pv != NULL, "no pending version after apply");
            ref_root(&tmp, want);
            check_version(t, pv, &tmp, want, next(&r));
            check(vmdb_smt_apply(t, ch, n) == VMDB_EBUSY, "second apply not refused");
            check(vmdb_smt_build(t, NULL, 0) == VMDB_EBUSY, "build while pending not refused");
            vmdb_smt_discard(t);
            check(vmdb_smt_pending(t) == NULL, "pending version after discard");
            break;
        }
        case 4: { /* bulk build; bit 7 of the count byte: discard it */
            uint8_t nb = next(&r);
            size_t n = nb % (MAX_BUILD + 1);
            int sorted = 1;
            for (size_t i = 0; i < n; i++) {
                key_of(next(&r), lv[i].key);
                value_of(next(&r), lv[i].value);
                if (i && memcmp(lv[i - 1].key, lv[i].key, 32) >= 0)
                    sorted = 0;
            }
            if (!sorted) {
                check(vmdb_smt_build(t, lv, n) == VMDB_EINVAL, "unsorted build not refused");
                check(vmdb_smt_pending(t) == NULL, "refused build left a pending version");
                qsort(lv, n, sizeof(lv[0]), leaf_cmp);
                size_t u = 0;
                for (size_t i = 0; i < n; i++)
                    if (u == 0 || memcmp(lv[u - 1].key, lv[i].key, 32) != 0)
                        lv[u++] = lv[i];
                n = u;
            }
            tmp.n = n;
            memcpy(tmp.l, lv, n * sizeof(lv[0]));
            check(vmdb_smt_build(t, lv, n) == 0, "build failed");
            ref_root(&tmp, want);
            check_version(t, vmdb_smt_pending(t), &tmp, want, next(&r));
            if (nb & 0x80) {
                vmdb_smt_discard(t);
            } else {
                vmdb_smt_publish(t);
                cur = tmp;
            }
            break;
        }
        case 5: /* hold the current version */
            if (nholds < MAX_HOLDS) {
                hold *hd = &holds[nholds++];
                hd->v = vmdb_smt_acquire(t);
                check(hd->v == vmdb_smt_current(t), "acquire returned another version");
                ref_root(&cur, hd->root);
                hd->m = cur;
            }
            break;
        case 6: /* release a hold */
            if (nholds) {
                size_t i = next(&r) % nholds;
                vmdb_smt_release(t, holds[i].v);
                holds[i] = holds[--nholds];
            }
            break;
        default: /* collect */
            vmdb_smt_collect(t);
            break;
        }
        uint8_t probe = next(&r);
        ref_root(&cur, want);
        check_version(t, vmdb_smt_current(t), &cur, want, probe);
        for (size_t i = 0; i < nholds; i++)
            check_version(t, holds[i].v, &holds[i].m, holds[i].root, (uint8_t)(probe + i + 1));
    }
    for (size_t i = 0; i < nholds; i++)
        vmdb_smt_release(t, holds[i].v);
    nholds = 0;
    vmdb_smt_free(t);
    return 0;
}
