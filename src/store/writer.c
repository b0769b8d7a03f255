/*
 * The writer thread and group commit. A group: BEGIN and the state-row lock
 * (with the first statement), the creates of one model batched under one
 * savepoint when there are several, then each remaining request under its
 * own savepoint; the leaves, the signed header, the state row, the intent
 * and COMMIT in one round trip (trust/chain.c); then the tree version is
 * published and the requests are answered.
 */
#include "store/writer.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/proofs.h"
#include "store/rows.h"
#include "store/sync.h"
#include "util/grow.h"
#include "util/histo.h"
#include "util/log.h"
#include "util/sb.h"

#define MAX_PARAMS 30000
#define MAX_ROWS_PER_STMT 1000

/* A queued request: a write or a job. */
typedef struct wreq {
    const vmdb_write *w; /* NULL for a job */
    vmdb_arena *ar;      /* the request's: the result's rows go there */
    vmdb_write_result *res;
    vmdb_job_fn job;
    void *job_arg;
    int job_rc;
    bool job_lost;       /* the job's COMMIT lost its connection: outcome unknown */
    uint64_t anchor_seq; /* set by the writer: wait for this seq to be anchored */
    bool deferred;       /* left by its group for the next one (a key conflict) */
    bool done;
    pthread_cond_t cv; /* signalled when done: no herd of waiters per group */
    /* An asynchronous write (vmdb_writer_write_begin): called instead of
     * signalling cv, on the writer thread, after the queue lock is let go. */
    vmdb_write_done_fn on_done;
    void *on_done_arg;
    struct wreq *next;
} wreq;

struct vmdb_writer {
    vmdb_writer_config cfg;
    char *url;
    const vmdb_parts *parts; /* the engine's; filled in before the thread starts */
    PGconn *conn;            /* the writer thread's (jobs included) */
    vmdb_hasher *h;          /* likewise */
    pthread_mutex_t mu;      /* guards the queue and `stop` */
    pthread_cond_t cv;
    wreq *head, *tail;
    bool stop;
    pthread_t thread;
    bool started;
    /* The clients of the last group (writer thread only), and how many
     * groups still go without waiting for them (see gather_more). */
    uint64_t *prev;
    size_t nprev;
    unsigned skip;
    /* Committed groups: their requests and their rows (for /metrics). */
    vmdb_histo group_reqs, group_rows;
    /* After a connection lost during a COMMIT (writer thread only): the
     * outcome is still to be found out (`lost`), or the state still to be
     * reloaded because it did commit (`reload`); retried with backoff. */
    bool lost, reload;
    unsigned backoff_ms;
};

static const uint64_t group_req_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
static const uint64_t group_row_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536};

/* ---- the group's overlay: key -> value/removed for changes made so far ---- */

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
        size_t nc = o->cap ? o->cap * 2 : 256;
        overlay g = {calloc(nc, sizeof(ov_ent)), nc, 0};
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

static bool ov_has(const overlay *o, const uint8_t key[32])
{
    return o->cap && o->e[ov_slot(o, key)].state;
}

static void ov_clear(overlay *o)
{
    if (o->e)
        memset(o->e, 0, o->cap * sizeof(ov_ent));
    o->n = 0;
}

/* ---- one group ----------------------------------------------------------------- */

/* The ids a group wrote to one serial table: lo..hi, then, at commit, the
 * table's new range (PROTOCOL.md §10). `table` is the model's: the
 * requests (and their registry) outlive the group. */
typedef struct grange {
    const char *table, *pk;
    int64_t lo, hi;
    bool changed; /* set at commit: the range grows, its leaf changes */
    /* The highest id the client supplied (create with a key, upsert): the
     * table's sequence is moved past it at commit, so that the next plain
     * create does not draw it. */
    bool xhas;
    int64_t xhi;
} grange;

typedef struct wgroup {
    vmdb_writer *w;
    const vmdb_smt_view *view; /* the version the group starts from */
    overlay ov;
    overlay named;         /* the keys the kept requests named (ids, supplied keys) */
    vmdb_smt_change *pend; /* changes of the request being run */
    size_t npend, cappend;
    vmdb_buf jcs;
    vmdb_arena ar;          /* the group's scratch */
    bool savepoint_pending; /* the request's SAVEPOINT goes out with its first statement */
    bool savepoint_ok;      /* it was set: a failure can roll back to it */
    /* Single instance: BEGIN and the state-row lock go out with the group's
     * first statement, and the group stops if the row is not at `seq`. */
    bool begin_pending, begun;
    bool state_moved, begin_failed;
    uint64_t seq;
    /* The ids written by the request being run (one model), and those of
     * the group's requests that succeeded, per table. */
    grange pr;
    bool pr_has;
    grange *gr;
    size_t ngr, capgr;
} wgroup;

/* What one request produced, kept until the group commits. */
typedef struct wout {
    vmdb_arena *ar; /* where it lives: the request's arena */
    vmdb_row *rows; /* create/upsert: in the request's order; delete: the deleted rows */
    size_t nrows;
    vmdb_strs missing, bad;
} wout;

/* Runs a statement of the current request; the request's SAVEPOINT travels
 * in the same round trip as its first statement (pipeline mode). */
