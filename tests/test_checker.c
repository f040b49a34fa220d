/* test_checker.c - job_config_check: load warnings kept with the config and
 * the checks on resolved values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_internal.h"

static int setup(void **state)
{
    unsetenv("JOBEXEC_CONFIG_PATH");
    job_config *cfg;
    if (job_config_new(&cfg) != JOB_OK)
        return -1;
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    job_config_free(*state);
    return 0;
}

static job_issues *check(const job_config *cfg, int want_rc)
{
    job_issues *issues = NULL;
    assert_int_equal(job_config_check(cfg, &issues), want_rc);
    assert_non_null(issues);
    return issues;
}

static void expect(const job_issues *issues, size_t i, job_issue_level level,
                   const char *file, unsigned line, const char *key,
                   const char *message)
{
    const job_issue *is = job_issues_get(issues, i);
    assert_non_null(is);
    assert_int_equal(is->level, level);
    if (file)
        assert_string_equal(is->file, file);
    else
        assert_null(is->file);
    assert_int_equal(is->line, line);
    assert_string_equal(is->key, key);
    assert_string_equal(is->message, message);
}

static void test_clean_defaults(void **state)
{
    job_issues *issues = check(*state, JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_int_equal(job_config_check(*state, NULL), JOB_OK);
    assert_int_equal(job_config_check(NULL, &issues), JOB_EINVAL);
    assert_null(issues);
}

static void test_development_infos(void **state)
{
    job_config *cfg = *state;
    const char *text = "[JOB]\n"
                       "job_timeout = \"30s:timedelta\"\n"
                       "nb_of_workers = 4\n"
                       "memory_limit = 1000000\n"
                       "max_output_bytes = 10\n";
    assert_int_equal(job_config_load_string(cfg, text, strlen(text), "dev.toml",
                                            NULL),
                     JOB_OK);
    job_issues *issues = check(cfg, JOB_OK);
    assert_int_equal(job_issues_count(issues), 4);
    expect(issues, 0, JOB_ISSUE_INFO, "dev.toml", 2, "job_timeout",
           "development mode runs jobs inline and cannot enforce job_timeout");
    assert_string_equal(job_issues_get(issues, 0)->value,
                        "\"30s:timedelta\"");
    expect(issues, 1, JOB_ISSUE_INFO, "dev.toml", 4, "memory_limit",
           "development mode runs jobs inline and cannot enforce memory_limit");
    expect(issues, 2, JOB_ISSUE_INFO, "dev.toml", 3, "nb_of_workers",
           "development mode runs one job at a time; nb_of_workers is ignored");
    expect(issues, 3, JOB_ISSUE_INFO, "dev.toml", 5, "max_output_bytes",
           "max_output_bytes has no effect while capture_output is false");
    job_issues_free(issues);

    /* In standalone mode, with capture on, none of them apply. */
    assert_int_equal(job_configure_job_executions(cfg, "standalone", 0), JOB_OK);
    assert_int_equal(job_config_set(cfg, "capture_output", "true"), JOB_OK);
    issues = check(cfg, JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
}

static void test_code_layer_has_no_file(void **state)
{
    job_config *cfg = *state;
    assert_int_equal(job_configure_job_executions(cfg, NULL, 2), JOB_OK);
    job_issues *issues = check(cfg, JOB_OK);
    assert_int_equal(job_issues_count(issues), 1);
    expect(issues, 0, JOB_ISSUE_INFO, NULL, 0, "nb_of_workers",
           "development mode runs one job at a time; nb_of_workers is ignored");
    job_issues_free(issues);
}

static void test_too_many_workers(void **state)
{
    job_config *cfg = *state;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(cpus > 0);
    if (cpus * 4 >= JX_WORKERS_MAX)
        skip();
    char n[32];
    assert_int_equal(job_configure_job_executions(cfg, "standalone",
                                                  (int)cpus * 4),
                     JOB_OK);
    job_issues *issues = check(cfg, JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    snprintf(n, sizeof(n), "%ld", cpus * 4 + 1);
    assert_int_equal(job_config_set(cfg, "nb_of_workers", n), JOB_OK);
    issues = check(cfg, JOB_OK);
    assert_int_equal(job_issues_count(issues), 1);
    char msg[200];
    snprintf(msg, sizeof(msg),
             "%ld workers is more than 4 per online CPU (%ld CPUs); jobs will "
             "mostly wait for a CPU",
             cpus * 4 + 1, cpus);
    expect(issues, 0, JOB_ISSUE_WARNING, NULL, 0, "nb_of_workers", msg);
    job_issues_free(issues);
}

static void test_load_warnings_kept(void **state)
{
    job_config *cfg = *state;
    const char *text = "[JOB]\nmode = \"standalone\"\nnb_workers = 2\n";
    assert_int_equal(job_config_load_string(cfg, text, strlen(text), "w.toml",
                                            NULL),
                     JOB_OK);
    job_issues *issues = check(cfg, JOB_OK);
    assert_int_equal(job_issues_count(issues), 1);
    expect(issues, 0, JOB_ISSUE_WARNING, "w.toml", 3, "nb_workers",
           "unknown key in [JOB], ignored; did you mean nb_of_workers?");
    job_issues_free(issues);
    /* A new load replaces them. */
    assert_int_equal(job_config_load_string(cfg, "", 0, NULL, NULL), JOB_OK);
    issues = check(cfg, JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
}

static void test_out_of_memory(void **state)
{
    job_config *cfg = *state;
    const char *text = "[JOB]\nnb_workers = 2\njob_timeout = 5s\n";
    assert_int_equal(job_config_load_string(cfg, text, strlen(text), NULL, NULL),
                     JOB_OK);
    bool done = false;
    for (long n = 0; n < 20 && !done; n++) {
        job_issues *issues = NULL;
        jx_alloc_fail_after(n, 0);
        int rc = job_config_check(cfg, &issues);
        jx_alloc_fail_after(-1, 0);
        if (rc == JOB_OK) {
            assert_int_equal(job_issues_count(issues), 2);
            done = true;
        } else {
            assert_int_equal(rc, JOB_ENOMEM);
            assert_null(issues);
        }
        job_issues_free(issues);
    }
    assert_true(done);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_clean_defaults),
        T(test_development_infos),
        T(test_code_layer_has_no_file),
        T(test_too_many_workers),
        T(test_load_warnings_kept),
        T(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
