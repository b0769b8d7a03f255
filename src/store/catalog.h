/*
 * The catalog: the registry of models in use (store/model.h), loaded from
 * verifiable_models and swapped whole when apply-schema, migrate, repair or
 * another instance changes it. Readers take a reference to the registry of
 * the moment and keep using it after a swap.
 *
 * Invariants: the registry is immutable once published; the catalog's lock
 * guards only the pointer swap and the reference taken.
 */
#ifndef VMDB_STORE_CATALOG_H
#define VMDB_STORE_CATALOG_H

#include "db/pgpool.h"
#include "store/model.h"

typedef struct vmdb_catalog vmdb_catalog;

/* An empty catalog. *out is the caller's (vmdb_catalog_free). VMDB_ENOMEM. */
int vmdb_catalog_new(vmdb_catalog **out);
void vmdb_catalog_free(vmdb_catalog *c); /* accepts NULL */

/* Reads the registry through `conn` (inside a transaction it sees that
 * transaction's snapshot). *out is a new reference. 0, VMDB_EIO, VMDB_ENOMEM. */
int vmdb_catalog_load(PGconn *conn, vmdb_registry **out);
/* Publishes `r` (the reference is taken over). */
void vmdb_catalog_set(vmdb_catalog *c, vmdb_registry *r);
/* The registry in use: a new reference (vmdb_registry_unref). */
vmdb_registry *vmdb_catalog_get(vmdb_catalog *c);
/* The schema hash in use as 32 bytes (zeros when none is stored). */
void vmdb_catalog_schema_hash(vmdb_catalog *c, uint8_t out[32]);

/* The model of `table`; on a miss the registry is reloaded through the pool
 * first (another process may have registered it). *reg is a reference that
 * owns *model. 0, VMDB_ENOTFOUND. */
int vmdb_catalog_resolve(vmdb_catalog *c, vmdb_pgpool *pool, const char *table, vmdb_registry **reg,
                         const vmdb_model **model);

#endif
