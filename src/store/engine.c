/*
 * Engine state and start-up. The in-memory tree is the authority on what
 * PostgreSQL should hold; the state row (vmdb_state: seq, root) is written in
 * the same transaction as every change, so a reader that reads the state row
 * and its rows in one statement (one snapshot) knows exactly which tree
 * version to check them against. The last VMDB_RING versions stay held for
 * such readers.
 */
#include "store/engine_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sb.h"

#define ADVISORY_LOCK_KEY "4240001"

void vmdb_answer_fail(vmdb_answer *a, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    a->status = status;
    a->code = code;
    va_start(ap, fmt);
    vsnprintf(a->error, sizeof a->error, fmt, ap);
    va_end(ap);
    a->data.len = 0;
}

static void hasher_free(void *p)
{
    vmdb_hasher_free(p);
}

vmdb_hasher *vmdb_engine_hasher(vmdb_engine *e)
{
    vmdb_hasher *h = pthread_getspecific(e->hkey);
    if (!h && vmdb_hasher_new(&h, 0) == 0)
        pthread_setspecific(e->hkey, h);
    return h;
}

PGconn *vmdb_engine_conn_get(vmdb_engine *e, unsigned *slot)
{
    PGconn *c = NULL;
    pthread_mutex_lock(&e->pool_mu);
    for (;;) {
        for (unsigned i = 0; i < e->npool; i++)
            if (!e->pool_busy[i]) {
                e->pool_busy[i] = true;
                *slot = i;
                c = e->pool[i];
                break;
            }
        if (c)
            break;
        pthread_cond_wait(&e->pool_cv, &e->pool_mu);
    }
    pthread_mutex_unlock(&e->pool_mu);
    if (PQstatus(c) != CONNECTION_OK) {
        /* Reconnect a dropped connection before handing it out. */
        PQreset(c);
        vmdb_pgcache_reset(&e->pool_cache[*slot]);
        if (PQstatus(c) != CONNECTION_OK) {
            PGconn *n = vmdb_pg_connect(e->url, "vmdb-read");
            if (n) {
                PQfinish(c);
                c = e->pool[*slot] = n;
            }
        }
    }
    return c;
}

void vmdb_engine_conn_put(vmdb_engine *e, unsigned slot)
{
    pthread_mutex_lock(&e->pool_mu);
    e->pool_busy[slot] = false;
    pthread_cond_signal(&e->pool_cv);
    pthread_mutex_unlock(&e->pool_mu);
}

const vmdb_smt_view *vmdb_engine_hold(vmdb_engine *e, uint64_t seq, bool *ahead)
{
    const vmdb_smt_view *v = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&e->mu);
    /* The snapshot may show the commit the writer is about to publish. */
    while (seq > e->seq && e->inflight == seq)
        if (pthread_cond_timedwait(&e->pub_cv, &e->mu, &until) != 0)
            break;
    *ahead = seq > e->seq;
    for (unsigned i = 0; i < e->ring_len; i++) {
        vmdb_ring_entry *r = &e->ring[(e->ring_head + VMDB_RING - 1 - i) % VMDB_RING];
        if (r->seq == seq) {
            v = r->view;
            vmdb_smt_hold(e->tree, v);
            break;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return v;
}

void vmdb_engine_unhold(vmdb_engine *e, const vmdb_smt_view *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&e->mu);
    vmdb_smt_release(e->tree, v);
    pthread_mutex_unlock(&e->mu);
}

void vmdb_engine_publish(vmdb_engine *e, uint64_t seq)
{
    pthread_mutex_lock(&e->mu);
    vmdb_smt_publish(e->tree);
    vmdb_ring_entry *slot = &e->ring[e->ring_head];
    if (e->ring_len == VMDB_RING)
        vmdb_smt_release(e->tree, slot->view);
    else
        e->ring_len++;
    slot->seq = seq;
    slot->view = vmdb_smt_acquire(e->tree);
    e->ring_head = (e->ring_head + 1) % VMDB_RING;
    e->seq = seq;
    e->inflight = 0;
    vmdb_smt_view_root(slot->view, e->root);
    vmdb_smt_collect(e->tree);
    pthread_cond_broadcast(&e->pub_cv);
    pthread_mutex_unlock(&e->mu);
}

