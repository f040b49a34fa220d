/*
 * bench_jobexec.c - the benchmark suite of libjobexec.
 *
 * Every figure runs its peers side by side in one run, interleaved
 * (A, B, C, A, B, C, ...), for a number of repetitions; the tables give
 * medians and the ratio of each peer to every other, because only ratios
 * measured together hold on a noisy machine.  Raw values are appended to
 * a CSV file as they are measured.
 *
 *   1  development mode: ns per empty function job
 *   2  standalone mode, empty jobs, 1 and 2 workers: jobs/s against the
 *      limit (limit.c) and Python's ProcessPoolExecutor (peer_ppe.py)
 *   3  jobs of 1 ms of CPU, 2 workers: efficiency
 *   4  latency from submit to the job running in its child: p50, p99
 *   5  queue scale: cost and memory per queued job at three depths
 *   6  host scale: throughput with 0, 100 MB and 1 GB resident in the host
 *   7  command jobs: `true` through jobexec run, xargs -P and GNU parallel
 *
 * Only the public API (jobconfig.h) is used, as a host would use it.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <jobconfig.h>

#include "bench.h"

#ifndef BENCH_PEER_DIR
#define BENCH_PEER_DIR "bench"
#endif
#ifndef BENCH_JOBEXEC_CLI
#define BENCH_JOBEXEC_CLI "jobexec"
#endif

#define NFIGS 7

static struct {
    bool quick;
    int reps;
    unsigned only;          /* bit f set: run figure f; 0: all */
    const char *csv;
    const char *plots;
    const char *python;
    const char *jobexec;
    const char *peer_dir;
} opt = {
    .reps = 0,
    .csv = "jobexec-bench.csv",
    .python = "python3",
    .jobexec = BENCH_JOBEXEC_CLI,
    .peer_dir = BENCH_PEER_DIR,
};

static const char *const fig_titles[NFIGS + 1] = {
    "",
    "development mode, empty function job: ns per job (lower is better)",
    "standalone mode, empty function jobs: jobs/s (higher is better)",
    "standalone mode, jobs of 1 ms of CPU, 2 workers: efficiency = useful "
    "time / (wall x workers) (higher is better)",
    "latency from submit to the job running in its child, free worker "
    "waiting: us (lower is better)",
    "queue scale: cost and memory per queued empty job (lower is better)",
    "host scale: jobs/s with the host's resident memory, 2 workers (higher "
    "is better)",
    "command jobs: `true` run through /bin/sh -c, 2 at a time: commands/s "
    "(higher is better)",
};

/* ---- small helpers ------------------------------------------------------ */

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_jobexec: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc != JOB_OK)
        die("%s: %s (%s)", what, job_strerror(rc), job_err_name(rc));
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* Resident set size of this process, in bytes, from /proc/self/statm. */
static long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

/* Bytes malloc has handed out and not had back (main arena). */
static long long heap_in_use(void)
{
#ifdef __GLIBC__
    struct mallinfo2 mi = mallinfo2();
    return (long long)mi.uordblks;
#else
    return -1;
#endif
}

/* Gives freed heap memory back to the kernel, so that RSS deltas measure
 * new memory, not memory reused from an earlier round. */
