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
 * outside the alphabet, a value that does not fit `n` bytes exactly, or
 * text longer than VMDB_BASE58_TEXT_MAX characters. */
int vmdb_base58_decode(uint8_t *out, size_t n, const char *s, size_t len);

/* The longest text the decoders take: decoding is quadratic in the length.
 * It covers the base58 of 1024 bytes (the encoder's limit, at most 1399
 * characters) and of a 1232-byte Solana packet (at most 1683). */
#define VMDB_BASE58_TEXT_MAX 1700

/* Appends the bytes the base58 text `s` (`len` characters, no NUL needed)
 * decodes to, however many there are: each leading '1' is one zero byte,
 * and empty text appends nothing. `out` is owned by the caller; on error it
 * is unchanged. Errors: VMDB_EINVAL (a character outside the alphabet),
 * VMDB_ELIMIT (text longer than VMDB_BASE58_TEXT_MAX, or the bytes would
 * take out->len past out->max), VMDB_ENOMEM. */
int vmdb_base58_decode_buf(vmdb_buf *out, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
