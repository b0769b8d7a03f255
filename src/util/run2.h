/*
 * Running two halves of a job on two threads: the runner that
 * vmdb_smt_build_par (src/core, which starts no threads itself) is given by
 * the server and by `vmdb bench tree`.
 */
#ifndef VMDB_UTIL_RUN2_H
#define VMDB_UTIL_RUN2_H

/* Runs fn(a) on a new thread and fn(b) on this one, and returns when both
 * are done; both on this thread, one after the other, when no thread can
 * be started. `ctx` is unused (the callback signature of
 * vmdb_smt_build_par). Never fails. */
void vmdb_run2_threads(void *ctx, void (*fn)(void *), void *a, void *b);

#endif
