/*
 * Property tests of the sparse Merkle tree against the naive reference:
 * thousands of random sequences of batched inserts, updates and deletes,
 * with keys that are either uniformly random or clustered (sharing long
 * prefixes and differing only in a few chosen bits, down to bit 255, so
 * that chains, deep splits and collapses are all exercised). After every
 * batch the root must equal the reference and every proof and multiproof
 * must verify; older versions held by a reader must stay intact.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util/run2.h"
#include "vmdb/proof.h"
#include "vmdb/smt.h"

typedef struct model {
    vmdb_smt_leaf *l;
    size_t n, cap;
} model;

typedef struct keygen {
    bool clustered;
    uint8_t base[32];
    unsigned pos[8];
} keygen;

static void gen_key(tu_rng *r, const keygen *g, uint8_t k[32])
{
    if (!g->clustered) {
        tu_fill(r, k, 32);
        return;
    }
    memcpy(k, g->base, 32);
    uint64_t bits = tu_rand(r);
    for (int i = 0; i < 8; i++)
        if (bits >> i & 1)
            k[g->pos[i] / 8] ^= (uint8_t)(0x80 >> (g->pos[i] % 8));
}

static ssize_t model_find(const model *m, const uint8_t k[32])
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(m->l[mid].key, k, 32);
        if (c == 0)
            return (ssize_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1 - (ssize_t)lo;
}

static void model_apply(model *m, const vmdb_smt_change *c)
{
    ssize_t i = model_find(m, c->key);
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
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->l = realloc(m->l, m->cap * sizeof(vmdb_smt_leaf));
        assert_non_null(m->l);
    }
    memmove(&m->l[at + 1], &m->l[at], (m->n - at) * sizeof(vmdb_smt_leaf));
    memcpy(m->l[at].key, c->key, 32);
    memcpy(m->l[at].value, c->value, 32);
    m->n++;
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Checks the tree version `v` against the model: root, count, lookups,
 * proofs for every present key and some absent ones, and multiproofs. */
/* vmdb_smt_get_many on present and absent keys, interleaved, in batches of
 * every size around its lane count, against the model. */
static void check_get_many(vmdb_smt *t, const vmdb_smt_view *v, const model *m, tu_rng *r,
                           const keygen *g)
{
    size_t n = (size_t)(tu_rand(r) % 21);
    uint8_t(*keys)[32] = malloc((n + 1) * 32), (*vals)[32] = malloc((n + 1) * 32);
    bool *found = malloc(n + 1);
    assert_true(keys && vals && found);
    for (size_t i = 0; i < n; i++) {
        if (m->n && tu_rand(r) % 2)
            memcpy(keys[i], m->l[tu_rand(r) % m->n].key, 32);
        else
            gen_key(r, g, keys[i]);
    }
    vmdb_smt_get_many(t, v, (const uint8_t(*)[32])keys, n, vals, found);
    for (size_t i = 0; i < n; i++) {
        long at = model_find(m, keys[i]);
        assert_int_equal(found[i], at >= 0);
        if (at >= 0)
            assert_memory_equal(vals[i], m->l[at].value, 32);
    }
    free(keys);
    free(vals);
    free(found);
}

