/*
 * Verified reads. One statement reads the state row and the rows together,
 * so both come from one PostgreSQL snapshot; the tree version committed with
 * that state is then held and every row is checked against it: the leaf of
 * each returned row must be in the tree with the same value, every
 * requested key the table lacks must be absent from the tree, and no row may
 * come back that was not asked for. Any disagreement is an integrity
 * violation and no row is returned.
 */
#include "store/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/sb.h"

typedef struct rd_out {
    vmdb_buf ids, records, bad, missing;
    size_t nids, nrecords, nbad, nmissing;
} rd_out;

static void rd_free(rd_out *o)
{
    vmdb_buf_free(&o->ids);
    vmdb_buf_free(&o->records);
    vmdb_buf_free(&o->bad);
    vmdb_buf_free(&o->missing);
}

static int add_str(vmdb_buf *b, size_t *n, const char *s)
{
    int rc = (*n)++ ? vmdb_buf_putc(b, ',') : 0;
    return rc ? rc : vmdb_sb_jstrz(b, s);
}

/* Wraps a row query into the snapshot statement with the state row. */
static int wrap(vmdb_buf *sql, const vmdb_buf *inner)
{
    int rc = vmdb_sb_puts(sql, "SELECT s.seq, r.k, r.j FROM vmdb_state AS s LEFT JOIN LATERAL (");
    rc = rc ? rc : vmdb_buf_put(sql, inner->ptr, inner->len);
    rc = rc ? rc : vmdb_sb_puts(sql, ") AS r(k, j) ON true");
    return rc ? rc : vmdb_sb_cstr(sql);
}

/* Runs the statement and checks the rows. `keys` (canonical, distinct) are
 * the requested keys for read-batch, NULL for read-latest. Returns 0 with
 * o filled, or fills `ans`. */
static int run_verified(vmdb_engine *e, const vmdb_model *m, const char *sql, int np,
                        const char *const *params, const char *const *keys, size_t nkeys, rd_out *o,
                        vmdb_answer *ans)
{
    int rc = 0;
    vmdb_hasher *h = vmdb_engine_hasher(e);
    vmdb_buf jcs = VMDB_BUF_INIT;
    bool *seen = calloc(nkeys ? nkeys : 1, 1);
    if (!h || !seen) {
        free(seen);
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
        return VMDB_ENOMEM;
    }
    for (int attempt = 0;; attempt++) {
        unsigned slot;
        char state[6];
        PGconn *c = vmdb_engine_conn_get(e, &slot);
        PGresult *res =
            vmdb_pg_exec_cached(c, &e->pool_cache[slot], "read", sql, np, params, state);
        vmdb_engine_conn_put(e, slot);
        if (!res) {
            int st;
            const char *code, *msg;
            vmdb_pg_classify(state, &st, &code, &msg);
            vmdb_answer_fail(ans, st, code, "%s", msg);
            rc = VMDB_EIO;
            break;
        }
        uint64_t seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        bool ahead = false;
        const vmdb_smt_view *v = vmdb_engine_hold(e, seq, &ahead);
        if (!v) {
            PQclear(res);
            if (ahead && e->cfg.allow_multi_instance && attempt < 3) {
                /* Another instance wrote: catch up, then read again. */
                vmdb_answer tmp = {0};
                vmdb_engine_resync(e, &tmp);
                vmdb_buf_free(&tmp.data);
                continue;
            }
            if (!ahead && attempt < 3)
                continue; /* the snapshot's version is no longer kept: read again */
            if (ahead) {
                vmdb_engine_violation(e, "vmdb_state",
                                      "the state row is ahead of every committed version", "");
                vmdb_buf none = VMDB_BUF_INIT;
                vmdb_engine_integrity_answer(ans, &none);
                rc = VMDB_EVERIFY;
            } else {
                vmdb_answer_fail(ans, 503, "DB_UNAVAILABLE",
                                 "no tree version for the database snapshot");
                rc = VMDB_EBUSY;
            }
            break;
        }
        memset(seen, 0, nkeys ? nkeys : 1);
        for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
            if (PQgetisnull(res, i, 1))
                continue; /* the LEFT JOIN's empty row */
            const char *pk = PQgetvalue(res, i, 1), *json = PQgetvalue(res, i, 2);
            uint8_t key[32], value[32], tv[32];
            bool asked = keys == NULL;
            for (size_t k = 0; !asked && k < nkeys; k++)
                if (!seen[k] && strcmp(keys[k], pk) == 0)
                    asked = seen[k] = true;
            bool good = asked && vmdb_engine_row_leaf(h, m, pk, json, key, value, &jcs) == 0 &&
                        vmdb_smt_get(e->tree, v, key, tv) == 0 && memcmp(tv, value, 32) == 0;
            if (!good) {
                rc = add_str(&o->bad, &o->nbad, pk);
                continue;
            }
            rc = add_str(&o->ids, &o->nids, pk);
            rc = rc ? rc : (o->nrecords++ ? vmdb_buf_putc(&o->records, ',') : 0);
            rc = rc ? rc : vmdb_buf_put(&o->records, jcs.ptr, jcs.len);
        }
        for (size_t k = 0; rc == 0 && k < nkeys; k++) {
            uint8_t key[32], tv[32];
            if (seen[k])
                continue;
            rc = vmdb_row_key(h, key, VMDB_SLICE(m->table, strlen(m->table)),
                              VMDB_SLICE(keys[k], strlen(keys[k])));
            if (rc == 0 && vmdb_smt_get(e->tree, v, key, tv) == 0)
                rc = add_str(&o->bad, &o->nbad, keys[k]); /* the tree has it, the table not */
            else if (rc == 0)
                rc = add_str(&o->missing, &o->nmissing, keys[k]); /* absent from both */
        }
        vmdb_engine_unhold(e, v);
        PQclear(res);
        if (rc) {
            vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
            break;
        }
        if (o->nbad) {
            rc = VMDB_EVERIFY;
            if (vmdb_sb_cstr(&o->bad) == 0)
                vmdb_engine_violation(e, m->table,
                                      keys ? "read-batch rows differ from the tree"
                                           : "read-latest rows differ from the tree",
                                      (const char *)o->bad.ptr);
            vmdb_engine_integrity_answer(ans, &o->bad);
        }
        break;
    }
    free(seen);
    vmdb_buf_free(&jcs);
    return rc;
}

