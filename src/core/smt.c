/*
 * Sparse Merkle tree: node pools, versions, batch updates and bulk build.
 *
 * A batch is applied in one walk over the tree with the sorted changes,
 * split at each node. The walk copies every node it must change (nodes of
 * published versions are immutable), creates split nodes where new keys
 * diverge and collapses nodes that lose a child, and hashes each node it
 * creates on the way back up, once its children are final: each changed
 * node is hashed once however many changes pass through it, while its
 * children are still in cache. Before the walk, the paths of all changes
 * are prefetched level by level so that the cache misses of a large batch
 * overlap instead of queueing. Nodes that the new version no longer
 * references are retired with it and freed once no reader holds an older
 * version.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash_internal.h"
#include "core/smt_internal.h"

#define SMT_PREFETCH_GROUP 32
/* Nodes a bulk build hashes together (about as many leaves behind them:
 * a few hundred KB, still in cache). */
#define SMT_BUILD_FLUSH 4096

typedef struct smt_cursor {
    uint32_t ref;
    uint32_t change;
} smt_cursor;

typedef struct entry {
    const uint8_t *key;
    const uint8_t *value;
    uint32_t ref; /* existing leaf to reuse, or SMT_EMPTY to create one */
} entry;

struct vmdb_smt {
    smt_pools pools;
    vmdb_hasher *h;
    vmdb_smt_view *oldest, *current, *pending;
    uint64_t next_version;
    /* State of the batch being prepared. */
    smt_reflist batch_alloc;   /* every node created: freed if the batch is dropped */
    smt_reflist batch_retired; /* published nodes the batch drops */
    int64_t batch_delta;       /* leaf count change */
    entry *scratch;
    size_t scratch_cap;
    const vmdb_smt_change **sorted;
    size_t sorted_cap;
    size_t pf_done, pf_total; /* prefetch walk progress over `sorted` */
    /* Deferred hashing of a batch update (see flush_hashes). */
    bool defer, dirty_oom;
    size_t flush_at;          /* bulk build: flush the queue at this length (0: at the end) */
    smt_reflist dirty;        /* nodes to hash, each once */
    smt_reflist dirty_sorted; /* the same, deepest split first */
    uint8_t (*sides)[2][32];  /* per node of a depth: its children's hashes */
    size_t sides_cap;
    vmdb_node_job *jobs;
    size_t jobs_cap;
};

/* --- pools and reference lists ----------------------------------------- */

static int reflist_push(smt_reflist *l, uint32_t ref)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        uint32_t *p = realloc(l->r, nc * sizeof(uint32_t));
        if (!p)
            return vmdb_error_set(VMDB_ENOMEM, "out of memory tracking tree nodes");
        l->r = p;
        l->cap = nc;
    }
    l->r[l->n++] = ref;
    return 0;
}

static int pool_alloc(smt_pool *p, uint32_t *idx)
{
    if (p->nfree) {
        *idx = p->freed[--p->nfree];
        /* The slot handed out a few allocations from now was last touched
         * a batch ago: start fetching it for writing now. */
        if (p->nfree >= 8)
            __builtin_prefetch(smt_pool_at(p, p->freed[p->nfree - 8]), 1);
    } else {
        if ((p->fresh >> SMT_CHUNK_BITS) >= p->nchunks) {
            if (p->nchunks == SMT_MAX_CHUNKS)
                return vmdb_error_set(VMDB_ELIMIT, "tree node pool exhausted");
            uint8_t *c = malloc((size_t)SMT_CHUNK_SIZE * p->elem);
            if (!c)
                return vmdb_error_set(VMDB_ENOMEM, "out of memory growing the tree");
            p->chunks[p->nchunks++] = c;
        }
        *idx = p->fresh++;
    }
    p->live++;
    return 0;
}

/* Free slots are kept on a dense stack rather than threaded through the
 * freed nodes: freeing thousands of nodes per batch would otherwise cost a
 * cache miss each. If the stack cannot grow, the slot is leaked. */
static void pool_free(smt_pool *p, uint32_t idx)
{
    if (p->nfree == p->cfree) {
        size_t nc = p->cfree ? p->cfree * 2 : 1024;
        uint32_t *n = realloc(p->freed, nc * sizeof(uint32_t));
        if (!n)
            return;
        p->freed = n;
        p->cfree = nc;
    }
    p->freed[p->nfree++] = idx;
    p->live--;
}

static void node_free(vmdb_smt *t, uint32_t ref)
{
    if (smt_is_leaf(ref))
        pool_free(&t->pools.leaves, (ref & ~SMT_LEAF_BIT) - 1);
    else
        pool_free(&t->pools.inodes, ref - 1);
}

static inline smt_inode *IN(vmdb_smt *t, uint32_t ref)
{
    return smt_inode_at(&t->pools, ref);
}

static inline smt_leaf *LF(vmdb_smt *t, uint32_t ref)
{
    return smt_leaf_at(&t->pools, ref);
}

static int new_leaf(vmdb_smt *t, const uint8_t key[32], const uint8_t value[32], uint32_t *out)
{
    uint32_t idx = 0;
    int rc = pool_alloc(&t->pools.leaves, &idx);
    if (rc)
        return rc;
    uint32_t ref = (idx + 1) | SMT_LEAF_BIT;
    if ((rc = reflist_push(&t->batch_alloc, ref)) != 0) {
        pool_free(&t->pools.leaves, idx);
        return rc;
    }
    smt_leaf *l = LF(t, ref);
    memcpy(l->key, key, 32);
    memcpy(l->value, value, 32);
    *out = ref;
    return 0;
}

