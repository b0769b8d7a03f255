/*
 * Administrative transitions: apply-schema, clear-data, repair-roots,
 * migrate, and the upgrade of a protocol v1 chain at start. Each runs as a job on the writer thread
 * (so it serialises with write groups and cannot deadlock with them) and is one PostgreSQL
 * transaction that also writes the new state row and a header of its kind;
 * the tree is rebuilt as a pending version and published only after COMMIT.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/engine_internal.h"
#include "store/rows.h"
#include "store/transitions.h"
#include "util/grow.h"
#include "util/file.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/rowhash.h"

/* What every job gets: the components, the result, its own arguments. */
typedef struct admin_job {
    const vmdb_engine *e;
    vmdb_arena *ar; /* the request's (may be NULL when nothing is allocated) */
    vmdb_admin_result *out;
    vmdb_registry *spec; /* apply-schema */
    bool force;
    const vmdb_repair_opts *repair; /* repair-roots */
} admin_job;

static void rollback(PGconn *c)
{
    vmdb_pg_cmd(c, "rollback", "ROLLBACK", NULL);
}

/* After a detected rollback only restoring the newest backup helps: no
 * admin transition may bless the rolled-back database. */
static int refuse_rollback(const vmdb_parts *p, vmdb_fail *fail)
{
    if (!vmdb_status_is_set(p->status, VMDB_BLOCK_ROLLBACK))
        return 0;
    return vmdb_fail_set(fail, VMDB_FAIL_ROLLBACK_DETECTED,
                         "the database was rolled back behind the trusted state or the anchor; "
                         "restore the newest backup instead");
}

