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
#include "util/log.h"

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

int vmdb_sol_urls_split(char *urls[VMDB_SOL_MAX_ENDPOINTS], size_t *n, const char *list)
{
    const char *p = list ? list : "";
    int rc = 0;
    *n = 0;
    for (;;) {
        const char *e = strchr(p, ',');
        const char *end = e ? e : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end == p || *n == VMDB_SOL_MAX_ENDPOINTS) {
            rc = vmdb_error_set(VMDB_EINVAL,
                                end == p ? "SOLANA_RPC_URL has an empty endpoint"
                                         : "SOLANA_RPC_URL lists more than %d endpoints",
                                VMDB_SOL_MAX_ENDPOINTS);
            goto done;
        }
        if ((urls[*n] = strndup(p, (size_t)(end - p))) == NULL) {
            rc = VMDB_ENOMEM;
            goto done;
        }
        (*n)++;
        if (!e)
            break;
        p = e + 1;
    }
done:
    if (rc) {
        vmdb_sol_urls_free(urls, *n);
        *n = 0;
    }
    return rc;
}

void vmdb_sol_urls_free(char *urls[VMDB_SOL_MAX_ENDPOINTS], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(urls[i]);
        urls[i] = NULL;
    }
}

/* Newest first: seq, then slot, then signature (a total order, so the
 * union of the lists is the same whatever order the endpoints answer). */
static int cmp_newest(const void *x, const void *y)
{
    const vmdb_sol_anchor_ent *a = x, *b = y;
    if (a->seq != b->seq)
        return a->seq < b->seq ? 1 : -1;
    if (a->slot != b->slot)
        return a->slot < b->slot ? 1 : -1;
    return memcmp(a->sig, b->sig, 64);
}

static int cmp_sig(const void *x, const void *y)
{
    return memcmp(((const vmdb_sol_anchor_ent *)x)->sig, ((const vmdb_sol_anchor_ent *)y)->sig, 64);
}

int vmdb_sol_anchor_list_multi(const char *list, vmdb_sol_anchor_ent **out, size_t *n,
                               const uint8_t identity[32], size_t limit, size_t *answered)
{
    char *urls[VMDB_SOL_MAX_ENDPOINTS] = {0};
    size_t nurls = 0, cnt = 0, ok = 0;
    vmdb_sol_anchor_ent *all = NULL;
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (answered)
        *answered = 0;
    if ((rc = vmdb_sol_urls_split(urls, &nurls, list)))
        goto done;
    for (size_t k = 0; k < nurls; k++) {
        vmdb_sol_rpc *rpc = NULL;
        vmdb_sol_anchor_ent *v = NULL;
        size_t nv = 0;
        if ((rc = vmdb_sol_rpc_new(&rpc, urls[k], NULL)) != 0) {
            rc = vmdb_error_set(rc, "SOLANA_RPC_URL endpoint %zu of %zu is not a usable URL", k + 1,
                                nurls);
            goto done;
        }
        int r = vmdb_sol_anchor_list(rpc, &v, &nv, identity, limit);
        vmdb_sol_rpc_free(rpc);
        if (r == VMDB_ENOMEM) {
            rc = r;
            goto done;
        }
        if (r) {
            LOG_WARN("solana: RPC endpoint %zu of %zu did not answer; skipped", k + 1, nurls);
            continue;
        }
        ok++;
        vmdb_sol_anchor_ent *na = nv ? realloc(all, (cnt + nv) * sizeof *all) : all;
        if (!na) {
            free(v);
            rc = VMDB_ENOMEM;
            goto done;
        }
        all = na;
        if (nv)
            memcpy(all + cnt, v, nv * sizeof *v);
        cnt += nv;
        free(v);
    }
    if (ok == 0) {
        rc = vmdb_error_set(VMDB_EIO, "no Solana RPC endpoint answered");
        goto done;
    }
    if (cnt) {
        /* One entry per signature (the endpoints mostly show the same
         * ones): sorted by signature, the copies are neighbours. */
        qsort(all, cnt, sizeof *all, cmp_sig);
        size_t u = 1;
        for (size_t i = 1; i < cnt; i++)
            if (memcmp(all[i].sig, all[u - 1].sig, 64) != 0)
                all[u++] = all[i];
        cnt = u;
        qsort(all, cnt, sizeof *all, cmp_newest);
    }
    *out = all;
    *n = cnt < limit ? cnt : limit;
    all = NULL;
    if (answered)
        *answered = ok;
done:
    free(all);
    vmdb_sol_urls_free(urls, nurls);
    return rc;
}
