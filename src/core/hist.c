/*
 * History tree. Every complete (power-of-two, aligned) subtree hash is
 * kept, level by level, so roots and proofs for any prefix of the history
 * cost O(log^2 n) hashes at worst instead of a pass over all headers.
 * Memory: about 64 bytes per entry.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "vmdb/hist.h"

#define HIST_LEVELS 64

typedef struct level {
    uint8_t (*h)[32];
    uint64_t n, cap;
} level;

struct vmdb_hist {
    level lv[HIST_LEVELS];
};

int vmdb_hist_new(vmdb_hist **out)
{
    *out = calloc(1, sizeof(vmdb_hist));
    return *out ? 0 : vmdb_error_set(VMDB_ENOMEM, "out of memory allocating history");
}

void vmdb_hist_free(vmdb_hist *hist)
{
    if (!hist)
        return;
    for (int i = 0; i < HIST_LEVELS; i++)
        free(hist->lv[i].h);
    free(hist);
}

uint64_t vmdb_hist_size(const vmdb_hist *hist)
{
    return hist->lv[0].n;
}

static int level_push(level *l, const uint8_t x[32])
{
    if (l->n == l->cap) {
        uint64_t nc = l->cap ? l->cap * 2 : 16;
        void *p = realloc(l->h, nc * 32);
        if (!p)
            return vmdb_error_set(VMDB_ENOMEM, "out of memory growing history");
        l->h = p;
        l->cap = nc;
    }
    memcpy(l->h[l->n++], x, 32);
    return 0;
}

int vmdb_hist_append(vmdb_hist *hist, vmdb_hasher *h, const uint8_t entry[32])
{
    uint8_t node[32];
    static const uint8_t zero = 0x00;
    vmdb_slice parts[2] = {{&zero, 1}, {entry, 32}};
    int rc;

    vmdb_hash_parts(h, node, parts, 2);
    if ((rc = level_push(&hist->lv[0], node)) != 0)
        return rc;
    /* Close every complete subtree that this entry finishes. */
    for (int j = 0; j + 1 < HIST_LEVELS && (hist->lv[j].n & 1) == 0; j++) {
        level *l = &hist->lv[j];
        vmdb_hash_node(h, node, 0x01, l->h[l->n - 2], l->h[l->n - 1]);
        if ((rc = level_push(&hist->lv[j + 1], node)) != 0)
            return rc;
    }
    return 0;
}

static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* MTH of entries [a, b), b > a. */
static void mth(const vmdb_hist *hist, vmdb_hasher *h, uint64_t a, uint64_t b, uint8_t out[32])
{
    uint64_t w = b - a;
    if ((w & (w - 1)) == 0 && a % w == 0) {
        int j = __builtin_ctzll(w);
        memcpy(out, hist->lv[j].h[a >> j], 32);
        return;
    }
    uint64_t k = split_point(w);
    uint8_t l[32], r[32];
    mth(hist, h, a, a + k, l);
    mth(hist, h, a + k, b, r);
    vmdb_hash_node(h, out, 0x01, l, r);
}

int vmdb_hist_leaf(const vmdb_hist *hist, uint64_t i, uint8_t out[32])
{
    if (i >= hist->lv[0].n)
        return vmdb_error_set(VMDB_EINVAL, "history has no entry %llu", (unsigned long long)i);
    memcpy(out, hist->lv[0].h[i], 32);
    return 0;
}

int vmdb_hist_root(const vmdb_hist *hist, vmdb_hasher *h, uint64_t n, uint8_t out[32])
{
    if (n > hist->lv[0].n)
        return vmdb_error_set(VMDB_EINVAL, "history has %llu entries, not %llu",
                              (unsigned long long)hist->lv[0].n, (unsigned long long)n);
    if (n == 0) {
        vmdb_hash_parts(h, out, NULL, 0);
        return 0;
    }
    mth(hist, h, 0, n, out);
    return 0;
}

/* Collects the audit path of index m in [a, b), deepest first. */
static void path_rec(const vmdb_hist *hist, vmdb_hasher *h, uint64_t m, uint64_t a, uint64_t b,
                     uint8_t out[][32], size_t *count)
{
    if (b - a == 1)
        return;
    uint64_t k = split_point(b - a);
    if (m < k) {
        path_rec(hist, h, m, a, a + k, out, count);
        mth(hist, h, a + k, b, out[(*count)++]);
    } else {
        path_rec(hist, h, m - k, a + k, b, out, count);
        mth(hist, h, a, a + k, out[(*count)++]);
    }
}

