/*
 * The writer thread: group commit. Concurrent write requests are gathered
 * into one PostgreSQL transaction, each inside its own SAVEPOINT so that a
 * failing request is rolled back alone. Old leaf values come from the tree
 * (never from PostgreSQL), new ones from the rows PostgreSQL returns, and
 * the rows a write replaces or deletes are first checked against the tree,
 * so a tampered row is reported instead of being re-blessed. The tree
 * changes only after COMMIT succeeded.
 */
#include "store/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/log.h"
#include "util/sb.h"

#define MAX_PARAMS 30000
#define MAX_ROWS_PER_STMT 1000

/* ---- batch overlay: key -> value/removed for changes made so far ------- */

typedef struct ov_ent {
    uint8_t key[32];
    uint8_t value[32];
    uint8_t state; /* 0 empty, 1 set, 2 removed */
} ov_ent;

typedef struct overlay {
    ov_ent *e;
    size_t cap, n;
} overlay;

static size_t ov_slot(const overlay *o, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, 8);
    size_t i = (size_t)h & (o->cap - 1);
    while (o->e[i].state && memcmp(o->e[i].key, key, 32) != 0)
        i = (i + 1) & (o->cap - 1);
    return i;
}

static int ov_put(overlay *o, const uint8_t key[32], const uint8_t *value)
{
    if ((o->n + 1) * 2 > o->cap) {
        overlay g = {calloc(o->cap ? o->cap * 2 : 256, sizeof(ov_ent)), o->cap ? o->cap * 2 : 256,
                     0};
        if (!g.e)
            return VMDB_ENOMEM;
        for (size_t i = 0; i < o->cap; i++)
            if (o->e[i].state) {
                g.e[ov_slot(&g, o->e[i].key)] = o->e[i];
                g.n++;
            }
        free(o->e);
        *o = g;
    }
    ov_ent *x = &o->e[ov_slot(o, key)];
    if (!x->state) {
        memcpy(x->key, key, 32);
        o->n++;
    }
    x->state = value ? 1 : 2;
    if (value)
        memcpy(x->value, value, 32);
    return 0;
}

static void ov_clear(overlay *o)
{
    if (o->e)
        memset(o->e, 0, o->cap * sizeof(ov_ent));
    o->n = 0;
}

/* Per group. */
typedef struct wgroup {
    vmdb_engine *e;
    const vmdb_smt_view *view; /* the version the group starts from */
    overlay ov;
    vmdb_smt_change *pend; /* changes of the request being run */
    size_t npend, cappend;
    vmdb_hasher *h;
    vmdb_buf jcs;
    bool savepoint_pending; /* the request's SAVEPOINT goes out with its first statement */
    bool savepoint_ok;      /* it was set: a failure can roll back to it */
    /* Single instance: BEGIN and the state-row lock go out with the group's
     * first statement, and the group stops if the row is not at `seq`. */
    bool begin_pending, begun;
    bool state_moved, begin_failed;
    uint64_t seq;
} wgroup;

/* Runs a statement of the current request; the request's SAVEPOINT travels
 * in the same round trip as its first statement (pipeline mode). */
static PGresult *wexec(wgroup *g, const char *what, const char *sql, int n,
                       const char *const *params, char state[6])
{
    if (!g->savepoint_pending)
        return vmdb_pg_exec(g->e->wconn, what, sql, n, params, state);
    g->savepoint_pending = false;
    vmdb_pgstmt st[4] = {
        {"begin", "BEGIN", 0, NULL},
        {"lock state", "SELECT seq FROM vmdb_state WHERE id = 1 FOR UPDATE", 0, NULL},
        {"savepoint", "SAVEPOINT r", 0, NULL},
        {what, sql, n, params}};
    PGresult *res[4] = {NULL, NULL, NULL, NULL};
    size_t off = g->begin_pending ? 0 : 2;
    int f = vmdb_pg_pipeline(g->e->wconn, st + off, 4 - off, res + off, state);
    if (f >= 0)
        f += (int)off;
    g->savepoint_ok = f < 0 || f > 2;
    PGresult *out = f < 0 ? res[3] : NULL;
    if (off == 0) {
        g->begin_pending = false;
        g->begun = true;
        if (!res[1] || PQntuples(res[1]) != 1) {
            g->begin_failed = true;
        } else if (strtoull(PQgetvalue(res[1], 0, 0), NULL, 10) != g->seq) {
            g->state_moved = true;
        }
        PQclear(res[0]);
        PQclear(res[1]);
        if (g->begin_failed || g->state_moved) {
            /* Nothing of this group may be judged against a stale tree. */
            out = NULL;
            state[0] = 0;
        }
    }
    PQclear(res[2]);
    if (!out)
        PQclear(res[3]);
    return out;
}

/* The value of `key` after the group's earlier requests, if they changed
 * it: 1 present (value filled), 0 deleted, -1 not changed by the group. */
static int overlay_value(wgroup *g, const uint8_t key[32], uint8_t value[32])
{
    if (g->ov.cap) {
        ov_ent *x = &g->ov.e[ov_slot(&g->ov, key)];
        if (x->state == 1) {
            memcpy(value, x->value, 32);
            return 1;
        }
        if (x->state == 2)
            return 0;
    }
    return -1;
}

/* Old value of `key` as of this point of the group: 1 present, 0 absent. */
static int old_value(wgroup *g, const uint8_t key[32], uint8_t value[32])
{
    int ov = overlay_value(g, key, value);
    if (ov >= 0)
        return ov;
    return vmdb_smt_get(g->e->tree, g->view, key, value) == 0;
}