static PGresult *wexec(wgroup *g, const char *what, const char *sql, int n,
                       const char *const *params, const int *lengths, const int *formats,
                       char state[6])
{
    PGconn *conn = g->w->conn;
    if (!g->savepoint_pending)
        return vmdb_pg_exec_bin(conn, what, sql, n, params, lengths, formats, state);
    g->savepoint_pending = false;
    vmdb_pgstmt st[4] = {
        {"begin", "BEGIN", 0, NULL, NULL, NULL},
        {"lock state", "SELECT seq FROM vmdb_state WHERE id = 1 FOR UPDATE", 0, NULL, NULL, NULL},
        {"savepoint", "SAVEPOINT r", 0, NULL, NULL, NULL},
        {what, sql, n, params, lengths, formats}};
    PGresult *res[4] = {NULL, NULL, NULL, NULL};
    size_t off = g->begin_pending ? 0 : 2;
    int f = vmdb_pg_pipeline(conn, st + off, 4 - off, res + off, state);
    if (f >= 0)
        f += (int)off;
    g->savepoint_ok = f < 0 || f > 2;
    PGresult *out = f < 0 ? res[3] : NULL;
    if (off == 0) {
        g->begin_pending = false;
        g->begun = true;
        if (!res[1] || PQntuples(res[1]) != 1)
            g->begin_failed = true;
        else if (strtoull(PQgetvalue(res[1], 0, 0), NULL, 10) != g->seq)
            g->state_moved = true;
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
    return vmdb_smt_get(vmdb_versions_tree(g->w->parts->versions), g->view, key, value) == 0;
}

static int pend_add(wgroup *g, const uint8_t key[32], const uint8_t *value)
{
    vmdb_smt_change *p = vmdb_grow(g->pend, &g->cappend, g->npend, sizeof *p, 256);
    if (!p)
        return VMDB_ENOMEM;
    g->pend = p;
    vmdb_smt_change *c = &g->pend[g->npend++];
    memcpy(c->key, key, 32);
    c->remove = !value;
    if (value)
        memcpy(c->value, value, 32);
    else
        memset(c->value, 0, 32);
    return 0;
}

/* A request starts with no pending changes. */
static void pend_reset(wgroup *g)
{
    g->npend = 0;
    g->pr_has = false;
}

/* Id `id` of serial table `m` was written by the request being run;
 * `supplied`: the client gave it (the sequence did not draw it). */
static void pend_id(wgroup *g, const vmdb_model *m, int64_t id, bool supplied)
{
    if (!g->pr_has) {
        g->pr = (grange){m->table, m->pk, id, id, false, supplied, id};
        g->pr_has = true;
        return;
    }
    g->pr.lo = id < g->pr.lo ? id : g->pr.lo;
    g->pr.hi = id > g->pr.hi ? id : g->pr.hi;
    if (supplied && (!g->pr.xhas || id > g->pr.xhi)) {
        g->pr.xhas = true;
        g->pr.xhi = id;
    }
}

/* The pending changes of a request that succeeded join the overlay, and
 * the ids it wrote the group's ranges. */
static int pend_keep(wgroup *g)
{
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < g->npend; k++)
        rc = ov_put(&g->ov, g->pend[k].key, g->pend[k].remove ? NULL : g->pend[k].value);
    if (rc || !g->pr_has)
        return rc;
    size_t i = 0;
    while (i < g->ngr && strcmp(g->gr[i].table, g->pr.table) != 0)
        i++;
    if (i < g->ngr) {
        g->gr[i].lo = g->pr.lo < g->gr[i].lo ? g->pr.lo : g->gr[i].lo;
        g->gr[i].hi = g->pr.hi > g->gr[i].hi ? g->pr.hi : g->gr[i].hi;
        if (g->pr.xhas && (!g->gr[i].xhas || g->pr.xhi > g->gr[i].xhi)) {
            g->gr[i].xhas = true;
            g->gr[i].xhi = g->pr.xhi;
        }
        return 0;
    }
    grange *p = vmdb_grow(g->gr, &g->capgr, g->ngr, sizeof *p, 8);
    if (!p)
        return VMDB_ENOMEM;
    g->gr = p;
    g->gr[g->ngr++] = g->pr;
    return 0;
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

/* The record's column names, quoted, separated by ", ". */
static int put_cols(vmdb_buf *sql, const vmdb_crec *r)
{
    int rc = 0;
    for (size_t j = 0; rc == 0 && j < r->n; j++) {
        rc = j ? vmdb_sb_puts(sql, ", ") : 0;
        rc = rc ? rc : vmdb_sb_ident(sql, r->v[j].col->name);
    }
    return rc;
}

typedef enum { ST_INSERT, ST_UPDATE } stmt_kind;

/* The INSERT or UPDATE of the records idx[0..cnt) (one column set), whose
 * returned rows are selected as vmdb_rows_select selects them. */
static int write_sql(vmdb_buf *sql, const vmdb_write *w, stmt_kind sk, const size_t *idx,
                     size_t cnt, const char **params, size_t *np)
{
    const vmdb_model *m = w->model;
    const vmdb_crec *r0 = &w->recs[idx[0]];
    int rc = 0;
    if (sk == ST_INSERT) {
        rc = vmdb_sb_puts(sql, "WITH w AS (INSERT INTO ");
        rc = rc ? rc : vmdb_sb_ident(sql, m->table);
        rc = rc ? rc : vmdb_sb_puts(sql, " (");
        if (r0->n == 0)
            rc = rc ? rc : vmdb_sb_ident(sql, m->pk);
        rc = rc ? rc : put_cols(sql, r0);
        rc = rc ? rc : vmdb_sb_puts(sql, ") ");
    } else {
        rc = vmdb_sb_puts(sql, "WITH w AS (UPDATE ");
        rc = rc ? rc : vmdb_sb_ident(sql, m->table);
        rc = rc ? rc : vmdb_sb_puts(sql, " AS u SET ");
        bool first = true;
        for (size_t j = 0; rc == 0 && j < r0->n; j++) {
            const char *c = r0->v[j].col->name;
            if (strcmp(c, m->pk) == 0)
                continue;
            rc = first ? 0 : vmdb_sb_puts(sql, ", ");
            first = false;
            rc = rc ? rc : vmdb_sb_ident(sql, c);
            rc = rc ? rc : vmdb_sb_puts(sql, " = v.");
            rc = rc ? rc : vmdb_sb_ident(sql, c);
        }
        /* The typed empty branch gives the untyped values their columns'
         * types (a UNION resolves unknown-typed inputs by the other
         * branch), as an INSERT would: a date or numeric[] column set from
         * text. */
        rc = rc ? rc : vmdb_sb_puts(sql, " FROM (SELECT ");
        rc = rc ? rc : put_cols(sql, r0);
        rc = rc ? rc : vmdb_sb_puts(sql, " FROM ");
        rc = rc ? rc : vmdb_sb_ident(sql, m->table);
        rc = rc ? rc : vmdb_sb_puts(sql, " WHERE false");
    }
    rc = rc ? rc : vmdb_sb_puts(sql, sk == ST_INSERT ? "VALUES " : "");
    for (size_t i = 0; rc == 0 && i < cnt; i++) {
        /* A VALUES list would resolve the untyped values to text first. */
        rc = vmdb_sb_puts(sql, sk == ST_UPDATE ? " UNION ALL SELECT " : i ? ", (" : "(");
        if (r0->n == 0)
            rc = rc ? rc : vmdb_sb_puts(sql, "DEFAULT");
        for (size_t j = 0; rc == 0 && j < r0->n; j++) {
            const vmdb_cval *cv = &w->recs[idx[i]].v[j];
            bool is_pk = strcmp(cv->col->name, m->pk) == 0;
            params[(*np)++] = cv->text;
            rc = vmdb_sb_printf(sql, "%s$%zu%s", j ? ", " : "", *np,
                                vmdb_ctype_cast(is_pk ? m->pk_type : cv->col->type));
        }
        rc = rc ? rc : (sk == ST_INSERT ? vmdb_buf_putc(sql, ')') : 0);
    }
    if (rc == 0 && sk == ST_UPDATE) {
        rc = vmdb_sb_puts(sql, ") AS v (");
        rc = rc ? rc : put_cols(sql, r0);
        rc = rc ? rc : vmdb_sb_puts(sql, ") WHERE u.");
        rc = rc ? rc : vmdb_sb_ident(sql, m->pk);
        rc = rc ? rc : vmdb_sb_puts(sql, " = v.");
        rc = rc ? rc : vmdb_sb_ident(sql, m->pk);
        rc = rc ? rc : vmdb_sb_puts(sql, " RETURNING u.*) ");
    } else {
        rc = rc ? rc : vmdb_sb_puts(sql, " RETURNING *) ");
    }
    rc = rc ? rc : vmdb_rows_select(sql, m, "w");
    return rc ? rc : vmdb_sb_cstr(sql);
}

/* Whether the INSERT of records with r0's column set can take its values
 * as one array per column (insert_sql_unnest): each column's text is cast
 * to a type vmdb names, so a text element converts exactly as the typed
 * text parameter of the VALUES form would (the type's input function).
 * Columns vmdb has no cast for (dates, arrays, ...) take the VALUES form,
 * where PostgreSQL types the untyped parameter from the column. */
static bool unnest_applies(const vmdb_model *m, const vmdb_crec *r0)
{
    if (r0->n == 0)
        return false;
    for (size_t j = 0; j < r0->n; j++) {
        const vmdb_column *c = r0->v[j].col;
        if (*vmdb_ctype_cast(strcmp(c->name, m->pk) == 0 ? m->pk_type : c->type) == 0)
            return false;
    }
    return true;
}

/* The INSERT of the records idx[0..cnt) as one statement whose text does
 * not grow with the batch: INSERT ... SELECT FROM unnest($1::text[], ...),
 * one binary text[] parameter per column (cols[j], with lens and fmts
 * filled for PQexecParams), so PostgreSQL parses and plans a short
 * statement and reads the values without escapes. Rows come back in the
 * arrays' order, as the VALUES form's do in its list's. */
static int insert_sql_unnest(vmdb_buf *sql, const vmdb_write *w, const size_t *idx, size_t cnt,
                             vmdb_buf *cols, const char **params, int *lens, int *fmts, size_t *np)
{
    const vmdb_model *m = w->model;
    const vmdb_crec *r0 = &w->recs[idx[0]];
    const char **v = calloc(cnt, sizeof *v);
    int rc = v ? 0 : VMDB_ENOMEM;
    rc = rc ? rc : vmdb_sb_puts(sql, "WITH w AS (INSERT INTO ");
    rc = rc ? rc : vmdb_sb_ident(sql, m->table);
    rc = rc ? rc : vmdb_sb_puts(sql, " (");
    rc = rc ? rc : put_cols(sql, r0);
    rc = rc ? rc : vmdb_sb_puts(sql, ") SELECT ");
    for (size_t j = 0; rc == 0 && j < r0->n; j++) {
        const vmdb_column *c = r0->v[j].col;
        rc = vmdb_sb_printf(sql, "%su.c%zu%s", j ? ", " : "", j,
                            vmdb_ctype_cast(strcmp(c->name, m->pk) == 0 ? m->pk_type : c->type));
    }
    rc = rc ? rc : vmdb_sb_puts(sql, " FROM unnest(");
    for (size_t j = 0; rc == 0 && j < r0->n; j++)
        rc = vmdb_sb_printf(sql, "%s$%zu::text[]", j ? ", " : "", j + 1);
    rc = rc ? rc : vmdb_sb_puts(sql, ") AS u(");
    for (size_t j = 0; rc == 0 && j < r0->n; j++)
        rc = vmdb_sb_printf(sql, "%sc%zu", j ? ", " : "", j);
    rc = rc ? rc : vmdb_sb_puts(sql, ") RETURNING *) ");
    rc = rc ? rc : vmdb_rows_select(sql, m, "w");
    rc = rc ? rc : vmdb_sb_cstr(sql);
    for (size_t j = 0; rc == 0 && j < r0->n; j++) {
        for (size_t i = 0; i < cnt; i++)
            v[i] = w->recs[idx[i]].v[j].text;
        rc = vmdb_pg_bin_array(&cols[j], VMDB_PG_OID_TEXT, v, NULL, cnt);
        if (rc == 0 && cols[j].len > INT_MAX)
            rc = VMDB_ELIMIT;
        if (rc == 0) {
            params[j] = (const char *)cols[j].ptr;
            lens[j] = (int)cols[j].len;
            fmts[j] = 1;
        }
    }
    *np = rc ? 0 : r0->n;
    free(v);
    return rc;
}

/* Runs one INSERT or UPDATE for the records idx[0..cnt) (one column set)
 * and turns the returned rows into leaves. Record r's row goes to
 * *slots[r], its text into arenas[r]; a create that finds a leaf without a
 * row leaves its slot empty and adds the key to o->bad. 0, or fills `fail`. */
static int write_rows(wgroup *g, const vmdb_write *w, stmt_kind sk, const size_t *idx, size_t cnt,
                      vmdb_row *const *slots, vmdb_arena *const *arenas, wout *o, vmdb_fail *fail)
{
    const vmdb_model *m = w->model;
    vmdb_arena *ar = &g->ar;
    vmdb_buf sql = VMDB_BUF_INIT;
    PGresult *res = NULL;
    size_t np = 0, ncol = w->recs[idx[0]].n;
    char state[6];
    int rc = 0;
    bool un = sk == ST_INSERT && unnest_applies(m, &w->recs[idx[0]]);
    const char **params = vmdb_arena_alloc(ar, ((un ? 1 : cnt) * ncol + 1) * sizeof *params);
    vmdb_buf *cols = un ? vmdb_arena_zalloc(ar, ncol * sizeof *cols) : NULL;
    int *lens = un ? vmdb_arena_alloc(ar, ncol * sizeof *lens) : NULL;
    int *fmts = un ? vmdb_arena_alloc(ar, ncol * sizeof *fmts) : NULL;
    if (!params || (un && (!cols || !lens || !fmts))) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    rc = un ? insert_sql_unnest(&sql, w, idx, cnt, cols, params, lens, fmts, &np)
            : write_sql(&sql, w, sk, idx, cnt, params, &np);
    if (rc != 0) {
        rc = rc == VMDB_ELIMIT
                 ? vmdb_fail_set(fail, VMDB_FAIL_INVALID_VALUE, "a value is too large")
                 : vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    res = wexec(g, sk == ST_UPDATE ? "update" : "insert", (const char *)sql.ptr, (int)np, params,
                lens, fmts, state);
    if (!res) {
        rc = vmdb_fail_sqlstate(fail, state);
        goto done;
    }
    if ((size_t)PQntuples(res) != cnt) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE,
                           "the database returned an unexpected row count");
        goto done;
    }
    /* Three passes: hash the returned rows; look all their keys up in the
     * tree in one interleaved walk, the group's own earlier changes taking
     * precedence; then record them. */
    size_t nr = cnt, na = nr ? nr : 1;
    size_t *at = vmdb_arena_alloc(ar, na * sizeof *at);
    uint8_t(*keys)[32] = vmdb_arena_alloc(ar, na * 32);
    uint8_t(*vals)[32] = vmdb_arena_alloc(ar, na * 32);
    uint8_t(*olds)[32] = vmdb_arena_alloc(ar, na * 32); /* looked up, not used */
    bool *had = vmdb_arena_alloc(ar, na);
    bool *taken = vmdb_arena_zalloc(ar, na); /* records matched by a returned row */
    vmdb_row *tmp = vmdb_arena_zalloc(ar, na * sizeof *tmp);
    if (!at || !keys || !vals || !olds || !had || !taken || !tmp) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
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
                rc = vmdb_fail_set(fail, VMDB_FAIL_DATABASE,
                                   "the database returned an unexpected row");
                goto done;
            }
        }
        taken[at[i]] = true;
        if (vmdb_rows_leaf(g->w->h, m, pk, json, keys[i], vals[i], &g->jcs) != 0) {
            LOG_WARN("write: row %s of %s cannot be hashed: %s", pk, m->table, vmdb_error_last());
            rc = vmdb_fail_set(fail, VMDB_FAIL_INVALID_VALUE,
                               "the stored row cannot be canonicalised (a number in a jsonb value "
                               "that a double cannot hold exactly? send it as a string)");
            goto done;
        }
        if (vmdb_row_set(&tmp[i], arenas[idx[at[i]]], pk, &g->jcs, keys[i], vals[i]) != 0) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
            goto done;
        }
    }
    vmdb_smt_get_many(vmdb_versions_tree(g->w->parts->versions), g->view,
                      (const uint8_t(*)[32])keys, nr, olds, had);
    for (size_t i = 0; i < nr; i++) {
        int ov = overlay_value(g, keys[i], olds[i]);
        if (ov >= 0)
            had[i] = ov == 1;
    }
    for (size_t i = 0; i < nr; i++) {
        if (w->kind == VMDB_W_CREATE && had[i]) {
            /* A leaf whose row is gone: the row was deleted behind our back. */
            if (vmdb_strs_add(o->ar, &o->bad, tmp[i].id) != 0) {
                rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
                goto done;
            }
            continue;
        }
        if (pend_add(g, keys[i], vals[i]) != 0) {
            rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
            goto done;
        }
        /* Every id written to a serial table widens its range. */
        int64_t id = 0;
        if (vmdb_ranges_applies(m) && vmdb_ranges_parse_id(tmp[i].id, &id))
            pend_id(g, m, id, w->recs[idx[at[i]]].pk_text != NULL);
        *slots[idx[at[i]]] = tmp[i];
    }
