/*
 * The transition records of PROTOCOL.md §14.2: every admin transition
 * (repair, clear, reset, migrate) of seq s adds one reserved leaf to the
 * tree of header s, at a key no row or id range can have, whose value
 * commits a JSON record of what the transition did. Like the id-range
 * leaves they are not rows: a rebuild cannot derive them from the tables,
 * so each record is stored in vmdb_transitions (with its single-key proof
 * against header s, which stays valid after the tree of s is gone) in the
 * same transaction as the header, and rebuilds add them back from there.
 *
 * This file builds a record, derives its leaf, and holds the SQL of
 * vmdb_transitions. A stored record is hashed as stored (its bytes are the
 * JCS the leaf commits), so any edit of the row shows as a leaf that differs
 * from the tree.
 */
#ifndef VMDB_STORE_TRANSITIONS_H
#define VMDB_STORE_TRANSITIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/pg.h"
#include "store/result.h"
#include "vmdb/hash.h"
#include "vmdb/proof.h"

/* What a record says (PROTOCOL.md §14.2). */
typedef struct vmdb_transition_in {
    const char *kind; /* "repair", "clear", "reset", "migrate" */
    uint64_t seq;
    uint8_t old_root[32];          /* the smt_root of header seq - 1 */
    uint64_t leaves_before;        /* leaves of the tree of header seq - 1 */
    uint64_t leaves_after;         /* leaves of the tree of header seq (the record's own too) */
    const vmdb_admin_result *diff; /* repair: count, diff_root, the listed changes */
    const char *const *tables;     /* clear, reset, migrate: the managed tables after it */
    size_t ntables;
    const char *const *migrations; /* migrate: the files applied (kind migrate only) */
    size_t nmigrations;
} vmdb_transition_in;

/* One row of vmdb_transitions: the record as stored (malloc'ed). */
typedef struct vmdb_transition_row {
    uint64_t seq;
    char *record;
    size_t len;
} vmdb_transition_row;

/* Appends the record of `in` in its canonical form (JCS). 0, VMDB_ENOMEM,
 * VMDB_EPARSE (a table name or id that is not UTF-8). */
int vmdb_transitions_record(vmdb_buf *out, const vmdb_transition_in *in);
/* The `changes` array of a repair's diff (PROTOCOL.md §14.1's JSON form):
 * one writer for the record and for the repair's answer, so the two list
 * the changes byte for byte alike. 0, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_transitions_changes_json(vmdb_buf *out, const vmdb_admin_result *d);

/* The leaf of a stored record. */
void vmdb_transitions_leaf(vmdb_hasher *h, uint64_t seq, vmdb_slice record, uint8_t key[32],
                           uint8_t value[32]);

/* Every row of vmdb_transitions in seq order, in the caller's open
 * transaction (or autocommit). Free with vmdb_transitions_rows_free. 0,
 * VMDB_EIO, VMDB_ENOMEM. */
int vmdb_transitions_load(PGconn *c, vmdb_transition_row **out, size_t *n);
void vmdb_transitions_rows_free(vmdb_transition_row *v, size_t n); /* accepts NULL */

/* Inserts the record of `seq` and its proof (inside the open transaction).
 * 0, VMDB_EIO, VMDB_ENOMEM. */
int vmdb_transitions_store(PGconn *c, uint64_t seq, vmdb_slice record, const vmdb_proof *proof);

#endif