void vmdb_engine_violation(vmdb_engine *e, const char *table, const char *what, const char *ids)
{
    LOG_ERROR("INTEGRITY_VIOLATION table=%s %s ids=[%s]", table, what, ids);
    vmdb_buf j = VMDB_BUF_INIT;
    char at[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* ids is a list of JSON strings; a long list is cut, not broken. */
    bool fits = strlen(ids) < 1000;
    int rc = vmdb_sb_printf(&j, "{\"at\":\"%s\",\"ids\":[%s],\"reason\":", at, fits ? ids : "");
    rc = rc ? rc : vmdb_sb_jstrz(&j, what);
    rc = rc ? rc : vmdb_sb_puts(&j, ",\"table\":");
    rc = rc ? rc : vmdb_sb_jstrz(&j, table);
    rc = rc ? rc : vmdb_buf_putc(&j, '}');
    pthread_mutex_lock(&e->mu);
    e->violations++;
    if (rc == 0 && j.len < sizeof e->last_violation) {
        memcpy(e->last_violation, j.ptr, j.len);
        e->last_violation[j.len] = 0;
    }
    pthread_mutex_unlock(&e->mu);
    vmdb_buf_free(&j);
}

void vmdb_engine_submit(vmdb_engine *e, vmdb_wreq *r)
{
    pthread_mutex_lock(&e->qmu);
    if (e->stop) {
        pthread_mutex_unlock(&e->qmu);
        vmdb_answer_fail(r->ans, 503, "WRITES_UNAVAILABLE", "the server is shutting down");
        return;
    }
    r->done = false;
    r->next = NULL;
    pthread_cond_init(&r->cv, NULL);
    if (e->qtail)
        e->qtail->next = r;
    else
        e->qhead = r;
    e->qtail = r;
    pthread_cond_signal(&e->qcv);
    while (!r->done)
        pthread_cond_wait(&r->cv, &e->qmu);
    pthread_mutex_unlock(&e->qmu);
    pthread_cond_destroy(&r->cv);
}

void vmdb_engine_integrity_answer(vmdb_answer *ans, const vmdb_buf *ids)
{
    vmdb_answer_fail(ans, 400, "INTEGRITY_VIOLATION",
                     "Proof verification failed - data integrity cannot be verified");
    int rc = vmdb_sb_puts(&ans->data, "{\"code\":\"INTEGRITY_VIOLATION\",\"ids\":[");
    rc = rc ? rc : vmdb_buf_put(&ans->data, ids->ptr, ids->len);
    rc = rc ? rc : vmdb_sb_puts(&ans->data, "]}");
    if (rc)
        ans->data.len = 0;
}

int vmdb_engine_load_registry(PGconn *c, vmdb_registry **out)
{
    int rc = 0;
    PGresult *r =
        vmdb_pg_exec(c, "load registry",
                     "SELECT table_name, primary_key_field, primary_key_kind, columns::text, "
                     "(SELECT value FROM verifiable_registry_meta WHERE key='schema_hash') "
                     "FROM verifiable_models ORDER BY table_name",
                     0, NULL, NULL);
    if (!r)
        return VMDB_EIO;
    int n = PQntuples(r);
    vmdb_model_row *rows = calloc(n ? (size_t)n : 1, sizeof *rows);
    if (!rows) {
        PQclear(r);
        return VMDB_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        rows[i] = (vmdb_model_row){PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                                   PQgetvalue(r, i, 3)};
    const char *hash = NULL;
    PGresult *h = NULL;
    if (n)
        hash = PQgetvalue(r, 0, 4);
    else if ((h = vmdb_pg_exec(c, "load schema hash",
                               "SELECT value FROM verifiable_registry_meta WHERE key='schema_hash'",
                               0, NULL, NULL)) &&
             PQntuples(h))
        hash = PQgetvalue(h, 0, 0);
    rc = vmdb_registry_from_rows(out, rows, (size_t)n, hash);
    PQclear(h);
    free(rows);
    PQclear(r);
    return rc;
}

void vmdb_engine_set_registry(vmdb_engine *e, vmdb_registry *r)
{
    pthread_mutex_lock(&e->mu);
    vmdb_registry *old = e->reg;
    e->reg = r;
    pthread_mutex_unlock(&e->mu);
    vmdb_registry_unref(old);
}

int vmdb_engine_resolve(vmdb_engine *e, const char *table, vmdb_registry **reg,
                        const vmdb_model **model)
{
    pthread_mutex_lock(&e->mu);
    vmdb_registry *r = vmdb_registry_ref(e->reg);
    pthread_mutex_unlock(&e->mu);
    const vmdb_model *m = vmdb_registry_find(r, table);
    if (!m) {
        /* Another process may have registered it: reload, as the seed. */
        vmdb_registry_unref(r);
        r = NULL;
        unsigned slot;
        PGconn *c = vmdb_engine_conn_get(e, &slot);
        vmdb_registry *fresh = NULL;
        int rc = vmdb_engine_load_registry(c, &fresh);
        vmdb_engine_conn_put(e, slot);
        if (rc == 0) {
            vmdb_engine_set_registry(e, vmdb_registry_ref(fresh));
            r = fresh;
            m = vmdb_registry_find(r, table);
        }
    }
    if (!m) {
        vmdb_registry_unref(r);
        return VMDB_ENOTFOUND;
    }
    *reg = r;
    *model = m;
    return 0;
}

int vmdb_engine_row_leaf(vmdb_hasher *h, const vmdb_model *m, const char *pk, const char *json,
                         uint8_t key[32], uint8_t value[32], vmdb_buf *jcs)
{
    int rc =
        vmdb_row_key(h, key, VMDB_SLICE(m->table, strlen(m->table)), VMDB_SLICE(pk, strlen(pk)));
    if (rc == 0)
        rc = vmdb_row_value(h, value, VMDB_SLICE(json, strlen(json)), NULL, jcs);
    return rc;
}

int vmdb_engine_select_rows(vmdb_buf *sql, const vmdb_model *m, const char *from)
{
    int rc = vmdb_sb_puts(sql, "SELECT t.");
    rc = rc ? rc : vmdb_sb_ident(sql, m->pk);
    rc = rc ? rc : vmdb_sb_puts(sql, "::text, row_to_json(x)::text FROM ");
    rc = rc ? rc : vmdb_sb_puts(sql, from);
    rc = rc ? rc : vmdb_sb_puts(sql, " AS t CROSS JOIN LATERAL (SELECT ");
    rc = rc ? rc : vmdb_sb_puts(sql, m->proj);
    rc = rc ? rc : vmdb_sb_puts(sql, ") x");
    return rc;
}

static const char *const internal_ddl =
    "CREATE TABLE IF NOT EXISTS vmdb_leaves (key bytea PRIMARY KEY, value bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS vmdb_state (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL,"
    " root bytea NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());"
    "INSERT INTO vmdb_state (id, seq, root) VALUES (1, 0, '\\x"
    "0000000000000000000000000000000000000000000000000000000000000000') ON CONFLICT DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS verifiable_models (table_name TEXT PRIMARY KEY,"
    " primary_key_field TEXT NOT NULL, primary_key_kind TEXT NOT NULL, columns JSONB NOT NULL,"
    " create_table_sql TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS verifiable_registry_meta (key TEXT PRIMARY KEY, value TEXT NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS vmdb_headers (seq bigint PRIMARY KEY, header bytea NOT NULL,"
    " sig bytea NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS vmdb_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());";

static void *writer_main(void *arg)
{
    vmdb_writer_main_loop(arg);
    return NULL;
}

/* Keeps the instance lock: pings its connection and re-takes the lock if
 * the connection dropped; writes are refused while it is not held. */
static void *monitor_main(void *arg)
{
    vmdb_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->qmu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (!e->stop)
            pthread_cond_timedwait(&e->mon_cv, &e->qmu, &until);
        bool stop = e->stop;
        pthread_mutex_unlock(&e->qmu);
        if (stop)
            break;
        PGresult *r = e->lockconn ? PQexec(e->lockconn, "SELECT 1") : NULL;
        bool alive = r && PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (alive && atomic_load(&e->lock_ok))
            continue;
        if (!alive) {
            if (atomic_exchange(&e->lock_ok, false))
                LOG_ERROR("instance lock connection lost: writes stop until the lock is re-taken");
            PQfinish(e->lockconn);
            e->lockconn = vmdb_pg_connect(e->url, "vmdb-lock");
            if (!e->lockconn)
                continue;
        }
        r = PQexec(e->lockconn, "SELECT pg_try_advisory_lock(" ADVISORY_LOCK_KEY ")");
        bool got = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (got) {
            atomic_store(&e->lock_ok, true);
            LOG_INFO("instance lock re-taken: writes resume");
        }
    }
    return NULL;
}

static int take_lock(vmdb_engine *e)
{
    e->lockconn = vmdb_pg_connect(e->url, "vmdb-lock");
    if (!e->lockconn)
        return VMDB_EIO;
    PGresult *r = PQexec(e->lockconn, "SELECT pg_try_advisory_lock(" ADVISORY_LOCK_KEY ")");
    bool got = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!got) {
        LOG_ERROR("Another VerifiableDB API instance is already running against this Postgres "
                  "(pg_advisory_lock). Set ALLOW_MULTI_INSTANCE=true to bypass (NOT recommended).");
        return VMDB_EBUSY;
    }
    return 0;
}