static int pend_add(wgroup *g, const uint8_t key[32], const uint8_t *value)
{
    if (g->npend == g->cappend) {
        size_t nc = g->cappend ? g->cappend * 2 : 256;
        vmdb_smt_change *p = realloc(g->pend, nc * sizeof *p);
        if (!p)
            return VMDB_ENOMEM;
        g->pend = p;
        g->cappend = nc;
    }
    vmdb_smt_change *c = &g->pend[g->npend++];
    memcpy(c->key, key, 32);
    c->remove = !value;
    if (value)
        memcpy(c->value, value, 32);
    else
        memset(c->value, 0, 32);
    return 0;
}

/* The output of one request, kept until the group commits. */
typedef struct wout {
    vmdb_buf ids, records, missing, bad;
    size_t nids, nrecords, nmissing, nbad;
    bool ok;
} wout;

static int list_add(vmdb_buf *b, size_t *n, const char *s)
{
    int rc = (*n)++ ? vmdb_buf_putc(b, ',') : 0;
    return rc ? rc : vmdb_sb_jstrz(b, s);
}

/* "{...}" array literal of key texts. */
static int pg_array(vmdb_buf *b, const char *const *v, size_t n)
{
    int rc = vmdb_buf_putc(b, '{');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i)
            rc = vmdb_buf_putc(b, ',');
        rc = rc ? rc : vmdb_sb_pgarr_elem(b, v[i], strlen(v[i]));
    }
    rc = rc ? rc : vmdb_buf_putc(b, '}');
    return rc ? rc : vmdb_sb_cstr(b);
}

static bool same_columns(const vmdb_crec *a, const vmdb_crec *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].col != b->v[i].col && strcmp(a->v[i].col->name, b->v[i].col->name) != 0)
            return false;
    return true;
}

typedef enum { ST_INSERT, ST_UPDATE } stmt_kind;

/* Runs one INSERT or UPDATE for the records idx[0..cnt) (one column set)
 * and turns the returned rows into leaves; each record's canonical row goes
 * to slots[record index]. Returns 0, or fills `ans`. */
