/*
 * The engine's row calls: resolving a model, writing through the writer,
 * and verified reads.
 *
 * A verified read is one statement that reads the state row and the rows
 * together, so both come from one PostgreSQL snapshot; the tree version
 * committed with that state is then held and every row is checked against
 * it: the leaf of each returned row must be in the tree with the same value,
 * every requested key the table lacks must be absent from the tree, and no
 * row may come back that was not asked for. Any disagreement is an integrity
 * violation and no row is returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/engine_internal.h"
#include "store/proofs.h"
#include "store/rows.h"
#include "store/sync.h"
#include "util/log.h"
#include "util/sb.h"

int vmdb_engine_resolve(vmdb_engine *e, const char *table, vmdb_registry **reg,
                        const vmdb_model **model, vmdb_fail *fail)
{
    memset(fail, 0, sizeof *fail);
    if (vmdb_catalog_resolve(e->parts.catalog, e->parts.pool, table, reg, model) != 0)
        return vmdb_fail_check(vmdb_fail_set(fail, VMDB_FAIL_MODEL_NOT_REGISTERED,
                                             "Model '%.100s' is not registered", table),
                               fail);
    return 0;
}

int vmdb_engine_write(vmdb_engine *e, vmdb_arena *ar, const vmdb_write *w, vmdb_write_result *out)
{
    return vmdb_fail_check(vmdb_writer_write(e->writer, ar, w, out), &out->fail);
}

int vmdb_engine_write_begin(vmdb_engine *e, vmdb_arena *ar, const vmdb_write *w,
                            vmdb_write_result *out, vmdb_write_done_fn done, void *arg,
                            vmdb_write_ticket **ticket)
{
    int rc = vmdb_writer_write_begin(e->writer, ar, w, out, done, arg, ticket);
    /* Once queued, `out` is the writer's until `done`: not even read here
     * (the group may already be failing it). */
    return rc ? vmdb_fail_check(rc, &out->fail) : 0;
}

bool vmdb_engine_write_waits(const vmdb_write_ticket *t)
{
    return vmdb_writer_write_anchor(t) != 0;
}

int vmdb_engine_write_end(vmdb_engine *e, const vmdb_write_ticket *t, vmdb_write_result *out)
{
    if (out->fail.kind != VMDB_FAIL_NONE)
        return vmdb_fail_err(&out->fail);
    uint64_t seq = vmdb_writer_write_anchor(t);
    /* Not anchored in time: the answer says so. */
    if (seq)
        out->committed = vmdb_chain_wait_anchored(e->parts.chain, seq);
    return 0;
}

/* Wraps a row query into the snapshot statement with the state row. With
 * `range_param` (> 0), the statement also reads the id range of the table
 * named by that parameter (PROTOCOL.md §10) as columns 3 and 4 (NULL when
 * it has none), so that the range is the one committed with the state. */
static int wrap(vmdb_buf *sql, const vmdb_buf *inner, int range_param)
{
    int rc = vmdb_sb_puts(sql, "SELECT s.seq, r.k, r.j");
    if (range_param > 0)
        rc = rc ? rc
                : vmdb_sb_printf(sql,
                                 ", g.lo::text, g.hi::text FROM vmdb_state AS s LEFT JOIN "
                                 "vmdb_id_ranges AS g ON g.table_name = $%d",
                                 range_param);
    else
        rc = rc ? rc : vmdb_sb_puts(sql, " FROM vmdb_state AS s");
    rc = rc ? rc : vmdb_sb_puts(sql, " LEFT JOIN LATERAL (");
    rc = rc ? rc : vmdb_buf_put(sql, inner->ptr, inner->len);
    rc = rc ? rc : vmdb_sb_puts(sql, ") AS r(k, j) ON true");
    return rc ? rc : vmdb_sb_cstr(sql);
}

/* Checks the rows of `res` against the held version `v`. `keys` (canonical,
 * distinct) are the requested keys for read-batch, NULL for read-latest.
 * Fills out->rows and out->missing; the ids that disagree go to `bad`.
 * `grp`: `res` is shared with other requests (db/pgshare.h). 0 or
 * VMDB_ENOMEM. */