/* Reads the state row and every leaf from one snapshot and builds the tree.
 * With `own_txn` it first waits until no transaction holds the state row:
 * after a kill -9 the dead instance's COMMIT may still be running, and
 * loading before it ends would load a state that is about to change. */
static int load_tree(vmdb_engine *e, bool own_txn)
{
    int rc = 0;
    vmdb_smt_leaf *leaves = NULL;
    size_t n = 0;
    uint8_t stored[32] = {0}, built[32];
    uint64_t seq = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (own_txn && (vmdb_pg_cmd(e->wconn, "wait for the state row",
                                "SELECT 1 FROM vmdb_state WHERE id = 1 FOR SHARE", NULL) ||
                    vmdb_pg_cmd(e->wconn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL)))
        return VMDB_EIO;
    PGresult *r = vmdb_pg_exec(e->wconn, "read state",
                               "SELECT seq, encode(root, 'hex') FROM vmdb_state", 0, NULL, NULL);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        if (own_txn)
            vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
        return VMDB_EIO;
    }
    char *end = NULL;
    seq = strtoull(PQgetvalue(r, 0, 0), &end, 10);
    if (vmdb_hex_decode(stored, 32, PQgetvalue(r, 0, 1), strlen(PQgetvalue(r, 0, 1))) != 0)
        memset(stored, 0xff, 32);
    PQclear(r);
    rc = vmdb_pg_load_leaves(e->wconn, &leaves, &n);
    if (own_txn)
        vmdb_pg_cmd(e->wconn, "end", rc ? "ROLLBACK" : "COMMIT", NULL);
    if (rc)
        goto done;
    if ((rc = vmdb_smt_build(e->tree, leaves, n))) {
        LOG_ERROR("start-up: cannot build the tree: %s", vmdb_error_last());
        goto done;
    }
    vmdb_engine_publish(e, seq);
    memcpy(built, e->root, 32);
    if (e->reg) {
        /* resync: the registry may have changed with the state */
        vmdb_registry *reg = NULL;
        if (vmdb_engine_load_registry(e->wconn, &reg) == 0)
            vmdb_engine_set_registry(e, reg);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char hb[65], hs[65];
    vmdb_hex_encode(hb, built, 32);
    vmdb_hex_encode(hs, stored, 32);
    LOG_INFO("start-up: %zu leaves, tree built in %.3f s, seq %llu, root %s", n,
             (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
             (unsigned long long)seq, hb);
    if (memcmp(built, stored, 32) != 0) {
        LOG_ERROR("start-up: the leaves give root %s but the stored state says %s; writes are "
                  "refused until POST /bootstrap/repair-roots",
                  hb, hs);
        pthread_mutex_lock(&e->mu);
        snprintf(e->writes_blocked, sizeof e->writes_blocked,
                 "the leaves do not match the stored root (repair with /bootstrap/repair-roots)");
        pthread_mutex_unlock(&e->mu);
        vmdb_engine_violation(e, "vmdb_leaves", "stored root differs from the leaves", "");
    }
done:
    free(leaves);
    return rc;
}

int vmdb_engine_resync_locked(vmdb_engine *e)
{
    LOG_WARN("the database state changed outside this process (ALLOW_MULTI_INSTANCE): reloading");
    int rc = load_tree(e, false);
    return rc ? rc : vmdb_trust_reload_headers(e);
}

static void do_resync(vmdb_engine *e, void *arg, vmdb_answer *ans)
{
    (void)arg;
    bool ok = vmdb_pg_cmd(e->wconn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL) == 0;
    ok = ok && vmdb_engine_resync_locked(e) == 0;
    vmdb_pg_cmd(e->wconn, "commit", ok ? "COMMIT" : "ROLLBACK", NULL);
    ans->status = ok ? 200 : 503;
}

void vmdb_engine_resync(vmdb_engine *e, vmdb_answer *ans)
{
    vmdb_wreq r = {.admin = do_resync, .ans = ans};
    vmdb_engine_submit(e, &r);
}

static char *path_join(const char *dir, const char *name)
{
    vmdb_buf b = VMDB_BUF_INIT;
    if (vmdb_sb_printf(&b, "%s/%s", dir, name) || vmdb_sb_cstr(&b)) {
        vmdb_buf_free(&b);
        return NULL;
    }
    return (char *)b.ptr;
}

/* Start-up check of the rows themselves: the leaves only say what the rows
 * should be. A sample of each table (or, with --verify-rows, every row) is
 * hashed and looked up in the tree; with every row the counts must match as
 * well, which also catches deleted rows. A mismatch is an integrity
 * violation in /health (reads of those rows fail anyway; writes check the
 * rows they touch). */
static int check_rows_at_start(vmdb_engine *e)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    vmdb_buf sql = VMDB_BUF_INIT, jcs = VMDB_BUF_INIT, from = VMDB_BUF_INIT, bad = VMDB_BUF_INIT;
    uint64_t rows = 0, nbad = 0;
    bool full = e->cfg.verify_rows;
    int rc = 0;
    if (!h)
        return VMDB_ENOMEM;
    const vmdb_smt_view *v = vmdb_smt_current(e->tree); /* no writer runs yet */
    for (size_t i = 0; rc == 0 && e->reg && i < e->reg->n; i++) {
        const vmdb_model *m = &e->reg->models[i];
        sql.len = from.len = 0;
        rc = vmdb_sb_ident(&from, m->table);
        rc = rc ? rc : vmdb_sb_cstr(&from);
        rc = rc ? rc : vmdb_sb_puts(&sql, "DECLARE vmdb_rows NO SCROLL CURSOR FOR ");
        rc = rc ? rc : vmdb_engine_select_rows(&sql, m, (const char *)from.ptr);
        rc = rc ? rc : vmdb_sb_puts(&sql, full ? "" : " ORDER BY random() LIMIT 64");
        rc = rc ? rc : vmdb_sb_cstr(&sql);
        if (rc || vmdb_pg_cmd(e->wconn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL) ||
            vmdb_pg_cmd(e->wconn, "rows cursor", (const char *)sql.ptr, NULL)) {
            rc = rc ? rc : VMDB_EIO;
            break;
        }
        for (;;) {
            PGresult *r =
                vmdb_pg_exec(e->wconn, "rows fetch", "FETCH 10000 FROM vmdb_rows", 0, NULL, NULL);
            if (!r) {
                rc = VMDB_EIO;
                break;
            }
            int nt = PQntuples(r);
            for (int k = 0; k < nt; k++) {
                uint8_t key[32], value[32], tv[32];
                const char *pk = PQgetvalue(r, k, 0);
                rows++;
                if (vmdb_engine_row_leaf(h, m, pk, PQgetvalue(r, k, 1), key, value, &jcs) != 0 ||
                    vmdb_smt_get(e->tree, v, key, tv) != 0 || memcmp(tv, value, 32) != 0) {
                    if (nbad++ < 20) {
                        if (bad.len)
                            vmdb_buf_putc(&bad, ',');
                        vmdb_sb_jstrz(&bad, pk);
                    }
                }
            }
            PQclear(r);
            if (nt == 0)
                break;
        }
        vmdb_pg_cmd(e->wconn, "end", "ROLLBACK", NULL);
    }
    if (rc == 0) {
        uint64_t leaves = vmdb_smt_view_count(v);
        if (nbad && vmdb_sb_cstr(&bad) == 0)
            vmdb_engine_violation(e, "rows", "rows at start-up differ from the tree",
                                  (const char *)bad.ptr);
        if (full && rows != leaves)
            vmdb_engine_violation(e, "rows",
                                  "the tables hold a different number of rows than the tree", "");
        LOG_INFO("start-up: %llu rows %s, %llu differ from the tree", (unsigned long long)rows,
                 full ? "checked (all)" : "spot-checked", (unsigned long long)nbad);
    }
    vmdb_buf_free(&sql);
    vmdb_buf_free(&jcs);
    vmdb_buf_free(&from);
    vmdb_buf_free(&bad);
    return rc;
}

