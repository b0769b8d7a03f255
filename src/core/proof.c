/*
 * Proof encoding and verification (PROTOCOL.md §4 and §5). This is the code
 * a third party runs, so it assumes nothing about its input: every length,
 * bitmap bit, prefix and tag is checked before a hash is computed, and a
 * proof verifies only if it hashes exactly to the root it is checked
 * against.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "vmdb/proof.h"

static const uint8_t zero32[32];

static int popcount_bitmap(const uint8_t *bm, size_t nbytes)
{
    int n = 0;
    for (size_t i = 0; i < nbytes; i++)
        n += __builtin_popcount(bm[i]);
    return n;
}

/* True when keys a and b agree on their first `bits` bits. */
static bool prefix_equal(const uint8_t a[32], const uint8_t b[32], unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xFF << (8 - rest));
        return ((a[full] ^ b[full]) & mask) == 0;
    }
    return true;
}

int vmdb_proof_encode(vmdb_buf *out, const vmdb_proof *p)
{
    size_t start = out->len, bmlen = ((size_t)p->depth + 7) / 8;
    uint8_t hdr[3] = {p->kind, (uint8_t)(p->depth >> 8), (uint8_t)p->depth};
    int rc = vmdb_buf_put(out, hdr, 3);
    if (rc == 0)
        rc = vmdb_buf_put(out, p->bitmap, bmlen);
    if (rc == 0 && p->nsiblings)
        rc = vmdb_buf_put(out, p->siblings, (size_t)p->nsiblings * 32);
    if (rc == 0 && p->kind == VMDB_PROOF_ABSENT_LEAF) {
        rc = vmdb_buf_put(out, p->other_key, 32);
        if (rc == 0)
            rc = vmdb_buf_put(out, p->other_value, 32);
    }
    if (rc)
        out->len = start;
    return rc;
}

int vmdb_proof_decode(vmdb_proof *p, vmdb_slice in)
{
    size_t off = 3, bmlen;
    memset(p, 0, offsetof(vmdb_proof, siblings));
    if (in.len < 3)
        return vmdb_error_set(VMDB_EPARSE, "proof shorter than its header");
    p->kind = in.ptr[0];
    p->depth = (uint16_t)(in.ptr[1] << 8 | in.ptr[2]);
    if (p->kind > VMDB_PROOF_ABSENT_LEAF)
        return vmdb_error_set(VMDB_EPARSE, "unknown proof kind %u", p->kind);
    if (p->depth > 256)
        return vmdb_error_set(VMDB_EPARSE, "proof depth %u beyond 256", p->depth);
    bmlen = ((size_t)p->depth + 7) / 8;
    if (in.len - off < bmlen)
        return vmdb_error_set(VMDB_EPARSE, "proof bitmap truncated");
    memcpy(p->bitmap, in.ptr + off, bmlen);
    off += bmlen;
    if (p->depth % 8 && (p->bitmap[bmlen - 1] & (0xFF >> (p->depth % 8))))
        return vmdb_error_set(VMDB_EPARSE, "proof bitmap has bits beyond its depth");
    p->nsiblings = (uint16_t)popcount_bitmap(p->bitmap, bmlen);
    size_t need = (size_t)p->nsiblings * 32 + (p->kind == VMDB_PROOF_ABSENT_LEAF ? 64 : 0);
    if (in.len - off != need)
        return vmdb_error_set(VMDB_EPARSE, "proof length %zu does not match its bitmap", in.len);
    memcpy(p->siblings, in.ptr + off, (size_t)p->nsiblings * 32);
    for (unsigned i = 0; i < p->nsiblings; i++)
        if (memcmp(p->siblings[i], zero32, 32) == 0)
            return vmdb_error_set(VMDB_EPARSE, "proof lists an empty sibling");
    off += (size_t)p->nsiblings * 32;
    if (p->kind == VMDB_PROOF_ABSENT_LEAF) {
        memcpy(p->other_key, in.ptr + off, 32);
        memcpy(p->other_value, in.ptr + off + 32, 32);
    }
    return 0;
}

static int put_hex_field(vmdb_buf *out, const char *name, const uint8_t *b, size_t n, bool comma)
{
    char hex[2 * 32 + 1];
    int rc = 0;
    if (comma)
        rc = vmdb_buf_putc(out, ',');
    if (rc == 0)
        rc = vmdb_buf_putc(out, '"');
    if (rc == 0)
        rc = vmdb_buf_put(out, name, strlen(name));
    if (rc == 0)
        rc = vmdb_buf_put(out, "\":\"", 3);
    vmdb_hex_encode(hex, b, n);
    if (rc == 0)
        rc = vmdb_buf_put(out, hex, 2 * n);
    if (rc == 0)
        rc = vmdb_buf_putc(out, '"');
    return rc;
}

