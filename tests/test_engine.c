/* test_engine.c - the job API in both modes: results, failures, crashes,
 * timeouts, cancel, capture, progress, callbacks, the worker limit,
 * concurrency, stop, and cleanup. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobconfig.h"

/* The ways a job can run: inline, in a process of its own, or in a
 * reused worker (standalone with max_jobs_per_worker = 0). */
enum run_kind { DEV_K, STA_K, REU_K };
static const enum run_kind DEV_S = DEV_K, STA_S = STA_K, REU_S = REU_K;
static const job_mode DEV = JOB_MODE_DEVELOPMENT;
static const job_mode STA = JOB_MODE_STANDALONE;

/* Shared with job processes: they run in forked children. */
struct shared {
    _Atomic int cur, max, started, gate, count;
};
static struct shared *sh;

static enum run_kind kind_now; /* set by make_ex_for / tests */

static job_executor *make_ex_cfg(job_mode mode, int workers, const char *k1,
                                 const char *v1)
{
    job_config *cfg = NULL;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    assert_int_equal(job_configure_job_executions(
                         cfg, mode == STA ? "standalone" : "development", workers),
                     JOB_OK);
    if (k1)
        assert_int_equal(job_config_set(cfg, k1, v1), JOB_OK);
    if (mode == STA && kind_now == REU_K)
        assert_int_equal(job_config_set(cfg, "max_jobs_per_worker", "0"), JOB_OK);
    job_executor *ex = NULL;
    assert_int_equal(job_executor_new(cfg, &ex), JOB_OK);
    job_config_free(cfg);
    assert_non_null(ex);
    return ex;
}

static job_executor *make_ex(job_mode mode, int workers)
{
    return make_ex_cfg(mode, workers, NULL, NULL);
}

static job_mode mode_of(void **state)
{
    kind_now = *(const enum run_kind *)*state;
    return kind_now == DEV_K ? DEV : STA;
}

static int setup_shared(void **state)
{
    kind_now = *state ? *(const enum run_kind *)*state : STA_K;
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return -1;
    memset(sh, 0, sizeof(*sh));
    return 0;
}

static int teardown_shared(void **state)
{
    (void)state;
    munmap(sh, sizeof(*sh));
    sh = NULL;
    return 0;
}

/* ---- job functions ------------------------------------------------------ */

static int fn_echo(job_ctx *ctx, const void *in, size_t len)
{
    return job_set_result(ctx, in, len) == JOB_OK ? 0 : 1;
}

static int fn_big(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    size_t n = 64u << 20;
    unsigned char *b = malloc(n);
    if (!b)
        return 2;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 31u + 7u);
    int rc = job_set_result(ctx, b, n);
    free(b);
    return rc == JOB_OK ? 0 : 1;
}

static int fn_fail_msg(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    job_fail(ctx, "bad input: %d", 42);
    return 0;
}

static int fn_rc7(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    return 7;
}

static int fn_segv(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    raise(SIGSEGV);
    return 0;
}

static int fn_abort(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    abort();
}

static int fn_exit3(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    _exit(3);
}

/* Waits for the shared gate to open; marks itself running first. */
static int fn_gate(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    int now = atomic_fetch_add(&sh->cur, 1) + 1;
    int m = atomic_load(&sh->max);
    while (now > m && !atomic_compare_exchange_weak(&sh->max, &m, now))
        ;
    atomic_fetch_add(&sh->started, 1);
    while (!atomic_load(&sh->gate))
        sched_yield();
    atomic_fetch_sub(&sh->cur, 1);
    atomic_fetch_add(&sh->count, 1);
    return 0;
}

/* Runs until killed, telling the test it is running. */
static int fn_forever(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    atomic_fetch_add(&sh->started, 1);
    while (atomic_load(&sh->gate) >= 0) /* always: only a signal ends it */
        pause();
    return 0;
}

static int fn_ignore_term(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    signal(SIGTERM, SIG_IGN);
    atomic_fetch_add(&sh->started, 1);
    while (atomic_load(&sh->gate) >= 0) /* always: only a signal ends it */
        pause();
    return 0;
}

static int fn_print(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    printf("hello out\n");
    fprintf(stderr, "hello err\n");
    return 0;
}

static int fn_flood(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    char line[1000];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    for (int i = 0; i < 1000; i++) /* about 1 MB */
        fwrite(line, 1, sizeof(line), stdout);
    return 0;
}

