/*
 * Node layout of the in-memory sparse Merkle tree, shared by the tree
 * (smt.c) and its proof builders (smt_proof.c).
 *
 * The tree is stored as a compressed binary trie: leaves, and internal
 * nodes only where a subtree splits (both children non-empty). An internal
 * node at split depth `depth` hangs below its parent at depth `top - 1`;
 * the levels top..depth-1 in between are a chain of single-child levels
 * whose hashes are recomputed from the node's key prefix. Each internal
 * node caches the hash of its subtree as its parent sees it (at depth
 * `top`), so an unchanged sibling costs nothing; a leaf's subtree hash is
 * its leaf hash at any depth (the one-leaf rule), computed when needed.
 *
 * Nodes live in chunked pools addressed by 32-bit references, so a node
 * costs its payload and nothing else: 64 bytes a leaf, 48 an internal node.
 */
#ifndef VMDB_CORE_SMT_INTERNAL_H
#define VMDB_CORE_SMT_INTERNAL_H

#include <string.h>

#include "vmdb/smt.h"

#define SMT_CHUNK_BITS 14
#define SMT_CHUNK_SIZE (1u << SMT_CHUNK_BITS)
#define SMT_MAX_CHUNKS (1u << 14) /* 2^28 nodes per pool */
#define SMT_LEAF_BIT 0x80000000u
#define SMT_EMPTY 0u

enum { SMT_OWNED = 1 }; /* created by the pending batch: still writable */

typedef struct smt_inode {
    uint8_t hash[32]; /* subtree hash at depth `top` */
    uint32_t child[2];
    uint32_t rep;  /* some leaf below: its key gives the prefix bits */
    uint8_t depth; /* split level: children are at depth + 1 */
    uint8_t top;   /* depth of this subtree as its parent sees it */
    uint8_t flags;
    uint8_t pad;
} smt_inode;

typedef struct smt_leaf {
    uint8_t key[32];
    uint8_t value[32];
} smt_leaf;

typedef struct smt_pool {
    uint8_t *chunks[SMT_MAX_CHUNKS];
    uint32_t nchunks;
    uint32_t fresh;  /* next never-used index */
    uint32_t *freed; /* stack of free slots */
    size_t nfree, cfree;
    uint32_t elem; /* node size */
    uint64_t live;
} smt_pool;

typedef struct smt_reflist {
    uint32_t *r;
    size_t n, cap;
} smt_reflist;

struct vmdb_smt_view {
    uint32_t root;
    uint8_t root_hash[32];
    uint64_t count;
    uint64_t version;
    uint32_t readers;
    struct vmdb_smt_view *newer;
    smt_reflist retired; /* nodes of the previous version that this one dropped */
};

static inline bool smt_is_leaf(uint32_t ref)
{
    return (ref & SMT_LEAF_BIT) != 0;
}

static inline void *smt_pool_at(const smt_pool *p, uint32_t idx)
{
    return p->chunks[idx >> SMT_CHUNK_BITS] + (size_t)(idx & (SMT_CHUNK_SIZE - 1)) * p->elem;
}

/* The pools are the first members of vmdb_smt; smt_proof.c only needs
 * these two accessors. */
typedef struct smt_pools {
    smt_pool leaves;
    smt_pool inodes;
} smt_pools;

static inline smt_leaf *smt_leaf_at(const smt_pools *t, uint32_t ref)
{
    return smt_pool_at(&t->leaves, (ref & ~SMT_LEAF_BIT) - 1);
}

static inline smt_inode *smt_inode_at(const smt_pools *t, uint32_t ref)
{
    return smt_pool_at(&t->inodes, ref - 1);
}

/* Number of equal leading bits of two keys (256 if equal). */
static inline unsigned smt_lcp(const uint8_t a[32], const uint8_t b[32])
{
    for (unsigned i = 0; i < 32; i++)
        if (a[i] != b[i])
            return i * 8 + (unsigned)__builtin_clz((unsigned)(a[i] ^ b[i]) << 24);
    return 256;
}

/* Hash of the subtree `ref` as seen from its parent (a leaf: its leaf
 * hash; an internal node: its cached hash; empty: zeros). */
void smt_top_hash(const smt_pools *t, vmdb_hasher *h, uint32_t ref, uint8_t out[32]);
/* Hash of internal node n's subtree at depth `at` (top <= at <= depth). */
void smt_hash_at(const smt_pools *t, vmdb_hasher *h, const smt_inode *n, unsigned at,
                 uint8_t out[32]);

#endif
