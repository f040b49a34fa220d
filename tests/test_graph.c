/* test_graph.c - job graphs in both modes: chains, diamonds, fan-out,
 * results passed along, failure and cancel cascades, cycles, skipping and
 * coalescing, submission status rules, and a graph of 10,000 jobs. */
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobconfig.h"

static const job_mode DEV = JOB_MODE_DEVELOPMENT;
static const job_mode STA = JOB_MODE_STANDALONE;
static const job_mode REU = JOB_MODE_STANDALONE; /* with reused workers */

/* Shared with job processes. */
struct shared {
    _Atomic int runs, gate, started;
};
static struct shared *sh;

static int setup(void **state)
{
    (void)state;
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return -1;
    memset(sh, 0, sizeof(*sh));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    munmap(sh, sizeof(*sh));
    return 0;
}

static job_executor *make_ex(void **state, int workers)
{
    job_mode mode = *(const job_mode *)*state;
    job_config *cfg = NULL;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    assert_int_equal(job_configure_job_executions(
                         cfg, mode == STA ? "standalone" : "development", workers),
                     JOB_OK);
    if (*state == &REU)
        assert_int_equal(job_config_set(cfg, "max_jobs_per_worker", "0"), JOB_OK);
    job_executor *ex = NULL;
    assert_int_equal(job_executor_new(cfg, &ex), JOB_OK);
    job_config_free(cfg);
    return ex;
}

/* Result: its input, then the results of its prerequisites in order. */
static int fn_concat(job_ctx *ctx, const void *in, size_t len)
{
    char buf[4096];
    size_t n = 0;
    memcpy(buf, in, len);
    n = len;
    for (size_t i = 0; i < job_ctx_prereq_count(ctx); i++) {
        size_t l;
        const void *r = job_ctx_prereq_result(ctx, i, &l);
        if (n + l > sizeof(buf))
            return 1;
        memcpy(buf + n, r, l);
        n += l;
    }
    atomic_fetch_add(&sh->runs, 1);
    return job_set_result(ctx, buf, n) == JOB_OK ? 0 : 1;
}

static int fn_fail(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    job_fail(ctx, "broken on purpose");
    return 1;
}

static int fn_gate(job_ctx *ctx, const void *in, size_t len)
{
    atomic_fetch_add(&sh->started, 1);
    while (!atomic_load(&sh->gate))
        sched_yield();
    return fn_concat(ctx, in, len);
}

static void expect_result(job *j, const char *want)
{
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n;
    const char *r = job_result(j, &n);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(r, want, n);
}

static job_spec spec(const char *input, const size_t *after, size_t n)
{
    job_spec s = {.fn = fn_concat, .input = input, .input_len = strlen(input),
                  .after_idx = after, .n_after_idx = n};
    return s;
}

static void test_chain_passes_results(void **state)
{
    job_executor *ex = make_ex(state, 2);
    static const size_t a0[] = {0}, a1[] = {1};
    job_spec specs[] = {spec("a", NULL, 0), spec("b", a0, 1), spec("c", a1, 1)};
    job_submission *s = NULL;
    assert_int_equal(job_submit_graph(ex, specs, 3, NULL, NULL, &s), JOB_OK);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    assert_int_equal(job_submission_status(s), JOB_COMPLETED);
    expect_result(job_submission_job(s, 0), "a");
    expect_result(job_submission_job(s, 1), "ba");
    expect_result(job_submission_job(s, 2), "cba");
    /* b was BLOCKED while a ran (or finished before: then never). */
    job *c = job_submission_job(s, 2);
    assert_true(job_status_time_ns(c, JOB_RUNNING) >=
                job_status_time_ns(job_submission_job(s, 1), JOB_COMPLETED));
    job_submission_release(s);
    job_executor_free(ex);
}

static void test_diamond_and_fanout(void **state)
{
    job_executor *ex = make_ex(state, 2);
    static const size_t a0[] = {0}, a12[] = {1, 2};
    job_spec specs[] = {spec("a", NULL, 0), spec("b", a0, 1), spec("c", a0, 1),
                        spec("d", a12, 2)};
    job_submission *s = NULL;
    assert_int_equal(job_submit_graph(ex, specs, 4, NULL, NULL, &s), JOB_OK);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    expect_result(job_submission_job(s, 3), "dbaca");

    /* Fan-out from an earlier job, through opts.after. */
    job *root = job_submission_job(s, 3);
    job *fan[20];
    for (int i = 0; i < 20; i++) {
        job_options o = {.after = &root, .n_after = 1};
        assert_int_equal(job_submit(ex, fn_concat, "x", 1, &o, &fan[i]), JOB_OK);
    }
    assert_int_equal(job_executor_wait_all(ex, -1), JOB_OK);
    for (int i = 0; i < 20; i++) {
        expect_result(fan[i], "xdbaca");
        job_release(fan[i]);
    }
    job_submission_release(s);
    job_executor_free(ex);
}

