/*
 * SHA-256 for vmdb. The tree spends nearly all its time hashing 65-byte node
 * inputs, so the hasher has a fixed-size fast path (a SHA-NI kernel where the
 * CPU has it, self-checked against OpenSSL when the hasher is created) and
 * falls back to OpenSSL's EVP with the digest fetched once and one context
 * reused. A hasher is NOT thread-safe: give each thread its own.
 */
#ifndef VMDB_HASH_H
#define VMDB_HASH_H

#include "vmdb/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_HASH_LEN 32

typedef struct vmdb_hasher vmdb_hasher;

enum {
    VMDB_HASHER_DEFAULT = 0,
    VMDB_HASHER_FORCE_OPENSSL = 1, /* never use the SHA-NI kernel */
};

/* Creates a hasher. `*out` is owned by the caller (vmdb_hasher_free).
 * Errors: VMDB_ENOMEM, VMDB_ECRYPTO (OpenSSL could not fetch SHA-256). If the
 * SHA-NI kernel disagrees with OpenSSL on the self-check it is disabled and
 * the hasher still succeeds. */
int vmdb_hasher_new(vmdb_hasher **out, unsigned flags);
void vmdb_hasher_free(vmdb_hasher *h);
/* Name of the active implementation: "sha-ni" or "openssl". */
const char *vmdb_hasher_impl(const vmdb_hasher *h);
/* Number of node hashes (vmdb_hash_node calls) done by this hasher. */
uint64_t vmdb_hasher_node_count(const vmdb_hasher *h);

/* out = SHA-256(tag || a || b), tag one byte, a and b 32 bytes each: the
 * node hash of protocol v1 (tag 0x00 leaf, 0x01 internal). Cannot fail. */
void vmdb_hash_node(vmdb_hasher *h, uint8_t out[32], uint8_t tag, const uint8_t a[32],
                    const uint8_t b[32]);

/* One node hash of a batch for vmdb_hash_nodes: *out = SHA-256(tag || a ||
 * b). `out` may alias a or b of the same job. */
typedef struct vmdb_node_job {
    uint8_t *out;
    const uint8_t *a, *b;
    uint8_t tag;
} vmdb_node_job;

/* The n node hashes of `jobs`, which must be independent (no job reads
 * another job's output): the same results as n vmdb_hash_node calls, but
 * with SHA-NI up to four run interleaved, which hashes several times
 * faster than one after another. Cannot fail. */
void vmdb_hash_nodes(vmdb_hasher *h, const vmdb_node_job *jobs, size_t n);

/* out = SHA-256 over the concatenation of `n` slices. Cannot fail. */
void vmdb_hash_parts(vmdb_hasher *h, uint8_t out[32], const vmdb_slice *parts, size_t n);

#ifdef __cplusplus
}
#endif
#endif
