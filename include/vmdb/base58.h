/*
 * Base58 (Bitcoin alphabet), the text form of Solana addresses: an Ed25519
 * public key's base58 is its Solana address.
 */
#ifndef VMDB_BASE58_H
#define VMDB_BASE58_H

#include "vmdb/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends the base58 of `in` to `out` (no NUL). 0, VMDB_ENOMEM or VMDB_ELIMIT;
 * inputs longer than 1024 bytes are VMDB_EINVAL (quadratic algorithm). */
int vmdb_base58_encode(vmdb_buf *out, vmdb_slice in);
/* Decodes base58 text into exactly `n` bytes. VMDB_EINVAL on a character
 * outside the alphabet or a value that does not fit `n` bytes exactly. */
int vmdb_base58_decode(uint8_t *out, size_t n, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