static void test_failure_abandons_downstream(void **state)
{
    job_executor *ex = make_ex(state, 2);
    static const size_t a0[] = {0}, a1[] = {1}, a2[] = {2};
    job_spec specs[] = {spec("a", NULL, 0), spec("b", a0, 1), spec("c", a1, 1),
                        spec("d", a2, 1), spec("e", NULL, 0)};
    specs[1].fn = fn_fail;
    specs[1].opts.label = "the-b";
    job_submission *s = NULL;
    assert_int_equal(job_submit_graph(ex, specs, 5, NULL, NULL, &s), JOB_OK);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    job *b = job_submission_job(s, 1), *c = job_submission_job(s, 2),
        *d = job_submission_job(s, 3);
    expect_result(job_submission_job(s, 0), "a");
    expect_result(job_submission_job(s, 4), "e");
    assert_int_equal(job_get_status(b), JOB_FAILED);
    assert_int_equal(job_get_status(c), JOB_ABANDONED);
    assert_int_equal(job_get_status(d), JOB_ABANDONED);
    assert_int_equal(job_failure_kind(c), JOB_FAILURE_ABANDONED);
    assert_ptr_equal(job_abandoned_by(c), b);
    assert_ptr_equal(job_abandoned_by(d), c);
    assert_non_null(strstr(job_error_message(c), "(the-b) ended FAILED: broken on purpose"));
    assert_non_null(strstr(job_error_message(d), "ended ABANDONED"));
    assert_int_equal(job_status_time_ns(c, JOB_RUNNING), 0);
    assert_int_equal(job_submission_status(s), JOB_FAILED);
    /* A new job after a failed one is abandoned at once. */
    job_options o = {.after = &b, .n_after = 1};
    job *late = NULL;
    assert_int_equal(job_submit(ex, fn_concat, "z", 1, &o, &late), JOB_OK);
    assert_int_equal(job_wait(late, -1), JOB_OK);
    assert_int_equal(job_get_status(late), JOB_ABANDONED);
    job_release(late);
    job_submission_release(s);
    job_executor_free(ex);
}

static void test_cancel_cascades(void **state)
{
    (void)state;
    job_mode sta = STA;
    void *st = &sta;
    job_executor *ex = make_ex(&st, 1);
    static const size_t a0[] = {0}, a1[] = {1}, a2[] = {2};
    job_spec specs[] = {spec("a", NULL, 0), spec("b", a0, 1), spec("c", a1, 1),
                        spec("d", a2, 1)};
    specs[0].fn = fn_gate;
    job_submission *s = NULL;
    assert_int_equal(job_submit_graph(ex, specs, 4, NULL, NULL, &s), JOB_OK);
    while (atomic_load(&sh->started) < 1)
        sched_yield();
    job *b = job_submission_job(s, 1), *c = job_submission_job(s, 2);
    assert_int_equal(job_get_status(b), JOB_BLOCKED);
    assert_int_equal(job_cancel(b), JOB_OK);
    assert_int_equal(job_get_status(b), JOB_CANCELED);
    assert_int_equal(job_wait(c, -1), JOB_OK);
    assert_int_equal(job_get_status(c), JOB_ABANDONED);
    assert_int_equal(job_get_status(job_submission_job(s, 3)), JOB_ABANDONED);
    atomic_store(&sh->gate, 1);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    expect_result(job_submission_job(s, 0), "a");
    assert_int_equal(job_submission_status(s), JOB_CANCELED);
    assert_int_equal(job_submission_cancel(s), JOB_EFINISHED);
    job_submission_release(s);

    /* Cancelling a submission cancels what has not finished. */
    atomic_store(&sh->gate, 0);
    atomic_store(&sh->started, 0);
    assert_int_equal(job_submit_graph(ex, specs, 4, NULL, NULL, &s), JOB_OK);
    while (atomic_load(&sh->started) < 1)
        sched_yield();
    assert_int_equal(job_submission_cancel(s), JOB_OK);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    assert_int_equal(job_get_status(job_submission_job(s, 0)), JOB_CANCELED);
    for (size_t i = 1; i < 4; i++) {
        job_status st2 = job_get_status(job_submission_job(s, i));
        assert_true(st2 == JOB_CANCELED || st2 == JOB_ABANDONED);
    }
    assert_int_equal(job_submission_status(s), JOB_CANCELED);
    job_submission_release(s);
    job_executor_free(ex);
}

