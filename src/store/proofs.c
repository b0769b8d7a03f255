/*
 * The proof part of an answer (PROTOCOL.md §9): collects the answer's keys,
 * sorts them, and asks the tree for their multiproof (§5). Everything the
 * answer keeps is copied into the request's arena; the multiproof is built
 * in a heap buffer first because its size is known only at the end.
 */
#include "store/proofs.h"

#include <stdlib.h>
#include <string.h>

#include "store/rows.h"

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

int vmdb_proofs_build(vmdb_proof_out *out, vmdb_arena *ar, vmdb_hasher *h, const vmdb_smt *t,
                      const vmdb_smt_view *v, const vmdb_model *m, const vmdb_proof_keys *k)
{
    vmdb_buf mp = VMDB_BUF_INIT;
    size_t nabs = k->ngone + k->nabsent, total = k->npresent + nabs + k->nextra, nk = 0;
    const char **absent = vmdb_arena_alloc(ar, (nabs ? nabs : 1) * sizeof *absent);
    uint8_t(*akeys)[32] = vmdb_arena_alloc(ar, (nabs ? nabs : 1) * sizeof *akeys);
    uint8_t(*keys)[32] = vmdb_arena_alloc(ar, (total ? total : 1) * sizeof *keys);
    uint8_t *bytes = NULL;
    int rc = absent && akeys && keys ? 0 : VMDB_ENOMEM;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; rc == 0 && i < k->ngone; i++) {
        absent[i] = k->gone[i].id;
        memcpy(akeys[i], k->gone[i].key, 32);
    }
    for (size_t i = 0; rc == 0 && i < k->nabsent; i++) {
        absent[k->ngone + i] = k->absent[i];
        rc = vmdb_rows_key(h, m, k->absent[i], akeys[k->ngone + i]);
    }
    if (rc)
        goto done;
    for (size_t i = 0; i < k->npresent; i++)
        memcpy(keys[nk++], k->present[i].key, 32);
    for (size_t i = 0; i < nabs; i++)
        memcpy(keys[nk++], akeys[i], 32);
    for (size_t i = 0; i < k->nextra; i++)
        memcpy(keys[nk++], k->extra[i], 32);
    qsort(keys, nk, sizeof *keys, key_cmp);
    size_t nd = 0;
    for (size_t i = 0; i < nk; i++)
        if (nd == 0 || memcmp(keys[nd - 1], keys[i], 32) != 0)
            memmove(keys[nd++], keys[i], 32);
    if (nd) {
        if ((rc = vmdb_smt_multiprove(t, v, h, (const uint8_t(*)[32])keys, nd, &mp)) != 0)
            goto done;
        if (!(bytes = vmdb_arena_alloc(ar, mp.len))) {
            rc = VMDB_ENOMEM;
            goto done;
        }
        memcpy(bytes, mp.ptr, mp.len);
    }
    out->has = true;
    out->table = m->table;
    out->pk = m->pk;
    out->absent = absent;
    out->absent_keys = (const uint8_t(*)[32])akeys;
    out->nabsent = nabs;
    out->keys = (const uint8_t(*)[32])keys;
    out->nkeys = nd;
    out->multiproof = bytes;
    out->multiproof_len = nd ? mp.len : 0;
done:
    vmdb_buf_free(&mp);
    return rc == VMDB_ELIMIT ? rc : rc ? VMDB_ENOMEM : 0;
}