static int select_from(vmdb_buf *inner, const vmdb_model *m)
{
    vmdb_buf from = VMDB_BUF_INIT;
    int rc = vmdb_sb_ident(&from, m->table);
    rc = rc ? rc : vmdb_sb_cstr(&from);
    rc = rc ? rc : vmdb_engine_select_rows(inner, m, (const char *)from.ptr);
    vmdb_buf_free(&from);
    return rc;
}

void vmdb_engine_read_batch(vmdb_engine *e, const vmdb_model *m, const char *const *ids,
                            size_t nids, const char *echo, vmdb_answer *ans)
{
    rd_out o = {0};
    vmdb_arena ar = VMDB_ARENA_INIT;
    vmdb_buf inner = VMDB_BUF_INIT, sql = VMDB_BUF_INIT, arr = VMDB_BUF_INIT;
    const char **keys = vmdb_arena_alloc(&ar, (nids ? nids : 1) * sizeof *keys);
    size_t nkeys = 0;
    int rc = keys ? 0 : VMDB_ENOMEM;
    /* Canonical key texts, each once; ids that cannot be keys are missing. */
    for (size_t i = 0; rc == 0 && i < nids; i++) {
        const char *k = NULL;
        if (vmdb_coerce_key(&ar, m->pk_type, ids[i], strlen(ids[i]), &k) != 0) {
            rc = add_str(&o.missing, &o.nmissing, ids[i]);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < nkeys && !dup; j++)
            dup = strcmp(keys[j], k) == 0;
        if (!dup)
            keys[nkeys++] = k;
    }
    rc = rc ? rc : vmdb_buf_putc(&arr, '{');
    for (size_t i = 0; rc == 0 && i < nkeys; i++) {
        rc = i ? vmdb_buf_putc(&arr, ',') : 0;
        rc = rc ? rc : vmdb_sb_pgarr_elem(&arr, keys[i], strlen(keys[i]));
    }
    rc = rc ? rc : vmdb_buf_putc(&arr, '}');
    rc = rc ? rc : vmdb_sb_cstr(&arr);
    rc = rc ? rc : select_from(&inner, m);
    rc = rc ? rc : vmdb_sb_puts(&inner, " WHERE t.");
    rc = rc ? rc : vmdb_sb_ident(&inner, m->pk);
    rc = rc ? rc : vmdb_sb_printf(&inner, " = ANY($1::text[]::%s[])", vmdb_pk_array_cast(m));
    rc = rc ? rc : wrap(&sql, &inner);
    if (rc) {
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
        goto done;
    }
    const char *p[1] = {(const char *)arr.ptr};
    if (run_verified(e, m, (const char *)sql.ptr, 1, p, keys, nkeys, &o, ans) != 0)
        goto done;
    if (o.nids == 0) {
        vmdb_answer_fail(ans, 404, "NOT_FOUND", "No records found for the given IDs.");
        goto done;
    }
    vmdb_buf *d = &ans->data;
    if (echo) {
        rc = vmdb_sb_puts(d, "{\"ids\":");
        rc = rc ? rc : vmdb_sb_puts(d, echo);
        rc = rc ? rc : vmdb_sb_puts(d, ",\"missing\":[");
    } else {
        rc = vmdb_sb_puts(d, "{\"ids\":[");
        rc = rc ? rc : vmdb_buf_put(d, o.ids.ptr, o.ids.len);
        rc = rc ? rc : vmdb_sb_puts(d, "],\"missing\":[");
    }
    rc = rc ? rc : vmdb_buf_put(d, o.missing.ptr, o.missing.len);
    rc = rc ? rc : vmdb_sb_puts(d, "],\"records\":[");
    rc = rc ? rc : vmdb_buf_put(d, o.records.ptr, o.records.len);
    rc = rc ? rc : vmdb_sb_puts(d, "],\"verified\":true}");
    ans->status = 200;
    if (rc)
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
done:
    rd_free(&o);
    vmdb_buf_free(&inner);
    vmdb_buf_free(&sql);
    vmdb_buf_free(&arr);
    vmdb_arena_free(&ar);
}

