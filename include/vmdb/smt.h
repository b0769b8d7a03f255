/*
 * The sparse Merkle tree of protocol v1 (PROTOCOL.md §3), in memory.
 *
 * Versions: the tree is copy-on-write. A writer prepares the next version
 * with vmdb_smt_apply (nothing visible changes), then either publishes it
 * (it becomes current) or discards it (say, because COMMIT failed). Readers
 * acquire a version and may walk it, prove against it and look keys up in
 * it while the writer works, without any lock: nodes reachable from a held
 * version are never changed or freed.
 *
 * Threading contract (the core takes no locks): one writer thread calls
 * apply/publish/discard/collect; acquire and release may come from any
 * thread, but acquire, release, publish and collect must be serialised by
 * the caller (one short mutex). Lookups and proofs through a view need
 * nothing but a hasher of the calling thread.
 *
 * Memory: 64 bytes per leaf (key, value) plus 48 per internal node, about
 * 112-120 bytes per leaf in all.
 */
#ifndef VMDB_SMT_H
#define VMDB_SMT_H

#include "vmdb/hash.h"
#include "vmdb/proof.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmdb_smt vmdb_smt;
typedef struct vmdb_smt_view vmdb_smt_view;

typedef struct vmdb_smt_leaf {
    uint8_t key[32];
    uint8_t value[32];
} vmdb_smt_leaf;

typedef struct vmdb_smt_change {
    uint8_t key[32];
    uint8_t value[32]; /* ignored when remove is true */
    bool remove;
} vmdb_smt_change;

/* Creates an empty tree (version 0). `hasher_flags` as vmdb_hasher_new.
 * Errors: VMDB_ENOMEM, VMDB_ECRYPTO. */
int vmdb_smt_new(vmdb_smt **out, unsigned hasher_flags);
/* Frees the tree and every version (held views become invalid). */
void vmdb_smt_free(vmdb_smt *t);

/* Bulk-builds the next version from `n` leaves sorted strictly ascending
 * by key, in O(n) hashes, replacing whatever the current version holds.
 * Leaves it pending like vmdb_smt_apply. Errors: VMDB_EINVAL (not sorted or
 * duplicate), VMDB_EBUSY (a version is already pending), VMDB_ENOMEM. */
int vmdb_smt_build(vmdb_smt *t, const vmdb_smt_leaf *leaves, size_t n);

/* Runs fn(a) and fn(b), on two threads if it can, and returns when both
 * have finished. Supplied by the caller: the tree itself starts no
 * threads. */
typedef void (*vmdb_smt_run2_fn)(void *ctx, void (*fn)(void *), void *a, void *b);

/* vmdb_smt_build with the two halves below the root's split built (and
 * hashed) through `run2`, each with its own hasher, and joined under the
 * root: the same tree, in about half the time on two cores. With run2
 * NULL or fewer than 1024 leaves it is vmdb_smt_build. Same errors. */
int vmdb_smt_build_par(vmdb_smt *t, const vmdb_smt_leaf *leaves, size_t n, vmdb_smt_run2_fn run2,
                       void *ctx);

/* Prepares the next version: the current one with `changes` applied
 * (upserts and removals; when a key repeats, the last change wins;
 * removing an absent key is a no-op). Every changed node is hashed once.
 * `changes` is not modified. Errors: VMDB_EBUSY (a version is already
 * pending), VMDB_ENOMEM, VMDB_ELIMIT (node pool exhausted); on error the
 * tree is as before. */
int vmdb_smt_apply(vmdb_smt *t, const vmdb_smt_change *changes, size_t n);
/* The pending version (NULL if none). Valid until publish or discard. */
const vmdb_smt_view *vmdb_smt_pending(const vmdb_smt *t);
/* Makes the pending version current and frees versions nobody holds. */
void vmdb_smt_publish(vmdb_smt *t);
/* Drops the pending version. */
void vmdb_smt_discard(vmdb_smt *t);
/* apply + publish, for single-threaded callers. */
int vmdb_smt_update(vmdb_smt *t, const vmdb_smt_change *changes, size_t n);

/* The current version (no hold taken: valid until the next publish). */
const vmdb_smt_view *vmdb_smt_current(const vmdb_smt *t);
/* Takes a hold on the current version; it stays readable until released. */
const vmdb_smt_view *vmdb_smt_acquire(vmdb_smt *t);
void vmdb_smt_release(vmdb_smt *t, const vmdb_smt_view *v);
/* Takes one more hold on a version that is already held (or current), so
 * that a second reader can keep it after the first releases it. */
void vmdb_smt_hold(vmdb_smt *t, const vmdb_smt_view *v);
/* Frees the nodes of versions that are neither current nor held. */
void vmdb_smt_collect(vmdb_smt *t);

void vmdb_smt_view_root(const vmdb_smt_view *v, uint8_t out[32]);
uint64_t vmdb_smt_view_count(const vmdb_smt_view *v);
uint64_t vmdb_smt_view_version(const vmdb_smt_view *v);

/* Looks `key` up. 0 with the value, or VMDB_ENOTFOUND. */
int vmdb_smt_get(const vmdb_smt *t, const vmdb_smt_view *v, const uint8_t key[32],
                 uint8_t value[32]);
/* Calls fn(arg, key, value) for every leaf of `v` in ascending key order;
 * stops at the first non-zero return and returns it (0 when all ran). */
int vmdb_smt_each(const vmdb_smt *t, const vmdb_smt_view *v,
                  int (*fn)(void *arg, const uint8_t key[32], const uint8_t value[32]), void *arg);
/* Looks up n keys at once, their walks interleaved so that the cache misses
 * overlap (faster than n calls of vmdb_smt_get on a large tree). found[i]
 * says whether keys[i] is present; values[i] then holds its value. Cannot
 * fail. */
void vmdb_smt_get_many(const vmdb_smt *t, const vmdb_smt_view *v, const uint8_t (*keys)[32],
                       size_t n, uint8_t (*values)[32], bool *found);
/* Builds the single-key proof of PROTOCOL.md §4; `value` (may be NULL)
 * receives the value when the key is present. Cannot fail. */
void vmdb_smt_prove(const vmdb_smt *t, const vmdb_smt_view *v, vmdb_hasher *h,
                    const uint8_t key[32], vmdb_proof *out, uint8_t *value);
/* Appends the multiproof of PROTOCOL.md §5 for `n` keys sorted strictly
 * ascending. Errors: VMDB_EINVAL (n == 0 or not sorted), VMDB_ENOMEM,
 * VMDB_ELIMIT. */
int vmdb_smt_multiprove(const vmdb_smt *t, const vmdb_smt_view *v, vmdb_hasher *h,
                        const uint8_t (*keys)[32], size_t n, vmdb_buf *out);

/* The writer's hasher (its node counter measures the work of apply). */
vmdb_hasher *vmdb_smt_hasher(vmdb_smt *t);
/* Bytes held by node storage (chunks allocated, free or used). */
size_t vmdb_smt_memory(const vmdb_smt *t);

#ifdef __cplusplus
}
#endif
#endif