static int fn_progress(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    for (uint64_t i = 1; i <= 5; i++)
        job_report_progress(ctx, i, 5);
    return 0;
}

static int fn_submit_inside(job_ctx *ctx, const void *in, size_t len)
{
    job_executor *ex = *(job_executor *const *)in;
    (void)len;
    int rc = job_submit(ex, fn_echo, NULL, 0, NULL, NULL);
    job_set_result(ctx, &rc, sizeof(rc));
    return 0;
}

/* Waits until the shared `started` counter reaches n (the jobs themselves
 * signal it; no sleeping). */
static void await_started(int n)
{
    while (atomic_load(&sh->started) < n)
        sched_yield();
}

/* ---- tests ------------------------------------------------------------- */

static void test_result_bytes(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 2);
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_echo, "abc", 3, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 0;
    const char *r = job_result(j, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(r, "abc", 3);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_NONE);
    assert_null(job_error_message(j));
    for (int s = JOB_SUBMITTED; s <= JOB_RUNNING; s++)
        if (s != JOB_BLOCKED)
            assert_true(job_status_time_ns(j, (job_status)s) > 0);
    assert_true(job_status_time_ns(j, JOB_COMPLETED) >=
                job_status_time_ns(j, JOB_RUNNING));
    assert_int_equal(job_status_time_ns(j, JOB_FAILED), 0);
    job_release(j);
    job_executor_free(ex);
}

static void test_result_64mib(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 1);
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_big, NULL, 0, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 0;
    const unsigned char *r = job_result(j, &n);
    assert_int_equal(n, 64u << 20);
    for (size_t i = 0; i < n; i += 4093)
        assert_int_equal(r[i], (unsigned char)(i * 31u + 7u));
    assert_int_equal(r[n - 1], (unsigned char)((n - 1) * 31u + 7u));
    job_release(j);
    job_executor_free(ex);
}

static void test_fail_message(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 1);
    job *a = NULL, *b = NULL;
    assert_int_equal(job_submit(ex, fn_fail_msg, NULL, 0, NULL, &a), JOB_OK);
    assert_int_equal(job_submit(ex, fn_rc7, NULL, 0, NULL, &b), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    assert_int_equal(job_get_status(a), JOB_FAILED);
    assert_int_equal(job_failure_kind(a), JOB_FAILURE_ERROR);
    assert_string_equal(job_error_message(a), "bad input: 42");
    assert_int_equal(job_get_status(b), JOB_FAILED);
    assert_int_equal(job_failure_kind(b), JOB_FAILURE_ERROR);
    assert_non_null(strstr(job_error_message(b), "returned 7"));
    job_release(a);
    job_release(b);
    job_executor_free(ex);
}

static void test_crashes(void **state)
{
    (void)state;
    job_executor *ex = make_ex(STA, 2);
    job *segv = NULL, *abrt = NULL, *ex3 = NULL, *ok = NULL;
    assert_int_equal(job_submit(ex, fn_segv, NULL, 0, NULL, &segv), JOB_OK);
    assert_int_equal(job_submit(ex, fn_abort, NULL, 0, NULL, &abrt), JOB_OK);
    assert_int_equal(job_submit(ex, fn_exit3, NULL, 0, NULL, &ex3), JOB_OK);
    assert_int_equal(job_submit(ex, fn_echo, "x", 1, NULL, &ok), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);

    assert_int_equal(job_get_status(segv), JOB_FAILED);
    assert_int_equal(job_failure_kind(segv), JOB_FAILURE_SIGNAL);
    assert_int_equal(job_term_signal(segv), SIGSEGV);
    assert_non_null(strstr(job_error_message(segv), "SIGSEGV"));

    assert_int_equal(job_failure_kind(abrt), JOB_FAILURE_SIGNAL);
    assert_int_equal(job_term_signal(abrt), SIGABRT);
    assert_non_null(strstr(job_error_message(abrt), "SIGABRT"));

    assert_int_equal(job_get_status(ex3), JOB_FAILED);
    assert_int_equal(job_failure_kind(ex3), JOB_FAILURE_EXIT);
    assert_int_equal(job_exit_code(ex3), 3);
    assert_non_null(strstr(job_error_message(ex3), "code 3"));

    /* The executor goes on. */
    assert_int_equal(job_get_status(ok), JOB_COMPLETED);
    job_release(segv);
    job_release(abrt);
    job_release(ex3);
    job_release(ok);
    job_executor_free(ex);
}

