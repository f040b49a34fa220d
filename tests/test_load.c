/*
 * test_load.c - load: jobs submitted from 16 threads while other threads
 * cancel and wait at random; every job reaches exactly one final status,
 * every callback fires exactly once per status, and the executor's counts
 * add up.  And the memory a queued job costs, with a million of them.
 *
 * The default run is sized to finish in seconds (20,000 jobs, 5,000 with a
 * process per job; 200,000 queued); JOBEXEC_LOAD_FULL=1 runs the full
 * sizes (100,000 jobs in each mode; 1,000,000 queued).
 */
#include "fault_util.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define SUBMITTERS 16
#define CANCELERS 4
#define WAITERS 4

static bool full_run(void)
{
    const char *e = getenv("JOBEXEC_LOAD_FULL");
    return e && *e == '1';
}

/* Under valgrind, which runs every job process too, a tenth: it looks
 * for memory errors, not for scale. */
static size_t sized(size_t n)
{
    return fx_on_valgrind() ? n / 10 : n;
}

static int fn_empty(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    return 0;
}

/* ---- the storm ------------------------------------------------------------ */

struct storm {
    job_executor *ex;
    size_t n;                  /* jobs in all */
    job **jobs;                /* by index, published with `published` */
    _Atomic unsigned char *published;
    _Atomic unsigned *seen;    /* bit per status, per job */
    _Atomic int *last;         /* the last status seen, per job */
    _Atomic size_t next;       /* the next index to submit */
    _Atomic size_t submitted;
    _Atomic long finals;       /* final-status callbacks (per job) */
    _Atomic long ex_finals;    /* final-status callbacks (executor-wide) */
    _Atomic long ex_calls;     /* every executor-wide callback */
    _Atomic long job_calls;    /* every per-job callback */
    _Atomic long dup;          /* a status announced twice for one job */
    _Atomic long order;        /* a status announced out of order */
    _Atomic long second_final; /* a second final status for one job */
    _Atomic long cancel_ok, cancel_finished, cancel_other;
    _Atomic long wait_ok, wait_timeout, wait_other;
    _Atomic long submit_failed;
    _Atomic int done_submitting; /* set once every job has finished */
};

/* The storm running now: per-job callbacks get the job's index as their
 * userdata. */
static struct storm *cur;

static void on_job_status(job *j, job_status s, void *ud)
{
    struct storm *st = cur;
    size_t i = (size_t)(uintptr_t)ud;
    if (i != (size_t)(uintptr_t)job_userdata(j))
        atomic_fetch_add(&st->order, 1);
    atomic_fetch_add(&st->job_calls, 1);
    unsigned bit = 1u << s;
    unsigned old = atomic_fetch_or(&st->seen[i], bit);
    if (old & bit)
        atomic_fetch_add(&st->dup, 1);
    int prev = atomic_exchange(&st->last[i], (int)s);
    /* SUBMITTED, PENDING, RUNNING, then one final status: in order. */
    if (prev >= 0 && (job_status_is_finished((job_status)prev) || (int)s <= prev))
        atomic_fetch_add(&st->order, 1);
    if (job_status_is_finished(s)) {
        unsigned finals = (old | bit) & ((1u << JOB_CANCELED) | (1u << JOB_FAILED) |
                                         (1u << JOB_COMPLETED) | (1u << JOB_SKIPPED) |
                                         (1u << JOB_ABANDONED));
        if (finals & (finals - 1))
            atomic_fetch_add(&st->second_final, 1);
        atomic_fetch_add(&st->finals, 1);
    }
}

static void on_ex_status(job *j, job_status s, void *ud)
{
    struct storm *st = ud;
    (void)j;
    atomic_fetch_add(&st->ex_calls, 1);
    if (job_status_is_finished(s))
        atomic_fetch_add(&st->ex_finals, 1);
}

