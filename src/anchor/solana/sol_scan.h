/*
 * Reading an identity's anchors back from Solana as any third party does
 * (PROTOCOL.md §8.1, SOLANA.md §7): getSignaturesForAddress for the
 * identity, getTransaction in base64 for each, the wire transaction parsed
 * strictly and every signature checked over the very bytes that were
 * signed; a transaction is an anchor only if it succeeded, the identity is
 * a signer and the account of a Memo instruction, and the memo is
 * `vmdb1:<seq>:<header_hash>:<smt_root>`. Used by `vmdb anchor list |
 * status | verify` and `vmdb verify --solana-rpc`.
 */
#ifndef VMDB_ANCHOR_SOLANA_SOL_SCAN_H
#define VMDB_ANCHOR_SOLANA_SOL_SCAN_H

#include "anchor/solana/sol_rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One anchor as found on chain. */
typedef struct vmdb_sol_anchor_ent {
    uint64_t seq;
    uint8_t header_hash[32];
    uint8_t smt_root[32];
    uint64_t slot;
    uint8_t sig[64]; /* the transaction's signature (its id) */
} vmdb_sol_anchor_ent;

/* Reads transaction `sig` and checks it as an anchor of `identity`. 0 (an
 * anchor, *out filled), VMDB_ENOTFOUND (not an anchor: failed, unsigned,
 * no vmdb1 memo of the identity, or unknown to the node) or the RPC's
 * error (VMDB_EIO, ...). */
int vmdb_sol_anchor_read(vmdb_sol_rpc *c, vmdb_sol_anchor_ent *out, const uint8_t sig[64],
                         const uint8_t identity[32]);

/* Every anchor of `identity` (at most `limit`), newest first as the node
 * lists them, into *out (malloc'ed, NULL when there is none) and *n.
 * 0, VMDB_EIO (the RPC failed) or VMDB_ENOMEM. */
int vmdb_sol_anchor_list(vmdb_sol_rpc *c, vmdb_sol_anchor_ent **out, size_t *n,
                         const uint8_t identity[32], size_t limit);

#ifdef __cplusplus
}
#endif
#endif