done:
    PQclear(res);
    vmdb_buf_free(&sql);
    for (size_t j = 0; cols && j < ncol; j++)
        vmdb_buf_free(&cols[j]);
    return rc;
}

/* Runs the records listed in idx[0..cnt) in statements of one column set each. */
static int write_list(wgroup *g, const vmdb_write *w, stmt_kind sk, const size_t *idx, size_t cnt,
                      vmdb_row *const *slots, vmdb_arena *const *arenas, wout *o, vmdb_fail *fail)
{
    int rc = 0;
    for (size_t lo = 0; rc == 0 && o->bad.n == 0 && lo < cnt;) {
        size_t hi = lo + 1, cols = w->recs[idx[lo]].n ? w->recs[idx[lo]].n : 1;
        while (hi < cnt && hi - lo < MAX_ROWS_PER_STMT && (hi - lo + 1) * cols <= MAX_PARAMS &&
               same_columns(&w->recs[idx[lo]], &w->recs[idx[hi]]))
            hi++;
        rc = write_rows(g, w, sk, idx + lo, hi - lo, slots, arenas, o, fail);
        lo = hi;
    }
    return rc;
}

/* Checks the rows `res` returned for `keys` (canonical key texts) against
 * the tree as of this point of the group: a row or a leaf that disagrees
 * goes to o->bad. With `deleted` the statement deleted them: their leaves
 * are removed, the rows recorded there and the keys that had no row go to
 * o->missing. 0 or VMDB_ENOMEM. */
static int check_against_tree(wgroup *g, const vmdb_model *m, PGresult *res,
                              const char *const *keys, size_t n, bool *seen, wout *o,
                              vmdb_row *deleted)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
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
        bool okrow = at < n && vmdb_rows_leaf(g->w->h, m, pk, json, key, value, &g->jcs) == 0 &&
                     old_value(g, key, old) && memcmp(old, value, 32) == 0;
        if (!okrow)
            rc = vmdb_strs_add(o->ar, &o->bad, pk);
        else if (deleted) {
            rc = pend_add(g, key, NULL);
            rc = rc ? rc : vmdb_row_set(&deleted[o->nrows++], o->ar, pk, &g->jcs, key, value);
        }
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        uint8_t key[32], old[32];
        if (seen[k])
            continue;
        if ((rc = vmdb_rows_key(g->w->h, m, keys[k], key)) != 0)
            break;
        if (old_value(g, key, old))
            rc = vmdb_strs_add(o->ar, &o->bad, keys[k]); /* the tree has it, the table does not */
        else if (deleted)
            rc = vmdb_strs_add(o->ar, &o->missing, keys[k]);
    }
    return rc ? VMDB_ENOMEM : 0;
}

/* Runs `sql`, whose $1 is `keys` as a text array, as a statement of the
 * current request. NULL with `fail` filled when it failed. */
static PGresult *run_keyed(wgroup *g, const char *what, const vmdb_buf *sql,
                           const char *const *keys, size_t n, vmdb_fail *fail)
{
    vmdb_buf arr = VMDB_BUF_INIT;
    PGresult *res = NULL;
    char state[6];
    if (vmdb_pg_text_array(&arr, keys, n) != 0) {
        vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
    } else {
        const char *p[1] = {(const char *)arr.ptr};
        if (!(res = wexec(g, what, (const char *)sql->ptr, 1, p, NULL, NULL, state)))
            vmdb_fail_sqlstate(fail, state);
    }
    vmdb_buf_free(&arr);
    return res;
}

/* Locks the rows of `keys` FOR UPDATE (an upsert is about to change them)
 * and checks them against the tree; (*exists)[i] says whether keys[i] has a
 * row. 0, or fills `fail`. */
static int lock_rows(wgroup *g, const vmdb_model *m, const char *const *keys, size_t n, wout *o,
                     vmdb_fail *fail, bool **exists)
{
    vmdb_buf sql = VMDB_BUF_INIT;
    PGresult *res = NULL;
    int rc = 0;
    bool *seen = vmdb_arena_zalloc(&g->ar, n ? n : 1);
    if (!seen || vmdb_rows_select(&sql, m, NULL) || vmdb_sb_puts(&sql, " WHERE t.") ||
        vmdb_sb_ident(&sql, m->pk) ||
        vmdb_sb_printf(&sql, " = ANY($1::text[]::%s[]) FOR UPDATE OF t", vmdb_pk_array_cast(m)) ||
        vmdb_sb_cstr(&sql)) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    if (!(res = run_keyed(g, "read rows before upsert", &sql, keys, n, fail))) {
        rc = vmdb_fail_err(fail);
        goto done;
    }
    if (check_against_tree(g, m, res, keys, n, seen, o, NULL) != 0)
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
    *exists = seen;
done:
    PQclear(res);
    vmdb_buf_free(&sql);
    return rc;
}

/* Deletes the rows of `keys` in one statement that returns them; each is
 * checked against the tree and its leaf removed (o->rows), keys without a
 * row are o->missing. 0, or fills `fail`. */
