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

#endif
