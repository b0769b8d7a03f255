/*
 * Proof builders over a held tree version: the single-key proof and the
 * multiproof of PROTOCOL.md §4-§5. They only read nodes, so any number of
 * threads may prove against held versions while the writer prepares the
 * next one (each with its own hasher).
 */
#include <string.h>

#include "core/error.h"
#include "core/smt_internal.h"

static void put_sibling(vmdb_proof *p, unsigned level, const uint8_t h[32], uint8_t *tmp,
                        unsigned *ntmp)
{
    static const uint8_t zero32[32];
    if (memcmp(h, zero32, 32) == 0)
        return;
    p->bitmap[level / 8] |= (uint8_t)(0x80 >> (level % 8));
    memcpy(tmp + (size_t)(*ntmp) * 32, h, 32);
    (*ntmp)++;
}

void vmdb_smt_prove(const vmdb_smt *t, const vmdb_smt_view *v, vmdb_hasher *h,
                    const uint8_t key[32], vmdb_proof *out, uint8_t *value)
{
    const smt_pools *pl = (const smt_pools *)t;
    uint8_t tmp[256 * 32]; /* siblings from the root down */
    unsigned ntmp = 0, depth = 0;
    uint32_t ref = v->root;

    memset(out, 0, offsetof(vmdb_proof, siblings));
    for (;;) {
        if (ref == SMT_EMPTY) {
            out->kind = VMDB_PROOF_ABSENT_EMPTY;
            break;
        }
        if (smt_is_leaf(ref)) {
            const smt_leaf *l = smt_leaf_at(pl, ref);
            if (memcmp(l->key, key, 32) == 0) {
                out->kind = VMDB_PROOF_INCLUSION;
                if (value)
                    memcpy(value, l->value, 32);
            } else {
                out->kind = VMDB_PROOF_ABSENT_LEAF;
                memcpy(out->other_key, l->key, 32);
                memcpy(out->other_value, l->value, 32);
            }
            break;
        }
        const smt_inode *n = smt_inode_at(pl, ref);
        const uint8_t *rk = smt_leaf_at(pl, n->rep)->key;
        unsigned c = smt_lcp(key, rk);
        if (c < n->depth) {
            /* The key leaves the node's prefix at level c: the node's
             * subtree at depth c+1 is the sibling, the key's side is
             * empty. Levels depth..c-1 have empty siblings. */
            uint8_t sib[32];
            smt_hash_at(pl, h, n, c + 1, sib);
            put_sibling(out, c, sib, tmp, &ntmp);
            depth = c + 1;
            out->kind = VMDB_PROOF_ABSENT_EMPTY;
            break;
        }
        int b = vmdb_key_bit(key, n->depth);
        uint8_t sib[32];
        smt_top_hash(pl, h, n->child[!b], sib);
        put_sibling(out, n->depth, sib, tmp, &ntmp);
        depth = n->depth + 1u;
        ref = n->child[b];
    }
    out->depth = (uint16_t)depth;
    out->nsiblings = (uint16_t)ntmp;
    for (unsigned i = 0; i < ntmp; i++)
        memcpy(out->siblings[i], tmp + (size_t)(ntmp - 1 - i) * 32, 32);
}

/* --- multiproof ---------------------------------------------------------- */

typedef struct mwriter {
    const smt_pools *pl;
    vmdb_hasher *h;
    const uint8_t (*keys)[32];
    vmdb_buf *out;
} mwriter;

static size_t split_keys(const uint8_t (*k)[32], size_t lo, size_t hi, unsigned d)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vmdb_key_bit(k[mid], d))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int emit_opaque(mwriter *w, const uint8_t h[32])
{
    static const uint8_t zero32[32];
    int rc;
    if (memcmp(h, zero32, 32) == 0)
        return vmdb_buf_putc(w->out, 0x00);
    if ((rc = vmdb_buf_putc(w->out, 0x03)) != 0)
        return rc;
    return vmdb_buf_put(w->out, h, 32);
}

/* Emits the node at `depth` on the paths of keys[lo..hi), inside subtree
 * `ref` (which hangs at some depth <= `depth`). */
static int emit(mwriter *w, uint32_t ref, unsigned depth, size_t lo, size_t hi)
{
    int rc;
    if (ref == SMT_EMPTY)
        return vmdb_buf_putc(w->out, 0x00);
    if (smt_is_leaf(ref)) {
        const smt_leaf *l = smt_leaf_at(w->pl, ref);
        if ((rc = vmdb_buf_putc(w->out, 0x01)) != 0 || (rc = vmdb_buf_put(w->out, l->key, 32)))
            return rc;
        return vmdb_buf_put(w->out, l->value, 32);
    }
    const smt_inode *n = smt_inode_at(w->pl, ref);
    size_t mid = split_keys(w->keys, lo, hi, depth);
    uint32_t side[2];
    if ((rc = vmdb_buf_putc(w->out, 0x02)) != 0)
        return rc;
    if (depth < n->depth) {
        /* On the chain above the split: the prefix's side continues the
         * node, the other side is empty. */
        int b = vmdb_key_bit(smt_leaf_at(w->pl, n->rep)->key, depth);
        side[b] = ref;
        side[!b] = SMT_EMPTY;
    } else {
        side[0] = n->child[0];
        side[1] = n->child[1];
    }
    for (int s = 0; s < 2; s++) {
        size_t a = s ? mid : lo, b = s ? hi : mid;
        if (a < b) {
            rc = emit(w, side[s], depth + 1, a, b);
        } else {
            uint8_t hh[32];
            if (side[s] == ref)
                smt_hash_at(w->pl, w->h, n, depth + 1, hh);
            else
                smt_top_hash(w->pl, w->h, side[s], hh);
            rc = emit_opaque(w, hh);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int vmdb_smt_multiprove(const vmdb_smt *t, const vmdb_smt_view *v, vmdb_hasher *h,
                        const uint8_t (*keys)[32], size_t n, vmdb_buf *out)
{
    size_t start = out->len;
    mwriter w = {(const smt_pools *)t, h, keys, out};
    int rc;

    if (n == 0)
        return vmdb_error_set(VMDB_EINVAL, "multiproof needs at least one key");
    for (size_t i = 1; i < n; i++)
        if (memcmp(keys[i - 1], keys[i], 32) >= 0)
            return vmdb_error_set(VMDB_EINVAL, "multiproof keys must be sorted and unique");
    if ((rc = emit(&w, v->root, 0, 0, n)) != 0)
        out->len = start;
    return rc;
}
