/*
 * Tamper tests of the proof verifiers, the code a third party runs against
 * bytes it received from someone it does not trust. Real proofs from a
 * tree of ~300 leaves (random keys plus a cluster that shares 200+ bit
 * prefixes, so depth-256 proofs and deep absences occur) are damaged in
 * every byte, truncated at every length and extended, and each damaged
 * copy must be refused. Then hand-made malformed proofs, one per rule of
 * PROTOCOL.md §4-§5, are checked against a root forged so that the hash
 * WOULD match: that way a pass shows the rule itself is enforced, not that
 * the damage happened to break the hash. Last, the JSON form of §4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmdb/json.h"
#include "vmdb/proof.h"
#include "vmdb/rowhash.h"
#include "vmdb/smt.h"

static const uint8_t zero32[32];

typedef struct fixture {
    vmdb_smt *t;
    vmdb_hasher *h;
    vmdb_smt_leaf *leaves; /* sorted by key */
    size_t n;
    uint8_t root[32];
    uint8_t base[32]; /* the cluster's base key (itself a leaf) */
} fixture;

static void flip_bit(uint8_t k[32], unsigned bit)
{
    k[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
}

static void set_bit(uint8_t bm[32], unsigned bit)
{
    bm[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

static bool is_leaf(const fixture *f, const uint8_t key[32])
{
    vmdb_smt_leaf probe;
    memcpy(probe.key, key, 32);
    return bsearch(&probe, f->leaves, f->n, sizeof(probe), tu_leaf_cmp) != NULL;
}

/* Cluster members: the base key with one of these bits flipped (none for
 * the base itself). Bit 255 gives a pair that splits at the last level. */
static const unsigned cluster_bits[] = {255, 254, 200};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    tu_rng r = {31337};
    size_t nrand = 296, ncl = 1 + sizeof(cluster_bits) / sizeof(cluster_bits[0]);
    assert_non_null(f);
    assert_int_equal(vmdb_smt_new(&f->t, 0), 0);
    assert_int_equal(vmdb_hasher_new(&f->h, 0), 0);
    f->n = nrand + ncl;
    f->leaves = calloc(f->n, sizeof(*f->leaves));
    vmdb_smt_change *c = calloc(f->n, sizeof(*c));
    assert_non_null(f->leaves);
    assert_non_null(c);
    tu_fill(&r, f->base, 32);
    for (size_t i = 0; i < f->n; i++) {
        if (i < nrand) {
            tu_fill(&r, c[i].key, 32);
        } else {
            memcpy(c[i].key, f->base, 32);
            if (i > nrand)
                flip_bit(c[i].key, cluster_bits[i - nrand - 1]);
        }
        tu_fill(&r, c[i].value, 32);
        memcpy(f->leaves[i].key, c[i].key, 32);
        memcpy(f->leaves[i].value, c[i].value, 32);
    }
    /* Three batches, so the tree is reached by updates, not one build. */
    assert_int_equal(vmdb_smt_update(f->t, c, 100), 0);
    assert_int_equal(vmdb_smt_update(f->t, c + 100, 100), 0);
    assert_int_equal(vmdb_smt_update(f->t, c + 200, f->n - 200), 0);
    free(c);
    qsort(f->leaves, f->n, sizeof(*f->leaves), tu_leaf_cmp);
    vmdb_smt_view_root(vmdb_smt_current(f->t), f->root);
    uint8_t ref[32];
    tu_ref_root(f->h, f->leaves, f->n, ref);
    assert_memory_equal(f->root, ref, 32);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vmdb_smt_free(f->t);
    vmdb_hasher_free(f->h);
    free(f->leaves);
    free(f);
    return 0;
}

/* Spec step 3 of §4 with none of step 1's checks: the hash a careless
 * verifier would compare with the root. Used to forge roots. */
static void naive_fold(vmdb_hasher *h, const uint8_t key[32], const vmdb_proof *p,
                       const uint8_t start[32], uint8_t out[32])
{
    unsigned used = 0;
    if (out != start)
        memcpy(out, start, 32);
    for (int i = (int)p->depth - 1; i >= 0; i--) {
        const uint8_t *s = vmdb_key_bit(p->bitmap, (unsigned)i) ? p->siblings[used++] : zero32;
        if (vmdb_key_bit(key, (unsigned)i))
            vmdb_hash_node(h, out, 0x01, s, out);
        else
            vmdb_hash_node(h, out, 0x01, out, s);
    }
}

/* --- single proofs: every byte ------------------------------------------- */

typedef struct claim {
    uint8_t key[32];
    uint8_t value[32];
    bool present;
} claim;

typedef struct tamper_counts {
    size_t proofs, flips, truncations, appends, kinds[3], deep;
} tamper_counts;

/* A damaged proof must fail to decode or fail to verify the same claim. */
static void expect_refused(fixture *f, const claim *c, const uint8_t *b, size_t len,
                           vmdb_proof *scratch, const char *what, size_t pos)
{
    int rc = vmdb_proof_decode(scratch, (vmdb_slice){b, len});
    if (rc != 0) {
        if (rc != VMDB_EPARSE)
            fail_msg("%s at %zu: decode gave %s", what, pos, vmdb_error_name(rc));
        return;
    }
    rc = vmdb_proof_verify(f->h, f->root, c->key, c->present ? c->value : NULL, scratch);
    if (rc != VMDB_EVERIFY)
        fail_msg("%s at %zu (len %zu): verify gave %s", what, pos, len, vmdb_error_name(rc));
}

static void tamper_one(fixture *f, const claim *c, tamper_counts *cnt)
{
    vmdb_proof *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    vmdb_buf b = VMDB_BUF_INIT;
    uint8_t got[32];
    assert_non_null(p);
    assert_non_null(q);

    vmdb_smt_prove(f->t, vmdb_smt_current(f->t), f->h, c->key, p, got);
    assert_int_equal(p->kind == VMDB_PROOF_INCLUSION, c->present);
    assert_int_equal(vmdb_proof_encode(&b, p), 0);
    assert_int_equal(vmdb_proof_decode(q, (vmdb_slice){b.ptr, b.len}), 0);
    assert_int_equal(vmdb_proof_verify(f->h, f->root, c->key, c->present ? c->value : NULL, q), 0);

    uint8_t *m = malloc(b.len + 1);
    assert_non_null(m);
    for (size_t i = 0; i < b.len; i++) {
        static const uint8_t masks[2] = {0x01, 0xff};
        for (int k = 0; k < 2; k++) {
            memcpy(m, b.ptr, b.len);
            m[i] ^= masks[k];
            expect_refused(f, c, m, b.len, q, masks[k] == 1 ? "xor 0x01" : "xor 0xff", i);
            cnt->flips++;
        }
    }
    for (size_t len = 0; len < b.len; len++) {
        expect_refused(f, c, b.ptr, len, q, "truncated", len);
        cnt->truncations++;
    }
    for (int k = 0; k < 2; k++) {
        memcpy(m, b.ptr, b.len);
        m[b.len] = k ? 0xff : 0x00;
        expect_refused(f, c, m, b.len + 1, q, "appended", b.len);
        cnt->appends++;
    }
    cnt->proofs++;
    cnt->kinds[p->kind]++;
    if (p->depth == 256)
        cnt->deep++;
    free(m);
    vmdb_buf_free(&b);
    free(p);
    free(q);
}

static void add_absent(const fixture *f, claim *c, size_t *nc, const uint8_t key[32])
{
    if (is_leaf(f, key))
        return;
    memcpy(c[*nc].key, key, 32);
    c[*nc].present = false;
    (*nc)++;
}

/* Present keys, random absent keys, keys next to present ones (absent_leaf
 * at the depth of the neighbour) and keys inside the cluster (deep
 * absent_empty and absent_leaf). */
static size_t sample_claims(const fixture *f, claim *c, tu_rng *r)
{
    size_t nc = 0;
    for (int i = 0; i < 12; i++) {
        const vmdb_smt_leaf *l = &f->leaves[tu_rand(r) % f->n];
        memcpy(c[nc].key, l->key, 32);
        memcpy(c[nc].value, l->value, 32);
        c[nc++].present = true;
    }
    for (size_t i = 0; i < f->n; i++) {
        int diff = 0;
        for (int j = 0; j < 32; j++)
            diff += __builtin_popcount((unsigned)(f->leaves[i].key[j] ^ f->base[j]));
        if (diff <= 1) { /* the cluster */
            memcpy(c[nc].key, f->leaves[i].key, 32);
            memcpy(c[nc].value, f->leaves[i].value, 32);
            c[nc++].present = true;
        }
    }
    for (int i = 0; i < 12; i++) {
        uint8_t k[32];
        tu_fill(r, k, 32);
        add_absent(f, c, &nc, k);
    }
    for (int i = 0; i < 6; i++) {
        uint8_t k[32];
        memcpy(k, f->leaves[tu_rand(r) % f->n].key, 32);
        flip_bit(k, 255);
        add_absent(f, c, &nc, k);
    }
    static const unsigned near[] = {253, 230, 201, 199, 100, 7};
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        uint8_t k[32];
        memcpy(k, f->base, 32);
        flip_bit(k, near[i]);
        add_absent(f, c, &nc, k);
    }
    return nc;
}

static void test_single_tamper(void **state)
{
    fixture *f = *state;
    tu_rng r = {7};
    claim c[48];
    tamper_counts cnt = {0};
    size_t nc = sample_claims(f, c, &r);

    for (size_t i = 0; i < nc; i++)
        tamper_one(f, &c[i], &cnt);
    assert_true(cnt.kinds[VMDB_PROOF_INCLUSION] > 0);
    assert_true(cnt.kinds[VMDB_PROOF_ABSENT_EMPTY] > 0);
    assert_true(cnt.kinds[VMDB_PROOF_ABSENT_LEAF] > 0);
    assert_true(cnt.deep > 0);
    printf("proof: %zu single proofs (inclusion %zu, absent_empty %zu, absent_leaf %zu, "
           "depth 256: %zu): %zu byte flips, %zu truncations, %zu extensions refused\n",
           cnt.proofs, cnt.kinds[0], cnt.kinds[1], cnt.kinds[2], cnt.deep, cnt.flips,
           cnt.truncations, cnt.appends);
}

/* --- many proofs at once ---------------------------------------------------- */

/* vmdb_proof_verify_many must decide every proof exactly as
 * vmdb_proof_verify does: all of them good, then mixed with damaged
 * proofs and false claims at random positions (so bad proofs sit in every
 * lane, start, middle and end of a run). */
static void test_verify_many(void **state)
{
    fixture *f = *state;
    tu_rng r = {99};
    claim c[48];
    size_t nc = sample_claims(f, c, &r), total = 4 * nc;
    vmdb_proof *p = calloc(total, sizeof(*p));
    const uint8_t **keys = calloc(total, sizeof(*keys)), **vals = calloc(total, sizeof(*vals));
    const vmdb_proof **pp = calloc(total, sizeof(*pp));
    bool *ok = calloc(total, sizeof(*ok));
    uint8_t(*wrong)[32] = calloc(total, 32);
    uint8_t got[32];
    assert_non_null(p);
    assert_non_null(keys);
    assert_non_null(vals);
    assert_non_null(pp);
    assert_non_null(ok);
    assert_non_null(wrong);
    for (size_t i = 0; i < total; i++) {
        const claim *x = &c[i % nc];
        vmdb_smt_prove(f->t, vmdb_smt_current(f->t), f->h, x->key, &p[i], got);
        keys[i] = x->key;
        vals[i] = x->present ? x->value : NULL;
        pp[i] = &p[i];
    }
    assert_int_equal(vmdb_proof_verify_many(f->h, f->root, 0, keys, vals, pp, ok), 0);
    assert_int_equal(vmdb_proof_verify_many(f->h, f->root, total, keys, vals, pp, ok), 0);
    for (size_t i = 0; i < total; i++)
        assert_true(ok[i]);
    /* Damage about a third of them, each in one of several ways. */
    size_t nbad = 0;
    for (size_t i = 0; i < total; i++) {
        if (tu_rand(&r) % 3 != 0)
            continue;
        switch (tu_rand(&r) % 6) {
        case 0: /* a flipped bit in a sibling or, without siblings, the claim */
            if (p[i].nsiblings)
                p[i].siblings[tu_rand(&r) % p[i].nsiblings][tu_rand(&r) % 32] ^= 0x10;
            else
                vals[i] = vals[i] ? NULL : wrong[i];
            break;
        case 1: /* a wrong value claimed, or presence claimed for an absent key */
            tu_fill(&r, wrong[i], 32);
            vals[i] = wrong[i];
            break;
        case 2: /* absence claimed */
            vals[i] = vals[i] ? NULL : wrong[i];
            break;
        case 3: /* a zero sibling listed */
            if (p[i].nsiblings)
                memset(p[i].siblings[0], 0, 32);
            else
                p[i].depth = 300;
            break;
        case 4: /* the bitmap disagrees with the sibling count */
            p[i].nsiblings++;
            break;
        default: /* another key */
            keys[i] = c[(i + 1) % nc].key;
            break;
        }
        nbad++;
    }
    int rc = vmdb_proof_verify_many(f->h, f->root, total, keys, vals, pp, ok);
    size_t nfail = 0;
    for (size_t i = 0; i < total; i++) {
        bool one = vmdb_proof_verify(f->h, f->root, keys[i], vals[i], &p[i]) == 0;
        if (one != ok[i])
            fail_msg("proof %zu: verify says %d, verify_many %d", i, one, ok[i]);
        nfail += !one;
    }
    assert_true(nbad > 10);
    assert_true(nfail > 0);
    assert_int_equal(rc, VMDB_EVERIFY);
    /* Another root fails them all. */
    uint8_t other[32];
    memcpy(other, f->root, 32);
    other[5] ^= 1;
    assert_int_equal(vmdb_proof_verify_many(f->h, other, total, keys, vals, pp, ok), VMDB_EVERIFY);
    for (size_t i = 0; i < total; i++)
        assert_false(ok[i]);
    printf("proof: verify_many agreed with verify on %zu proofs (%zu refused)\n", total, nfail);
    free(p);
    free(keys);
    free(vals);
    free(pp);
    free(ok);
    free(wrong);
}

/* --- multiproofs: every byte ------------------------------------------------ */

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static size_t sort_unique(uint8_t (*k)[32], size_t n)
{
    size_t u = 0;
    qsort(k, n, 32, key_cmp);
    for (size_t i = 0; i < n; i++)
        if (u == 0 || memcmp(k[u - 1], k[i], 32) != 0)
            memcpy(k[u++], k[i], 32);
    return u;
}

static void multi_expect_refused(fixture *f, const uint8_t (*keys)[32], size_t nk, const uint8_t *b,
                                 size_t len, const char *what, size_t pos)
{
    uint8_t(*vals)[32] = malloc(nk * 32);
    bool *present = malloc(nk);
    assert_non_null(vals);
    assert_non_null(present);
    int rc = vmdb_multiproof_verify(f->h, f->root, keys, nk, (vmdb_slice){b, len}, vals, present);
    if (rc != VMDB_EVERIFY)
        fail_msg("multiproof %s at %zu (len %zu): verify gave %s", what, pos, len,
                 vmdb_error_name(rc));
    free(vals);
    free(present);
}

static size_t multi_tamper(fixture *f, const uint8_t (*keys)[32], size_t nk, size_t *nbytes)
{
    vmdb_buf b = VMDB_BUF_INIT;
    uint8_t(*vals)[32] = malloc(nk * 32);
    bool *present = malloc(nk);
    size_t checks = 0;
    assert_non_null(vals);
    assert_non_null(present);

    assert_int_equal(vmdb_smt_multiprove(f->t, vmdb_smt_current(f->t), f->h, keys, nk, &b), 0);
    assert_int_equal(
        vmdb_multiproof_verify(f->h, f->root, keys, nk, (vmdb_slice){b.ptr, b.len}, vals, present),
        0);
    for (size_t i = 0; i < nk; i++) {
        assert_int_equal(present[i], is_leaf(f, keys[i]));
        if (present[i]) {
            vmdb_smt_leaf probe, *l;
            memcpy(probe.key, keys[i], 32);
            l = bsearch(&probe, f->leaves, f->n, sizeof(probe), tu_leaf_cmp);
            assert_memory_equal(vals[i], l->value, 32);
        }
    }
    /* The right proof against the wrong root. */
    uint8_t other[32];
    memcpy(other, f->root, 32);
    other[31] ^= 1;
    assert_int_equal(
        vmdb_multiproof_verify(f->h, other, keys, nk, (vmdb_slice){b.ptr, b.len}, vals, present),
        VMDB_EVERIFY);

    uint8_t *m = malloc(b.len + 1);
    assert_non_null(m);
    for (size_t i = 0; i < b.len; i++) {
        static const uint8_t masks[2] = {0x01, 0xff};
        for (int k = 0; k < 2; k++) {
            memcpy(m, b.ptr, b.len);
            m[i] ^= masks[k];
            multi_expect_refused(f, keys, nk, m, b.len, masks[k] == 1 ? "xor 0x01" : "xor 0xff", i);
            checks++;
        }
    }
    for (size_t len = 0; len < b.len; len++, checks++)
        multi_expect_refused(f, keys, nk, b.ptr, len, "truncated", len);
    for (int k = 0; k < 2; k++, checks++) {
        memcpy(m, b.ptr, b.len);
        m[b.len] = k ? 0xff : 0x00;
        multi_expect_refused(f, keys, nk, m, b.len + 1, "appended", b.len);
    }
    *nbytes += b.len;
    free(m);
    free(vals);
    free(present);
    vmdb_buf_free(&b);
    return checks;
}

static void test_multi_tamper(void **state)
{
    fixture *f = *state;
    tu_rng r = {11};
    uint8_t keys[64][32];
    size_t nsets = 0, nkeys = 0, checks = 0, bytes = 0;

    for (int set = 0; set < 6; set++) {
        size_t nk = 0;
        switch (set) {
        case 0: /* one present key */
            memcpy(keys[nk++], f->leaves[tu_rand(&r) % f->n].key, 32);
            break;
        case 1: /* one absent key */
            tu_fill(&r, keys[nk++], 32);
            break;
        case 2: /* present and absent mixed */
            for (int i = 0; i < 10; i++)
                memcpy(keys[nk++], f->leaves[tu_rand(&r) % f->n].key, 32);
            for (int i = 0; i < 6; i++)
                tu_fill(&r, keys[nk++], 32);
            break;
        case 3: /* the cluster and its neighbourhood: deep paths */
            memcpy(keys[nk++], f->base, 32);
            for (unsigned b = 0; b < 4; b++) {
                static const unsigned bits[] = {255, 253, 230, 199};
                memcpy(keys[nk], f->base, 32);
                flip_bit(keys[nk++], bits[b]);
            }
            break;
        case 4: /* neighbours of present keys (absent_leaf-like) */
            for (int i = 0; i < 8; i++) {
                memcpy(keys[nk], f->leaves[tu_rand(&r) % f->n].key, 32);
                if (i % 2)
                    flip_bit(keys[nk], 255);
                nk++;
            }
            break;
        default: /* a wide set */
            for (int i = 0; i < 40; i++)
                memcpy(keys[nk++], f->leaves[tu_rand(&r) % f->n].key, 32);
            for (int i = 0; i < 8; i++)
                tu_fill(&r, keys[nk++], 32);
            break;
        }
        nk = sort_unique(keys, nk);
        checks += multi_tamper(f, (const uint8_t(*)[32])keys, nk, &bytes);
        nsets++;
        nkeys += nk;
    }
    printf("proof: %zu multiproofs (%zu keys, %zu bytes): %zu damaged copies refused\n", nsets,
           nkeys, bytes, checks);
}

/* --- malformed single proofs ------------------------------------------------ */

/* Decoding hand-made bytes: each must be EPARSE. */
static void expect_parse_error(const uint8_t *b, size_t len, const char *what)
{
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);
    int rc = vmdb_proof_decode(p, (vmdb_slice){b, len});
    if (rc != VMDB_EPARSE)
        fail_msg("%s: decode gave %s, want VMDB_EPARSE", what, vmdb_error_name(rc));
    free(p);
}