/* Identity, trusted state file, anchor, then the start-up checks. */
static int open_trust(vmdb_engine *e)
{
    const char *dir = e->cfg.data_dir ? e->cfg.data_dir : ".vmdb";
    char *idp =
        e->cfg.identity_path ? strdup(e->cfg.identity_path) : path_join(dir, "identity.json");
    char *anchor_path = path_join(dir, "anchors.bin");
    char *journal_path = path_join(dir, "trusted_state.journal");
    int rc = 0;
    e->tstate_path = path_join(dir, "trusted_state.json");
    if (!idp || !anchor_path || !journal_path || !e->tstate_path || vmdb_hist_new(&e->hist) != 0) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    /* A key given by path (provisioned by a TEE's sealing step) is never
     * generated here; the default one is created at first start. */
    if ((rc = vmdb_identity_load(&e->id, idp, e->cfg.identity_path == NULL)))
        goto done;
    LOG_INFO("identity %s (public key %s)", e->id.address, e->id.pk_hex);
    if ((rc = vmdb_tjournal_open(&e->tjournal, journal_path)))
        goto done;
    if (e->cfg.anchor == VMDB_ANCHOR_SOLANA) {
        char *state = path_join(dir, "solana_anchor.json");
        vmdb_anchor_solana_cfg sc = {e->cfg.solana_rpc_url, e->id.sk, e->cfg.solana_fee_payer,
                                     state, e->cfg.solana_commitment};
        rc = state ? vmdb_anchor_solana_open(&e->anchor, &sc) : VMDB_ENOMEM;
        free(state);
        if (rc)
            goto done;
        LOG_INFO("anchor: solana, memos signed by %s", e->id.address);
    } else if ((rc = vmdb_anchor_local_open(&e->anchor, anchor_path, e->id.pk))) {
        goto done;
    }
    rc = vmdb_trust_recover(e);
done:
    free(idp);
    free(anchor_path);
    free(journal_path);
    return rc;
}