int vmdb_proof_to_json(vmdb_buf *out, const vmdb_proof *p, const uint8_t key[32],
                       const uint8_t *value)
{
    static const char *kinds[] = {"inclusion", "absent_empty", "absent_leaf"};
    size_t start = out->len;
    char num[16];
    if (p->kind > VMDB_PROOF_ABSENT_LEAF || p->depth > 256)
        return vmdb_error_set(VMDB_EINVAL, "malformed proof");
    int rc = vmdb_buf_put(out, "{\"kind\":\"", 9);
    if (rc == 0)
        rc = vmdb_buf_put(out, kinds[p->kind], strlen(kinds[p->kind]));
    if (rc == 0)
        rc = vmdb_buf_putc(out, '"');
    if (rc == 0)
        rc = put_hex_field(out, "key", key, 32, true);
    if (rc == 0 && p->kind == VMDB_PROOF_INCLUSION && value)
        rc = put_hex_field(out, "value", value, 32, true);
    int nn = snprintf(num, sizeof(num), ",\"depth\":%u", p->depth);
    if (rc == 0)
        rc = vmdb_buf_put(out, num, (size_t)nn);
    if (rc == 0)
        rc = put_hex_field(out, "bitmap", p->bitmap, ((size_t)p->depth + 7) / 8, true);
    if (rc == 0)
        rc = vmdb_buf_put(out, ",\"siblings\":[", 13);
    for (unsigned i = 0; rc == 0 && i < p->nsiblings; i++) {
        char hex[65];
        vmdb_hex_encode(hex, p->siblings[i], 32);
        if (i)
            rc = vmdb_buf_putc(out, ',');
        if (rc == 0)
            rc = vmdb_buf_putc(out, '"');
        if (rc == 0)
            rc = vmdb_buf_put(out, hex, 64);
        if (rc == 0)
            rc = vmdb_buf_putc(out, '"');
    }
    if (rc == 0)
        rc = vmdb_buf_putc(out, ']');
    if (rc == 0 && p->kind == VMDB_PROOF_ABSENT_LEAF) {
        rc = put_hex_field(out, "other_key", p->other_key, 32, true);
        if (rc == 0)
            rc = put_hex_field(out, "other_value", p->other_value, 32, true);
    }
    if (rc == 0)
        rc = vmdb_buf_putc(out, '}');
    if (rc)
        out->len = start;
    return rc;
}

/* The checks of a proof's shape and claim before any hashing. */
static int proof_check(const uint8_t key[32], const uint8_t *value, const vmdb_proof *p)
{
    if (p->depth > 256 || p->kind > VMDB_PROOF_ABSENT_LEAF)
        return vmdb_error_set(VMDB_EVERIFY, "malformed proof");
    if (popcount_bitmap(p->bitmap, 32) != p->nsiblings ||
        popcount_bitmap(p->bitmap, ((size_t)p->depth + 7) / 8) != p->nsiblings)
        return vmdb_error_set(VMDB_EVERIFY, "proof bitmap does not match its siblings");
    if (p->depth % 8 && (p->bitmap[p->depth / 8] & (0xFF >> (p->depth % 8))))
        return vmdb_error_set(VMDB_EVERIFY, "proof bitmap has bits beyond its depth");
    if (value && p->kind != VMDB_PROOF_INCLUSION)
        return vmdb_error_set(VMDB_EVERIFY, "proof shows absence, presence was claimed");
    if (!value && p->kind == VMDB_PROOF_INCLUSION)
        return vmdb_error_set(VMDB_EVERIFY, "proof shows presence, absence was claimed");
    if (p->kind == VMDB_PROOF_ABSENT_LEAF) {
        if (memcmp(p->other_key, key, 32) == 0)
            return vmdb_error_set(VMDB_EVERIFY, "absence proof names the key itself");
        if (!prefix_equal(p->other_key, key, p->depth))
            return vmdb_error_set(VMDB_EVERIFY, "absence proof's leaf is off the key's path");
    }
    return 0;
}

