/*
 * Rows as the tree sees them. A stored row becomes a leaf: key =
 * H(table, primary key text), value = H(canonical JSON of the row), where
 * the row's JSON is what PostgreSQL's row_to_json gives for the model's
 * projection (PROTOCOL.md §2), with each json/jsonb column (projected as
 * text) replaced by its value or its {"$jsonb": T} wrapper. The projection
 * (vmdb_vclass_from_type, from the columns' live types) and this
 * substitution are the whole §2.2 mapping; every statement that reads rows
 * to hash them selects them through vmdb_rows_select and hashes them
 * through vmdb_rows_leaf, so the text that is hashed never depends on which
 * path read it (writes, reads, the start-up check, repair, migrate).
 *
 * Pure functions plus one cursor scan; no state, no locks.
 */
#ifndef VMDB_STORE_ROWS_H
#define VMDB_STORE_ROWS_H

#include "db/pg.h"
#include "store/model.h"
#include "vmdb/hash.h"

/* The leaf of one stored row (its key text and row_to_json text); `jcs`
 * receives the canonical row. 0, or VMDB_EPARSE / VMDB_ERANGE /
 * VMDB_EINVAL when the row's JSON cannot be canonicalised (say, a jsonb
 * number a double cannot hold exactly). */
int vmdb_rows_leaf(vmdb_hasher *h, const vmdb_model *m, const char *pk, const char *json,
                   uint8_t key[32], uint8_t value[32], vmdb_buf *jcs);
/* The leaf key of key text `pk` of model `m`. 0 or VMDB_ELIMIT. */
int vmdb_rows_key(vmdb_hasher *h, const vmdb_model *m, const char *pk, uint8_t key[32]);

/* Appends "SELECT t.<pk>::text, row_to_json(x)::text FROM <from> AS t
 * CROSS JOIN LATERAL (SELECT <projection>) x": every row statement's
 * columns. `from` is an SQL expression (say, a CTE's name), or NULL for the
 * model's own table. 0 or VMDB_ENOMEM. */
int vmdb_rows_select(vmdb_buf *sql, const vmdb_model *m, const char *from);

/* Called by vmdb_rows_scan for each row: `hash_rc` is vmdb_rows_leaf's
 * result (key and value are valid only when it is 0). Returns 0 to go on,
 * or an error that stops the scan and becomes its result. */
typedef int (*vmdb_rows_fn)(void *arg, const char *pk, int hash_rc, const uint8_t key[32],
                            const uint8_t value[32]);

/* Streams the rows of `m` through a cursor, 10,000 per fetch, inside the
 * transaction the caller has open on `c`, and hands each row's leaf to
 * `fn`. `suffix` (may be NULL) is appended to the select, e.g. " ORDER BY
 * random() LIMIT 64". The cursor is closed on return; the transaction is
 * left to the caller. 0, VMDB_EIO (logged), VMDB_ENOMEM, or fn's error. */
int vmdb_rows_scan(PGconn *c, vmdb_hasher *h, const vmdb_model *m, const char *suffix,
                   vmdb_rows_fn fn, void *arg);

#endif