static void test_timeout(void **state)
{
    (void)state;
    /* A grace long enough for a slow (sanitized) child to die of SIGTERM;
     * the one that ignores it waits the grace out. */
    job_executor *ex = make_ex_cfg(STA, 1, "kill_grace", "\"2s:timedelta\"");
    job_options o = {.timeout_ms = 100};
    job *j = NULL, *k = NULL;
    assert_int_equal(job_submit(ex, fn_forever, NULL, 0, &o, &j), JOB_OK);
    assert_int_equal(job_submit(ex, fn_ignore_term, NULL, 0, &o, &k), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_FAILED);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_TIMEOUT);
    assert_int_equal(job_term_signal(j), SIGTERM);
    assert_non_null(strstr(job_error_message(j), "timed out"));
    /* One that ignores SIGTERM needs the SIGKILL after the grace period. */
    assert_int_equal(job_failure_kind(k), JOB_FAILURE_TIMEOUT);
    assert_int_equal(job_term_signal(k), SIGKILL);
    job_release(j);
    job_release(k);
    job_executor_free(ex);
}

static void test_cancel_running_and_pending(void **state)
{
    (void)state;
    job_executor *ex = make_ex(STA, 1);
    job *run = NULL, *pend = NULL;
    assert_int_equal(job_submit(ex, fn_forever, NULL, 0, NULL, &run), JOB_OK);
    assert_int_equal(job_submit(ex, fn_echo, "p", 1, NULL, &pend), JOB_OK);
    await_started(1);
    assert_int_equal(job_get_status(pend), JOB_PENDING);
    assert_int_equal(job_cancel(pend), JOB_OK);
    assert_int_equal(job_get_status(pend), JOB_CANCELED);
    assert_int_equal(job_status_time_ns(pend, JOB_RUNNING), 0);
    assert_int_equal(job_cancel(run), JOB_OK);
    assert_int_equal(job_wait(run, -1), JOB_OK);
    assert_int_equal(job_get_status(run), JOB_CANCELED);
    assert_int_equal(job_failure_kind(run), JOB_FAILURE_CANCELED);
    assert_int_equal(job_term_signal(run), SIGTERM);
    /* Cancelling a finished job changes nothing. */
    assert_int_equal(job_cancel(run), JOB_EFINISHED);
    assert_int_equal(job_get_status(run), JOB_CANCELED);
    job_release(run);
    job_release(pend);
    job_executor_free(ex);
}

/* Development mode: cancel from the PENDING callback means it never runs. */
static void cancel_on_pending(job *j, job_status s, void *ud)
{
    (void)ud;
    if (s == JOB_PENDING)
        job_cancel(j);
}

static void test_cancel_pending_dev(void **state)
{
    (void)state;
    job_executor *ex = make_ex(DEV, 1);
    job_options o = {.on_status = cancel_on_pending};
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_rc7, NULL, 0, &o, &j), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_CANCELED);
    assert_int_equal(job_status_time_ns(j, JOB_RUNNING), 0);
    assert_int_equal(job_cancel(j), JOB_EFINISHED);
    job_release(j);
    job_executor_free(ex);
}

static void test_capture(void **state)
{
    job_executor *ex = make_ex_cfg(mode_of(state), 1, "max_output_bytes", "\"4096:int\"");
    job_options o = {.capture_output = JOB_CAPTURE_ON};
    job *p = NULL, *f = NULL;
    assert_int_equal(job_submit(ex, fn_print, NULL, 0, &o, &p), JOB_OK);
    assert_int_equal(job_submit(ex, fn_flood, NULL, 0, &o, &f), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    size_t n;
    bool t = true;
    assert_string_equal(job_stdout(p, &n, &t), "hello out\n");
    assert_false(t);
    assert_string_equal(job_stderr(p, &n, &t), "hello err\n");
    assert_int_equal(job_get_status(f), JOB_COMPLETED);
    const char *o2 = job_stdout(f, &n, &t);
    assert_non_null(o2);
    assert_int_equal(n, 4096);
    assert_true(t);
    job_release(p);
    job_release(f);
    job_executor_free(ex);
}

static void test_progress(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 1);
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_progress, NULL, 0, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    uint64_t d = 0, t = 0;
    job_get_progress(j, &d, &t);
    assert_int_equal(d, 5);
    assert_int_equal(t, 5);
    job_release(j);
    job_executor_free(ex);
}

/* Callbacks: order, and a complete record when FAILED is announced. */
struct cb_log {
    pthread_mutex_t mu;
    int n;
    job_status seen[16];
    bool msg_at_failed;
    int ex_calls;
};

