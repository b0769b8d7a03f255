/*
 * The read pool. Small and fixed: the request threads outnumber the
 * connections, and PostgreSQL does better with a few busy backends than with
 * one per HTTP connection.
 */
#include "db/pgpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vmdb_pgpool {
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **conn;
    vmdb_pgcache *cache; /* one per connection */
    bool *busy;
    unsigned n;
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
