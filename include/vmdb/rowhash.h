/*
 * Row keys and row values (PROTOCOL.md §1-§3): how a row becomes a 32-byte
 * path and a 32-byte value in the tree; and the id-range leaf of §10.
 */
#ifndef VMDB_ROWHASH_H
#define VMDB_ROWHASH_H

#include "vmdb/hash.h"
#include "vmdb/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* k = H("vmdb/v1/key" 0x00 u16(len table) table u32(len pk) pk).
 * VMDB_EINVAL if the table name is longer than 65535 bytes or pk longer
 * than 2^32-1. */
int vmdb_row_key(vmdb_hasher *h, uint8_t out[32], vmdb_slice table, vmdb_slice pk);

/* v = H("vmdb/v1/row" 0x00 JCS), given the canonical bytes. */
void vmdb_row_value_jcs(vmdb_hasher *h, uint8_t out[32], vmdb_slice jcs);

/* Canonicalises `row_json` (which must be a JSON object) and hashes it.
 * `scratch` is a caller-owned buffer reused across calls (its content is
 * replaced by the JCS bytes). Errors: those of vmdb_json_parse, and
 * VMDB_EINVAL if the value is not an object. */
int vmdb_row_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice row_json,
                   const vmdb_json_limits *lim, vmdb_buf *scratch);

/* The id-range leaf of a serial table (PROTOCOL.md §10): its key
 * H("vmdb/v2/id-range-key" 0x00 u16(len table) table), at which no row can
 * be (a different tag), and its value H("vmdb/v2/id-range" 0x00
 * u32(len lo) lo u32(len hi) hi) for the decimal texts of the lowest and
 * highest id ever written. VMDB_EINVAL when a length does not fit its
 * prefix. */
int vmdb_range_key(vmdb_hasher *h, uint8_t out[32], vmdb_slice table);
int vmdb_range_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice lo, vmdb_slice hi);

/* Leaf node hash H(0x00 || k || v). */
void vmdb_leaf_hash(vmdb_hasher *h, uint8_t out[32], const uint8_t k[32], const uint8_t v[32]);

#ifdef __cplusplus
}
#endif
#endif