static void check_version(vmdb_smt *t, const vmdb_smt_view *v, vmdb_hasher *h, const model *m,
                          tu_rng *r, const keygen *g)
{
    uint8_t root[32], ref[32], val[32];
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);

    vmdb_smt_view_root(v, root);
    tu_ref_root(h, m->l, m->n, ref);
    assert_memory_equal(root, ref, 32);
    assert_int_equal(vmdb_smt_view_count(v), m->n);

    for (size_t i = 0; i < m->n; i++) {
        assert_int_equal(vmdb_smt_get(t, v, m->l[i].key, val), 0);
        assert_memory_equal(val, m->l[i].value, 32);
        vmdb_smt_prove(t, v, h, m->l[i].key, p, val);
        assert_int_equal(p->kind, VMDB_PROOF_INCLUSION);
        assert_int_equal(vmdb_proof_verify(h, root, m->l[i].key, m->l[i].value, p), 0);
        if (i % 8)
            continue;
        /* The same proof must not prove absence or another value. */
        assert_int_not_equal(vmdb_proof_verify(h, root, m->l[i].key, NULL, p), 0);
        val[0] ^= 1;
        assert_int_not_equal(vmdb_proof_verify(h, root, m->l[i].key, val, p), 0);
        /* Round trip through the binary form. */
        vmdb_buf b = VMDB_BUF_INIT;
        vmdb_proof *q = malloc(sizeof(*q));
        assert_int_equal(vmdb_proof_encode(&b, p), 0);
        assert_int_equal(vmdb_proof_decode(q, (vmdb_slice){b.ptr, b.len}), 0);
        assert_int_equal(vmdb_proof_verify(h, root, m->l[i].key, m->l[i].value, q), 0);
        free(q);
        vmdb_buf_free(&b);
    }
    check_get_many(t, v, m, r, g);
    for (int i = 0; i < 8; i++) {
        uint8_t k[32];
        gen_key(r, g, k);
        if (i == 0)
            tu_fill(r, k, 32);
        if (model_find(m, k) >= 0)
            continue;
        assert_int_equal(vmdb_smt_get(t, v, k, val), VMDB_ENOTFOUND);
        vmdb_smt_prove(t, v, h, k, p, NULL);
        assert_int_not_equal(p->kind, VMDB_PROOF_INCLUSION);
        assert_int_equal(vmdb_proof_verify(h, root, k, NULL, p), 0);
        memset(val, 7, 32);
        assert_int_not_equal(vmdb_proof_verify(h, root, k, val, p), 0);
    }

    /* Multiproof over a random subset plus absent keys. */
    size_t nk = 0;
    uint8_t(*keys)[32] = malloc((m->n + 6) * 32);
    for (size_t i = 0; i < m->n; i++)
        if (tu_rand(r) % 3 == 0)
            memcpy(keys[nk++], m->l[i].key, 32);
    for (int i = 0; i < 6; i++) {
        gen_key(r, g, keys[nk]);
        if (model_find(m, keys[nk]) < 0)
            nk++;
    }
    qsort(keys, nk, 32, key_cmp);
    size_t u = 0;
    for (size_t i = 0; i < nk; i++)
        if (u == 0 || memcmp(keys[u - 1], keys[i], 32) != 0)
            memcpy(keys[u++], keys[i], 32);
    nk = u;
    if (nk) {
        vmdb_buf mp = VMDB_BUF_INIT;
        uint8_t(*vals)[32] = malloc(nk * 32);
        bool *present = malloc(nk);
        assert_int_equal(vmdb_smt_multiprove(t, v, h, (const uint8_t(*)[32])keys, nk, &mp), 0);
        assert_int_equal(vmdb_multiproof_verify(h, root, (const uint8_t(*)[32])keys, nk,
                                                (vmdb_slice){mp.ptr, mp.len}, vals, present),
                         0);
        for (size_t i = 0; i < nk; i++) {
            ssize_t j = model_find(m, keys[i]);
            assert_int_equal(present[i], j >= 0);
            if (j >= 0)
                assert_memory_equal(vals[i], m->l[j].value, 32);
        }
        if (mp.len > 0) {
            /* A corrupted byte anywhere must be caught. */
            size_t at = (size_t)(tu_rand(r) % mp.len);
            mp.ptr[at] ^= (uint8_t)(1u << (tu_rand(r) % 8));
            assert_int_not_equal(vmdb_multiproof_verify(h, root, (const uint8_t(*)[32])keys, nk,
                                                        (vmdb_slice){mp.ptr, mp.len}, vals,
                                                        present),
                                 0);
        }
        free(vals);
        free(present);
        vmdb_buf_free(&mp);
    }
    free(keys);
    free(p);
}

