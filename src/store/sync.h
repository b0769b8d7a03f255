/*
 * Loading the state from PostgreSQL: at start-up, and again when another
 * instance wrote (ALLOW_MULTI_INSTANCE). Start-up creates the internal
 * tables, loads the registry, reads the state row and every leaf from one
 * snapshot and builds the tree, hands the result to the chain's recovery,
 * then checks a sample of the rows themselves (every row with
 * --verify-rows) against the tree.
 *
 * All of it runs on the writer's connection and thread (as writer jobs), so
 * nothing else changes the tree meanwhile. Disagreements are not errors:
 * they refuse writes through the status with the reason.
 */
#ifndef VMDB_STORE_SYNC_H
#define VMDB_STORE_SYNC_H

#include "db/pg.h"
#include "store/parts.h"

/* Start-up. `verify_rows`: hash every row, not a sample. 0, or VMDB_EIO /
 * VMDB_ENOMEM / VMDB_ECRYPTO / VMDB_EINVAL (the leaves are corrupt) when
 * vmdb cannot start. */
int vmdb_sync_startup(const vmdb_parts *p, PGconn *conn, vmdb_hasher *h, bool verify_rows);

/* Inside the writer's open transaction: reloads the registry, the state,
 * the leaves and the header chain, and publishes them. 0 or VMDB_E*. */
int vmdb_sync_reload(const vmdb_parts *p, PGconn *conn, vmdb_hasher *h);

/* A writer job (vmdb_job_fn, arg: the parts): vmdb_sync_reload in a
 * REPEATABLE READ transaction of its own. */
int vmdb_sync_resync_job(void *arg, PGconn *conn, vmdb_hasher *h);

#endif