void vmdb_engine_read_latest(vmdb_engine *e, const vmdb_model *m, const vmdb_where *w, size_t nw,
                             const vmdb_column *order, bool asc, unsigned limit, vmdb_answer *ans)
{
    rd_out o = {0};
    vmdb_buf inner = VMDB_BUF_INIT, sql = VMDB_BUF_INIT;
    const char **params = calloc(nw ? nw : 1, sizeof *params);
    int np = 0;
    int rc = params ? select_from(&inner, m) : VMDB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < nw; i++) {
        bool is_pk = strcmp(w[i].col->name, m->pk) == 0;
        rc = vmdb_sb_puts(&inner, i ? " AND t." : " WHERE t.");
        rc = rc ? rc : vmdb_sb_ident(&inner, w[i].col->name);
        if (!w[i].text) {
            rc = rc ? rc : vmdb_sb_puts(&inner, " IS NULL");
            continue;
        }
        params[np++] = w[i].text;
        rc = rc ? rc
                : vmdb_sb_printf(&inner, " = $%d%s", np,
                                 vmdb_ctype_cast(is_pk ? m->pk_type : w[i].col->type));
    }
    const char *dir = asc ? "ASC" : "DESC";
    rc = rc ? rc : vmdb_sb_puts(&inner, " ORDER BY t.");
    rc = rc ? rc : vmdb_sb_ident(&inner, order ? order->name : m->pk);
    rc = rc ? rc : vmdb_sb_printf(&inner, " %s", dir);
    if (rc == 0 && order && strcmp(order->name, m->pk) != 0) {
        /* A tie-breaker makes the order deterministic. */
        rc = vmdb_sb_puts(&inner, ", t.");
        rc = rc ? rc : vmdb_sb_ident(&inner, m->pk);
        rc = rc ? rc : vmdb_sb_printf(&inner, " %s", dir);
    }
    rc = rc ? rc : vmdb_sb_printf(&inner, " LIMIT %u", limit);
    rc = rc ? rc : wrap(&sql, &inner);
    if (rc) {
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
        goto done;
    }
    if (run_verified(e, m, (const char *)sql.ptr, np, params, NULL, 0, &o, ans) != 0)
        goto done;
    if (o.nids == 0) {
        vmdb_answer_fail(ans, 404, "NOT_FOUND", "No records found");
        goto done;
    }
    vmdb_buf *d = &ans->data;
    rc = vmdb_sb_puts(d, "{\"ids\":[");
    rc = rc ? rc : vmdb_buf_put(d, o.ids.ptr, o.ids.len);
    rc = rc ? rc : vmdb_sb_printf(d, "],\"meta\":{\"limit\":%u},\"records\":[", limit);
    rc = rc ? rc : vmdb_buf_put(d, o.records.ptr, o.records.len);
    rc = rc ? rc : vmdb_sb_puts(d, "],\"verified\":true}");
    ans->status = 200;
    if (rc)
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
done:
    free(params);
    rd_free(&o);
    vmdb_buf_free(&inner);
    vmdb_buf_free(&sql);
}