static void run_sequences(int nseq, bool clustered, unsigned hasher_flags)
{
    tu_rng r = {clustered ? 1234u : 99u};
    vmdb_hasher *h = NULL;
    assert_int_equal(vmdb_hasher_new(&h, hasher_flags), 0);

    for (int s = 0; s < nseq; s++) {
        vmdb_smt *t = NULL;
        model m = {0}, old = {0};
        keygen g = {clustered, {0}, {0}};
        assert_int_equal(vmdb_smt_new(&t, hasher_flags), 0);
        tu_fill(&r, g.base, 32);
        for (int i = 0; i < 8; i++)
            g.pos[i] = i < 2 ? (unsigned)(255 - i) : (unsigned)(tu_rand(&r) % 256);
        int nbatches = 1 + (int)(tu_rand(&r) % 10);
        for (int b = 0; b < nbatches; b++) {
            size_t nc = 1 + tu_rand(&r) % 24;
            vmdb_smt_change *c = calloc(nc, sizeof(*c));
            for (size_t i = 0; i < nc; i++) {
                unsigned op = (unsigned)(tu_rand(&r) % 10);
                if (m.n && op < 3) /* update or delete an existing key */
                    memcpy(c[i].key, m.l[tu_rand(&r) % m.n].key, 32);
                else if (i && op == 3) /* repeat a key within the batch */
                    memcpy(c[i].key, c[tu_rand(&r) % i].key, 32);
                else
                    gen_key(&r, &g, c[i].key);
                c[i].remove = tu_rand(&r) % 4 == 0;
                tu_fill(&r, c[i].value, 32);
            }
            /* Hold the current version across the update. */
            const vmdb_smt_view *held = vmdb_smt_acquire(t);
            old.n = 0;
            for (size_t i = 0; i < m.n; i++) {
                vmdb_smt_change keep;
                memcpy(keep.key, m.l[i].key, 32);
                memcpy(keep.value, m.l[i].value, 32);
                keep.remove = false;
                model_apply(&old, &keep);
            }
            if (tu_rand(&r) % 8 == 0) {
                /* A discarded version leaves everything as it was. */
                assert_int_equal(vmdb_smt_apply(t, c, nc), 0);
                vmdb_smt_discard(t);
                check_version(t, vmdb_smt_current(t), h, &m, &r, &g);
            }
            assert_int_equal(vmdb_smt_apply(t, c, nc), 0);
            for (size_t i = 0; i < nc; i++)
                model_apply(&m, &c[i]);
            check_version(t, vmdb_smt_pending(t), h, &m, &r, &g);
            vmdb_smt_publish(t);
            uint8_t r1[32], r2[32];
            vmdb_smt_view_root(vmdb_smt_current(t), r1);
            tu_ref_root(h, m.l, m.n, r2);
            assert_memory_equal(r1, r2, 32);
            /* The held version still answers as it did. */
            if (b % 3 == 0)
                check_version(t, held, h, &old, &r, &g);
            vmdb_smt_release(t, held);
            vmdb_smt_collect(t);
            free(c);
        }
        /* Bulk build of the same leaves gives the same root. */
        vmdb_smt *t2 = NULL;
        uint8_t r1[32], r2[32];
        assert_int_equal(vmdb_smt_new(&t2, hasher_flags), 0);
        assert_int_equal(vmdb_smt_build(t2, m.l, m.n), 0);
        vmdb_smt_publish(t2);
        vmdb_smt_view_root(vmdb_smt_current(t), r1);
        vmdb_smt_view_root(vmdb_smt_current(t2), r2);
        assert_memory_equal(r1, r2, 32);
        check_version(t2, vmdb_smt_current(t2), h, &m, &r, &g);
        /* Rebuilding over a non-empty tree replaces it. */
        assert_int_equal(vmdb_smt_build(t, m.l, m.n / 2), 0);
        vmdb_smt_publish(t);
        model half = {m.l, m.n / 2, m.cap};
        check_version(t, vmdb_smt_current(t), h, &half, &r, &g);
        vmdb_smt_free(t2);
        vmdb_smt_free(t);
        free(m.l);
        free(old.l);
    }
    vmdb_hasher_free(h);
}

