/*
 * Helpers shared by the unit tests: a deterministic PRNG, hex, files, and
 * the naive reference tree, a literal transcription of PROTOCOL.md §3
 * (recursion over all 256 levels, no compression, no caching) that the
 * real tree is checked against.
 */
#ifndef VMDB_TESTUTIL_H
#define VMDB_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmdb/hash.h"
#include "vmdb/json.h"
#include "vmdb/smt.h"

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

uint64_t tu_rand(tu_rng *r);
void tu_fill(tu_rng *r, uint8_t *p, size_t n);
/* Decodes hex of any even length into a malloc'd buffer. */
uint8_t *tu_unhex(const char *hex, size_t hexlen, size_t *outlen);
void tu_unhex32(uint8_t out[32], const char *hex, size_t hexlen);
/* Reads a whole file (malloc'd), or NULL. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* Root of leaves[0..n) (sorted by key, unique) per the definition. */
void tu_ref_root(vmdb_hasher *h, const vmdb_smt_leaf *leaves, size_t n, uint8_t out[32]);
int tu_leaf_cmp(const void *a, const void *b);

/* Members of a parsed JSON object, failing the test when the member is
 * missing or of the wrong type: a string, hex of 32 or any number of bytes
 * (malloc'd), and a non-negative integer held exactly by a double. */
vmdb_slice tu_json_str(const vmdb_json *obj, const char *key);
void tu_json_hex32(const vmdb_json *obj, const char *key, uint8_t out[32]);
uint8_t *tu_json_hex(const vmdb_json *obj, const char *key, size_t *len);
uint64_t tu_json_u64(const vmdb_json *obj, const char *key);

#endif