static int new_inode(vmdb_smt *t, uint32_t *out)
{
    uint32_t idx = 0;
    int rc = pool_alloc(&t->pools.inodes, &idx);
    if (rc)
        return rc;
    if ((rc = reflist_push(&t->batch_alloc, idx + 1)) != 0) {
        pool_free(&t->pools.inodes, idx);
        return rc;
    }
    smt_inode *n = IN(t, idx + 1);
    memset(n, 0, sizeof(*n));
    n->flags = SMT_OWNED;
    *out = idx + 1;
    return 0;
}

/* A node the pending version no longer references. Nodes created by this
 * batch are never dropped by it (the structural pass visits each published
 * node once and decides before copying), so `ref` is published. */
static int drop(vmdb_smt *t, uint32_t ref)
{
    return reflist_push(&t->batch_retired, ref);
}

/* Returns a writable version of internal node `ref`: itself if the batch
 * created it, else a dirty copy (the original is retired). */
static int writable(vmdb_smt *t, uint32_t ref, uint32_t *out)
{
    int rc;
    if (IN(t, ref)->flags & SMT_OWNED) {
        *out = ref;
        return 0;
    }
    if ((rc = new_inode(t, out)) != 0)
        return rc;
    memcpy(IN(t, *out), IN(t, ref), sizeof(smt_inode));
    IN(t, *out)->flags = SMT_OWNED;
    return drop(t, ref);
}

static void finalize(vmdb_smt *t, uint32_t ref);
static int flush_hashes(vmdb_smt *t);

static void prefetch_ref(const vmdb_smt *t, uint32_t ref)
{
    if (ref == SMT_EMPTY)
        return;
    if (smt_is_leaf(ref))
        __builtin_prefetch(smt_leaf_at(&t->pools, ref));
    else
        __builtin_prefetch(smt_inode_at(&t->pools, ref));
}

/* Places subtree `ref` under a parent whose children sit at depth `top`. */
static int retop(vmdb_smt *t, uint32_t ref, unsigned top, uint32_t *out)
{
    int rc;
    if (ref == SMT_EMPTY || smt_is_leaf(ref) || IN(t, ref)->top == top) {
        *out = ref;
        return 0;
    }
    if ((rc = writable(t, ref, out)) != 0)
        return rc;
    IN(t, *out)->top = (uint8_t)top;
    finalize(t, *out);
    return 0;
}

/* --- hashing ------------------------------------------------------------ */

static const uint8_t zero32[32];

void smt_top_hash(const smt_pools *t, vmdb_hasher *h, uint32_t ref, uint8_t out[32])
{
    if (ref == SMT_EMPTY) {
        memset(out, 0, 32);
    } else if (smt_is_leaf(ref)) {
        const smt_leaf *l = smt_leaf_at(t, ref);
        vmdb_hash_node(h, out, 0x00, l->key, l->value);
    } else {
        memcpy(out, smt_inode_at(t, ref)->hash, 32);
    }
}

static const uint8_t *rep_key(const smt_pools *t, const smt_inode *n)
{
    return smt_leaf_at(t, n->rep)->key;
}

/* Hashes levels depth-1 .. at of the chain above a split whose hash is in
 * `acc`: each level has the prefix's own side and an empty side. */
static void chain_up(const smt_pools *t, vmdb_hasher *h, const smt_inode *n, unsigned at,
                     uint8_t acc[32])
{
    const uint8_t *k = rep_key(t, n);
    for (int lvl = (int)n->depth - 1; lvl >= (int)at; lvl--) {
        if (vmdb_key_bit(k, (unsigned)lvl))
            vmdb_hash_node(h, acc, 0x01, zero32, acc);
        else
            vmdb_hash_node(h, acc, 0x01, acc, zero32);
    }
}

void smt_hash_at(const smt_pools *t, vmdb_hasher *h, const smt_inode *n, unsigned at,
                 uint8_t out[32])
{
    uint8_t l[32], r[32];
    if (at == n->top) {
        memcpy(out, n->hash, 32);
        return;
    }
    smt_top_hash(t, h, n->child[0], l);
    smt_top_hash(t, h, n->child[1], r);
    vmdb_hash_node(h, out, 0x01, l, r);
    chain_up(t, h, n, at, out);
}

enum { SMT_QUEUED = 2 }; /* on the batch's dirty list */

/* Sets the representative leaf of a node whose children and top are final,
 * and its hash: at once in a bulk build (children still in cache), or in
 * a batch update queued for flush_hashes, which hashes the batch's nodes
 * a depth at a time, independent nodes interleaved. */
static void finalize(vmdb_smt *t, uint32_t ref)
{
    smt_inode *n = IN(t, ref);
    uint8_t l[32], r[32];

    n->rep = smt_is_leaf(n->child[0]) ? n->child[0] : IN(t, n->child[0])->rep;
    if (t->defer) {
        if (!(n->flags & SMT_QUEUED)) {
            if (reflist_push(&t->dirty, ref) == 0)
                n->flags |= SMT_QUEUED;
            else
                t->dirty_oom = true; /* the batch fails in flush_hashes */
        }
        /* A bulk build hashes what it made every few thousand nodes, while
         * they are still in cache; flush_hashes ends deferral. */
        if (t->flush_at && t->dirty.n >= t->flush_at && flush_hashes(t) == 0)
            t->defer = true;
        return;
    }
    smt_top_hash(&t->pools, t->h, n->child[0], l);
    smt_top_hash(&t->pools, t->h, n->child[1], r);
    vmdb_hash_node(t->h, n->hash, 0x01, l, r);
    chain_up(&t->pools, t->h, n, n->top, n->hash);
}

/* Hashes the queued nodes. A node's hash needs its children's, and every
 * child splits deeper than its parent, so going from the deepest split
 * depth up, the nodes of one depth are independent of each other: their
 * leaf children's hashes, their own hashes and then their chains, level
 * by level, go through vmdb_hash_nodes together (up to four at once with
 * SHA-NI) instead of one dependent hash after another. */
