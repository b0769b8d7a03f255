/*
 * The trusted state file (trusted_state.json, the seed's name): the newest
 * committed header and, while a write is in flight, the intent header, each
 * with its signature, and a signature by the identity key over the whole
 * file. A host can delete the file or put back an older one (the anchor
 * catches that), but cannot forge one. Written with temp file + fsync +
 * rename + directory fsync, so a crash leaves the old or the new file, never
 * a torn one.
 */
#ifndef VMDB_TRUST_TSTATE_H
#define VMDB_TRUST_TSTATE_H

#include <stdbool.h>

#include "trust/identity.h"
#include "vmdb/header.h"

typedef struct vmdb_sheader {
    vmdb_header h;
    uint8_t hash[32];
    uint8_t sig[64];
} vmdb_sheader;

typedef struct vmdb_tstate {
    vmdb_sheader committed;
    bool has_intent;
    vmdb_sheader intent;
} vmdb_tstate;

/* Fills hash and sig of `sh` from sh->h. 0 or VMDB_ECRYPTO. */
int vmdb_sheader_sign(vmdb_sheader *sh, vmdb_hasher *h, const vmdb_identity *id);
/* Checks hash and signature of `sh` against pk. 0 or VMDB_EVERIFY. */
int vmdb_sheader_verify(const vmdb_sheader *sh, vmdb_hasher *h, const uint8_t pk[32]);
/* Appends {"seq":..,...,"hash":..,"sig":..} for the API. */
int vmdb_sheader_to_json(vmdb_buf *out, vmdb_hasher *h, const vmdb_sheader *sh);

int vmdb_tstate_write(const char *path, const vmdb_tstate *ts, vmdb_hasher *h,
                      const vmdb_identity *id);
/* Reads and verifies. VMDB_ENOTFOUND when absent; VMDB_EVERIFY (with `why`)
 * when malformed, signed by another key or tampered; VMDB_EIO. */
int vmdb_tstate_read(const char *path, vmdb_tstate *out, vmdb_hasher *h, const uint8_t pk[32],
                     char *why, size_t whylen);

#endif
