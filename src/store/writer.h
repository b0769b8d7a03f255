/*
 * The writer: one thread, one PostgreSQL connection, and the queue in front
 * of them. Concurrent write requests are gathered into one transaction
 * (group commit), each inside its own SAVEPOINT so that a failing request is
 * rolled back alone; administrative work and start-up run on the same
 * thread as jobs, so that everything that changes the tree or the chain is
 * serialised in one place.
 *
 * A write: old leaf values come from the tree (never from PostgreSQL), new
 * ones from the rows PostgreSQL returns, and the rows a write replaces or
 * deletes are first checked against the tree, so a tampered row is
 * reported instead of being re-blessed. The group's header is signed and
 * its intent made durable before COMMIT (trust/chain.h); the tree changes
 * only after COMMIT succeeded.
 *
 * Threads and locks: the writer owns its thread, its connection and its
 * hasher; the queue lock guards only the queue and the stop flag.
 */
#ifndef VMDB_STORE_WRITER_H
#define VMDB_STORE_WRITER_H

#include "store/coerce.h"
#include "store/parts.h"
#include "store/result.h"
#include "util/arena.h"
#include "util/histo.h"

typedef enum vmdb_wkind { VMDB_W_CREATE, VMDB_W_UPSERT, VMDB_W_DELETE } vmdb_wkind;

/* One write request. It and everything it points to (the model, `recs`,
 * `ids`) must stay valid until vmdb_writer_write returns, or, for
 * vmdb_writer_write_begin, until its `done` callback ran: the writer thread
 * reads them while it runs the group. */
typedef struct vmdb_write {
    vmdb_wkind kind;
    const vmdb_model *model; /* from a registry the caller holds a reference to */
    vmdb_crec *recs;         /* create/upsert: coerced records */
    size_t nrecs;
    const char **ids; /* delete: canonical key texts, distinct */
    size_t nids;
    bool has_expected; /* expected_root: the write applies only to this root */
    uint8_t expected[32];
    bool proof; /* the result gets the proof of PROTOCOL.md §9 */
    /* The connection that sent it (0: unknown). A client whose write was
     * just answered usually sends its next one at once: the writer waits
     * briefly for those before it commits a group (commit_delay_us). */
    uint64_t client;
} vmdb_write;

typedef struct vmdb_writer_config {
    const char *url;
    bool allow_multi_instance;  /* another instance may write: resync when the state row moved */
    unsigned max_group;         /* write requests per transaction (>= 1) */
    uint64_t batch_commit_size; /* a write whose seq is a multiple waits for its anchor */
    /* How long a group waits for the clients of the group before it to
     * send their next write (0: no wait). It ends as soon as they all
     * did; clients that do not come back make the writer stop waiting for
     * a while. */
    unsigned commit_delay_us;
} vmdb_writer_config;

typedef struct vmdb_writer vmdb_writer;

/* Connects; the thread starts with vmdb_writer_start. `parts` must outlive
 * the writer, and be complete when the thread starts (the writer keeps the
 * pointer). *out is the caller's (vmdb_writer_free). VMDB_EIO,
 * VMDB_ENOMEM, VMDB_ECRYPTO. */
int vmdb_writer_open(vmdb_writer **out, const vmdb_writer_config *cfg, const vmdb_parts *parts);
int vmdb_writer_start(vmdb_writer *w); /* VMDB_ENOMEM */
/* Stops taking work, answers what is queued, joins the thread, closes the
 * connection. Accepts NULL. */
void vmdb_writer_free(vmdb_writer *w);

/* A job: runs on the writer thread with the writer's connection (no
 * transaction open) and hasher. Returns 0 or a vmdb_err. */
typedef int (*vmdb_job_fn)(void *arg, PGconn *conn, vmdb_hasher *h);
/* Runs `fn` on the writer thread, between groups, and returns its result.
 * `fail` must be zeroed by the caller; the job may fill it itself (it is
 * then passed as part of `arg`); a non-zero result it left unfilled gets a
 * failure from the code (DB_UNAVAILABLE for VMDB_EIO, else INTERNAL). When
 * the writer is stopping the job does not run: `fail` says so
 * (WRITES_UNAVAILABLE) and VMDB_EBUSY is returned. */
int vmdb_writer_run(vmdb_writer *w, vmdb_job_fn fn, void *arg, vmdb_fail *fail);

/* Queues a write and waits for its group to commit (and, on a
 * BATCH_COMMIT_SIZE boundary, for its anchor: out->committed says whether
 * it came in time). The result's rows live in `ar`. 0, or a vmdb_err with
 * out->fail filled. */
int vmdb_writer_write(vmdb_writer *w, vmdb_arena *ar, const vmdb_write *wr, vmdb_write_result *out);

/* An asynchronous write: vmdb_writer_write without a waiting thread.
 * Queues the write and returns at once; `done(arg)` is called on the writer
 * thread once the write's group committed or failed (it must not block:
 * hand the rest to another thread). From then on `out` holds the result as
 * vmdb_writer_write gives it, except that a write on a BATCH_COMMIT_SIZE
 * boundary has not waited for its anchor: vmdb_writer_write_anchor(ticket)
 * is the seq to wait for (vmdb_chain_wait_anchored, which sets
 * out->committed), 0 when there is none. `wr`, `ar` and `out` must stay
 * valid until `done` ran; the ticket lives in `ar`. Returns 0 (done will be
 * called), or a vmdb_err with out->fail filled (done will not be called). */
typedef void (*vmdb_write_done_fn)(void *arg);
typedef struct vmdb_write_ticket vmdb_write_ticket;
int vmdb_writer_write_begin(vmdb_writer *w, vmdb_arena *ar, const vmdb_write *wr,
                            vmdb_write_result *out, vmdb_write_done_fn done, void *arg,
                            vmdb_write_ticket **ticket);
uint64_t vmdb_writer_write_anchor(const vmdb_write_ticket *t);

/* The committed groups so far: requests that succeeded per group, and rows
 * they wrote per group. Any thread. */
void vmdb_writer_stats(vmdb_writer *w, vmdb_histo_snap *reqs, vmdb_histo_snap *rows);

#endif