/* The start of every transition: refused after a rollback, then BEGIN. */
static int begin_transition(const vmdb_parts *p, PGconn *c, vmdb_fail *fail)
{
    int rc = refuse_rollback(p, fail);
    if (rc == 0 && vmdb_pg_cmd(c, "begin", "BEGIN", NULL))
        rc = vmdb_fail_set(fail, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
    return rc;
}

static int cmp_leaf(const void *a, const void *b)
{
    return memcmp(((const vmdb_smt_leaf *)a)->key, ((const vmdb_smt_leaf *)b)->key, 32);
}

/* ---- the diff of a repair (PROTOCOL.md §14) --------------------------------------- */

/* Every leaf on which the rebuilt tree differs from the current one, as it
 * is found (malloc'ed, strings too). */
typedef struct diff_list {
    const vmdb_smt *tree; /* the current version: the writer's, nobody else publishes */
    const vmdb_smt_view *view;
    const vmdb_smt_leaf *fresh; /* the rebuilt leaves, sorted: for the removed keys */
    size_t nfresh;
    vmdb_leaf_change *c;
    size_t n, cap;
} diff_list;

static void diff_free(diff_list *d)
{
    for (size_t i = 0; d && i < d->n; i++) {
        free((char *)d->c[i].table);
        free((char *)d->c[i].id);
    }
    if (d)
        free(d->c);
}

/* Appends one change; `old` / `nw` NULL for an absent value. 0 or VMDB_ENOMEM. */
static int diff_add(diff_list *d, const uint8_t key[32], const uint8_t *old, const uint8_t *nw,
                    const char *table, const char *id)
{
    vmdb_leaf_change *nc = vmdb_grow(d->c, &d->cap, d->n, sizeof *nc, 64);
    if (!nc)
        return VMDB_ENOMEM;
    d->c = nc;
    vmdb_leaf_change *x = &d->c[d->n++];
    memset(x, 0, sizeof *x);
    memcpy(x->key, key, 32);
    if ((x->has_old = old != NULL))
        memcpy(x->old_value, old, 32);
    if ((x->has_new = nw != NULL))
        memcpy(x->new_value, nw, 32);
    if ((table && !(x->table = strdup(table))) || (id && !(x->id = strdup(id))))
        return VMDB_ENOMEM;
    return 0;
}

/* A rebuilt leaf against the current tree: a change when absent or different. */
static int diff_check(diff_list *d, const uint8_t key[32], const uint8_t value[32],
                      const char *table, const char *id)
{
    uint8_t old[32];
    if (!d)
        return 0;
    bool had = vmdb_smt_get(d->tree, d->view, key, old) == 0;
    if (had && memcmp(old, value, 32) == 0)
        return 0;
    return diff_add(d, key, had ? old : NULL, value, table, id);
}

static int cmp_key_leaf(const void *k, const void *leaf)
{
    return memcmp(k, ((const vmdb_smt_leaf *)leaf)->key, 32);
}

/* vmdb_smt_each callback: a current leaf the rebuilt tree does not have. */
static int diff_removed(void *arg, const uint8_t key[32], const uint8_t value[32])
{
    diff_list *d = arg;
    if (d->nfresh && bsearch(key, d->fresh, d->nfresh, sizeof *d->fresh, cmp_key_leaf))
        return 0;
    return diff_add(d, key, value, NULL, NULL, NULL);
}

static int cmp_change(const void *a, const void *b)
{
    return memcmp(((const vmdb_leaf_change *)a)->key, ((const vmdb_leaf_change *)b)->key, 32);
}

/* The diff root of PROTOCOL.md §14: SHA-256("vmdb/v2/repair-diff" 0x00 ||
 * u64(n) || key || old || new for each change in ascending key order), an
 * absent value 32 zero bytes. 0 or VMDB_ENOMEM. */
static int diff_root(vmdb_hasher *h, const vmdb_leaf_change *c, size_t n, uint8_t out[32])
{
    static const uint8_t tag[] = "vmdb/v2/repair-diff"; /* NUL terminator is the 0x00 */
    uint8_t cnt[8];
    vmdb_slice *parts = malloc((2 + 3 * n) * sizeof *parts);
    if (!parts)
        return VMDB_ENOMEM;
    for (int i = 0; i < 8; i++)
        cnt[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    parts[0] = VMDB_SLICE(tag, sizeof tag);
    parts[1] = VMDB_SLICE(cnt, 8);
    for (size_t i = 0; i < n; i++) {
        parts[2 + 3 * i] = VMDB_SLICE(c[i].key, 32);
        parts[3 + 3 * i] = VMDB_SLICE(c[i].old_value, 32);
        parts[4 + 3 * i] = VMDB_SLICE(c[i].new_value, 32);
    }
    vmdb_hash_parts(h, out, parts, 2 + 3 * n);
    free(parts);
    return 0;
}

/* Sorts the changes, computes their root and copies the first
 * VMDB_REPAIR_LIST_MAX into `out` (in `ar`). 0 or VMDB_ENOMEM. */
static int diff_finish(diff_list *d, vmdb_hasher *h, vmdb_arena *ar, vmdb_admin_result *out)
{
    size_t k = d->n < VMDB_REPAIR_LIST_MAX ? d->n : VMDB_REPAIR_LIST_MAX;
    if (d->n) /* qsort and bsearch want a non-NULL array even for none */
        qsort(d->c, d->n, sizeof *d->c, cmp_change);
    int rc = diff_root(h, d->c, d->n, out->diff_root);
    out->nchanged = d->n;
    if (rc || k == 0)
        return rc;
    if (!(out->changes = vmdb_arena_alloc(ar, k * sizeof *out->changes)))
        return VMDB_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        vmdb_leaf_change *x = &out->changes[i];
        *x = d->c[i];
        if ((x->table && !(x->table = vmdb_arena_strndup(ar, x->table, strlen(x->table)))) ||
            (x->id && !(x->id = vmdb_arena_strndup(ar, x->id, strlen(x->id)))))
            return VMDB_ENOMEM;
    }
    out->nchanges = k;
    return 0;
}

/* ---- rebuilding the tree from the rows --------------------------------------------- */

/* Collects the leaves of vmdb_rows_scan into a growing array. */
typedef struct leaf_list {
    vmdb_smt_leaf *l;
    size_t n, cap;
    diff_list *diff; /* repair: the changes against the current tree (NULL: not tracked) */
    const char *table;
    bool serial;    /* the table has an id range: track its ids */
    bool has;       /* an id was seen */
    int64_t lo, hi; /* the lowest and highest id seen */
} leaf_list;

/* Appends one leaf. 0 or VMDB_ENOMEM. */
static int add_leaf(leaf_list *x, const uint8_t key[32], const uint8_t value[32])
{
    vmdb_smt_leaf *nl = vmdb_grow(x->l, &x->cap, x->n, sizeof *nl, 4096);
    if (!nl)
        return VMDB_ENOMEM;
    x->l = nl;
    memcpy(x->l[x->n].key, key, 32);
    memcpy(x->l[x->n].value, value, 32);
    x->n++;
    return 0;
}

static int collect_leaf(void *arg, const char *pk, int hash_rc, const uint8_t key[32],
                        const uint8_t value[32])
{
    leaf_list *x = arg;
    if (hash_rc != 0) {
        LOG_ERROR("rehash: row %.100s of %s cannot be canonicalised: %s", pk, x->table,
                  vmdb_error_last());
        return VMDB_EINVAL;
    }
    int64_t id = 0;
    if (x->serial && vmdb_ranges_parse_id(pk, &id)) {
        x->lo = !x->has || id < x->lo ? id : x->lo;
        x->hi = !x->has || id > x->hi ? id : x->hi;
        x->has = true;
    }
    int rc = diff_check(x->diff, key, value, x->table, pk);
    return rc ? rc : add_leaf(x, key, value);
}

/* Writes `v[0..n)` as the only rows of vmdb_id_ranges (inside the open
 * transaction). 0 or VMDB_EIO / VMDB_ENOMEM. */
static int store_ranges(PGconn *c, const vmdb_id_range *v, size_t n)
{
    vmdb_buf names = VMDB_BUF_INIT, los = VMDB_BUF_INIT, his = VMDB_BUF_INIT;
    const char *params[3];
    vmdb_pgstmt st;
    int rc = 0;
    if (vmdb_pg_cmd(c, "clear id ranges", "DELETE FROM vmdb_id_ranges", NULL))
        return VMDB_EIO;
    if (n && (rc = vmdb_ranges_upsert_stmt(v, n, &names, &los, &his, params, &st)) == 0) {
        PGresult *r = vmdb_pg_exec(c, st.what, st.sql, st.n, st.params, NULL);
        rc = r ? 0 : VMDB_EIO;
        PQclear(r);
    }
    vmdb_buf_free(&names);
    vmdb_buf_free(&los);
    vmdb_buf_free(&his);
    return rc;
}

/* Appends the leaves of the stored transition records (PROTOCOL.md §14.2):
 * not rows, so a rebuild takes them from vmdb_transitions. With `diff`, a
 * record row edited or added behind vmdb's back is a change like an edited
 * row (table "vmdb_transitions", id its seq); a deleted one shows as a
 * removed key. 0, VMDB_EIO, VMDB_ENOMEM. */
static int add_stored_transitions(PGconn *c, vmdb_hasher *h, diff_list *diff, leaf_list *x)
{
    vmdb_transition_row *v = NULL;
    size_t n = 0;
    int rc = vmdb_transitions_load(c, &v, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t key[32], value[32];
        char id[24];
        vmdb_transitions_leaf(h, v[i].seq, VMDB_SLICE(v[i].record, v[i].len), key, value);
        snprintf(id, sizeof id, "%" PRIu64, v[i].seq);
        rc = diff_check(diff, key, value, "vmdb_transitions", id);
        rc = rc ? rc : add_leaf(x, key, value);
    }
    vmdb_transitions_rows_free(v, n);
    return rc;
}

/* Rebuilds all leaves from the rows of every model of `reg`, inside the
 * open transaction: deletes vmdb_leaves, inserts the new ones and returns
 * them sorted in *out (malloc'ed). The id range of each serial table is
 * recomputed from its rows as they are (none for a table without rows),
 * stored in vmdb_id_ranges, its leaf added, and returned in *ranges
 * (malloc'ed). The leaves of the stored transition records are added as
 * they are stored. With `diff`, every leaf that differs from the current tree
 * is recorded there (the removed ones are the caller's). 0, VMDB_EIO, VMDB_ENOMEM, VMDB_EINVAL (a
 * row that cannot be canonicalised). */
static int rehash(PGconn *c, vmdb_hasher *h, const vmdb_registry *reg, diff_list *diff,
                  vmdb_smt_leaf **out, size_t *nout, vmdb_id_range **ranges, size_t *nranges)
{
    leaf_list x;
    vmdb_id_range *rg = calloc(reg->n ? reg->n : 1, sizeof *rg);
    size_t nrg = 0;
    int rc = rg ? 0 : VMDB_ENOMEM;
    memset(&x, 0, sizeof x);
    x.diff = diff;
    *out = NULL;
    *nout = 0;
    *ranges = NULL;
    *nranges = 0;
    if (rc == 0 && vmdb_pg_cmd(c, "clear leaves", "DELETE FROM vmdb_leaves", NULL))
        rc = VMDB_EIO;
    for (size_t i = 0; rc == 0 && i < reg->n; i++) {
        const vmdb_model *m = &reg->models[i];
        x.table = m->table;
        x.serial = vmdb_ranges_applies(m);
        x.has = false;
        rc = vmdb_rows_scan(c, h, m, NULL, collect_leaf, &x);
        if (rc == 0 && x.has) {
            uint8_t key[32], value[32];
            snprintf(rg[nrg].table, sizeof rg[nrg].table, "%s", m->table);
            rg[nrg].lo = x.lo;
            rg[nrg].hi = x.hi;
            rc = vmdb_ranges_leaf(h, rg[nrg].table, x.lo, x.hi, key, value);
            rc = rc ? rc : diff_check(diff, key, value, m->table, NULL);
            rc = rc ? rc : add_leaf(&x, key, value);
            nrg++;
        }
    }
    rc = rc ? rc : add_stored_transitions(c, h, diff, &x);
    rc = rc ? rc : store_ranges(c, rg, nrg);
    if (rc == 0) {
        qsort(x.l, x.n, sizeof *x.l, cmp_leaf);
        for (size_t i = 1; i < x.n && rc == 0; i++)
            if (memcmp(x.l[i - 1].key, x.l[i].key, 32) == 0)
                rc = VMDB_EINVAL; /* cannot happen with length-prefixed keys */
    }
    if (rc == 0 && x.n)
        rc = vmdb_pg_copy_leaves(c, x.l, x.n);
    if (rc) {
        free(x.l);
        free(rg);
        return rc;
    }
    *out = x.l;
    *nout = x.n;
    *ranges = rg;
    *nranges = nrg;
    return 0;
}

/* `leaves` (sorted) with `leaf` inserted at its place, malloc'ed in *out.
 * VMDB_ENOMEM, VMDB_EINVAL (the key is there already: a record row stored
 * ahead of the chain). */
static int insert_leaf(const vmdb_smt_leaf *leaves, size_t n, const vmdb_smt_leaf *leaf,
                       vmdb_smt_leaf **out)
{
    size_t at = 0;
    while (at < n && memcmp(leaves[at].key, leaf->key, 32) < 0)
        at++;
    if (at < n && memcmp(leaves[at].key, leaf->key, 32) == 0)
        return VMDB_EINVAL;
    vmdb_smt_leaf *v = malloc((n + 1) * sizeof *v);
    if (!v)
        return VMDB_ENOMEM;
    if (at)
        memcpy(v, leaves, at * sizeof *v);
    v[at] = *leaf;
    if (n > at)
        memcpy(v + at + 1, leaves + at, (n - at) * sizeof *v);
    *out = v;
    return 0;
}

/* The record of transition `tr` as header `seq` (PROTOCOL.md §14.2), whose
 * tree will hold `n` rebuilt leaves and the record's own: its leaf, in
 * vmdb_leaves too (inside the open transaction), and `rec` its bytes. 0,
 * VMDB_EIO, VMDB_ENOMEM. */
static int make_record(const vmdb_parts *p, PGconn *c, vmdb_hasher *h, vmdb_transition_in *tr,
                       uint64_t seq, size_t n, vmdb_buf *rec, vmdb_smt_leaf *leaf)
{
    tr->seq = seq;
    vmdb_versions_latest(p->versions, NULL, tr->old_root, &tr->leaves_before);
    tr->leaves_after = (uint64_t)n + 1;
    int rc = vmdb_transitions_record(rec, tr);
    if (rc)
        return rc;
    vmdb_transitions_leaf(h, seq, VMDB_SLICE(rec->ptr, rec->len), leaf->key, leaf->value);
    return vmdb_pg_copy_leaves(c, leaf, 1);
}

/* Builds `leaves` as the next tree and COMMITs the open transaction with
 * the state row and a header of `kind` under `schema`; publishes on
 * success. With `tr`, the tree also holds the transition's record leaf,
 * and the record and its proof against the new root are stored in
 * vmdb_transitions in the same transaction (PROTOCOL.md §14.2). Rolls back
 * on failure. 0 with *seq_out and root; VMDB_EBUSY when the chain cannot be
 * extended, VMDB_E* otherwise. */
static int commit_rebuilt(const vmdb_parts *p, PGconn *c, vmdb_hasher *h,
                          const vmdb_smt_leaf *leaves, size_t n, const char *schema_hex,
                          const char *kind, vmdb_transition_in *tr, uint64_t *seq_out,
                          uint8_t root[32])
{
    uint64_t seq;
    uint8_t schema[32] = {0};
    vmdb_sheader tip, sh;
    vmdb_buf rec = VMDB_BUF_INIT;
    vmdb_smt_leaf leaf, *all = NULL;
    vmdb_proof *proof = NULL;
    bool built = false;
    int rc = 0;
    /* Never move the state row backwards (another instance may be ahead):
     * take its lock. */
    PGresult *sr = vmdb_pg_exec(
        c, "lock state", "SELECT seq FROM vmdb_state WHERE id = 1 FOR UPDATE", 0, NULL, NULL);
    if (!sr || PQntuples(sr) != 1) {
        PQclear(sr);
        rc = VMDB_EIO;
        goto fail;
    }
    PQclear(sr);
    /* The verified header chain says where the history is; the state row
     * is only a copy (the host may have edited it). */
    vmdb_versions_latest(p->versions, &seq, NULL, NULL);
    if (vmdb_chain_tip(p->chain, &tip))
        seq = tip.h.seq;
    if (schema_hex && strlen(schema_hex) == 64)
        vmdb_hex_decode(schema, 32, schema_hex, 64);
    if (tr) {
        if ((rc = make_record(p, c, h, tr, seq + 1, n, &rec, &leaf)) != 0 ||
            (rc = insert_leaf(leaves, n, &leaf, &all)) != 0)
            goto fail;
        leaves = all;
        n++;
    }
    if ((rc = vmdb_versions_build(p->versions, leaves, n)) != 0)
        goto fail;
    built = true;
    if (tr) {
        /* The proof of the record against the tree of this header, kept
         * with it: that tree is not kept for long. */
        if (!(proof = malloc(sizeof *proof))) {
            rc = VMDB_ENOMEM;
            goto fail;
        }
        vmdb_smt_prove(vmdb_versions_tree(p->versions), vmdb_versions_pending(p->versions), h,
                       leaf.key, proof, NULL);
        if ((rc = vmdb_transitions_store(c, seq + 1, VMDB_SLICE(rec.ptr, rec.len), proof)) != 0)
            goto fail;
    }
    vmdb_versions_pending_root(p->versions, root);
    vmdb_versions_committing(p->versions, seq + 1);
    if ((rc = vmdb_chain_commit(p->chain, c, h, seq + 1, root, schema, kind, NULL, 0, &sh)))
        goto fail;
    vmdb_versions_publish(p->versions, seq + 1);
    vmdb_chain_advance(p->chain, h, &sh);
    /* Admin transitions also refresh the file itself: after a repair that
     * re-blessed a missing file, the file must exist again. A failure here
     * loses nothing (the journal holds the same state) and is logged. */
    if (vmdb_chain_checkpoint(p->chain, h) != 0)
        LOG_WARN("trust: trusted_state.json not refreshed after %s", kind);
    /* A forced transition is anchored at once, as the seed's forced set. */
    vmdb_chain_anchor_soon(p->chain);
    *seq_out = seq + 1;
    goto done;
fail:
    if (built)
        vmdb_versions_discard(p->versions);
    rollback(c);
done:
    vmdb_buf_free(&rec);
    free(all);
    free(proof);
    return rc;
}

/* The names of the tables of `reg`, sorted ascending (byte-wise), for a
 * transition record; the strings are the registry's. NULL when out of
 * memory (or none: *n 0). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **table_names(const vmdb_registry *reg, size_t *n)
{
    *n = 0;
    const char **v = malloc((reg && reg->n ? reg->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; reg && i < reg->n; i++)
        v[i] = reg->models[i].table;
    *n = reg ? reg->n : 0;
    qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

/* Clear and reset keep the transition records (history, not rows): their
 * leaves, each checked against the current tree (a record row edited
 * behind vmdb's back refuses the transition: a repair lists it), written
 * back to vmdb_leaves, which the caller emptied. *out is malloc'ed and
 * sorted. 0, or fills `fail` with `what` failed. */
static int keep_transitions(const vmdb_parts *p, PGconn *c, vmdb_hasher *h, const char *what,
                            vmdb_smt_leaf **out, size_t *nout, vmdb_fail *fail)
{
    leaf_list x;
    diff_list d;
    memset(&x, 0, sizeof x);
    memset(&d, 0, sizeof d);
    d.tree = vmdb_versions_tree(p->versions);
    d.view = vmdb_versions_base(p->versions);
    *out = NULL;
    *nout = 0;
    int rc = add_stored_transitions(c, h, &d, &x);
    if (rc == 0 && d.n) {
        LOG_ERROR("%s: %zu stored transition records (vmdb_transitions) differ from the tree", what,
                  d.n);
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTEGRITY,
                           "the stored transition records (vmdb_transitions) differ from the "
                           "tree; see /bootstrap/repair-roots with dry_run; nothing was changed");
        goto done;
    }
    if (rc == 0 && x.n) {
        qsort(x.l, x.n, sizeof *x.l, cmp_leaf);
        rc = vmdb_pg_copy_leaves(c, x.l, x.n);
    }
    if (rc) {
        rc = vmdb_fail_set(fail, rc == VMDB_ENOMEM ? VMDB_FAIL_INTERNAL : VMDB_FAIL_DATABASE,
                           "%s failed; nothing was changed", what);
        goto done;
    }
    *out = x.l;
    *nout = x.n;
    x.l = NULL;
done:
    free(x.l);
    diff_free(&d);
    return rc;
}