int vmdb_engine_open(vmdb_engine **out, const vmdb_engine_config *cfg)
{
    int rc = 0;
    *out = NULL;
    vmdb_engine *e = calloc(1, sizeof *e);
    if (!e)
        return VMDB_ENOMEM;
    e->cfg = *cfg;
    if (e->cfg.batch_commit_size == 0)
        e->cfg.batch_commit_size = 1;
    if (e->cfg.read_pool == 0)
        e->cfg.read_pool = 8;
    if (e->cfg.max_group == 0)
        e->cfg.max_group = 256;
    e->url = strdup(cfg->database_url ? cfg->database_url : "");
    e->migrations_dir = strdup(cfg->migrations_dir ? cfg->migrations_dir : "migrations");
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->qmu, NULL);
    pthread_mutex_init(&e->pool_mu, NULL);
    pthread_cond_init(&e->pub_cv, NULL);
    pthread_cond_init(&e->qcv, NULL);
    pthread_cond_init(&e->mon_cv, NULL);
    pthread_cond_init(&e->anchor_cv, NULL);
    pthread_cond_init(&e->anchored_cv, NULL);
    if (e->cfg.anchor_interval_s == 0)
        e->cfg.anchor_interval_s = 30;
#ifdef VMDB_TEST_HOOKS
    {
        const char *f = getenv("VMDB_FAULT_AFTER_INTENT"); /* per mille */
        if (f && *f)
            e->fault_after_intent = (unsigned)strtoul(f, NULL, 10);
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
    }