/* VMDB_TEST_SCALE=k divides the sequence counts by k (the sanitizer
 * build runs the same properties on fewer sequences). */
static int scaled(int n)
{
    const char *s = getenv("VMDB_TEST_SCALE");
    long k = s ? strtol(s, NULL, 10) : 1;
    return k > 1 ? (int)(n / k) : n;
}

static void test_random_sequences(void **state)
{
    (void)state;
    run_sequences(scaled(1000), false, 0);
}

static void test_clustered_sequences(void **state)
{
    (void)state;
    run_sequences(scaled(1000), true, 0);
}

static void test_openssl_path(void **state)
{
    (void)state;
    run_sequences(scaled(40), true, VMDB_HASHER_FORCE_OPENSSL);
}

/* --- the two-way build ----------------------------------------------------- */

static void run2_serial(void *ctx, void (*fn)(void *), void *a, void *b)
{
    (*(int *)ctx)++;
    fn(b);
    fn(a);
}

/* vmdb_smt_build_par gives the tree vmdb_smt_build gives (root, count,
 * every leaf and proof), on threads or in turn, into an empty tree or over
 * one with freed slots, and the result takes updates like any other. */
static void test_build_par(void **state)
{
    (void)state;
    static const size_t sizes[] = {1024, 1025, 3000, 20000};
    vmdb_hasher *h = NULL;
    tu_rng r = {2024};
    assert_int_equal(vmdb_hasher_new(&h, 0), 0);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        model m = {calloc(n, sizeof(vmdb_smt_leaf)), n, n};
        keygen g = {false, {0}, {0}};
        uint8_t prefix[25];
        assert_non_null(m.l);
        tu_fill(&r, prefix, sizeof prefix);
        for (size_t i = 0; i < n; i++) {
            gen_key(&r, &g, m.l[i].key);
            /* Odd sizes: every key shares 200 bits, so the root splits
             * deep, below a chain of 200 levels. */
            if (si % 2 == 1)
                memcpy(m.l[i].key, prefix, sizeof prefix);
            tu_fill(&r, m.l[i].value, 32);
        }
        qsort(m.l, n, sizeof(vmdb_smt_leaf), tu_leaf_cmp);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (u == 0 || memcmp(m.l[u - 1].key, m.l[i].key, 32) != 0)
                m.l[u++] = m.l[i];
        m.n = u;
        vmdb_smt *a = NULL, *b = NULL;
        int calls = 0;
        uint8_t ra[32], rb[32];
        assert_int_equal(vmdb_smt_new(&a, 0), 0);
        assert_int_equal(vmdb_smt_new(&b, 0), 0);
        assert_int_equal(vmdb_smt_build(a, m.l, m.n), 0);
        vmdb_smt_publish(a);
        assert_int_equal(vmdb_smt_build_par(b, m.l, m.n, vmdb_run2_threads, NULL), 0);
        vmdb_smt_publish(b);
        vmdb_smt_view_root(vmdb_smt_current(a), ra);
        vmdb_smt_view_root(vmdb_smt_current(b), rb);
        assert_memory_equal(ra, rb, 32);
        check_version(b, vmdb_smt_current(b), h, &m, &r, &g);
        /* Updates on top: changed, removed and new keys. */
        vmdb_smt_change *c = calloc(600, sizeof(*c));
        assert_non_null(c);
        for (size_t i = 0; i < 600; i++) {
            if (i % 3 == 2)
                gen_key(&r, &g, c[i].key);
            else
                memcpy(c[i].key, m.l[tu_rand(&r) % m.n].key, 32);
            tu_fill(&r, c[i].value, 32);
            c[i].remove = i % 5 == 0;
        }
        assert_int_equal(vmdb_smt_update(a, c, 600), 0);
        assert_int_equal(vmdb_smt_update(b, c, 600), 0);
        for (size_t i = 0; i < 600; i++)
            model_apply(&m, &c[i]);
        check_version(b, vmdb_smt_current(b), h, &m, &r, &g);
        vmdb_smt_view_root(vmdb_smt_current(a), ra);
        vmdb_smt_view_root(vmdb_smt_current(b), rb);
        assert_memory_equal(ra, rb, 32);
        /* Rebuilt over itself (its old nodes freed once published), in
         * turn: the halves come back through the runner once. */
        assert_int_equal(vmdb_smt_build_par(b, m.l, m.n, run2_serial, &calls), 0);
        vmdb_smt_publish(b);
        assert_int_equal(calls, 1);
        check_version(b, vmdb_smt_current(b), h, &m, &r, &g);
        assert_int_equal(vmdb_smt_update(b, c, 600), 0);
        assert_int_equal(vmdb_smt_update(a, c, 600), 0);
        vmdb_smt_view_root(vmdb_smt_current(a), ra);
        vmdb_smt_view_root(vmdb_smt_current(b), rb);
        assert_memory_equal(ra, rb, 32);
        free(c);
        vmdb_smt_free(a);
        vmdb_smt_free(b);
        free(m.l);
    }
    vmdb_hasher_free(h);
}

