/*
 * State headers (PROTOCOL.md §6, and §12 for protocol v1): the signed,
 * hash-chained summary of the database after each committed transition. A
 * header is what gets anchored and what a client checks a proof's root
 * against. One struct holds both versions: `version` picks the encoding,
 * the hash and the signature rules; `kind` and `chain_id` exist in v2 only
 * (a decoded v1 header has them zero).
 */
#ifndef VMDB_HEADER_H
#define VMDB_HEADER_H

#include "vmdb/hash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_HEADER_V1_LEN 144
#define VMDB_HEADER_V2_LEN 178
#define VMDB_HEADER_MAX_LEN 178
#define VMDB_SIG_LEN 64
#define VMDB_PUBKEY_LEN 32
#define VMDB_SECKEY_LEN 64 /* libsodium form: seed || public key */

/* What made a transition (§6); the values are the encoded byte. */
typedef enum vmdb_header_kind {
    VMDB_KIND_GENESIS = 0,
    VMDB_KIND_WRITE = 1,
    VMDB_KIND_RESET = 2,
    VMDB_KIND_CLEAR = 3,
    VMDB_KIND_REPAIR = 4,
    VMDB_KIND_MIGRATE = 5,
    VMDB_KIND_UPGRADE = 6,
} vmdb_header_kind;
#define VMDB_KIND_COUNT 7

/* The JSON name of a kind ("genesis", "write", ...), NULL if unknown. */
const char *vmdb_header_kind_name(unsigned kind);
/* The kind named `name`. 0 or VMDB_EPARSE. */
int vmdb_header_kind_parse(uint8_t *kind, vmdb_slice name);

typedef struct vmdb_header {
    uint8_t version; /* 1 or 2; anything but 1 is treated as 2 */
    uint8_t kind;    /* v2: vmdb_header_kind */
    uint64_t seq;
    uint8_t chain_id[32]; /* v2 */
    uint8_t smt_root[32];
    uint8_t prev[32];
    uint8_t history_root[32];
    uint64_t time_ms;
    uint8_t schema_hash[32];
} vmdb_header;

/* The encoding of the header's version (§6: 178 bytes; §12: 144 bytes).
 * Returns its length. Cannot fail. */
size_t vmdb_header_encode(uint8_t out[VMDB_HEADER_MAX_LEN], const vmdb_header *hdr);
/* Parses an encoding, its version by its length: 144 bytes is v1, 178
 * bytes starting with 2 and holding a known kind is v2. VMDB_EPARSE on
 * anything else. */
int vmdb_header_decode(vmdb_header *hdr, vmdb_slice in);
/* header_hash: v2 H("vmdb/v2/header" 0x00 || encoding), v1
 * H("vmdb/v1/header" 0x00 || encoding). */
void vmdb_header_hash(vmdb_hasher *h, uint8_t out[32], const vmdb_header *hdr);

/* What a signature says (§6.1). v2 signs "vmdb/v2/<context>" 0x00 || hash;
 * v1 signed the bare 32 bytes whatever the purpose. */
typedef enum vmdb_sig_context {
    VMDB_SIG_COMMITTED = 0,     /* the header signature: committed and durable */
    VMDB_SIG_INTENT = 1,        /* about to commit; may never have been */
    VMDB_SIG_TRUSTED_STATE = 2, /* a trusted state file's digest (§8.3) */
    VMDB_SIG_API_KEYS = 3,      /* the API keys file's digest (TRUST.md, API keys) */
} vmdb_sig_context;

/* Ed25519 key pair from a 32-byte seed (deterministic). Returns 0 or
 * VMDB_ECRYPTO. */
int vmdb_ed25519_from_seed(uint8_t pk[32], uint8_t sk[64], const uint8_t seed[32]);
/* sig = Ed25519(sk, message of `context` over `hash`) under the rules of
 * `version` (1 or 2). 0 or VMDB_ECRYPTO. */
int vmdb_header_sign(uint8_t sig[64], uint8_t version, vmdb_sig_context context,
                     const uint8_t hash[32], const uint8_t sk[64]);
/* 0 if `sig` is pk's signature of `hash` for `context` under the rules of
 * `version`, VMDB_EVERIFY otherwise. */
int vmdb_header_verify_sig(const uint8_t sig[64], uint8_t version, vmdb_sig_context context,
                           const uint8_t hash[32], const uint8_t pk[32]);
/* Checks that `hdr` follows `prev_hdr`: seq + 1, prev = hash of prev_hdr,
 * the version never goes back, and two v2 headers share their chain_id.
 * 0 or VMDB_EVERIFY. */
int vmdb_header_check_link(vmdb_hasher *h, const vmdb_header *prev_hdr, const vmdb_header *hdr);

/* A header with its hash and a signature of it: the form that is stored,
 * anchored and handed to clients. Handed out, `sig` is the header
 * (committed) signature; the intent form lives only in PostgreSQL and the
 * trusted state. */
typedef struct vmdb_sheader {
    vmdb_header h;
    uint8_t hash[32];
    uint8_t sig[64];
} vmdb_sheader;

/* Checks that sh->hash is the hash of sh->h and sh->sig is pk's committed
 * signature of it. 0 or VMDB_EVERIFY. */
int vmdb_sheader_verify(const vmdb_sheader *sh, vmdb_hasher *h, const uint8_t pk[32]);

/* Appends the JSON form of PROTOCOL.md §6.3 (sig may be NULL: omitted). */
int vmdb_header_to_json(vmdb_buf *out, vmdb_hasher *h, const vmdb_header *hdr, const uint8_t *sig);

/* The same for a signed header whose sh->hash is already its hash (as every
 * header vmdb keeps is): no hashing, so renderers need no hasher. */
int vmdb_sheader_to_json(vmdb_buf *out, const vmdb_sheader *sh);

#ifdef __cplusplus
}
#endif
#endif
