/*
 * Anchors: somewhere outside the host's reach that records signed headers
 * in order, so that a rollback of the disk and the database to an older
 * consistent state is caught at start. An anchor backend implements two
 * operations: read the newest anchored header, append one. The local backend
 * (VMDB_ANCHOR=local, the embedded default) is an append-only, fsynced file
 * of signed headers in the data directory; the Solana backend comes next.
 */
#ifndef VMDB_ANCHOR_ANCHOR_H
#define VMDB_ANCHOR_ANCHOR_H

#include <stdbool.h>
#include <stdint.h>

#include "vmdb/header.h"

typedef struct vmdb_anchor vmdb_anchor;

/* What a backend reports about itself (the Solana one: its fee payer's
 * balance, a transaction in flight, the RPC's last error). */
typedef struct vmdb_anchor_status {
    bool reported; /* false: nothing to report */
    bool balance_known;
    uint64_t balance;     /* lamports */
    bool low_balance;     /* below the rent-exempt minimum plus some fees */
    bool pending;         /* a transaction is in flight */
    char last_error[200]; /* "" when none */
} vmdb_anchor_status;

typedef struct vmdb_anchor_ops {
    const char *name;
    /* Newest anchored header (verified against the identity), *found false
     * when nothing is anchored yet. A backend that records only (seq, header
     * hash, smt_root) fills those and sets full_headers false in its ops; the
     * engine then takes the rest of the header from its verified chain.
     * 0 or VMDB_E* (VMDB_EVERIFY: the record does not verify; VMDB_EIO:
     * the anchor cannot be read now). */
    int (*newest)(vmdb_anchor *a, vmdb_sheader *out, bool *found);
    /* Appends a header; returns once it is durable. 0 or VMDB_E*. */
    int (*append)(vmdb_anchor *a, const vmdb_sheader *sh);
    /* Describes the backend's state for /health (may be NULL: nothing to
     * report). */
    void (*status)(vmdb_anchor *a, vmdb_anchor_status *out);
    void (*close)(vmdb_anchor *a);
    bool full_headers;
} vmdb_anchor_ops;

struct vmdb_anchor {
    const vmdb_anchor_ops *ops;
};

/* The local anchor files (PROTOCOL.md §8.2): `path_v1` (anchors.bin, v1
 * headers) and `path_v2` (anchors2.bin, v2 headers), created when absent,
 * checked against `pk`. Errors: VMDB_EIO, VMDB_ENOMEM. */
int vmdb_anchor_local_open(vmdb_anchor **out, const char *path_v1, const char *path_v2,
                           const uint8_t pk[32]);

typedef struct vmdb_anchor_solana_cfg {
    const char *rpc_url;
    const uint8_t *identity_sk; /* 64 bytes: signs every memo */
    const char *fee_payer_path; /* Solana CLI keypair file, or NULL: the identity pays */
    const char *state_path;     /* local record: last anchor signature, the pending transaction */
    int commitment;             /* vmdb_sol_commitment */
} vmdb_anchor_solana_cfg;

/* The Solana backend (src/anchor/solana/sol_anchor.c): one SPL Memo transaction per
 * anchored header, signed by the identity. Errors: VMDB_EINVAL (bad URL or
 * fee payer file), VMDB_EIO, VMDB_ENOMEM. */
int vmdb_anchor_solana_open(vmdb_anchor **out, const vmdb_anchor_solana_cfg *cfg);

static inline int vmdb_anchor_newest(vmdb_anchor *a, vmdb_sheader *out, bool *found)
{
    return a->ops->newest(a, out, found);
}
static inline int vmdb_anchor_append(vmdb_anchor *a, const vmdb_sheader *sh)
{
    return a->ops->append(a, sh);
}
static inline void vmdb_anchor_close(vmdb_anchor *a)
{
    if (a)
        a->ops->close(a);
}

#endif