/* ---- apply-schema ------------------------------------------------------------ */

/* Creates the tables of `spec` and registers them (inside the open
 * transaction). 0, or fills `fail`. */
static int register_models(PGconn *c, const vmdb_registry *spec, vmdb_fail *fail)
{
    vmdb_buf cols = VMDB_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < spec->n; i++) {
        const vmdb_model *m = &spec->models[i];
        char state[6];
        if (vmdb_pg_cmd(c, "create table", m->ddl, state)) {
            bool bad = state[0] == '4' && state[1] == '2';
            rc = vmdb_fail_set(fail, bad ? VMDB_FAIL_INVALID_SCHEMA : VMDB_FAIL_DATABASE,
                               "Failed creating table '%s'", m->table);
            break;
        }
        cols.len = 0;
        if (vmdb_model_columns_json(m, &cols) || vmdb_sb_cstr(&cols)) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
            break;
        }
        const char *p[5] = {m->table, m->pk, vmdb_pkkind_stored_name(m->pk_kind),
                            (const char *)cols.ptr, m->ddl};
        PGresult *r = vmdb_pg_exec(
            c, "register model",
            "INSERT INTO verifiable_models (table_name, primary_key_field, primary_key_kind, "
            "columns, create_table_sql, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, now()) "
            "ON CONFLICT (table_name) DO UPDATE SET primary_key_field = "
            "EXCLUDED.primary_key_field, "
            "primary_key_kind = EXCLUDED.primary_key_kind, columns = EXCLUDED.columns, "
            "create_table_sql = EXCLUDED.create_table_sql, updated_at = now()",
            5, p, NULL);
        if (!r)
            rc =
                vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "apply-schema failed; nothing was changed");
        PQclear(r);
    }
    vmdb_buf_free(&cols);
    return rc;
}