static int write_rows(wgroup *g, const vmdb_write *w, stmt_kind sk, const size_t *idx, size_t cnt,
                      const char **slots, wout *o, vmdb_answer *ans, vmdb_arena *ar)
{
    const vmdb_model *m = w->model;
    const vmdb_crec *r0 = &w->recs[idx[0]];
    vmdb_buf sql = VMDB_BUF_INIT;
    int rc = 0;
    size_t np = 0;
    const char **params = vmdb_arena_alloc(ar, (cnt * r0->n + 1) * sizeof *params);
    PGresult *res = NULL;
    if (!params) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    if (sk == ST_INSERT) {
        rc = vmdb_sb_puts(&sql, "WITH w AS (INSERT INTO ");
        rc = rc ? rc : vmdb_sb_ident(&sql, m->table);
        rc = rc ? rc : vmdb_sb_puts(&sql, " (");
        if (r0->n == 0)
            rc = rc ? rc : vmdb_sb_ident(&sql, m->pk);
    } else {
        rc = vmdb_sb_puts(&sql, "WITH w AS (UPDATE ");
        rc = rc ? rc : vmdb_sb_ident(&sql, m->table);
        rc = rc ? rc : vmdb_sb_puts(&sql, " AS u SET ");
        bool first = true;
        for (size_t j = 0; rc == 0 && j < r0->n; j++) {
            const char *c = r0->v[j].col->name;
            if (strcmp(c, m->pk) == 0)
                continue;
            rc = first ? 0 : vmdb_sb_puts(&sql, ", ");
            first = false;
            rc = rc ? rc : vmdb_sb_ident(&sql, c);
            rc = rc ? rc : vmdb_sb_puts(&sql, " = v.");
            rc = rc ? rc : vmdb_sb_ident(&sql, c);
        }
        rc = rc ? rc : vmdb_sb_puts(&sql, " FROM (");
    }
    if (sk == ST_INSERT) {
        for (size_t j = 0; rc == 0 && j < r0->n; j++) {
            rc = j ? vmdb_sb_puts(&sql, ", ") : 0;
            rc = rc ? rc : vmdb_sb_ident(&sql, r0->v[j].col->name);
        }
        rc = rc ? rc : vmdb_sb_puts(&sql, ") ");
    }
    rc = rc ? rc : vmdb_sb_puts(&sql, "VALUES ");
    for (size_t i = 0; rc == 0 && i < cnt; i++) {
        rc = vmdb_sb_puts(&sql, i ? ", (" : "(");
        if (r0->n == 0)
            rc = rc ? rc : vmdb_sb_puts(&sql, "DEFAULT");
        for (size_t j = 0; rc == 0 && j < r0->n; j++) {
            const vmdb_cval *cv = &w->recs[idx[i]].v[j];
            bool is_pk = strcmp(cv->col->name, m->pk) == 0;
            params[np++] = cv->text;
            rc = vmdb_sb_printf(&sql, "%s$%zu%s", j ? ", " : "", np,
                                vmdb_ctype_cast(is_pk ? m->pk_type : cv->col->type));
        }
        rc = rc ? rc : vmdb_buf_putc(&sql, ')');
    }
    if (rc == 0 && sk == ST_UPDATE) {
        rc = vmdb_sb_puts(&sql, ") AS v (");
        for (size_t j = 0; rc == 0 && j < r0->n; j++) {
            rc = j ? vmdb_sb_puts(&sql, ", ") : 0;
            rc = rc ? rc : vmdb_sb_ident(&sql, r0->v[j].col->name);
        }
        rc = rc ? rc : vmdb_sb_puts(&sql, ") WHERE u.");
        rc = rc ? rc : vmdb_sb_ident(&sql, m->pk);
        rc = rc ? rc : vmdb_sb_puts(&sql, " = v.");
        rc = rc ? rc : vmdb_sb_ident(&sql, m->pk);
        rc = rc ? rc : vmdb_sb_puts(&sql, " RETURNING u.*) ");
    } else {
        rc = rc ? rc : vmdb_sb_puts(&sql, " RETURNING *) ");
    }
    rc = rc ? rc : vmdb_engine_select_rows(&sql, m, "w");
    rc = rc ? rc : vmdb_sb_cstr(&sql);
    if (rc)
        goto done;
    char state[6];
    res = wexec(g, sk == ST_UPDATE ? "update" : "insert", (const char *)sql.ptr, (int)np, params,
                state);
    if (!res) {
        int st;
        const char *code, *msg;
        vmdb_pg_classify(state, &st, &code, &msg);
        vmdb_answer_fail(ans, st, code, "%s", msg);
        rc = VMDB_EIO;
        goto done;
    }
    if ((size_t)PQntuples(res) != cnt) {
        vmdb_answer_fail(ans, 500, "DATABASE_ERROR",
                         "the database returned an unexpected row count");
        rc = VMDB_EIO;
        goto done;
    }
    /* Three passes: hash the returned rows; look all their keys up in the
     * tree in one interleaved walk, the group's own earlier changes taking
     * precedence; then record them. */
    size_t nr = (size_t)PQntuples(res), na = nr ? nr : 1;
    size_t *at = vmdb_arena_alloc(ar, na * sizeof *at);
    uint8_t(*keys)[32] = vmdb_arena_alloc(ar, na * 32);
    uint8_t(*vals)[32] = vmdb_arena_alloc(ar, na * 32);
    uint8_t(*olds)[32] = vmdb_arena_alloc(ar, na * 32); /* looked up, not used */
    bool *had = vmdb_arena_alloc(ar, na);
    bool *taken = vmdb_arena_zalloc(ar, na); /* records matched by a returned row */
    char **copies = vmdb_arena_alloc(ar, na * sizeof *copies);
    if (!at || !keys || !vals || !olds || !had || !taken || !copies) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nr; i++) {
        const char *pk = PQgetvalue(res, (int)i, 0), *json = PQgetvalue(res, (int)i, 1);
        /* Creates come back in VALUES order; keyed writes are matched by key. */
        at[i] = i;
        if (w->kind != VMDB_W_CREATE) {
            at[i] = cnt;
            for (size_t k = 0; k < cnt; k++)
                if (!taken[k] && strcmp(w->recs[idx[k]].pk_text, pk) == 0) {
                    at[i] = k;
                    break;
                }
            if (at[i] == cnt) {
                vmdb_answer_fail(ans, 500, "DATABASE_ERROR",
                                 "the database returned an unexpected row");
                rc = VMDB_EIO;
                goto done;
            }
        }
        taken[at[i]] = true;
        if (vmdb_engine_row_leaf(g->h, m, pk, json, keys[i], vals[i], &g->jcs) != 0) {
            LOG_WARN("write: row %s of %s cannot be hashed: %s", pk, m->table, vmdb_error_last());
            vmdb_answer_fail(ans, 400, "INVALID_VALUE",
                             "the stored row cannot be canonicalised (a number in a jsonb value "
                             "that a double cannot hold exactly? send it as a string)");
            rc = VMDB_EINVAL;
            goto done;
        }
        vmdb_buf one = VMDB_BUF_INIT;
        rc = vmdb_sb_jstrz(&one, pk);
        rc = rc ? rc : vmdb_buf_putc(&one, 0);
        rc = rc ? rc : vmdb_buf_put(&one, g->jcs.ptr, g->jcs.len);
        copies[i] = rc ? NULL : vmdb_arena_alloc(ar, one.len + 1);
        if (copies[i]) {
            memcpy(copies[i], one.ptr, one.len);
            copies[i][one.len] = 0;
        }
        vmdb_buf_free(&one);
        if (!copies[i]) {
            rc = VMDB_ENOMEM;
            goto done;
        }
    }
    vmdb_smt_get_many(g->e->tree, g->view, (const uint8_t(*)[32])keys, nr, olds, had);
    for (size_t i = 0; i < nr; i++) {
        int ov = overlay_value(g, keys[i], olds[i]);
        if (ov >= 0)
            had[i] = ov == 1;
    }
    for (size_t i = 0; i < nr; i++) {
        const char *pk = PQgetvalue(res, (int)i, 0);
        if (w->kind == VMDB_W_CREATE && had[i]) {
            /* A leaf whose row is gone: the row was deleted behind our back. */
            rc = list_add(&o->bad, &o->nbad, pk);
            if (rc)
                goto done;
            slots[idx[at[i]]] = "";
            continue;
        }
        if ((rc = pend_add(g, keys[i], vals[i])))
            goto done;
        slots[idx[at[i]]] = copies[i]; /* "<json string id>\0<canonical row>" */
    }
done:
    PQclear(res);
    vmdb_buf_free(&sql);
    if (rc == VMDB_ENOMEM)
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
    return rc;
}

/* Runs the records listed in idx[0..cnt) in statements of one column set each. */
static int write_list(wgroup *g, const vmdb_write *w, stmt_kind sk, const size_t *idx, size_t cnt,
                      const char **slots, wout *o, vmdb_answer *ans, vmdb_arena *ar)
{
    int rc = 0;
    for (size_t lo = 0; rc == 0 && o->nbad == 0 && lo < cnt;) {
        size_t hi = lo + 1, cols = w->recs[idx[lo]].n ? w->recs[idx[lo]].n : 1;
        while (hi < cnt && hi - lo < MAX_ROWS_PER_STMT && (hi - lo + 1) * cols <= MAX_PARAMS &&
               same_columns(&w->recs[idx[lo]], &w->recs[idx[hi]]))
            hi++;
        rc = write_rows(g, w, sk, idx + lo, hi - lo, slots, o, ans, ar);
        lo = hi;
    }
    return rc;
}

/* Reads the stored rows of `keys` (canonical key texts) and checks each
 * against the tree; rows or leaves that disagree go to o->bad. With `del`
 * the rows are deleted by the same statement and their leaves removed. */
