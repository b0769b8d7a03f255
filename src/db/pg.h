/*
 * libpq helpers, below the store and the trust chain (both talk to
 * PostgreSQL): connections with the session settings that row hashing
 * depends on (UTC, ISO dates, shortest floats), result checks that log the
 * server's text and hand callers only the SQLSTATE, pipelines, a per
 * connection cache of prepared statements, and the binary COPY codec for
 * leaves. Knows nothing of models, trees or answers.
 */
#ifndef VMDB_DB_PG_H
#define VMDB_DB_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmdb/common.h"
#include "vmdb/smt.h"

/* The timeouts of every connection opened after the call (set once at
 * start): connect_timeout in seconds, and the session's statement_timeout
 * and lock_timeout in ms (0 = none). A thread also stops waiting for a
 * result statement_ms + 2 s after it last heard from the server (a frozen
 * server answers no timeout): it shuts the socket, so the connection counts
 * as lost (PQstatus) and is re-established by its owner. */
void vmdb_pg_set_timeouts(unsigned connect_s, unsigned statement_ms, unsigned lock_ms);
/* This thread's wait for results: 0 = the default above, -1 = no limit,
 * > 0 = that many ms. */
void vmdb_pg_set_wait(int64_t ms);
/* The limit of admin jobs (start-up, migrate, repair, resets), which may
 * run long on large tables: each statement's statement_timeout, in s (0 =
 * none; set once at start, default 3600). vmdb_pg_admin_begin puts it on
 * `c`'s session and this thread's wait for results (the limit + 2 s, as
 * above), vmdb_pg_admin_end restores the defaults; a frozen server thus
 * stalls an admin job, and the writer running it, for a bounded time. */
void vmdb_pg_set_admin_timeout(unsigned s);
void vmdb_pg_admin_begin(PGconn *c);
void vmdb_pg_admin_end(PGconn *c);
/* Whether the newest PostgreSQL call (any connection) found the server
 * reachable; *age_ms (may be NULL) gets its age, -1 before the first. */
bool vmdb_pg_last(int64_t *age_ms);
/* Whether a SQLSTATE ("" = the connection failed) means the database is
 * unreachable or timed out rather than refusing the statement. */
bool vmdb_pg_sqlstate_unavailable(const char *sqlstate);

/* Connects; NULL on failure (logged). `role` becomes the application_name
 * ("vmdb-writer", "vmdb-read", "vmdb-lock") so operators can tell them apart. */
PGconn *vmdb_pg_connect(const char *url, const char *role);

/* Runs `sql` with text parameters. Returns the result (caller PQclear), or
 * NULL when it failed (logged with `what`); *sqlstate (may be NULL) gets the
 * SQLSTATE of a failure or "" when the connection failed. */
PGresult *vmdb_pg_exec(PGconn *c, const char *what, const char *sql, int n,
                       const char *const *params, char sqlstate[6]);
/* As vmdb_pg_exec; `lengths` and `formats` (both NULL: all text) as
 * PQexecParams takes them, for binary parameters (vmdb_pg_bin_array). */
PGresult *vmdb_pg_exec_bin(PGconn *c, const char *what, const char *sql, int n,
                           const char *const *params, const int *lengths, const int *formats,
                           char sqlstate[6]);
/* Runs a command that returns nothing; 0 or VMDB_EIO (logged). */
int vmdb_pg_cmd(PGconn *c, const char *what, const char *sql, char sqlstate[6]);

/* One statement of a pipeline. */
typedef struct vmdb_pgstmt {
    const char *what; /* for the log */
    const char *sql;
    int n;
    const char *const *params;
    /* NULL, NULL: every parameter is text. Else as PQexecParams takes them
     * (binary parameters built by vmdb_pg_bin_array). */
    const int *lengths, *formats;
} vmdb_pgstmt;

/* Sends `n` statements in one round trip (libpq pipeline mode) and waits for
 * all their results. res[i] gets each successful result, NULL for a failed
 * or skipped one; the caller PQclears every res[i], failure or not. Returns
 * -1 when all succeeded, else the index of the first failure (its SQLSTATE
 * in `sqlstate`, "" when the connection failed; everything after it was
 * skipped by the server). */
int vmdb_pg_pipeline(PGconn *c, const vmdb_pgstmt *st, size_t n, PGresult **res, char sqlstate[6]);

/* As vmdb_pg_pipeline, but st[0..split) are sent and flushed first, so the
 * server runs them while `between(arg)` runs here, and st[split..n) are
 * sent only if it returned 0. Used to overlap the intent's fsync with the
 * group's last statements and still have COMMIT leave after the intent is
 * durable. split < n. When `between` fails the result is `split` with
 * sqlstate "". */
int vmdb_pg_pipeline_split(PGconn *c, const vmdb_pgstmt *st, size_t n, size_t split,
                           int (*between)(void *arg), void *arg, PGresult **res, char sqlstate[6]);

/* Per-connection cache of prepared statements keyed by SQL text, so the
 * statements a connection runs again and again are parsed and planned once.
 * Owned by whoever owns the connection; reset it when the connection is. */
#define VMDB_PGCACHE_SLOTS 64
typedef struct vmdb_pgcache {
    char *sql[VMDB_PGCACHE_SLOTS];
    unsigned next; /* round-robin victim */
    unsigned long long serial;
    unsigned long long id[VMDB_PGCACHE_SLOTS];
} vmdb_pgcache;

/* As vmdb_pg_exec, through a prepared statement from `cache`. */
PGresult *vmdb_pg_exec_cached(PGconn *c, vmdb_pgcache *cache, const char *what, const char *sql,
                              int n, const char *const *params, char sqlstate[6]);
void vmdb_pgcache_reset(vmdb_pgcache *cache);

/* Appends the PostgreSQL array literal {"a","b",...} of `n` strings and
 * NUL-terminates it (len excludes the NUL). 0, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_pg_text_array(vmdb_buf *b, const char *const *v, size_t n);

/* Element types of vmdb_pg_bin_array. */
#define VMDB_PG_OID_BYTEA 17u
#define VMDB_PG_OID_TEXT 25u

/* Appends the binary form (a format-1 parameter) of the one-dimensional
 * array of `n` elements of type `oid` (text or bytea): v[i] of lens[i]
 * bytes, NULL v[i] for SQL NULL; lens NULL: each v[i] is NUL-terminated.
 * Nothing is escaped and the server parses no literal. 0, VMDB_ENOMEM or
 * VMDB_ELIMIT (an element or the array over 1 GB). */
int vmdb_pg_bin_array(vmdb_buf *b, uint32_t oid, const char *const *v, const size_t *lens,
                      size_t n);

/* Streams all leaves, sorted by key, with COPY ... (FORMAT binary).
 * *out is malloc'ed (caller frees). 0, VMDB_EIO or VMDB_EINVAL (a leaf that
 * is not 32+32 bytes), VMDB_ENOMEM. */
int vmdb_pg_load_leaves(PGconn *c, vmdb_smt_leaf **out, size_t *n);
/* Appends leaves to vmdb_leaves with COPY FROM STDIN (FORMAT binary). */
int vmdb_pg_copy_leaves(PGconn *c, const vmdb_smt_leaf *l, size_t n);

#endif