static int delete_rows(wgroup *g, const vmdb_model *m, const char *const *keys, size_t n, wout *o,
                       vmdb_fail *fail)
{
    vmdb_buf sql = VMDB_BUF_INIT;
    PGresult *res = NULL;
    int rc = 0;
    bool *seen = vmdb_arena_zalloc(&g->ar, n ? n : 1);
    if (!seen || vmdb_sb_puts(&sql, "WITH w AS (DELETE FROM ") || vmdb_sb_ident(&sql, m->table) ||
        vmdb_sb_puts(&sql, " AS d WHERE d.") || vmdb_sb_ident(&sql, m->pk) ||
        vmdb_sb_printf(&sql, " = ANY($1::text[]::%s[]) RETURNING d.*) ", vmdb_pk_array_cast(m)) ||
        vmdb_rows_select(&sql, m, "w") || vmdb_sb_cstr(&sql)) {
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    if (!(res = run_keyed(g, "delete", &sql, keys, n, fail))) {
        rc = vmdb_fail_err(fail);
        goto done;
    }
    if (!(o->rows = vmdb_arena_zalloc(o->ar, (size_t)PQntuples(res) * sizeof *o->rows + 1)) ||
        check_against_tree(g, m, res, keys, n, seen, o, o->rows) != 0)
        rc = vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
done:
    PQclear(res);
    vmdb_buf_free(&sql);
    return rc;
}

/* A create or upsert under the request's savepoint. */
static int write_records(wgroup *g, const vmdb_write *w, vmdb_arena *ar, wout *o, vmdb_fail *fail)
{
    size_t n = w->nrecs, nins = 0, nupd = 0, na = n ? n : 1;
    vmdb_row *rows = vmdb_arena_zalloc(ar, na * sizeof *rows);
    vmdb_row **slots = vmdb_arena_alloc(&g->ar, na * sizeof *slots);
    vmdb_arena **arenas = vmdb_arena_alloc(&g->ar, na * sizeof *arenas);
    size_t *ins = vmdb_arena_alloc(&g->ar, na * sizeof *ins);
    size_t *upd = vmdb_arena_alloc(&g->ar, na * sizeof *upd);
    const char **keys = vmdb_arena_alloc(&g->ar, na * sizeof *keys);
    bool *exists = NULL;
    int rc = 0;
    if (!rows || !slots || !arenas || !ins || !upd || !keys)
        return vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        slots[i] = &rows[i];
        arenas[i] = ar;
        keys[i] = w->recs[i].pk_text;
    }
    /* An upsert checks the existing rows against the tree, then updates them
     * in place (only the supplied columns); new keys are inserted. */
    if (w->kind == VMDB_W_UPSERT)
        rc = lock_rows(g, w->model, keys, n, o, fail, &exists);
    for (size_t i = 0; i < n; i++) {
        if (exists && exists[i])
            upd[nupd++] = i;
        else
            ins[nins++] = i;
    }
    if (rc == 0 && o->bad.n == 0 && nupd)
        rc = write_list(g, w, ST_UPDATE, upd, nupd, slots, arenas, o, fail);
    if (rc == 0 && o->bad.n == 0 && nins)
        rc = write_list(g, w, ST_INSERT, ins, nins, slots, arenas, o, fail);
    o->rows = rows;
    o->nrows = n;
    return rc;
}

/* One request of the group, under its own savepoint. */
static int run_request(wgroup *g, const vmdb_write *w, vmdb_arena *ar, wout *o, vmdb_fail *fail)
{
    int rc = w->kind == VMDB_W_DELETE ? delete_rows(g, w->model, w->ids, w->nids, o, fail)
                                      : write_records(g, w, ar, o, fail);
    if (rc == 0 && o->bad.n) {
        vmdb_status_violation(g->w->parts->status, w->model->table,
                              w->kind == VMDB_W_CREATE ? "leaf without a row found by create"
                              : w->kind == VMDB_W_UPSERT
                                  ? "stored row differs from the tree (upsert)"
                                  : "stored row differs from the tree (delete)",
                              o->bad.v, o->bad.n);
        rc = vmdb_fail_integrity(fail, o->bad.v, o->bad.n);
    }
    return rc;
}

/* The leaf upserts and deletes of the group as (at most two) statements;
 * the buffers hold their parameters and must outlive them. Keys and values
 * travel as binary bytea[] parameters: no hex to write or to decode. */
typedef struct leafbufs {
    vmdb_buf ks, vs, ds, rn, rl, rh, qt, qc, qh;
    const char *p_set[2], *p_del[1], *p_rng[3], *p_seq[3];
    int l_set[2], l_del[1];
} leafbufs;

static const int leaf_fmts[2] = {1, 1};

static int leaf_statements(wgroup *g, leafbufs *lb, vmdb_pgstmt *out, size_t *nout)
{
    size_t nset = 0, ndel = 0, na = g->ov.n ? g->ov.n : 1;
    const char **ks = calloc(na, sizeof *ks), **vs = calloc(na, sizeof *vs);
    const char **ds = calloc(na, sizeof *ds);
    size_t *l32 = calloc(na, sizeof *l32);
    int rc = ks && vs && ds && l32 ? 0 : VMDB_ENOMEM;
    *nout = 0;
    for (size_t i = 0; rc == 0 && i < g->ov.cap; i++) {
        const ov_ent *x = &g->ov.e[i];
        if (x->state == 1) {
            ks[nset] = (const char *)x->key;
            vs[nset++] = (const char *)x->value;
        } else if (x->state == 2) {
            ds[ndel++] = (const char *)x->key;
        }
    }
    for (size_t i = 0; rc == 0 && i < na; i++)
        l32[i] = 32;
    rc = rc ? rc : vmdb_pg_bin_array(&lb->ks, VMDB_PG_OID_BYTEA, ks, l32, nset);
    rc = rc ? rc : vmdb_pg_bin_array(&lb->vs, VMDB_PG_OID_BYTEA, vs, l32, nset);
    rc = rc ? rc : vmdb_pg_bin_array(&lb->ds, VMDB_PG_OID_BYTEA, ds, l32, ndel);
    free(ks);
    free(vs);
    free(ds);
    free(l32);
    if (rc)
        return rc;
    if (nset) {
        lb->p_set[0] = (const char *)lb->ks.ptr;
        lb->p_set[1] = (const char *)lb->vs.ptr;
        lb->l_set[0] = (int)lb->ks.len;
        lb->l_set[1] = (int)lb->vs.len;
        out[(*nout)++] = (vmdb_pgstmt){"write leaves",
                                       "INSERT INTO vmdb_leaves (key, value) SELECT k, v FROM "
                                       "unnest($1::bytea[], $2::bytea[]) AS u(k, v) "
                                       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                                       2,
                                       lb->p_set,
                                       lb->l_set,
                                       leaf_fmts};
    }
    if (ndel) {
        lb->p_del[0] = (const char *)lb->ds.ptr;
        lb->l_del[0] = (int)lb->ds.len;
        out[(*nout)++] = (vmdb_pgstmt){"delete leaves",
                                       "DELETE FROM vmdb_leaves WHERE key IN (SELECT k FROM "
                                       "unnest($1::bytea[]) AS u(k))",
                                       1,
                                       lb->p_del,
                                       lb->l_del,
                                       leaf_fmts};
    }
    return 0;
}

/* Fails every request of the batch not marked in `skip` (may be NULL). */
static void fail_all(wreq **b, size_t n, const bool *skip, vmdb_fail_kind kind, const char *msg)
{
    for (size_t i = 0; i < n; i++)
        if (!skip || !skip[i])
            vmdb_fail_set(&b[i]->res->fail, kind, "%s", msg);
}

/* Rolls back to the savepoint of the request that just failed. false when
 * the group cannot go on (no savepoint was set, or the rollback failed). */
static bool back_to_savepoint(wgroup *g)
{
    if (g->savepoint_pending)
        return true; /* nothing was sent */
    return g->savepoint_ok &&
           vmdb_pg_cmd(g->w->conn, "rollback to savepoint", "ROLLBACK TO SAVEPOINT r", NULL) == 0;
}

/* The optimistic path for the common case: the creates of one model in a
 * group run as one statement per column set under one savepoint, so the
 * database parses and plans once for all of them. If anything fails (a
 * constraint, a leaf without a row) the savepoint is rolled back and the
 * requests run one by one, so a bad request still fails alone. Marks the
 * requests it completed in `done`. Returns 0, or VMDB_EIO when the group
 * cannot continue. */
static int batch_creates(wgroup *g, wreq **b, size_t n, wout *outs, bool *done, size_t *nok)
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
    cw.recs = vmdb_arena_alloc(&g->ar, nrecs * sizeof *cw.recs);
    size_t *idx = vmdb_arena_alloc(&g->ar, nrecs * sizeof *idx);
    vmdb_row **slots = vmdb_arena_alloc(&g->ar, nrecs * sizeof *slots);
    vmdb_arena **arenas = vmdb_arena_alloc(&g->ar, nrecs * sizeof *arenas);
    vmdb_row **rows = vmdb_arena_zalloc(&g->ar, n * sizeof *rows);
    if (!cw.recs || !idx || !slots || !arenas || !rows)
        return 0; /* fall back to one by one */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const vmdb_write *w = b[i]->w;
        if (w->kind != VMDB_W_CREATE || w->has_expected || w->model != m)
            continue;
        if (!(rows[i] = vmdb_arena_zalloc(b[i]->ar, w->nrecs * sizeof *rows[i])))
            return 0; /* this request will fail alone */
        for (size_t r = 0; r < w->nrecs; r++, k++) {
            cw.recs[k] = w->recs[r];
            idx[k] = k;
            slots[k] = &rows[i][r];
            arenas[k] = b[i]->ar;
        }
    }
    wout co = {.ar = &g->ar};
    vmdb_fail cf;
    memset(&cf, 0, sizeof cf);
    pend_reset(g);
    g->savepoint_pending = true;
    g->savepoint_ok = false;
    int rc = write_list(g, &cw, ST_INSERT, idx, nrecs, slots, arenas, &co, &cf);
    bool ok = rc == 0 && co.bad.n == 0;
    for (size_t q = 0; ok && q < nrecs; q++)
        ok = slots[q]->id != NULL;
    if (!ok)
        return back_to_savepoint(g) ? 0 : VMDB_EIO;
    if (pend_keep(g) != 0)
        return VMDB_EIO;
    for (size_t i = 0; i < n; i++)
        if (rows[i]) {
            outs[i].rows = rows[i];
            outs[i].nrows = b[i]->w->nrecs;
            done[i] = true;
            (*nok)++;
        }
    return 0;
}