/* Development mode: a job cancelled before its turn never runs, and what
 * depends on it is abandoned.  The root's RUNNING callback cancels the
 * second job of its own submission. */
static void cancel_second(job *j, job_status st, void *ud)
{
    (void)j;
    job_submission *const *s = ud;
    if (st == JOB_RUNNING)
        assert_int_equal(job_cancel(job_submission_job(*s, 1)), JOB_OK);
}

static void test_cancel_inline(void **state)
{
    job_executor *ex = make_ex(state, 1);
    static const size_t a0[] = {0}, a1[] = {1};
    job_submission *s = NULL;
    job_spec specs[] = {spec("r", NULL, 0), spec("v", a0, 1), spec("w", a1, 1)};
    specs[0].opts.on_status = cancel_second;
    specs[0].opts.userdata = &s;
    assert_int_equal(job_submit_graph(ex, specs, 3, NULL, NULL, &s), JOB_OK);
    /* Development mode: everything has run by now. */
    expect_result(job_submission_job(s, 0), "r");
    assert_int_equal(job_get_status(job_submission_job(s, 1)), JOB_CANCELED);
    assert_int_equal(job_status_time_ns(job_submission_job(s, 1), JOB_RUNNING), 0);
    assert_int_equal(job_get_status(job_submission_job(s, 2)), JOB_ABANDONED);
    assert_int_equal(atomic_load(&sh->runs), 1);
    assert_int_equal(job_submission_status(s), JOB_CANCELED);
    job_submission_release(s);
    job_executor_free(ex);
}

