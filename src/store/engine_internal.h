/*
 * The engine's wiring, for the files that implement its calls (access.c,
 * admin.c, info.c). Written once by vmdb_engine_open and read-only
 * afterwards: every mutable state lives inside a component, behind its own
 * lock.
 */
#ifndef VMDB_STORE_ENGINE_INTERNAL_H
#define VMDB_STORE_ENGINE_INTERNAL_H

#include <pthread.h>

#include "db/pgshare.h"
#include "store/engine.h"
#include "store/instlock.h"
#include "store/parts.h"
#include "store/writer.h"

struct vmdb_engine {
    vmdb_engine_config cfg; /* its strings point into the copies below */
    char *url, *migrations_dir, *data_dir, *identity_path, *solana_rpc_url, *solana_fee_payer,
        *checkpoint_origin;
    vmdb_parts parts;
    vmdb_writer *writer;
    vmdb_pgshare *share; /* read-batch statements shared by concurrent requests */
    vmdb_instlock *lock; /* NULL with ALLOW_MULTI_INSTANCE */
    pthread_key_t hkey;  /* a hasher per request thread */
};

/* /health counts the database as not answering when the newest outcome of
 * any PostgreSQL call is older than this (ms). */
#define VMDB_HEALTH_STALE_MS 3000

/* Read-batches of at most this many keys share statements. */
#define VMDB_SHARE_MAX_KEYS 16
/* Keys in one shared statement at most. */
#define VMDB_SHARE_GROUP_KEYS 512

/* The calling thread's hasher (created on first use); NULL when out of
 * memory. */
vmdb_hasher *vmdb_engine_hasher(vmdb_engine *e);

/* Start-up, once the checks are done: upgrades a chain whose newest header
 * is v1 (PROTOCOL.md §12) on the writer thread, unless writes are refused
 * (it is then retried at the next start; meanwhile the chain stays v1).
 * store/admin.c. 0, or the job's error (logged). */
int vmdb_engine_upgrade(vmdb_engine *e);

#endif