static int check_rows(wgroup *g, const vmdb_model *m, const char *const *keys, size_t n, bool del,
                      wout *o, vmdb_answer *ans, vmdb_arena *ar, bool **seen_out)
{
    vmdb_buf sql = VMDB_BUF_INIT, arr = VMDB_BUF_INIT;
    PGresult *res = NULL;
    int rc = pg_array(&arr, keys, n);
    bool *seen = vmdb_arena_zalloc(ar, n ? n : 1);
    if (seen_out)
        *seen_out = seen;
    if (!seen)
        rc = VMDB_ENOMEM;
    if (del) {
        rc = rc ? rc : vmdb_sb_puts(&sql, "WITH w AS (DELETE FROM ");
        rc = rc ? rc : vmdb_sb_ident(&sql, m->table);
        rc = rc ? rc : vmdb_sb_puts(&sql, " AS d WHERE d.");
        rc = rc ? rc : vmdb_sb_ident(&sql, m->pk);
        rc = rc ? rc
                : vmdb_sb_printf(&sql, " = ANY($1::text[]::%s[]) RETURNING d.*) ",
                                 vmdb_pk_array_cast(m));
        rc = rc ? rc : vmdb_engine_select_rows(&sql, m, "w");
    } else {
        vmdb_buf from = VMDB_BUF_INIT;
        rc = rc ? rc : vmdb_sb_ident(&from, m->table);
        rc = rc ? rc : vmdb_sb_cstr(&from);
        rc = rc ? rc : vmdb_engine_select_rows(&sql, m, (const char *)from.ptr);
        vmdb_buf_free(&from);
        rc = rc ? rc : vmdb_sb_puts(&sql, " WHERE t.");
        rc = rc ? rc : vmdb_sb_ident(&sql, m->pk);
        rc = rc ? rc
                : vmdb_sb_printf(&sql, " = ANY($1::text[]::%s[]) FOR UPDATE OF t",
                                 vmdb_pk_array_cast(m));
    }
    rc = rc ? rc : vmdb_sb_cstr(&sql);
    if (rc)
        goto done;
    const char *p[1] = {(const char *)arr.ptr};
    char state[6];
    res = wexec(g, del ? "delete" : "read rows before upsert", (const char *)sql.ptr, 1, p, state);
    if (!res) {
        int st;
        const char *code, *msg;
        vmdb_pg_classify(state, &st, &code, &msg);
        vmdb_answer_fail(ans, st, code, "%s", msg);
        rc = VMDB_EIO;
        goto done;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *pk = PQgetvalue(res, i, 0), *json = PQgetvalue(res, i, 1);
        uint8_t key[32], value[32], old[32];
        size_t at = n;
        for (size_t k = 0; k < n; k++)
            if (!seen[k] && strcmp(keys[k], pk) == 0) {
                at = k;
                break;
            }
        if (at < n)
            seen[at] = true;
        bool okrow = at < n && vmdb_engine_row_leaf(g->h, m, pk, json, key, value, &g->jcs) == 0 &&
                     old_value(g, key, old) && memcmp(old, value, 32) == 0;
        if (!okrow) {
            if ((rc = list_add(&o->bad, &o->nbad, pk)))
                goto done;
            continue;
        }
        if (del && ((rc = pend_add(g, key, NULL)) || (rc = list_add(&o->ids, &o->nids, pk))))
            goto done;
    }
    for (size_t k = 0; k < n; k++) {
        if (seen[k])
            continue;
        uint8_t key[32], old[32];
        if ((rc = vmdb_row_key(g->h, key, VMDB_SLICE(m->table, strlen(m->table)),
                               VMDB_SLICE(keys[k], strlen(keys[k])))))
            goto done;
        if (old_value(g, key, old))
            rc = list_add(&o->bad, &o->nbad, keys[k]); /* the tree has it, the table does not */
        else if (del)
            rc = list_add(&o->missing, &o->nmissing, keys[k]);
        if (rc)
            goto done;
    }
done:
    PQclear(res);
    vmdb_buf_free(&sql);
    vmdb_buf_free(&arr);
    if (rc == VMDB_ENOMEM)
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
    return rc;
}

static int run_request(wgroup *g, const vmdb_write *w, wout *o, vmdb_answer *ans, vmdb_arena *ar)
{
    int rc = 0;
    const vmdb_model *m = w->model;
    if (w->kind == VMDB_W_DELETE) {
        rc = check_rows(g, m, w->ids, w->nids, true, o, ans, ar, NULL);
    } else {
        size_t n = w->nrecs, nins = 0, nupd = 0;
        const char **slots = vmdb_arena_zalloc(ar, (n ? n : 1) * sizeof *slots);
        size_t *ins = vmdb_arena_alloc(ar, (n ? n : 1) * sizeof *ins);
        size_t *upd = vmdb_arena_alloc(ar, (n ? n : 1) * sizeof *upd);
        bool *exists = NULL;
        if (!slots || !ins || !upd)
            return VMDB_ENOMEM;
        if (w->kind == VMDB_W_UPSERT) {
            /* Existing rows are checked against the tree, then updated in
             * place (only the supplied columns); new keys are inserted. */
            const char **keys = vmdb_arena_alloc(ar, (n ? n : 1) * sizeof *keys);
            if (!keys)
                return VMDB_ENOMEM;
            for (size_t i = 0; i < n; i++)
                keys[i] = w->recs[i].pk_text;
            rc = check_rows(g, m, keys, n, false, o, ans, ar, &exists);
        }
        for (size_t i = 0; i < n; i++) {
            if (exists && exists[i])
                upd[nupd++] = i;
            else
                ins[nins++] = i;
        }
        if (rc == 0 && o->nbad == 0 && nupd)
            rc = write_list(g, w, ST_UPDATE, upd, nupd, slots, o, ans, ar);
        if (rc == 0 && o->nbad == 0 && nins)
            rc = write_list(g, w, ST_INSERT, ins, nins, slots, o, ans, ar);
        for (size_t i = 0; rc == 0 && o->nbad == 0 && i < n; i++) {
            const char *sl = slots[i];
            size_t idl = strlen(sl);
            rc = o->nids++ ? vmdb_buf_putc(&o->ids, ',') : 0;
            rc = rc ? rc : vmdb_buf_put(&o->ids, sl, idl);
            rc = rc ? rc : (o->nrecords++ ? vmdb_buf_putc(&o->records, ',') : 0);
            rc = rc ? rc : vmdb_sb_puts(&o->records, sl + idl + 1);
        }
    }
    if (rc == 0 && o->nbad && vmdb_sb_cstr(&o->bad) == 0) {
        vmdb_engine_violation(g->e, m->table,
                              w->kind == VMDB_W_CREATE ? "leaf without a row found by create"
                              : w->kind == VMDB_W_UPSERT
                                  ? "stored row differs from the tree (upsert)"
                                  : "stored row differs from the tree (delete)",
                              (const char *)o->bad.ptr);
        vmdb_engine_integrity_answer(ans, &o->bad);
        rc = VMDB_EVERIFY;
    }
    return rc;
}