static int check_rows(vmdb_engine *e, vmdb_hasher *h, vmdb_arena *ar, const vmdb_model *m,
                      const PGresult *res, vmdb_pgshare_group *grp, const vmdb_smt_view *v,
                      const char *const *keys, size_t nkeys, vmdb_read_result *out, vmdb_strs *bad)
{
    const vmdb_smt *tree = vmdb_versions_tree(e->parts.versions);
    vmdb_buf jcs = VMDB_BUF_INIT;
    vmdb_strs missing = {0};
    int nt = PQntuples(res), rc = 0;
    bool *seen = vmdb_arena_zalloc(ar, nkeys ? nkeys : 1);
    out->rows = vmdb_arena_zalloc(ar, (size_t)nt * sizeof *out->rows + 1);
    out->nrows = 0;
    if (!seen || !out->rows)
        return VMDB_ENOMEM;
    for (int i = 0; rc == 0 && i < nt; i++) {
        if (PQgetisnull(res, i, 1))
            continue; /* the LEFT JOIN's empty row */
        const char *pk = PQgetvalue(res, i, 1), *json = PQgetvalue(res, i, 2);
        uint8_t key[32], value[32], tv[32];
        bool asked = keys == NULL;
        for (size_t k = 0; !asked && k < nkeys; k++)
            if (!seen[k] && strcmp(keys[k], pk) == 0)
                asked = seen[k] = true;
        /* A shared result holds other requests' rows: only ours count
         * (rows nobody asked for are found when the group ends). */
        if (grp && !asked)
            continue;
        vmdb_pgshare_claim(grp, i);
        bool good = asked && vmdb_rows_leaf(h, m, pk, json, key, value, &jcs) == 0 &&
                    vmdb_smt_get(tree, v, key, tv) == 0 && memcmp(tv, value, 32) == 0;
        if (!good) {
            rc = vmdb_strs_add(ar, bad, pk);
            continue;
        }
        rc = vmdb_row_set(&out->rows[out->nrows++], ar, pk, &jcs, key, value);
    }
    for (size_t k = 0; rc == 0 && k < nkeys; k++) {
        uint8_t key[32], tv[32];
        if (seen[k])
            continue;
        rc = vmdb_rows_key(h, m, keys[k], key);
        if (rc == 0 && vmdb_smt_get(tree, v, key, tv) == 0)
            rc = vmdb_strs_add(ar, bad, keys[k]); /* the tree has it, the table not */
        else if (rc == 0)
            rc = vmdb_strs_add(ar, &missing, keys[k]); /* absent from both */
    }
    out->missing = missing.v;
    out->nmissing = missing.n;
    vmdb_buf_free(&jcs);
    return rc ? VMDB_ENOMEM : 0;
}

/* The signed header of `seq` for a proof: from memory when it is recent,
 * else from the database, checked against the verified history. A version
 * can be published an instant before its header is advanced here: that
 * case waits (at most about a second) instead of failing. */
static int proof_header(vmdb_engine *e, vmdb_hasher *h, uint64_t seq, vmdb_sheader *out,
                        vmdb_fail *fail)
{
    char kind[32];
    for (int attempt = 0;; attempt++) {
        if (vmdb_chain_recent(e->parts.chain, seq, out))
            return 0;
        int rc = vmdb_chain_header(e->parts.chain, h, seq, out, kind);
        if (rc == 0)
            return 0;
        if (rc == VMDB_ENOTFOUND && attempt < 500) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (rc == VMDB_EVERIFY)
            return vmdb_fail_integrity(fail, NULL, 0);
        if (rc == VMDB_EIO)
            return vmdb_fail_set(fail, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
        return vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "the header of seq %llu is not available",
                             (unsigned long long)seq);
    }
}

/* Puts the ids that cannot be keys (`unkeyed`, found first) before the
 * missing ids. 0 or VMDB_ENOMEM. */
