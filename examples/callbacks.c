/*
 * callbacks.c - status callbacks, cancelling, a timeout and crashes.
 *
 * Runs seven jobs in standalone mode, two at a time, one for each way a job
 * can end.  An executor-wide callback prints every status change with the
 * thread it arrives in; per-job callbacks tell the main thread when the
 * long-running jobs have started, so that it can cancel one while it runs
 * and another while it waits in the queue.
 */
#define _POSIX_C_SOURCE 200809L /* for pause, _exit, setrlimit */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jobconfig.h>

/* ---- the jobs ------------------------------------------------------------ */

static int completes(job_ctx *ctx, const void *input, size_t len)
{
    (void)input, (void)len;
    for (uint64_t step = 1; step <= 3; step++)
        job_report_progress(ctx, step, 3);
    static const char done[] = "3 steps done";
    return job_set_result(ctx, done, sizeof(done) - 1);
}

static int fails(job_ctx *ctx, const void *input, size_t len)
{
    job_fail(ctx, "cannot parse \"%.*s\": not a date", (int)len,
             (const char *)input);
    return 1;
}

static int crashes(job_ctx *ctx, const void *input, size_t len)
{
    (void)ctx, (void)input, (void)len;
    /* What a wild pointer would do, without leaving a core file behind. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    raise(SIGSEGV);
    return 0;
}

static int exits(job_ctx *ctx, const void *input, size_t len)
{
    (void)ctx, (void)input, (void)len;
    _exit(3); /* leaves without sending a result */
}

/* Runs until the library kills its process.  (job_ctx_canceled() turns
 * true only in development mode, where a running job cannot be killed.) */
static int runs_forever(job_ctx *ctx, const void *input, size_t len)
{
    (void)input, (void)len;
    while (!job_ctx_canceled(ctx))
        pause();
    return 0;
}

/* What each job is, and how it must end. */
struct expect {
    const char *label;
    job_fn fn;
    int64_t timeout_ms;
    job_status status;
    job_failure failure;
};

static const struct expect plan[] = {
    {"completes", completes, 0, JOB_COMPLETED, JOB_FAILURE_NONE},
    {"fails", fails, 0, JOB_FAILED, JOB_FAILURE_ERROR},
    {"crashes", crashes, 0, JOB_FAILED, JOB_FAILURE_SIGNAL},
    {"exits", exits, 0, JOB_FAILED, JOB_FAILURE_EXIT},
    {"cancel-running", runs_forever, 0, JOB_CANCELED, JOB_FAILURE_CANCELED},
    {"times-out", runs_forever, 500, JOB_FAILED, JOB_FAILURE_TIMEOUT},
    {"cancel-queued", runs_forever, 0, JOB_CANCELED, JOB_FAILURE_CANCELED},
};
#define NJOBS (sizeof(plan) / sizeof(plan[0]))

/* ---- callbacks ----------------------------------------------------------- */

static pthread_t main_thread;