/* Drops every registered table and forgets the registry (a reset). */
static int drop_models(PGconn *c, vmdb_fail *fail)
{
    vmdb_buf sql = VMDB_BUF_INIT;
    int rc = 0;
    PGresult *r =
        vmdb_pg_exec(c, "list models", "SELECT table_name FROM verifiable_models", 0, NULL, NULL);
    if (!r)
        return vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "apply-schema failed; nothing was changed");
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *t = PQgetvalue(r, i, 0);
        if (!vmdb_ident_valid(t, strlen(t)))
            continue;
        sql.len = 0;
        if (vmdb_sb_puts(&sql, "DROP TABLE IF EXISTS ") || vmdb_sb_ident(&sql, t) ||
            vmdb_sb_puts(&sql, " CASCADE") || vmdb_sb_cstr(&sql))
            rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        else if (vmdb_pg_cmd(c, "drop table", (const char *)sql.ptr, NULL))
            rc =
                vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "apply-schema failed; nothing was changed");
    }
    PQclear(r);
    vmdb_buf_free(&sql);
    if (rc == 0 && vmdb_pg_cmd(c, "reset registry",
                               "DELETE FROM vmdb_leaves; DELETE FROM vmdb_id_ranges; "
                               "DELETE FROM verifiable_models; "
                               "DELETE FROM verifiable_registry_meta WHERE key = 'schema_hash'",
                               NULL))
        rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "apply-schema failed; nothing was changed");
    return rc;
}

static int do_apply(void *arg, PGconn *c, vmdb_hasher *h)
{
    admin_job *j = arg;
    const vmdb_parts *p = &j->e->parts;
    vmdb_admin_result *out = j->out;
    vmdb_fail *fail = &out->fail;
    vmdb_registry *spec = j->spec;
    vmdb_buf names = VMDB_BUF_INIT;
    PGresult *r = NULL;
    bool begun = false;
    int rc = begin_transition(p, c, fail);
    if (rc)
        return rc;
    begun = true;
    r = vmdb_pg_exec(c, "read schema hash",
                     "SELECT value FROM verifiable_registry_meta WHERE key = 'schema_hash'", 0,
                     NULL, NULL);
    if (!r)
        goto dberr;
    out->reset = j->force || PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 0), spec->schema_hash);
    PQclear(r);
    /* Never adopt or drop a table vmdb did not create. */
    const char **tn = vmdb_arena_alloc(j->ar, (spec->n ? spec->n : 1) * sizeof *tn);
    if (!tn) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < spec->n; i++) {
        /* Copies: the answer is rendered after `spec` may be gone. */
        const char *t = spec->models[i].table;
        if (!(tn[i] = vmdb_arena_strndup(j->ar, t, strlen(t)))) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
            goto done;
        }
    }
    if (vmdb_pg_text_array(&names, tn, spec->n)) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    const char *p1[1] = {(const char *)names.ptr};
    r = vmdb_pg_exec(c, "find unmanaged tables",
                     "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                     "'public' AND table_name = ANY($1::text[]) AND table_name NOT IN (SELECT "
                     "table_name FROM verifiable_models) ORDER BY 1",
                     1, p1, NULL);
    if (!r)
        goto dberr;
    if (PQntuples(r) > 0) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_TABLE_NOT_MANAGED,
                           "table '%.64s' exists and was not created by vmdb; it is left untouched",
                           PQgetvalue(r, 0, 0));
        PQclear(r);
        goto done;
    }
    PQclear(r);
    if ((out->reset && (rc = drop_models(c, fail)) != 0) ||
        (rc = register_models(c, spec, fail)) != 0)
        goto done;
    const char *ph[1] = {spec->schema_hash};
    r = vmdb_pg_exec(c, "store schema hash",
                     "INSERT INTO verifiable_registry_meta (key, value) VALUES ('schema_hash', $1) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                     1, ph, NULL);
    if (!r)
        goto dberr;
    PQclear(r);
    if (out->reset) {
        /* The tables are gone with their leaves; the transition records
         * stay (drop_models emptied vmdb_leaves). */
        vmdb_smt_leaf *kept = NULL;
        size_t nkept = 0, nt = 0;
        if ((rc = keep_transitions(p, c, h, "apply-schema", &kept, &nkept, fail)) != 0)
            goto done;
        const char **tables = table_names(spec, &nt);
        vmdb_transition_in tr = {.kind = "reset", .tables = tables, .ntables = nt};
        begun = false;
        int crc = tables ? commit_rebuilt(p, c, h, kept, nkept, spec->schema_hash, "reset", &tr,
                                          &out->seq, out->root)
                         : VMDB_ENOMEM;
        if (!tables)
            rollback(c);
        free(kept);
        free(tables);
        if (crc)
            goto dberr;
        vmdb_ranges_replace(p->ranges, NULL, 0); /* the ranges went with the rows */
        vmdb_status_repaired(p->status);
        LOG_INFO("apply-schema: reset performed, schema %s, seq %llu", spec->schema_hash,
                 (unsigned long long)out->seq);
    } else {
        begun = false;
        if (vmdb_pg_cmd(c, "commit", "COMMIT", NULL))
            goto dberr;
    }
    vmdb_catalog_set(p->catalog, vmdb_registry_ref(spec));
    snprintf(out->schema_hash, sizeof out->schema_hash, "%s", spec->schema_hash);
    out->names = tn;
    out->nnames = spec->n;
    goto done;
dberr:
    rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "apply-schema failed; nothing was changed");
