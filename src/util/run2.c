/*
 * The two-thread runner of run2.h.
 */
#include <pthread.h>

#include "util/run2.h"

typedef struct run_job {
    void (*fn)(void *);
    void *arg;
} run_job;

static void *run_job_main(void *arg)
{
    run_job *j = arg;
    j->fn(j->arg);
    return NULL;
}

void vmdb_run2_threads(void *ctx, void (*fn)(void *), void *a, void *b)
{
    pthread_t th;
    run_job j = {fn, a};
    (void)ctx;
    if (pthread_create(&th, NULL, run_job_main, &j) != 0) {
        fn(a);
        fn(b);
        return;
    }
    fn(b);
    pthread_join(th, NULL);
}