/* The main thread waits here until both long-running jobs run. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int long_jobs_started;

static const char *thread_name(void)
{
    return pthread_equal(pthread_self(), main_thread) ? "main" : "dispatcher";
}

static int runs_long(const job *j)
{
    const struct expect *e = job_userdata(j);
    return e->fn == runs_forever;
}

/* Executor-wide: every status change of every job. */
static void print_status(job *j, job_status status, void *userdata)
{
    (void)userdata;
    printf("  [%-10s] job %llu %-14s %s", thread_name(),
           (unsigned long long)job_id(j), job_label(j),
           job_status_name(status));
    /* When told FAILED or CANCELED, the record is already complete. */
    if (status == JOB_FAILED || status == JOB_CANCELED)
        printf(" (%s: %s)", job_failure_name(job_failure_kind(j)),
               job_error_message(j));
    printf("\n");

    /* A long job that ends without having run (it could not be started)
     * counts too, so that main never waits for ever. */
    if (runs_long(j) &&
        (status == JOB_RUNNING || (job_status_is_finished(status) &&
                                   !job_status_time_ns(j, JOB_RUNNING)))) {
        pthread_mutex_lock(&mu);
        long_jobs_started++;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
}

/* Per job, on the first one only; called before the executor-wide one. */
static void print_result(job *j, job_status status, void *userdata)
{
    (void)userdata;
    if (status != JOB_COMPLETED)
        return;
    size_t len;
    const char *result = job_result(j, &len);
    uint64_t done, total;
    job_get_progress(j, &done, &total);
    printf("  [%-10s] job %llu result \"%.*s\", progress %llu/%llu\n",
           thread_name(), (unsigned long long)job_id(j), (int)len, result,
           (unsigned long long)done, (unsigned long long)total);
}

/* ---- main ---------------------------------------------------------------- */

static int submit(job_executor *ex, size_t i, job **out)
{
    job_options opts = {
        .label = plan[i].label,
        .userdata = (void *)&plan[i],
        .timeout_ms = plan[i].timeout_ms,
        .on_status = plan[i].fn == completes ? print_result : NULL,
    };
    const char *input = "2026-13-45";
    int rc = job_submit(ex, plan[i].fn, input, strlen(input), &opts, out);
    if (rc != JOB_OK)
        fprintf(stderr, "callbacks: submit %s: %s\n", plan[i].label,
                job_strerror(rc));
    return rc;
}

int main(void)
{
    main_thread = pthread_self();
    job_config *cfg = NULL;
    job_executor *ex = NULL;
    int rc = job_config_new(&cfg);
    if (rc == JOB_OK)
        rc = job_configure_job_executions(cfg, "standalone", 2);
    if (rc == JOB_OK) /* SIGKILL follows SIGTERM after this long */
        rc = job_config_set(cfg, "kill_grace", "\"1s:timedelta\"");
    if (rc == JOB_OK)
        rc = job_executor_new(cfg, &ex);
    job_config_free(cfg);
    if (rc != JOB_OK) {
        fprintf(stderr, "callbacks: %s\n", job_strerror(rc));
        return 1;
    }
    job_executor_on_status(ex, print_status, NULL);

    /* Every job but the last, which is submitted once both workers are
     * busy with the long-running jobs, so that it has to wait. */
    job *jobs[NJOBS] = {0};
    for (size_t i = 0; i + 1 < NJOBS && rc == JOB_OK; i++)
        rc = submit(ex, i, &jobs[i]);

    pthread_mutex_lock(&mu);
    while (rc == JOB_OK && long_jobs_started < 2)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    if (rc == JOB_OK)
        rc = submit(ex, NJOBS - 1, &jobs[NJOBS - 1]);
    if (rc == JOB_OK) {
        printf("cancelling %s and %s\n", plan[NJOBS - 1].label, plan[4].label);
        job_cancel(jobs[NJOBS - 1]); /* PENDING: it never runs */
        job_cancel(jobs[4]);         /* RUNNING: SIGTERM to its process */
        rc = job_executor_wait_all(ex, -1);
    }

    printf("\n job  %-14s %-9s  %-8s  %4s  %3s  %s\n", "label", "status",
           "failure", "exit", "sig", "message");
    size_t as_expected = 0;
    for (size_t i = 0; i < NJOBS && jobs[i]; i++) {
        job *j = jobs[i];
        job_status st = job_get_status(j);
        job_failure why = job_failure_kind(j);
        const char *msg = job_error_message(j);
        printf("%4llu  %-14s %-9s  %-8s  %4d  %3d  %s\n",
               (unsigned long long)job_id(j), job_label(j), job_status_name(st),
               job_failure_name(why), job_exit_code(j), job_term_signal(j),
               msg ? msg : "-");
        as_expected += st == plan[i].status && why == plan[i].failure;
        job_release(j);
    }
    job_executor_free(ex);
    printf("%zu of %zu jobs ended as expected\n", as_expected, NJOBS);
    return rc == JOB_OK && as_expected == NJOBS ? 0 : 1;
}