static void test_malformed_encoding(void **state)
{
    (void)state;
    uint8_t b[3 + 32 + 4 * 32 + 64];
    tu_rng r = {3};
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);

    /* Depth 256 with a full bitmap of empties is the deepest legal form. */
    memset(b, 0, sizeof(b));
    b[0] = VMDB_PROOF_ABSENT_EMPTY;
    b[1] = 0x01;
    b[2] = 0x00;
    assert_int_equal(vmdb_proof_decode(p, (vmdb_slice){b, 3 + 32}), 0);
    assert_int_equal(p->depth, 256);
    /* Depth 257 (and the largest u16), whatever follows. */
    b[2] = 0x01;
    expect_parse_error(b, 3 + 33, "depth 257");
    expect_parse_error(b, 3 + 32, "depth 257 short");
    b[1] = b[2] = 0xff;
    expect_parse_error(b, 3 + 32, "depth 65535");

    /* Unknown kinds, with an otherwise valid depth-0 body. */
    for (unsigned k = 3; k < 256; k += 50) {
        uint8_t u[3] = {(uint8_t)k, 0, 0};
        expect_parse_error(u, 3, "unknown kind");
    }
    uint8_t ok0[3] = {VMDB_PROOF_ABSENT_EMPTY, 0, 0};
    assert_int_equal(vmdb_proof_decode(p, (vmdb_slice){ok0, 3}), 0);
    expect_parse_error(ok0, 2, "short header");
    expect_parse_error(ok0, 0, "empty");

    /* Depth 5: bitmap bits 5, 6, 7 are beyond it, each with its sibling
     * present so only the stray bit is wrong. */
    for (unsigned bit = 5; bit < 8; bit++) {
        memset(b, 0, sizeof(b));
        b[0] = VMDB_PROOF_ABSENT_EMPTY;
        b[2] = 5;
        b[3] = (uint8_t)(0x80 | (0x80 >> bit));
        tu_fill(&r, b + 4, 64);
        expect_parse_error(b, 4 + 64, "bitmap bit beyond depth");
        /* Without the stray bit and its sibling it is fine. */
        b[3] = 0x80;
        assert_int_equal(vmdb_proof_decode(p, (vmdb_slice){b, 4 + 32}), 0);
    }

    /* Sibling count mismatch: two bits set, one or three siblings. */
    memset(b, 0, sizeof(b));
    b[0] = VMDB_PROOF_INCLUSION;
    b[2] = 16;
    b[3] = 0x81;
    tu_fill(&r, b + 5, 3 * 32);
    assert_int_equal(vmdb_proof_decode(p, (vmdb_slice){b, 5 + 64}), 0);
    expect_parse_error(b, 5 + 32, "one sibling for two bits");
    expect_parse_error(b, 5 + 96, "three siblings for two bits");
    /* absent_leaf needs its other leaf, exactly. */
    b[0] = VMDB_PROOF_ABSENT_LEAF;
    tu_fill(&r, b + 5 + 64, 64);
    assert_int_equal(vmdb_proof_decode(p, (vmdb_slice){b, 5 + 128}), 0);
    expect_parse_error(b, 5 + 64, "absent_leaf without its leaf");
    expect_parse_error(b, 5 + 127, "absent_leaf leaf cut short");
    /* The other kinds carry no leaf. */
    b[0] = VMDB_PROOF_ABSENT_EMPTY;
    expect_parse_error(b, 5 + 128, "absent_empty with a leaf");

    /* A listed sibling that is Z: it must be left out instead. */
    b[0] = VMDB_PROOF_INCLUSION;
    memset(b + 5 + 32, 0, 32);
    expect_parse_error(b, 5 + 64, "listed zero sibling");
    memset(b + 5, 0, 32);
    memset(b + 5 + 32, 0x11, 32);
    expect_parse_error(b, 5 + 64, "listed zero sibling (deepest)");
    free(p);
}