static int flush_hashes(vmdb_smt *t)
{
    size_t n = t->dirty.n, at[257];
    vmdb_node_job *jobs = NULL;
    int rc = 0;

    t->defer = false;
    if (t->dirty_oom) {
        t->dirty_oom = false;
        return vmdb_error_set(VMDB_ENOMEM, "out of memory hashing a batch");
    }
    if (n == 0)
        return 0;
    t->dirty_sorted.n = 0;
    for (size_t i = 0; i < n; i++)
        if ((rc = reflist_push(&t->dirty_sorted, 0)) != 0)
            goto fallback;
    if (n > t->sides_cap) {
        uint8_t(*p)[2][32] = realloc(t->sides, n * sizeof(*p));
        if (!p)
            goto fallback;
        t->sides = p;
        t->sides_cap = n;
    }
    if (2 * n > t->jobs_cap) {
        vmdb_node_job *p = realloc(t->jobs, 2 * n * sizeof(*p));
        if (!p)
            goto fallback;
        t->jobs = p;
        t->jobs_cap = 2 * n;
    }
    jobs = t->jobs;
    /* Counting sort by depth, deepest first. */
    memset(at, 0, sizeof(at));
    for (size_t i = 0; i < n; i++)
        at[255 - IN(t, t->dirty.r[i])->depth + 1]++;
    for (size_t d = 1; d < 257; d++)
        at[d] += at[d - 1];
    for (size_t i = 0; i < n; i++)
        t->dirty_sorted.r[at[255 - IN(t, t->dirty.r[i])->depth]++] = t->dirty.r[i];

    const uint32_t *order = t->dirty_sorted.r;
    for (size_t lo = 0; lo < n;) {
        unsigned depth = IN(t, order[lo])->depth;
        size_t hi = lo, nj = 0;
        while (hi < n && IN(t, order[hi])->depth == depth)
            hi++;
        /* Children: leaves hashed together, internal nodes copied. */
        for (size_t i = lo; i < hi; i++) {
            const smt_inode *nd = IN(t, order[i]);
            for (int s = 0; s < 2; s++) {
                uint32_t c = nd->child[s];
                if (smt_is_leaf(c)) {
                    const smt_leaf *lf = LF(t, c);
                    jobs[nj++] = (vmdb_node_job){t->sides[i - lo][s], lf->key, lf->value, 0x00};
                } else {
                    smt_top_hash(&t->pools, t->h, c, t->sides[i - lo][s]);
                }
            }
        }
        vmdb_hash_nodes(t->h, jobs, nj);
        nj = 0;
        for (size_t i = lo; i < hi; i++) {
            smt_inode *nd = IN(t, order[i]);
            jobs[nj++] = (vmdb_node_job){nd->hash, t->sides[i - lo][0], t->sides[i - lo][1], 0x01};
        }
        vmdb_hash_nodes(t->h, jobs, nj);
        /* Chains: level depth-1 of every node with one, then depth-2, ... */
        for (unsigned lvl = depth; lvl-- > 0;) {
            nj = 0;
            for (size_t i = lo; i < hi; i++) {
                smt_inode *nd = IN(t, order[i]);
                if (nd->top > lvl)
                    continue;
                if (vmdb_key_bit(rep_key(&t->pools, nd), lvl))
                    jobs[nj++] = (vmdb_node_job){nd->hash, zero32, nd->hash, 0x01};
                else
                    jobs[nj++] = (vmdb_node_job){nd->hash, nd->hash, zero32, 0x01};
            }
            if (nj == 0)
                break;
            vmdb_hash_nodes(t->h, jobs, nj);
        }
        for (size_t i = lo; i < hi; i++)
            IN(t, order[i])->flags &= (uint8_t)~SMT_QUEUED;
        lo = hi;
    }
    t->dirty.n = 0;
    return 0;
fallback:
    /* No memory for the interleaved pass: hash one node at a time, deepest
     * first so that children are ready (the dirty list is unordered). */
    for (int d = 255; d >= 0; d--)
        for (size_t i = 0; i < n; i++) {
            smt_inode *nd = IN(t, t->dirty.r[i]);
            if (nd->depth == d) {
                nd->flags &= (uint8_t)~SMT_QUEUED;
                finalize(t, t->dirty.r[i]);
            }
        }
    t->dirty.n = 0;
    return 0;
}

/* --- structural pass ---------------------------------------------------- */

static int scratch_reserve(vmdb_smt *t, size_t n)
{
    if (n <= t->scratch_cap)
        return 0;
    size_t nc = t->scratch_cap ? t->scratch_cap : 64;
    while (nc < n)
        nc *= 2;
    entry *p = realloc(t->scratch, nc * sizeof(entry));
    if (!p)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory applying a batch");
    t->scratch = p;
    t->scratch_cap = nc;
    return 0;
}

/* First index in e[0..n) whose key has bit `d` set (keys sorted). */
static size_t split_entries(const entry *e, size_t n, unsigned d)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vmdb_key_bit(e[mid].key, d))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Builds the subtree of sorted, distinct entries whose children... at top. */
static int build_entries(vmdb_smt *t, unsigned top, const entry *e, size_t n, uint32_t *out)
{
    int rc = 0;
    uint32_t ref = SMT_EMPTY, c0 = SMT_EMPTY, c1 = SMT_EMPTY;

    if (n == 0) {
        *out = SMT_EMPTY;
        return 0;
    }
    if (n == 1) {
        if (e[0].ref) {
            *out = e[0].ref;
            return 0;
        }
        return new_leaf(t, e[0].key, e[0].value, out);
    }
    unsigned d = smt_lcp(e[0].key, e[n - 1].key);
    size_t s = split_entries(e, n, d);
    if ((rc = build_entries(t, d + 1, e, s, &c0)) != 0 ||
        (rc = build_entries(t, d + 1, e + s, n - s, &c1)) != 0 || (rc = new_inode(t, &ref)) != 0)
        return rc;
    smt_inode *in = IN(t, ref);
    in->child[0] = c0;
    in->child[1] = c1;
    in->depth = (uint8_t)d;
    in->top = (uint8_t)top;
    finalize(t, ref);
    *out = ref;
    return 0;
}

