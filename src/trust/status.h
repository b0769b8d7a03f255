/*
 * The integrity status of a running vmdb: the integrity violations it has
 * seen and the reasons it refuses writes. Every part that finds something
 * wrong (a read, the writer, start-up, the header chain, the instance lock)
 * reports it here, and /health and the writer read it from here.
 *
 * Invariants: each reason that blocks writes is set and cleared only through
 * vmdb_status_set (plus vmdb_status_repaired for the admin transitions);
 * several reasons can hold at once and clearing one leaves the others;
 * writes are allowed exactly when no reason is set. The status has its own
 * lock and calls nothing while holding it.
 */
#ifndef VMDB_TRUST_STATUS_H
#define VMDB_TRUST_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why writes are refused, most important first: when several hold, the
 * message of the first one set in this order is the one shown. The first
 * four put the state itself in doubt (it must not be anchored or
 * checkpointed); the last two are about availability only. */
typedef enum vmdb_block {
    VMDB_BLOCK_ROLLBACK,    /* a rollback was detected: only the newest backup helps */
    VMDB_BLOCK_TRUST,       /* the header chain, the trusted state or the anchor disagree */
    VMDB_BLOCK_STATE,       /* the leaves or the state row disagree with the tree */
    VMDB_BLOCK_COMMIT_LOST, /* the connection died during a COMMIT: outcome unknown */
    VMDB_BLOCK_ANCHOR_WAIT, /* the newest anchor could not be read yet (not a violation) */
    VMDB_BLOCK_LOCK_LOST,   /* the instance lock is not held (not a violation) */
    VMDB_BLOCK_COUNT
} vmdb_block;

#define VMDB_STATUS_MSG 300
#define VMDB_VIOLATION_IDS 1000 /* bytes of ids kept with the newest violation */

/* One integrity violation, as kept for /health. */
typedef struct vmdb_violation {
    int64_t at; /* unix seconds */
    char table[64];
    char reason[VMDB_STATUS_MSG];
    /* The keys involved, NUL-separated; none when they would not fit. */
    char ids[VMDB_VIOLATION_IDS];
    size_t nids;
} vmdb_violation;

/* A consistent copy of the status. */
typedef struct vmdb_status_view {
    uint64_t violations; /* since start-up or the last repairing transition */
    uint64_t total;      /* since start-up (never cleared: a counter) */
    bool has_last;
    vmdb_violation last;
    bool blocked;
    char blocked_msg[VMDB_STATUS_MSG]; /* the most important reason's message */
} vmdb_status_view;

typedef struct vmdb_status vmdb_status;

/* *out is the caller's (vmdb_status_free). VMDB_ENOMEM. */
int vmdb_status_new(vmdb_status **out);
void vmdb_status_free(vmdb_status *s); /* accepts NULL */

/* Sets reason `why` with `msg` (copied, cut to fit), or clears it when msg
 * is NULL. Logs a newly set reason. */
void vmdb_status_set(vmdb_status *s, vmdb_block why, const char *msg);
/* An admin transition rebuilt the state from the rows: clears the reasons
 * it repairs (TRUST, STATE, COMMIT_LOST) and the violations recorded so far
 * (the count and the newest; the total stays). A rollback, the wait for
 * the anchor and a lost lock are owned by their own checks and stay. */
void vmdb_status_repaired(vmdb_status *s);
bool vmdb_status_is_set(vmdb_status *s, vmdb_block why);
/* Whether a reason that puts the state in doubt is set (ROLLBACK, TRUST,
 * STATE, COMMIT_LOST). */
bool vmdb_status_in_doubt(vmdb_status *s);
/* Whether writes are refused; the shown reason into *why (may be NULL)
 * and its message into msg (may be NULL). */
bool vmdb_status_blocked(vmdb_status *s, vmdb_block *why, char *msg, size_t len);

/* Records an integrity violation: logged, counted, kept as the newest.
 * `ids` (may be NULL when nids is 0) are the keys involved. */
void vmdb_status_violation(vmdb_status *s, const char *table, const char *what,
                           const char *const *ids, size_t nids);

void vmdb_status_get(vmdb_status *s, vmdb_status_view *out);

/* The i-th id of a violation (i < v->nids). */
const char *vmdb_violation_id(const vmdb_violation *v, size_t i);

#endif