static void heap_trim(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile (0 < p <= 100) of n sorted values, nearest rank. */
static int64_t percentile(const int64_t *sorted, int n, double p)
{
    int rank = (int)ceil(p / 100.0 * n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* ---- the library's side --------------------------------------------------- */

static int empty_job(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    return 0;
}

/* Returns, as its result, the moment it started running. */
static int stamp_job(job_ctx *ctx, const void *in, size_t len)
{
    int64_t now = bench_now_ns();
    (void)in;
    (void)len;
    return job_set_result(ctx, &now, sizeof(now)) == JOB_OK ? 0 : 1;
}

/* Burns the CPU time given as its input (an int64_t of ns). */
static int burn_job(job_ctx *ctx, const void *in, size_t len)
{
    int64_t ns = 0;
    (void)ctx;
    if (len != sizeof(ns))
        return 1;
    memcpy(&ns, in, sizeof(ns));
    bench_burn_cpu(ns);
    return 0;
}

/* Holds its worker until it is cancelled (SIGTERM ends it). */
static int block_job(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    for (;;)
        pause();
    return 0; /* not reached */
}

static int reuse_state = -1;

/* Whether the library knows the key max_jobs_per_worker. */
static bool reuse_available(void)
{
    if (reuse_state < 0) {
        job_config *cfg;
        check(job_config_new(&cfg), "job_config_new");
        reuse_state = job_config_set(cfg, "max_jobs_per_worker", "0") == JOB_OK;
        job_config_free(cfg);
    }
    return reuse_state > 0;
}

#define REUSE_NA "the library has no max_jobs_per_worker key yet"

static job_executor *new_executor(job_mode mode, int workers, bool reuse)
{
    job_config *cfg;
    check(job_config_new(&cfg), "job_config_new");
    check(job_configure_job_executions(cfg, job_mode_name(mode), workers),
          "job_configure_job_executions");
    if (reuse)
        check(job_config_set(cfg, "max_jobs_per_worker", "0"),
              "job_config_set(max_jobs_per_worker)");
    job_executor *ex;
    check(job_executor_new(cfg, &ex), "job_executor_new");
    job_config_free(cfg);
    return ex;
}

/* Checks that every job submitted to ex has finished, none failed. */
static void check_all_done(job_executor *ex, uint64_t expected)
{
    job_executor_stats st;
    check(job_executor_stats_get(ex, &st), "job_executor_stats_get");
    if (st.submitted != expected || st.finished != expected || st.failed != 0)
        die("jobs went wrong: %llu submitted (expected %llu), %llu finished, "
            "%llu failed",
            (unsigned long long)st.submitted, (unsigned long long)expected,
            (unsigned long long)st.finished, (unsigned long long)st.failed);
}

/* Submits `n` function jobs without handles. */
static void submit_n(job_executor *ex, int n, job_fn fn, const void *in,
                     size_t len)
{
    for (int i = 0; i < n; i++)
        check(job_submit(ex, fn, in, len, NULL, NULL), "job_submit");
}

/* Throughput of n jobs on a fresh standalone executor whose workers have
 * each run one job first.  Returns jobs/s. */
static double jx_rate(int workers, bool reuse, int n, job_fn fn,
                      const void *in, size_t len)
{
    job_executor *ex = new_executor(JOB_MODE_STANDALONE, workers, reuse);
    submit_n(ex, workers, fn, in, len);
    check(job_executor_wait_all(ex, -1), "job_executor_wait_all");
    int64_t t0 = bench_now_ns();
    submit_n(ex, n, fn, in, len);
    check(job_executor_wait_all(ex, -1), "job_executor_wait_all");
    int64_t t1 = bench_now_ns();
    check_all_done(ex, (uint64_t)n + (uint64_t)workers);
    job_executor_free(ex);
    return n / secs(t1 - t0);
}

/* Runs a jobexec row of a throughput figure, or marks it not available. */
static void jx_rate_row(series *s, int rep, double scale, int workers,
                        bool reuse, int n, job_fn fn, const void *in,
                        size_t len)
{
    if (reuse && !reuse_available()) {
        report_na(s, REUSE_NA);
        return;
    }
    report_add(s, rep, scale * jx_rate(workers, reuse, n, fn, in, len));
}

static void limit_rate_row(series *s, int rep, double scale, int workers,
                           int n, int64_t work_ns)
{
    int64_t el;
    if (limit_run(n, workers, work_ns, &el) != 0)
        die("the limit failed");
    report_add(s, rep, scale * n / secs(el));
}

/* Latency of one job on an idle executor, submit to running, in ns. */
static int64_t jx_latency(job_executor *ex)
{
    job *h;
    int64_t t0 = bench_now_ns();
    check(job_submit(ex, stamp_job, NULL, 0, NULL, &h), "job_submit");
    check(job_wait(h, -1), "job_wait");
    size_t len = 0;
    const void *res = job_result(h, &len);
    int64_t running;
    if (job_get_status(h) != JOB_COMPLETED || len != sizeof(running))
        die("a latency job did not complete: %s",
            job_error_message(h) ? job_error_message(h) : "no result");
    memcpy(&running, res, sizeof(running));
    job_release(h);
    return running - t0;
}

/* ---- Python's ProcessPoolExecutor (peer_ppe.py) ----------------------- */

static char ppe_broken[160];

/*
 * Runs peer_ppe.py.  mode: "reuse" or "mtpc1"; context: the start method
 * asked for (the script falls back when Python refuses it and says which
 * it used).  With latency > 0, measures that many latencies instead.
 * Fills `out` with the script's output line.  Returns 0 or -1 (and sets
 * ppe_broken when Python itself is not usable).
 */
static int ppe_run(const char *mode, const char *context, int workers,
                   int tasks, int work_us, int latency, char *out, size_t outsz)
{
    if (ppe_broken[0])
        return -1;
    char script[PATH_MAX], w[16], t[16], u[16], l[16];
    snprintf(script, sizeof(script), "%s/peer_ppe.py", opt.peer_dir);
    snprintf(w, sizeof(w), "%d", workers);
    snprintf(t, sizeof(t), "%d", tasks);
    snprintf(u, sizeof(u), "%d", work_us);
    snprintf(l, sizeof(l), "%d", latency);
    char *argv[] = {(char *)opt.python, script, "--mode", (char *)mode,
                    "--context", (char *)context, "--workers", w, "--tasks", t,
                    "--work-us", u, "--latency", l, NULL};
    int st = spawn_run(argv, NULL, out, outsz, false, NULL);
    if (st < 0) {
        snprintf(ppe_broken, sizeof(ppe_broken), "cannot run %s: %s",
                 opt.python, strerror(errno));
        return -1;
    }
    if (st != 0) {
        fprintf(stderr, "bench_jobexec: %s exited with status %d\n", script, st);
        return -1;
    }
    return 0;
}

/* Runs a ProcessPoolExecutor throughput row. */
static void ppe_rate_row(series *s, int fig, int rep, double scale,
                         const char *mode, const char *context, int workers,
                         int tasks, int work_us)
{
    char out[512];
    if (ppe_run(mode, context, workers, tasks, work_us, 0, out, sizeof(out)) != 0) {
        report_na(s, "%s", ppe_broken[0] ? ppe_broken : "peer_ppe.py failed");
        return;
    }
    double rate = NAN;
    char used[32] = "?";
    const char *p = strstr(out, "jobs_per_s=");
    const char *c = strstr(out, "context=");
    if (p)
        rate = strtod(p + strlen("jobs_per_s="), NULL);
    if (c)
        sscanf(c + strlen("context="), "%31s", used);
    if (!(rate > 0)) {
        report_na(s, "peer_ppe.py printed no rate: %s", out);
        return;
    }
    report_add(s, rep, scale * rate);
    if (strcmp(used, context) != 0)
        report_note(fig, "%s: Python refused the '%s' start method with "
                         "max_tasks_per_child, so it ran with '%s'",
                    s->peer, context, used);
    else
        report_note(fig, "%s: start method '%s'", s->peer, used);
}

/* ---- figures ---------------------------------------------------------------- */

static void fig1(int reps)
{
    const int n = opt.quick ? 100000 : 1000000;
    job_executor *ex = new_executor(JOB_MODE_DEVELOPMENT, 0, false);
    series *sn = report_series(1, "submit_null", "empty_job", "ns/job", BENCH_LOWER);
    series *sh = report_series(1, "submit_handle", "empty_job", "ns/job", BENCH_LOWER);
    uint64_t total = 10000;
    submit_n(ex, 10000, empty_job, NULL, 0);
    for (int rep = 0; rep < reps; rep++) {
        progress("[1] rep %d/%d: %d jobs each way", rep + 1, reps, n);
        int64_t t0 = bench_now_ns();
        for (int i = 0; i < n; i++)
            check(job_submit(ex, empty_job, NULL, 0, NULL, NULL), "job_submit");
        int64_t t1 = bench_now_ns();
        report_add(sn, rep, (double)(t1 - t0) / n);

        t0 = bench_now_ns();
        for (int i = 0; i < n; i++) {
            job *h;
            check(job_submit(ex, empty_job, NULL, 0, NULL, &h), "job_submit");
            job_release(h);
        }
        t1 = bench_now_ns();
        report_add(sh, rep, (double)(t1 - t0) / n);
        total += 2 * (uint64_t)n;
    }
    check_all_done(ex, total);
    job_executor_free(ex);
    report_note(1, "%d jobs per repetition and way; submit_null passes out=NULL, "
                   "submit_handle takes a handle and releases it", n);
}

static void fig2(int reps)
{
    const bool q = opt.quick;
    const int n_fork = q ? 300 : 3000, n_reuse = q ? 3000 : 30000;
    const int n_limit = q ? 300 : 3000, n_ppe_reuse = q ? 1000 : 10000;
    const int n_mtpc1 = q ? 30 : 200, n_spawn = q ? 6 : 30;
    for (int rep = 0; rep < reps; rep++) {
        for (int w = 1; w <= 2; w++) {
            char param[24];
            snprintf(param, sizeof(param), "workers=%d", w);
            progress("[2] rep %d/%d, %s", rep + 1, reps, param);
            const char *u = "jobs/s";
            jx_rate_row(report_series(2, "jobexec_fork", param, u, BENCH_HIGHER),
                        rep, 1, w, false, n_fork, empty_job, NULL, 0);
            jx_rate_row(report_series(2, "jobexec_reuse", param, u, BENCH_HIGHER),
                        rep, 1, w, true, n_reuse, empty_job, NULL, 0);
            limit_rate_row(report_series(2, "limit", param, u, BENCH_HIGHER),
                           rep, 1, w, n_limit, 0);
            ppe_rate_row(report_series(2, "ppe_mtpc1", param, u, BENCH_HIGHER),
                         2, rep, 1, "mtpc1", "fork", w, n_mtpc1, 0);
            ppe_rate_row(report_series(2, "ppe_reuse", param, u, BENCH_HIGHER),
                         2, rep, 1, "reuse", "fork", w, n_ppe_reuse, 0);
            ppe_rate_row(report_series(2, "ppe_mtpc1_spawn", param, u, BENCH_HIGHER),
                         2, rep, 1, "mtpc1", "spawn", w, n_spawn, 0);
        }
    }
    report_note(2, "jobs per run: jobexec_fork %d, jobexec_reuse %d, limit %d, "
                   "ppe_mtpc1 %d, ppe_reuse %d, ppe_mtpc1_spawn %d; each run "
                   "starts its pool and runs one job per worker before the clock "
                   "starts", n_fork, n_reuse, n_limit, n_mtpc1, n_ppe_reuse, n_spawn);
}

static void fig3(int reps)
{
    const int64_t work = 1000000; /* 1 ms of CPU */
    const int w = 2, n = opt.quick ? 100 : 1000;
    const double per_rate = secs(work) / w; /* jobs/s -> efficiency */
    const char *param = "1ms_cpu,workers=2";
    for (int rep = 0; rep < reps; rep++) {
        progress("[3] rep %d/%d: %d jobs of 1 ms", rep + 1, reps, n);
        jx_rate_row(report_series(3, "jobexec_fork", param, "eff", BENCH_HIGHER),
                    rep, per_rate, w, false, n, burn_job, &work, sizeof(work));
        jx_rate_row(report_series(3, "jobexec_reuse", param, "eff", BENCH_HIGHER),
                    rep, per_rate, w, true, n, burn_job, &work, sizeof(work));
        limit_rate_row(report_series(3, "limit", param, "eff", BENCH_HIGHER),
                       rep, per_rate, w, n, work);
        ppe_rate_row(report_series(3, "ppe_reuse", param, "eff", BENCH_HIGHER),
                     3, rep, per_rate, "reuse", "fork", w, n, 1000);
    }
    report_note(3, "%d jobs per run; a job spins until its thread has used "
                   "1 ms of CPU (CLOCK_THREAD_CPUTIME_ID)", n);
}

static void add_percentiles(int fig, const char *peer, int rep, int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    report_add(report_series(fig, peer, "p50", "us", BENCH_LOWER), rep,
               (double)percentile(v, n, 50) / 1000.0);
    report_add(report_series(fig, peer, "p99", "us", BENCH_LOWER), rep,
               (double)percentile(v, n, 99) / 1000.0);
}

static void fig4(int reps)
{
    const int m = opt.quick ? 60 : 500;
    int64_t *lf = calloc((size_t)m, sizeof(*lf));
    int64_t *lr = calloc((size_t)m, sizeof(*lr));
    int64_t *ll = calloc((size_t)m, sizeof(*ll));
    if (!lf || !lr || !ll)
        die("out of memory");
    bool reuse = reuse_available();
    for (int rep = 0; rep < reps; rep++) {
        progress("[4] rep %d/%d: %d samples per peer", rep + 1, reps, m);
        job_executor *exf = new_executor(JOB_MODE_STANDALONE, 1, false);
        job_executor *exr = reuse ? new_executor(JOB_MODE_STANDALONE, 1, true) : NULL;
        jx_latency(exf);
        if (exr)
            jx_latency(exr);
        for (int i = 0; i < m; i++) {
            lf[i] = jx_latency(exf);
            if (exr)
                lr[i] = jx_latency(exr);
            if (limit_latency(&ll[i]) != 0)
                die("the limit failed");
        }
        job_executor_free(exf);
        job_executor_free(exr);
        add_percentiles(4, "jobexec_fork", rep, lf, m);
        if (exr) {
            add_percentiles(4, "jobexec_reuse", rep, lr, m);
        } else {
            report_na(report_series(4, "jobexec_reuse", "p50", "us", BENCH_LOWER), REUSE_NA);
            report_na(report_series(4, "jobexec_reuse", "p99", "us", BENCH_LOWER), REUSE_NA);
        }
        add_percentiles(4, "limit", rep, ll, m);

        series *p50 = report_series(4, "ppe_reuse", "p50", "us", BENCH_LOWER);
        series *p99 = report_series(4, "ppe_reuse", "p99", "us", BENCH_LOWER);
        char out[512];
        double a = NAN, b = NAN;
        if (ppe_run("reuse", "fork", 1, 0, 0, m, out, sizeof(out)) == 0 &&
            sscanf(out, "p50_us=%lf p99_us=%lf", &a, &b) == 2) {
            report_add(p50, rep, a);
            report_add(p99, rep, b);
        } else {
            report_na(p50, "%s", ppe_broken[0] ? ppe_broken : "peer_ppe.py failed");
            report_na(p99, "%s", ppe_broken[0] ? ppe_broken : "peer_ppe.py failed");
        }
    }
    free(lf);
    free(lr);
    free(ll);
    report_note(4, "%d samples per peer and repetition, one job at a time, the "
                   "peers' samples interleaved; the job reads CLOCK_MONOTONIC as "
                   "it starts and returns it as its result", m);
}

/* State shared with the callbacks of figure 5. */
struct qstate {
    sem_t blocker_running;
    sem_t k_done;
    atomic_int completed;
    int k;
    int64_t *t;             /* completion times of the first k + 1 jobs */
};

static void on_blocker(job *j, job_status status, void *ud)
{
    struct qstate *qs = ud;
    (void)j;
    if (status == JOB_RUNNING)
        sem_post(&qs->blocker_running);
}

static void on_done(job *j, job_status status, void *ud)
{
    struct qstate *qs = ud;
    (void)j;
    if (status != JOB_COMPLETED)
        return;
    int c = atomic_fetch_add(&qs->completed, 1);
    if (c <= qs->k) {
        qs->t[c] = bench_now_ns();
        if (c == qs->k)
            sem_post(&qs->k_done);
    }
}

/*
 * One queue measurement.  A job that blocks holds the only worker, so the
 * dispatcher cannot start anything: the n empty jobs submitted then all
 * stay queued.  Measured: the submit cost; the RSS and heap growth per
 * queued job; once the blocker is cancelled, the time between completions
 * of the first k jobs taken off the full queue; then the cost per job of
 * cancelling the rest with job_executor_stop.
 */
static void queue_once(int n, int k, int rep, const char *param)
{
    struct qstate qs;
    memset(&qs, 0, sizeof(qs));
    sem_init(&qs.blocker_running, 0, 0);
    sem_init(&qs.k_done, 0, 0);
    qs.k = k;
    qs.t = calloc((size_t)k + 1, sizeof(*qs.t));
    if (!qs.t)
        die("out of memory");

    job_executor *ex = new_executor(JOB_MODE_STANDALONE, 1, false);
    job_options bo;
    memset(&bo, 0, sizeof(bo));
    bo.on_status = on_blocker;
    bo.userdata = &qs;
    bo.label = "blocker";
    job *blocker;
    check(job_submit(ex, block_job, NULL, 0, &bo, &blocker), "job_submit");
    while (sem_wait(&qs.blocker_running) != 0 && errno == EINTR) {
    }

    heap_trim();
    long long rss0 = rss_bytes(), heap0 = heap_in_use();
    int64_t t0 = bench_now_ns();
    submit_n(ex, n, empty_job, NULL, 0);
    int64_t t1 = bench_now_ns();
    long long rss1 = rss_bytes(), heap1 = heap_in_use();

    /* The limit forks from this very host, queue and all, while the
     * dispatcher sleeps: what a fork costs at this size. */
    int64_t lim_el;
    if (limit_run(k, 1, 0, &lim_el) != 0)
        die("the limit failed");

    check(job_executor_on_status(ex, on_done, &qs), "job_executor_on_status");
    check(job_cancel(blocker), "job_cancel");
    while (sem_wait(&qs.k_done) != 0 && errno == EINTR) {
    }
    check(job_executor_on_status(ex, NULL, NULL), "job_executor_on_status");

    job_executor_stats st;
    check(job_executor_stats_get(ex, &st), "job_executor_stats_get");
    int64_t t2 = bench_now_ns();
    check(job_executor_stop(ex, JOB_STOP_CANCEL, -1), "job_executor_stop");
    int64_t t3 = bench_now_ns();
    job_executor_free(ex);
    job_release(blocker);

    const char *u = "ns/job";
    report_add(report_series(5, "submit", param, u, BENCH_LOWER), rep,
               (double)(t1 - t0) / n);
    report_add(report_series(5, "dispatch", param, u, BENCH_LOWER), rep,
               (double)(qs.t[k] - qs.t[0]) / k);
    report_add(report_series(5, "limit", param, u, BENCH_LOWER), rep,
               (double)lim_el / k);
    if (st.pending > 0)
        report_add(report_series(5, "cancel", param, u, BENCH_LOWER), rep,
                   (double)(t3 - t2) / (double)st.pending);
    if (rss0 >= 0 && rss1 >= 0)
        report_add(report_series(5, "rss", param, "B/job", BENCH_LOWER), rep,
                   (double)(rss1 - rss0) / n);
    if (heap0 >= 0 && heap1 >= 0)
        report_add(report_series(5, "heap", param, "B/job", BENCH_LOWER), rep,
                   (double)(heap1 - heap0) / n);
    free(qs.t);
    sem_destroy(&qs.blocker_running);
    sem_destroy(&qs.k_done);
    heap_trim();
}

static void fig5(int reps)
{
    const int sizes_full[3] = {10000, 100000, 1000000};
    const int sizes_quick[3] = {1000, 10000, 100000};
    const int *sizes = opt.quick ? sizes_quick : sizes_full;
    const int k = opt.quick ? 30 : 200;
    for (int rep = 0; rep < reps; rep++) {
        for (int i = 0; i < 3; i++) {
            char param[24];
            snprintf(param, sizeof(param), "%d", sizes[i]);
            progress("[5] rep %d/%d: %d queued jobs", rep + 1, reps, sizes[i]);
            queue_once(sizes[i], k, rep, param);
        }
    }
    report_note(5, "params are queued jobs; one worker is held by a job that "
                   "blocks until cancelled, so every job submitted stays queued "
                   "(out=NULL, empty input)");
    report_note(5, "submit: job_submit into the growing queue; rss: growth of "
                   "/proc/self/statm resident over the submits / n, after "
                   "malloc_trim; heap: growth of mallinfo2 uordblks / n");
    report_note(5, "dispatch: time between completions of the first %d jobs "
                   "taken off the full queue (fork per job, 1 worker); limit: "
                   "the limit's time per job (1 at a time) from the same host, "
                   "queue in memory; cancel: job_executor_stop(CANCEL) / jobs "
                   "still queued", k);
}

/* Allocates and touches `mb` megabytes that the host keeps resident. */
static unsigned char *ballast_new(size_t mb)
{
    if (mb == 0)
        return NULL;
    size_t bytes = mb << 20;
    unsigned char *p = malloc(bytes);
    if (!p)
        die("cannot allocate %zu MB of ballast", mb);
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < bytes; i += (size_t)page)
        p[i] = (unsigned char)(i / (size_t)page + 1);
    return p;
}

static void fig6(int reps)
{
    const size_t mbs[3] = {0, 100, 1024};
    const char *names[3] = {"0MB", "100MB", "1GB"};
    const bool q = opt.quick;
    const int n_fork[3] = {q ? 200 : 2000, q ? 60 : 400, q ? 16 : 80};
    const int n_reuse = q ? 2000 : 20000;
    /* The sizes take turns too, so that the ratio of a peer's throughput
     * at 1 GB to its throughput at 0 MB is measured side by side. */
    for (int rep = 0; rep < reps; rep++) {
        for (int i = 0; i < 3; i++) {
            unsigned char *ballast = ballast_new(mbs[i]);
            if (rep == 0)
                report_note(6, "%s: host RSS %.0f MB while measured", names[i],
                            (double)rss_bytes() / (1 << 20));
            progress("[6] rep %d/%d, %s", rep + 1, reps, names[i]);
            const char *u = "jobs/s";
            jx_rate_row(report_series(6, "jobexec_fork", names[i], u, BENCH_HIGHER),
                        rep, 1, 2, false, n_fork[i], empty_job, NULL, 0);
            jx_rate_row(report_series(6, "jobexec_reuse", names[i], u, BENCH_HIGHER),
                        rep, 1, 2, true, n_reuse, empty_job, NULL, 0);
            limit_rate_row(report_series(6, "limit", names[i], u, BENCH_HIGHER),
                           rep, 1, 2, n_fork[i], 0);
            /* Keep the compiler from dropping the ballast. */
            if (ballast && ballast[0] == 0)
                fprintf(stderr, "?\n");
            free(ballast);
            heap_trim();
        }
    }
    report_note(6, "jobs per run: fork-per-job and limit %d / %d / %d, reuse %d; "
                   "a reused worker is forked once per run, after one warm-up "
                   "job per worker", n_fork[0], n_fork[1], n_fork[2], n_reuse);
}

/* Command throughput through the library itself. */
static double lib_cmd_rate(int n, const char *const *argv)
{
    job_executor *ex = new_executor(JOB_MODE_STANDALONE, 2, false);
    job_command cmd = {.argv = argv, .envp = NULL, .cwd = NULL};
    for (int i = 0; i < 2; i++)
        check(job_submit_command(ex, &cmd, NULL, NULL), "job_submit_command");
    check(job_executor_wait_all(ex, -1), "job_executor_wait_all");
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        check(job_submit_command(ex, &cmd, NULL, NULL), "job_submit_command");
    check(job_executor_wait_all(ex, -1), "job_executor_wait_all");
    int64_t t1 = bench_now_ns();
    check_all_done(ex, (uint64_t)n + 2);
    job_executor_free(ex);
    return n / secs(t1 - t0);
}

/* Runs a command-line tool over the command file; returns commands/s or
 * NaN (and sets why) when it did not run cleanly. */
static double tool_rate(char *const argv[], const char *input, int n,
                        char *why, size_t whysz)
{
    int64_t el;
    int st = spawn_run(argv, input, NULL, 0, true, &el);
    if (st < 0) {
        snprintf(why, whysz, "cannot run %s: %s", argv[0], strerror(errno));
        return NAN;
    }
    if (st != 0) {
        snprintf(why, whysz, "%s exited with status %d", argv[0], st);
        return NAN;
    }
    return n / secs(el);
}

static void tool_row(int fig, int rep, const char *peer, char *const argv[],
                     const char *input, int n)
{
    series *s = report_series(fig, peer, "true_x_n", "cmds/s", BENCH_HIGHER);
    if (s->na[0])
        return;
    char why[160];
    double r = tool_rate(argv, input, n, why, sizeof(why));
    if (isnan(r))
        report_na(s, "%s", why);
    else
        report_add(s, rep, r);
}

static void fig7(int reps)
{
    const int n = opt.quick ? 200 : 2000;
    char input[] = "/tmp/jobexec-bench-cmds-XXXXXX";
    int fd = mkstemp(input);
    if (fd < 0)
        die("mkstemp: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f)
        die("fdopen: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        fputs("true\n", f);
    if (fclose(f) != 0)
        die("writing %s: %s", input, strerror(errno));

    /* GNU parallel runs each line with the shell it was started from, or
     * $SHELL: make it /bin/sh, as for the other tools. */
    setenv("PARALLEL_SHELL", "/bin/sh", 1);

    /* Does the jobexec command have `run`? */
    char *help[] = {(char *)opt.jobexec, "run", "--help", NULL};
    int st = spawn_run(help, NULL, NULL, 0, true, NULL);
    series *jr = report_series(7, "jobexec_run", "true_x_n", "cmds/s", BENCH_HIGHER);
    if (st != 0)
        report_na(jr, "`%s run` is not available (%s)", opt.jobexec,
                  st < 0 ? strerror(errno) : "the command has no run subcommand");

    char *run_argv[] = {(char *)opt.jobexec, "run", "-j", "2", NULL};
    char *xargs_argv[] = {"xargs", "-d", "\\n", "-P", "2", "-n", "1",
                          "/bin/sh", "-c", NULL};
    char *par_argv[] = {"parallel", "--will-cite", "-j", "2", NULL};
    const char *sh_argv[] = {"/bin/sh", "-c", "true", NULL};
    const char *true_argv[] = {"true", NULL};
    for (int rep = 0; rep < reps; rep++) {
        progress("[7] rep %d/%d: %d commands per peer", rep + 1, reps, n);
        tool_row(7, rep, "jobexec_run", run_argv, input, n);
        tool_row(7, rep, "xargs", xargs_argv, input, n);
        tool_row(7, rep, "parallel", par_argv, input, n);
        report_add(report_series(7, "lib_cmd_sh", "true_x_n", "cmds/s", BENCH_HIGHER),
                   rep, lib_cmd_rate(n, sh_argv));
        report_add(report_series(7, "lib_cmd_exec", "true_x_n", "cmds/s", BENCH_HIGHER),
                   rep, lib_cmd_rate(n, true_argv));
    }
    unlink(input);
    report_note(7, "%d lines 'true' on stdin; jobexec run -j 2; xargs -d '\\n' "
                   "-P 2 -n 1 /bin/sh -c; parallel --will-cite -j 2 with "
                   "PARALLEL_SHELL=/bin/sh; wall time includes each tool's start",
                n);
    report_note(7, "lib_cmd_sh: job_submit_command of /bin/sh -c true, 2 workers, "
                   "in this process; lib_cmd_exec: of `true` itself (no shell)");
}

/* ---- targets ---------------------------------------------------------------- */

static bool fig_ran(int fig)
{
    return !opt.only || (opt.only & (1u << fig));
}

/* Prints one target: `value` must be >= bound (dir > 0) or <= bound. */
static void target(const char *what, double value, int dir, double bound,
                   const char *how)
{
    const char *verdict;
    if (isnan(value))
        verdict = "n/a";
    else if (dir > 0 ? value >= bound : value <= bound)
        verdict = "MET";
    else
        verdict = "NOT MET";
    char v[32];
    if (isnan(value))
        snprintf(v, sizeof(v), "-");
    else if (fabs(value) >= 100)
        snprintf(v, sizeof(v), "%.0f", value);
    else
        snprintf(v, sizeof(v), "%.3g", value);
    char b[32];
    snprintf(b, sizeof(b), bound >= 100 ? "%.0f" : "%.3g", bound);
    printf("  %-8s %-52s %10s  (target %s %s)%s%s\n", verdict, what, v,
           dir > 0 ? ">=" : "<=", b, *how ? "  " : "", how);
}

/* Prints a figure worth reading next to the targets. */
static void info(const char *what, double value)
{
    char v[32];
    if (isnan(value))
        snprintf(v, sizeof(v), "-");
    else if (fabs(value) >= 100)
        snprintf(v, sizeof(v), "%.0f", value);
    else
        snprintf(v, sizeof(v), "%.3g", value);
    printf("  %-8s %-52s %10s\n", "info", what, v);
}

static series *S(int fig, const char *peer, const char *param)
{
    return report_find(fig, peer, param);
}

static double ratio(int fig, const char *a, const char *pa, const char *b,
                    const char *pb)
{
    return report_ratio(S(fig, a, pa), S(fig, b, pb));
}

static void print_targets(void)
{
    printf("\n== Targets ==\n");
    if (fig_ran(1)) {
        target("1. dev mode, out=NULL: ns per empty job",
               report_median(S(1, "submit_null", "empty_job")), -1, 1000, "");
        target("1. dev mode, handle + release: ns per empty job",
               report_median(S(1, "submit_handle", "empty_job")), -1, 1000, "");
    }
    if (fig_ran(2)) {
        target("2. fork-per-job, 2 workers / limit",
               ratio(2, "jobexec_fork", "workers=2", "limit", "workers=2"), 1, 0.8,
               "jobs/s ratio");
        target("2. fork-per-job, 2 workers / PPE max_tasks_per_child=1",
               ratio(2, "jobexec_fork", "workers=2", "ppe_mtpc1", "workers=2"), 1,
               20, "jobs/s ratio");
        info("2. fork-per-job, 1 worker / limit",
             ratio(2, "jobexec_fork", "workers=1", "limit", "workers=1"));
        info("2. fork-per-job, 2 workers / PPE mtpc1, spawn",
             ratio(2, "jobexec_fork", "workers=2", "ppe_mtpc1_spawn", "workers=2"));
        target("2. reuse, 2 workers / PPE reused workers",
               ratio(2, "jobexec_reuse", "workers=2", "ppe_reuse", "workers=2"), 1,
               3, "jobs/s ratio");
    }
    if (fig_ran(3)) {
        target("3. 1 ms jobs, 2 workers, fork-per-job: efficiency",
               report_median(S(3, "jobexec_fork", "1ms_cpu,workers=2")), 1, 0.9, "");
        target("3. 1 ms jobs, 2 workers, reuse: efficiency",
               report_median(S(3, "jobexec_reuse", "1ms_cpu,workers=2")), 1, 0.9, "");
        info("3. the limit's efficiency (this machine's ceiling now)",
             report_median(S(3, "limit", "1ms_cpu,workers=2")));
        info("3. fork-per-job / limit", ratio(3, "jobexec_fork", "1ms_cpu,workers=2",
                                              "limit", "1ms_cpu,workers=2"));
        info("3. reuse / limit", ratio(3, "jobexec_reuse", "1ms_cpu,workers=2",
                                       "limit", "1ms_cpu,workers=2"));
    }
    if (fig_ran(4)) {
        target("4. latency p50, fork-per-job / limit",
               ratio(4, "jobexec_fork", "p50", "limit", "p50"), -1, 1.5, "");
        target("4. latency p50, reuse / limit",
               ratio(4, "jobexec_reuse", "p50", "limit", "p50"), -1, 1.5, "");
    }
    if (fig_ran(5)) {
        const char *lo = opt.quick ? "1000" : "10000";
        const char *hi = opt.quick ? "100000" : "1000000";
        char what[96];
        snprintf(what, sizeof(what), "5. submit cost at %s queued / at %s", hi, lo);
        target(what, ratio(5, "submit", hi, "submit", lo), -1, 1.2, "");
        snprintf(what, sizeof(what), "5. dispatch cost at %s queued / at %s", hi, lo);
        target(what, ratio(5, "dispatch", hi, "dispatch", lo), -1, 1.2, "");
        snprintf(what, sizeof(what), "5. dispatch / limit at %s queued", hi);
        info(what, ratio(5, "dispatch", hi, "limit", hi));
        snprintf(what, sizeof(what), "5. limit at %s queued / at %s", hi, lo);
        info(what, ratio(5, "limit", hi, "limit", lo));
        snprintf(what, sizeof(what), "5. RSS bytes per queued job at %s", hi);
        target(what, report_median(S(5, "rss", hi)), -1, 512, "empty input");
    }
    if (fig_ran(6)) {
        target("6. reuse: jobs/s at 1 GB host / at 0 MB",
               ratio(6, "jobexec_reuse", "1GB", "jobexec_reuse", "0MB"), 1, 1 / 1.2,
               "(within 1.2x)");
        info("6. fork-per-job: jobs/s at 1 GB / at 0 MB",
             ratio(6, "jobexec_fork", "1GB", "jobexec_fork", "0MB"));
        info("6. fork-per-job / limit at 1 GB",
             ratio(6, "jobexec_fork", "1GB", "limit", "1GB"));
    }
    if (fig_ran(7)) {
        target("7. jobexec run -j2 / xargs -P2",
               ratio(7, "jobexec_run", "true_x_n", "xargs", "true_x_n"), 1, 1,
               "cmds/s ratio");
        target("7. jobexec run -j2 / parallel -j2",
               ratio(7, "jobexec_run", "true_x_n", "parallel", "true_x_n"), 1, 5,
               "cmds/s ratio");
        info("7. library, /bin/sh -c true / xargs -P2",
             ratio(7, "lib_cmd_sh", "true_x_n", "xargs", "true_x_n"));
        info("7. library, /bin/sh -c true / parallel -j2",
             ratio(7, "lib_cmd_sh", "true_x_n", "parallel", "true_x_n"));
    }
}

/* ---- the machine ------------------------------------------------------------ */

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "?");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, size, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static void print_header(int reps)
{
    char date[64], cpu[128], pyver[128] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
    cpu_model(cpu, sizeof(cpu));
    struct utsname u;
    uname(&u);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    char *pv[] = {(char *)opt.python, "-c",
                  "import platform; print(platform.python_version())", NULL};
    if (spawn_run(pv, NULL, pyver, sizeof(pyver), true, NULL) != 0)
        snprintf(pyver, sizeof(pyver), "not found");
    pyver[strcspn(pyver, "\n")] = '\0';

    printf("jobexec benchmark suite%s\n", opt.quick ? " (--quick: small counts)" : "");
    printf("  date      %s\n", date);
    printf("  machine   %s, %ld CPUs online, %.1f GB RAM, %s %s %s\n", cpu,
           sysconf(_SC_NPROCESSORS_ONLN),
           (double)pages * (double)psize / (1 << 30), u.sysname, u.release,
           u.machine);
    printf("  library   jobexec %s, built with %s\n", job_version(),
#ifdef __VERSION__
           __VERSION__
#else
           "?"
#endif
    );
    printf("  reuse     %s\n", reuse_available()
                                   ? "max_jobs_per_worker is available"
                                   : "not available: " REUSE_NA);
    printf("  python    %s (%s)\n", pyver, opt.python);
    double load[3];
    if (getloadavg(load, 3) == 3) {
        printf("  load      %.2f %.2f %.2f before the run%s\n", load[0], load[1],
               load[2],
               load[0] > 0.5 ? ": other processes are using the CPU; expect "
                               "noise, trust the ratios"
                             : "");
    }
    printf("  method    %d repetitions per figure, peers interleaved; medians; "
           "ratios are row / column,\n"
           "            the median of per-repetition ratios\n", reps);
    fflush(stdout);
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_jobexec [options]\n"
            "  --quick        small counts: the whole suite in well under a minute\n"
            "  --reps N       repetitions per figure (default 5; 3 with --quick)\n"
            "  --only LIST    figures to run, such as 2 or 1,4,7 (default: all)\n"
            "  --csv FILE     append raw values to FILE (default %s)\n"
            "  --plots DIR    write figN.dat (medians) into DIR for gnuplot\n"
            "  --python EXE   the Python interpreter (default python3)\n"
            "  --jobexec EXE  the jobexec command (default %s)\n"
            "  --peers DIR    where peer_ppe.py is (default %s)\n"
            "figures:\n",
            opt.csv, BENCH_JOBEXEC_CLI, BENCH_PEER_DIR);
    for (int i = 1; i <= NFIGS; i++)
        fprintf(f, "  %d  %s\n", i, fig_titles[i]);
}

static unsigned parse_only(const char *s)
{
    unsigned mask = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > NFIGS)
            return 0;
        mask |= 1u << v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return 0;
    }
    return mask;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quick")) {
            opt.quick = true;
        } else if (!strcmp(a, "--reps") && v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > BENCH_MAX_REPS) {
                fprintf(stderr, "bench_jobexec: --reps takes 1 to %d\n", BENCH_MAX_REPS);
                return 2;
            }
            opt.reps = (int)n;
            i++;
        } else if (!strcmp(a, "--only") && v) {
            opt.only = parse_only(v);
            if (!opt.only) {
                fprintf(stderr, "bench_jobexec: --only takes figure numbers 1 to %d, "
                                "comma separated\n", NFIGS);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--csv") && v) {
            opt.csv = v;
            i++;
        } else if (!strcmp(a, "--plots") && v) {
            opt.plots = v;
            i++;
        } else if (!strcmp(a, "--python") && v) {
            opt.python = v;
            i++;
        } else if (!strcmp(a, "--jobexec") && v) {
            opt.jobexec = v;
            i++;
        } else if (!strcmp(a, "--peers") && v) {
            opt.peer_dir = v;
            i++;
        } else {
            fprintf(stderr, "bench_jobexec: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    int reps = opt.reps ? opt.reps : opt.quick ? 3 : 5;
    if (opt.plots && mkdir(opt.plots, 0777) != 0 && errno != EEXIST)
        die("cannot create %s: %s", opt.plots, strerror(errno));
    if (report_open_csv(opt.csv) != 0)
        return 1;
    /* The library reads no environment unless asked, but its children and
     * the tools inherit ours: keep a host's config out of the way. */
    unsetenv("JOBEXEC_CONFIG_PATH");

    print_header(reps);
    void (*const figs[NFIGS + 1])(int) = {NULL, fig1, fig2, fig3, fig4,
                                          fig5, fig6, fig7};
    for (int f = 1; f <= NFIGS; f++) {
        if (!fig_ran(f))
            continue;
        fprintf(stderr, "figure %d: %s\n", f, fig_titles[f]);
        int64_t t0 = bench_now_ns();
        figs[f](reps);
        report_note(f, "figure took %.1f s", secs(bench_now_ns() - t0));
        report_print_figure(stdout, f, fig_titles[f], f == 5 || f == 6);
        if (opt.plots)
            report_write_dat(opt.plots, f);
    }
    print_targets();
    report_close_csv();
    report_free();
    return 0;
}
