/*
 * test_misuse.c - the API used wrongly: NULL for every pointer of every
 * public function, values out of range, wait and cancel after stop, the
 * executor freed or stopped from a callback or from a job, submits from
 * inside a job function, and job handles used after their executor was
 * freed.  Every call returns an error code (or a documented neutral
 * value) and nothing crashes; the sanitizers check that nothing is freed
 * too early.
 */
#include "fault_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static const job_mode DEV = JOB_MODE_DEVELOPMENT;
static const job_mode STA = JOB_MODE_STANDALONE;

static job_mode mode_of(void **state)
{
    return *(const job_mode *)*state;
}

static int fds_at_start;

static int setup(void **state)
{
    (void)state;
    fds_at_start = fx_count_fds();
    return 0;
}

static void assert_clean(void)
{
    assert_int_equal(fx_count_fds(), fds_at_start);
    assert_true(fx_no_children());
}

static int fn_echo(job_ctx *ctx, const void *in, size_t len)
{
    return job_set_result(ctx, in, len) == JOB_OK ? 0 : 1;
}

/* ---- NULL everywhere ---------------------------------------------------- */

static void test_null_config_api(void **state)
{
    (void)state;
    const int codes[] = {0, -1, -13, -14, 1, 12345, -12345};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_non_null(job_strerror(codes[i]));
        assert_non_null(job_err_name(codes[i]));
    }
    assert_string_equal(job_strerror(-12345), "unknown error");
    assert_non_null(job_version());

    assert_int_equal(job_config_new(NULL), JOB_EINVAL);
    job_config_free(NULL);
    job_config *cfg = NULL, *dup = (job_config *)1;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    assert_int_equal(job_config_dup(NULL, &dup), JOB_EINVAL);
    assert_int_equal(job_config_dup(cfg, NULL), JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(NULL, "standalone", 2), JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(cfg, "bogus", 2), JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(cfg, NULL, -1), JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(cfg, NULL, 1000000), JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(cfg, NULL, 0), JOB_OK);
    assert_int_equal(job_config_set(NULL, "mode", "standalone"), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, NULL, "standalone"), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, "mode", NULL), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, "no_such_key", "1"), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, "", "1"), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, "nb_of_workers", "-5"), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, "memory_limit", "\"ENV[JX_NO_SUCH_VAR]:int\""),
                     JOB_EINVAL);

    /* Getters on NULL give the defaults. */
    assert_int_equal(job_config_mode(NULL), JOB_MODE_DEVELOPMENT);
    assert_int_equal(job_config_nb_of_workers(NULL), job_config_nb_of_workers(cfg));
    assert_int_equal(job_config_job_timeout_ms(NULL), 0);
    assert_false(job_config_capture_output(NULL));
    assert_true(job_config_kill_grace_ms(NULL) > 0);
    assert_true(job_config_max_output_bytes(NULL) > 0);
    assert_int_equal(job_config_memory_limit(NULL), 0);
    (void)job_config_max_jobs_per_worker(NULL);
    assert_string_equal(job_mode_name((job_mode)99), "?");
    assert_string_equal(job_mode_name((job_mode)-1), "?");

    job_issues *is = (job_issues *)1;
    assert_int_equal(job_config_load_file(NULL, "x.toml", &is), JOB_EINVAL);
    assert_null(is);
    is = (job_issues *)1;
    assert_int_equal(job_config_load_file(cfg, NULL, &is), JOB_EINVAL);
    assert_null(is);
    assert_int_equal(job_config_load_string(NULL, "", 0, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_config_load_string(cfg, NULL, 5, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_config_load_string(cfg, NULL, 0, NULL, NULL), JOB_OK);
    assert_int_equal(job_config_load_env(NULL, NULL), JOB_EINVAL);
    is = (job_issues *)1;
    assert_int_equal(job_config_check(NULL, &is), JOB_EINVAL);
    assert_null(is);
    assert_int_equal(job_config_check(cfg, NULL), JOB_OK);
    char *text = (char *)1;
    size_t len = 9;
    assert_int_equal(job_config_export(NULL, &text, &len), JOB_EINVAL);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(job_config_export(cfg, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_config_export_file(NULL, "/tmp/x"), JOB_EINVAL);
    assert_int_equal(job_config_export_file(cfg, NULL), JOB_EINVAL);
    assert_int_equal(job_config_export_file(cfg, ""), JOB_EINVAL);
    int64_t ms = 0;
    assert_int_equal(job_parse_timedelta(NULL, &ms), JOB_EINVAL);
    assert_int_equal(job_parse_timedelta("1s", NULL), JOB_EINVAL);
    assert_int_equal(job_parse_timedelta("", &ms), JOB_EINVAL);
    assert_int_equal(job_parse_timedelta("-1s", &ms), JOB_EINVAL);

    assert_int_equal(job_issues_count(NULL), 0);
    assert_null(job_issues_get(NULL, 0));
    assert_int_equal(job_issues_count_level(NULL, JOB_ISSUE_ERROR), 0);
    job_issues_free(NULL);
    assert_string_equal(job_issue_level_name((job_issue_level)42), "?");
    char buf[8];
    assert_int_equal(job_issue_format(NULL, buf, sizeof(buf)), -1);
    /* A real issue, formatted into nothing: measured, not written. */
    job_config *bad = NULL;
    assert_int_equal(job_config_new(&bad), JOB_OK);
    const char *toml = "[JOB]\nnb_of_workers = \"0:int\"\nunknown_key = 1\n";
    is = NULL;
    assert_int_equal(job_config_load_string(bad, toml, strlen(toml), "t", &is),
                     JOB_ECONFIG);
    assert_true(job_issues_count(is) > 0);
    assert_null(job_issues_get(is, job_issues_count(is)));
    assert_true(job_issue_format(job_issues_get(is, 0), NULL, 0) > 0);
    job_issues_free(is);
    job_config_free(bad);

    /* Executors from nothing. */
    job_executor *ex = (job_executor *)1;
    assert_int_equal(job_executor_new(NULL, &ex), JOB_EINVAL);
    assert_int_equal(job_executor_new(cfg, NULL), JOB_EINVAL);
    job_config_free(cfg);
}

static void test_null_job_api(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 1, NULL);
    assert_non_null(ex);

    assert_int_equal(job_executor_register(NULL, "a", fn_echo), JOB_EINVAL);
    assert_int_equal(job_executor_register(ex, NULL, fn_echo), JOB_EINVAL);
    assert_int_equal(job_executor_register(ex, "", fn_echo), JOB_EINVAL);
    assert_int_equal(job_executor_register(ex, "a", NULL), JOB_EINVAL);
    assert_int_equal(job_executor_on_status(NULL, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_executor_on_status(ex, NULL, NULL), JOB_OK);
    assert_int_equal(job_executor_mode(NULL), JOB_MODE_DEVELOPMENT);
    job_executor_stats st;
    assert_int_equal(job_executor_stats_get(NULL, &st), JOB_EINVAL);
    assert_int_equal(job_executor_stats_get(ex, NULL), JOB_EINVAL);
    assert_int_equal(job_executor_wait_all(NULL, 0), JOB_EINVAL);
    assert_int_equal(job_executor_stop(NULL, JOB_STOP_DRAIN, 0), JOB_EINVAL);
    assert_int_equal(job_executor_stop(ex, (job_stop_mode)7, 0), JOB_EINVAL);
    assert_int_equal(job_executor_stop(ex, (job_stop_mode)-1, 0), JOB_EINVAL);
    job_executor_free(NULL);

    job *j = (job *)1;
    assert_int_equal(job_submit(NULL, fn_echo, NULL, 0, NULL, &j), JOB_EINVAL);
    assert_null(j);
    j = (job *)1;
    assert_int_equal(job_submit(ex, NULL, NULL, 0, NULL, &j), JOB_EINVAL);
    assert_null(j);
    assert_int_equal(job_submit(ex, fn_echo, NULL, 3, NULL, NULL), JOB_EINVAL);
    j = (job *)1;
    assert_int_equal(job_submit_named(NULL, "a", NULL, 0, NULL, &j), JOB_EINVAL);
    assert_null(j);
    assert_int_equal(job_submit_named(ex, NULL, NULL, 0, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_named(ex, "nothing", NULL, 0, NULL, NULL), JOB_ENOTFOUND);
    assert_int_equal(job_submit_named(ex, "nothing", NULL, 2, NULL, NULL), JOB_EINVAL);
    const char *empty_argv[] = {NULL};
    const char *blank_argv[] = {"", NULL};
    job_command c0 = {.argv = NULL}, c1 = {.argv = empty_argv}, c2 = {.argv = blank_argv};
    j = (job *)1;
    assert_int_equal(job_submit_command(NULL, &c0, NULL, &j), JOB_EINVAL);
    assert_null(j);
    assert_int_equal(job_submit_command(ex, NULL, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_command(ex, &c0, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_command(ex, &c1, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_command(ex, &c2, NULL, NULL), JOB_EINVAL);

    /* Prerequisites that are not there. */
    job_options o = {.n_after = 2, .after = NULL};
    assert_int_equal(job_submit(ex, fn_echo, NULL, 0, &o, NULL), JOB_EINVAL);
    job *nulls[2] = {NULL, NULL};
    o.after = nulls;
    assert_int_equal(job_submit(ex, fn_echo, NULL, 0, &o, NULL), JOB_EINVAL);
    /* A prerequisite from another executor. */
    job_executor *other = fx_make(m, 1, NULL);
    assert_non_null(other);
    job *foreign = NULL;
    assert_int_equal(job_submit(other, fn_echo, "f", 1, NULL, &foreign), JOB_OK);
    o.after = &foreign;
    o.n_after = 1;
    assert_int_equal(job_submit(ex, fn_echo, NULL, 0, &o, NULL), JOB_EINVAL);
    job_release(foreign);
    job_executor_free(other);

    /* Graphs. */
    job_submission *s = (job_submission *)1;
    job_spec spec = {.fn = fn_echo};
    assert_int_equal(job_submit_graph(NULL, &spec, 1, NULL, NULL, &s), JOB_EINVAL);
    assert_int_equal(job_submit_graph(ex, NULL, 1, NULL, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_graph(ex, &spec, 0, NULL, NULL, NULL), JOB_EINVAL);
    job_spec none = {.fn = NULL};
    assert_int_equal(job_submit_graph(ex, &none, 1, NULL, NULL, NULL), JOB_EINVAL);
    job_spec both = {.fn = fn_echo, .fn_name = "x"};
    assert_int_equal(job_submit_graph(ex, &both, 1, NULL, NULL, NULL), JOB_EINVAL);
    size_t bad_idx = 5, self_idx = 0;
    job_spec out_of_range = {.fn = fn_echo, .after_idx = &bad_idx, .n_after_idx = 1};
    assert_int_equal(job_submit_graph(ex, &out_of_range, 1, NULL, NULL, NULL), JOB_EINVAL);
    job_spec self = {.fn = fn_echo, .after_idx = &self_idx, .n_after_idx = 1};
    int rc = job_submit_graph(ex, &self, 1, NULL, NULL, NULL);
    assert_true(rc == JOB_ECYCLE || rc == JOB_EINVAL);
    job_spec no_idx = {.fn = fn_echo, .after_idx = NULL, .n_after_idx = 3};
    assert_int_equal(job_submit_graph(ex, &no_idx, 1, NULL, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submission_status(NULL), JOB_SUBMITTED);
    assert_int_equal(job_submission_count(NULL), 0);
    assert_null(job_submission_job(NULL, 0));
    assert_int_equal(job_submission_wait(NULL, 0), JOB_EINVAL);
    assert_int_equal(job_submission_cancel(NULL), JOB_EINVAL);
    job_submission_release(NULL);
    s = NULL;
    assert_int_equal(job_submit_graph(ex, &spec, 1, NULL, NULL, &s), JOB_OK);
    assert_null(job_submission_job(s, 1));
    assert_null(job_submission_job(s, (size_t)-1));
    assert_int_equal(job_submission_wait(s, -1), JOB_OK);
    job_submission_release(s);

    /* Handles. */
    assert_null(job_retain(NULL));
    job_release(NULL);
    assert_int_equal(job_id(NULL), 0);
    assert_null(job_label(NULL));
    assert_null(job_userdata(NULL));
    (void)job_get_status(NULL);
    assert_int_equal(job_status_time_ns(NULL, JOB_PENDING), 0);
    assert_int_equal(job_wait(NULL, 0), JOB_EINVAL);
    assert_int_equal(job_cancel(NULL), JOB_EINVAL);
    size_t n = 7;
    assert_null(job_result(NULL, &n));
    assert_int_equal(n, 0);
    assert_null(job_result(NULL, NULL));
    assert_int_equal(job_failure_kind(NULL), JOB_FAILURE_NONE);
    assert_null(job_error_message(NULL));
    assert_int_equal(job_exit_code(NULL), -1);
    assert_int_equal(job_term_signal(NULL), 0);
    assert_null(job_abandoned_by(NULL));
    bool t = true;
    n = 7;
    assert_null(job_stdout(NULL, &n, &t));
    assert_int_equal(n, 0);
    assert_false(t);
    assert_null(job_stderr(NULL, NULL, NULL));
    uint64_t d = 9, tot = 9;
    job_get_progress(NULL, &d, &tot);
    assert_int_equal(d, 0);
    assert_int_equal(tot, 0);
    assert_string_equal(job_status_name((job_status)99), "?");
    assert_string_equal(job_status_name((job_status)-1), "?");
    assert_false(job_status_is_finished((job_status)99));
    assert_string_equal(job_failure_name((job_failure)99), "?");

    /* A real handle with NULL out-parameters and statuses out of range. */
    assert_int_equal(job_submit(ex, fn_echo, "r", 1, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_non_null(job_result(j, NULL));
    job_stdout(j, NULL, NULL);
    job_get_progress(j, NULL, NULL);
    assert_int_equal(job_status_time_ns(j, (job_status)-1), 0);
    assert_int_equal(job_status_time_ns(j, (job_status)JOB_STATUS_COUNT), 0);
    assert_null(job_abandoned_by(j));
    assert_int_equal(job_cancel(j), JOB_EFINISHED);
    assert_int_equal(job_cancel(j), JOB_EFINISHED);
    job_release(j);

    /* Inside a job. */
    assert_int_equal(job_set_result(NULL, "x", 1), JOB_EINVAL);
    assert_int_equal(job_fail(NULL, "x"), JOB_EINVAL);
    assert_int_equal(job_report_progress(NULL, 1, 2), JOB_EINVAL);
    assert_false(job_ctx_canceled(NULL));
    assert_int_equal(job_ctx_prereq_count(NULL), 0);
    n = 5;
    assert_null(job_ctx_prereq_result(NULL, 0, &n));
    assert_int_equal(n, 0);
    assert_int_equal(job_ctx_id(NULL), 0);
    assert_null(job_ctx_label(NULL));
    job_executor_free(ex);
    assert_clean();
}

/* A job that misuses its own context; reports what the calls returned. */
static int fn_ctx_misuse(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    int rcs[6];
    rcs[0] = job_set_result(ctx, NULL, 4);
    rcs[1] = job_set_result(ctx, NULL, 0);
    rcs[2] = job_fail(ctx, NULL);
    size_t n = 3;
    rcs[3] = job_ctx_prereq_result(ctx, 99, &n) == NULL && n == 0 ? 0 : 1;
    rcs[4] = (int)job_ctx_prereq_count(ctx);
    rcs[5] = job_report_progress(ctx, 5, 1); /* done > total: accepted */
    return job_set_result(ctx, rcs, sizeof(rcs)) == JOB_OK ? 0 : 1;
}

static void test_ctx_misuse(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 1, NULL);
    assert_non_null(ex);
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_ctx_misuse, NULL, 0, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 0;
    const int *rcs = job_result(j, &n);
    assert_int_equal(n, 6 * sizeof(int));
    assert_int_equal(rcs[0], JOB_EINVAL);
    assert_int_equal(rcs[1], JOB_OK);
    assert_int_equal(rcs[2], JOB_EINVAL);
    assert_int_equal(rcs[3], 0);
    assert_int_equal(rcs[4], 0);
    assert_int_equal(rcs[5], JOB_OK);
    job_release(j);
    job_executor_free(ex);
    assert_clean();
}

/* ---- after stop ---------------------------------------------------------- */

static void test_after_stop(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 2, NULL);
    assert_non_null(ex);
    assert_int_equal(job_executor_register(ex, "echo", fn_echo), JOB_OK);
    job *js[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(job_submit(ex, fn_echo, "s", 1, NULL, &js[i]), JOB_OK);
    assert_int_equal(job_executor_stop(ex, JOB_STOP_DRAIN, -1), JOB_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(job_wait(js[i], -1), JOB_OK);
        assert_int_equal(job_wait(js[i], 0), JOB_OK);
        assert_int_equal(job_get_status(js[i]), JOB_COMPLETED);
        assert_int_equal(job_cancel(js[i]), JOB_EFINISHED);
    }
    job *j = (job *)1;
    assert_int_equal(job_submit(ex, fn_echo, NULL, 0, NULL, &j), JOB_ESTOPPED);
    assert_null(j);
    assert_int_equal(job_submit_named(ex, "echo", NULL, 0, NULL, NULL), JOB_ESTOPPED);
    const char *argv[] = {"/bin/true", NULL};
    job_command c = {.argv = argv};
    assert_int_equal(job_submit_command(ex, &c, NULL, NULL), JOB_ESTOPPED);
    job_spec spec = {.fn = fn_echo};
    job_submission *s = (job_submission *)1;
    assert_int_equal(job_submit_graph(ex, &spec, 1, NULL, NULL, &s), JOB_ESTOPPED);
    assert_null(s); /* an error leaves nothing to release */
    /* Stopping again, either way, and waiting: all fine. */
    assert_int_equal(job_executor_stop(ex, JOB_STOP_CANCEL, 0), JOB_OK);
    assert_int_equal(job_executor_stop(ex, JOB_STOP_DRAIN, -1), JOB_OK);
    assert_int_equal(job_executor_wait_all(ex, 0), JOB_OK);
    assert_int_equal(job_executor_on_status(ex, NULL, NULL), JOB_OK);
    assert_int_equal(job_executor_register(ex, "late", fn_echo), JOB_OK);
    job_executor_stats st;
    assert_int_equal(job_executor_stats_get(ex, &st), JOB_OK);
    assert_int_equal(st.submitted, 4);
    assert_int_equal(st.finished, 4);
    job_executor_free(ex);
    for (int i = 0; i < 4; i++)
        job_release(js[i]);
    assert_clean();
}

/* ---- from callbacks and from jobs ---------------------------------------- */

struct cb_probe {
    job_executor *ex;
    _Atomic int calls;
    _Atomic int free_returned;
    _Atomic int stop_rc, wait_all_rc, wait_rc, submit_rc;
};

static void destroy_from_callback(job *j, job_status s, void *ud)
{
    struct cb_probe *p = ud;
    if (!job_status_is_finished(s))
        return;
    atomic_fetch_add(&p->calls, 1);
    job_executor_free(p->ex); /* must not free: it returns */
    atomic_store(&p->free_returned, 1);
    atomic_store(&p->stop_rc, job_executor_stop(p->ex, JOB_STOP_CANCEL, 0));
    atomic_store(&p->wait_all_rc, job_executor_wait_all(p->ex, -1));
    atomic_store(&p->wait_rc, job_wait(j, -1));
    /* Still usable: the executor was not freed. */
    job_executor_stats st;
    job_executor_stats_get(p->ex, &st);
}

static void test_destroy_from_callback(void **state)
{
    job_mode m = mode_of(state);
    struct cb_probe p = {.ex = fx_make(m, 1, NULL)};
    assert_non_null(p.ex);
    assert_int_equal(job_executor_on_status(p.ex, destroy_from_callback, &p), JOB_OK);
    job *j = NULL;
    assert_int_equal(job_submit(p.ex, fn_echo, "a", 1, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(atomic_load(&p.calls), 1);
    assert_int_equal(atomic_load(&p.free_returned), 1);
    assert_int_equal(atomic_load(&p.stop_rc), JOB_EBUSY);
    assert_int_equal(atomic_load(&p.wait_all_rc), JOB_EBUSY);
    assert_int_equal(atomic_load(&p.wait_rc), JOB_EBUSY);
    job_release(j);
    /* The executor lives on and works. */
    assert_int_equal(job_submit(p.ex, fn_echo, "b", 1, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    assert_int_equal(atomic_load(&p.calls), 2);
    job_release(j);
    assert_int_equal(job_executor_on_status(p.ex, NULL, NULL), JOB_OK);
    job_executor_free(p.ex);
    assert_clean();
}

/* A job that calls into its own executor: every call is refused. */
static job_executor *self_ex;

static int fn_uses_executor(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    const char *argv[] = {"/bin/true", NULL};
    job_command c = {.argv = argv};
    job_spec spec = {.fn = fn_echo};
    int rcs[7];
    job *j = (job *)1;
    rcs[0] = job_submit(self_ex, fn_echo, NULL, 0, NULL, &j);
    rcs[1] = j == NULL;
    rcs[2] = job_submit_command(self_ex, &c, NULL, NULL);
    rcs[3] = job_submit_named(self_ex, "echo", NULL, 0, NULL, NULL);
    rcs[4] = job_submit_graph(self_ex, &spec, 1, NULL, NULL, NULL);
    rcs[5] = job_executor_stop(self_ex, JOB_STOP_CANCEL, 0);
    job_executor_free(self_ex); /* returns: not from a job */
    rcs[6] = job_executor_wait_all(self_ex, -1);
    return job_set_result(ctx, rcs, sizeof(rcs)) == JOB_OK ? 0 : 1;
}

static void test_calls_from_job(void **state)
{
    job_mode m = mode_of(state);
    self_ex = fx_make(m, 1, NULL);
    assert_non_null(self_ex);
    assert_int_equal(job_executor_register(self_ex, "echo", fn_echo), JOB_OK);
    job *j = NULL;
    assert_int_equal(job_submit(self_ex, fn_uses_executor, NULL, 0, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 0;
    const int *rcs = job_result(j, &n);
    assert_int_equal(n, 7 * sizeof(int));
    assert_int_equal(rcs[0], JOB_EBUSY);
    assert_int_equal(rcs[1], 1);
    assert_int_equal(rcs[2], JOB_EBUSY);
    assert_int_equal(rcs[3], JOB_EBUSY);
    assert_int_equal(rcs[4], JOB_EBUSY);
    assert_int_equal(rcs[5], JOB_EBUSY);
    /* Waiting from inside a job: refused (EBUSY), or in a job process,
     * which is a fork of the host (EFORKED). */
    assert_true(rcs[6] == JOB_EBUSY || rcs[6] == JOB_EFORKED);
    job_release(j);
    /* The executor is intact. */
    assert_int_equal(job_submit(self_ex, fn_echo, "z", 1, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    job_release(j);
    job_executor_free(self_ex);
    self_ex = NULL;
    assert_clean();
}

/* ---- handles outlive their executor -------------------------------------- */

static int fn_progress_fail(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    job_report_progress(ctx, 3, 4);
    job_fail(ctx, "no luck");
    return 0;
}

static int fn_forever(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    /* Standalone: killed by the cancel.  Development: asked to stop. */
    while (!job_ctx_canceled(ctx))
        sched_yield();
    return 0;
}

static void test_handles_outlive_executor(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 1, NULL);
    assert_non_null(ex);
    job_options o = {.label = "kept", .capture_output = JOB_CAPTURE_ON};
    job *done = NULL, *failed = NULL, *pending = NULL, *extra = NULL;
    assert_int_equal(job_submit(ex, fn_echo, "keep", 4, &o, &done), JOB_OK);
    assert_int_equal(job_submit(ex, fn_progress_fail, NULL, 0, &o, &failed), JOB_OK);
    assert_int_equal(job_wait(failed, -1), JOB_OK);
    if (m == STA) {
        /* One that runs, one queued behind it: free cancels both. */
        job *run = NULL;
        assert_int_equal(job_submit(ex, fn_forever, NULL, 0, NULL, &run), JOB_OK);
        assert_int_equal(job_submit(ex, fn_echo, "q", 1, NULL, &pending), JOB_OK);
        extra = run;
    }
    job *two = job_retain(done);
    job_executor_free(ex);

    /* Everything is still readable. */
    assert_int_equal(job_get_status(done), JOB_COMPLETED);
    assert_string_equal(job_label(done), "kept");
    size_t n = 0;
    assert_memory_equal(job_result(done, &n), "keep", 4);
    assert_int_equal(n, 4);
    assert_true(job_status_time_ns(done, JOB_COMPLETED) > 0);
    assert_int_equal(job_wait(done, -1), JOB_OK);
    assert_int_equal(job_cancel(done), JOB_EFINISHED);
    job_stdout(done, &n, NULL);
    assert_int_equal(job_get_status(failed), JOB_FAILED);
    assert_string_equal(job_error_message(failed), "no luck");
    uint64_t d = 0, t = 0;
    job_get_progress(failed, &d, &t);
    assert_int_equal(d, 3);
    assert_int_equal(t, 4);
    if (m == STA) {
        assert_int_equal(job_get_status(extra), JOB_CANCELED);
        assert_int_equal(job_get_status(pending), JOB_CANCELED);
        assert_int_equal(job_failure_kind(pending), JOB_FAILURE_STOPPED);
        assert_int_equal(job_wait(pending, 0), JOB_OK);
        assert_int_equal(job_cancel(pending), JOB_EFINISHED);
        job_release(extra);
        job_release(pending);
    }
    /* One of two references gone: the other still reads. */
    job_release(two);
    assert_memory_equal(job_result(done, &n), "keep", 4);
    job_release(failed);
    job_release(done); /* the last one: the executor's memory goes now */
    assert_clean();
}

#define ONE(f) cmocka_unit_test_setup(f, setup)
#define BOTH(f)                                                                \
    cmocka_unit_test_prestate_setup_teardown(f, setup, NULL, (void *)&DEV),    \
        cmocka_unit_test_prestate_setup_teardown(f, setup, NULL, (void *)&STA)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ONE(test_null_config_api),
        BOTH(test_null_job_api),
        BOTH(test_ctx_misuse),
        BOTH(test_after_stop),
        BOTH(test_destroy_from_callback),
        BOTH(test_calls_from_job),
        BOTH(test_handles_outlive_executor),
    };
    if (getenv("JX_TEST_FILTER"))
        cmocka_set_test_filter(getenv("JX_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
