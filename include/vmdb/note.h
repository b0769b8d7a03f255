/*
 * The checkpoint of PROTOCOL.md §11.2: a C2SP signed note (signed-note,
 * Ed25519 signature type) whose text is a C2SP tlog-checkpoint over the
 * history tree. Builds the note text, signs it, and verifies a note against
 * a pinned key name and public key; plus the strict base64 (RFC 4648 §4,
 * padded) that notes use. Pure: no I/O.
 */
#ifndef VMDB_NOTE_H
#define VMDB_NOTE_H

#include "vmdb/hash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_NOTE_MAX_NAME 255 /* our cap on an origin / key name, in bytes */

/* Appends the padded base64 of `in`. 0, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_base64_encode(vmdb_buf *out, vmdb_slice in);
/* Decodes padded base64 (no whitespace, canonical: unused bits zero) into
 * `out` (at most `cap` bytes); *outlen gets the length. 0, VMDB_EPARSE
 * (not canonical base64) or VMDB_ELIMIT (longer than cap). */
int vmdb_base64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t n);

/* Whether `name` is a valid origin / key name for vmdb: 1 to
 * VMDB_NOTE_MAX_NAME bytes of printable ASCII (0x21..0x7e) without '+'. */
bool vmdb_note_name_valid(vmdb_slice name);

/* Key ID of an Ed25519 key: the first 4 bytes of
 * H(name || 0x0A || 0x01 || pk). */
void vmdb_note_key_id(vmdb_hasher *h, uint8_t out[4], vmdb_slice name, const uint8_t pk[32]);

/* Appends the checkpoint's note text: "<origin>\n<n>\n<base64 root>\n".
 * VMDB_EINVAL for an invalid origin; VMDB_ENOMEM / VMDB_ELIMIT. */
int vmdb_checkpoint_text(vmdb_buf *out, vmdb_slice origin, uint64_t n, const uint8_t root[32]);

/* Appends the whole signed note: `text` (which must end in a newline and
 * contain no blank line), a blank line, and the signature line
 * "— <name> <base64(key ID || Ed25519(sk, text))>\n". VMDB_EINVAL (bad
 * text or name), VMDB_ECRYPTO, VMDB_ENOMEM, VMDB_ELIMIT. */
int vmdb_note_sign(vmdb_buf *out, vmdb_hasher *h, vmdb_slice text, vmdb_slice name,
                   const uint8_t sk[64]);

/* Verifies a signed note: it splits at the last blank line, every
 * signature line must be well formed, and the first one with `name` and
 * the key ID of (name, pk) must verify (C2SP: other keys' lines are
 * ignored). On success *text is the note text (a part of `note`). 0,
 * VMDB_EPARSE (malformed note), VMDB_ENOTFOUND (no signature by that key),
 * VMDB_EVERIFY (its signature is wrong). */
int vmdb_note_verify(vmdb_hasher *h, vmdb_slice note, vmdb_slice name, const uint8_t pk[32],
                     vmdb_slice *text);

/* Parses a checkpoint's note text: origin line, tree size (decimal, no
 * leading zeros), base64 of a 32-byte root; further lines (extensions)
 * are allowed and ignored. *origin points into `text`. 0 or VMDB_EPARSE. */
int vmdb_checkpoint_parse(vmdb_slice text, vmdb_slice *origin, uint64_t *n, uint8_t root[32]);

#ifdef __cplusplus
}
#endif
#endif