static void test_cycles_and_bad_graphs(void **state)
{
    job_executor *ex = make_ex(state, 1);
    static const size_t a1[] = {1}, a2[] = {2}, a0[] = {0}, self[] = {0},
                        out_of_range[] = {7};
    job_spec cyc[] = {spec("a", a1, 1), spec("b", a2, 1), spec("c", a0, 1)};
    assert_int_equal(job_submit_graph(ex, cyc, 3, NULL, NULL, NULL), JOB_ECYCLE);
    job_spec loop[] = {spec("a", self, 1)};
    assert_int_equal(job_submit_graph(ex, loop, 1, NULL, NULL, NULL), JOB_ECYCLE);
    job_spec far[] = {spec("a", out_of_range, 1)};
    assert_int_equal(job_submit_graph(ex, far, 1, NULL, NULL, NULL), JOB_EINVAL);
    job_spec none = {.input = "x", .input_len = 1};
    assert_int_equal(job_submit_graph(ex, &none, 1, NULL, NULL, NULL), JOB_EINVAL);
    job_spec two = spec("a", NULL, 0);
    two.fn_name = "also";
    assert_int_equal(job_submit_graph(ex, &two, 1, NULL, NULL, NULL), JOB_EINVAL);
    job_spec unknown = {.fn_name = "nope"};
    assert_int_equal(job_submit_graph(ex, &unknown, 1, NULL, NULL, NULL), JOB_ENOTFOUND);
    assert_int_equal(job_submit_graph(ex, NULL, 1, NULL, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_graph(ex, cyc, 0, NULL, NULL, NULL), JOB_EINVAL);
    /* Nothing was submitted by any of these. */
    job_executor_stats st;
    job_executor_stats_get(ex, &st);
    assert_int_equal(st.submitted, 0);

    /* A prerequisite of another executor is refused. */
    job_executor *other = make_ex(state, 1);
    job *foreign = NULL;
    assert_int_equal(job_submit(other, fn_concat, "f", 1, NULL, &foreign), JOB_OK);
    job_options o = {.after = &foreign, .n_after = 1};
    assert_int_equal(job_submit(ex, fn_concat, "x", 1, &o, NULL), JOB_EINVAL);
    job *nul = NULL;
    job_options on = {.after = &nul, .n_after = 1};
    assert_int_equal(job_submit(ex, fn_concat, "x", 1, &on, NULL), JOB_EINVAL);
    job_release(foreign);
    job_executor_free(other);
    job_executor_free(ex);
}

static void test_skip_and_force(void **state)
{
    job_executor *ex = make_ex(state, 1);
    job_options o = {.key = "sum(1,2)", .skippable = true};
    job *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    assert_int_equal(job_submit(ex, fn_concat, "A", 1, &o, &a), JOB_OK);
    assert_int_equal(job_wait(a, -1), JOB_OK);
    assert_int_equal(job_submit(ex, fn_concat, "B", 1, &o, &b), JOB_OK);
    assert_int_equal(job_wait(b, -1), JOB_OK);
    assert_int_equal(job_get_status(b), JOB_SKIPPED);
    assert_int_equal(job_status_time_ns(b, JOB_RUNNING), 0);
    size_t n;
    assert_memory_equal(job_result(b, &n), "A", 1); /* shared, not run */
    assert_int_equal(atomic_load(&sh->runs), 1);
    job_options f = {.key = "sum(1,2)", .skippable = true, .force = true};
    assert_int_equal(job_submit(ex, fn_concat, "C", 1, &f, &c), JOB_OK);
    assert_int_equal(job_wait(c, -1), JOB_OK);
    expect_result(c, "C");
    /* Later skips share the newest result. */
    assert_int_equal(job_submit(ex, fn_concat, "D", 1, &o, &d), JOB_OK);
    assert_int_equal(job_wait(d, -1), JOB_OK);
    assert_int_equal(job_get_status(d), JOB_SKIPPED);
    assert_memory_equal(job_result(d, &n), "C", 1);
    assert_int_equal(atomic_load(&sh->runs), 2);
    /* A SKIPPED prerequisite counts as done. */
    job_options after = {.after = &d, .n_after = 1};
    job *e = NULL;
    assert_int_equal(job_submit(ex, fn_concat, "E", 1, &after, &e), JOB_OK);
    assert_int_equal(job_wait(e, -1), JOB_OK);
    expect_result(e, "EC");
    job_release(a);
    job_release(b);
    job_release(c);
    job_release(d);
    job_release(e);
    job_executor_free(ex);
}

static void test_coalesce(void **state)
{
    (void)state;
    job_mode sta = STA;
    void *st = &sta;
    job_executor *ex = make_ex(&st, 2);
    job_options o = {.key = "k", .skippable = true};
    job *a = NULL, *b = NULL;
    assert_int_equal(job_submit(ex, fn_gate, "A", 1, &o, &a), JOB_OK);
    while (atomic_load(&sh->started) < 1)
        sched_yield();
    assert_int_equal(job_submit(ex, fn_gate, "B", 1, &o, &b), JOB_OK);
    assert_int_equal(job_get_status(b), JOB_BLOCKED);
    atomic_store(&sh->gate, 1);
    assert_int_equal(job_wait(b, -1), JOB_OK);
    assert_int_equal(job_get_status(b), JOB_SKIPPED);
    size_t n;
    assert_memory_equal(job_result(b, &n), "A", 1);
    assert_int_equal(atomic_load(&sh->started), 1); /* B never ran */

    /* If the job waited for fails, the waiting one runs itself. */
    job_options o2 = {.key = "k2", .skippable = true};
    atomic_store(&sh->gate, 0);
    atomic_store(&sh->started, 0);
    job *c = NULL, *d = NULL;
    assert_int_equal(job_submit(ex, fn_gate, "C", 1, &o2, &c), JOB_OK);
    while (atomic_load(&sh->started) < 1)
        sched_yield();
    assert_int_equal(job_cancel(c), JOB_OK);
    assert_int_equal(job_submit(ex, fn_concat, "D", 1, &o2, &d), JOB_OK);
    assert_int_equal(job_wait(d, -1), JOB_OK);
    expect_result(d, "D");
    job_release(a);
    job_release(b);
    job_release(c);
    job_release(d);
    job_executor_free(ex);
}

struct sub_log {
    job_status seen[32];
    int n;
};

static void sub_cb(job_submission *s, job_status st, void *ud)
{
    (void)s;
    struct sub_log *l = ud;
    if (l->n < 32)
        l->seen[l->n++] = st;
}

static void test_submission_status_rules(void **state)
{
    job_executor *ex = make_ex(state, 2);
    /* FAILED wins over CANCELED/ABANDONED. */
    static const size_t a0[] = {0};
    job_spec specs[] = {spec("a", NULL, 0), spec("b", a0, 1), spec("c", NULL, 0)};
    specs[0].fn = fn_fail;
    struct sub_log l = {0};
    job_submission *s = NULL;
    assert_int_equal(job_submit_graph(ex, specs, 3, sub_cb, &l, &s), JOB_OK);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    assert_int_equal(job_submission_count(s), 3);
    assert_int_equal(job_get_status(job_submission_job(s, 1)), JOB_ABANDONED);
    assert_int_equal(job_submission_status(s), JOB_FAILED);
    assert_true(l.n >= 1);
    assert_int_equal(l.seen[l.n - 1], JOB_FAILED);
    job_submission_release(s);

    /* All done: COMPLETED, announced last. */
    struct sub_log ok = {0};
    job_spec good[] = {spec("a", NULL, 0), spec("b", a0, 1)};
    assert_int_equal(job_submit_graph(ex, good, 2, sub_cb, &ok, &s), JOB_OK);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    assert_int_equal(job_submission_status(s), JOB_COMPLETED);
    assert_int_equal(ok.seen[ok.n - 1], JOB_COMPLETED);
    for (int i = 0; i + 1 < ok.n; i++)
        assert_int_not_equal(ok.seen[i], JOB_COMPLETED);
    job_submission_release(s);
    assert_null(job_submission_job(NULL, 0));
    assert_int_equal(job_submission_count(NULL), 0);
    assert_int_equal(job_submission_wait(NULL, 0), JOB_EINVAL);
    job_submission_release(NULL);
    job_executor_free(ex);
}

/* 10,000 jobs in chains of 100: job i depends on i-1, and each chain's
 * first job on job i/2 of an earlier chain.  Jobs 250 and every one ending
 * in 990 fail.  The expected status of each job is computed here and
 * compared. */
#define BIG 10000

static int fn_big(job_ctx *ctx, const void *in, size_t len)
{
    (void)len;
    uint32_t i;
    memcpy(&i, in, sizeof(i));
    if (i == 250 || i % 1000 == 990) {
        job_fail(ctx, "job %u fails", i);
        return 1;
    }
    return 0;
}

static void test_big_graph(void **state)
{
    job_executor *ex = make_ex(state, 2);
    job_spec *specs = calloc(BIG, sizeof(*specs));
    size_t(*after)[2] = calloc(BIG, sizeof(*after));
    uint32_t *idx = calloc(BIG, sizeof(*idx));
    job_status *want = calloc(BIG, sizeof(*want));
    for (uint32_t i = 0; i < BIG; i++) {
        idx[i] = i;
        size_t n = 0;
        if (i % 100 != 0)
            after[i][n++] = i - 1;
        else if (i > 0)
            after[i][n++] = i / 2;
        specs[i] = (job_spec){.fn = fn_big, .input = &idx[i], .input_len = 4,
                              .after_idx = after[i], .n_after_idx = n};
        bool bad = false;
        for (size_t k = 0; k < n; k++)
            bad |= want[after[i][k]] != JOB_COMPLETED;
        want[i] = bad ? JOB_ABANDONED
                      : (i == 250 || i % 1000 == 990) ? JOB_FAILED : JOB_COMPLETED;
    }
    job_submission *s = NULL;
    assert_int_equal(job_submit_graph(ex, specs, BIG, NULL, NULL, &s), JOB_OK);
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    size_t counts[JOB_STATUS_COUNT] = {0};
    for (uint32_t i = 0; i < BIG; i++) {
        job_status st = job_get_status(job_submission_job(s, i));
        if (st != want[i])
            fail_msg("job %u is %s, expected %s", i, job_status_name(st),
                     job_status_name(want[i]));
        counts[st]++;
    }
    assert_true(counts[JOB_COMPLETED] > 5000);
    assert_true(counts[JOB_FAILED] >= 5);
    assert_true(counts[JOB_ABANDONED] > 100);
    assert_int_equal(job_submission_status(s), JOB_FAILED);
    job_executor_stats st;
    job_executor_stats_get(ex, &st);
    assert_int_equal(st.finished, BIG);
    job_submission_release(s);
    job_executor_free(ex);
    free(specs);
    free(after);
    free(idx);
    free(want);
}

#define BOTH(f)                                                                \
    cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)&DEV), \
        cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)&STA)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_chain_passes_results),
        BOTH(test_diamond_and_fanout),
        cmocka_unit_test_prestate_setup_teardown(test_chain_passes_results, setup,
                                                 teardown, (void *)&REU),
        cmocka_unit_test_prestate_setup_teardown(test_diamond_and_fanout, setup,
                                                 teardown, (void *)&REU),
        BOTH(test_failure_abandons_downstream),
        cmocka_unit_test_setup_teardown(test_cancel_cascades, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_cancel_inline, setup,
                                                 teardown, (void *)&DEV),
        BOTH(test_cycles_and_bad_graphs),
        BOTH(test_skip_and_force),
        cmocka_unit_test_setup_teardown(test_coalesce, setup, teardown),
        BOTH(test_submission_status_rules),
        BOTH(test_big_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