done:
    if (begun)
        rollback(c);
    vmdb_buf_free(&names);
    return rc;
}

/* ---- clear-data --------------------------------------------------------------- */

static int do_clear(void *arg, PGconn *c, vmdb_hasher *h)
{
    admin_job *j = arg;
    const vmdb_parts *p = &j->e->parts;
    vmdb_fail *fail = &j->out->fail;
    vmdb_registry *reg = NULL;
    vmdb_buf sql = VMDB_BUF_INIT;
    vmdb_smt_leaf *kept = NULL;
    const char **tables = NULL;
    size_t nkept = 0, nt = 0;
    bool begun = false;
    int rc = begin_transition(p, c, fail);
    if (rc)
        return rc;
    begun = true;
    if (vmdb_catalog_load(c, &reg))
        goto dberr;
    for (size_t i = 0; i < reg->n; i++) {
        sql.len = 0;
        if (vmdb_sb_puts(&sql, "DELETE FROM ") || vmdb_sb_ident(&sql, reg->models[i].table) ||
            vmdb_sb_cstr(&sql) || vmdb_pg_cmd(c, "clear table", (const char *)sql.ptr, NULL))
            goto dberr;
    }
    if (vmdb_pg_cmd(c, "clear leaves", "DELETE FROM vmdb_leaves; DELETE FROM vmdb_id_ranges", NULL))
        goto dberr;
    /* The rows go, the transition records stay. */
    if ((rc = keep_transitions(p, c, h, "clear-data", &kept, &nkept, fail)) != 0)
        goto done;
    if (!(tables = table_names(reg, &nt)))
        goto dberr;
    vmdb_transition_in tr = {.kind = "clear", .tables = tables, .ntables = nt};
    begun = false;
    /* Clearing rows does not change the schema: the one in force. */
    vmdb_registry *cur = vmdb_catalog_get(p->catalog);
    int crc = commit_rebuilt(p, c, h, kept, nkept, cur ? cur->schema_hash : NULL, "clear", &tr,
                             &j->out->seq, j->out->root);
    vmdb_registry_unref(cur);
    if (crc)
        goto dberr;
    vmdb_ranges_replace(p->ranges, NULL, 0); /* the ranges went with the rows */
    vmdb_status_repaired(p->status);
    LOG_INFO("clear-data: all managed rows removed, seq %llu", (unsigned long long)j->out->seq);
    goto done;
dberr:
    rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "Failed clearing DB data; nothing was changed");
done:
    if (begun)
        rollback(c);
    vmdb_registry_unref(reg);
    vmdb_buf_free(&sql);
    free(kept);
    free(tables);
    return rc;
}

/* ---- repair-roots --------------------------------------------------------------- */

static int do_repair(void *arg, PGconn *c, vmdb_hasher *h)
{
    admin_job *j = arg;
    const vmdb_parts *p = &j->e->parts;
    vmdb_admin_result *out = j->out;
    vmdb_fail *fail = &out->fail;
    vmdb_registry *reg = NULL;
    vmdb_smt_leaf *leaves = NULL;
    vmdb_id_range *ranges = NULL;
    size_t n = 0, nranges = 0;
    bool begun = false;
    char ho[65], hn[65], hd[65];
    diff_list diff;
    memset(&diff, 0, sizeof diff);
    vmdb_versions_latest(p->versions, NULL, out->old_root, NULL);
    int rc = begin_transition(p, c, fail);
    if (rc)
        return rc;
    begun = true;
    if (vmdb_catalog_load(c, &reg)) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "Failed loading model registry from DB");
        goto done;
    }
    if (reg->n == 0) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_NO_MODELS,
                           "No models found in verifiable_models; nothing to repair.");
        goto done;
    }
    diff.tree = vmdb_versions_tree(p->versions);
    diff.view = vmdb_versions_base(p->versions);
    if ((rc = rehash(c, h, reg, &diff, &leaves, &n, &ranges, &nranges))) {
        rc = rc == VMDB_ENOMEM
                 ? vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory")
                 : vmdb_fail_set(fail, rc == VMDB_EINVAL ? VMDB_FAIL_INTERNAL : VMDB_FAIL_DATABASE,
                                 "Failed rebuilding SMT from DB (see the server log)");
        goto done;
    }
    /* What the rebuilt tree would change: never committed unless the
     * request accepted exactly these changes (a repair must not silently
     * bless rows edited behind vmdb's back). */
    diff.fresh = leaves;
    diff.nfresh = n;
    if (vmdb_smt_each(diff.tree, diff.view, diff_removed, &diff) ||
        diff_finish(&diff, h, j->ar, out)) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    out->leaves = n;
    if (j->repair->dry_run) {
        out->dry_run = true;
        goto done; /* rolled back there */
    }
    if (j->repair->has_expect && memcmp(j->repair->expect_diff_root, out->diff_root, 32) != 0) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_REPAIR_CHANGES_ROWS,
                           "the repair's changes differ from the expected diff root (%llu "
                           "changes now); nothing was changed",
                           (unsigned long long)out->nchanged);
        goto done;
    }
    if (out->nchanged && !j->repair->accept_changes) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_REPAIR_CHANGES_ROWS,
                           "the rebuilt tree differs from the current one on %llu leaves (rows "
                           "changed outside vmdb?); review data.changes and repeat with "
                           "\"accept_changes\": true and \"expect_diff_root\"; nothing was "
                           "changed",
                           (unsigned long long)out->nchanged);
        goto done;
    }
    vmdb_hex_encode(hd, out->diff_root, 32);
    if (out->nchanged)
        LOG_WARN("repair-roots: accepting %llu changed leaves, diff root %s",
                 (unsigned long long)out->nchanged, hd);
    begun = false;
    vmdb_transition_in tr = {.kind = "repair", .diff = out};
    if ((rc = commit_rebuilt(p, c, h, leaves, n, reg->schema_hash, "repair", &tr, &out->seq,
                             out->root)) != 0) {
        if (rc == VMDB_EBUSY)
            rc = vmdb_fail_set(fail, VMDB_FAIL_HISTORY_BROKEN,
                               "the signed header chain in the database is broken; restore the "
                               "database from a backup");
        else
            rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE,
                               "Failed rebuilding SMT from DB (see the server log)");
        goto done;
    }
    vmdb_catalog_set(p->catalog, vmdb_registry_ref(reg));
    if (vmdb_ranges_replace(p->ranges, ranges, nranges) != 0)
        LOG_ERROR("repair-roots: out of memory keeping the id ranges");
    vmdb_status_repaired(p->status);
    out->leaves = n;
    vmdb_hex_encode(ho, out->old_root, 32);
    vmdb_hex_encode(hn, out->root, 32);
    LOG_WARN("repair-roots: the tree was rebuilt from the rows as they are now (%zu leaves): old "
             "root %s, new root %s, seq %llu",
             n, ho, hn, (unsigned long long)out->seq);
done:
    if (begun)
        rollback(c);
    free(leaves);
    free(ranges);
    diff_free(&diff);
    vmdb_registry_unref(reg);
    return rc;
}

/* ---- migrate -------------------------------------------------------------------- */

typedef struct mig_file {
    char *name;
    size_t vlen; /* length of the version prefix */
} mig_file;

