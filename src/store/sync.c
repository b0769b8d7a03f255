/*
 * Start-up and resync: the tree is rebuilt from vmdb_leaves and checked
 * against the state row and the stored id ranges, the chain against the
 * tree, and a sample of the rows against the tree.
 */
#include "store/sync.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/rows.h"
#include "store/transitions.h"
#include "util/arena.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/rowhash.h"

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
    "CREATE TABLE IF NOT EXISTS vmdb_id_ranges (table_name text PRIMARY KEY, lo bigint NOT NULL,"
    " hi bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS vmdb_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS vmdb_transitions (seq bigint PRIMARY KEY, record text NOT NULL,"
    " proof bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now());";

/* The stored id ranges against the tree just built: each must be there as
 * its leaf, and a serial table without a stored range must have no range
 * leaf. A mismatch refuses writes (repair recomputes the ranges). The
 * writer's copy becomes the stored ranges either way. */
static void check_ranges(const vmdb_parts *p, vmdb_hasher *h, const vmdb_id_range *v, size_t n)
{
    const vmdb_smt *tree = vmdb_versions_tree(p->versions);
    const vmdb_smt_view *view = vmdb_versions_base(p->versions);
    const char *bad[20];
    size_t nbad = 0;
    uint8_t key[32], value[32], tv[32];
    for (size_t i = 0; i < n; i++) {
        bool ok = vmdb_ranges_leaf(h, v[i].table, v[i].lo, v[i].hi, key, value) == 0 &&
                  vmdb_smt_get(tree, view, key, tv) == 0 && memcmp(tv, value, 32) == 0;
        if (!ok && nbad < 20)
            bad[nbad++] = v[i].table;
    }
    vmdb_registry *reg = vmdb_catalog_get(p->catalog);
    for (size_t i = 0; reg && i < reg->n; i++) {
        const vmdb_model *m = &reg->models[i];
        size_t k = 0;
        while (k < n && strcmp(v[k].table, m->table) != 0)
            k++;
        if (!vmdb_ranges_applies(m) || k < n || nbad == 20)
            continue;
        if (vmdb_range_key(h, key, VMDB_SLICE(m->table, strlen(m->table))) == 0 &&
            vmdb_smt_get(tree, view, key, tv) == 0)
            bad[nbad++] = m->table; /* a range leaf without its stored range */
    }
    if (nbad) {
        vmdb_status_violation(p->status, "vmdb_id_ranges",
                              "the stored id ranges differ from the tree", bad, nbad);
        vmdb_status_set(p->status, VMDB_BLOCK_STATE,
                        "the id ranges (vmdb_id_ranges) do not match the tree (repair with "
                        "/bootstrap/repair-roots)");
    }
    vmdb_registry_unref(reg);
    if (vmdb_ranges_replace(p->ranges, v, n) != 0)
        LOG_ERROR("start-up: out of memory keeping the id ranges");
}

/* The stored transition records (PROTOCOL.md §14.2) against the tree just
 * built: each must be there as its leaf. A mismatch (a record row edited or
 * added behind vmdb's back) refuses writes; a deleted one shows in the full
 * row check's count and in a repair's diff. */
static void check_transitions(const vmdb_parts *p, vmdb_hasher *h, const vmdb_transition_row *v,
                              size_t n)
{
    const vmdb_smt *tree = vmdb_versions_tree(p->versions);
    const vmdb_smt_view *view = vmdb_versions_base(p->versions);
    size_t nbad = 0;
    uint8_t key[32], value[32], tv[32];
    for (size_t i = 0; i < n; i++) {
        vmdb_transitions_leaf(h, v[i].seq, VMDB_SLICE(v[i].record, v[i].len), key, value);
        if (vmdb_smt_get(tree, view, key, tv) != 0 || memcmp(tv, value, 32) != 0)
            nbad++;
    }
    if (nbad) {
        LOG_ERROR("start-up: %zu stored transition records differ from the tree", nbad);
        vmdb_status_violation(p->status, "vmdb_transitions",
                              "the stored transition records differ from the tree", NULL, 0);
        vmdb_status_set(p->status, VMDB_BLOCK_STATE,
                        "the transition records (vmdb_transitions) do not match the tree "
                        "(see /bootstrap/repair-roots)");
    }
}

/* Reads the state row and every leaf from one snapshot and builds and
 * publishes the tree. With `own_txn` it first waits until no transaction
 * holds the state row: after a kill -9 the dead instance's COMMIT may still
 * be running, and loading before it ends would load a state that is about to
 * change. Without, it runs in the caller's transaction. A tree that does not
 * give the stored root refuses writes. */