/* The leaf upserts and deletes of the group as (at most two) statements;
 * the buffers hold their parameters and must outlive them. */
typedef struct leafbufs {
    vmdb_buf ks, vs, ds;
    const char *p_set[2], *p_del[1];
} leafbufs;

static int leaf_statements(wgroup *g, leafbufs *lb, vmdb_pgstmt *out, size_t *nout)
{
    size_t nset = 0, ndel = 0;
    *nout = 0;
    int rc = vmdb_buf_putc(&lb->ks, '{');
    rc = rc ? rc : vmdb_buf_putc(&lb->vs, '{');
    rc = rc ? rc : vmdb_buf_putc(&lb->ds, '{');
    for (size_t i = 0; rc == 0 && i < g->ov.cap; i++) {
        const ov_ent *x = &g->ov.e[i];
        char hex[65];
        if (!x->state)
            continue;
        vmdb_hex_encode(hex, x->key, 32);
        if (x->state == 1) {
            rc = nset ? vmdb_buf_putc(&lb->ks, ',') : 0;
            rc = rc ? rc : vmdb_buf_put(&lb->ks, hex, 64);
            vmdb_hex_encode(hex, x->value, 32);
            rc = rc ? rc : (nset ? vmdb_buf_putc(&lb->vs, ',') : 0);
            rc = rc ? rc : vmdb_buf_put(&lb->vs, hex, 64);
            nset++;
        } else {
            rc = ndel ? vmdb_buf_putc(&lb->ds, ',') : 0;
            rc = rc ? rc : vmdb_buf_put(&lb->ds, hex, 64);
            ndel++;
        }
    }
    rc = rc ? rc : vmdb_buf_putc(&lb->ks, '}');
    rc = rc ? rc : vmdb_buf_putc(&lb->vs, '}');
    rc = rc ? rc : vmdb_buf_putc(&lb->ds, '}');
    rc = rc ? rc : vmdb_sb_cstr(&lb->ks);
    rc = rc ? rc : vmdb_sb_cstr(&lb->vs);
    rc = rc ? rc : vmdb_sb_cstr(&lb->ds);
    if (rc)
        return rc;
    if (nset) {
        lb->p_set[0] = (const char *)lb->ks.ptr;
        lb->p_set[1] = (const char *)lb->vs.ptr;
        out[(*nout)++] =
            (vmdb_pgstmt){"write leaves",
                          "INSERT INTO vmdb_leaves (key, value) SELECT decode(k, 'hex'), "
                          "decode(v, 'hex') FROM unnest($1::text[], $2::text[]) AS u(k, v) "
                          "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                          2, lb->p_set};
    }
    if (ndel) {
        lb->p_del[0] = (const char *)lb->ds.ptr;
        out[(*nout)++] =
            (vmdb_pgstmt){"delete leaves",
                          "DELETE FROM vmdb_leaves WHERE key IN (SELECT decode(k, 'hex') FROM "
                          "unnest($1::text[]) AS u(k))",
                          1, lb->p_del};
    }
    return 0;
}

static void fail_all(vmdb_wreq **b, size_t n, bool *skip, int status, const char *code,
                     const char *msg)
{
    for (size_t i = 0; i < n; i++)
        if (!skip || !skip[i])
            vmdb_answer_fail(b[i]->ans, status, code, "%s", msg);
}

/* The optimistic path for the common case: the creates of one model in a
 * group run as one statement per column set under one savepoint, so the
 * database parses and plans once for all of them. If anything fails (a
 * constraint, a leaf without a row) the savepoint is rolled back and the
 * requests run one by one, so a bad request still fails alone. Marks the
 * requests it completed in `done`. Returns 0, or VMDB_EIO when the group
 * cannot continue. */
static int batch_creates(wgroup *g, vmdb_wreq **b, size_t n, wout *outs, bool *done, size_t *nok,
                         vmdb_arena *ar)
{
    const vmdb_model *m = NULL;
    size_t nreq = 0, nrecs = 0;
    for (size_t i = 0; i < n; i++) {
        const vmdb_write *w = b[i]->w;
        if (w->kind != VMDB_W_CREATE || w->has_expected || (m && w->model != m))
            continue;
        m = w->model;
        nreq++;
        nrecs += w->nrecs;
    }
    if (nreq < 2)
        return 0;
    vmdb_write cw = {.kind = VMDB_W_CREATE, .model = m, .nrecs = nrecs};
    cw.recs = vmdb_arena_alloc(ar, nrecs * sizeof *cw.recs);
    size_t *idx = vmdb_arena_alloc(ar, nrecs * sizeof *idx);
    size_t *owner = vmdb_arena_alloc(ar, nrecs * sizeof *owner);
    const char **slots = vmdb_arena_zalloc(ar, nrecs * sizeof *slots);
    if (!cw.recs || !idx || !owner || !slots)
        return 0; /* fall back to one by one */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const vmdb_write *w = b[i]->w;
        if (w->kind != VMDB_W_CREATE || w->has_expected || w->model != m)
            continue;
        for (size_t r = 0; r < w->nrecs; r++, k++) {
            cw.recs[k] = w->recs[r];
            idx[k] = k;
            owner[k] = i;
        }
    }
    wout co = {0};
    vmdb_answer cans = {0};
    g->npend = 0;
    g->savepoint_pending = true;
    g->savepoint_ok = false;
    int rc = write_list(g, &cw, ST_INSERT, idx, nrecs, slots, &co, &cans, ar);
    bool ok = rc == 0 && co.nbad == 0;
    for (size_t q = 0; ok && q < nrecs; q++)
        ok = slots[q] != NULL && slots[q][0] != 0;
    int out = 0;
    if (ok) {
        for (size_t q = 0; q < g->npend && out == 0; q++)
            out = ov_put(&g->ov, g->pend[q].key, g->pend[q].remove ? NULL : g->pend[q].value);
        for (size_t q = 0; q < nrecs && out == 0; q++) {
            wout *o = &outs[owner[q]];
            const char *sl = slots[q];
            size_t idl = strlen(sl);
            out = o->nids++ ? vmdb_buf_putc(&o->ids, ',') : 0;
            out = out ? out : vmdb_buf_put(&o->ids, sl, idl);
            out = out ? out : (o->nrecords++ ? vmdb_buf_putc(&o->records, ',') : 0);
            out = out ? out : vmdb_sb_puts(&o->records, sl + idl + 1);
        }
        for (size_t i = 0; i < n && out == 0; i++)
            if (b[i]->w->kind == VMDB_W_CREATE && !b[i]->w->has_expected && b[i]->w->model == m) {
                done[i] = true;
                outs[i].ok = true;
                (*nok)++;
            }
        if (out)
            out = VMDB_EIO;
    } else if (!g->savepoint_pending &&
               (!g->savepoint_ok || vmdb_pg_cmd(g->e->wconn, "rollback to savepoint",
                                                "ROLLBACK TO SAVEPOINT r", NULL) != 0)) {
        out = VMDB_EIO;
    } else {
        /* Undo what a partly run batch put into the outputs. */
        for (size_t i = 0; i < n; i++) {
            outs[i].ids.len = outs[i].records.len = 0;
            outs[i].nids = outs[i].nrecords = 0;
        }
    }
    vmdb_buf_free(&co.ids);
    vmdb_buf_free(&co.records);
    vmdb_buf_free(&co.missing);
    vmdb_buf_free(&co.bad);
    vmdb_buf_free(&cans.data);
    return out;
}