typedef const vmdb_smt_change *chg;

static size_t split_changes(chg *c, size_t n, unsigned d)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vmdb_key_bit(c[mid]->key, d))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Collects the upserts of c[0..n) as entries (no existing leaf). */
static int upsert_entries(vmdb_smt *t, chg *c, size_t n, size_t *m)
{
    int rc = scratch_reserve(t, n + 1);
    *m = 0;
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!c[i]->remove) {
            t->scratch[*m] = (entry){c[i]->key, c[i]->value, SMT_EMPTY};
            (*m)++;
        }
    t->batch_delta += (int64_t)*m;
    return 0;
}

/* Brings the nodes that the walk will touch for changes [lo, hi) (their
 * paths, the siblings along them, the leaves at their ends) into the
 * cache, one level at a time for all of them at once. Following path after
 * path would stall on each level's cache miss in turn; going level by level
 * keeps many misses in flight. The walk runs a little ahead of apply_rec,
 * which handles changes in key order, so what it brings in is used before
 * it is evicted. A pure optimisation: results never depend on it. */
static void prefetch_paths(vmdb_smt *t, chg *c, size_t lo, size_t hi)
{
    smt_cursor cur[SMT_PREFETCH_GROUP];
    size_t active = 0;
    uint32_t root = t->current->root;

    if (root == SMT_EMPTY || smt_is_leaf(root))
        return;
    for (size_t i = lo; i < hi; i++)
        cur[active++] = (smt_cursor){root, (uint32_t)i};
    while (active) {
        size_t w = 0;
        for (size_t i = 0; i < active; i++) {
            const smt_inode *nd = smt_inode_at(&t->pools, cur[i].ref);
            int b = vmdb_key_bit(c[cur[i].change]->key, nd->depth);
            uint32_t next = nd->child[b];
            prefetch_ref(t, nd->child[!b]);
            prefetch_ref(t, next);
            if (nd->top < nd->depth)
                prefetch_ref(t, nd->rep);
            if (!smt_is_leaf(next))
                cur[w++] = (smt_cursor){next, cur[i].change};
        }
        active = w;
    }
}

/* Keeps the prefetch walk SMT_PREFETCH_GROUP changes ahead of `at`. */
static void prefetch_ahead(vmdb_smt *t, size_t at)
{
    if (at + SMT_PREFETCH_GROUP <= t->pf_done || t->pf_done >= t->pf_total)
        return;
    size_t hi = t->pf_done + SMT_PREFETCH_GROUP;
    if (hi > t->pf_total)
        hi = t->pf_total;
    prefetch_paths(t, t->sorted, t->pf_done, hi);
    t->pf_done = hi;
}

/* Applies sorted, distinct changes c[0..n) to subtree `ref`, which must
 * come out hanging at depth `top`. Every key of c shares the subtree's
 * path down to depth top. */
static int apply_rec(vmdb_smt *t, uint32_t ref, unsigned top, chg *c, size_t n, uint32_t *out)
{
    int rc = 0;
    size_t m = 0;

    if (n == 0)
        return retop(t, ref, top, out);
    prefetch_ahead(t, (size_t)(c - t->sorted));

    if (ref == SMT_EMPTY) {
        if ((rc = upsert_entries(t, c, n, &m)) != 0)
            return rc;
        return build_entries(t, top, t->scratch, m, out);
    }

    if (smt_is_leaf(ref)) {
        const smt_leaf *lf = LF(t, ref);
        bool placed = false, changed = false;
        if ((rc = scratch_reserve(t, n + 1)) != 0)
            return rc;
        for (size_t i = 0; i <= n; i++) {
            int cmp = i < n ? memcmp(c[i]->key, lf->key, 32) : 1;
            if (!placed && cmp >= 0) {
                placed = true;
                if (cmp == 0) {
                    if (c[i]->remove) {
                        t->batch_delta--;
                        changed = true;
                    } else if (memcmp(c[i]->value, lf->value, 32) != 0) {
                        t->scratch[m++] = (entry){c[i]->key, c[i]->value, SMT_EMPTY};
                        changed = true;
                    } else {
                        t->scratch[m++] = (entry){lf->key, lf->value, ref};
                    }
                    continue;
                }
                t->scratch[m++] = (entry){lf->key, lf->value, ref};
            }
            if (i < n && !c[i]->remove) {
                t->scratch[m++] = (entry){c[i]->key, c[i]->value, SMT_EMPTY};
                t->batch_delta++;
                changed = true;
            }
        }
        if (!changed) {
            *out = ref;
            return 0;
        }
        /* The old leaf is dropped unless it is reused as is. */
        bool reused = false;
        for (size_t i = 0; i < m; i++)
            reused |= t->scratch[i].ref == ref;
        if (!reused && (rc = drop(t, ref)) != 0)
            return rc;
        return build_entries(t, top, t->scratch, m, out);
    }

    const smt_inode *nd = IN(t, ref);
    unsigned d = nd->depth;
    /* Every key shares the path down to the node's top, so only a node
     * with a chain above its split (top < depth) can be left early; the
     * check costs a visit to its representative leaf. */
    unsigned cd = d;
    const uint8_t *rk = NULL;
    if (top < d) {
        rk = rep_key(&t->pools, nd);
        unsigned a = smt_lcp(c[0]->key, rk), b = smt_lcp(c[n - 1]->key, rk);
        cd = a < b ? a : b;
    }

    if (cd < d) {
        /* Some keys leave this node's prefix at level cd: they are absent,
         * and their upserts form a new subtree beside this one. */
        int side = vmdb_key_bit(rk, cd);
        size_t s = split_changes(c, n, cd);
        chg *same = side ? c + s : c, *other = side ? c : c + s;
        size_t nsame = side ? n - s : s, nother = n - nsame;
        uint32_t x = SMT_EMPTY, y = SMT_EMPTY, sref = SMT_EMPTY;

        if ((rc = upsert_entries(t, other, nother, &m)) != 0)
            return rc;
        if (m == 0)
            return apply_rec(t, ref, top, same, nsame, out);
        if ((rc = build_entries(t, cd + 1, t->scratch, m, &x)) != 0 ||
            (rc = apply_rec(t, ref, cd + 1, same, nsame, &y)) != 0)
            return rc;
        if (y == SMT_EMPTY)
            return retop(t, x, top, out);
        if ((rc = new_inode(t, &sref)) != 0)
            return rc;
        smt_inode *sn = IN(t, sref);
        sn->child[side] = y;
        sn->child[!side] = x;
        sn->depth = (uint8_t)cd;
        sn->top = (uint8_t)top;
        finalize(t, sref);
        *out = sref;
        return 0;
    }

    /* Every key passes through this node's split. */
    size_t s = split_changes(c, n, d);
    uint32_t old0 = nd->child[0], old1 = nd->child[1], n0 = old0, n1 = old1;
    /* A child without changes keeps its place (its top is still d + 1):
     * leave it untouched rather than pull it into the cache. */
    if (s == 0 || s == n)
        prefetch_ref(t, s == 0 ? old0 : old1); /* its hash is needed below */
    if ((s > 0 && (rc = apply_rec(t, old0, d + 1, c, s, &n0)) != 0) ||
        (n > s && (rc = apply_rec(t, old1, d + 1, c + s, n - s, &n1)) != 0))
        return rc;
    nd = IN(t, ref);
    if (n0 == old0 && n1 == old1 && nd->top == top) {
        *out = ref;
        return 0;
    }
    if (n0 == SMT_EMPTY || n1 == SMT_EMPTY) {
        /* The split is gone: the surviving side takes this node's place. */
        if (!(nd->flags & SMT_OWNED) && (rc = drop(t, ref)) != 0)
            return rc;
        return retop(t, n0 == SMT_EMPTY ? n1 : n0, top, out);
    }
    uint32_t w = SMT_EMPTY;
    if ((rc = writable(t, ref, &w)) != 0)
        return rc;
    smt_inode *wn = IN(t, w);
    wn->child[0] = n0;
    wn->child[1] = n1;
    wn->top = (uint8_t)top;
    finalize(t, w);
    *out = w;
    return 0;
}

