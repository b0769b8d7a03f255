/*
 * Row keys and row values of protocol v1 (PROTOCOL.md §1-§3): how a row
 * becomes a 32-byte path and a 32-byte value in the tree.
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

/* Appends the row form of one json/jsonb column (PROTOCOL.md §2.2) given
 * its PostgreSQL text `text`: the value itself in JCS form when it is safe,
 * else the wrapper {"$jsonb":T} with T the text as a JSON string. A value is
 * unsafe when the §2.1 parser rejects it (a number failing the round-trip
 * rule, two members of one name, a lone surrogate escape, nesting beyond
 * 127 levels, more than 16 MiB) or when it is an object whose only member
 * is named "$jsonb". `*wrapped` (may be NULL) says which form was written.
 * Errors: VMDB_ENOMEM, VMDB_ELIMIT (out->max), VMDB_EPARSE if `text` is
 * not UTF-8 (it cannot even be wrapped). On error out->len is restored. */
int vmdb_row_json_column(vmdb_buf *out, vmdb_slice text, bool *wrapped);

/* vmdb_row_value for a row whose json/jsonb columns, named in
 * `json_cols[0..n)`, arrive as JSON strings holding their PostgreSQL text:
 * each is replaced by vmdb_row_json_column's form before hashing, so the
 * JCS bytes left in `scratch` are the row exactly as hashed. */
int vmdb_row_value_cols(vmdb_hasher *h, uint8_t out[32], vmdb_slice row_json,
                        const char *const *json_cols, size_t n, const vmdb_json_limits *lim,
                        vmdb_buf *scratch);

/* The id-range leaf of a serial table (PROTOCOL.md §10): its key
 * H("vmdb/v2/id-range-key" 0x00 u16(len table) table), at which no row can
 * be (a different tag), and its value H("vmdb/v2/id-range" 0x00
 * u32(len lo) lo u32(len hi) hi) for the decimal texts of the lowest and
 * highest id ever written. VMDB_EINVAL when a length does not fit its
 * prefix. */
int vmdb_range_key(vmdb_hasher *h, uint8_t out[32], vmdb_slice table);
int vmdb_range_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice lo, vmdb_slice hi);

/* The transition-record leaf of the admin transition committed as header
 * `seq` (PROTOCOL.md §14.2): its key H("vmdb/v2/transition-key" 0x00
 * u64(seq)), at which no row or id range can be (a different tag), and its
 * value H("vmdb/v2/transition" 0x00 JCS(record)) given the record's
 * canonical bytes. vmdb_transition_value_json canonicalises `record_json`
 * (a JSON object) into `scratch` first: errors as vmdb_jcs_canonicalize,
 * VMDB_EINVAL when it is not an object. */
void vmdb_transition_key(vmdb_hasher *h, uint8_t out[32], uint64_t seq);
void vmdb_transition_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice record_jcs);
int vmdb_transition_value_json(vmdb_hasher *h, uint8_t out[32], vmdb_slice record_json,
                               vmdb_buf *scratch);

/* Leaf node hash H(0x00 || k || v). */
void vmdb_leaf_hash(vmdb_hasher *h, uint8_t out[32], const uint8_t k[32], const uint8_t v[32]);

#ifdef __cplusplus
}
#endif
#endif