static int cmp_mig(const void *a, const void *b)
{
    const mig_file *x = a, *y = b;
    if (x->vlen != y->vlen)
        return x->vlen < y->vlen ? -1 : 1; /* numeric order of digit strings */
    int c = strncmp(x->name, y->name, x->vlen);
    return c ? c : strcmp(x->name, y->name);
}

/* The migration files of `dir` (NNN_name.sql), in version order. A
 * missing directory is no files. 0 or VMDB_ENOMEM. */
static int list_migrations(const char *dir, mig_file **out, size_t *nout)
{
    mig_file *files = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    DIR *d = opendir(dir);
    *out = NULL;
    *nout = 0;
    if (!d) {
        LOG_INFO("migrate: no migrations directory '%s'; only rehashing", dir);
        return 0;
    }
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        const char *nm = de->d_name;
        size_t len = strlen(nm), v = 0;
        while (nm[v] >= '0' && nm[v] <= '9')
            v++;
        if (v == 0 || nm[v] != '_' || len < v + 6 || strcmp(nm + len - 4, ".sql") != 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            mig_file *nf = realloc(files, nc * sizeof *nf);
            if (!nf) {
                rc = VMDB_ENOMEM;
                break;
            }
            files = nf;
            cap = nc;
        }
        if (!(files[n].name = strdup(nm)))
            rc = VMDB_ENOMEM;
        else
            files[n++].vlen = v;
    }
    closedir(d);
    if (rc == 0)
        qsort(files, n, sizeof *files, cmp_mig);
    *out = files;
    *nout = n;
    return rc;
}

static const char *info_type_to_col(const char *t)
{
    static const char *const map[][2] = {{"integer", "int"},
                                         {"bigint", "big_int"},
                                         {"boolean", "bool"},
                                         {"text", "text"},
                                         {"uuid", "uuid"},
                                         {"jsonb", "jsonb"},
                                         {"timestamp with time zone", "timestamptz"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(t, map[i][0]) == 0)
            return map[i][1];
    return t;
}

/* Rewrites verifiable_models.columns from the live catalogue (seed §1.9 step 4),
 * keeping the unique flag of columns that were declared. */
static int refresh_columns(PGconn *c, const vmdb_registry *reg)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < reg->n; i++) {
        const vmdb_model *m = &reg->models[i];
        const char *p[1] = {m->table};
        PGresult *r = vmdb_pg_exec(c, "read columns",
                                   /* format_type, not information_schema's data_type:
                                    * that says "ARRAY" and "USER-DEFINED" where the
                                    * hashing needs "bigint[]" and the type's name. */
                                   "SELECT a.attname, format_type(a.atttypid, NULL), "
                                   "NOT a.attnotnull FROM pg_attribute a WHERE a.attrelid = "
                                   "to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT "
                                   "a.attisdropped ORDER BY a.attnum",
                                   1, p, NULL);
        if (!r)
            return VMDB_EIO;
        vmdb_buf cols = VMDB_BUF_INIT;
        size_t nc = 0;
        rc = vmdb_buf_putc(&cols, '[');
        for (int k = 0; rc == 0 && k < PQntuples(r); k++) {
            const char *name = PQgetvalue(r, k, 0);
            if (strcmp(name, m->pk) == 0)
                continue;
            bool uniq = false;
            for (size_t j = 0; j < m->ncols; j++)
                if (strcmp(m->cols[j].name, name) == 0)
                    uniq = m->cols[j].unique;
            rc = nc++ ? vmdb_buf_putc(&cols, ',') : 0;
            rc = rc ? rc : vmdb_sb_puts(&cols, "{\"col_type\":");
            rc = rc ? rc : vmdb_sb_jstrz(&cols, info_type_to_col(PQgetvalue(r, k, 1)));
            rc = rc ? rc : vmdb_sb_puts(&cols, ",\"name\":");
            rc = rc ? rc : vmdb_sb_jstrz(&cols, name);
            rc = rc ? rc
                    : vmdb_sb_printf(&cols, ",\"nullable\":%s,\"unique\":%s}",
                                     PQgetvalue(r, k, 2)[0] == 't' ? "true" : "false",
                                     uniq ? "true" : "false");
        }
        PQclear(r);
        rc = rc ? rc : vmdb_buf_putc(&cols, ']');
        rc = rc ? rc : vmdb_sb_cstr(&cols);
        if (rc == 0) {
            const char *q[2] = {m->table, (const char *)cols.ptr};
            r = vmdb_pg_exec(c, "update columns",
                             "UPDATE verifiable_models SET columns = $2::jsonb, updated_at = now() "
                             "WHERE table_name = $1",
                             2, q, NULL);
            rc = r ? 0 : VMDB_EIO;
            PQclear(r);
        }
        vmdb_buf_free(&cols);
    }
    return rc;
}

/* Applies the files not applied yet, in order (inside the open
 * transaction); their names go to `applied`. 0, or fills `fail`. */
static int apply_files(admin_job *j, PGconn *c, vmdb_hasher *h, const mig_file *files, size_t n,
                       vmdb_strs *applied)
{
    const char *dir = j->e->migrations_dir;
    vmdb_fail *fail = &j->out->fail;
    vmdb_buf content = VMDB_BUF_INIT, path = VMDB_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t sum[32];
        char hex[65], version[32], state[6];
        path.len = 0;
        content.len = 0;
        if (vmdb_sb_printf(&path, "%s/%s", dir, files[i].name) || vmdb_sb_cstr(&path)) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
            break;
        }
        if (vmdb_file_read((const char *)path.ptr, &content, 16u << 20)) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_MIGRATION_FAILED, "cannot read migration %s",
                               files[i].name);
            break;
        }
        vmdb_slice part = VMDB_SLICE(content.ptr, content.len);
        vmdb_hash_parts(h, sum, &part, 1);
        vmdb_hex_encode(hex, sum, 32);
        snprintf(version, sizeof version, "%.*s", (int)(files[i].vlen < 31 ? files[i].vlen : 31),
                 files[i].name);
        const char *p[3] = {version, files[i].name, hex};
        PGresult *r =
            vmdb_pg_exec(c, "read migration",
                         "SELECT checksum FROM vmdb_migrations WHERE version = $1", 1, p, NULL);
        if (!r) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE,
                               "Failed applying migrations; nothing was changed");
            break;
        }
        bool seen = PQntuples(r) > 0, same = seen && strcmp(PQgetvalue(r, 0, 0), hex) == 0;
        PQclear(r);
        if (seen && !same) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_MIGRATION_CHANGED,
                               "migration %s was changed after it was applied", files[i].name);
            break;
        }
        if (seen)
            continue;
        if (vmdb_pg_cmd(c, files[i].name, (const char *)content.ptr, state)) {
            rc = vmdb_fail_set(
                fail, VMDB_FAIL_MIGRATION_FAILED,
                "migration %s failed (SQLSTATE %s); nothing was applied, see the server log",
                files[i].name, state[0] ? state : "?");
            break;
        }
        r = vmdb_pg_exec(
            c, "record migration",
            "INSERT INTO vmdb_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3, p,
            NULL);
        if (!r) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE,
                               "Failed applying migrations; nothing was changed");
            break;
        }
        PQclear(r);
        if (vmdb_strs_add(j->ar, applied, files[i].name)) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
            break;
        }
        LOG_INFO("migrate: applied %s", files[i].name);
    }
    vmdb_buf_free(&content);
    vmdb_buf_free(&path);
    return rc;
}