/* --- versions ----------------------------------------------------------- */

static int view_new(vmdb_smt *t, vmdb_smt_view **out)
{
    vmdb_smt_view *v = calloc(1, sizeof(*v));
    if (!v)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory creating a tree version");
    v->version = t->next_version;
    *out = v;
    return 0;
}

static void view_free(vmdb_smt_view *v)
{
    if (!v)
        return;
    free(v->retired.r);
    free(v);
}

static void batch_reset(vmdb_smt *t)
{
    t->batch_alloc.n = 0;
    t->batch_retired.n = 0;
    t->batch_delta = 0;
}

/* Undoes a failed or discarded batch: frees what it created. */
static void batch_rollback(vmdb_smt *t)
{
    for (size_t i = 0; i < t->batch_alloc.n; i++)
        node_free(t, t->batch_alloc.r[i]);
    batch_reset(t);
}

/* Finishes the structural pass: hashes dirty nodes and records the new
 * version as pending. */
static int batch_finish(vmdb_smt *t, uint32_t root)
{
    vmdb_smt_view *v = NULL;
    int rc = view_new(t, &v);
    if (rc)
        return rc;
    v->root = root;
    smt_top_hash(&t->pools, t->h, root, v->root_hash);
    v->count = (uint64_t)((int64_t)t->current->count + t->batch_delta);
    /* The retired list moves to the view; the batch gets a fresh one. */
    v->retired = t->batch_retired;
    t->batch_retired = (smt_reflist){0};
    t->pending = v;
    t->batch_delta = 0;
    return 0;
}

static int sorted_reserve(vmdb_smt *t, size_t n)
{
    if (n <= t->sorted_cap)
        return 0;
    const vmdb_smt_change **p = realloc(t->sorted, n * sizeof(*p));
    if (!p)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory sorting a batch");
    t->sorted = p;
    t->sorted_cap = n;
    return 0;
}

static int change_cmp(const void *a, const void *b)
{
    const vmdb_smt_change *x = *(const vmdb_smt_change *const *)a;
    const vmdb_smt_change *y = *(const vmdb_smt_change *const *)b;
    int c = memcmp(x->key, y->key, 32);
    if (c)
        return c;
    /* Same key: keep input order, so the last one can win. */
    return x < y ? -1 : x > y;
}

