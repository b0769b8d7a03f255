/*
 * The read pool. Small and fixed: the request threads outnumber the
 * connections, and PostgreSQL does better with a few busy backends than with
 * one per HTTP connection.
 */
#include "db/pgpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vmdb_pgpool {
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **conn;
    vmdb_pgcache *cache; /* one per connection */
    bool *busy;
    unsigned n;
    /* The ticker (vmdb_pgpool_ticker_start): tick_mu guards tick_stop. */
    pthread_t ticker;
    bool ticker_on, tick_stop;
    pthread_mutex_t tick_mu;
    pthread_cond_t tick_cv;
};

int vmdb_pgpool_open(vmdb_pgpool **out, const char *url, unsigned n)
{
    int rc = 0;
    vmdb_pgpool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return VMDB_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_mutex_init(&p->tick_mu, NULL);
    pthread_cond_init(&p->tick_cv, NULL);
    p->n = n ? n : 1;
    p->url = strdup(url);
    p->conn = calloc(p->n, sizeof *p->conn);
    p->cache = calloc(p->n, sizeof *p->cache);
    p->busy = calloc(p->n, sizeof *p->busy);
    if (!p->url || !p->conn || !p->cache || !p->busy) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    for (unsigned i = 0; i < p->n; i++)
        if (!(p->conn[i] = vmdb_pg_connect(url, "vmdb-read"))) {
            rc = VMDB_EIO;
            goto done;
        }
done:
    if (rc) {
        vmdb_pgpool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void vmdb_pgpool_free(vmdb_pgpool *p)
{
    if (!p)
        return;
    vmdb_pgpool_ticker_stop(p);
    for (unsigned i = 0; p->conn && i < p->n; i++) {
        PQfinish(p->conn[i]);
        if (p->cache)
            vmdb_pgcache_reset(&p->cache[i]);
    }
    free(p->conn);
    free(p->cache);
    free(p->busy);
    free(p->url);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->tick_cv);
    pthread_mutex_destroy(&p->tick_mu);
    free(p);
}

vmdb_pglease vmdb_pgpool_get(vmdb_pgpool *p)
{
    vmdb_pglease l = {NULL, NULL, 0};
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (unsigned i = 0; i < p->n && !l.conn; i++)
            if (!p->busy[i]) {
                p->busy[i] = true;
                l = (vmdb_pglease){p->conn[i], &p->cache[i], i};
            }
        if (l.conn)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    if (PQstatus(l.conn) != CONNECTION_OK) {
        /* The slot is ours: reconnect it outside the lock. */
        PQreset(l.conn);
        vmdb_pgcache_reset(l.cache);
        if (PQstatus(l.conn) != CONNECTION_OK) {
            PGconn *fresh = vmdb_pg_connect(p->url, "vmdb-read");
            if (fresh) {
                PQfinish(l.conn);
                l.conn = p->conn[l.slot] = fresh;
            }
        }
    }
    return l;
}

void vmdb_pgpool_put(vmdb_pgpool *p, const vmdb_pglease *l)
{
    pthread_mutex_lock(&p->mu);
    p->busy[l->slot] = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void vmdb_pgpool_stats(vmdb_pgpool *p, unsigned *size, unsigned *in_use)
{
    unsigned busy = 0;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        busy += p->busy[i];
    pthread_mutex_unlock(&p->mu);
    *size = p->n;
    *in_use = busy;
}

PGresult *vmdb_pgpool_exec(vmdb_pgpool *p, bool cached, const char *what, const char *sql, int n,
                           const char *const *params, char sqlstate[6])
{
    vmdb_pglease l = vmdb_pgpool_get(p);
    PGresult *r = cached ? vmdb_pg_exec_cached(l.conn, l.cache, what, sql, n, params, sqlstate)
                         : vmdb_pg_exec(l.conn, what, sql, n, params, sqlstate);
    vmdb_pgpool_put(p, &l);
    return r;
}

PGresult *vmdb_pgpool_try_exec(vmdb_pgpool *p, const char *what, const char *sql, bool *ran)
{
    vmdb_pglease l = {NULL, NULL, 0};
    *ran = false;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->n && !l.conn; i++)
        if (!p->busy[i] && PQstatus(p->conn[i]) == CONNECTION_OK) {
            p->busy[i] = true;
            l = (vmdb_pglease){p->conn[i], &p->cache[i], i};
        }
    pthread_mutex_unlock(&p->mu);
    if (!l.conn)
        return NULL;
    *ran = true;
    PGresult *r = vmdb_pg_exec(l.conn, what, sql, 0, NULL, NULL);
    vmdb_pgpool_put(p, &l);
    return r;
}

/* Once a second, when no PostgreSQL call has ended in the last second (an
 * idle server, or ALLOW_MULTI_INSTANCE, which has no instance lock ping),
 * a `SELECT 1` on a free connection, waiting at most 0.5 s, so that the
 * newest outcome (vmdb_pg_last) is never older than about 1.5 s while
 * PostgreSQL answers. */
static void *ticker_main(void *arg)
{
    vmdb_pgpool *p = arg;
    pthread_mutex_lock(&p->tick_mu);
    while (!p->tick_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&p->tick_cv, &p->tick_mu, &until);
        if (p->tick_stop)
            break;
        pthread_mutex_unlock(&p->tick_mu);
        int64_t age = -1;
        vmdb_pg_last(&age);
        if (age < 0 || age >= 1000) {
            bool ran = false;
            vmdb_pg_set_wait(500);
            PQclear(vmdb_pgpool_try_exec(p, "health ping", "SELECT 1", &ran));
            vmdb_pg_set_wait(0);
        }
        pthread_mutex_lock(&p->tick_mu);
    }
    pthread_mutex_unlock(&p->tick_mu);
    return NULL;
}

int vmdb_pgpool_ticker_start(vmdb_pgpool *p)
{
    if (p->ticker_on)
        return 0;
    if (pthread_create(&p->ticker, NULL, ticker_main, p) != 0)
        return VMDB_ENOMEM;
    p->ticker_on = true;
    return 0;
}

void vmdb_pgpool_ticker_stop(vmdb_pgpool *p)
{
    if (!p || !p->ticker_on)
        return;
    pthread_mutex_lock(&p->tick_mu);
    p->tick_stop = true;
    pthread_cond_signal(&p->tick_cv);
    pthread_mutex_unlock(&p->tick_mu);
    pthread_join(p->ticker, NULL);
    p->ticker_on = false;
}