int vmdb_proof_verify(vmdb_hasher *h, const uint8_t root[32], const uint8_t key[32],
                      const uint8_t *value, const vmdb_proof *p)
{
    uint8_t acc[32];
    unsigned used = 0;
    int rc = proof_check(key, value, p);

    if (rc)
        return rc;
    switch (p->kind) {
    case VMDB_PROOF_INCLUSION:
        vmdb_hash_node(h, acc, 0x00, key, value);
        break;
    case VMDB_PROOF_ABSENT_EMPTY:
        memset(acc, 0, 32);
        break;
    default:
        vmdb_hash_node(h, acc, 0x00, p->other_key, p->other_value);
    }
    for (int i = (int)p->depth - 1; i >= 0; i--) {
        const uint8_t *sib = zero32;
        if (vmdb_key_bit(p->bitmap, (unsigned)i)) {
            sib = p->siblings[used++];
            /* An empty sibling must be left out: one proof, one encoding. */
            if (memcmp(sib, zero32, 32) == 0)
                return vmdb_error_set(VMDB_EVERIFY, "proof lists an empty sibling");
        }
        if (vmdb_key_bit(key, (unsigned)i))
            vmdb_hash_node(h, acc, 0x01, sib, acc);
        else
            vmdb_hash_node(h, acc, 0x01, acc, sib);
    }
    if (memcmp(acc, root, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "proof does not lead to the root");
    return 0;
}

/* --- many proofs, interleaved ------------------------------------------ */

#define VERIFY_LANES 4

/* One proof being verified: its next hash is the leaf (`leaf`) or the
 * level `level` of its path. */
typedef struct vlane {
    size_t idx;
    int level;
    unsigned used;
    bool leaf;
    uint8_t acc[32];
} vlane;

/* Takes proofs from *next until one passes its checks (those that do not
 * are marked failed); false when none are left. */
static bool lane_fill(vlane *l, size_t *next, size_t n, const uint8_t *const *keys,
                      const uint8_t *const *values, const vmdb_proof *const *proofs, bool *ok,
                      int *first)
{
    while (*next < n) {
        size_t i = (*next)++;
        int rc = proof_check(keys[i], values[i], proofs[i]);
        if (rc) {
            ok[i] = false;
            if (*first == 0)
                *first = rc;
            continue;
        }
        l->idx = i;
        l->level = (int)proofs[i]->depth - 1;
        l->used = 0;
        l->leaf = proofs[i]->kind != VMDB_PROOF_ABSENT_EMPTY;
        if (!l->leaf)
            memset(l->acc, 0, 32);
        return true;
    }
    return false;
}

int vmdb_proof_verify_many(vmdb_hasher *h, const uint8_t root[32], size_t n,
                           const uint8_t *const *keys, const uint8_t *const *values,
                           const vmdb_proof *const *proofs, bool *ok)
{
    vlane lanes[VERIFY_LANES];
    vmdb_node_job jobs[VERIFY_LANES];
    size_t next = 0, live = 0;
    int first = 0;

    for (size_t i = 0; i < n; i++)
        ok[i] = true;
    while (live < VERIFY_LANES &&
           lane_fill(&lanes[live], &next, n, keys, values, proofs, ok, &first))
        live++;
    while (live) {
        /* One hash of every live lane, all at once. */
        size_t nj = 0;
        for (size_t q = 0; q < live; q++) {
            vlane *l = &lanes[q];
            const vmdb_proof *p = proofs[l->idx];
            const uint8_t *key = keys[l->idx];
            if (l->leaf) {
                bool in = p->kind == VMDB_PROOF_INCLUSION;
                jobs[nj++] = (vmdb_node_job){l->acc, in ? key : p->other_key,
                                             in ? values[l->idx] : p->other_value, 0x00};
                continue;
            }
            if (l->level < 0)
                continue; /* finished: checked below */
            const uint8_t *sib = zero32;
            if (vmdb_key_bit(p->bitmap, (unsigned)l->level)) {
                sib = p->siblings[l->used++];
                if (memcmp(sib, zero32, 32) == 0) {
                    ok[l->idx] = false;
                    if (first == 0)
                        first = vmdb_error_set(VMDB_EVERIFY, "proof lists an empty sibling");
                    l->level = -2; /* failed */
                    continue;
                }
            }
            if (vmdb_key_bit(key, (unsigned)l->level))
                jobs[nj++] = (vmdb_node_job){l->acc, sib, l->acc, 0x01};
            else
                jobs[nj++] = (vmdb_node_job){l->acc, l->acc, sib, 0x01};
        }
        vmdb_hash_nodes(h, jobs, nj);
        /* Advance every lane; a lane whose path is done is compared with
         * the root and takes the next proof. */
        for (size_t q = 0; q < live;) {
            vlane *l = &lanes[q];
            if (l->leaf)
                l->leaf = false;
            else if (l->level >= 0)
                l->level--;
            if (l->level >= 0 || l->leaf) {
                q++;
                continue;
            }
            if (l->level == -1 && memcmp(l->acc, root, 32) != 0) {
                ok[l->idx] = false;
                if (first == 0)
                    first = vmdb_error_set(VMDB_EVERIFY, "proof does not lead to the root");
            }
            if (!lane_fill(l, &next, n, keys, values, proofs, ok, &first))
                lanes[q] = lanes[--live];
            else if (!l->leaf && l->level < 0) {
                /* A depth-0 proof of an empty tree needs no hash at all. */
                continue;
            } else
                q++;
        }
    }
    return first;
}

/* --- multiproof ------------------------------------------------------- */

typedef struct mreader {
    vmdb_hasher *h;
    const uint8_t *p, *end;
    const uint8_t (*keys)[32];
    uint8_t (*values)[32];
    bool *present;
} mreader;

enum { M_EMPTY = 0, M_LEAF = 1, M_BRANCH = 2, M_HASH = 3 };

/* Reads a node for a child that no key enters: EMPTY or a non-zero HASH. */
static int m_read_opaque(mreader *r, uint8_t out[32])
{
    if (r->p >= r->end)
        return vmdb_error_set(VMDB_EVERIFY, "multiproof truncated");
    uint8_t tag = *r->p++;
    if (tag == M_EMPTY) {
        memset(out, 0, 32);
        return 0;
    }
    if (tag != M_HASH)
        return vmdb_error_set(VMDB_EVERIFY, "multiproof expands a subtree no key enters");
    if (r->end - r->p < 32)
        return vmdb_error_set(VMDB_EVERIFY, "multiproof truncated");
    if (memcmp(r->p, zero32, 32) == 0)
        return vmdb_error_set(VMDB_EVERIFY, "multiproof has a zero HASH");
    memcpy(out, r->p, 32);
    r->p += 32;
    return 0;
}

/* Reads the node at `depth` entered by keys[lo..hi) (non-empty). */
static int m_read(mreader *r, unsigned depth, size_t lo, size_t hi, uint8_t out[32])
{
    int rc = 0;
    if (r->p >= r->end)
        return vmdb_error_set(VMDB_EVERIFY, "multiproof truncated");
    uint8_t tag = *r->p++;
    switch (tag) {
    case M_EMPTY:
        for (size_t i = lo; i < hi; i++)
            r->present[i] = false;
        memset(out, 0, 32);
        return 0;
    case M_LEAF: {
        if (r->end - r->p < 64)
            return vmdb_error_set(VMDB_EVERIFY, "multiproof truncated");
        const uint8_t *k = r->p, *v = r->p + 32;
        r->p += 64;
        if (!prefix_equal(k, r->keys[lo], depth))
            return vmdb_error_set(VMDB_EVERIFY, "multiproof leaf is off its path");
        for (size_t i = lo; i < hi; i++) {
            r->present[i] = memcmp(k, r->keys[i], 32) == 0;
            if (r->present[i])
                memcpy(r->values[i], v, 32);
        }
        vmdb_hash_node(r->h, out, 0x00, k, v);
        return 0;
    }
    case M_BRANCH: {
        uint8_t l[32], rr[32];
        size_t mid = lo;
        if (depth >= 256)
            return vmdb_error_set(VMDB_EVERIFY, "multiproof branches below depth 256");
        while (mid < hi && !vmdb_key_bit(r->keys[mid], depth))
            mid++;
        rc = mid > lo ? m_read(r, depth + 1, lo, mid, l) : m_read_opaque(r, l);
        if (rc == 0)
            rc = hi > mid ? m_read(r, depth + 1, mid, hi, rr) : m_read_opaque(r, rr);
        if (rc == 0)
            vmdb_hash_node(r->h, out, 0x01, l, rr);
        return rc;
    }
    case M_HASH:
        return vmdb_error_set(VMDB_EVERIFY, "multiproof hides a subtree that a key enters");
    default:
        return vmdb_error_set(VMDB_EVERIFY, "multiproof has an unknown tag %u", tag);
    }
}

int vmdb_multiproof_verify(vmdb_hasher *h, const uint8_t root[32], const uint8_t (*keys)[32],
                           size_t nkeys, vmdb_slice proof, uint8_t (*values)[32], bool *present)
{
    uint8_t got[32];
    mreader r = {h, proof.ptr, proof.ptr + proof.len, keys, values, present};
    int rc;

    if (nkeys == 0)
        return vmdb_error_set(VMDB_EINVAL, "multiproof needs at least one key");
    for (size_t i = 1; i < nkeys; i++)
        if (memcmp(keys[i - 1], keys[i], 32) >= 0)
            return vmdb_error_set(VMDB_EINVAL, "multiproof keys must be sorted and unique");
    if ((rc = m_read(&r, 0, 0, nkeys, got)) != 0)
        return rc;
    if (r.p != r.end)
        return vmdb_error_set(VMDB_EVERIFY, "multiproof has trailing bytes");
    if (memcmp(got, root, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "multiproof does not lead to the root");
    return 0;
}