static void job_cb(job *j, job_status s, void *ud)
{
    struct cb_log *l = ud;
    pthread_mutex_lock(&l->mu);
    if (l->n < 16)
        l->seen[l->n++] = s;
    if (s == JOB_FAILED)
        l->msg_at_failed = job_error_message(j) != NULL &&
                           job_get_status(j) == JOB_FAILED;
    pthread_mutex_unlock(&l->mu);
}

static void ex_cb(job *j, job_status s, void *ud)
{
    (void)j;
    (void)s;
    struct cb_log *l = ud;
    pthread_mutex_lock(&l->mu);
    l->ex_calls++;
    pthread_mutex_unlock(&l->mu);
}

static void test_callbacks(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 1);
    struct cb_log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct cb_log exl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(job_executor_on_status(ex, ex_cb, &exl), JOB_OK);
    job_options o = {.on_status = job_cb, .userdata = &l, .label = "cb"};
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_fail_msg, NULL, 0, &o, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_string_equal(job_label(j), "cb");
    assert_ptr_equal(job_userdata(j), &l);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.seen[0], JOB_SUBMITTED);
    assert_int_equal(l.seen[1], JOB_PENDING);
    assert_int_equal(l.seen[2], JOB_RUNNING);
    assert_int_equal(l.seen[3], JOB_FAILED);
    assert_true(l.msg_at_failed);
    assert_int_equal(exl.ex_calls, 4);
    job_release(j);
    job_executor_free(ex);
}

static void test_worker_limit(void **state)
{
    (void)state;
    const int workers = 3, jobs = 8;
    job_executor *ex = make_ex(STA, workers);
    for (int i = 0; i < jobs; i++)
        assert_int_equal(job_submit(ex, fn_gate, NULL, 0, NULL, NULL), JOB_OK);
    /* The first `workers` jobs fill every slot and hold them. */
    await_started(workers);
    /* A job can start before the dispatcher has counted it as running. */
    job_executor_stats st;
    do {
        assert_int_equal(job_executor_stats_get(ex, &st), JOB_OK);
        sched_yield();
    } while (st.running < (uint64_t)workers);
    assert_int_equal(st.running, (uint64_t)workers);
    assert_int_equal(st.pending, (uint64_t)(jobs - workers));
    atomic_store(&sh->gate, 1);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    assert_int_equal(atomic_load(&sh->count), jobs);
    assert_int_equal(atomic_load(&sh->max), workers);
    job_executor_free(ex);
}

struct submitter {
    job_executor *ex;
    int base;
    int ok;
};

static void *submit_thread(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < 25; i++) {
        int v = s->base + i;
        job *j = NULL;
        if (job_submit(s->ex, fn_echo, &v, sizeof(v), NULL, &j) != JOB_OK)
            continue;
        if (job_wait(j, -1) == JOB_OK && job_get_status(j) == JOB_COMPLETED) {
            size_t n;
            const int *r = job_result(j, &n);
            if (n == sizeof(int) && *r == v)
                s->ok++;
        }
        job_release(j);
    }
    return NULL;
}