static int merge_missing(vmdb_arena *ar, const vmdb_strs *unkeyed, vmdb_read_result *out)
{
    if (!unkeyed || !unkeyed->n)
        return 0;
    const char **all = vmdb_arena_alloc(ar, (unkeyed->n + out->nmissing) * sizeof *all);
    if (!all)
        return VMDB_ENOMEM;
    memcpy(all, unkeyed->v, unkeyed->n * sizeof *all);
    if (out->nmissing)
        memcpy(all + unkeyed->n, out->missing, out->nmissing * sizeof *all);
    out->missing = all;
    out->nmissing += unkeyed->n;
    return 0;
}

/* Test builds: VMDB_TEST_HIDE_LATEST_ROW=1 makes a complete read-latest lie,
 * leaving its first row out of the answer and out of the absent ids, so that
 * tests can see verifiers catch it. Always false in other builds. */
static bool hide_latest_row(void)
{
#ifdef VMDB_TEST_HOOKS
    const char *f = getenv("VMDB_TEST_HIDE_LATEST_ROW");
    return f && strcmp(f, "1") == 0;
#else
    return false;
#endif
}

/* Whether `id` is one of ids[0..n). */
static bool has_id(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* PROTOCOL.md §10 for the rows out->rows of a read-latest ordered by the
 * key, read in the snapshot of version `v` with the table's range in
 * columns 3 and 4 of `res`. Fills *c (c->has false when the answer cannot
 * be complete: a gap too large, or ids out of order) and `gap`, the gap ids
 * to prove absent. *stale: the stored range is not the tree's range leaf
 * (read again; never claim what the tree does not back). A gap id the tree
 * holds goes to `bad`. 0 or VMDB_ENOMEM. */
static int complete_part(vmdb_engine *e, vmdb_hasher *h, vmdb_arena *ar, const vmdb_model *m,
                         const PGresult *res, const vmdb_smt_view *v, const vmdb_latest_query *q,
                         vmdb_read_result *out, vmdb_proof_complete *c, vmdb_strs *gap,
                         vmdb_strs *bad, bool *stale)
{
    const vmdb_smt *tree = vmdb_versions_tree(e->parts.versions);
    uint8_t rv[32], tv[32];
    int64_t lo = 0, hi = 0, from = 0, to = 0;
    uint64_t nabsent = 0;
    bool empty = false;
    memset(c, 0, sizeof *c);
    *stale = false;
    if (PQgetisnull(res, 0, 3) && out->nrows == 0)
        return 0; /* no row and no range: a table that never had a row, not complete */
    if (PQgetisnull(res, 0, 3) || !vmdb_ranges_parse_id(PQgetvalue(res, 0, 3), &lo) ||
        !vmdb_ranges_parse_id(PQgetvalue(res, 0, 4), &hi) ||
        vmdb_ranges_leaf(h, m->table, lo, hi, c->range_key, rv) != 0 ||
        vmdb_smt_get(tree, v, c->range_key, tv) != 0 || memcmp(tv, rv, 32) != 0) {
        *stale = true; /* rows but no range, or not the tree's */
        return 0;
    }
    int64_t *ids = vmdb_arena_alloc(ar, (out->nrows ? out->nrows : 1) * sizeof *ids);
    if (!ids)
        return VMDB_ENOMEM;
    for (size_t i = 0; i < out->nrows; i++)
        if (!vmdb_ranges_parse_id(out->rows[i].id, &ids[i]))
            return 0;
    if (vmdb_ranges_gap(lo, hi, ids, out->nrows, q->limit, q->asc, &empty, &from, &to, &nabsent) !=
        0) {
        LOG_WARN("read-latest of %s: the ids are not ordered inside the id range [%lld, %lld]",
                 m->table, (long long)lo, (long long)hi);
        return 0;
    }
    if (nabsent > VMDB_RANGES_MAX_GAP)
        return 0; /* too many absent ids to prove: not complete */
    for (int64_t g = from; !empty; g++) {
        if (!has_id(ids, out->nrows, g)) {
            char id[24];
            uint8_t key[32];
            snprintf(id, sizeof id, "%lld", (long long)g);
            int rc = vmdb_rows_key(h, m, id, key);
            if (rc == 0 && vmdb_smt_get(tree, v, key, tv) == 0)
                rc = vmdb_strs_add(ar, bad, id); /* the tree has it, the table not */
            else if (rc == 0)
                rc = vmdb_strs_add(ar, gap, id);
            if (rc)
                return VMDB_ENOMEM;
        }
        if (g == to)
            break;
    }
    if (hide_latest_row() && out->nrows > 1) {
        /* The lie: the row is neither returned nor listed as absent. */
        memmove(out->rows, out->rows + 1, (out->nrows - 1) * sizeof *out->rows);
        out->nrows--;
    }
    c->has = true;
    c->asc = q->asc;
    c->limit = q->limit;
    snprintf(c->lo, sizeof c->lo, "%lld", (long long)lo);
    snprintf(c->hi, sizeof c->hi, "%lld", (long long)hi);
    return 0;
}

/* Runs the snapshot statement and checks its rows (see the top). `unkeyed`
 * (read-batch; may be NULL): requested ids that cannot be keys, missing
 * before the others. With `proof`, an answer with rows or proven absences gets its proof,
 * built while the version is held. `complete` (a read-latest ordered by the
 * key of a serial table, whose statement reads the range: see wrap): the
 * proof also says whether the answer is complete (PROTOCOL.md §10). */
/* Lets go of a statement's result: our own, or our share of a merged one,
 * whose rows nobody asked for are a violation (an honest database returns
 * only the keys of `= ANY`). */
static void drop_result(vmdb_engine *e, const vmdb_model *m, PGresult *own, vmdb_pgshare_group *grp)
{
    size_t unclaimed = 0;
    PQclear(own);
    vmdb_pgshare_leave(e->share, grp, 1, &unclaimed);
    if (unclaimed)
        vmdb_status_violation(e->parts.status, m->table,
                              "read-batch returned rows that were not asked for", NULL, 0);
}

static int run_verified(vmdb_engine *e, vmdb_arena *ar, const vmdb_model *m, const char *sql,
                        int np, const char *const *params, const char *const *keys, size_t nkeys,
                        const vmdb_strs *unkeyed, bool proof, const vmdb_latest_query *complete,
                        vmdb_read_result *out)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    if (!h)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
    for (int attempt = 0;; attempt++) {
        char state[6];
        bool ahead = false;
        vmdb_strs bad = {0};
        PGresult *own = NULL;
        const PGresult *res = NULL;
        vmdb_pgshare_group *grp = NULL;
        /* Small read-batches share statements (db/pgshare.h); a retry runs
         * alone. */
        if (keys && e->share && nkeys > 0 && nkeys <= VMDB_SHARE_MAX_KEYS && attempt == 0) {
            if (vmdb_pgshare_run(e->share, "read", sql, keys, nkeys, &grp, &res, state) != 0)
                return vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
        } else {
            res = own = vmdb_pgpool_exec(e->parts.pool, true, "read", sql, np, params, state);
        }
        if (!res) {
            drop_result(e, m, own, grp);
            return vmdb_fail_sqlstate(&out->fail, state);
        }
        uint64_t seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        const vmdb_smt_view *v = vmdb_versions_hold(e->parts.versions, seq, &ahead);
        if (!v) {
            drop_result(e, m, own, grp);
            if (ahead && e->cfg.allow_multi_instance && attempt < 3) {
                /* Another instance wrote: catch up, then read again. */
                vmdb_fail ignored = {0};
                vmdb_writer_run(e->writer, vmdb_sync_resync_job, &e->parts, &ignored);
                continue;
            }
            if (!ahead && attempt < 3)
                continue; /* the snapshot's version is no longer kept: read again */
            if (ahead) {
                vmdb_status_violation(e->parts.status, "vmdb_state",
                                      "the state row is ahead of every committed version", NULL, 0);
                return vmdb_fail_integrity(&out->fail, NULL, 0);
            }
            return vmdb_fail_set(&out->fail, VMDB_FAIL_DB_UNAVAILABLE,
                                 "no tree version for the database snapshot");
        }
        out->at.seq = seq;
        vmdb_smt_view_root(v, out->at.root);
        out->at.has_header = vmdb_chain_recent(e->parts.chain, seq, &out->at.header);
        vmdb_proof_complete cp = {0};
        vmdb_strs gap = {0};
        bool stale = false;
        int rc = check_rows(e, h, ar, m, res, grp, v, keys, nkeys, out, &bad);
        rc = rc ? rc : merge_missing(ar, unkeyed, out);
        if (rc == 0 && complete && proof && bad.n == 0)
            rc = complete_part(e, h, ar, m, res, v, complete, out, &cp, &gap, &bad, &stale);
        if (rc == 0 && stale && attempt < 2) {
            vmdb_versions_release(e->parts.versions, v);
            drop_result(e, m, own, grp);
            continue; /* the range is not the tree's: read again */
        }
        if (stale)
            LOG_WARN("read-latest of %s at seq %llu: the stored id range is not the tree's "
                     "range leaf; answered as not complete",
                     m->table, (unsigned long long)seq);
        if (rc == 0 && proof && bad.n == 0 && (out->nrows || out->nmissing || cp.has)) {
            const uint8_t(*extra)[32] = cp.has ? (const uint8_t(*)[32])cp.range_key : NULL;
            vmdb_proof_keys pk = {.present = out->rows,
                                  .npresent = out->nrows,
                                  .absent = cp.has ? gap.v : out->missing,
                                  .nabsent = cp.has ? gap.n : out->nmissing,
                                  .extra = extra,
                                  .nextra = cp.has ? 1 : 0};
            rc = vmdb_proofs_build(&out->proof, ar, h, vmdb_versions_tree(e->parts.versions), v, m,
                                   &pk);
            out->proof.complete = cp;
        }
        vmdb_versions_release(e->parts.versions, v);
        drop_result(e, m, own, grp);
        if (rc)
            return vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL,
                                 rc == VMDB_ELIMIT ? "the proof is too large" : "out of memory");
        if (bad.n) {
            vmdb_status_violation(e->parts.status, m->table,
                                  keys ? "read-batch rows differ from the tree"
                                       : "read-latest rows differ from the tree",
                                  bad.v, bad.n);
            out->rows = NULL;
            out->nrows = 0;
            return vmdb_fail_integrity(&out->fail, bad.v, bad.n);
        }
        if (out->proof.has) {
            if (out->at.has_header)
                out->proof.header = out->at.header;
            else if ((rc = proof_header(e, h, seq, &out->proof.header, &out->fail)) != 0)
                return rc;
        }
        return 0;
    }
}

