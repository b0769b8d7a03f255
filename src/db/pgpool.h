/*
 * The read pool: a fixed set of PostgreSQL connections for the request
 * threads (reads, /health, header look-ups, registry reloads), each with its
 * own cache of prepared statements. A connection is leased to one thread at
 * a time; a thread that finds none free waits. A connection that dropped is
 * reconnected when it is next leased.
 *
 * Invariants: the pool's lock guards only the busy flags; a leased
 * connection and its cache belong to the leaseholder until it is given back.
 */
#ifndef VMDB_DB_PGPOOL_H
#define VMDB_DB_PGPOOL_H

#include "db/pg.h"

typedef struct vmdb_pgpool vmdb_pgpool;

/* A leased connection: `conn` and its statement cache are the holder's
 * until vmdb_pgpool_put. */
typedef struct vmdb_pglease {
    PGconn *conn;
    vmdb_pgcache *cache;
    unsigned slot;
} vmdb_pglease;

/* Opens `n` (>= 1) connections to `url`. *out is the caller's
 * (vmdb_pgpool_free). VMDB_EIO (a connection failed, logged), VMDB_ENOMEM. */
int vmdb_pgpool_open(vmdb_pgpool **out, const char *url, unsigned n);
/* Closes every connection (none may be leased). Accepts NULL. */
void vmdb_pgpool_free(vmdb_pgpool *p);

/* Leases a connection, waiting for one to be free. Never fails: a
 * connection that cannot be re-established is handed out broken, and the
 * statement run on it fails (and is logged) like any other. */
vmdb_pglease vmdb_pgpool_get(vmdb_pgpool *p);
void vmdb_pgpool_put(vmdb_pgpool *p, const vmdb_pglease *l);
/* The pool's connections and how many are leased now (for /metrics). */
void vmdb_pgpool_stats(vmdb_pgpool *p, unsigned *size, unsigned *in_use);

/* Leases a connection, runs one statement (through the connection's
 * prepared statement cache when `cached`) and gives the connection back.
 * The result is the caller's (PQclear); NULL when the statement failed, with
 * *sqlstate as vmdb_pg_exec gives it. */
PGresult *vmdb_pgpool_exec(vmdb_pgpool *p, bool cached, const char *what, const char *sql, int n,
                           const char *const *params, char sqlstate[6]);

/* Runs `sql` on a free connection that is up, without waiting for one or
 * reconnecting: *ran says whether it could. For the ticker below, which
 * must not hold up anyone. */
PGresult *vmdb_pgpool_try_exec(vmdb_pgpool *p, const char *what, const char *sql, bool *ran);

/* Starts the pool's ticker thread, which keeps the newest PostgreSQL
 * outcome (vmdb_pg_last) fresh so that /health can answer from memory: once
 * a second, when no call has ended in the last second, a `SELECT 1` on a
 * free connection (at most 0.5 s). 0 or VMDB_ENOMEM (no thread). */
int vmdb_pgpool_ticker_start(vmdb_pgpool *p);
/* Stops the ticker (vmdb_pgpool_free also does). Accepts NULL. */
void vmdb_pgpool_ticker_stop(vmdb_pgpool *p);

#endif
