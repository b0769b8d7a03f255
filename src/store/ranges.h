/*
 * The id ranges of PROTOCOL.md §10: for each table whose key is serial or
 * big_serial, the lowest and highest id ever written, kept in the table
 * vmdb_id_ranges and, as one extra leaf per table, in the tree. Deleting
 * rows never shrinks a range; repair and migrate recompute it from the rows
 * as they are; clear and reset remove it with the rows.
 *
 * This file holds the in-memory copy the writer keeps (so that a write
 * needs no extra read to extend a range), the leaf of a range, and the SQL
 * that reads and writes the table. The copy is changed only on the writer
 * thread (writes after COMMIT, start-up, resync and admin transitions);
 * any thread may read it. Its own lock guards it and is never held while
 * calling out.
 */
#ifndef VMDB_STORE_RANGES_H
#define VMDB_STORE_RANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "db/pg.h"
#include "store/model.h"
#include "vmdb/hash.h"

typedef struct vmdb_id_range {
    char table[64]; /* a registered table name (at most 63 bytes) */
    int64_t lo, hi;
} vmdb_id_range;

typedef struct vmdb_ranges vmdb_ranges;

/* Empty. *out is the caller's (vmdb_ranges_free). VMDB_ENOMEM. */
int vmdb_ranges_new(vmdb_ranges **out);
void vmdb_ranges_free(vmdb_ranges *r); /* accepts NULL */

/* Whether model `m` has an id range: its key is serial or big_serial. */
bool vmdb_ranges_applies(const vmdb_model *m);

/* The range of `table`: true with *lo, *hi, or false when it has none. */
bool vmdb_ranges_get(vmdb_ranges *r, const char *table, int64_t *lo, int64_t *hi);
/* Sets the range of `table` (writer thread). VMDB_ENOMEM, VMDB_EINVAL (a
 * name longer than 63 bytes). */
int vmdb_ranges_set(vmdb_ranges *r, const char *table, int64_t lo, int64_t hi);
/* Replaces every range by v[0..n) (writer thread). VMDB_ENOMEM. */
int vmdb_ranges_replace(vmdb_ranges *r, const vmdb_id_range *v, size_t n);

/* The leaf of the range (lo, hi) of `table`. 0 or VMDB_EINVAL. */
int vmdb_ranges_leaf(vmdb_hasher *h, const char *table, int64_t lo, int64_t hi, uint8_t key[32],
                     uint8_t value[32]);
/* The id of a serial key text (decimal, as PostgreSQL prints it). false
 * when `text` is not one. */
bool vmdb_ranges_parse_id(const char *text, int64_t *out);

/* At most this many gap ids are proven absent; a larger gap makes a
 * read-latest not complete (PROTOCOL.md §10). */
#define VMDB_RANGES_MAX_GAP 1000

/* The gap of a complete read-latest (PROTOCOL.md §10) in the range [lo, hi]
 * whose answer returns ids[0..m) in `asc` or descending order with `limit`:
 * *empty, or the inclusive bounds *from..*to, and *nabsent, how many of its
 * ids are not among ids[] (saturating, counted without walking the gap).
 * No overflow at the int64 ends. VMDB_EINVAL when the ids are not strictly
 * in that order inside [lo, hi] (or lo > hi, or m > limit). */
int vmdb_ranges_gap(int64_t lo, int64_t hi, const int64_t *ids, size_t m, size_t limit, bool asc,
                    bool *empty, int64_t *from, int64_t *to, uint64_t *nabsent);

/* Every row of vmdb_id_ranges, in the caller's open transaction (or
 * autocommit). *out is malloc'ed (free it). 0, VMDB_EIO, VMDB_ENOMEM. */
int vmdb_ranges_load(PGconn *c, vmdb_id_range **out, size_t *n);

/* The statement that upserts v[0..n) into vmdb_id_ranges; `names`, `los`
 * and `his` receive its parameters (and must outlive it). 0 or
 * VMDB_ENOMEM. */
int vmdb_ranges_upsert_stmt(const vmdb_id_range *v, size_t n, vmdb_buf *names, vmdb_buf *los,
                            vmdb_buf *his, const char *params[3], vmdb_pgstmt *out);

#endif