/* Fails the batch when the status refuses writes. */
static bool writes_refused(vmdb_writer *w, wreq **b, size_t n)
{
    char why[VMDB_STATUS_MSG];
    vmdb_block reason = VMDB_BLOCK_COUNT;
    if (!vmdb_status_blocked(w->parts->status, &reason, why, sizeof why))
        return false;
    /* A commit being resolved is 503 DB_UNAVAILABLE (nothing of this group
     * was committed). A lost instance lock stays WRITES_UNAVAILABLE, whether
     * another session took it or the database went away: telling the two
     * apart from the last call's outcome raced with the lock monitor's
     * reconnect (a lock taken elsewhere answered DB_UNAVAILABLE while the
     * monitor's new connection was being made). Both mean "not written". */
    bool away = reason == VMDB_BLOCK_COMMIT_LOST;
    fail_all(b, n, NULL, away ? VMDB_FAIL_DB_UNAVAILABLE : VMDB_FAIL_WRITES_UNAVAILABLE,
             reason == VMDB_BLOCK_LOCK_LOST
                 ? "instance lock lost; writes resume when it is re-taken"
                 : why);
    return true;
}

/* After the group's first statement: did BEGIN and the state-row lock that
 * went with it find the state where this process left it? If not, the
 * whole group fails (nothing was judged against a stale tree). */
static bool group_stopped(vmdb_writer *w, wgroup *g, wreq **b, size_t n)
{
    if (g->state_moved) {
        vmdb_status_violation(w->parts->status, "vmdb_state", "the state row changed outside vmdb",
                              NULL, 0);
        vmdb_status_set(w->parts->status, VMDB_BLOCK_STATE,
                        "the state row changed outside vmdb (repair with /bootstrap/repair-roots)");
        fail_all(b, n, NULL, VMDB_FAIL_WRITES_UNAVAILABLE,
                 "the database state changed outside vmdb");
        return true;
    }
    if (g->begin_failed) {
        fail_all(b, n, NULL, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
        return true;
    }
    return false;
}

/* ALLOW_MULTI_INSTANCE: BEGIN and the state-row lock go first, so that the
 * group can run on after catching up with another instance's writes. */
static bool begin_shared(vmdb_writer *w, wgroup *g, wreq **b, size_t n, uint8_t root_before[32])
{
    vmdb_pgstmt st[2] = {
        {"begin", "BEGIN", 0, NULL, NULL, NULL},
        {"lock state", "SELECT seq FROM vmdb_state WHERE id = 1 FOR UPDATE", 0, NULL, NULL, NULL}};
    PGresult *res[2];
    char state[6];
    int f = vmdb_pg_pipeline(w->conn, st, 2, res, state);
    g->begun = f != 0;
    PGresult *sr = res[1];
    PQclear(res[0]);
    if (!sr || PQntuples(sr) != 1) {
        PQclear(sr);
        fail_all(b, n, NULL, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
        return false;
    }
    uint64_t dbseq = strtoull(PQgetvalue(sr, 0, 0), NULL, 10);
    PQclear(sr);
    if (dbseq == g->seq)
        return true;
    /* Another instance wrote: catch up with its headers first. */
    LOG_WARN("the database state changed outside this process (ALLOW_MULTI_INSTANCE): reloading");
    if (vmdb_sync_reload(w->parts, w->conn, w->h) != 0) {
        fail_all(b, n, NULL, VMDB_FAIL_WRITES_UNAVAILABLE,
                 "the database state changed outside vmdb");
        return false;
    }
    vmdb_versions_latest(w->parts->versions, &g->seq, root_before, NULL);
    g->view = vmdb_versions_base(w->parts->versions);
    if (writes_refused(w, b, n))
        return false;
    return true;
}

/* The ranges the group widens: each one's leaf joins the overlay (one
 * change per table), and their upsert of vmdb_id_ranges goes to
 * *st (*nst grows by one when any changed). g->gr[i] becomes the table's
 * new range. 0 or VMDB_E*. */
static int range_changes(vmdb_writer *w, wgroup *g, leafbufs *lb, vmdb_pgstmt *st, size_t *nst)
{
    vmdb_id_range *up = g->ngr ? vmdb_arena_alloc(&g->ar, g->ngr * sizeof *up) : NULL;
    size_t nup = 0;
    int rc = 0;
    if (g->ngr && !up)
        return VMDB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < g->ngr; i++) {
        grange *x = &g->gr[i];
        int64_t lo = 0, hi = 0;
        uint8_t key[32], value[32];
        if (vmdb_ranges_get(w->parts->ranges, x->table, &lo, &hi)) {
            x->lo = lo < x->lo ? lo : x->lo;
            x->hi = hi > x->hi ? hi : x->hi;
            x->changed = x->lo != lo || x->hi != hi;
        } else {
            x->changed = true;
        }
        if (!x->changed)
            continue;
        if (strlen(x->table) >= sizeof up[nup].table)
            return VMDB_EINVAL;
        snprintf(up[nup].table, sizeof up[nup].table, "%s", x->table);
        up[nup].lo = x->lo;
        up[nup++].hi = x->hi;
        rc = vmdb_ranges_leaf(w->h, x->table, x->lo, x->hi, key, value);
        rc = rc ? rc : ov_put(&g->ov, key, value);
    }
    if (rc == 0 && nup) {
        rc = vmdb_ranges_upsert_stmt(up, nup, &lb->rn, &lb->rl, &lb->rh, lb->p_rng, &st[*nst]);
        (*nst)++;
    }
    return rc;
}

/* The sequences of the serial tables the client wrote ids to: each is
 * moved past the highest supplied id, so that the next plain create does
 * not draw an id that is taken. One statement for the group, sent with the
 * leaves and COMMIT (no extra round trip); a sequence already past the id
 * is left alone. Every vmdb write holds the state-row lock, so no other
 * vmdb write draws from the sequence between the read and the setval.
 * setval is not transactional: a group that then fails to commit leaves a
 * gap in the ids, nothing worse. *nst grows by one when a table needs it.
 * 0 or VMDB_ENOMEM. */
static int seq_statement(wgroup *g, leafbufs *lb, vmdb_pgstmt *st, size_t *nst)
{
    size_t n = 0;
    int rc = vmdb_buf_putc(&lb->qt, '{');
    rc = rc ? rc : vmdb_buf_putc(&lb->qc, '{');
    rc = rc ? rc : vmdb_buf_putc(&lb->qh, '{');
    /* Table and key names are identifiers (letters, digits, _): no quoting
     * needed in the array literals. */
    for (size_t i = 0; rc == 0 && i < g->ngr; i++) {
        const grange *x = &g->gr[i];
        if (!x->xhas || x->xhi <= 0)
            continue; /* a sequence starts at 1: it never draws a key <= 0 */
        const char *sep = n++ ? "," : "";
        rc = vmdb_sb_printf(&lb->qt, "%s%s", sep, x->table);
        rc = rc ? rc : vmdb_sb_printf(&lb->qc, "%s%s", sep, x->pk);
        rc = rc ? rc : vmdb_sb_printf(&lb->qh, "%s%lld", sep, (long long)x->xhi);
    }
    rc = rc ? rc : vmdb_buf_putc(&lb->qt, '}');
    rc = rc ? rc : vmdb_buf_putc(&lb->qc, '}');
    rc = rc ? rc : vmdb_buf_putc(&lb->qh, '}');
    rc = rc ? rc : vmdb_sb_cstr(&lb->qt);
    rc = rc ? rc : vmdb_sb_cstr(&lb->qc);
    rc = rc ? rc : vmdb_sb_cstr(&lb->qh);
    if (rc)
        return VMDB_ENOMEM;
    if (n == 0)
        return 0;
    lb->p_seq[0] = (const char *)lb->qt.ptr;
    lb->p_seq[1] = (const char *)lb->qc.ptr;
    lb->p_seq[2] = (const char *)lb->qh.ptr;
    /* pg_sequence_last_value is NULL until the sequence's first nextval
     * (whose value is then its start, 1). */
    st[(*nst)++] = (vmdb_pgstmt){
        "advance sequences",
        "SELECT setval(q.s, u.h, true) FROM unnest($1::text[], $2::text[], $3::bigint[]) AS "
        "u(t, c, h), LATERAL (SELECT pg_get_serial_sequence('public.' || quote_ident(u.t), "
        "u.c)::regclass AS s) AS q WHERE q.s IS NOT NULL AND u.h > "
        "COALESCE(pg_sequence_last_value(q.s), 0)",
        3,
        lb->p_seq,
        NULL,
        NULL};
    return 0;
}

/* Every change of the group (each key once), the new tree version and the
 * commit. 0 with *sh the group's header, or VMDB_E* (nothing committed, or
 * the connection was lost during COMMIT). */
static int commit_group(vmdb_writer *w, wgroup *g, vmdb_sheader *sh)
{
    leafbufs lb;
    memset(&lb, 0, sizeof lb);
    vmdb_pgstmt leafst[4];
    size_t nch = 0, nleafst = 0, nrangest = 0;
    uint8_t root[32], schema[32];
    vmdb_pgstmt rangest[1];
    /* The range leaves first: they join the overlay the changes come from. */
    int rc = range_changes(w, g, &lb, rangest, &nrangest);
    vmdb_smt_change *ch = rc ? NULL : calloc(g->ov.n ? g->ov.n : 1, sizeof *ch);
    rc = rc ? rc : ch ? 0 : VMDB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < g->ov.cap; i++)
        if (g->ov.e[i].state) {
            memcpy(ch[nch].key, g->ov.e[i].key, 32);
            memcpy(ch[nch].value, g->ov.e[i].value, 32);
            ch[nch++].remove = g->ov.e[i].state == 2;
        }
    rc = rc ? rc : leaf_statements(g, &lb, leafst, &nleafst);
    if (rc == 0 && nrangest)
        leafst[nleafst++] = rangest[0];
    rc = rc ? rc : seq_statement(g, &lb, leafst, &nleafst);
    if (rc == 0 && (rc = vmdb_versions_apply(w->parts->versions, ch, nch)) != 0)
        LOG_ERROR("writer: tree apply failed: %s", vmdb_error_last());
    if (rc == 0) {
        vmdb_versions_pending_root(w->parts->versions, root);
        vmdb_catalog_schema_hash(w->parts->catalog, schema);
        vmdb_versions_committing(w->parts->versions, g->seq + 1);
        /* The leaves, the signed header, the state row, the intent, COMMIT. */
        rc = vmdb_chain_commit(w->parts->chain, w->conn, w->h, g->seq + 1, root, schema, "write",
                               leafst, nleafst, sh);
        if (rc)
            vmdb_versions_discard(w->parts->versions);
    }
    free(ch);
    vmdb_buf_free(&lb.ks);
    vmdb_buf_free(&lb.vs);
    vmdb_buf_free(&lb.ds);
    vmdb_buf_free(&lb.rn);
    vmdb_buf_free(&lb.rl);
    vmdb_buf_free(&lb.rh);
    vmdb_buf_free(&lb.qt);
    vmdb_buf_free(&lb.qc);
    vmdb_buf_free(&lb.qh);
    return rc;
}

