/*
 * Tree versions: a ring of the newest published views, each with one hold
 * taken by the ring itself; a reader adds its own hold, so a version leaves
 * the ring without disappearing under the reader.
 */
#include "store/versions.h"
#include "util/run2.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ring_entry {
    uint64_t seq;
    const vmdb_smt_view *view;
} ring_entry;

struct vmdb_versions {
    pthread_mutex_t mu;
    pthread_cond_t published; /* broadcast on every publish and discard */
    vmdb_smt *tree;
    ring_entry ring[VMDB_VERSIONS_KEPT];
    unsigned len, head; /* head: the next slot to fill */
    uint64_t seq;       /* newest published */
    uint8_t root[32];
    uint64_t committing; /* seq being committed, 0 if none */
};

/* Makes the tree's current version the newest ring entry. Under mu. */
static void ring_push(vmdb_versions *v, uint64_t seq)
{
    ring_entry *slot = &v->ring[v->head];
    if (v->len == VMDB_VERSIONS_KEPT)
        vmdb_smt_release(v->tree, slot->view);
    else
        v->len++;
    slot->seq = seq;
    slot->view = vmdb_smt_acquire(v->tree);
    v->head = (v->head + 1) % VMDB_VERSIONS_KEPT;
    v->seq = seq;
    vmdb_smt_view_root(slot->view, v->root);
}

int vmdb_versions_new(vmdb_versions **out)
{
    int rc = 0;
    vmdb_versions *v = calloc(1, sizeof *v);
    *out = NULL;
    if (!v)
        return VMDB_ENOMEM;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->published, NULL);
    if ((rc = vmdb_smt_new(&v->tree, 0)) != 0) {
        vmdb_versions_free(v);
        return rc;
    }
    ring_push(v, 0);
    *out = v;
    return 0;
}

void vmdb_versions_free(vmdb_versions *v)
{
    if (!v)
        return;
    for (unsigned i = 0; i < v->len; i++)
        vmdb_smt_release(v->tree, v->ring[i].view);
    vmdb_smt_free(v->tree);
    pthread_cond_destroy(&v->published);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

const vmdb_smt_view *vmdb_versions_hold(vmdb_versions *v, uint64_t seq, bool *ahead)
{
    const vmdb_smt_view *view = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&v->mu);
    /* The snapshot may show the commit the writer is about to publish. */
    while (seq > v->seq && v->committing == seq)
        if (pthread_cond_timedwait(&v->published, &v->mu, &until) != 0)
            break;
    *ahead = seq > v->seq;
    for (unsigned i = 0; i < v->len; i++) {
        ring_entry *r = &v->ring[(v->head + VMDB_VERSIONS_KEPT - 1 - i) % VMDB_VERSIONS_KEPT];
        if (r->seq == seq) {
            view = r->view;
            vmdb_smt_hold(v->tree, view);
            break;
        }
    }
    pthread_mutex_unlock(&v->mu);
    return view;
}

void vmdb_versions_release(vmdb_versions *v, const vmdb_smt_view *view)
{
    if (!view)
        return;
    pthread_mutex_lock(&v->mu);
    vmdb_smt_release(v->tree, view);
    pthread_mutex_unlock(&v->mu);
}

const vmdb_smt *vmdb_versions_tree(const vmdb_versions *v)
{
    return v->tree;
}

void vmdb_versions_latest(vmdb_versions *v, uint64_t *seq, uint8_t root[32], uint64_t *leaves)
{
    pthread_mutex_lock(&v->mu);
    if (seq)
        *seq = v->seq;
    if (root)
        memcpy(root, v->root, 32);
    if (leaves)
        *leaves = vmdb_smt_view_count(vmdb_smt_current(v->tree));
    pthread_mutex_unlock(&v->mu);
}

const vmdb_smt_view *vmdb_versions_base(vmdb_versions *v)
{
    pthread_mutex_lock(&v->mu);
    const vmdb_smt_view *view = vmdb_smt_current(v->tree);
    pthread_mutex_unlock(&v->mu);
    return view;
}

int vmdb_versions_apply(vmdb_versions *v, const vmdb_smt_change *changes, size_t n)
{
    return vmdb_smt_apply(v->tree, changes, n);
}

int vmdb_versions_build(vmdb_versions *v, const vmdb_smt_leaf *leaves, size_t n)
{
    /* Start-up and repair: the two halves of the tree on two cores. */
    return vmdb_smt_build_par(v->tree, leaves, n, vmdb_run2_threads, NULL);
}

void vmdb_versions_pending_root(const vmdb_versions *v, uint8_t root[32])
{
    const vmdb_smt_view *p = vmdb_smt_pending(v->tree);
    if (p)
        vmdb_smt_view_root(p, root);
    else
        memset(root, 0, 32);
}

const vmdb_smt_view *vmdb_versions_pending(const vmdb_versions *v)
{
    return vmdb_smt_pending(v->tree);
}

void vmdb_versions_committing(vmdb_versions *v, uint64_t seq)
{
    pthread_mutex_lock(&v->mu);
    v->committing = seq;
    pthread_mutex_unlock(&v->mu);
}

void vmdb_versions_discard(vmdb_versions *v)
{
    vmdb_smt_discard(v->tree);
    pthread_mutex_lock(&v->mu);
    v->committing = 0;
    pthread_cond_broadcast(&v->published);
    pthread_mutex_unlock(&v->mu);
}

void vmdb_versions_publish(vmdb_versions *v, uint64_t seq)
{
    pthread_mutex_lock(&v->mu);
    vmdb_smt_publish(v->tree);
    ring_push(v, seq);
    v->committing = 0;
    vmdb_smt_collect(v->tree);
    pthread_cond_broadcast(&v->published);
    pthread_mutex_unlock(&v->mu);
}
