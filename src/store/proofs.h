/*
 * Proofs in answers (PROTOCOL.md §9): the multiproof of an answer's keys,
 * built against the tree version the answer was read from or committed
 * under, while that version is held (reads) or still the newest (the
 * writer, right after it publishes). Built only for requests that ask, so
 * answers without a proof cost nothing more.
 *
 * The key set is bounded by the answer (at most VMDB_MAX_IDS ids, or a
 * create's records, which the body cap bounds), and so is the multiproof:
 * at most one path per key.
 */
#ifndef VMDB_STORE_PROOFS_H
#define VMDB_STORE_PROOFS_H

#include "store/model.h"
#include "store/result.h"
#include "vmdb/smt.h"

/* What one answer proves. `present`: rows the answer returns (their keys
 * and values are in the tree); `gone`: rows the answer says are no longer
 * there (delete: proven absent by their key); `absent`: ids as the answer
 * writes them, proven absent under k(table, id) even when they are not
 * valid keys of the table; `extra`: more keys for the multiproof (say, the
 * id-range key of §10), whose entries the caller renders itself. */
typedef struct vmdb_proof_keys {
    const vmdb_row *present;
    size_t npresent;
    const vmdb_row *gone;
    size_t ngone;
    const char *const *absent;
    size_t nabsent;
    const uint8_t (*extra)[32];
    size_t nextra;
} vmdb_proof_keys;

/* Fills `out` (table, absent ids and keys, the sorted distinct key set and
 * the multiproof against `v`) in `ar` and sets out->has; the caller sets
 * out->header, the signed header of `v`'s seq (which may need I/O, better
 * done once the version is released). An answer with no key at all gets no
 * multiproof (§5: the empty set has none). 0, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_proofs_build(vmdb_proof_out *out, vmdb_arena *ar, vmdb_hasher *h, const vmdb_smt *t,
                      const vmdb_smt_view *v, const vmdb_model *m, const vmdb_proof_keys *k);

#endif
