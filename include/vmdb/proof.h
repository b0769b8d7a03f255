/*
 * Proofs against a sparse Merkle tree root (PROTOCOL.md §4-§5): the
 * single-key proof with its sibling bitmap, and the multiproof for a set of
 * keys. These functions are the verifier a client links; the tree that
 * produces proofs is in smt.h.
 */
#ifndef VMDB_PROOF_H
#define VMDB_PROOF_H

#include "vmdb/hash.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vmdb_proof_kind {
    VMDB_PROOF_INCLUSION = 0,
    VMDB_PROOF_ABSENT_EMPTY = 1,
    VMDB_PROOF_ABSENT_LEAF = 2,
} vmdb_proof_kind;

/* Largest binary single proof: kind, depth, 32-byte bitmap, 256 siblings,
 * other leaf. */
#define VMDB_PROOF_MAX_BYTES (1 + 2 + 32 + 256 * 32 + 64)

typedef struct vmdb_proof {
    uint8_t kind;              /* vmdb_proof_kind */
    uint16_t depth;            /* L, 0..256 */
    uint8_t bitmap[32];        /* bit i set: sibling at level i is not empty */
    uint16_t nsiblings;        /* popcount of bitmap */
    uint8_t siblings[256][32]; /* non-empty siblings, deepest first */
    uint8_t other_key[32];     /* VMDB_PROOF_ABSENT_LEAF only */
    uint8_t other_value[32];
} vmdb_proof;

/* Appends the binary form. Errors: VMDB_ENOMEM, VMDB_ELIMIT. */
int vmdb_proof_encode(vmdb_buf *out, const vmdb_proof *p);
/* Parses the binary form, checking its shape (lengths, bitmap bits beyond
 * depth, sibling count). VMDB_EPARSE if malformed. */
int vmdb_proof_decode(vmdb_proof *p, vmdb_slice in);
/* Appends the JSON form of PROTOCOL.md §4 (value may be NULL unless the
 * proof is an inclusion proof). Errors: VMDB_ENOMEM, VMDB_ELIMIT. */
int vmdb_proof_to_json(vmdb_buf *out, const vmdb_proof *p, const uint8_t key[32],
                       const uint8_t *value);

/* Checks that `key` has `value` (value != NULL) or is absent (value ==
 * NULL) under `root`. 0 if the proof holds; VMDB_EVERIFY otherwise (with
 * the reason as the thread's error message). */
int vmdb_proof_verify(vmdb_hasher *h, const uint8_t root[32], const uint8_t key[32],
                      const uint8_t *value, const vmdb_proof *p);

/* Verifies n single proofs against one root, up to four at a time with
 * their hashes interleaved (vmdb_hash_nodes): several times the
 * throughput of n vmdb_proof_verify calls. Proof i claims keys[i] has
 * values[i] (NULL: absent). ok[i] tells whether proof i holds, exactly as
 * vmdb_proof_verify would decide. Returns 0 if every proof holds, else
 * VMDB_EVERIFY with the reason of the first failure found as the thread's
 * error message. */
int vmdb_proof_verify_many(vmdb_hasher *h, const uint8_t root[32], size_t n,
                           const uint8_t *const *keys, const uint8_t *const *values,
                           const vmdb_proof *const *proofs, bool *ok);

/* Verifies a binary multiproof for `nkeys` keys (sorted strictly ascending)
 * against `root`. On success, for each key i, present[i] tells whether it
 * is in the tree and values[i] holds its value if so. Errors: VMDB_EINVAL
 * (keys not sorted/unique, nkeys == 0), VMDB_EVERIFY (malformed or wrong
 * proof). */
int vmdb_multiproof_verify(vmdb_hasher *h, const uint8_t root[32], const uint8_t (*keys)[32],
                           size_t nkeys, vmdb_slice proof, uint8_t (*values)[32], bool *present);

/* Bit i (0 = most significant bit of byte 0) of a 32-byte key. */
static inline int vmdb_key_bit(const uint8_t k[32], unsigned i)
{
    return (k[i >> 3] >> (7 - (i & 7))) & 1;
}

#ifdef __cplusplus
}
#endif
#endif