static void *submitter(void *arg)
{
    struct storm *st = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&st->next, 1);
        if (i >= st->n)
            break;
        atomic_store(&st->last[i], -1);
        job_options o = {.on_status = on_job_status, .userdata = (void *)(uintptr_t)i};
        job *j = NULL;
        int rc = job_submit(st->ex, fn_empty, NULL, 0, &o, &j);
        if (rc != JOB_OK) {
            atomic_fetch_add(&st->submit_failed, 1);
            continue;
        }
        st->jobs[i] = j;
        atomic_store_explicit(&st->published[i], 1, memory_order_release);
        atomic_fetch_add(&st->submitted, 1);
    }
    return NULL;
}

/* A small random generator per thread. */
static uint32_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static job *pick(struct storm *st, uint64_t *seed)
{
    size_t hi = atomic_load(&st->next);
    if (hi > st->n)
        hi = st->n;
    if (hi == 0)
        return NULL;
    size_t i = rnd(seed) % hi;
    if (!atomic_load_explicit(&st->published[i], memory_order_acquire))
        return NULL;
    return st->jobs[i];
}

/* Cancels a random job each time 25 more jobs have finished, for as long
 * as jobs run: about one job in six gets a cancel, at every stage. */
static void *canceler(void *arg)
{
    struct storm *st = arg;
    uint64_t seed = (uint64_t)(uintptr_t)&seed;
    long last = -1000;
    while (!atomic_load(&st->done_submitting)) {
        long f = atomic_load(&st->ex_finals);
        if (f - last < 25) {
            /* Not a sleep: returns as soon as any job finishes. */
            job_executor_wait_all(st->ex, 2);
            continue;
        }
        job *j = pick(st, &seed);
        if (!j) {
            job_executor_wait_all(st->ex, 2);
            continue;
        }
        last = f;
        int rc = job_cancel(j);
        if (rc == JOB_OK)
            atomic_fetch_add(&st->cancel_ok, 1);
        else if (rc == JOB_EFINISHED)
            atomic_fetch_add(&st->cancel_finished, 1);
        else
            atomic_fetch_add(&st->cancel_other, 1);
    }
    return NULL;
}

