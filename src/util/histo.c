/*
 * Fixed-bucket histograms (util/histo.h). A linear search over at most 16
 * bounds is cheaper than anything cleverer at this size.
 */
#include "util/histo.h"

#include <string.h>

void vmdb_histo_init(vmdb_histo *h, const uint64_t *bounds, size_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds < VMDB_HISTO_MAX_BOUNDS ? nbounds : VMDB_HISTO_MAX_BOUNDS;
    for (size_t i = 0; i <= VMDB_HISTO_MAX_BOUNDS; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum, 0);
}

void vmdb_histo_observe(vmdb_histo *h, uint64_t v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

void vmdb_histo_snapshot(vmdb_histo *h, vmdb_histo_snap *out)
{
    memset(out, 0, sizeof *out);
    out->bounds = h->bounds;
    out->nbounds = h->nbounds;
    for (size_t i = 0; i <= h->nbounds; i++) {
        out->counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        out->count += out->counts[i];
    }
    out->sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
}
