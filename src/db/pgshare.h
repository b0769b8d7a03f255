/*
 * Shared statements: concurrent look-ups by key that run the same SQL with
 * one text-array parameter (read-batch: `... WHERE pk = ANY($1)`) are
 * merged into one statement whose array holds every caller's keys, so that
 * PostgreSQL pays its per-statement cost once for many requests.
 *
 * At most `inflight` merged statements run at once. A caller that finds a
 * slot free runs its own keys at once (no added latency when idle); one
 * that finds none opens a group, or joins the open group of the same SQL,
 * and the group runs when a slot frees up with every key gathered by then.
 * Each caller then reads its own rows out of the shared result and must
 * claim every row it uses; the last one to leave learns which rows no
 * caller asked for (PostgreSQL returned a row nobody wanted: reported by
 * the caller as an integrity violation).
 *
 * Invariants: one lock guards the open groups and the slot count; a group's
 * result is immutable once `done`, and freed by the last member to leave.
 */
#ifndef VMDB_DB_PGSHARE_H
#define VMDB_DB_PGSHARE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "db/pgpool.h"

typedef struct vmdb_pgshare vmdb_pgshare;
typedef struct vmdb_pgshare_group vmdb_pgshare_group;

/* `inflight` (>= 1) merged statements at once on `pool` (not owned; must
 * outlive the share), each with at most `max_keys` keys. *out is the
 * caller's (vmdb_pgshare_free). VMDB_ENOMEM. */
int vmdb_pgshare_new(vmdb_pgshare **out, vmdb_pgpool *pool, unsigned inflight, size_t max_keys);
/* No group may be open. Accepts NULL. */
void vmdb_pgshare_free(vmdb_pgshare *s);

/* Runs `sql`, whose $1 is a text array, for `keys` (each a C string that
 * stays valid until this returns), merged with concurrent callers of the
 * same `sql`. On return *res is the shared result (read-only; NULL when the
 * statement failed, with *sqlstate as vmdb_pg_exec gives it) and *g the
 * membership to end with vmdb_pgshare_leave. VMDB_ENOMEM (nothing to
 * leave). */
int vmdb_pgshare_run(vmdb_pgshare *s, const char *what, const char *sql, const char *const *keys,
                     size_t nkeys, vmdb_pgshare_group **g, const PGresult **res, char sqlstate[6]);
/* Marks row `i` of the group's result as used by a caller. */
void vmdb_pgshare_claim(vmdb_pgshare_group *g, int i);
/* Ends a membership (accepts NULL). The last member frees the result and
 * gets in *unclaimed (may be NULL) the rows of it that no member claimed
 * (rows whose column `keycol` is NULL do not count: a LEFT JOIN's empty
 * row); others get 0. */
void vmdb_pgshare_leave(vmdb_pgshare *s, vmdb_pgshare_group *g, int keycol, size_t *unclaimed);

#endif
