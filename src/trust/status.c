/*
 * The integrity status: one mutex over a small fixed record. Reasons are
 * kept apart so that, say, the instance lock coming back does not also wipe
 * a rollback found at start-up.
 */
#include "trust/status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/sb.h"
#include "vmdb/common.h"

struct vmdb_status {
    pthread_mutex_t mu;
    bool set[VMDB_BLOCK_COUNT];
    char msg[VMDB_BLOCK_COUNT][VMDB_STATUS_MSG];
    uint64_t violations; /* since start-up or the last repairing transition */
    uint64_t total;      /* since start-up */
    bool has_last;
    vmdb_violation last;
};

int vmdb_status_new(vmdb_status **out)
{
    vmdb_status *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return VMDB_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return 0;
}

void vmdb_status_free(vmdb_status *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void vmdb_status_set(vmdb_status *s, vmdb_block why, const char *msg)
{
    bool was;
    pthread_mutex_lock(&s->mu);
    was = s->set[why];
    s->set[why] = msg != NULL;
    if (msg)
        snprintf(s->msg[why], sizeof s->msg[why], "%s", msg);
    else
        s->msg[why][0] = 0;
    pthread_mutex_unlock(&s->mu);
    /* The lock monitor and the anchor wait log their own, friendlier lines. */
    if (msg && !was && why != VMDB_BLOCK_LOCK_LOST && why != VMDB_BLOCK_ANCHOR_WAIT)
        LOG_ERROR("writes refused: %s", msg);
}

void vmdb_status_repaired(vmdb_status *s)
{
    static const vmdb_block repaired[] = {VMDB_BLOCK_TRUST, VMDB_BLOCK_STATE,
                                          VMDB_BLOCK_COMMIT_LOST};
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < sizeof repaired / sizeof repaired[0]; i++) {
        s->set[repaired[i]] = false;
        s->msg[repaired[i]][0] = 0;
    }
    /* The transition rebuilt the tree from the rows and re-signed the
     * state, so every violation seen so far (rows, leaves, the state row,
     * the header chain) is resolved; a rollback refuses the transitions,
     * so none is pending here. Violations found after it count anew. */
    s->violations = 0;
    s->has_last = false;
    memset(&s->last, 0, sizeof s->last);
    pthread_mutex_unlock(&s->mu);
}

bool vmdb_status_is_set(vmdb_status *s, vmdb_block why)
{
    pthread_mutex_lock(&s->mu);
    bool on = s->set[why];
    pthread_mutex_unlock(&s->mu);
    return on;
}

bool vmdb_status_in_doubt(vmdb_status *s)
{
    pthread_mutex_lock(&s->mu);
    bool doubt = s->set[VMDB_BLOCK_ROLLBACK] || s->set[VMDB_BLOCK_TRUST] ||
                 s->set[VMDB_BLOCK_STATE] || s->set[VMDB_BLOCK_COMMIT_LOST];
    pthread_mutex_unlock(&s->mu);
    return doubt;
}

/* The shown reason: the first set in enum order. Under the lock. */
static int shown(const vmdb_status *s)
{
    for (int i = 0; i < VMDB_BLOCK_COUNT; i++)
        if (s->set[i])
            return i;
    return -1;
}

bool vmdb_status_blocked(vmdb_status *s, vmdb_block *why, char *msg, size_t len)
{
    pthread_mutex_lock(&s->mu);
    int i = shown(s);
    if (i >= 0 && why)
        *why = (vmdb_block)i;
    if (i >= 0 && msg && len)
        snprintf(msg, len, "%s", s->msg[i]);
    pthread_mutex_unlock(&s->mu);
    return i >= 0;
}

void vmdb_status_violation(vmdb_status *s, const char *table, const char *what,
                           const char *const *ids, size_t nids)
{
    vmdb_violation v;
    size_t used = 0, total = 0;
    memset(&v, 0, sizeof v);
    v.at = (int64_t)time(NULL);
    snprintf(v.table, sizeof v.table, "%s", table);
    snprintf(v.reason, sizeof v.reason, "%s", what);
    /* A long list is left out whole rather than cut: a reader must not
     * take a partial list for the complete one. "Long": its JSON text (the
     * form /health shows) is 1000 bytes or more. */
    vmdb_buf json = VMDB_BUF_INIT;
    for (size_t i = 0; i < nids && json.len < 1000; i++) {
        total += strlen(ids[i]) + 1;
        if ((i && vmdb_buf_putc(&json, ',')) || vmdb_sb_jstrz(&json, ids[i]))
            json.len = 1000;
    }
    bool fits = json.len < 1000 && total <= sizeof v.ids;
    vmdb_buf_free(&json);
    if (fits) {
        for (size_t i = 0; i < nids; i++) {
            size_t n = strlen(ids[i]);
            memcpy(v.ids + used, ids[i], n + 1);
            used += n + 1;
        }
        v.nids = nids;
    }
    LOG_ERROR("INTEGRITY_VIOLATION table=%s %s (%zu ids%s%s)", table, what, nids,
              nids ? ", first " : "", nids ? ids[0] : "");
    pthread_mutex_lock(&s->mu);
    s->violations++;
    s->total++;
    s->last = v;
    s->has_last = true;
    pthread_mutex_unlock(&s->mu);
}

void vmdb_status_get(vmdb_status *s, vmdb_status_view *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    out->violations = s->violations;
    out->total = s->total;
    out->has_last = s->has_last;
    if (s->has_last)
        out->last = s->last;
    int i = shown(s);
    out->blocked = i >= 0;
    if (i >= 0)
        memcpy(out->blocked_msg, s->msg[i], sizeof out->blocked_msg);
    pthread_mutex_unlock(&s->mu);
}

const char *vmdb_violation_id(const vmdb_violation *v, size_t i)
{
    const char *p = v->ids;
    while (i--)
        p += strlen(p) + 1;
    return p;
}