static int load_tree(const vmdb_parts *p, PGconn *c, vmdb_hasher *h, bool own_txn)
{
    int rc = 0;
    vmdb_smt_leaf *leaves = NULL;
    vmdb_id_range *ranges = NULL;
    vmdb_transition_row *trans = NULL;
    size_t n = 0, nranges = 0, ntrans = 0;
    uint8_t stored[32], built[32];
    uint64_t seq = 0;
    char hb[65], hs[65];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (own_txn && (vmdb_pg_cmd(c, "wait for the state row",
                                "SELECT 1 FROM vmdb_state WHERE id = 1 FOR SHARE", NULL) ||
                    vmdb_pg_cmd(c, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL)))
        return VMDB_EIO;
    PGresult *r = vmdb_pg_exec(c, "read state", "SELECT seq, encode(root, 'hex') FROM vmdb_state",
                               0, NULL, NULL);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        if (own_txn)
            vmdb_pg_cmd(c, "rollback", "ROLLBACK", NULL);
        return VMDB_EIO;
    }
    seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    if (vmdb_hex_decode(stored, 32, PQgetvalue(r, 0, 1), strlen(PQgetvalue(r, 0, 1))) != 0)
        memset(stored, 0xff, 32);
    PQclear(r);
    rc = vmdb_pg_load_leaves(c, &leaves, &n);
    rc = rc ? rc : vmdb_ranges_load(c, &ranges, &nranges);
    rc = rc ? rc : vmdb_transitions_load(c, &trans, &ntrans);
    if (rc == 0) {
        /* The registry of the same snapshot. At start-up vmdb cannot run
         * without it; on a resync the one in use stays if it cannot be read
         * (the tree does not depend on it). */
        vmdb_registry *reg = NULL;
        int lrc = vmdb_catalog_load(c, &reg);
        if (lrc == 0)
            vmdb_catalog_set(p->catalog, reg);
        else if (own_txn)
            rc = lrc;
        else
            LOG_WARN("resync: the registry could not be reloaded; keeping the one in use");
    }
    if (own_txn)
        vmdb_pg_cmd(c, "end", rc ? "ROLLBACK" : "COMMIT", NULL);
    if (rc)
        goto done;
    if ((rc = vmdb_versions_build(p->versions, leaves, n))) {
        LOG_ERROR("start-up: cannot build the tree: %s", vmdb_error_last());
        goto done;
    }
    vmdb_versions_publish(p->versions, seq);
    vmdb_versions_latest(p->versions, NULL, built, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    vmdb_hex_encode(hb, built, 32);
    vmdb_hex_encode(hs, stored, 32);
    LOG_INFO("start-up: %zu leaves, tree built in %.3f s, seq %llu, root %s", n,
             (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
             (unsigned long long)seq, hb);
    if (memcmp(built, stored, 32) != 0) {
        LOG_ERROR("start-up: the leaves give root %s but the stored state says %s; writes are "
                  "refused until POST /bootstrap/repair-roots",
                  hb, hs);
        vmdb_status_set(p->status, VMDB_BLOCK_STATE,
                        "the leaves do not match the stored root (repair with "
                        "/bootstrap/repair-roots)");
        vmdb_status_violation(p->status, "vmdb_leaves", "stored root differs from the leaves", NULL,
                              0);
    }
    check_ranges(p, h, ranges, nranges);
    check_transitions(p, h, trans, ntrans);
done:
    free(leaves);
    free(ranges);
    vmdb_transitions_rows_free(trans, ntrans);
    return rc;
}

/* The start-up check of the rows themselves: the leaves only say what the
 * rows should be. */
typedef struct row_check {
    const vmdb_smt *tree;
    const vmdb_smt_view *view;
    vmdb_arena ar;
    vmdb_strs bad; /* the first 20 */
    uint64_t rows, nbad;
} row_check;

static int check_one(void *arg, const char *pk, int hash_rc, const uint8_t key[32],
                     const uint8_t value[32])
{
    row_check *x = arg;
    uint8_t tv[32];
    x->rows++;
    if (hash_rc == 0 && vmdb_smt_get(x->tree, x->view, key, tv) == 0 && memcmp(tv, value, 32) == 0)
        return 0;
    if (x->nbad++ < 20)
        return vmdb_strs_add(&x->ar, &x->bad, pk);
    return 0;
}

/* The spot check's 64 rows: random pages (TABLESAMPLE SYSTEM, sized from
 * the table's page count to about 64 of them), then 64 random rows of
 * those, fetched by ctid. `ORDER BY random() LIMIT 64` over the whole
 * table built every row's JSON before choosing (8 s of a 10M-row
 * start-up); this reads about 64 pages whatever the size. The percentage
 * comes from the table's own tableoid, so no name travels as a literal. */
static int sample_suffix(vmdb_buf *sql, const char *table)
{
    sql->len = 0;
    int rc = vmdb_sb_puts(sql, " WHERE t.ctid = ANY(ARRAY(SELECT ctid FROM ");
    rc = rc ? rc : vmdb_sb_ident(sql, table);
    rc = rc ? rc
            : vmdb_sb_puts(sql, " TABLESAMPLE SYSTEM ((SELECT coalesce((SELECT least(100, 6400.0 / "
                                "greatest(1, pg_relation_size(tableoid) / "
                                "current_setting('block_size')::int)) FROM ");
    rc = rc ? rc : vmdb_sb_ident(sql, table);
    rc = rc ? rc : vmdb_sb_puts(sql, " LIMIT 1), 100))) ORDER BY random() LIMIT 64))");
    return rc ? rc : vmdb_sb_cstr(sql);
}

/* A sample of each table (or, with `full`, every row) is hashed and looked
 * up in the tree; with every row the counts must match as well (rows, id
 * ranges and transition records), which also catches deleted rows. A mismatch is an integrity
 * violation in /health (reads of those rows fail anyway; writes check the rows they touch). */
static int check_rows(const vmdb_parts *p, PGconn *c, vmdb_hasher *h, bool full)
{
    row_check x;
    vmdb_buf suffix = VMDB_BUF_INIT;
    int rc = 0;
    memset(&x, 0, sizeof x);
    x.tree = vmdb_versions_tree(p->versions);
    x.view = vmdb_versions_base(p->versions); /* nobody else changes the tree now */
    vmdb_registry *reg = vmdb_catalog_get(p->catalog);
    for (size_t i = 0; rc == 0 && reg && i < reg->n; i++) {
        if (vmdb_pg_cmd(c, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL)) {
            rc = VMDB_EIO;
            break;
        }
        if (!full)
            rc = sample_suffix(&suffix, reg->models[i].table);
        if (rc == 0)
            rc = vmdb_rows_scan(c, h, &reg->models[i], full ? NULL : (const char *)suffix.ptr,
                                check_one, &x);
        vmdb_pg_cmd(c, "end", "ROLLBACK", NULL);
    }
    /* The tree also holds the id-range leaves (at most one per serial
     * table); they are not rows. */
    uint64_t nrange = 0;
    for (size_t i = 0; rc == 0 && full && reg && i < reg->n; i++) {
        uint8_t key[32], tv[32];
        const char *t = reg->models[i].table;
        if (vmdb_ranges_applies(&reg->models[i]) &&
            vmdb_range_key(h, key, VMDB_SLICE(t, strlen(t))) == 0 &&
            vmdb_smt_get(x.tree, x.view, key, tv) == 0)
            nrange++;
    }
    /* And the transition records' leaves (PROTOCOL.md §14.2), which are
     * not rows either: those of the stored records that the tree holds (a
     * stored record that differs was reported by check_transitions). */
    if (rc == 0 && full) {
        vmdb_transition_row *tv = NULL;
        size_t ntv = 0;
        rc = vmdb_transitions_load(c, &tv, &ntv);
        for (size_t i = 0; rc == 0 && i < ntv; i++) {
            uint8_t key[32], val[32];
            vmdb_transition_key(h, key, tv[i].seq);
            if (vmdb_smt_get(x.tree, x.view, key, val) == 0)
                nrange++;
        }
        vmdb_transitions_rows_free(tv, ntv);
    }
    if (rc == 0) {
        if (x.nbad)
            vmdb_status_violation(p->status, "rows", "rows at start-up differ from the tree",
                                  x.bad.v, x.bad.n);
        if (full && x.rows + nrange != vmdb_smt_view_count(x.view))
            vmdb_status_violation(p->status, "rows",
                                  "the tables hold a different number of rows than the tree", NULL,
                                  0);
        LOG_INFO("start-up: %llu rows %s, %llu differ from the tree", (unsigned long long)x.rows,
                 full ? "checked (all)" : "spot-checked", (unsigned long long)x.nbad);
    }
    vmdb_registry_unref(reg);
    vmdb_arena_free(&x.ar);
    vmdb_buf_free(&suffix);
    return rc;
}

int vmdb_sync_startup(const vmdb_parts *p, PGconn *conn, vmdb_hasher *h, bool verify_rows)
{
    vmdb_chain_dbstate db;
    int rc = 0;
    memset(&db, 0, sizeof db);
    if (vmdb_pg_cmd(conn, "create internal tables", internal_ddl, NULL))
        return VMDB_EIO;
    if ((rc = load_tree(p, conn, h, true)) != 0)
        return rc;
    vmdb_registry *reg = vmdb_catalog_get(p->catalog);
    LOG_INFO("registry: %zu models", reg ? reg->n : 0);
    vmdb_registry_unref(reg);
    vmdb_versions_latest(p->versions, &db.seq, db.root, &db.leaves);
    vmdb_catalog_schema_hash(p->catalog, db.schema_hash);
    if ((rc = vmdb_chain_recover(p->chain, conn, h, &db)) != 0)
        return rc;
    return check_rows(p, conn, h, verify_rows);
}

int vmdb_sync_reload(const vmdb_parts *p, PGconn *conn, vmdb_hasher *h)
{
    int rc = load_tree(p, conn, h, false);
    return rc ? rc : vmdb_chain_reload(p->chain, conn, h);
}

int vmdb_sync_resync_job(void *arg, PGconn *conn, vmdb_hasher *h)
{
    const vmdb_parts *p = arg;
    LOG_WARN("the database state changed outside this process (ALLOW_MULTI_INSTANCE): reloading");
    if (vmdb_pg_cmd(conn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL))
        return VMDB_EIO;
    int rc = vmdb_sync_reload(p, conn, h);
    vmdb_pg_cmd(conn, "end", rc ? "ROLLBACK" : "COMMIT", NULL);
    return rc;
}