/* Copies `src` into `dst` with one more sibling listed at level `level`
 * (which must be empty in src). */
static void insert_sibling(vmdb_proof *dst, const vmdb_proof *src, unsigned level,
                           const uint8_t s[32])
{
    unsigned deeper = 0;
    *dst = *src;
    for (unsigned i = level + 1; i < 256; i++)
        deeper += (unsigned)vmdb_key_bit(src->bitmap, i);
    assert_false(vmdb_key_bit(src->bitmap, level));
    set_bit(dst->bitmap, level);
    memcpy(dst->siblings[deeper], s, 32);
    memcpy(dst->siblings[deeper + 1], src->siblings[deeper],
           (size_t)(src->nsiblings - deeper) * 32);
    dst->nsiblings = (uint16_t)(src->nsiblings + 1);
}

static void expect_verify_fails(fixture *f, const uint8_t root[32], const uint8_t key[32],
                                const uint8_t *value, const vmdb_proof *p, const char *what)
{
    int rc = vmdb_proof_verify(f->h, root, key, value, p);
    if (rc != VMDB_EVERIFY)
        fail_msg("%s: verify gave %s, want VMDB_EVERIFY", what, vmdb_error_name(rc));
}

static void expect_verify_ok(fixture *f, const uint8_t root[32], const uint8_t key[32],
                             const uint8_t *value, const vmdb_proof *p, const char *what)
{
    int rc = vmdb_proof_verify(f->h, root, key, value, p);
    if (rc != 0)
        fail_msg("%s: verify gave %s (%s), want 0", what, vmdb_error_name(rc), vmdb_error_last());
}

