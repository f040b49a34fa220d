/*
 * prof_jobexec.c - one path of the library in a loop, and nothing else, for
 * profilers (callgrind, perf, strace -c): see profile.sh.
 *
 *   prof_jobexec dev N        N empty jobs in development mode
 *   prof_jobexec fork N W     N empty jobs, standalone, a process per job
 *   prof_jobexec reuse N W    N empty jobs, standalone, reused workers
 *   prof_jobexec serial N     N empty jobs one at a time (submit, wait),
 *                             standalone, a process per job, 1 worker
 *   prof_jobexec limit N W    the limit (limit.c): N bare fork + pipe +
 *                             pidfd jobs, W at a time
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobconfig.h>

#include "bench.h"

static int empty_job(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    return 0;
}

static void check(int rc, const char *what)
{
    if (rc != JOB_OK) {
        fprintf(stderr, "prof_jobexec: %s: %s\n", what, job_strerror(rc));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: prof_jobexec dev|fork|reuse|serial|limit N [WORKERS]\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = strtol(argv[2], NULL, 10);
    int w = argc > 3 ? atoi(argv[3]) : 1;
    if (!strcmp(mode, "limit")) {
        int64_t el;
        return limit_run((int)n, w, 0, &el) == 0 ? 0 : 1;
    }
    job_config *cfg;
    check(job_config_new(&cfg), "job_config_new");
    bool dev = !strcmp(mode, "dev");
    check(job_configure_job_executions(cfg, dev ? "development" : "standalone",
                                       w > 0 ? w : 1),
          "job_configure_job_executions");
    if (!strcmp(mode, "reuse"))
        check(job_config_set(cfg, "max_jobs_per_worker", "0"), "max_jobs_per_worker");
    job_executor *ex;
    check(job_executor_new(cfg, &ex), "job_executor_new");
    job_config_free(cfg);
    if (!strcmp(mode, "serial")) {
        for (long i = 0; i < n; i++) {
            job *h;
            check(job_submit(ex, empty_job, NULL, 0, NULL, &h), "job_submit");
            check(job_wait(h, -1), "job_wait");
            job_release(h);
        }
    } else {
        for (long i = 0; i < n; i++)
            check(job_submit(ex, empty_job, NULL, 0, NULL, NULL), "job_submit");
    }
    check(job_executor_wait_all(ex, -1), "job_executor_wait_all");
    job_executor_stats st;
    check(job_executor_stats_get(ex, &st), "job_executor_stats_get");
    job_executor_free(ex);
    if (st.finished != (uint64_t)n || st.failed) {
        fprintf(stderr, "prof_jobexec: %llu of %ld finished, %llu failed\n",
                (unsigned long long)st.finished, n, (unsigned long long)st.failed);
        return 1;
    }
    return 0;
}
