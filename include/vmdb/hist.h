/*
 * The history tree (PROTOCOL.md §7): an RFC 6962/9162 Merkle tree over the
 * hashes of all headers, so that one anchored header proves, in log size,
 * that any older header is its ancestor.
 */
#ifndef VMDB_HIST_H
#define VMDB_HIST_H

#include "vmdb/hash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_HIST_MAX_PROOF 64 /* hashes in any proof for sizes < 2^63 */

typedef struct vmdb_hist vmdb_hist;

/* Creates an empty history. Errors: VMDB_ENOMEM. */
int vmdb_hist_new(vmdb_hist **out);
void vmdb_hist_free(vmdb_hist *hist);
uint64_t vmdb_hist_size(const vmdb_hist *hist);
/* Appends one entry (a header hash). Errors: VMDB_ENOMEM. */
int vmdb_hist_append(vmdb_hist *hist, vmdb_hasher *h, const uint8_t entry[32]);
/* Leaf node i: H(0x00 || entry i). VMDB_EINVAL if i >= size. */
int vmdb_hist_leaf(const vmdb_hist *hist, uint64_t i, uint8_t out[32]);
/* Root over the first n entries (n <= size). VMDB_EINVAL if n > size. */
int vmdb_hist_root(const vmdb_hist *hist, vmdb_hasher *h, uint64_t n, uint8_t out[32]);
/* Audit path of entry `index` in the tree of the first n entries, leaf
 * level first. VMDB_EINVAL unless index < n <= size. */
int vmdb_hist_inclusion_proof(const vmdb_hist *hist, vmdb_hasher *h, uint64_t index, uint64_t n,
                              uint8_t out[VMDB_HIST_MAX_PROOF][32], size_t *count);
/* Consistency proof between the first m and the first n entries.
 * VMDB_EINVAL unless 0 < m <= n <= size. */
int vmdb_hist_consistency_proof(const vmdb_hist *hist, vmdb_hasher *h, uint64_t m, uint64_t n,
                                uint8_t out[VMDB_HIST_MAX_PROOF][32], size_t *count);

/* RFC 9162 §2.1.3.2. 0 or VMDB_EVERIFY. */
int vmdb_hist_verify_inclusion(vmdb_hasher *h, const uint8_t entry[32], uint64_t index, uint64_t n,
                               const uint8_t (*path)[32], size_t count, const uint8_t root[32]);
/* RFC 9162 §2.1.4.2 (m == n: empty proof and equal roots). 0 or
 * VMDB_EVERIFY. */
int vmdb_hist_verify_consistency(vmdb_hasher *h, uint64_t m, uint64_t n, const uint8_t root_m[32],
                                 const uint8_t root_n[32], const uint8_t (*proof)[32],
                                 size_t count);

#ifdef __cplusplus
}
#endif
#endif
