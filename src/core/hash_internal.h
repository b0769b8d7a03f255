/*
 * The SHA-256 compression kernel behind the hasher's fast path. Kept apart
 * so that only one file needs the SHA-NI target attribute.
 */
#ifndef VMDB_CORE_HASH_INTERNAL_H
#define VMDB_CORE_HASH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* True when the CPU has SHA-NI, SSSE3 and SSE4.1. */
bool vmdb_sha256_ni_available(void);
/* Compresses `nblocks` 64-byte blocks into `state` with SHA-NI. */
void vmdb_sha256_ni_blocks(uint32_t state[8], const uint8_t *data, size_t nblocks);
/* The same for 2 or 4 independent messages of `nblocks` blocks each, their
 * rounds interleaved (each state[i] is 8 words, each data[i] 64 * nblocks
 * bytes). */
void vmdb_sha256_ni_blocks_x2(uint32_t *const state[2], const uint8_t *const data[2],
                              size_t nblocks);
void vmdb_sha256_ni_blocks_x4(uint32_t *const state[4], const uint8_t *const data[4],
                              size_t nblocks);

/* Adds to the node count of a hasher: work done for it by another hasher
 * (the two halves of a parallel tree build). */
typedef struct vmdb_hasher vmdb_hasher;
void vmdb_hasher_count_add(vmdb_hasher *h, uint64_t nodes);

#endif