int vmdb_engine_read_batch(vmdb_engine *e, vmdb_arena *ar, const vmdb_model *m,
                           const char *const *ids, size_t nids, bool proof, vmdb_read_result *out)
{
    vmdb_buf inner = VMDB_BUF_INIT, sql = VMDB_BUF_INIT, arr = VMDB_BUF_INIT;
    vmdb_strs unkeyed = {0}; /* ids that cannot be keys of m: missing */
    const char **keys = vmdb_arena_alloc(ar, (nids ? nids : 1) * sizeof *keys);
    size_t nkeys = 0;
    int rc = keys ? 0 : VMDB_ENOMEM;
    memset(out, 0, sizeof *out);
    /* Canonical key texts, each once. */
    for (size_t i = 0; rc == 0 && i < nids; i++) {
        const char *k = NULL;
        int krc = vmdb_coerce_key(ar, m->pk_type, ids[i], strlen(ids[i]), &k);
        if (krc == VMDB_ENOMEM) {
            rc = krc;
            break;
        }
        if (krc != 0) {
            rc = vmdb_strs_add(ar, &unkeyed, ids[i]);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < nkeys && !dup; j++)
            dup = strcmp(keys[j], k) == 0;
        if (!dup)
            keys[nkeys++] = k;
    }
    rc = rc ? rc : vmdb_pg_text_array(&arr, keys, nkeys);
    rc = rc ? rc : vmdb_rows_select(&inner, m, NULL);
    rc = rc ? rc : vmdb_sb_puts(&inner, " WHERE t.");
    rc = rc ? rc : vmdb_sb_ident(&inner, m->pk);
    rc = rc ? rc : vmdb_sb_printf(&inner, " = ANY($1::text[]::%s[])", vmdb_pk_array_cast(m));
    rc = rc ? rc : wrap(&sql, &inner, 0);
    if (rc) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    const char *p[1] = {(const char *)arr.ptr};
    /* The ids that cannot be keys come first among the missing, as they
     * were found first. */
    if ((rc = run_verified(e, ar, m, (const char *)sql.ptr, 1, p, keys, nkeys, &unkeyed, proof,
                           NULL, out)) != 0)
        goto done;
    /* The seed's 404 when no id has a row, unless a proof was asked for:
     * then every id is proven absent (PROTOCOL.md §9), which a 404 could not
     * carry. */
    if (out->nrows == 0 && !proof)
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_NOT_FOUND, "No records found for the given IDs.");
done:
    vmdb_buf_free(&inner);
    vmdb_buf_free(&sql);
    vmdb_buf_free(&arr);
    return vmdb_fail_check(rc, &out->fail);
}

