/*
 * Fixed-bucket histograms and counters for the metrics: observed from any
 * thread with relaxed C11 atomics (no lock on the hot path), read as a
 * snapshot. Values are integers in the observer's unit (microseconds,
 * requests, rows); whoever renders them scales. The snapshot's buckets are
 * per bucket (not cumulative) and its count is their sum, so a rendering
 * is always self-consistent even while other threads observe.
 */
#ifndef VMDB_UTIL_HISTO_H
#define VMDB_UTIL_HISTO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VMDB_HISTO_MAX_BOUNDS 16

typedef struct vmdb_histo {
    const uint64_t *bounds; /* ascending upper bounds (inclusive), static */
    size_t nbounds;         /* <= VMDB_HISTO_MAX_BOUNDS */
    _Atomic uint64_t counts[VMDB_HISTO_MAX_BOUNDS + 1]; /* the last one: above every bound */
    _Atomic uint64_t sum;
} vmdb_histo;

typedef struct vmdb_histo_snap {
    const uint64_t *bounds;
    size_t nbounds;
    uint64_t counts[VMDB_HISTO_MAX_BOUNDS + 1];
    uint64_t count, sum;
} vmdb_histo_snap;

/* Zeroes `h` and sets its bounds (nbounds is cut to VMDB_HISTO_MAX_BOUNDS). */
void vmdb_histo_init(vmdb_histo *h, const uint64_t *bounds, size_t nbounds);
void vmdb_histo_observe(vmdb_histo *h, uint64_t v);
void vmdb_histo_snapshot(vmdb_histo *h, vmdb_histo_snap *out);

#endif
