/*
 * Reading an identity's anchors back from Solana as any third party does
 * (PROTOCOL.md §8.1, SOLANA.md §7): getSignaturesForAddress for the
 * identity, getTransaction in base64 for each, the wire transaction parsed
 * strictly and every signature checked over the very bytes that were
 * signed; a transaction is an anchor only if it succeeded, the identity is
 * a signer and the account of a Memo instruction, and the memo is
 * `vmdb1:<seq>:<header_hash>:<smt_root>`. Used by `vmdb anchor list |
 * status | verify` and `vmdb verify --solana-rpc`.
 *
 * SOLANA_RPC_URL (and --solana-rpc) may list several endpoints, separated
 * by commas: the anchors are then the union of what every endpoint that
 * answers shows, so that one endpoint (or a proxy the host controls) cannot
 * hide a newer anchor by leaving it out.
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

/* At most this many endpoints in one SOLANA_RPC_URL. */
#define VMDB_SOL_MAX_ENDPOINTS 8

/* Splits `list` ("url[,url...]", blanks around the commas ignored) into
 * urls[0..*n), each malloc'ed (vmdb_sol_urls_free). VMDB_EINVAL when the
 * list is empty, has an empty entry or more than VMDB_SOL_MAX_ENDPOINTS;
 * VMDB_ENOMEM. The URLs are not checked here (vmdb_sol_rpc_new does). */
int vmdb_sol_urls_split(char *urls[VMDB_SOL_MAX_ENDPOINTS], size_t *n, const char *list);
/* Frees urls[0..n). */
void vmdb_sol_urls_free(char *urls[VMDB_SOL_MAX_ENDPOINTS], size_t n);

/* vmdb_sol_anchor_list on every endpoint of `list`: the union of their
 * anchors (one entry per signature), ordered newest first by seq, then by
 * slot, at most `limit`. An endpoint that fails is logged (by its position,
 * never its URL, which may carry an API key) and skipped; *answered (may be
 * NULL) counts those that answered. 0, VMDB_EINVAL (a bad list or URL),
 * VMDB_EIO (no endpoint answered) or VMDB_ENOMEM. */
int vmdb_sol_anchor_list_multi(const char *list, vmdb_sol_anchor_ent **out, size_t *n,
                               const uint8_t identity[32], size_t limit, size_t *answered);

#ifdef __cplusplus
}
#endif
#endif