/* Finds a key whose proof has the wanted kind, depth >= mindepth, and a
 * depth that is (aligned) or is not a multiple of 8, so that both forms
 * of a bit prefix comparison are reached. */
static void find_proof(fixture *f, vmdb_proof_kind kind, unsigned mindepth, bool aligned,
                       uint8_t key[32], vmdb_proof *p)
{
    tu_rng r = {kind * 1000u + mindepth + (aligned ? 7u : 0u)};
    for (int tries = 0; tries < 100000; tries++) {
        memcpy(key, f->leaves[tu_rand(&r) % f->n].key, 32);
        if (kind != VMDB_PROOF_INCLUSION)
            flip_bit(key, kind == VMDB_PROOF_ABSENT_LEAF ? 255 : (unsigned)(tu_rand(&r) % 12));
        vmdb_smt_prove(f->t, vmdb_smt_current(f->t), f->h, key, p, NULL);
        if (p->kind == kind && p->depth >= mindepth && (p->depth % 8 == 0) == aligned)
            return;
    }
    fail_msg("no proof of kind %d and depth >= %u (aligned %d)", kind, mindepth, aligned);
}

static void test_malformed_struct(void **state)
{
    fixture *f = *state;
    vmdb_proof *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    uint8_t key[32], val[32], forged[32], lh[32], s[32];
    assert_non_null(p);
    assert_non_null(q);
    memset(s, 0x42, 32);

    /* An inclusion proof, and the value it proves. */
    find_proof(f, VMDB_PROOF_INCLUSION, 3, false, key, p);
    assert_int_equal(vmdb_smt_get(f->t, vmdb_smt_current(f->t), key, val), 0);
    expect_verify_ok(f, f->root, key, val, p, "inclusion");
    vmdb_hash_node(f->h, lh, 0, key, val);

    /* Depth 257 and unknown kind, in the struct (a caller may fill one). */
    *q = *p;
    q->depth = 257;
    expect_verify_fails(f, f->root, key, val, q, "depth 257");
    *q = *p;
    q->kind = 3;
    expect_verify_fails(f, f->root, key, val, q, "kind 3");
    q->kind = 3;
    expect_verify_fails(f, f->root, key, NULL, q, "kind 3, absence claimed");

    /* An extra bit beyond the depth with its sibling listed last: the
     * levels below the depth still fold to the true root. Depths that are
     * and are not a multiple of 8 (the stray bit in the last bitmap byte
     * or in a byte the encoding would not even carry). */
    for (int aligned = 1; aligned >= 0; aligned--) {
        uint8_t k2[32], v2[32], l2[32];
        find_proof(f, VMDB_PROOF_INCLUSION, 3, aligned, k2, q);
        assert_int_equal(vmdb_smt_get(f->t, vmdb_smt_current(f->t), k2, v2), 0);
        vmdb_hash_node(f->h, l2, 0, k2, v2);
        vmdb_proof *z = malloc(sizeof(*z));
        assert_non_null(z);
        for (unsigned bit = q->depth; bit < 256; bit += (bit < q->depth + 9u ? 1u : 61u)) {
            *z = *q;
            set_bit(z->bitmap, bit);
            memcpy(z->siblings[z->nsiblings++], s, 32);
            naive_fold(f->h, k2, z, l2, forged);
            assert_memory_equal(forged, f->root, 32);
            expect_verify_fails(f, f->root, k2, v2, z, "bitmap bit beyond depth");
            /* The stray bit alone, the siblings as they were. */
            z->nsiblings--;
            expect_verify_fails(f, f->root, k2, v2, z, "bitmap bit beyond depth, no sibling");
        }
        free(z);
    }

    /* nsiblings disagreeing with the bitmap, either way. */
    *q = *p;
    memcpy(q->siblings[q->nsiblings++], s, 32);
    expect_verify_fails(f, f->root, key, val, q, "one sibling too many");
    *q = *p;
    assert_true(q->nsiblings > 0);
    q->nsiblings--;
    /* The careless fold follows the bitmap and still finds the last
     * sibling in the array: the true root. */
    expect_verify_fails(f, f->root, key, val, q, "one sibling too few");

    /* Z listed as a sibling: folds to the same root, one proof must have
     * one encoding. The top levels of a random tree are all full, so use
     * the cluster's depth-256 proof, whose empty levels run from about 10
     * to 253; try the shallowest and the deepest empty level. */
    {
        uint8_t bk[32], bv[32], bh[32];
        memcpy(bk, f->base, 32);
        vmdb_smt_prove(f->t, vmdb_smt_current(f->t), f->h, bk, q, bv);
        assert_int_equal(q->kind, VMDB_PROOF_INCLUSION);
        assert_int_equal(q->depth, 256);
        vmdb_proof *z = malloc(sizeof(*z));
        assert_non_null(z);
        vmdb_hash_node(f->h, bh, 0, bk, bv);
        for (int pass = 0; pass < 2; pass++) {
            int level = -1;
            for (unsigned i = 0; i < q->depth; i++)
                if (!vmdb_key_bit(q->bitmap, i) && (level < 0 || pass == 1))
                    level = (int)i;
            assert_true(level >= 0);
            insert_sibling(z, q, (unsigned)level, zero32);
            naive_fold(f->h, bk, z, bh, forged);
            assert_memory_equal(forged, f->root, 32);
            expect_verify_fails(f, f->root, bk, bv, z, "listed zero sibling");
            /* The same insertion with a non-zero hash is merely wrong. */
            insert_sibling(z, q, (unsigned)level, s);
            expect_verify_fails(f, f->root, bk, bv, z, "invented sibling");
        }
        free(z);
    }

    /* absent_leaf naming the key itself: the fold is the true root. */
    *q = *p;
    q->kind = VMDB_PROOF_ABSENT_LEAF;
    memcpy(q->other_key, key, 32);
    memcpy(q->other_value, val, 32);
    expect_verify_fails(f, f->root, key, NULL, q, "absent_leaf naming the key");

    /* absent_leaf whose leaf is off the key's path, against a forged root
     * that the fold reaches. Differing at bit L-1 or bit 0 is refused;
     * differing only at bit L or later is legal (boundary of the prefix).
     * Depths that are and are not a multiple of 8 both occur. */
    for (int aligned = 0; aligned < 2; aligned++) {
        find_proof(f, VMDB_PROOF_ABSENT_LEAF, 3, aligned, key, p);
        expect_verify_ok(f, f->root, key, NULL, p, "absent_leaf");
        unsigned L = p->depth;
        const unsigned offs[] = {L - 1, 0, L / 2, L, L + 1, 255};
        for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
            *q = *p;
            memcpy(q->other_key, key, 32);
            flip_bit(q->other_key, offs[i]);
            vmdb_hash_node(f->h, forged, 0, q->other_key, q->other_value);
            naive_fold(f->h, key, q, forged, forged);
            if (offs[i] < L)
                expect_verify_fails(f, forged, key, NULL, q, "absent_leaf off the path");
            else
                expect_verify_ok(f, forged, key, NULL, q, "absent_leaf just on the path");
        }
    }

    /* The claim must match the kind, whatever the hash. */
    find_proof(f, VMDB_PROOF_ABSENT_EMPTY, 1, false, key, p);
    expect_verify_ok(f, f->root, key, NULL, p, "absent_empty");
    expect_verify_fails(f, f->root, key, val, p, "absent_empty claimed present");
    *q = *p;
    q->kind = VMDB_PROOF_INCLUSION;
    expect_verify_fails(f, f->root, key, NULL, q, "inclusion claimed absent");

    /* Depth 256 built by hand: all siblings empty, a leaf at the bottom.
     * Legal against its own root; the same proof one level short is not. */
    memset(q, 0, sizeof(*q));
    q->kind = VMDB_PROOF_INCLUSION;
    q->depth = 256;
    vmdb_hash_node(f->h, lh, 0, key, val);
    naive_fold(f->h, key, q, lh, forged);
    expect_verify_ok(f, forged, key, val, q, "hand-made depth 256");
    q->depth = 255;
    expect_verify_fails(f, forged, key, val, q, "hand-made depth 255 against 256's root");
    free(p);
    free(q);
}

