/*
 * Reading anchors back from Solana (see sol_scan.h). The transaction is
 * fetched in base64 so that the signatures are checked over the bytes the
 * signers signed, not over a re-serialization of the node's JSON view.
 */
#include "anchor/solana/sol_scan.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "util/grow.h"

#define SCAN_PAGE 1000 /* getSignaturesForAddress's largest page */

int vmdb_sol_anchor_read(vmdb_sol_rpc *c, vmdb_sol_anchor_ent *out, const uint8_t sig[64],
                         const uint8_t identity[32])
{
    vmdb_sol_tx_wire *w = calloc(1, sizeof *w);
    vmdb_sol_tx tx;
    vmdb_slice memo;
    int rc = 0;
    memset(&tx, 0, sizeof tx);
    memset(out, 0, sizeof *out);
    if (!w)
        return VMDB_ENOMEM;
    if ((rc = vmdb_sol_rpc_get_transaction_wire(c, w, sig)))
        goto done;
    uint8_t first[64];
    /* The transaction asked for is the one returned: its first signature
     * is its id. */
    if (!w->has_meta || !w->err_null || vmdb_sol_tx_parse(&tx, VMDB_SLICE(w->wire, w->len)) ||
        vmdb_sol_tx_verify(&tx) || vmdb_sol_tx_signature(first, VMDB_SLICE(w->wire, w->len)) ||
        memcmp(first, sig, 64) != 0 || vmdb_sol_msg_find_memo(&memo, &tx.msg, identity) ||
        vmdb_sol_memo_parse(&out->seq, out->header_hash, out->smt_root, memo)) {
        rc = vmdb_error_set(VMDB_ENOTFOUND, "not an anchor of the identity");
        goto done;
    }
    out->slot = w->slot;
    memcpy(out->sig, sig, 64);
done:
    vmdb_sol_tx_free(&tx);
    free(w);
    return rc;
}

int vmdb_sol_anchor_list(vmdb_sol_rpc *c, vmdb_sol_anchor_ent **out, size_t *n,
                         const uint8_t identity[32], size_t limit)
{
    vmdb_sol_sig_info *page = calloc(SCAN_PAGE, sizeof *page);
    vmdb_sol_anchor_ent *v = NULL;
    size_t cnt = 0, cap = 0;
    uint8_t before[64];
    bool has_before = false;
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (!page)
        return VMDB_ENOMEM;
    while (cnt < limit) {
        size_t got = 0;
        if (vmdb_sol_rpc_get_signatures_for_address(c, page, &got, identity, SCAN_PAGE,
                                                    has_before ? before : NULL, NULL) != 0) {
            rc = VMDB_EIO;
            goto done;
        }
        for (size_t i = 0; i < got && cnt < limit; i++) {
            vmdb_sol_anchor_ent e;
            if (!page[i].err_null)
                continue;
            int r = vmdb_sol_anchor_read(c, &e, page[i].sig, identity);
            if (r == VMDB_ENOTFOUND)
                continue;
            if (r) {
                rc = r == VMDB_ENOMEM ? r : VMDB_EIO;
                goto done;
            }
            vmdb_sol_anchor_ent *nv = vmdb_grow(v, &cap, cnt, sizeof *nv, 64);
            if (!nv) {
                rc = VMDB_ENOMEM;
                goto done;
            }
            v = nv;
            v[cnt++] = e;
        }
        if (got < SCAN_PAGE)
            break;
        memcpy(before, page[got - 1].sig, 64);
        has_before = true;
    }
done:
    free(page);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}