#endif
    pthread_cond_init(&e->pool_cv, NULL);
    pthread_key_create(&e->hkey, hasher_free);
    atomic_init(&e->lock_ok, true);
    if (!e->url || !e->migrations_dir) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    if ((rc = vmdb_smt_new(&e->tree, 0)))
        goto done;
    if (!(e->wconn = vmdb_pg_connect(e->url, "vmdb-writer"))) {
        rc = VMDB_EIO;
        goto done;
    }
    if (vmdb_pg_cmd(e->wconn, "create internal tables", internal_ddl, NULL)) {
        rc = VMDB_EIO;
        goto done;
    }
    if (!cfg->allow_multi_instance && (rc = take_lock(e)))
        goto done;
    if ((rc = vmdb_engine_load_registry(e->wconn, &e->reg)))
        goto done;
    LOG_INFO("registry: %zu models", e->reg->n);
    if ((rc = load_tree(e, true)))
        goto done;
    if ((rc = open_trust(e)))
        goto done;
    if ((rc = check_rows_at_start(e)))
        goto done;
    e->npool = e->cfg.read_pool;
    e->pool = calloc(e->npool, sizeof *e->pool);
    e->pool_busy = calloc(e->npool, sizeof *e->pool_busy);
    e->pool_cache = calloc(e->npool, sizeof *e->pool_cache);
    if (!e->pool || !e->pool_busy || !e->pool_cache) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    for (unsigned i = 0; i < e->npool; i++)
        if (!(e->pool[i] = vmdb_pg_connect(e->url, "vmdb-read"))) {
            rc = VMDB_EIO;
            goto done;
        }
    if (pthread_create(&e->writer, NULL, writer_main, e) != 0) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    e->writer_started = true;
    if ((rc = vmdb_trust_start(e)))
        goto done;
    if (!cfg->allow_multi_instance) {
        if (pthread_create(&e->monitor, NULL, monitor_main, e) != 0) {
            rc = VMDB_ENOMEM;
            goto done;
        }
        e->monitor_started = true;
    }