/* --- malformed multiproofs ---------------------------------------------------- */

static void mp_expect(fixture *f, const uint8_t root[32], const uint8_t (*keys)[32], size_t nk,
                      const vmdb_buf *b, int want, const char *what)
{
    uint8_t vals[8][32];
    bool present[8];
    assert_true(nk <= 8);
    int rc =
        vmdb_multiproof_verify(f->h, root, keys, nk, (vmdb_slice){b->ptr, b->len}, vals, present);
    if (rc != want)
        fail_msg("%s: multiproof verify gave %s (%s), want %s", what, vmdb_error_name(rc),
                 vmdb_error_last(), vmdb_error_name(want));
}

static void put_leaf(vmdb_buf *b, const uint8_t k[32], const uint8_t v[32])
{
    assert_int_equal(vmdb_buf_putc(b, 0x01), 0);
    assert_int_equal(vmdb_buf_put(b, k, 32), 0);
    assert_int_equal(vmdb_buf_put(b, v, 32), 0);
}

static void put_hash(vmdb_buf *b, const uint8_t h[32])
{
    assert_int_equal(vmdb_buf_putc(b, 0x03), 0);
    assert_int_equal(vmdb_buf_put(b, h, 32), 0);
}

/* BRANCH nodes for depths [from, to) along `key`, each with an EMPTY
 * other side, around `inner` (whose hash is `ih`, sitting at depth `to`);
 * appends the bytes and gives the root hash over them. */