static void *waiter(void *arg)
{
    struct storm *st = arg;
    uint64_t seed = (uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15ull;
    while (!atomic_load(&st->done_submitting)) {
        job *j = pick(st, &seed);
        if (!j || job_status_is_finished(job_get_status(j))) {
            /* Until another job finishes, or 1 ms. */
            job_executor_wait_all(st->ex, 1);
            continue;
        }
        /* 0 to 3 ms, and now and then until it is done. */
        int64_t t = rnd(&seed) % 16 == 0 ? -1 : (int64_t)(rnd(&seed) % 4);
        int rc = job_wait(j, t);
        if (rc == JOB_OK) {
            atomic_fetch_add(&st->wait_ok, 1);
            if (!job_status_is_finished(job_get_status(j)))
                atomic_fetch_add(&st->wait_other, 1);
        } else if (rc == JOB_ETIMEDOUT) {
            atomic_fetch_add(&st->wait_timeout, 1);
        } else {
            atomic_fetch_add(&st->wait_other, 1);
        }
    }
    return NULL;
}

static void storm(job_mode mode, size_t n, const char *per_worker)
{
    struct storm *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    st->n = n;
    st->jobs = calloc(n, sizeof(*st->jobs));
    st->published = calloc(n, sizeof(*st->published));
    st->seen = calloc(n, sizeof(*st->seen));
    st->last = calloc(n, sizeof(*st->last));
    assert_true(st->jobs && st->published && st->seen && st->last);
    cur = st;
    int fds = fx_count_fds();
    st->ex = per_worker ? fx_make(mode, 2, "max_jobs_per_worker", per_worker, NULL)
                        : fx_make(mode, 2, NULL);
    assert_non_null(st->ex);
    assert_int_equal(job_executor_on_status(st->ex, on_ex_status, st), JOB_OK);

    int64_t t0 = fx_now_ms();
    pthread_t sub[SUBMITTERS], can[CANCELERS], wai[WAITERS];
    for (int i = 0; i < CANCELERS; i++)
        assert_int_equal(pthread_create(&can[i], NULL, canceler, st), 0);
    for (int i = 0; i < WAITERS; i++)
        assert_int_equal(pthread_create(&wai[i], NULL, waiter, st), 0);
    for (int i = 0; i < SUBMITTERS; i++)
        assert_int_equal(pthread_create(&sub[i], NULL, submitter, st), 0);
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(sub[i], NULL);
    /* Cancels and waits go on while the jobs run. */
    int wrc = job_executor_wait_all(st->ex, -1);
    atomic_store(&st->done_submitting, 1);
    for (int i = 0; i < CANCELERS; i++)
        pthread_join(can[i], NULL);
    for (int i = 0; i < WAITERS; i++)
        pthread_join(wai[i], NULL);
    assert_int_equal(wrc, JOB_OK);
    int64_t took = fx_now_ms() - t0;

    long completed = 0, canceled = 0, failed = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = st->jobs[i];
        assert_non_null(j);
        job_status s = job_get_status(j);
        switch (s) {
        case JOB_COMPLETED: completed++; break;
        case JOB_CANCELED: canceled++; break;
        case JOB_FAILED: failed++; break;
        default: other++; break;
        }
        unsigned seen = atomic_load(&st->seen[i]);
        /* SUBMITTED and PENDING always, RUNNING only when it ran, and the
         * final status it has. */
        assert_true(seen & (1u << JOB_SUBMITTED));
        assert_true(seen & (1u << JOB_PENDING));
        assert_true(seen & (1u << s));
        assert_int_equal(atomic_load(&st->last[i]), (int)s);
        if (s == JOB_COMPLETED)
            assert_true(seen & (1u << JOB_RUNNING));
        if (s == JOB_CANCELED && !(seen & (1u << JOB_RUNNING)))
            assert_int_equal(job_status_time_ns(j, JOB_RUNNING), 0);
        assert_int_equal(job_wait(j, 0), JOB_OK);
        job_release(j);
    }
    fprintf(stderr,
            "%s%s: %zu jobs in %lld ms from %d threads: %ld completed, %ld "
            "canceled, %ld failed; cancels %ld (%ld on finished jobs), waits "
            "%ld done + %ld timed out\n",
            job_mode_name(mode), per_worker ? " (reused workers)" : "", n,
            (long long)took, SUBMITTERS, completed, canceled, failed,
            atomic_load(&st->cancel_ok), atomic_load(&st->cancel_finished),
            atomic_load(&st->wait_ok), atomic_load(&st->wait_timeout));
    assert_int_equal(atomic_load(&st->submit_failed), 0);
    assert_int_equal(atomic_load(&st->submitted), n);
    assert_int_equal(other, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(completed + canceled, (long)n);
    assert_int_equal(atomic_load(&st->dup), 0);
    assert_int_equal(atomic_load(&st->order), 0);
    assert_int_equal(atomic_load(&st->second_final), 0);
    assert_int_equal(atomic_load(&st->finals), (long)n);
    assert_int_equal(atomic_load(&st->ex_finals), (long)n);
    assert_int_equal(atomic_load(&st->ex_calls), atomic_load(&st->job_calls));
    assert_int_equal(atomic_load(&st->cancel_other), 0);
    assert_int_equal(atomic_load(&st->wait_other), 0);

    job_executor_stats stats;
    assert_int_equal(job_executor_stats_get(st->ex, &stats), JOB_OK);
    assert_int_equal(stats.submitted, n);
    assert_int_equal(stats.finished, n);
    assert_int_equal(stats.pending, 0);
    assert_int_equal(stats.running, 0);
    assert_int_equal(stats.failed, (uint64_t)failed);

    job_executor_free(st->ex);
    assert_int_equal(fx_count_fds(), fds);
    assert_true(fx_no_children());
    free(st->jobs);
    free((void *)st->published);
    free((void *)st->seen);
    free((void *)st->last);
    free(st);
}

static void test_storm_standalone(void **state)
{
    (void)state;
    /* A process per job: about 1 ms each, on two workers. */
    storm(JOB_MODE_STANDALONE, sized(full_run() ? 100000 : 5000), NULL);
}

static void test_storm_standalone_reused(void **state)
{
    (void)state;
#if JX_ASAN
    /* A reused worker allocates after fork().  AddressSanitizer's
     * allocator (GCC 12, clang 14) is not fork-safe: a worker forked while
     * one of the 16 submitting threads holds its lock deadlocks (glibc's
     * malloc resets its locks in the child; reported).  Not run here. */
    fprintf(stderr, "reused workers: not run under AddressSanitizer\n");
#else
    storm(JOB_MODE_STANDALONE, sized(full_run() ? 100000 : 20000), "0");
#endif
}

static void test_storm_development(void **state)
{
    (void)state;
    storm(JOB_MODE_DEVELOPMENT, sized(full_run() ? 100000 : 20000), NULL);
}

/* ---- a million queued jobs ------------------------------------------------ */

struct qshared {
    _Atomic int started;
    _Atomic int release;
};
static struct qshared *qsh;

static int fn_hold(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    atomic_store(&qsh->started, 1);
    while (!atomic_load(&qsh->release))
        sched_yield();
    return 0;
}

/* The bound the performance work sets: 512 bytes a queued job, plus its
 * input. */
#define QUEUED_BYTES_PER_JOB 512

static void test_million_queued(void **state)
{
    (void)state;
    size_t n = sized(full_run() ? 1000000 : 200000);
    const size_t input = 16;
    qsh = fx_shared(sizeof(*qsh));
    assert_non_null(qsh);
    job_executor *ex = fx_make(JOB_MODE_STANDALONE, 1, NULL);
    assert_non_null(ex);
    job *holder = NULL;
    assert_int_equal(job_submit(ex, fn_hold, NULL, 0, NULL, &holder), JOB_OK);
    fx_await(&qsh->started, 1);
    /* Warm the allocator up with a few jobs, then measure. */
    char in[16] = "0123456789abcde";
    for (int i = 0; i < 1000; i++)
        assert_int_equal(job_submit(ex, fn_empty, in, input, NULL, NULL), JOB_OK);
    long rss0 = fx_status_kb("VmRSS");
    int64_t t0 = fx_now_ms();
    for (size_t i = 0; i < n; i++) {
        int rc = job_submit(ex, fn_empty, in, input, NULL, NULL);
        if (rc != JOB_OK)
            assert_int_equal(rc, JOB_OK);
    }
    int64_t took = fx_now_ms() - t0;
    long rss1 = fx_status_kb("VmRSS");
    job_executor_stats st;
    assert_int_equal(job_executor_stats_get(ex, &st), JOB_OK);
    assert_int_equal(st.pending, n + 1000);
    double per_job = (double)(rss1 - rss0) * 1024.0 / (double)n;
    fprintf(stderr, "%zu queued jobs: RSS %ld -> %ld kB, %.1f bytes a job "
            "(bound %zu), submitted in %lld ms\n", n, rss0, rss1, per_job,
            (size_t)QUEUED_BYTES_PER_JOB + input, (long long)took);
    if (fx_managed_runtime()) {
        /* The sanitizers' and valgrind's own bookkeeping (redzones,
         * shadow, quarantine) outweighs the library's: the bound is
         * checked in a plain build. */
        fprintf(stderr, "(sanitizer or valgrind: the bound is not checked)\n");
    } else {
        assert_true(per_job <= (double)(QUEUED_BYTES_PER_JOB + input));
    }
    /* They all run (empty) and the executor goes away cleanly. */
    atomic_store(&qsh->release, 1);
    assert_int_equal(job_wait(holder, -1), JOB_OK);
    job_release(holder);
    assert_int_equal(job_executor_stop(ex, JOB_STOP_CANCEL, -1), JOB_OK);
    assert_int_equal(job_executor_stats_get(ex, &st), JOB_OK);
    assert_int_equal(st.finished, n + 1001);
    assert_int_equal(st.pending, 0);
    job_executor_free(ex);
    munmap(qsh, sizeof(*qsh));
    assert_true(fx_no_children());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storm_standalone),
        cmocka_unit_test(test_storm_standalone_reused),
        cmocka_unit_test(test_storm_development),
        cmocka_unit_test(test_million_queued),
    };
    if (getenv("JX_TEST_FILTER"))
        cmocka_set_test_filter(getenv("JX_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
