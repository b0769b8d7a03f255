/*
 * The store's components, as the parts of the engine that work across them
 * (the writer, start-up and resync, reads, administration, /health) see
 * them. engine.c creates each component and fills this in once; after
 * that the pointers never change, and each component guards its own state.
 */
#ifndef VMDB_STORE_PARTS_H
#define VMDB_STORE_PARTS_H

#include "db/pgpool.h"
#include "store/catalog.h"
#include "store/ranges.h"
#include "store/versions.h"
#include "trust/chain.h"
#include "trust/status.h"

typedef struct vmdb_parts {
    vmdb_status *status;     /* violations, why writes are refused */
    vmdb_pgpool *pool;       /* read connections */
    vmdb_versions *versions; /* the tree and its recent versions */
    vmdb_catalog *catalog;   /* the models in use */
    vmdb_chain *chain;       /* headers, trusted state, anchor */
    vmdb_ranges *ranges;     /* the id ranges of serial tables (PROTOCOL.md §10) */
} vmdb_parts;

#endif
