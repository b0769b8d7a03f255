/*
 * The instance lock and its monitor thread.
 */
#include "store/instlock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/pg.h"
#include "util/log.h"

#define ADVISORY_LOCK_KEY "4240001"

struct vmdb_instlock {
    char *url;
    vmdb_status *status;
    PGconn *conn; /* the monitor thread's once it runs */
    bool held;    /* likewise */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* mu */
    pthread_t thread;
    bool started;
};

static bool try_lock(PGconn *c)
{
    PGresult *r = vmdb_pg_exec(c, "take the instance lock",
                               "SELECT pg_try_advisory_lock(" ADVISORY_LOCK_KEY ")", 0, NULL, NULL);
    bool got = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return got;
}

int vmdb_instlock_take(vmdb_instlock **out, const char *url, vmdb_status *status)
{
    int rc = 0;
    vmdb_instlock *l = calloc(1, sizeof *l);
    *out = NULL;
    if (!l)
        return VMDB_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->status = status;
    if (!(l->url = strdup(url))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    if (!(l->conn = vmdb_pg_connect(url, "vmdb-lock"))) {
        rc = VMDB_EIO;
        goto done;
    }
    if (!try_lock(l->conn)) {
        LOG_ERROR("Another VerifiableDB API instance is already running against this Postgres "
                  "(pg_advisory_lock). Set ALLOW_MULTI_INSTANCE=true to bypass (NOT recommended).");
        rc = VMDB_EBUSY;
        goto done;
    }
    l->held = true;
done:
    if (rc) {
        vmdb_instlock_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* Pings the lock's connection each second; re-takes a lost lock. */
static void *monitor_main(void *arg)
{
    vmdb_instlock *l = arg;
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&l->mu);
        if (!l->stop)
            pthread_cond_timedwait(&l->cv, &l->mu, &until);
        bool stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        PGresult *r =
            l->conn ? vmdb_pg_exec(l->conn, "instance lock ping", "SELECT 1", 0, NULL, NULL) : NULL;
        bool alive = r && PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (alive && l->held)
            continue;
        if (!alive) {
            if (l->held) {
                l->held = false;
                LOG_ERROR("instance lock connection lost: writes stop until the lock is re-taken");
                vmdb_status_set(l->status, VMDB_BLOCK_LOCK_LOST,
                                "instance lock lost; waiting to re-take it");
            }
            PQfinish(l->conn);
            if (!(l->conn = vmdb_pg_connect(l->url, "vmdb-lock")))
                continue;
        }
        if (try_lock(l->conn)) {
            l->held = true;
            vmdb_status_set(l->status, VMDB_BLOCK_LOCK_LOST, NULL);
            LOG_INFO("instance lock re-taken: writes resume");
        }
    }
    return NULL;
}

int vmdb_instlock_start(vmdb_instlock *l)
{
    if (pthread_create(&l->thread, NULL, monitor_main, l) != 0)
        return VMDB_ENOMEM;
    l->started = true;
    return 0;
}

void vmdb_instlock_free(vmdb_instlock *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    PQfinish(l->conn);
    free(l->url);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