static void test_empty_tree(void **state)
{
    (void)state;
    vmdb_smt *t = NULL;
    vmdb_hasher *h = NULL;
    vmdb_proof p;
    uint8_t root[32], k[32] = {1}, zero[32] = {0};
    assert_int_equal(vmdb_smt_new(&t, 0), 0);
    assert_int_equal(vmdb_hasher_new(&h, 0), 0);
    vmdb_smt_view_root(vmdb_smt_current(t), root);
    assert_memory_equal(root, zero, 32);
    vmdb_smt_prove(t, vmdb_smt_current(t), h, k, &p, NULL);
    assert_int_equal(p.kind, VMDB_PROOF_ABSENT_EMPTY);
    assert_int_equal(p.depth, 0);
    assert_int_equal(vmdb_proof_verify(h, root, k, NULL, &p), 0);
    /* Deleting from an empty tree is a no-op, and an empty batch too. */
    vmdb_smt_change c = {{1}, {2}, true};
    assert_int_equal(vmdb_smt_update(t, &c, 1), 0);
    assert_int_equal(vmdb_smt_update(t, NULL, 0), 0);
    vmdb_smt_view_root(vmdb_smt_current(t), root);
    assert_memory_equal(root, zero, 32);
    /* A second apply while one is pending is refused. */
    assert_int_equal(vmdb_smt_apply(t, &c, 1), 0);
    assert_int_equal(vmdb_smt_apply(t, &c, 1), VMDB_EBUSY);
    vmdb_smt_discard(t);
    /* Unsorted bulk input is refused. */
    vmdb_smt_leaf ls[2] = {{{2}, {0}}, {{1}, {0}}};
    assert_int_equal(vmdb_smt_build(t, ls, 2), VMDB_EINVAL);
    vmdb_smt_free(t);
    vmdb_hasher_free(h);
}

static void test_collect_frees(void **state)
{
    (void)state;
    vmdb_smt *t = NULL;
    tu_rng r = {5};
    assert_int_equal(vmdb_smt_new(&t, 0), 0);
    vmdb_smt_change *c = calloc(1000, sizeof(*c));
    for (int i = 0; i < 1000; i++)
        tu_fill(&r, c[i].key, 32);
    assert_int_equal(vmdb_smt_update(t, c, 1000), 0);
    size_t mem = vmdb_smt_memory(t);
    /* Rewriting every value 50 times must reuse freed nodes, not grow. */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 1000; i++)
            tu_fill(&r, c[i].value, 32);
        assert_int_equal(vmdb_smt_update(t, c, 1000), 0);
    }
    assert_true(vmdb_smt_memory(t) <= 2 * mem + (1u << 20) * 2);
    free(c);
    vmdb_smt_free(t);
}

int main(int argc, char **argv)
{
    /* ctest runs each property as its own test so they share the cores. */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_tree),       cmocka_unit_test(test_build_par),
        cmocka_unit_test(test_random_sequences), cmocka_unit_test(test_clustered_sequences),
        cmocka_unit_test(test_openssl_path),     cmocka_unit_test(test_collect_frees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
