/*
 * State headers (PROTOCOL.md §6): the signed, hash-chained summary of the
 * database after each committed batch. A header is what gets anchored and
 * what a client checks a proof's root against.
 */
#ifndef VMDB_HEADER_H
#define VMDB_HEADER_H

#include "vmdb/hash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_HEADER_ENCODED_LEN 144
#define VMDB_SIG_LEN 64
#define VMDB_PUBKEY_LEN 32
#define VMDB_SECKEY_LEN 64 /* libsodium form: seed || public key */

typedef struct vmdb_header {
    uint64_t seq;
    uint8_t smt_root[32];
    uint8_t prev[32];
    uint8_t history_root[32];
    uint64_t time_ms;
    uint8_t schema_hash[32];
} vmdb_header;

/* The 144-byte encoding. Cannot fail. */
void vmdb_header_encode(uint8_t out[VMDB_HEADER_ENCODED_LEN], const vmdb_header *hdr);
/* Parses the 144-byte encoding. VMDB_EPARSE on any other length. */
int vmdb_header_decode(vmdb_header *hdr, vmdb_slice in);
/* header_hash = H("vmdb/v1/header" 0x00 || encoding). */
void vmdb_header_hash(vmdb_hasher *h, uint8_t out[32], const vmdb_header *hdr);

/* Ed25519 key pair from a 32-byte seed (deterministic). Returns 0 or
 * VMDB_ECRYPTO. */
int vmdb_ed25519_from_seed(uint8_t pk[32], uint8_t sk[64], const uint8_t seed[32]);
/* sig = Ed25519(sk, header_hash). 0 or VMDB_ECRYPTO. */
int vmdb_header_sign(uint8_t sig[64], const uint8_t header_hash[32], const uint8_t sk[64]);
/* 0 if `sig` is pk's signature of header_hash, VMDB_EVERIFY otherwise. */
int vmdb_header_verify_sig(const uint8_t sig[64], const uint8_t header_hash[32],
                           const uint8_t pk[32]);
/* Checks that `hdr` follows `prev_hdr` (seq + 1, prev = hash of prev_hdr).
 * 0 or VMDB_EVERIFY. */
int vmdb_header_check_link(vmdb_hasher *h, const vmdb_header *prev_hdr, const vmdb_header *hdr);

/* A header with its hash and the identity's signature of that hash: the form
 * that is stored, anchored and handed to clients. */
typedef struct vmdb_sheader {
    vmdb_header h;
    uint8_t hash[32];
    uint8_t sig[64];
} vmdb_sheader;

/* Checks that sh->hash is the hash of sh->h and sh->sig is pk's signature of
 * it. 0 or VMDB_EVERIFY. */
int vmdb_sheader_verify(const vmdb_sheader *sh, vmdb_hasher *h, const uint8_t pk[32]);

/* Appends the JSON form of PROTOCOL.md §6 (sig may be NULL: omitted). */
int vmdb_header_to_json(vmdb_buf *out, vmdb_hasher *h, const vmdb_header *hdr, const uint8_t *sig);

#ifdef __cplusplus
}
#endif
#endif
