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

/* A vector file (docs/vectors/v*.json) parsed by vmdb's own JSON parser,
 * with a hasher. tu_vectors_load fails the test unless the file parses, its
 * "version" is `version` and every top-level member is named in known[]
 * (a section added to the file must not go unchecked). */
typedef struct tu_vectors {
    uint8_t *text;
    vmdb_json_doc *doc;
    const vmdb_json *root;
    vmdb_hasher *h;
} tu_vectors;

tu_vectors *tu_vectors_load(const char *path, uint64_t version, const char *const *known,
                            size_t nknown);
void tu_vectors_free(tu_vectors *v);
/* The array `key` of the top-level object, non-empty: an empty section
 * would make its test pass vacuously. */
const vmdb_json *tu_section(const tu_vectors *v, const char *key);
/* More members (failing the test when missing or mistyped). */
const vmdb_json *tu_json_array(const vmdb_json *obj, const char *key);
bool tu_json_bool(const vmdb_json *obj, const char *key);
/* 32 bytes from a hex string that is an array element rather than a member. */
void tu_elem_hex32(const vmdb_json *s, uint8_t out[32]);
/* Compares bytes and, on a mismatch, names the vector and shows both sides
 * (hex, truncated) so a failure can be read without a debugger. */
void tu_expect_bytes(const char *what, const uint8_t *got, size_t gotlen, const uint8_t *want,
                     size_t wantlen);

/* A deterministic identity (key pair from the seed first, first+1, ...),
 * for tests of what the identity signs (trust/identity.h). */
struct vmdb_identity;
void tu_make_identity(struct vmdb_identity *id, uint8_t first);

#endif