static int do_migrate(void *arg, PGconn *c, vmdb_hasher *h)
{
    admin_job *j = arg;
    const vmdb_parts *p = &j->e->parts;
    vmdb_admin_result *out = j->out;
    vmdb_fail *fail = &out->fail;
    mig_file *files = NULL;
    size_t nfiles = 0, n = 0;
    vmdb_strs applied = {0};
    vmdb_registry *reg = NULL;
    vmdb_smt_leaf *leaves = NULL;
    vmdb_id_range *ranges = NULL;
    size_t nranges = 0, nt = 0;
    const char **tables = NULL;
    vmdb_chain_view cv;
    bool begun = false;
    vmdb_versions_latest(p->versions, NULL, out->old_root, NULL);
    vmdb_chain_get(p->chain, &cv);
    memcpy(out->old_main, cv.main_root, 32);
    int rc = 0;
    if (list_migrations(j->e->migrations_dir, &files, &nfiles) != 0) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    if ((rc = begin_transition(p, c, fail)) != 0)
        goto done;
    begun = true;
    if ((rc = apply_files(j, c, h, files, nfiles, &applied)) != 0)
        goto done;
    /* The columns as the migrations left them, then the registry again. */
    if (vmdb_catalog_load(c, &reg) || refresh_columns(c, reg))
        goto dberr;
    vmdb_registry_unref(reg);
    reg = NULL;
    if (vmdb_catalog_load(c, &reg) || rehash(c, h, reg, NULL, &leaves, &n, &ranges, &nranges))
        goto dberr;
    if (!(tables = table_names(reg, &nt))) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    vmdb_transition_in tr = {.kind = "migrate",
                             .tables = tables,
                             .ntables = nt,
                             .migrations = applied.v,
                             .nmigrations = applied.n};
    begun = false;
    if (commit_rebuilt(p, c, h, leaves, n, reg->schema_hash, "migrate", &tr, &out->seq, out->root))
        goto dberr;
    vmdb_catalog_set(p->catalog, vmdb_registry_ref(reg));
    if (vmdb_ranges_replace(p->ranges, ranges, nranges) != 0)
        LOG_ERROR("migrate: out of memory keeping the id ranges");
    vmdb_status_repaired(p->status);
    out->names = applied.v;
    out->nnames = applied.n;
    out->leaves = n;
    goto done;
dberr:
    rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE, "Failed applying migrations; nothing was changed");
done:
    if (begun)
        rollback(c);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].name);
    free(files);
    free(leaves);
    free(ranges);
    free(tables);
    vmdb_registry_unref(reg);
    return rc;
}

/* ---- upgrade from protocol v1 -------------------------------------------------- */

/* The projection protocol v1 used for `m` (PROTOCOL.md §12): the key and the
 * columns declared bigint or numeric as their text, every other column as
 * row_to_json writes it, no json substitution. `out` is `m` with that
 * projection (in `proj`). 0 or VMDB_ENOMEM. */
static int v1_model(const vmdb_model *m, vmdb_model *out, vmdb_buf *proj)
{
    bool text = m->pk_type == VMDB_T_BIGINT || m->pk_type == VMDB_T_NUMERIC;
    proj->len = 0;
    int rc = vmdb_sb_puts(proj, "t.");
    rc = rc ? rc : vmdb_sb_ident(proj, m->pk);
    rc = rc ? rc : vmdb_sb_puts(proj, text ? "::text AS " : " AS ");
    rc = rc ? rc : vmdb_sb_ident(proj, m->pk);
    for (size_t i = 0; rc == 0 && i < m->ncols; i++) {
        const vmdb_column *c = &m->cols[i];
        if (strcmp(c->name, m->pk) == 0)
            continue;
        text = c->type == VMDB_T_BIGINT || c->type == VMDB_T_NUMERIC;
        rc = vmdb_sb_puts(proj, ", t.");
        rc = rc ? rc : vmdb_sb_ident(proj, c->name);
        rc = rc ? rc : vmdb_sb_puts(proj, text ? "::text AS " : " AS ");
        rc = rc ? rc : vmdb_sb_ident(proj, c->name);
    }
    rc = rc ? rc : vmdb_sb_cstr(proj);
    *out = *m;
    out->proj = (char *)proj->ptr;
    out->json_cols = NULL;
    out->njson = 0;
    return rc;
}

/* The rows whose v1 leaf is not the one the tree holds (keys, sorted after
 * the scan, for bsearch). */
typedef struct v1_check {
    const vmdb_smt *tree;
    const vmdb_smt_view *view;
    uint8_t (*keys)[32];
    size_t n, cap;
    uint64_t rows;
} v1_check;

static int v1_row(void *arg, const char *pk, int hash_rc, const uint8_t key[32],
                  const uint8_t value[32])
{
    (void)pk;
    v1_check *x = arg;
    uint8_t tv[32];
    x->rows++;
    if (hash_rc == 0 && vmdb_smt_get(x->tree, x->view, key, tv) == 0 && memcmp(tv, value, 32) == 0)
        return 0;
    if (hash_rc != 0)
        return 0; /* v1 could not hash it, so a v1 tree cannot hold it: the v2 diff decides */
    uint8_t(*k)[32] = vmdb_grow(x->keys, &x->cap, x->n, 32, 64);
    if (!k)
        return VMDB_ENOMEM;
    x->keys = k;
    memcpy(x->keys[x->n++], key, 32);
    return 0;
}

static int cmp_key32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Whether `key` is the id-range leaf of a serial table of `reg`. */
static bool range_key_of(vmdb_hasher *h, const vmdb_registry *reg, const uint8_t key[32])
{
    for (size_t i = 0; i < reg->n; i++) {
        uint8_t k[32];
        const char *t = reg->models[i].table;
        if (vmdb_ranges_applies(&reg->models[i]) &&
            vmdb_range_key(h, k, VMDB_SLICE(t, strlen(t))) == 0 && memcmp(k, key, 32) == 0)
            return true;
    }
    return false;
}

/* The upgrade is the one moment both mappings are known: every row is
 * checked against the v1 tree before the upgrade header re-commits it, so
 * that a row edited behind vmdb's back is not blessed by a signed header.
 * `diff` holds the changes of the rehash (the v2 leaves against the tree).
 * A row passes when the tree holds its v1 leaf, or its v2 leaf (a row
 * written by this vmdb while the chain waited on v1). An id-range leaf may
 * change (it is rebuilt from the rows, as a repair does); nothing else may:
 * a row whose leaf is neither, a leaf without a row, a transition record
 * edited. Returns how many leaves fail; their row ids (at most 20) go to
 * ids/nids, their table to *table. */
static size_t upgrade_mismatches(vmdb_hasher *h, const vmdb_registry *reg, const v1_check *v1,
                                 const diff_list *diff, const char **ids, size_t *nids,
                                 const char **table)
{
    size_t bad = 0;
    *nids = 0;
    *table = "rows";
    for (size_t i = 0; i < diff->n; i++) {
        const vmdb_leaf_change *c = &diff->c[i];
        bool row = c->id && c->table && strcmp(c->table, "vmdb_transitions") != 0;
        bool ok = false;
        if (row)
            ok = v1->n == 0 || !bsearch(c->key, v1->keys, v1->n, 32, cmp_key32);
        else if (c->table && !c->id)
            ok = true; /* an id range, rebuilt from the rows */
        else if (!c->has_new)
            ok = range_key_of(h, reg, c->key); /* a table whose rows are all gone */
        if (ok)
            continue;
        bad++;
        if (c->id && *nids < 20) {
            ids[(*nids)++] = c->id;
            *table = c->table;
        }
    }
    return bad;
}