done:
    if (rc) {
        vmdb_engine_close(e);
        e = NULL;
    }
    *out = e;
    return rc;
}

void vmdb_engine_close(vmdb_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->qmu);
    e->stop = true;
    pthread_cond_broadcast(&e->qcv);
    pthread_cond_broadcast(&e->mon_cv);
    pthread_mutex_unlock(&e->qmu);
    if (e->writer_started)
        pthread_join(e->writer, NULL);
    if (e->monitor_started)
        pthread_join(e->monitor, NULL);
    vmdb_trust_stop(e);
    vmdb_anchor_close(e->anchor);
    vmdb_hist_free(e->hist);
    vmdb_identity_clear(&e->id);
    free(e->tstate_path);
    vmdb_tjournal_free(e->tjournal);
    for (unsigned i = 0; e->pool && i < e->npool; i++) {
        PQfinish(e->pool[i]);
        if (e->pool_cache)
            vmdb_pgcache_reset(&e->pool_cache[i]);
    }
    free(e->pool);
    free(e->pool_cache);
    free(e->pool_busy);
    PQfinish(e->wconn);
    PQfinish(e->lockconn);
    for (unsigned i = 0; i < e->ring_len; i++)
        vmdb_smt_release(e->tree, e->ring[i].view);
    vmdb_smt_free(e->tree);
    vmdb_registry_unref(e->reg);
    vmdb_hasher_free(pthread_getspecific(e->hkey));
    pthread_setspecific(e->hkey, NULL);
    pthread_key_delete(e->hkey);
    free(e->url);
    free(e->migrations_dir);
    free(e);
}

void vmdb_engine_health(vmdb_engine *e, vmdb_answer *ans)
{
    unsigned slot;
    PGconn *c = vmdb_engine_conn_get(e, &slot);
    PGresult *r = PQexec(c, "SELECT 1");
    bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        LOG_WARN("health: DB ping failed: %s", PQerrorMessage(c));
    PQclear(r);
    vmdb_engine_conn_put(e, slot);
    pthread_mutex_lock(&e->mu);
    uint64_t seq = e->seq, viol = e->violations, leaves = 0;
    uint8_t root[32], main_root[32];
    memcpy(root, e->root, 32);
    memcpy(main_root, e->main_root, 32);
    leaves = vmdb_smt_view_count(vmdb_smt_current(e->tree));
    char last[sizeof e->last_violation], blocked[300];
    memcpy(last, e->last_violation, sizeof last);
    memcpy(blocked, e->writes_blocked, sizeof blocked);
    pthread_mutex_unlock(&e->mu);
    if (!blocked[0] && !atomic_load(&e->lock_ok))
        snprintf(blocked, sizeof blocked, "instance lock lost; waiting to re-take it");
    vmdb_buf *d = &ans->data;
    int rc = vmdb_sb_puts(d, "{\"integrity\":{");
    rc = rc ? rc : (viol ? vmdb_sb_puts(d, "\"last\":") : 0);
    rc = rc ? rc : (viol ? vmdb_sb_puts(d, last[0] ? last : "{}") : 0);
    rc = rc ? rc
            : vmdb_sb_printf(d, "%s\"ok\":%s,\"violations\":%llu},\"leaves\":%llu,\"main_root\":",
                             viol ? "," : "", viol ? "false" : "true", (unsigned long long)viol,
                             (unsigned long long)leaves);
    rc = rc ? rc : vmdb_sb_jhex32(d, main_root);
    rc = rc ? rc
            : vmdb_sb_printf(
                  d, ",\"seq\":%llu,\"status\":\"%s\",\"temporary_root\":", (unsigned long long)seq,
                  !ok                    ? "unhealthy"
                  : (viol || blocked[0]) ? "degraded"
                                         : "ok");
    rc = rc ? rc : vmdb_sb_jhex32(d, root);
    /* The anchor: kind, newest anchored seq, backlog, the backend's state. */
    pthread_mutex_lock(&e->mu);
    bool has_a = e->has_anchored, has_l = e->has_last;
    uint64_t aseq = e->anchored.h.seq, lseq = e->last.h.seq;
    char aerr[sizeof e->anchor_error];
    memcpy(aerr, e->anchor_error, sizeof aerr);
    pthread_mutex_unlock(&e->mu);
    rc = rc ? rc : vmdb_sb_printf(d, ",\"anchor\":{\"anchored_seq\":");
    rc = rc ? rc
            : (has_a ? vmdb_sb_printf(d, "%llu", (unsigned long long)aseq)
                     : vmdb_sb_puts(d, "null"));
    rc = rc ? rc
            : vmdb_sb_printf(d, ",\"backlog\":%llu,\"backend\":",
                             (unsigned long long)(has_l ? (has_a ? lseq - aseq : lseq + 1) : 0));
    if (rc == 0 && e->anchor && e->anchor->ops->status)
        rc = e->anchor->ops->status(e->anchor, d);
    else if (rc == 0)
        rc = vmdb_sb_puts(d, "null");
    rc = rc ? rc : vmdb_sb_puts(d, ",\"error\":");
    rc = rc ? rc : (aerr[0] ? vmdb_sb_jstrz(d, aerr) : vmdb_sb_puts(d, "null"));
    rc =
        rc ? rc : vmdb_sb_printf(d, ",\"kind\":\"%s\"}", e->anchor ? e->anchor->ops->name : "none");
    rc = rc ? rc : vmdb_sb_puts(d, ",\"writes\":");
    rc = rc ? rc : vmdb_sb_jstrz(d, blocked[0] ? blocked : "ok");
    rc = rc ? rc : vmdb_buf_putc(d, '}');
    if (!ok) {
        ans->status = 503;
        ans->code = "DB_UNAVAILABLE";
        snprintf(ans->error, sizeof ans->error, "DB ping failed");
    } else {
        ans->status = 200;
    }
    if (rc)
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
}