static void test_threads_submit(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 2);
    pthread_t t[8];
    struct submitter s[8];
    for (int i = 0; i < 8; i++) {
        s[i] = (struct submitter){ex, i * 1000, 0};
        assert_int_equal(pthread_create(&t[i], NULL, submit_thread, &s[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok += s[i].ok;
    }
    assert_int_equal(ok, 8 * 25);
    job_executor_stats st;
    job_executor_stats_get(ex, &st);
    assert_int_equal(st.submitted, 200);
    assert_int_equal(st.finished, 200);
    job_executor_free(ex);
}

static void test_stop_cancel_queued(void **state)
{
    (void)state;
    job_executor *ex = make_ex(STA, 1);
    job *js[6];
    assert_int_equal(job_submit(ex, fn_forever, NULL, 0, NULL, &js[0]), JOB_OK);
    for (int i = 1; i < 6; i++)
        assert_int_equal(job_submit(ex, fn_echo, "q", 1, NULL, &js[i]), JOB_OK);
    await_started(1);
    assert_int_equal(job_executor_stop(ex, JOB_STOP_CANCEL, -1), JOB_OK);
    assert_int_equal(job_get_status(js[0]), JOB_CANCELED);
    for (int i = 1; i < 6; i++) {
        assert_int_equal(job_get_status(js[i]), JOB_CANCELED);
        assert_int_equal(job_failure_kind(js[i]), JOB_FAILURE_STOPPED);
    }
    assert_int_equal(job_submit(ex, fn_echo, NULL, 0, NULL, NULL), JOB_ESTOPPED);
    job_executor_free(ex);
    for (int i = 0; i < 6; i++)
        job_release(js[i]);
}

static void test_stop_drain(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 2);
    job *js[10];
    for (int i = 0; i < 10; i++)
        assert_int_equal(job_submit(ex, fn_echo, "d", 1, NULL, &js[i]), JOB_OK);
    assert_int_equal(job_executor_stop(ex, JOB_STOP_DRAIN, -1), JOB_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(job_get_status(js[i]), JOB_COMPLETED);
        job_release(js[i]);
    }
    assert_int_equal(job_submit(ex, fn_echo, NULL, 0, NULL, NULL), JOB_ESTOPPED);
    job_executor_free(ex);
}

static void test_named_and_misuse(void **state)
{
    job_executor *ex = make_ex(mode_of(state), 1);
    assert_int_equal(job_executor_register(ex, "echo", fn_echo), JOB_OK);
    assert_int_equal(job_executor_register(ex, "echo", fn_rc7), JOB_EEXIST);
    assert_int_equal(job_executor_register(ex, "", fn_rc7), JOB_EINVAL);
    job *j = NULL;
    assert_int_equal(job_submit_named(ex, "echo", "n", 1, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    job_release(j);
    assert_int_equal(job_submit_named(ex, "nope", NULL, 0, NULL, &j), JOB_ENOTFOUND);
    assert_null(j);
    assert_int_equal(job_submit(NULL, fn_echo, NULL, 0, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit(ex, NULL, NULL, 0, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit(ex, fn_echo, NULL, 5, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_wait(NULL, 0), JOB_EINVAL);
    assert_int_equal(job_cancel(NULL), JOB_EINVAL);
    job_release(NULL);
    job_executor_free(NULL);

    /* Submitting from inside a job function is refused. */
    assert_int_equal(job_submit(ex, fn_submit_inside, &ex, sizeof(ex), NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    size_t n;
    const int *rc = job_result(j, &n);
    assert_int_equal(n, sizeof(int));
    assert_int_equal(*rc, JOB_EBUSY);
    job_release(j);
    job_executor_free(ex);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void test_no_leaks_after_free(void **state)
{
    (void)state;
    int before = count_fds();
    job_executor *ex = make_ex(STA, 2);
    job_options o = {.capture_output = JOB_CAPTURE_ON};
    for (int i = 0; i < 20; i++)
        job_submit(ex, i % 3 ? fn_echo : fn_segv, "z", 1, &o, NULL);
    job_submit(ex, fn_forever, NULL, 0, NULL, NULL);
    job_executor_free(ex);
    assert_int_equal(count_fds(), before);
    /* No child of ours is left, not even a zombie. */
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* ---- reused workers ---------------------------------------------------- */

static int fn_pid(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    pid_t p = getpid();
    return job_set_result(ctx, &p, sizeof(p)) == JOB_OK ? 0 : 1;
}

/* Changes what a job may change of its process. */
static int fn_meddle(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    if (chdir("/") != 0)
        return 1;
    setenv("JOBEXEC_TEST_MEDDLE", "1", 1);
    unsetenv("HOME");
    signal(SIGUSR1, SIG_IGN);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    umask(077);
    return 0;
}

/* Reports what fn_meddle changes, as a string. */
static int fn_observe(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    char cwd[512], buf[1024];
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    mode_t um = umask(0);
    umask(um);
    int n = snprintf(buf, sizeof(buf), "%s|%s|%s|%d|%d|%o|%d",
                     getcwd(cwd, sizeof(cwd)) ? cwd : "?",
                     getenv("JOBEXEC_TEST_MEDDLE") ? "set" : "unset",
                     getenv("HOME") ? "home" : "nohome",
                     sa.sa_handler == SIG_IGN, sigismember(&mask, SIGTERM),
                     (unsigned)um, (int)getpid());
    return job_set_result(ctx, buf, (size_t)n) == JOB_OK ? 0 : 1;
}

static pid_t result_pid(job *j)
{
    size_t n;
    const pid_t *p = job_result(j, &n);
    assert_int_equal(n, sizeof(pid_t));
    return *p;
}

static void test_reuse_same_process(void **state)
{
    (void)state;
    kind_now = REU_K;
    job_executor *ex = make_ex(STA, 1);
    job *js[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(job_submit(ex, fn_pid, NULL, 0, NULL, &js[i]), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    pid_t first = result_pid(js[0]);
    assert_int_not_equal(first, getpid());
    for (int i = 0; i < 5; i++) {
        assert_int_equal(result_pid(js[i]), first);
        assert_int_equal(job_exit_code(js[i]), -1); /* the worker lives on */
        job_release(js[i]);
    }
    job_executor_free(ex);
}

static void test_reuse_limit(void **state)
{
    (void)state;
    kind_now = STA_K;
    job_executor *ex = make_ex_cfg(STA, 1, "max_jobs_per_worker", "2");
    job *js[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(job_submit(ex, fn_pid, NULL, 0, NULL, &js[i]), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    /* No process runs more than two jobs, and workers are reused: a
     * retired worker that has yet to exit may make one job take a process
     * of its own, so the pairing itself is not promised. */
    int pairs = 0;
    for (int i = 0; i < 6; i++) {
        int same = 0;
        for (int k = 0; k < 6; k++)
            same += result_pid(js[k]) == result_pid(js[i]);
        assert_true(same <= 2);
        pairs += same == 2;
    }
    assert_true(pairs >= 2);
    for (int i = 0; i < 6; i++)
        job_release(js[i]);
    job_executor_free(ex);
}

static void test_reuse_isolation(void **state)
{
    (void)state;
    kind_now = REU_K;
    job_executor *ex = make_ex(STA, 1);
    job *before = NULL, *meddle = NULL, *after = NULL;
    assert_int_equal(job_submit(ex, fn_observe, NULL, 0, NULL, &before), JOB_OK);
    assert_int_equal(job_submit(ex, fn_meddle, NULL, 0, NULL, &meddle), JOB_OK);
    assert_int_equal(job_submit(ex, fn_observe, NULL, 0, NULL, &after), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    assert_int_equal(job_get_status(meddle), JOB_COMPLETED);
    size_t n1, n2;
    const char *a = job_result(before, &n1);
    const char *b = job_result(after, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1); /* same process, same state */
    job_release(before);
    job_release(meddle);
    job_release(after);
    job_executor_free(ex);
}

/* A crash takes its worker down; the next job gets a new one. */
static void test_reuse_after_crash(void **state)
{
    (void)state;
    kind_now = REU_K;
    job_executor *ex = make_ex(STA, 1);
    job *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(job_submit(ex, fn_pid, NULL, 0, NULL, &a), JOB_OK);
    assert_int_equal(job_submit(ex, fn_segv, NULL, 0, NULL, &b), JOB_OK);
    assert_int_equal(job_submit(ex, fn_pid, NULL, 0, NULL, &c), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    assert_int_equal(job_get_status(a), JOB_COMPLETED);
    assert_int_equal(job_failure_kind(b), JOB_FAILURE_SIGNAL);
    assert_int_equal(job_term_signal(b), SIGSEGV);
    assert_int_equal(job_get_status(c), JOB_COMPLETED);
    assert_int_not_equal(result_pid(a), result_pid(c));
    job_release(a);
    job_release(b);
    job_release(c);
    job_executor_free(ex);
}

#define WITH(f, k)                                                             \
    cmocka_unit_test_prestate_setup_teardown(f, setup_shared, teardown_shared, \
                                             (void *)&(k))
/* Every test runs inline, in a process per job, and in reused workers. */
#define BOTH(f) WITH(f, DEV_S), WITH(f, STA_S), WITH(f, REU_S)
#define ONE(f) WITH(f, STA_S), WITH(f, REU_S)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_result_bytes),
        BOTH(test_result_64mib),
        BOTH(test_fail_message),
        ONE(test_crashes),
        ONE(test_timeout),
        ONE(test_cancel_running_and_pending),
        WITH(test_cancel_pending_dev, DEV_S),
        BOTH(test_capture),
        BOTH(test_progress),
        BOTH(test_callbacks),
        ONE(test_worker_limit),
        BOTH(test_threads_submit),
        ONE(test_stop_cancel_queued),
        BOTH(test_stop_drain),
        BOTH(test_named_and_misuse),
        ONE(test_no_leaks_after_free),
        WITH(test_reuse_same_process, REU_S),
        WITH(test_reuse_limit, STA_S),
        WITH(test_reuse_isolation, REU_S),
        WITH(test_reuse_after_crash, REU_S),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