int vmdb_smt_apply(vmdb_smt *t, const vmdb_smt_change *changes, size_t n)
{
    int rc = 0;
    size_t m = 0;
    uint32_t root = SMT_EMPTY;

    if (t->pending)
        return vmdb_error_set(VMDB_EBUSY, "a tree version is already pending");
    if ((rc = sorted_reserve(t, n ? n : 1)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        t->sorted[i] = &changes[i];
    qsort(t->sorted, n, sizeof(*t->sorted), change_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && memcmp(t->sorted[i]->key, t->sorted[i + 1]->key, 32) == 0)
            continue;
        t->sorted[m++] = t->sorted[i];
    }
    batch_reset(t);
    t->pf_done = 0;
    t->pf_total = m;
    /* One change is one path, a chain of dependent hashes: nothing to
     * interleave, so it is hashed on the way as before. */
    t->defer = m >= 2;
    t->dirty.n = 0;
    rc = apply_rec(t, t->current->root, 0, t->sorted, m, &root);
    if (rc == 0)
        rc = flush_hashes(t);
    if (rc != 0 || (rc = batch_finish(t, root)) != 0) {
        for (size_t i = 0; i < t->dirty.n; i++)
            IN(t, t->dirty.r[i])->flags &= (uint8_t)~SMT_QUEUED;
        t->dirty.n = 0;
        t->defer = false;
        batch_rollback(t);
        return rc;
    }
    return 0;
}

static int leaf_cmp_ok(const vmdb_smt_leaf *l, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (memcmp(l[i - 1].key, l[i].key, 32) >= 0)
            return vmdb_error_set(VMDB_EINVAL, "bulk build needs keys sorted and unique");
    return 0;
}

static int build_impl(vmdb_smt *t, const vmdb_smt_leaf *leaves, size_t n, vmdb_smt_run2_fn run2,
                      void *ctx);

int vmdb_smt_build(vmdb_smt *t, const vmdb_smt_leaf *leaves, size_t n)
{
    return build_impl(t, leaves, n, NULL, NULL);
}

int vmdb_smt_build_par(vmdb_smt *t, const vmdb_smt_leaf *leaves, size_t n, vmdb_smt_run2_fn run2,
                       void *ctx)
{
    return build_impl(t, leaves, n, n >= 1024 ? run2 : NULL, ctx);
}

static int build_two(vmdb_smt *t, const entry *e, size_t n, vmdb_smt_run2_fn run2, void *ctx,
                     uint32_t *out);

static int build_impl(vmdb_smt *t, const vmdb_smt_leaf *leaves, size_t n, vmdb_smt_run2_fn run2,
                      void *ctx)
{
    int rc = 0;
    uint32_t root = SMT_EMPTY;
    entry *e = NULL;

    if (t->pending)
        return vmdb_error_set(VMDB_EBUSY, "a tree version is already pending");
    if ((rc = leaf_cmp_ok(leaves, n)) != 0)
        return rc;
    e = malloc((n ? n : 1) * sizeof(entry));
    if (!e)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory building the tree");
    for (size_t i = 0; i < n; i++)
        e[i] = (entry){leaves[i].key, leaves[i].value, SMT_EMPTY};
    batch_reset(t);
    /* Everything the current version holds is replaced. */
    if (t->current->root != SMT_EMPTY) {
        smt_reflist stack = {0};
        rc = reflist_push(&stack, t->current->root);
        while (rc == 0 && stack.n) {
            uint32_t r = stack.r[--stack.n];
            if ((rc = drop(t, r)) != 0)
                break;
            if (!smt_is_leaf(r)) {
                rc = reflist_push(&stack, IN(t, r)->child[0]);
                if (rc == 0)
                    rc = reflist_push(&stack, IN(t, r)->child[1]);
            }
        }
        free(stack.r);
    }
    if (rc == 0 && run2) {
        rc = build_two(t, e, n, run2, ctx, &root);
    } else if (rc == 0) {
        t->defer = true;
        t->dirty.n = 0;
        t->flush_at = SMT_BUILD_FLUSH;
        rc = build_entries(t, 0, e, n, &root);
        t->flush_at = 0;
        int frc = flush_hashes(t);
        rc = rc ? rc : frc;
        t->dirty.n = 0;
    }
    t->batch_delta = (int64_t)n - (int64_t)t->current->count;
    if (rc == 0)
        rc = batch_finish(t, root);
    if (rc)
        batch_rollback(t);
    free(e);
    return rc;
}

/* --- two-way bulk build --------------------------------------------------- */

/* One half of a parallel build: a shallow tree that shares the pools'
 * chunks (allocated beforehand) and allocates only from its own slice of
 * never-used slots, with its own hasher and lists. s sorted distinct
 * leaves make exactly s leaves and s - 1 internal nodes, so the slices are
 * known before the build starts. */
typedef struct half {
    vmdb_smt *w;
    const entry *e;
    size_t n;
    unsigned top;
    uint32_t root;
    int rc;
} half;

static void half_run(void *arg)
{
    half *x = arg;
    vmdb_smt *w = x->w;
    w->defer = true;
    w->flush_at = SMT_BUILD_FLUSH;
    x->rc = build_entries(w, x->top, x->e, x->n, &x->root);
    w->flush_at = 0;
    int frc = flush_hashes(w);
    x->rc = x->rc ? x->rc : frc;
}

static int half_new(vmdb_smt *t, uint32_t leaf0, uint32_t inode0, vmdb_smt **out)
{
    vmdb_smt *w = calloc(1, sizeof(*w));
    *out = NULL;
    if (!w)
        return vmdb_error_set(VMDB_ENOMEM, "out of memory building the tree");
    w->pools = t->pools;
    w->pools.leaves.fresh = leaf0;
    w->pools.inodes.fresh = inode0;
    w->pools.leaves.freed = w->pools.inodes.freed = NULL;
    w->pools.leaves.nfree = w->pools.inodes.nfree = 0;
    w->pools.leaves.cfree = w->pools.inodes.cfree = 0;
    w->pools.leaves.live = w->pools.inodes.live = 0;
    int rc = vmdb_hasher_new(&w->h, vmdb_hasher_impl(t->h)[0] == 'o' ? VMDB_HASHER_FORCE_OPENSSL
                                                                     : VMDB_HASHER_DEFAULT);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* The working buffers a tree and a build half each have of their own. */
static void work_free(vmdb_smt *w)
{
    free(w->batch_alloc.r);
    free(w->batch_retired.r);
    free(w->scratch);
    free(w->dirty.r);
    free(w->dirty_sorted.r);
    free(w->sides);
    free(w->jobs);
    vmdb_hasher_free(w->h);
}

/* Frees a half's own parts (never the shared chunks). */
static void half_free(vmdb_smt *w)
{
    if (!w)
        return;
    work_free(w);
    free(w);
}

static int pool_reserve(smt_pool *p, uint64_t upto)
{
    while ((uint64_t)p->nchunks << SMT_CHUNK_BITS < upto) {
        if (p->nchunks == SMT_MAX_CHUNKS)
            return vmdb_error_set(VMDB_ELIMIT, "tree node pool exhausted");
        uint8_t *c = malloc((size_t)SMT_CHUNK_SIZE * p->elem);
        if (!c)
            return vmdb_error_set(VMDB_ENOMEM, "out of memory growing the tree");
        p->chunks[p->nchunks++] = c;
    }
    return 0;
}

/* Builds e[0..n) (n >= 2) as two halves through run2 and joins them. */
static int build_two(vmdb_smt *t, const entry *e, size_t n, vmdb_smt_run2_fn run2, void *ctx,
                     uint32_t *out)
{
    int rc = 0;
    unsigned d = smt_lcp(e[0].key, e[n - 1].key);
    size_t s = split_entries(e, n, d);
    uint32_t l0 = t->pools.leaves.fresh, i0 = t->pools.inodes.fresh, ref = SMT_EMPTY;
    half x[2] = {{NULL, e, s, d + 1, SMT_EMPTY, 0}, {NULL, e + s, n - s, d + 1, SMT_EMPTY, 0}};

    if ((uint64_t)l0 + n > (uint64_t)SMT_MAX_CHUNKS << SMT_CHUNK_BITS ||
        (uint64_t)i0 + n > (uint64_t)SMT_MAX_CHUNKS << SMT_CHUNK_BITS)
        return vmdb_error_set(VMDB_ELIMIT, "tree node pool exhausted");
    if ((rc = pool_reserve(&t->pools.leaves, (uint64_t)l0 + n)) != 0 ||
        (rc = pool_reserve(&t->pools.inodes, (uint64_t)i0 + n)) != 0 ||
        (rc = half_new(t, l0, i0, &x[0].w)) != 0 ||
        (rc = half_new(t, l0 + (uint32_t)s, i0 + (uint32_t)(s - 1), &x[1].w)) != 0)
        goto done;
    run2(ctx, half_run, &x[0], &x[1]);
    /* What the halves made is the batch's, and their slots are taken. */
    for (int k = 0; k < 2; k++) {
        vmdb_smt *w = x[k].w;
        for (size_t i = 0; rc == 0 && i < w->batch_alloc.n; i++)
            rc = reflist_push(&t->batch_alloc, w->batch_alloc.r[i]);
        t->pools.leaves.live += w->pools.leaves.live;
        t->pools.inodes.live += w->pools.inodes.live;
        vmdb_hasher_count_add(t->h, vmdb_hasher_node_count(w->h));
        rc = rc ? rc : x[k].rc;
    }
    t->pools.leaves.fresh = l0 + (uint32_t)n;
    t->pools.inodes.fresh = i0 + (uint32_t)(n - 2);
    if (rc || (rc = new_inode(t, &ref)) != 0)
        goto done;
    smt_inode *in = IN(t, ref);
    in->child[0] = x[0].root;
    in->child[1] = x[1].root;
    in->depth = (uint8_t)d;
    in->top = 0;
    finalize(t, ref); /* t->defer is off: hashed now */
    *out = ref;
done:
    half_free(x[0].w);
    half_free(x[1].w);
    return rc;
}

const vmdb_smt_view *vmdb_smt_pending(const vmdb_smt *t)
{
    return t->pending;
}

void vmdb_smt_collect(vmdb_smt *t)
{
    while (t->oldest != t->current && t->oldest->readers == 0) {
        vmdb_smt_view *o = t->oldest, *nx = o->newer;
        for (size_t i = 0; i < nx->retired.n; i++)
            node_free(t, nx->retired.r[i]);
        free(nx->retired.r);
        nx->retired = (smt_reflist){0};
        view_free(o);
        t->oldest = nx;
    }
}

void vmdb_smt_publish(vmdb_smt *t)
{
    if (!t->pending)
        return;
    t->next_version++;
    t->current->newer = t->pending;
    t->current = t->pending;
    t->pending = NULL;
    /* What the batch created is now published, hence immutable. */
    for (size_t i = 0; i < t->batch_alloc.n; i++)
        if (!smt_is_leaf(t->batch_alloc.r[i]))
            IN(t, t->batch_alloc.r[i])->flags = 0;
    t->batch_alloc.n = 0;
    vmdb_smt_collect(t);
}

void vmdb_smt_discard(vmdb_smt *t)
{
    vmdb_smt_view *v = t->pending;
    if (!v)
        return;
    /* The current version never references what the batch created. */
    for (size_t i = 0; i < t->batch_alloc.n; i++)
        node_free(t, t->batch_alloc.r[i]);
    t->batch_alloc.n = 0;
    t->pending = NULL;
    view_free(v);
}

int vmdb_smt_update(vmdb_smt *t, const vmdb_smt_change *changes, size_t n)
{
    int rc = vmdb_smt_apply(t, changes, n);
    if (rc == 0)
        vmdb_smt_publish(t);
    return rc;
}

const vmdb_smt_view *vmdb_smt_current(const vmdb_smt *t)
{
    return t->current;
}

const vmdb_smt_view *vmdb_smt_acquire(vmdb_smt *t)
{
    t->current->readers++;
    return t->current;
}

void vmdb_smt_hold(vmdb_smt *t, const vmdb_smt_view *v)
{
    (void)t;
    ((vmdb_smt_view *)v)->readers++;
}

void vmdb_smt_release(vmdb_smt *t, const vmdb_smt_view *v)
{
    (void)t;
    ((vmdb_smt_view *)v)->readers--;
}

void vmdb_smt_view_root(const vmdb_smt_view *v, uint8_t out[32])
{
    memcpy(out, v->root_hash, 32);
}

uint64_t vmdb_smt_view_count(const vmdb_smt_view *v)
{
    return v->count;
}

uint64_t vmdb_smt_view_version(const vmdb_smt_view *v)
{
    return v->version;
}

int vmdb_smt_get(const vmdb_smt *t, const vmdb_smt_view *v, const uint8_t key[32],
                 uint8_t value[32])
{
    uint32_t ref = v->root;
    while (ref != SMT_EMPTY && !smt_is_leaf(ref)) {
        const smt_inode *n = smt_inode_at(&t->pools, ref);
        ref = n->child[vmdb_key_bit(key, n->depth)];
    }
    if (ref != SMT_EMPTY) {
        const smt_leaf *l = smt_leaf_at(&t->pools, ref);
        if (memcmp(l->key, key, 32) == 0) {
            memcpy(value, l->value, 32);
            return 0;
        }
    }
    return VMDB_ENOTFOUND;
}

/* In-order walk: child 0 holds the keys whose bit at the split depth is 0
 * (MSB first), so this is ascending memcmp order. Depth is at most 256. */
static int each_rec(const vmdb_smt *t, uint32_t ref,
                    int (*fn)(void *, const uint8_t[32], const uint8_t[32]), void *arg)
{
    if (ref == SMT_EMPTY)
        return 0;
    if (smt_is_leaf(ref)) {
        const smt_leaf *l = smt_leaf_at(&t->pools, ref);
        return fn(arg, l->key, l->value);
    }
    const smt_inode *n = smt_inode_at(&t->pools, ref);
    int rc = each_rec(t, n->child[0], fn, arg);
    return rc ? rc : each_rec(t, n->child[1], fn, arg);
}

int vmdb_smt_each(const vmdb_smt *t, const vmdb_smt_view *v,
                  int (*fn)(void *arg, const uint8_t key[32], const uint8_t value[32]), void *arg)
{
    return each_rec(t, v->root, fn, arg);
}

/* Walks up to SMT_GET_LANES paths in lockstep, one level of each per round,
 * prefetching the node each lane goes to next: at a million leaves about
 * ten levels of every path miss the cache, and one walk at a time waits for
 * each miss in turn. */
#define SMT_GET_LANES 8

void vmdb_smt_get_many(const vmdb_smt *t, const vmdb_smt_view *v, const uint8_t (*keys)[32],
                       size_t n, uint8_t (*values)[32], bool *found)
{
    for (size_t base = 0; base < n; base += SMT_GET_LANES) {
        size_t m = n - base < SMT_GET_LANES ? n - base : SMT_GET_LANES;
        uint32_t ref[SMT_GET_LANES];
        size_t live = 0;
        uint8_t lane[SMT_GET_LANES]; /* lanes still walking */
        for (size_t i = 0; i < m; i++) {
            ref[i] = v->root;
            if (ref[i] != SMT_EMPTY && !smt_is_leaf(ref[i]))
                lane[live++] = (uint8_t)i;
        }
        while (live) {
            size_t keep = 0;
            for (size_t q = 0; q < live; q++) {
                size_t i = lane[q];
                const smt_inode *nd = smt_inode_at(&t->pools, ref[i]);
                uint32_t next = nd->child[vmdb_key_bit(keys[base + i], nd->depth)];
                ref[i] = next;
                prefetch_ref(t, next);
                if (next != SMT_EMPTY && !smt_is_leaf(next))
                    lane[keep++] = (uint8_t)i;
            }
            live = keep;
        }
        for (size_t i = 0; i < m; i++) {
            const smt_leaf *l = ref[i] == SMT_EMPTY ? NULL : smt_leaf_at(&t->pools, ref[i]);
            found[base + i] = l && memcmp(l->key, keys[base + i], 32) == 0;
            if (found[base + i])
                memcpy(values[base + i], l->value, 32);
        }
    }
}

vmdb_hasher *vmdb_smt_hasher(vmdb_smt *t)
{
    return t->h;
}

size_t vmdb_smt_memory(const vmdb_smt *t)
{
    return (size_t)t->pools.leaves.nchunks * SMT_CHUNK_SIZE * t->pools.leaves.elem +
           (size_t)t->pools.inodes.nchunks * SMT_CHUNK_SIZE * t->pools.inodes.elem;
}

int vmdb_smt_new(vmdb_smt **out, unsigned hasher_flags)
{
    int rc = 0;
    vmdb_smt *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (!t) {
        rc = vmdb_error_set(VMDB_ENOMEM, "out of memory creating the tree");
        goto done;
    }
    t->pools.leaves.elem = sizeof(smt_leaf);
    t->pools.inodes.elem = sizeof(smt_inode);
    if ((rc = vmdb_hasher_new(&t->h, hasher_flags)) != 0 || (rc = view_new(t, &t->current)) != 0)
        goto done;
    t->oldest = t->current;
    t->next_version = 1;
    *out = t;
    t = NULL;
done:
    vmdb_smt_free(t);
    return rc;
}

void vmdb_smt_free(vmdb_smt *t)
{
    if (!t)
        return;
    if (t->pending)
        vmdb_smt_discard(t);
    for (vmdb_smt_view *v = t->oldest; v;) {
        vmdb_smt_view *nx = v->newer;
        view_free(v);
        v = nx;
    }
    for (uint32_t i = 0; i < t->pools.leaves.nchunks; i++)
        free(t->pools.leaves.chunks[i]);
    for (uint32_t i = 0; i < t->pools.inodes.nchunks; i++)
        free(t->pools.inodes.chunks[i]);
    free(t->pools.leaves.freed);
    free(t->pools.inodes.freed);
    free(t->sorted);
    work_free(t);
    free(t);
}
