/*
 * The identity key: the Ed25519 key pair that signs every state header and
 * the trusted state file, and whose public key is the Solana address that
 * anchors. Stored in the Solana CLI's keypair format (a JSON array of the
 * 64 bytes seed || public key), mode 0600; a file readable by group or
 * others is refused, since whoever reads it can forge vmdb's history.
 */
#ifndef VMDB_TRUST_IDENTITY_H
#define VMDB_TRUST_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vmdb_identity {
    uint8_t pk[32];
    uint8_t sk[64]; /* libsodium form: seed || pk */
    char pk_hex[65];
    char address[64]; /* base58 of pk: the Solana address */
} vmdb_identity;

/* Loads the key at `path`; when it does not exist and `create` is set,
 * generates one (libsodium randomness) and writes it with mode 0600 (temp
 * file, fsync, rename). Errors (logged): VMDB_ENOTFOUND (absent, !create),
 * VMDB_EINVAL (malformed, or the public half does not match the seed),
 * VMDB_EBUSY (permissions wider than 0600), VMDB_EIO. */
int vmdb_identity_load(vmdb_identity *out, const char *path, bool create);

/* Writes a new key to `path`, which must not exist. 0 or VMDB_E*. */
int vmdb_identity_generate(const char *path, vmdb_identity *out);

/* Wipes the secret. */
void vmdb_identity_clear(vmdb_identity *id);

#endif