/* The reason writes are refused after a refused upgrade (vmdb_status). */
#define UPGRADE_REFUSED "the upgrade to protocol v2 was refused: "
#define UPGRADE_REMEDY "(repair with /bootstrap/repair-roots, then restart to upgrade)"

/* Rehashes every row (the rows were hashed under the v1 value mapping) and
 * commits the new root under the first v2 header, of kind upgrade, which
 * links to the last v1 header and whose history holds every v1 header
 * (PROTOCOL.md §12). Refused (the chain stays on v1) while writes are
 * refused, while an integrity violation is recorded, and when a row or a
 * leaf fails upgrade_mismatches: then the violation is recorded and writes
 * are refused until a repair (the next start upgrades). */
static int do_upgrade(void *arg, PGconn *c, vmdb_hasher *h)
{
    admin_job *j = arg;
    const vmdb_parts *p = &j->e->parts;
    vmdb_admin_result *out = j->out;
    vmdb_registry *reg = NULL;
    vmdb_smt_leaf *leaves = NULL;
    vmdb_id_range *ranges = NULL;
    size_t n = 0, nranges = 0;
    char ho[65], hn[65], msg[200];
    vmdb_block why;
    vmdb_status_view sv;
    diff_list diff;
    v1_check v1;
    vmdb_buf proj = VMDB_BUF_INIT;
    int rc = 0;
    memset(&diff, 0, sizeof diff);
    memset(&v1, 0, sizeof v1);
    if (vmdb_status_blocked(p->status, &why, msg, sizeof msg)) {
        LOG_WARN("upgrade: the chain stays on protocol v1 until writes are allowed (%s); the "
                 "upgrade runs at the next start",
                 msg);
        return 0;
    }
    vmdb_status_get(p->status, &sv);
    if (sv.violations) {
        LOG_ERROR("upgrade: the chain stays on protocol v1: %llu integrity violations are recorded "
                  "(see /health); the upgrade would re-commit those rows under a signed header. "
                  "Repair (/bootstrap/repair-roots) and restart to upgrade",
                  (unsigned long long)sv.violations);
        vmdb_status_set(p->status, VMDB_BLOCK_STATE,
                        UPGRADE_REFUSED "integrity violations are recorded " UPGRADE_REMEDY);
        return 0;
    }
    vmdb_versions_latest(p->versions, NULL, out->old_root, NULL);
    LOG_INFO("upgrade: the chain is on protocol v1; checking every row against the v1 tree and "
             "rehashing it for the v2 header");
    /* One snapshot for the check and the rehash. */
    if (vmdb_pg_cmd(c, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
    diff.tree = v1.tree = vmdb_versions_tree(p->versions);
    diff.view = v1.view = vmdb_versions_base(p->versions);
    rc = vmdb_catalog_load(c, &reg);
    for (size_t i = 0; rc == 0 && i < reg->n; i++) {
        vmdb_model m1;
        rc = v1_model(&reg->models[i], &m1, &proj);
        rc = rc ? rc : vmdb_rows_scan(c, h, &m1, NULL, v1_row, &v1);
    }
    if (rc == 0 && v1.n)
        qsort(v1.keys, v1.n, 32, cmp_key32);
    rc = rc ? rc : rehash(c, h, reg, &diff, &leaves, &n, &ranges, &nranges);
    diff.fresh = leaves;
    diff.nfresh = n;
    if (rc == 0)
        rc = vmdb_smt_each(diff.tree, diff.view, diff_removed, &diff);
    if (rc) {
        rollback(c);
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_DATABASE, "upgrade: rehashing the rows failed");
        goto done;
    }
    const char *ids[20], *table = NULL;
    size_t nids = 0, bad = upgrade_mismatches(h, reg, &v1, &diff, ids, &nids, &table);
    if (bad) {
        rollback(c);
        vmdb_status_violation(p->status, table,
                              "the upgrade to protocol v2 found leaves that differ from the rows "
                              "(the chain stays on v1)",
                              ids, nids);
        vmdb_status_set(p->status, VMDB_BLOCK_STATE,
                        UPGRADE_REFUSED "rows differ from the v1 tree " UPGRADE_REMEDY);
        LOG_ERROR("upgrade: refused, the chain stays on protocol v1: %zu of %llu rows and leaves "
                  "differ from the v1 tree (edited behind vmdb's back?); repair with "
                  "/bootstrap/repair-roots, then restart",
                  bad, (unsigned long long)v1.rows);
        goto done;
    }
    if ((rc = commit_rebuilt(p, c, h, leaves, n, reg->schema_hash, "upgrade", NULL, &out->seq,
                             out->root)) != 0) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_DATABASE, "upgrade: the commit failed");
        goto done;
    }
    vmdb_catalog_set(p->catalog, vmdb_registry_ref(reg));
    if (vmdb_ranges_replace(p->ranges, ranges, nranges) != 0)
        LOG_ERROR("upgrade: out of memory keeping the id ranges");
    vmdb_hex_encode(ho, out->old_root, 32);
    vmdb_hex_encode(hn, out->root, 32);
    LOG_WARN("upgrade: protocol v1 -> v2: header %llu (kind upgrade), %zu rows checked against the "
             "v1 tree and rehashed, old root %s, new root %s",
             (unsigned long long)out->seq, (size_t)v1.rows, ho, hn);
done:
    free(leaves);
    free(ranges);
    free(v1.keys);
    diff_free(&diff);
    vmdb_buf_free(&proj);
    vmdb_registry_unref(reg);
    return rc;
}

/* ---- the calls ------------------------------------------------------------------ */

static int run(vmdb_engine *e, vmdb_job_fn fn, admin_job *j)
{
    memset(j->out, 0, sizeof *j->out);
    int rc = vmdb_writer_run(e->writer, fn, j, &j->out->fail);
    return vmdb_fail_check(rc, &j->out->fail);
}

int vmdb_engine_apply_schema(vmdb_engine *e, vmdb_arena *ar, vmdb_registry *spec, bool force_reset,
                             vmdb_admin_result *out)
{
    admin_job j = {e, ar, out, spec, force_reset, NULL};
    int rc = run(e, do_apply, &j);
    vmdb_registry_unref(spec);
    return rc;
}

int vmdb_engine_clear(vmdb_engine *e, vmdb_admin_result *out)
{
    admin_job j = {e, NULL, out, NULL, false, NULL};
    return run(e, do_clear, &j);
}

int vmdb_engine_repair(vmdb_engine *e, vmdb_arena *ar, const vmdb_repair_opts *opts,
                       vmdb_admin_result *out)
{
    admin_job j = {e, ar, out, NULL, false, opts};
    return run(e, do_repair, &j);
}

int vmdb_engine_migrate(vmdb_engine *e, vmdb_arena *ar, vmdb_admin_result *out)
{
    admin_job j = {e, ar, out, NULL, false, NULL};
    return run(e, do_migrate, &j);
}

int vmdb_engine_upgrade(vmdb_engine *e)
{
    vmdb_admin_result out;
    admin_job j = {e, NULL, &out, NULL, false, NULL};
    if (!vmdb_chain_needs_upgrade(e->parts.chain))
        return 0;
    int rc = run(e, do_upgrade, &j);
    if (rc)
        LOG_ERROR("upgrade: failed (%s); the chain stays on protocol v1", out.fail.msg);
    return rc;
}