void vmdb_engine_schema(vmdb_engine *e, vmdb_answer *ans)
{
    unsigned slot;
    PGconn *c = vmdb_engine_conn_get(e, &slot);
    /* One statement builds the whole document, so it is one snapshot. */
    PGresult *r = vmdb_pg_exec(
        c, "read schema",
        "SELECT json_build_object('schema', 'public', 'tables', "
        "COALESCE(json_agg(json_build_object("
        "'table_name', t.table_name, 'columns', (SELECT COALESCE(json_agg(json_build_object("
        "'name', c.column_name, 'data_type', c.data_type, 'is_nullable', c.is_nullable = 'YES', "
        "'default', c.column_default) ORDER BY c.ordinal_position), '[]') FROM "
        "information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = "
        "t.table_name), 'primary_key', (SELECT COALESCE(json_agg(k.column_name ORDER BY "
        "k.ordinal_position), '[]') FROM information_schema.table_constraints tc JOIN "
        "information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND "
        "k.table_schema = tc.table_schema AND k.table_name = tc.table_name WHERE tc.table_schema = "
        "'public' AND tc.table_name = t.table_name AND tc.constraint_type = 'PRIMARY KEY')) ORDER "
        "BY "
        "t.table_name), '[]'))::text FROM information_schema.tables t WHERE t.table_schema = "
        "'public' AND t.table_type = 'BASE TABLE' AND t.table_name NOT IN ('merkle_nodes', "
        "'verifiable_models', 'verifiable_registry_meta', '_sqlx_migrations', 'schema_migrations') "
        "AND t.table_name NOT LIKE 'vmdb\\_%'",
        0, NULL, NULL);
    vmdb_engine_conn_put(e, slot);
    if (!r) {
        vmdb_answer_fail(ans, 500, "DATABASE_ERROR", "Failed to list tables");
        return;
    }
    /* Re-emit through the canonicaliser: sorted keys like every other answer. */
    const char *doc = PQgetvalue(r, 0, 0);
    if (vmdb_jcs_canonicalize(&ans->data, VMDB_SLICE(doc, strlen(doc)), NULL) != 0)
        vmdb_answer_fail(ans, 500, "INTERNAL", "Failed to list tables");
    else {
        ans->status = 200;
        ans->bare = true;
    }
    PQclear(r);
}
