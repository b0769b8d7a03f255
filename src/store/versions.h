/*
 * Tree versions: the in-memory sparse Merkle tree and the recent versions of
 * it that readers check their rows against.
 *
 * Every committed transition has a seq; the state row in PostgreSQL
 * (vmdb_state) carries the seq of the transaction that wrote it. A reader
 * reads the state row and its rows in one statement (one snapshot), then
 * holds the tree version committed with that seq, which stays readable
 * however far the writer moves on. The newest VMDB_VERSIONS_KEPT versions
 * are kept for this.
 *
 * Invariants:
 * - one thread at a time changes the tree (the writer thread; start-up runs
 *   on it too): apply/build, then publish or discard;
 * - between vmdb_versions_committing(seq) and publish/discard, a reader whose
 *   snapshot shows seq waits (bounded) for the publish instead of concluding
 *   that the database is ahead of this process;
 * - the lock guards the ring, the holds and the published seq and root; it
 *   is never held while hashing, building or calling out.
 */
#ifndef VMDB_STORE_VERSIONS_H
#define VMDB_STORE_VERSIONS_H

#include <stdbool.h>

#include "vmdb/smt.h"

#define VMDB_VERSIONS_KEPT 64

typedef struct vmdb_versions vmdb_versions;

/* An empty tree published as seq 0. *out is the caller's
 * (vmdb_versions_free). VMDB_ENOMEM, VMDB_ECRYPTO. */
int vmdb_versions_new(vmdb_versions **out);
/* Frees the tree; no version may still be held. Accepts NULL. */
void vmdb_versions_free(vmdb_versions *v);

/* ---- readers (any thread) ---------------------------------------------- */

/* Holds the version committed as `seq`, waiting up to 5 s while the writer
 * is publishing it. NULL when that version is not kept; *ahead then says
 * whether seq is beyond the newest published one (the database moved
 * without this process). Give it back with vmdb_versions_release. */
const vmdb_smt_view *vmdb_versions_hold(vmdb_versions *v, uint64_t seq, bool *ahead);
void vmdb_versions_release(vmdb_versions *v, const vmdb_smt_view *view); /* accepts NULL */
/* The tree, for look-ups and proofs through a held view (no lock needed). */
const vmdb_smt *vmdb_versions_tree(const vmdb_versions *v);
/* The newest published seq, its root and its number of leaves (any may be
 * NULL). */
void vmdb_versions_latest(vmdb_versions *v, uint64_t *seq, uint8_t root[32], uint64_t *leaves);

/* ---- the writer (one thread at a time) ---------------------------------- */

/* The newest published version, without a hold: valid for the writer until
 * its next publish (nobody else publishes). */
const vmdb_smt_view *vmdb_versions_base(vmdb_versions *v);
/* Prepares the next version from `changes` / from all `leaves` (sorted);
 * errors as vmdb_smt_apply / vmdb_smt_build. */
int vmdb_versions_apply(vmdb_versions *v, const vmdb_smt_change *changes, size_t n);
int vmdb_versions_build(vmdb_versions *v, const vmdb_smt_leaf *leaves, size_t n);
void vmdb_versions_pending_root(const vmdb_versions *v, uint8_t root[32]);
/* The pending version (NULL when none), for a proof against it before it
 * is committed. */
const vmdb_smt_view *vmdb_versions_pending(const vmdb_versions *v);
/* The pending version is being committed as `seq`. */
void vmdb_versions_committing(vmdb_versions *v, uint64_t seq);
/* Drops the pending version (the commit failed). */
void vmdb_versions_discard(vmdb_versions *v);
/* The pending version becomes the newest, committed as `seq`. */
void vmdb_versions_publish(vmdb_versions *v, uint64_t seq);

#endif
