/*
 * The trusted state file (trusted_state.json, the seed's name): the newest
 * committed header and, while a write is in flight, the intent header, each
 * with its signature, and a signature by the identity key over the whole
 * file. A host can delete the file or put back an older one (the anchor
 * catches that), but cannot forge one. Written with temp file + fsync +
 * rename + directory fsync, so a crash leaves the old or the new file, never
 * a torn one.
 *
 * The per-write intents go to the journal beside it (trusted_state.journal):
 * two 4096-byte slots, each one complete signed trusted state in the same
 * JSON form, NUL-padded, overwritten in place by intent seq parity with
 * pwrite + fdatasync. A rename of a fresh file costs two file system journal
 * commits (about 1 ms here, the largest part of a group commit); an
 * overwrite of an allocated block costs one data flush (about 0.1 ms). A
 * crash can tear only the slot being written, whose file signature then
 * fails, and the other slot still holds the state before it. The trusted
 * state is the newest valid one of the file and the two slots; the file
 * itself must be present and valid, so deleting or breaking it is still
 * refused, and the slots can only ever move the state forward along
 * headers this key signed.
 */
#ifndef VMDB_TRUST_TSTATE_H
#define VMDB_TRUST_TSTATE_H

#include <stdbool.h>

#include "trust/identity.h"
#include "vmdb/header.h"

/* committed.sig is the header (committed) signature, intent.sig the
 * intent signature (PROTOCOL.md §8.3). The file is written as v2 unless
 * every header in it is v1 (a chain not yet upgraded, which keeps the v1
 * form of §12). */
typedef struct vmdb_tstate {
    vmdb_sheader committed;
    bool has_intent;
    vmdb_sheader intent;
} vmdb_tstate;

/* Fills hash and sig of `sh` from sh->h: the signature for `context`
 * (VMDB_SIG_COMMITTED or VMDB_SIG_INTENT) under the header's version's
 * rules. 0 or VMDB_ECRYPTO. */
int vmdb_sheader_sign(vmdb_sheader *sh, vmdb_hasher *h, const vmdb_identity *id,
                      vmdb_sig_context context);

int vmdb_tstate_write(const char *path, const vmdb_tstate *ts, vmdb_hasher *h,
                      const vmdb_identity *id);
/* Reads and verifies. VMDB_ENOTFOUND when absent; VMDB_EVERIFY when
 * malformed (or 16 KiB or larger), signed by another key or tampered;
 * VMDB_EIO when it cannot be opened or read; VMDB_ENOMEM. Every error
 * leaves a one-line reason in `why`. */
int vmdb_tstate_read(const char *path, vmdb_tstate *out, vmdb_hasher *h, const uint8_t pk[32],
                     char *why, size_t whylen);

/* The order of two trusted states: the intent's seq if there is one, else
 * the committed seq. */
uint64_t vmdb_tstate_rank(const vmdb_tstate *ts);

typedef struct vmdb_tjournal vmdb_tjournal;

/* Opens the journal at `path`, creating it (two zeroed slots, mode 0600,
 * file and directory fsynced) when absent. *out is owned by the caller
 * (vmdb_tjournal_free). VMDB_EIO, VMDB_ENOMEM. */
int vmdb_tjournal_open(vmdb_tjournal **out, const char *path);
/* Writes `ts` durably to the slot of its rank's parity. VMDB_EIO,
 * VMDB_ECRYPTO, VMDB_ENOMEM. */
int vmdb_tjournal_write(vmdb_tjournal *j, const vmdb_tstate *ts, vmdb_hasher *h,
                        const vmdb_identity *id);
/* Empties both slots durably (a new chain starts). VMDB_EIO. */
int vmdb_tjournal_reset(vmdb_tjournal *j);
/* The newest slot that verifies against pk; *found is false when neither
 * does (a fresh journal, or both slots broken). VMDB_EIO. */
int vmdb_tjournal_newest(vmdb_tjournal *j, vmdb_tstate *out, bool *found, vmdb_hasher *h,
                         const uint8_t pk[32]);
/* Accepts NULL. */
void vmdb_tjournal_free(vmdb_tjournal *j);

#endif