static void chain(fixture *f, const uint8_t key[32], unsigned from, unsigned to,
                  const vmdb_buf *inner, const uint8_t ih[32], vmdb_buf *out, uint8_t root[32])
{
    memcpy(root, ih, 32);
    for (unsigned d = from; d < to; d++)
        if (vmdb_key_bit(key, d))
            assert_int_equal(vmdb_buf_put(out, "\x02\x00", 2), 0);
        else
            assert_int_equal(vmdb_buf_putc(out, 0x02), 0);
    assert_int_equal(vmdb_buf_put(out, inner->ptr, inner->len), 0);
    for (unsigned d = to; d-- > from;) {
        if (vmdb_key_bit(key, d)) {
            vmdb_hash_node(f->h, root, 0x01, zero32, root);
        } else {
            assert_int_equal(vmdb_buf_putc(out, 0x00), 0);
            vmdb_hash_node(f->h, root, 0x01, root, zero32);
        }
    }
}

static void test_malformed_multi(void **state)
{
    fixture *f = *state;
    tu_rng r = {17};
    uint8_t a[32], av[32], bk[32], bv[32], la[32], lb[32], root[32], keys[3][32];
    vmdb_buf b = VMDB_BUF_INIT, inner = VMDB_BUF_INIT;

    /* A two-leaf world: a on the left of the root, b on the right. */
    tu_fill(&r, a, 32);
    tu_fill(&r, bk, 32);
    tu_fill(&r, av, 32);
    tu_fill(&r, bv, 32);
    a[0] &= 0x7f;
    bk[0] |= 0x80;
    vmdb_hash_node(f->h, la, 0, a, av);
    vmdb_hash_node(f->h, lb, 0, bk, bv);
    vmdb_hash_node(f->h, root, 1, la, lb);
    const uint8_t(*ka)[32] = (const uint8_t(*)[32])a;

    /* The honest form: BRANCH, LEAF a, HASH lb. */
    assert_int_equal(vmdb_buf_putc(&b, 0x02), 0);
    put_leaf(&b, a, av);
    put_hash(&b, lb);
    mp_expect(f, root, ka, 1, &b, 0, "honest two-leaf multiproof");

    /* HASH where a key enters: at the root, and one level down. */
    b.len = 0;
    put_hash(&b, root);
    mp_expect(f, root, ka, 1, &b, VMDB_EVERIFY, "HASH of the root");
    b.len = 0;
    assert_int_equal(vmdb_buf_putc(&b, 0x02), 0);
    put_hash(&b, la);
    put_hash(&b, lb);
    mp_expect(f, root, ka, 1, &b, VMDB_EVERIFY, "HASH over the key's leaf");

    /* A zero HASH standing for an empty side: same hash as EMPTY. */
    uint8_t r1[32];
    vmdb_hash_node(f->h, r1, 1, la, zero32);
    b.len = 0;
    assert_int_equal(vmdb_buf_putc(&b, 0x02), 0);
    put_leaf(&b, a, av);
    assert_int_equal(vmdb_buf_putc(&b, 0x00), 0);
    mp_expect(f, r1, ka, 1, &b, 0, "BRANCH, LEAF, EMPTY");
    b.len--;
    put_hash(&b, zero32);
    mp_expect(f, r1, ka, 1, &b, VMDB_EVERIFY, "zero HASH");

    /* A side no key enters may not be expanded (EMPTY or HASH only). */
    b.len = 0;
    assert_int_equal(vmdb_buf_putc(&b, 0x02), 0);
    put_leaf(&b, a, av);
    put_leaf(&b, bk, bv);
    mp_expect(f, root, ka, 1, &b, VMDB_EVERIFY, "LEAF where no key enters");

    /* A LEAF off the path of the keys that reach it: b's leaf on the left
     * side, against the root the careless hash gives. */
    uint8_t r2[32];
    vmdb_hash_node(f->h, r2, 1, lb, lb);
    b.len = 0;
    assert_int_equal(vmdb_buf_putc(&b, 0x02), 0);
    put_leaf(&b, bk, bv);
    put_hash(&b, lb);
    mp_expect(f, r2, ka, 1, &b, VMDB_EVERIFY, "LEAF off the path");

    /* Unknown tags, trailing and missing bytes. */
    for (unsigned tag = 4; tag < 256; tag += 63) {
        b.len = 0;
        assert_int_equal(vmdb_buf_putc(&b, 0x02), 0);
        put_leaf(&b, a, av);
        assert_int_equal(vmdb_buf_putc(&b, (uint8_t)tag), 0);
        assert_int_equal(vmdb_buf_put(&b, lb, 32), 0);
        mp_expect(f, root, ka, 1, &b, VMDB_EVERIFY, "unknown tag");
    }
    b.len = 0;
    mp_expect(f, root, ka, 1, &b, VMDB_EVERIFY, "empty multiproof");

    /* Keys not sorted, duplicated, or none: VMDB_EINVAL from both sides. */
    b.len = 0;
    assert_int_equal(vmdb_buf_putc(&b, 0x02), 0);
    put_leaf(&b, a, av);
    put_leaf(&b, bk, bv);
    memcpy(keys[0], bk, 32);
    memcpy(keys[1], a, 32);
    mp_expect(f, root, (const uint8_t(*)[32])keys, 2, &b, VMDB_EINVAL, "keys not sorted");
    memcpy(keys[0], a, 32);
    memcpy(keys[1], bk, 32);
    mp_expect(f, root, (const uint8_t(*)[32])keys, 2, &b, 0, "keys sorted");
    memcpy(keys[2], bk, 32);
    mp_expect(f, root, (const uint8_t(*)[32])(keys + 1), 2, &b, VMDB_EINVAL, "duplicate key");
    mp_expect(f, root, ka, 0, &b, VMDB_EINVAL, "no keys");
    vmdb_buf out = VMDB_BUF_INIT;
    memcpy(keys[0], f->leaves[1].key, 32);
    memcpy(keys[1], f->leaves[0].key, 32);
    assert_int_equal(vmdb_smt_multiprove(f->t, vmdb_smt_current(f->t), f->h,
                                         (const uint8_t(*)[32])keys, 2, &out),
                     VMDB_EINVAL);
    assert_int_equal(vmdb_smt_multiprove(f->t, vmdb_smt_current(f->t), f->h,
                                         (const uint8_t(*)[32])keys, 0, &out),
                     VMDB_EINVAL);
    memcpy(keys[1], keys[0], 32);
    assert_int_equal(vmdb_smt_multiprove(f->t, vmdb_smt_current(f->t), f->h,
                                         (const uint8_t(*)[32])keys, 2, &out),
                     VMDB_EINVAL);
    assert_int_equal(out.len, 0);
    vmdb_buf_free(&out);

    /* BRANCH at depth 256: a chain of 256 BRANCHes along a, then one more
     * over (LEAF a, EMPTY). Its careless root is computable, and a
     * verifier that split there would read bit 256 of the key. The same
     * chain ending in the LEAF itself is legal. */
    uint8_t ih[32], r3[32];
    inner.len = 0;
    put_leaf(&inner, a, av);
    b.len = 0;
    chain(f, a, 0, 256, &inner, la, &b, r3);
    mp_expect(f, r3, ka, 1, &b, 0, "LEAF at depth 256");
    inner.len = 0;
    assert_int_equal(vmdb_buf_putc(&inner, 0x02), 0);
    put_leaf(&inner, a, av);
    assert_int_equal(vmdb_buf_putc(&inner, 0x00), 0);
    vmdb_hash_node(f->h, ih, 1, la, zero32);
    b.len = 0;
    chain(f, a, 0, 256, &inner, ih, &b, r3);
    mp_expect(f, r3, ka, 1, &b, VMDB_EVERIFY, "BRANCH at depth 256");

    /* Two keys that differ only in bit 255: BRANCH(LEAF, LEAF) is legal at
     * depth 255 and illegal one level deeper. */
    memcpy(keys[0], a, 32);
    memcpy(keys[1], a, 32);
    keys[0][31] &= 0xfe;
    keys[1][31] |= 0x01;
    vmdb_buf two = VMDB_BUF_INIT;
    uint8_t l0[32], l1[32];
    assert_int_equal(vmdb_buf_putc(&two, 0x02), 0);
    put_leaf(&two, keys[0], av);
    put_leaf(&two, keys[1], bv);
    vmdb_hash_node(f->h, l0, 0, keys[0], av);
    vmdb_hash_node(f->h, l1, 0, keys[1], bv);
    vmdb_hash_node(f->h, ih, 1, l0, l1);
    b.len = 0;
    chain(f, keys[0], 0, 255, &two, ih, &b, r3);
    mp_expect(f, r3, (const uint8_t(*)[32])keys, 2, &b, 0, "BRANCH at depth 255");
    b.len = 0;
    chain(f, keys[0], 0, 256, &two, ih, &b, r3);
    mp_expect(f, r3, (const uint8_t(*)[32])keys, 2, &b, VMDB_EVERIFY, "two keys at depth 256");

    vmdb_buf_free(&two);
    vmdb_buf_free(&b);
    vmdb_buf_free(&inner);
}