/* The proof of a committed write (PROTOCOL.md §9), against the version
 * just published (only this thread publishes, so it is still the newest)
 * and the header it was committed under. Create and upsert prove their
 * rows present; delete proves its deleted and its missing ids absent. The
 * write is committed whatever happens here: a proof that cannot be built
 * fails the answer with a message that says so. */
static void write_proof(vmdb_writer *w, wreq *r, vmdb_write_result *res)
{
    bool del = r->w->kind == VMDB_W_DELETE;
    vmdb_proof_keys k = {.present = del ? NULL : res->rows,
                         .npresent = del ? 0 : res->nrows,
                         .gone = del ? res->rows : NULL,
                         .ngone = del ? res->nrows : 0,
                         .absent = res->missing,
                         .nabsent = res->nmissing};
    const vmdb_versions *vs = w->parts->versions;
    int rc = vmdb_proofs_build(&res->proof, r->ar, w->h, vmdb_versions_tree(vs),
                               vmdb_versions_base(w->parts->versions), r->w->model, &k);
    if (rc == 0) {
        res->proof.header = res->header;
        return;
    }
    res->proof.has = false;
    vmdb_fail_set(&res->fail, VMDB_FAIL_INTERNAL,
                  "the write was committed (seq %llu) but its proof could not be built: %s",
                  (unsigned long long)res->header.h.seq,
                  rc == VMDB_ELIMIT ? "too large" : "out of memory");
}

/* ---- after a connection lost during a COMMIT ---------------------------------- */

static void lost_begin(vmdb_writer *w)
{
    w->lost = true;
    w->reload = false;
    w->backoff_ms = 0;
    vmdb_status_set(w->parts->status, VMDB_BLOCK_COMMIT_LOST,
                    "database connection lost during a commit; reconnecting to find out whether "
                    "it committed");
}

/* Reconnects, finds out from the state row whether the lost COMMIT ran
 * (vmdb_chain_resolve_lost), and if it did reloads the tree, the ranges,
 * the registry and the header chain from one snapshot, as a resync does;
 * then writes resume. false when the database is still unavailable (the
 * caller retries later). The in-flight requests were answered
 * COMMIT_UNKNOWN already. TRUST.md §3: the database is at the intent or at
 * the previous header, both of which the trusted state accepts, so either
 * outcome keeps every guarantee; anything else keeps writes refused. */
static bool heal(vmdb_writer *w)
{
    const vmdb_parts *p = w->parts;
    if (PQstatus(w->conn) != CONNECTION_OK)
        PQreset(w->conn);
    if (PQstatus(w->conn) != CONNECTION_OK)
        return false;
    if (w->lost) {
        bool committed = false;
        vmdb_sheader sh;
        int rc = vmdb_chain_resolve_lost(p->chain, w->conn, w->h, &committed, &sh);
        if (rc == VMDB_EIO)
            return false;
        w->lost = false;
        if (rc != 0) {
            /* Someone else moved the state: as a moved state row. */
            vmdb_status_violation(p->status, "vmdb_state",
                                  "after a lost commit the state row is at neither the intent "
                                  "nor the previous header",
                                  NULL, 0);
            vmdb_status_set(p->status, VMDB_BLOCK_STATE,
                            "the state row changed outside vmdb during a lost commit (restart "
                            "vmdb to check the state)");
            vmdb_status_set(p->status, VMDB_BLOCK_COMMIT_LOST, NULL);
            return true;
        }
        w->reload = committed;
    }
    if (w->reload) {
        if (vmdb_pg_cmd(w->conn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL))
            return false;
        vmdb_pg_cmd(w->conn, "no statement timeout for the reload",
                    "SET LOCAL statement_timeout = 0", NULL);
        int rc = vmdb_sync_reload(p, w->conn, w->h);
        vmdb_pg_cmd(w->conn, "end", rc ? "ROLLBACK" : "COMMIT", NULL);
        if (rc != 0)
            return false;
        w->reload = false;
        LOG_INFO("writer: the state after the lost commit is reloaded");
    }
    vmdb_status_set(p->status, VMDB_BLOCK_COMMIT_LOST, NULL);
    LOG_INFO("writer: writes resume after the lost commit");
    return true;
}

/* heal() if due; true when nothing is left to heal. */
static bool healed(vmdb_writer *w)
{
    if (!w->lost && !w->reload)
        return true;
    if (heal(w)) {
        w->backoff_ms = 0;
        return true;
    }
    w->backoff_ms = w->backoff_ms ? (w->backoff_ms * 2 > 5000 ? 5000 : w->backoff_ms * 2) : 250;
    return false;
}

/* The keys request `wr` names: a delete's ids, the supplied keys of a create
 * or an upsert (a serial create's drawn ids are not known before it runs;
 * they cannot be named by an earlier request, and once written they are in
 * the overlay). In the group's arena. 0 or VMDB_E*. */
static int named_keys(wgroup *g, const vmdb_write *wr, uint8_t (**keys)[32], size_t *nkeys)
{
    size_t cap = wr->kind == VMDB_W_DELETE ? wr->nids : wr->nrecs, n = 0;
    uint8_t(*k)[32] = vmdb_arena_alloc(&g->ar, (cap ? cap : 1) * 32);
    if (!k)
        return VMDB_ENOMEM;
    for (size_t i = 0; i < cap; i++) {
        const char *t = wr->kind == VMDB_W_DELETE ? wr->ids[i] : wr->recs[i].pk_text;
        int rc = t ? vmdb_rows_key(g->w->h, wr->model, t, k[n++]) : 0;
        if (rc)
            return rc;
    }
    *keys = k;
    *nkeys = n;
    return 0;
}

/* Whether one of `keys` was written or named by a request the group kept.
 * Such a request may not join the group: its answer (and its proof) must be
 * true of the group's header, which would hold the later request's value of
 * the key, or the earlier's proven absence would be false. */
static bool collides(const wgroup *g, uint8_t (*keys)[32], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ov_has(&g->ov, keys[i]) || ov_has(&g->named, keys[i]))
            return true;
    return false;
}

/* Leaves b[from..n) that are not done for the next group, in their order
 * (vmdb_writer's thread puts them back at the head of the queue). */
static void defer_rest(wreq **b, size_t from, size_t n, const bool *done, bool *failed)
{
    for (size_t k = from; k < n; k++)
        if (!done[k]) {
            b[k]->deferred = true;
            failed[k] = true; /* neither answered nor failed by this group */
        }
}

