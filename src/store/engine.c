/*
 * Opening, wiring and closing the engine's components. The order matters:
 * the instance lock before anything is read, the chain (identity, journal,
 * anchor) before start-up checks it, start-up on the writer thread before
 * any request (then the upgrade of a v1 chain, also on the writer), and on
 * the way out the writer first (it answers what is
 * queued), then the anchor thread (which anchors the newest header and
 * checkpoints the trusted state), then the rest, the instance lock last.
 * The read pool's health ticker starts last and stops first.
 */
#include "store/engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include "store/sync.h"
#include "util/log.h"

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

/* A copy of an optional string; false when out of memory. */
static bool copy(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

/* Copies the configuration so that the caller's strings may go away. */
static int take_config(vmdb_engine *e, const vmdb_engine_config *cfg)
{
    e->cfg = *cfg;
    if (!copy(&e->url, cfg->database_url ? cfg->database_url : "") ||
        !copy(&e->migrations_dir, cfg->migrations_dir ? cfg->migrations_dir : "migrations") ||
        !copy(&e->data_dir, cfg->data_dir) || !copy(&e->identity_path, cfg->identity_path) ||
        !copy(&e->solana_rpc_url, cfg->solana_rpc_url) ||
        !copy(&e->solana_fee_payer, cfg->solana_fee_payer) ||
        !copy(&e->checkpoint_origin, cfg->checkpoint_origin))
        return VMDB_ENOMEM;
    e->cfg.database_url = e->url;
    e->cfg.migrations_dir = e->migrations_dir;
    e->cfg.data_dir = e->data_dir;
    e->cfg.identity_path = e->identity_path;
    e->cfg.solana_rpc_url = e->solana_rpc_url;
    e->cfg.solana_fee_payer = e->solana_fee_payer;
    e->cfg.checkpoint_origin = e->checkpoint_origin;
    if (e->cfg.batch_commit_size == 0)
        e->cfg.batch_commit_size = 1;
    if (e->cfg.read_pool == 0)
        e->cfg.read_pool = 8;
    if (e->cfg.read_inflight == 0)
        e->cfg.read_inflight = 1;
    if (e->cfg.max_group == 0)
        e->cfg.max_group = 256;
    if (e->cfg.anchor_interval_s == 0)
        e->cfg.anchor_interval_s = 30;
    return 0;
}

typedef struct startup_arg {
    const vmdb_parts *parts;
    bool verify_rows;
} startup_arg;

static int startup_job(void *arg, PGconn *conn, vmdb_hasher *h)
{
    const startup_arg *a = arg;
    return vmdb_sync_startup(a->parts, conn, h, a->verify_rows);
}

int vmdb_engine_open(vmdb_engine **out, const vmdb_engine_config *cfg)
{
    int rc = 0;
    vmdb_engine *e = calloc(1, sizeof *e);
    vmdb_parts *p = e ? &e->parts : NULL;
    vmdb_fail fail = {0};
    *out = NULL;
    if (!e)
        return VMDB_ENOMEM;
    pthread_key_create(&e->hkey, hasher_free);
    if ((rc = take_config(e, cfg)))
        goto done;
    const vmdb_engine_config *c = &e->cfg;
    vmdb_chain_config cc = {c->data_dir,          c->identity_path,    c->anchor,
                            c->solana_rpc_url,    c->solana_fee_payer, c->solana_commitment,
                            c->batch_commit_size, c->anchor_interval_s};
    vmdb_writer_config wc = {c->database_url, c->allow_multi_instance, c->max_group,
                             c->batch_commit_size, c->commit_delay_us};
    if ((rc = vmdb_status_new(&p->status)) || (rc = vmdb_versions_new(&p->versions)) ||
        (rc = vmdb_catalog_new(&p->catalog)) || (rc = vmdb_ranges_new(&p->ranges)))
        goto done;
    /* The database first (as before: an unreachable database is the error
     * shown, and nothing is created in the data directory), then the lock,
     * then the chain's files. */
    if ((rc = vmdb_writer_open(&e->writer, &wc, p)))
        goto done;
    if (!c->allow_multi_instance && (rc = vmdb_instlock_take(&e->lock, e->url, p->status)))
        goto done;
    if ((rc = vmdb_pgpool_open(&p->pool, e->url, c->read_pool)) ||
        (rc = vmdb_pgshare_new(&e->share, p->pool, c->read_inflight, VMDB_SHARE_GROUP_KEYS)) ||
        (rc = vmdb_chain_open(&p->chain, &cc, p->status, p->pool)) ||
        (rc = vmdb_writer_start(e->writer)))
        goto done;
    startup_arg sa = {p, c->verify_rows};
    if ((rc = vmdb_writer_run(e->writer, startup_job, &sa, &fail)))
        goto done;
    /* A chain that began under protocol v1 continues as v2 (its failure
     * is logged and leaves the chain on v1: not a reason not to start). */
    vmdb_engine_upgrade(e);
    if ((rc = vmdb_chain_start(p->chain)) || (e->lock && (rc = vmdb_instlock_start(e->lock))) ||
        (rc = vmdb_pgpool_ticker_start(p->pool)))
        goto done;
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
    vmdb_pgpool_ticker_stop(e->parts.pool);
    vmdb_writer_free(e->writer);
    if (e->parts.chain) {
        vmdb_hasher *h = vmdb_engine_hasher(e);
        vmdb_chain_stop(e->parts.chain, h);
        vmdb_chain_free(e->parts.chain);
    }
    /* The instance lock goes last: nobody else may write before the final
     * anchor and checkpoint are done. */
    vmdb_instlock_free(e->lock);
    vmdb_pgshare_free(e->share);
    vmdb_pgpool_free(e->parts.pool);
    vmdb_catalog_free(e->parts.catalog);
    vmdb_versions_free(e->parts.versions);
    vmdb_ranges_free(e->parts.ranges);
    vmdb_status_free(e->parts.status);
    vmdb_hasher_free(pthread_getspecific(e->hkey));
    pthread_setspecific(e->hkey, NULL);
    pthread_key_delete(e->hkey);
    free(e->url);
    free(e->migrations_dir);
    free(e->data_dir);
    free(e->identity_path);
    free(e->solana_rpc_url);
    free(e->solana_fee_payer);
    free(e->checkpoint_origin);
    free(e);
}