/* After the group's first statement: did BEGIN and the state-row lock that
 * went with it find the state where this process left it? If not, the
 * whole group fails (nothing was judged against a stale tree). */
static bool group_stopped(vmdb_engine *e, wgroup *g, vmdb_wreq **b, size_t n)
{
    if (g->state_moved) {
        vmdb_engine_violation(e, "vmdb_state", "the state row changed outside vmdb", "");
        pthread_mutex_lock(&e->mu);
        snprintf(e->writes_blocked, sizeof e->writes_blocked,
                 "the state row changed outside vmdb (repair with /bootstrap/repair-roots)");
        pthread_mutex_unlock(&e->mu);
        fail_all(b, n, NULL, 503, "WRITES_UNAVAILABLE", "the database state changed outside vmdb");
        return true;
    }
    if (g->begin_failed) {
        fail_all(b, n, NULL, 503, "DB_UNAVAILABLE", "database unavailable");
        return true;
    }
    return false;
}

static void run_group(vmdb_engine *e, wgroup *g, vmdb_wreq **b, size_t n)
{
    wout *outs = calloc(n, sizeof *outs);
    bool *failed = calloc(n, sizeof *failed), *done = NULL;
    vmdb_arena ar = VMDB_ARENA_INIT;
    uint8_t root_before[32];
    uint64_t seq;
    char blocked[300];
    size_t nok = 0;
    if (!outs || !failed) {
        fail_all(b, n, NULL, 500, "INTERNAL", "out of memory");
        goto out;
    }
    pthread_mutex_lock(&e->mu);
    memcpy(root_before, e->root, 32);
    seq = e->seq;
    memcpy(blocked, e->writes_blocked, sizeof blocked);
    g->view = vmdb_smt_current(e->tree); /* only this thread publishes: stays valid */
    pthread_mutex_unlock(&e->mu);
    if (blocked[0] || !atomic_load(&e->lock_ok)) {
        fail_all(b, n, NULL, 503, "WRITES_UNAVAILABLE",
                 blocked[0] ? blocked : "instance lock lost; writes resume when it is re-taken");
        goto out;
    }
    if (PQstatus(e->wconn) != CONNECTION_OK)
        PQreset(e->wconn);
    g->begun = g->state_moved = g->begin_failed = false;
    g->seq = seq;
    /* BEGIN and the state row lock. The state row is the commit point every
     * instance serialises on; if it moved without this process, the tree is
     * stale. A single instance sends them with the group's first statement
     * (wexec) and stops the group if the row moved; with
     * ALLOW_MULTI_INSTANCE they go first, so the group can run on after a
     * resync. */
    g->begin_pending = !e->cfg.allow_multi_instance;
    if (!g->begin_pending) {
        vmdb_pgstmt st[2] = {
            {"begin", "BEGIN", 0, NULL},
            {"lock state", "SELECT seq FROM vmdb_state WHERE id = 1 FOR UPDATE", 0, NULL}};
        PGresult *res[2];
        char state[6];
        int f = vmdb_pg_pipeline(e->wconn, st, 2, res, state);
        g->begun = f != 0;
        PGresult *sr = res[1];
        PQclear(res[0]);
        if (!sr || PQntuples(sr) != 1) {
            PQclear(sr);
            fail_all(b, n, NULL, 503, "DB_UNAVAILABLE", "database unavailable");
            goto out;
        }
        uint64_t dbseq = strtoull(PQgetvalue(sr, 0, 0), NULL, 10);
        PQclear(sr);
        if (dbseq != seq) {
            /* Another instance wrote: catch up with its headers first. */
            if (vmdb_engine_resync_locked(e) != 0) {
                fail_all(b, n, NULL, 503, "WRITES_UNAVAILABLE",
                         "the database state changed outside vmdb");
                goto out;
            }
            pthread_mutex_lock(&e->mu);
            memcpy(root_before, e->root, 32);
            seq = e->seq;
            memcpy(blocked, e->writes_blocked, sizeof blocked);
            g->view = vmdb_smt_current(e->tree);
            pthread_mutex_unlock(&e->mu);
            if (blocked[0]) {
                fail_all(b, n, NULL, 503, "WRITES_UNAVAILABLE", blocked);
                goto out;
            }
        }
    }
    ov_clear(&g->ov);
    done = calloc(n, sizeof *done);
    if (!done || batch_creates(g, b, n, outs, done, &nok, &ar) != 0) {
        if (!group_stopped(e, g, b, n))
            fail_all(b, n, NULL, 503, "DB_UNAVAILABLE", "database unavailable");
        goto out;
    }
    if (group_stopped(e, g, b, n))
        goto out;
    for (size_t i = 0; i < n; i++) {
        const vmdb_write *w = b[i]->w;
        vmdb_answer *ans = b[i]->ans;
        failed[i] = !done[i];
        if (done[i])
            continue;
        if (w->has_expected && memcmp(w->expected, root_before, 32) != 0) {
            /* Only the first request of a group may carry expected_root, so
             * root_before is exactly the root it would apply to. */
            vmdb_answer_fail(ans, 409, "ROOT_CHANGED", "Root changed, retry the write");
            int rc = vmdb_sb_puts(&ans->data, "{\"code\":\"ROOT_CHANGED\",\"current_root\":");
            rc = rc ? rc : vmdb_sb_jhex32(&ans->data, root_before);
            rc = rc ? rc : vmdb_sb_puts(&ans->data, ",\"expected_root\":");
            rc = rc ? rc : vmdb_sb_jhex32(&ans->data, w->expected);
            rc = rc ? rc : vmdb_buf_putc(&ans->data, '}');
            continue;
        }
        g->npend = 0;
        g->savepoint_pending = true;
        g->savepoint_ok = false;
        int rc = run_request(g, w, &outs[i], ans, &ar);
        if (group_stopped(e, g, b, n))
            goto out;
        if (rc == 0) {
            /* Savepoints are not released: a release costs a round trip
             * and changes nothing for the commit. */
            for (size_t k = 0; k < g->npend; k++)
                if (ov_put(&g->ov, g->pend[k].key, g->pend[k].remove ? NULL : g->pend[k].value)) {
                    fail_all(b, n, NULL, 500, "INTERNAL", "out of memory");
                    goto out;
                }
            failed[i] = false;
            outs[i].ok = true;
            nok++;
        } else if (!g->savepoint_pending &&
                   (!g->savepoint_ok || vmdb_pg_cmd(e->wconn, "rollback to savepoint",
                                                    "ROLLBACK TO SAVEPOINT r", NULL) != 0)) {
            /* Without this request's savepoint the group cannot be saved. */
            fail_all(b, n, failed, 503, "DB_UNAVAILABLE", "database unavailable");
            goto out;
        }
    }
    if (nok == 0)
        goto out;
    /* Every change of the group, each key once. */
    vmdb_smt_change *ch = calloc(g->ov.n ? g->ov.n : 1, sizeof *ch);
    size_t nch = 0;
    if (!ch) {
        fail_all(b, n, failed, 500, "INTERNAL", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < g->ov.cap; i++)
        if (g->ov.e[i].state) {
            memcpy(ch[nch].key, g->ov.e[i].key, 32);
            memcpy(ch[nch].value, g->ov.e[i].value, 32);
            ch[nch++].remove = g->ov.e[i].state == 2;
        }
    leafbufs lb = {VMDB_BUF_INIT, VMDB_BUF_INIT, VMDB_BUF_INIT, {NULL, NULL}, {NULL}};
    vmdb_pgstmt leafst[2];
    size_t nleafst = 0;
    int rc = leaf_statements(g, &lb, leafst, &nleafst);
    if (rc == 0 && (rc = vmdb_smt_apply(e->tree, ch, nch)) != 0)
        LOG_ERROR("writer: tree apply failed: %s", vmdb_error_last());
    free(ch);
    uint8_t new_root[32];
    vmdb_sheader sh;
    if (rc == 0) {
        vmdb_smt_view_root(vmdb_smt_pending(e->tree), new_root);
        /* The leaves, the signed header, the state row, the intent record
         * and COMMIT. */
        pthread_mutex_lock(&e->mu);
        e->inflight = seq + 1;
        pthread_mutex_unlock(&e->mu);
        rc = vmdb_trust_commit(e, seq + 1, new_root, "write", leafst, nleafst, &sh);
    }
    vmdb_buf_free(&lb.ks);
    vmdb_buf_free(&lb.vs);
    vmdb_buf_free(&lb.ds);
    g->begun = false;
    if (rc != 0) {
        pthread_mutex_lock(&e->mu);
        e->inflight = 0;
        pthread_mutex_unlock(&e->mu);
    }
    if (rc != 0) {
        vmdb_smt_discard(e->tree);
        if (PQstatus(e->wconn) != CONNECTION_OK) {
            /* The COMMIT may or may not have happened: the tree cannot know. */
            pthread_mutex_lock(&e->mu);
            snprintf(e->writes_blocked, sizeof e->writes_blocked,
                     "database connection lost during a commit; restart vmdb to reload the state");
            pthread_mutex_unlock(&e->mu);
            LOG_ERROR("writer: connection lost during commit; writes stopped until restart");
        } else {
            vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
        }
        fail_all(b, n, failed, 500, "DATABASE_ERROR", "the write could not be committed");
        goto out;
    }
    vmdb_engine_publish(e, seq + 1);
    vmdb_trust_committed(e, &sh);
    /* A write that lands on a BATCH_COMMIT_SIZE boundary is answered once its
     * header is anchored (vmdb_engine_write waits; the writer does not). */
    bool committed = (seq + 1) % e->cfg.batch_commit_size == 0;
    for (size_t i = 0; i < n; i++) {
        if (failed[i])
            continue;
        wout *o = &outs[i];
        vmdb_buf *d = &b[i]->ans->data;
        bool del = b[i]->w->kind == VMDB_W_DELETE;
        int r2 = del ? vmdb_sb_printf(d, "{\"deleted\":%zu,\"ids\":[", o->nids)
                     : vmdb_sb_puts(d, "{\"ids\":[");
        r2 = r2 ? r2 : vmdb_buf_put(d, o->ids.ptr, o->ids.len);
        r2 = r2 ? r2
                : vmdb_sb_printf(d, "],\"meta\":{\"committed\":%s,\"proposed_root\":",
                                 committed ? "true" : "false");
        r2 = r2 ? r2 : vmdb_sb_jhex32(d, new_root);
        r2 = r2 ? r2 : vmdb_sb_printf(d, ",\"seq\":%llu},", (unsigned long long)(seq + 1));
        if (del) {
            r2 = r2 ? r2 : vmdb_sb_puts(d, "\"missing\":[");
            r2 = r2 ? r2 : vmdb_buf_put(d, o->missing.ptr, o->missing.len);
        } else {
            r2 = r2 ? r2 : vmdb_sb_puts(d, "\"records\":[");
            r2 = r2 ? r2 : vmdb_buf_put(d, o->records.ptr, o->records.len);
        }
        r2 = r2 ? r2 : vmdb_sb_puts(d, "],\"verified\":true}");
        b[i]->ans->status = 200;
        b[i]->anchor_seq = committed ? seq + 1 : 0;
        if (r2)
            vmdb_answer_fail(b[i]->ans, 500, "INTERNAL", "out of memory");
    }
out:
    if (g->begun)
        vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
    for (size_t i = 0; outs && i < n; i++) {
        vmdb_buf_free(&outs[i].ids);
        vmdb_buf_free(&outs[i].records);
        vmdb_buf_free(&outs[i].missing);
        vmdb_buf_free(&outs[i].bad);
    }
    free(outs);
    free(failed);
    free(done);
    vmdb_arena_free(&ar);
}

void vmdb_writer_main_loop(vmdb_engine *e)
{
    wgroup g = {0};
    g.e = e;
    g.h = vmdb_engine_hasher(e);
    vmdb_wreq **batch = calloc(e->cfg.max_group, sizeof *batch);
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&e->qmu);
        while (!e->qhead && !e->stop)
            pthread_cond_wait(&e->qcv, &e->qmu);
        if (!e->qhead) {
            pthread_mutex_unlock(&e->qmu);
            break;
        }
        vmdb_wreq *first = e->qhead;
        bool single = first->admin || !g.h || !batch;
        if (single) {
            e->qhead = first->next;
            n = 1;
        } else {
            /* A request carrying expected_root starts a new group. */
            while (e->qhead && n < e->cfg.max_group && !e->qhead->admin &&
                   !(n > 0 && e->qhead->w->has_expected)) {
                batch[n++] = e->qhead;
                e->qhead = e->qhead->next;
            }
        }
        if (!e->qhead)
            e->qtail = NULL;
        pthread_mutex_unlock(&e->qmu);
        if (first->admin)
            first->admin(e, first->admin_arg, first->ans);
        else if (single)
            vmdb_answer_fail(first->ans, 500, "INTERNAL", "out of memory");
        else
            run_group(e, &g, batch, n);
        pthread_mutex_lock(&e->qmu);
        if (single) {
            first->done = true;
            pthread_cond_signal(&first->cv);
        } else {
            for (size_t i = 0; i < n; i++) {
                batch[i]->done = true;
                pthread_cond_signal(&batch[i]->cv);
            }
        }
        pthread_mutex_unlock(&e->qmu);
    }
    free(g.ov.e);
    free(g.pend);
    vmdb_buf_free(&g.jcs);
    free(batch);
}

void vmdb_engine_write(vmdb_engine *e, const vmdb_write *w, vmdb_answer *ans)
{
    vmdb_wreq r = {.w = w, .ans = ans};
    vmdb_engine_submit(e, &r);
    if (r.anchor_seq && ans->status == 200 && !vmdb_trust_wait_anchored(e, r.anchor_seq)) {
        /* Not anchored in time: say so. The first raw "committed":true is
         * meta's (inside JSON strings quotes are escaped). */
        vmdb_buf *d = &ans->data;
        static const char t[] = "\"committed\":true", f[] = "\"committed\":false";
        for (size_t i = 0; i + sizeof t - 1 <= d->len; i++)
            if (memcmp(d->ptr + i, t, sizeof t - 1) == 0) {
                vmdb_buf nb = VMDB_BUF_INIT;
                if (vmdb_buf_put(&nb, d->ptr, i) == 0 && vmdb_buf_put(&nb, f, sizeof f - 1) == 0 &&
                    vmdb_buf_put(&nb, d->ptr + i + sizeof t - 1, d->len - i - (sizeof t - 1)) ==
                        0) {
                    vmdb_buf_free(d);
                    *d = nb;
                } else {
                    vmdb_buf_free(&nb);
                }
                break;
            }
    }
}