static void run_group(vmdb_writer *w, wgroup *g, wreq **b, size_t n)
{
    wout *outs = vmdb_arena_zalloc(&g->ar, n * sizeof *outs);
    bool *failed = vmdb_arena_zalloc(&g->ar, n * sizeof *failed);
    bool *done = vmdb_arena_zalloc(&g->ar, n * sizeof *done);
    uint8_t root_before[32];
    size_t nok = 0;
    vmdb_sheader sh;
    if (!outs || !failed || !done) {
        fail_all(b, n, NULL, VMDB_FAIL_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        outs[i].ar = b[i]->ar;
    vmdb_versions_latest(w->parts->versions, &g->seq, root_before, NULL);
    g->view = vmdb_versions_base(w->parts->versions); /* only this thread publishes */
    if (writes_refused(w, b, n))
        goto out;
    if (PQstatus(w->conn) != CONNECTION_OK)
        PQreset(w->conn);
    g->begun = g->state_moved = g->begin_failed = false;
    /* BEGIN and the state row lock. The state row is the commit point every
     * instance serialises on; if it moved without this process, the tree is
     * stale. A single instance sends them with the group's first statement
     * (wexec) and stops the group if the row moved. */
    g->begin_pending = !w->cfg.allow_multi_instance;
    if (!g->begin_pending && !begin_shared(w, g, b, n, root_before))
        goto out;
    ov_clear(&g->ov);
    ov_clear(&g->named);
    g->ngr = 0;
    if (batch_creates(g, b, n, outs, done, &nok) != 0) {
        if (!group_stopped(w, g, b, n))
            fail_all(b, n, NULL, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
        goto out;
    }
    if (group_stopped(w, g, b, n))
        goto out;
    for (size_t i = 0; i < n; i++) {
        const vmdb_write *wr = b[i]->w;
        vmdb_fail *fail = &b[i]->res->fail;
        failed[i] = !done[i];
        if (done[i])
            continue;
        if (wr->has_expected && memcmp(wr->expected, root_before, 32) != 0) {
            /* Only the first request of a group may carry expected_root, so
             * root_before is exactly the root it would apply to. */
            vmdb_fail_set(fail, VMDB_FAIL_ROOT_CHANGED, "Root changed, retry the write");
            memcpy(fail->current_root, root_before, 32);
            memcpy(fail->expected_root, wr->expected, 32);
            continue;
        }
        /* A request that names a key of an earlier one waits for the next
         * group (with those after it). Groups of one skip the hashing. */
        uint8_t(*named)[32] = NULL;
        size_t nnamed = 0;
        if (n > 1 && named_keys(g, wr, &named, &nnamed) != 0) {
            vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "out of memory");
            continue;
        }
        if (nok > 0 && collides(g, named, nnamed)) {
            defer_rest(b, i, n, done, failed);
            break;
        }
        pend_reset(g);
        g->savepoint_pending = true;
        g->savepoint_ok = false;
        int rc = run_request(g, wr, b[i]->ar, &outs[i], fail);
        /* A failure run_request left unfilled would be answered as a
         * success without rows: debug builds stop, release ones say so. */
        vmdb_fail_check(rc, fail);
        if (rc != 0 && fail->kind == VMDB_FAIL_NONE)
            vmdb_fail_set(fail, VMDB_FAIL_INTERNAL, "internal error");
        if (group_stopped(w, g, b, n))
            goto out;
        if (rc == 0) {
            /* Savepoints are not released: a release costs a round trip
             * and changes nothing for the commit. */
            int krc = pend_keep(g);
            for (size_t k = 0; krc == 0 && k < nnamed; k++)
                krc = ov_put(&g->named, named[k], NULL);
            if (krc != 0) {
                fail_all(b, n, NULL, VMDB_FAIL_INTERNAL, "out of memory");
                goto out;
            }
            failed[i] = false;
            nok++;
        } else if (!back_to_savepoint(g)) {
            /* Without this request's savepoint the group cannot be saved. A
             * lost connection is "unavailable" for this request too: the
             * group was not committed, the client may retry. */
            if (PQstatus(w->conn) != CONNECTION_OK && fail->kind == VMDB_FAIL_DATABASE)
                vmdb_fail_set(fail, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
            fail_all(b, n, failed, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
            goto out;
        }
    }
    if (nok == 0)
        goto out;
    int rc = commit_group(w, g, &sh);
    g->begun = false;
    if (rc != 0) {
        if (PQstatus(w->conn) != CONNECTION_OK && vmdb_chain_commit_lost(w->parts->chain)) {
            /* The COMMIT may or may not have happened: writes wait until
             * heal() has found out (the pending version is gone; a group
             * that did commit is reloaded from the database). */
            lost_begin(w);
            fail_all(b, n, failed, VMDB_FAIL_COMMIT_UNKNOWN,
                     "the database connection was lost during the commit: the write may have "
                     "been committed; read it back once the database is available");
        } else if (PQstatus(w->conn) != CONNECTION_OK) {
            fail_all(b, n, failed, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
        } else {
            vmdb_pg_cmd(w->conn, "rollback", "ROLLBACK", NULL);
            fail_all(b, n, failed, VMDB_FAIL_DATABASE, "the write could not be committed");
        }
        goto out;
    }
    vmdb_versions_publish(w->parts->versions, sh.h.seq);
    vmdb_chain_advance(w->parts->chain, w->h, &sh);
    /* The writer's copy of the ranges follows the tree it just published. */
    for (size_t i = 0; i < g->ngr; i++)
        if (g->gr[i].changed &&
            vmdb_ranges_set(w->parts->ranges, g->gr[i].table, g->gr[i].lo, g->gr[i].hi) != 0)
            vmdb_status_set(w->parts->status, VMDB_BLOCK_COMMIT_LOST,
                            "out of memory keeping the id ranges; restart vmdb to reload them");
    /* A write that lands on a BATCH_COMMIT_SIZE boundary is answered once its
     * header is anchored (vmdb_writer_write waits; the writer does not). */
    bool boundary = sh.h.seq % w->cfg.batch_commit_size == 0;
    size_t nrows = 0;
    for (size_t i = 0; i < n; i++) {
        if (failed[i])
            continue;
        nrows += outs[i].nrows;
        vmdb_write_result *res = b[i]->res;
        res->rows = outs[i].rows;
        res->nrows = outs[i].nrows;
        res->missing = outs[i].missing.v;
        res->nmissing = outs[i].missing.n;
        res->header = sh;
        res->committed = boundary;
        b[i]->anchor_seq = boundary ? sh.h.seq : 0;
        if (b[i]->w->proof)
            write_proof(w, b[i], res);
    }
    vmdb_histo_observe(&w->group_reqs, nok);
    vmdb_histo_observe(&w->group_rows, nrows);
out:
    if (g->begun)
        vmdb_pg_cmd(w->conn, "rollback", "ROLLBACK", NULL);
    g->begun = false;
    vmdb_arena_free(&g->ar);
}

/* ---- the thread and the queue ------------------------------------------------ */

/* A single request is finished through the batch array like a group. */
static void batch_or_first(wreq **batch, wreq *first, size_t *n)
{
    if (batch)
        batch[0] = first;
    *n = 1;
}

/* Hands the finished requests back: a waiting thread is signalled, an
 * asynchronous write's callback runs (after the lock is let go, since it
 * may take other components' locks). A request may be gone the moment it
 * is handed back (a waiter's is on its stack, a callback's in an arena its
 * callback lets go of), so the two kinds are told apart first: the
 * asynchronous ones are moved to the front of `b`. */
static void finish(vmdb_writer *w, wreq **b, size_t n)
{
    size_t na = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i]->on_done) {
            wreq *t = b[na];
            b[na++] = b[i];
            b[i] = t;
        }
    pthread_mutex_lock(&w->mu);
    for (size_t i = na; i < n; i++) {
        b[i]->done = true;
        pthread_cond_signal(&b[i]->cv);
    }
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < na; i++)
        b[i]->on_done(b[i]->on_done_arg);
}

/* How many clients of the last group have no write in batch[0..n). */
static size_t awaited(const vmdb_writer *w, wreq *const *batch, size_t n)
{
    size_t missing = 0;
    for (size_t i = 0; i < w->nprev; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = batch[j]->w->client == w->prev[i];
        missing += !found;
    }
    return missing;
}

/* Moves queued writes that may join into the group (under the queue lock).
 * false when the queue's head cannot join (a job, or expected_root). */
static bool take_joinable(vmdb_writer *w, wreq **batch, size_t *n)
{
    while (w->head && *n < w->cfg.max_group && !w->head->job &&
           !(*n > 0 && w->head->w->has_expected)) {
        batch[(*n)++] = w->head;
        w->head = w->head->next;
    }
    if (!w->head)
        w->tail = NULL;
    return !w->head || *n >= w->cfg.max_group;
}

/* Group commit's gathering (under the queue lock): closed-loop clients send
 * their next write as soon as the last one is answered, so right after a
 * commit the queue holds the writes that waited during it, and the clients
 * just answered are about to send theirs. Waiting for those (at most
 * commit_delay_us; no longer than it takes them) lets both share the next
 * commit instead of taking turns, one commit each: with 2 clients, groups
 * of 1 become groups of 2. A wait that saw none of them come back turns
 * waiting off for 16 groups (clients that send one write and go). */
static void gather_more(vmdb_writer *w, wreq **batch, size_t *n)
{
    if (!w->cfg.commit_delay_us || !w->nprev || *n == 0 || batch[0]->w->has_expected) {
        return;
    }
    if (w->skip) {
        w->skip--;
        return;
    }
    size_t want = awaited(w, batch, *n), at_start = want;
    if (want == 0)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)w->cfg.commit_delay_us * 1000L;
    while (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (want > 0 && *n < w->cfg.max_group && !w->stop) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0)
            break;
        if (!take_joinable(w, batch, n))
            break; /* a job or an expected_root waits behind us: go */
        want = awaited(w, batch, *n);
    }
    take_joinable(w, batch, n);
    if (want == at_start)
        w->skip = 16;
}