/* --- JSON form ---------------------------------------------------------------- */

static void expect_hex_member(const vmdb_json *o, const char *name, const uint8_t *want, size_t n)
{
    size_t len = 0;
    uint8_t *got = tu_json_hex(o, name, &len);
    assert_int_equal(len, n);
    if (n)
        assert_memory_equal(got, want, n);
    free(got);
}

static void check_json(fixture *f, const uint8_t key[32], const uint8_t *value, const vmdb_proof *p)
{
    static const char *kinds[] = {"inclusion", "absent_empty", "absent_leaf"};
    vmdb_buf b = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    const vmdb_json_limits lim = {0, 0};

    assert_int_equal(vmdb_proof_to_json(&b, p, key, value), 0);
    if (vmdb_json_parse(&doc, (vmdb_slice){b.ptr, b.len}, &lim) != 0)
        fail_msg("proof JSON does not parse: %.*s", (int)b.len, (const char *)b.ptr);
    const vmdb_json *o = vmdb_json_doc_root(doc);
    assert_int_equal(vmdb_json_typeof(o), VMDB_JSON_OBJECT);
    vmdb_slice k = tu_json_str(o, "kind");
    assert_int_equal(k.len, strlen(kinds[p->kind]));
    assert_memory_equal(k.ptr, kinds[p->kind], k.len);
    expect_hex_member(o, "key", key, 32);
    assert_int_equal(tu_json_u64(o, "depth"), p->depth);
    expect_hex_member(o, "bitmap", p->bitmap, ((size_t)p->depth + 7) / 8);
    const vmdb_json *s = vmdb_json_get(o, "siblings");
    assert_non_null(s);
    assert_int_equal(vmdb_json_typeof(s), VMDB_JSON_ARRAY);
    assert_int_equal(vmdb_json_size(s), p->nsiblings);
    for (size_t i = 0; i < p->nsiblings; i++) {
        vmdb_slice x = vmdb_json_string(vmdb_json_at(s, i));
        uint8_t h[32];
        assert_int_equal(x.len, 64);
        assert_int_equal(vmdb_hex_decode(h, 32, (const char *)x.ptr, x.len), 0);
        assert_memory_equal(h, p->siblings[i], 32);
    }
    size_t members = 5;
    if (p->kind == VMDB_PROOF_INCLUSION) {
        expect_hex_member(o, "value", value, 32);
        members++;
    } else {
        assert_null(vmdb_json_get(o, "value"));
    }
    if (p->kind == VMDB_PROOF_ABSENT_LEAF) {
        expect_hex_member(o, "other_key", p->other_key, 32);
        expect_hex_member(o, "other_value", p->other_value, 32);
        members += 2;
    } else {
        assert_null(vmdb_json_get(o, "other_key"));
        assert_null(vmdb_json_get(o, "other_value"));
    }
    /* Nothing beyond the fields of §4. */
    assert_int_equal(vmdb_json_size(o), members);
    /* Lower-case hex only, as the protocol promises. */
    for (size_t i = 0; i < b.len; i++)
        assert_false(b.ptr[i] >= 'A' && b.ptr[i] <= 'F');
    (void)f;
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&b);
}

static void test_json(void **state)
{
    fixture *f = *state;
    tu_rng r = {23};
    claim c[48];
    size_t nc = sample_claims(f, c, &r), kinds[3] = {0};
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);

    for (size_t i = 0; i < nc; i++) {
        uint8_t v[32];
        vmdb_smt_prove(f->t, vmdb_smt_current(f->t), f->h, c[i].key, p, v);
        check_json(f, c[i].key, c[i].present ? c[i].value : NULL, p);
        kinds[p->kind]++;
    }
    /* The empty tree's depth-0 proof: empty bitmap and sibling list. */
    memset(p, 0, sizeof(*p));
    p->kind = VMDB_PROOF_ABSENT_EMPTY;
    check_json(f, c[0].key, NULL, p);
    for (int k = 0; k < 3; k++)
        assert_true(kinds[k] > 0);
    printf("proof: %zu proofs in JSON form parsed and checked\n", nc + 1);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_tamper),      cmocka_unit_test(test_multi_tamper),
        cmocka_unit_test(test_malformed_encoding), cmocka_unit_test(test_malformed_struct),
        cmocka_unit_test(test_malformed_multi),    cmocka_unit_test(test_json),
        cmocka_unit_test(test_verify_many),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
