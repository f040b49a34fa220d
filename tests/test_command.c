/* test_command.c - command jobs in both modes: exit codes, signals, missing
 * programs, timeouts, cancel, capture, environment, working directory and
 * the cleanup of background processes. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobconfig.h"
#include "proc_util.h"

static const job_mode DEV = JOB_MODE_DEVELOPMENT;
static const job_mode STA = JOB_MODE_STANDALONE;

static job_executor *make_ex(void **state)
{
    job_mode mode = *(const job_mode *)*state;
    job_config *cfg = NULL;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    assert_int_equal(job_configure_job_executions(
                         cfg, mode == STA ? "standalone" : "development", 2),
                     JOB_OK);
    assert_int_equal(job_config_set(cfg, "kill_grace", "\"1s:timedelta\""), JOB_OK);
    job_executor *ex = NULL;
    assert_int_equal(job_executor_new(cfg, &ex), JOB_OK);
    job_config_free(cfg);
    return ex;
}

/* Runs argv as a job and waits for it. */
static job *run(job_executor *ex, const char *const *argv, const job_options *o)
{
    job_command cmd = {.argv = argv};
    job *j = NULL;
    assert_int_equal(job_submit_command(ex, &cmd, o, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    return j;
}

static void test_exit_codes(void **state)
{
    job_executor *ex = make_ex(state);
    const char *t[] = {"true", NULL};
    const char *f3[] = {"sh", "-c", "exit 3", NULL};
    job *a = run(ex, t, NULL);
    assert_int_equal(job_get_status(a), JOB_COMPLETED);
    assert_int_equal(job_exit_code(a), 0);
    assert_int_equal(job_failure_kind(a), JOB_FAILURE_NONE);
    job *b = run(ex, f3, NULL);
    assert_int_equal(job_get_status(b), JOB_FAILED);
    assert_int_equal(job_failure_kind(b), JOB_FAILURE_EXIT);
    assert_int_equal(job_exit_code(b), 3);
    assert_string_equal(job_error_message(b), "exited with code 3");
    job_release(a);
    job_release(b);
    job_executor_free(ex);
}

static void test_signal(void **state)
{
    job_executor *ex = make_ex(state);
    const char *segv[] = {"sh", "-c", "kill -SEGV $$", NULL};
    job *j = run(ex, segv, NULL);
    assert_int_equal(job_get_status(j), JOB_FAILED);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_SIGNAL);
    assert_int_equal(job_term_signal(j), SIGSEGV);
    assert_non_null(strstr(job_error_message(j), "SIGSEGV"));
    job_release(j);
    job_executor_free(ex);
}

static void test_missing_program(void **state)
{
    job_executor *ex = make_ex(state);
    const char *abs[] = {"/nonexistent/prog", NULL};
    const char *rel[] = {"no-such-program-jobexec", NULL};
    char plain[] = "/tmp/jobexec-noexec-XXXXXX";
    int fd = mkstemp(plain);
    assert_true(fd >= 0);
    close(fd); /* mode 0600: not executable, even by root */
    const char *noexec[] = {plain, NULL};
    job *a = run(ex, abs, NULL);
    job *b = run(ex, rel, NULL);
    job *c = run(ex, noexec, NULL);
    assert_int_equal(job_get_status(a), JOB_FAILED);
    assert_int_equal(job_failure_kind(a), JOB_FAILURE_START);
    assert_string_equal(job_error_message(a),
                        "cannot execute '/nonexistent/prog': No such file or directory");
    assert_int_equal(job_failure_kind(b), JOB_FAILURE_START);
    assert_non_null(strstr(job_error_message(b), "No such file or directory"));
    assert_int_equal(job_failure_kind(c), JOB_FAILURE_START);
    assert_non_null(strstr(job_error_message(c), "Permission denied"));
    unlink(plain);
    job_release(a);
    job_release(b);
    job_release(c);
    job_executor_free(ex);
}

static void test_timeout(void **state)
{
    job_executor *ex = make_ex(state);
    const char *slp[] = {"sleep", "30", NULL};
    job_options o = {.timeout_ms = 100};
    job *j = run(ex, slp, &o);
    assert_int_equal(job_get_status(j), JOB_FAILED);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_TIMEOUT);
    assert_int_equal(job_term_signal(j), SIGTERM);
    job_release(j);
    job_executor_free(ex);
}

static void cancel_when_running(job *j, job_status s, void *ud)
{
    (void)ud;
    if (s == JOB_RUNNING)
        assert_int_equal(job_cancel(j), JOB_OK);
}

static void test_cancel_running(void **state)
{
    job_executor *ex = make_ex(state);
    const char *slp[] = {"sleep", "30", NULL};
    job_options o = {.on_status = cancel_when_running};
    job *j = run(ex, slp, &o);
    assert_int_equal(job_get_status(j), JOB_CANCELED);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_CANCELED);
    assert_int_equal(job_term_signal(j), SIGTERM);
    assert_true(job_status_time_ns(j, JOB_RUNNING) > 0);
    job_release(j);
    job_executor_free(ex);
}

static void test_capture_env_cwd(void **state)
{
    job_executor *ex = make_ex(state);
    const char *argv[] = {"sh", "-c", "echo \"$FOO\"; pwd; echo oops >&2", NULL};
    const char *envp[] = {"FOO=bar baz", "PATH=/usr/bin:/bin", NULL};
    job_command cmd = {.argv = argv, .envp = envp, .cwd = "/"};
    job_options o = {.capture_output = JOB_CAPTURE_ON};
    job *j = NULL;
    assert_int_equal(job_submit_command(ex, &cmd, &o, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n;
    assert_string_equal(job_stdout(j, &n, NULL), "bar baz\n/\n");
    assert_string_equal(job_stderr(j, &n, NULL), "oops\n");
    job_release(j);

    const char *bad[] = {"true", NULL};
    job_command nodir = {.argv = bad, .cwd = "/nonexistent-dir"};
    assert_int_equal(job_submit_command(ex, &nodir, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_START);
    assert_non_null(strstr(job_error_message(j), "No such file or directory"));
    job_release(j);
    job_executor_free(ex);
}


static void test_background_killed(void **state)
{
    job_executor *ex = make_ex(state);
    const char *argv[] = {"sh", "-c", "sleep 300 & echo $!", NULL};
    job_options o = {.capture_output = JOB_CAPTURE_ON};
    job *j = run(ex, argv, &o);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    const char *out = job_stdout(j, NULL, NULL);
    assert_non_null(out);
    pid_t bg = (pid_t)atoi(out);
    assert_true(bg > 1);
    assert_true(process_ends(bg));
    job_release(j);
    job_executor_free(ex);
}

static void test_bad_args(void **state)
{
    job_executor *ex = make_ex(state);
    job_command none = {.argv = NULL};
    const char *empty[] = {NULL};
    job_command e = {.argv = empty};
    job *j = (job *)1;
    assert_int_equal(job_submit_command(ex, &none, NULL, &j), JOB_EINVAL);
    assert_null(j);
    assert_int_equal(job_submit_command(ex, &e, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_command(ex, NULL, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_submit_command(NULL, &e, NULL, NULL), JOB_EINVAL);
    job_executor_free(ex);
}

#define BOTH(f)                                                     \
    cmocka_unit_test_prestate(f, (void *)&DEV),                     \
        cmocka_unit_test_prestate(f, (void *)&STA)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_exit_codes),       BOTH(test_signal),
        BOTH(test_missing_program),  BOTH(test_timeout),
        BOTH(test_cancel_running),   BOTH(test_capture_env_cwd),
        BOTH(test_background_killed), BOTH(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