/* Notes the clients of a group for the next one's gathering. */
static void note_clients(vmdb_writer *w, wreq *const *batch, size_t n)
{
    w->nprev = 0;
    for (size_t i = 0; i < n && w->prev; i++) {
        uint64_t c = batch[i]->w->client;
        bool dup = c == 0;
        for (size_t j = 0; j < w->nprev && !dup; j++)
            dup = w->prev[j] == c;
        if (!dup)
            w->prev[w->nprev++] = c;
    }
}

/* Puts the requests their group deferred back at the head of the queue,
 * in their order, ahead of everything queued since; returns how many of
 * batch[0..n) are left to finish (moved to its front, in order). */
static size_t requeue_deferred(vmdb_writer *w, wreq **batch, size_t n)
{
    size_t kept = 0;
    wreq *first = NULL, *last = NULL;
    for (size_t i = 0; i < n; i++) {
        wreq *r = batch[i];
        if (!r->deferred) {
            batch[kept++] = r;
            continue;
        }
        r->deferred = false;
        if (last)
            last->next = r;
        else
            first = r;
        last = r;
    }
    if (!first)
        return kept;
    pthread_mutex_lock(&w->mu);
    last->next = w->head;
    if (!w->head)
        w->tail = last;
    w->head = first;
    pthread_mutex_unlock(&w->mu);
    return kept;
}

static void *writer_main(void *arg)
{
    vmdb_writer *w = arg;
    wgroup g;
    memset(&g, 0, sizeof g);
    g.w = w;
    wreq **batch = calloc(w->cfg.max_group, sizeof *batch);
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stop) {
            if (!w->lost && !w->reload) {
                pthread_cond_wait(&w->cv, &w->mu);
                continue;
            }
            /* Healing on its own: retry with backoff while idle. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            unsigned ms = w->backoff_ms ? w->backoff_ms : 1;
            until.tv_sec += ms / 1000;
            until.tv_nsec += (long)(ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cv, &w->mu, &until);
            if (w->head || w->stop)
                break;
            pthread_mutex_unlock(&w->mu);
            healed(w);
            pthread_mutex_lock(&w->mu);
        }
        if (!w->head) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        wreq *first = w->head;
        bool single = first->job || !batch;
        if (single) {
            w->head = first->next;
            n = 1;
        } else {
            /* A request carrying expected_root starts a new group. */
            if (take_joinable(w, batch, &n))
                gather_more(w, batch, &n);
        }
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        bool ok = healed(w);
        if (first->job && !ok) {
            first->job_rc = VMDB_EIO; /* vmdb_writer_run: DB_UNAVAILABLE */
        } else if (first->job) {
            /* Admin jobs (start-up, migrate, repair, resets) may run long
             * on large tables: VMDB_PG_ADMIN_TIMEOUT_S, not the default. */
            if (PQstatus(w->conn) != CONNECTION_OK)
                PQreset(w->conn);
            vmdb_pg_admin_begin(w->conn);
            first->job_rc = first->job(first->job_arg, w->conn, w->h);
            vmdb_pg_admin_end(w->conn);
            if (vmdb_chain_commit_lost(w->parts->chain)) {
                lost_begin(w);
                first->job_lost = true;
            }
        } else if (single) {
            vmdb_fail_set(&first->res->fail, VMDB_FAIL_INTERNAL, "out of memory");
        } else if (!ok) {
            fail_all(batch, n, NULL, VMDB_FAIL_DB_UNAVAILABLE,
                     "database unavailable (reconnecting after a lost commit)");
        } else {
            note_clients(w, batch, n);
            run_group(w, &g, batch, n);
            n = requeue_deferred(w, batch, n);
        }
        if (single)
            batch_or_first(batch, first, &n);
        finish(w, batch ? batch : &first, n);
    }
    free(g.ov.e);
    free(g.named.e);
    free(g.pend);
    free(g.gr);
    vmdb_buf_free(&g.jcs);
    vmdb_arena_free(&g.ar);
    free(batch);
    return NULL;
}

/* Queues `r` and waits until the writer is done with it. false (nothing
 * queued) when the writer is stopping. */
static bool submit(vmdb_writer *w, wreq *r)
{
    pthread_mutex_lock(&w->mu);
    if (w->stop || !w->started) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    r->done = false;
    r->next = NULL;
    if (!r->on_done)
        pthread_cond_init(&r->cv, NULL);
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    pthread_cond_signal(&w->cv);
    if (r->on_done) {
        pthread_mutex_unlock(&w->mu);
        return true;
    }
    while (!r->done)
        pthread_cond_wait(&r->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&r->cv);
    return true;
}

int vmdb_writer_run(vmdb_writer *w, vmdb_job_fn fn, void *arg, vmdb_fail *fail)
{
    wreq r;
    memset(&r, 0, sizeof r);
    r.job = fn;
    r.job_arg = arg;
    if (!submit(w, &r))
        return vmdb_fail_set(fail, VMDB_FAIL_WRITES_UNAVAILABLE, "the server is shutting down");
    if (r.job_lost) /* whatever the job said: it may have committed */
        return vmdb_fail_set(fail, VMDB_FAIL_COMMIT_UNKNOWN,
                             "the database connection was lost during the commit: the operation "
                             "may have been committed; check once the database is available");
    /* A job that reports its failure itself has filled `fail` (admin jobs
     * pass their result's); for the others, a failure from the code. */
    if (r.job_rc != 0 && fail->kind == VMDB_FAIL_NONE)
        vmdb_fail_set(fail, r.job_rc == VMDB_EIO ? VMDB_FAIL_DB_UNAVAILABLE : VMDB_FAIL_INTERNAL,
                      "%s", r.job_rc == VMDB_EIO ? "database unavailable" : "internal error");
    return r.job_rc;
}

int vmdb_writer_write(vmdb_writer *w, vmdb_arena *ar, const vmdb_write *wr, vmdb_write_result *out)
{
    wreq r;
    memset(&r, 0, sizeof r);
    memset(out, 0, sizeof *out);
    r.w = wr;
    r.ar = ar;
    r.res = out;
    if (!submit(w, &r))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_WRITES_UNAVAILABLE,
                             "the server is shutting down");
    if (out->fail.kind != VMDB_FAIL_NONE)
        return vmdb_fail_err(&out->fail);
    /* Not anchored in time: the answer says so. */
    if (r.anchor_seq)
        out->committed = vmdb_chain_wait_anchored(w->parts->chain, r.anchor_seq);
    return 0;
}

int vmdb_writer_write_begin(vmdb_writer *w, vmdb_arena *ar, const vmdb_write *wr,
                            vmdb_write_result *out, vmdb_write_done_fn done, void *arg,
                            vmdb_write_ticket **ticket)
{
    *ticket = NULL;
    memset(out, 0, sizeof *out);
    wreq *r = vmdb_arena_zalloc(ar, sizeof *r);
    if (!r)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
    r->w = wr;
    r->ar = ar;
    r->res = out;
    r->on_done = done;
    r->on_done_arg = arg;
    if (!submit(w, r))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_WRITES_UNAVAILABLE,
                             "the server is shutting down");
    *ticket = (vmdb_write_ticket *)r;
    return 0;
}

uint64_t vmdb_writer_write_anchor(const vmdb_write_ticket *t)
{
    const wreq *r = (const wreq *)t;
    return r->res->fail.kind == VMDB_FAIL_NONE ? r->anchor_seq : 0;
}

int vmdb_writer_open(vmdb_writer **out, const vmdb_writer_config *cfg, const vmdb_parts *parts)
{
    int rc = 0;
    vmdb_writer *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return VMDB_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->cfg = *cfg;
    if (w->cfg.max_group == 0)
        w->cfg.max_group = 256;
    if (w->cfg.batch_commit_size == 0)
        w->cfg.batch_commit_size = 1;
    w->parts = parts;
    w->prev = calloc(w->cfg.max_group, sizeof *w->prev); /* NULL: no waiting */
    vmdb_histo_init(&w->group_reqs, group_req_bounds,
                    sizeof group_req_bounds / sizeof group_req_bounds[0]);
    vmdb_histo_init(&w->group_rows, group_row_bounds,
                    sizeof group_row_bounds / sizeof group_row_bounds[0]);
    if (!(w->url = strdup(cfg->url ? cfg->url : ""))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    w->cfg.url = w->url;
    if ((rc = vmdb_hasher_new(&w->h, 0)) != 0)
        goto done;
    if (!(w->conn = vmdb_pg_connect(w->url, "vmdb-writer")))
        rc = VMDB_EIO;
done:
    if (rc) {
        vmdb_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int vmdb_writer_start(vmdb_writer *w)
{
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        return VMDB_ENOMEM;
    pthread_mutex_lock(&w->mu);
    w->started = true;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void vmdb_writer_free(vmdb_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    bool started = w->started;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (started)
        pthread_join(w->thread, NULL);
    PQfinish(w->conn);
    vmdb_hasher_free(w->h);
    free(w->prev);
    free(w->url);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void vmdb_writer_stats(vmdb_writer *w, vmdb_histo_snap *reqs, vmdb_histo_snap *rows)
{
    vmdb_histo_snapshot(&w->group_reqs, reqs);
    vmdb_histo_snapshot(&w->group_rows, rows);
}
