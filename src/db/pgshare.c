/*
 * Shared statements (see pgshare.h): merging concurrent key look-ups of the
 * same SQL into one statement, with a cap on the statements in flight.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db/pgshare.h"
#include "util/log.h"

struct vmdb_pgshare_group {
    struct vmdb_pgshare_group *next; /* the open groups */
    const char *sql;                 /* the opener's (valid while it waits) */
    const char **keys;               /* every member's, pointing into their memory */
    size_t nkeys, cap;
    unsigned members;
    bool started, done;
    pthread_cond_t cv; /* done */
    PGresult *res;
    char state[6];
    _Atomic uint8_t *claims; /* one per row of res */
};

struct vmdb_pgshare {
    vmdb_pgpool *pool;
    unsigned inflight, max_inflight;
    size_t max_keys;
    pthread_mutex_t mu;
    pthread_cond_t slot; /* a statement finished */
    vmdb_pgshare_group *open;
};

int vmdb_pgshare_new(vmdb_pgshare **out, vmdb_pgpool *pool, unsigned inflight, size_t max_keys)
{
    vmdb_pgshare *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return VMDB_ENOMEM;
    s->pool = pool;
    s->max_inflight = inflight ? inflight : 1;
    s->max_keys = max_keys ? max_keys : 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->slot, NULL);
    *out = s;
    return 0;
}

void vmdb_pgshare_free(vmdb_pgshare *s)
{
    if (!s)
        return;
    pthread_cond_destroy(&s->slot);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void group_free(vmdb_pgshare_group *g)
{
    if (!g)
        return;
    PQclear(g->res);
    free((void *)g->claims);
    free(g->keys);
    pthread_cond_destroy(&g->cv);
    free(g);
}

/* Appends keys to the group (under the lock). 0 or VMDB_ENOMEM. */
static int add_keys(vmdb_pgshare_group *g, const char *const *keys, size_t n)
{
    if (g->nkeys + n > g->cap) {
        size_t cap = g->cap ? g->cap : 16;
        while (cap < g->nkeys + n)
            cap *= 2;
        const char **k = realloc(g->keys, cap * sizeof *k);
        if (!k)
            return VMDB_ENOMEM;
        g->keys = k;
        g->cap = cap;
    }
    if (n)
        memcpy(g->keys + g->nkeys, keys, n * sizeof *keys);
    g->nkeys += n;
    return 0;
}

/* The open group a caller of `sql` with n keys may join, or NULL. */
static vmdb_pgshare_group *find_open(vmdb_pgshare *s, const char *sql, size_t n)
{
    for (vmdb_pgshare_group *g = s->open; g; g = g->next)
        if (g->nkeys + n <= s->max_keys && strcmp(g->sql, sql) == 0)
            return g;
    return NULL;
}

static void unlink_open(vmdb_pgshare *s, vmdb_pgshare_group *g)
{
    for (vmdb_pgshare_group **p = &s->open; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    g->next = NULL;
}

/* Runs the group's statement (its opener, without the lock). */
static void execute(vmdb_pgshare *s, vmdb_pgshare_group *g, const char *what)
{
    vmdb_buf arr = VMDB_BUF_INIT;
    PGresult *res = NULL;
    memcpy(g->state, "XX000", 6);
    if (vmdb_pg_text_array(&arr, g->keys, g->nkeys) == 0) {
        const char *p[1] = {(const char *)arr.ptr};
        res = vmdb_pgpool_exec(s->pool, true, what, g->sql, 1, p, g->state);
    }
    vmdb_buf_free(&arr);
    if (res) {
        int nt = PQntuples(res);
        g->claims = calloc((size_t)(nt ? nt : 1), sizeof *g->claims);
        if (!g->claims) {
            PQclear(res);
            res = NULL;
            memcpy(g->state, "53200", 6); /* out of memory */
        }
    }
    g->res = res;
}

int vmdb_pgshare_run(vmdb_pgshare *s, const char *what, const char *sql, const char *const *keys,
                     size_t nkeys, vmdb_pgshare_group **out, const PGresult **res, char sqlstate[6])
{
    vmdb_pgshare_group *g = NULL;
    *out = NULL;
    *res = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->inflight >= s->max_inflight && (g = find_open(s, sql, nkeys)) != NULL) {
        /* A member: the opener runs the statement for everyone. */
        if (add_keys(g, keys, nkeys) != 0) {
            pthread_mutex_unlock(&s->mu);
            return VMDB_ENOMEM;
        }
        g->members++;
        while (!g->done)
            pthread_cond_wait(&g->cv, &s->mu);
    } else {
        g = calloc(1, sizeof *g);
        if (!g || add_keys(g, keys, nkeys) != 0) {
            pthread_mutex_unlock(&s->mu);
            free(g ? g->keys : NULL);
            free(g);
            return VMDB_ENOMEM;
        }
        pthread_cond_init(&g->cv, NULL);
        g->sql = sql;
        g->members = 1;
        if (s->inflight >= s->max_inflight) {
            /* Every slot busy: gather joiners until one frees up. */
            g->next = s->open;
            s->open = g;
            while (s->inflight >= s->max_inflight)
                pthread_cond_wait(&s->slot, &s->mu);
            unlink_open(s, g);
        }
        g->started = true;
        s->inflight++;
        pthread_mutex_unlock(&s->mu);
        execute(s, g, what);
        pthread_mutex_lock(&s->mu);
        s->inflight--;
        g->done = true;
        pthread_mutex_unlock(&s->mu);
        /* Woken after the lock is let go, so the members do not all block
         * on it at once; the group lives on (we are a member). */
        pthread_cond_signal(&s->slot);
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    memcpy(sqlstate, g->state, 6);
    *res = g->res;
    *out = g;
    return 0;
}

void vmdb_pgshare_claim(vmdb_pgshare_group *g, int i)
{
    if (g && g->claims && i >= 0)
        atomic_store_explicit(&g->claims[i], 1, memory_order_relaxed);
}

void vmdb_pgshare_leave(vmdb_pgshare *s, vmdb_pgshare_group *g, int keycol, size_t *unclaimed)
{
    if (unclaimed)
        *unclaimed = 0;
    if (!g)
        return;
    pthread_mutex_lock(&s->mu);
    bool last = --g->members == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    /* Every member's claims happened before its leave (the lock above). */
    size_t n = 0;
    int nt = g->res ? PQntuples(g->res) : 0;
    for (int i = 0; i < nt; i++)
        if (!PQgetisnull(g->res, i, keycol) &&
            !atomic_load_explicit(&g->claims[i], memory_order_relaxed))
            n++;
    if (unclaimed)
        *unclaimed = n;
    group_free(g);
}