int vmdb_engine_read_latest(vmdb_engine *e, vmdb_arena *ar, const vmdb_model *m,
                            const vmdb_latest_query *q, vmdb_read_result *out)
{
    vmdb_buf inner = VMDB_BUF_INIT, sql = VMDB_BUF_INIT;
    const char **params = vmdb_arena_alloc(ar, (q->nwhere + 1) * sizeof *params);
    int np = 0;
    /* PROTOCOL.md §10: only an unfiltered read in key order of a serial
     * table can be complete; its statement also reads the id range. */
    bool complete = q->proof && q->nwhere == 0 &&
                    (!q->order || strcmp(q->order->name, m->pk) == 0) && vmdb_ranges_applies(m);
    memset(out, 0, sizeof *out);
    int rc = params ? vmdb_rows_select(&inner, m, NULL) : VMDB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < q->nwhere; i++) {
        const vmdb_where *w = &q->where[i];
        bool is_pk = strcmp(w->col->name, m->pk) == 0;
        rc = vmdb_sb_puts(&inner, i ? " AND t." : " WHERE t.");
        rc = rc ? rc : vmdb_sb_ident(&inner, w->col->name);
        if (!w->text) {
            rc = rc ? rc : vmdb_sb_puts(&inner, " IS NULL");
            continue;
        }
        params[np++] = w->text;
        rc = rc ? rc
                : vmdb_sb_printf(&inner, " = $%d%s", np,
                                 vmdb_ctype_cast(is_pk ? m->pk_type : w->col->type));
    }
    const char *dir = q->asc ? "ASC" : "DESC";
    rc = rc ? rc : vmdb_sb_puts(&inner, " ORDER BY t.");
    rc = rc ? rc : vmdb_sb_ident(&inner, q->order ? q->order->name : m->pk);
    rc = rc ? rc : vmdb_sb_printf(&inner, " %s", dir);
    if (rc == 0 && q->order && strcmp(q->order->name, m->pk) != 0) {
        /* A tie-breaker makes the order deterministic. */
        rc = vmdb_sb_puts(&inner, ", t.");
        rc = rc ? rc : vmdb_sb_ident(&inner, m->pk);
        rc = rc ? rc : vmdb_sb_printf(&inner, " %s", dir);
    }
    rc = rc ? rc : vmdb_sb_printf(&inner, " LIMIT %u", q->limit);
    if (rc == 0 && complete)
        params[np] = m->table;
    rc = rc ? rc : wrap(&sql, &inner, complete ? np + 1 : 0);
    if (rc) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    if ((rc = run_verified(e, ar, m, (const char *)sql.ptr, complete ? np + 1 : np, params, NULL, 0,
                           NULL, q->proof, complete ? q : NULL, out)) != 0)
        goto done;
    /* With a proof, no row is an answer when it is complete: every id of
     * the table's range is proven absent (§10). Otherwise there is nothing
     * to prove, and the seed's 404 stands. */
    if (out->nrows == 0 && !out->proof.complete.has)
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_NOT_FOUND, "No records found");
done:
    vmdb_buf_free(&inner);
    vmdb_buf_free(&sql);
    return vmdb_fail_check(rc, &out->fail);
}