int vmdb_hist_inclusion_proof(const vmdb_hist *hist, vmdb_hasher *h, uint64_t index, uint64_t n,
                              uint8_t out[VMDB_HIST_MAX_PROOF][32], size_t *count)
{
    *count = 0;
    if (!(index < n && n <= hist->lv[0].n))
        return vmdb_error_set(VMDB_EINVAL, "no entry %llu in a history of %llu",
                              (unsigned long long)index, (unsigned long long)n);
    path_rec(hist, h, index, 0, n, out, count);
    return 0;
}

static void subproof(const vmdb_hist *hist, vmdb_hasher *h, uint64_t m, uint64_t a, uint64_t b,
                     bool complete, uint8_t out[][32], size_t *count)
{
    uint64_t n = b - a;
    if (m == n) {
        if (!complete)
            mth(hist, h, a, b, out[(*count)++]);
        return;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        subproof(hist, h, m, a, a + k, complete, out, count);
        mth(hist, h, a + k, b, out[(*count)++]);
    } else {
        subproof(hist, h, m - k, a + k, b, false, out, count);
        mth(hist, h, a, a + k, out[(*count)++]);
    }
}

int vmdb_hist_consistency_proof(const vmdb_hist *hist, vmdb_hasher *h, uint64_t m, uint64_t n,
                                uint8_t out[VMDB_HIST_MAX_PROOF][32], size_t *count)
{
    *count = 0;
    if (!(0 < m && m <= n && n <= hist->lv[0].n))
        return vmdb_error_set(VMDB_EINVAL, "no consistency proof from %llu to %llu",
                              (unsigned long long)m, (unsigned long long)n);
    subproof(hist, h, m, 0, n, true, out, count);
    return 0;
}

int vmdb_hist_verify_inclusion(vmdb_hasher *h, const uint8_t entry[32], uint64_t index, uint64_t n,
                               const uint8_t (*path)[32], size_t count, const uint8_t root[32])
{
    static const uint8_t zero = 0x00;
    vmdb_slice parts[2] = {{&zero, 1}, {entry, 32}};
    uint8_t r[32];
    uint64_t fn = index, sn = n - 1;

    if (index >= n)
        return vmdb_error_set(VMDB_EVERIFY, "inclusion index beyond tree size");
    vmdb_hash_parts(h, r, parts, 2);
    for (size_t i = 0; i < count; i++) {
        if (sn == 0)
            return vmdb_error_set(VMDB_EVERIFY, "inclusion path too long");
        if ((fn & 1) || fn == sn) {
            vmdb_hash_node(h, r, 0x01, path[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            vmdb_hash_node(h, r, 0x01, r, path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(r, root, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "history inclusion proof does not verify");
    return 0;
}

int vmdb_hist_verify_consistency(vmdb_hasher *h, uint64_t m, uint64_t n, const uint8_t root_m[32],
                                 const uint8_t root_n[32], const uint8_t (*proof)[32], size_t count)
{
    uint8_t fr[32], sr[32];
    uint64_t fn, sn;
    size_t i = 0;

    if (m == 0 || m > n)
        return vmdb_error_set(VMDB_EVERIFY, "consistency needs 0 < old <= new");
    if (m == n) {
        if (count == 0 && memcmp(root_m, root_n, 32) == 0)
            return 0;
        return vmdb_error_set(VMDB_EVERIFY, "equal sizes need an empty proof and equal roots");
    }
    if (count == 0)
        return vmdb_error_set(VMDB_EVERIFY, "empty consistency proof");
    /* When m is a power of two the old root is itself the first node. */
    if ((m & (m - 1)) == 0) {
        memcpy(fr, root_m, 32);
    } else {
        memcpy(fr, proof[0], 32);
        i = 1;
    }
    memcpy(sr, fr, 32);
    fn = m - 1;
    sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < count; i++) {
        if (sn == 0)
            return vmdb_error_set(VMDB_EVERIFY, "consistency proof too long");
        if ((fn & 1) || fn == sn) {
            vmdb_hash_node(h, fr, 0x01, proof[i], fr);
            vmdb_hash_node(h, sr, 0x01, proof[i], sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            vmdb_hash_node(h, sr, 0x01, sr, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(fr, root_m, 32) != 0 || memcmp(sr, root_n, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "history consistency proof does not verify");
    return 0;
}
