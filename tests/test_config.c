/* test_config.c - job_config values: defaults, the code layer, layer
 * precedence, job_config_set, dup and the getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static void load_ok(job_config *cfg, const char *text)
{
    job_issues *issues = NULL;
    int rc = job_config_load_string(cfg, text, strlen(text), "t.toml", &issues);
    assert_int_equal(rc, JOB_OK);
    job_issues_free(issues);
}

static void test_defaults(void **state)
{
    job_config *cfg = *state;
    assert_int_equal(job_config_mode(cfg), JOB_MODE_DEVELOPMENT);
    assert_int_equal(job_config_nb_of_workers(cfg), 1);
    assert_int_equal(job_config_job_timeout_ms(cfg), 0);
    assert_false(job_config_capture_output(cfg));
    assert_int_equal(job_config_kill_grace_ms(cfg), 5000);
    assert_int_equal(job_config_max_output_bytes(cfg), 1048576);
    assert_int_equal(job_config_memory_limit(cfg), 0);
    assert_int_equal(job_config_new(NULL), JOB_EINVAL);
    job_config_free(NULL);
}

static void test_mode_name(void **state)
{
    (void)state;
    assert_string_equal(job_mode_name(JOB_MODE_DEVELOPMENT), "development");
    assert_string_equal(job_mode_name(JOB_MODE_STANDALONE), "standalone");
    assert_string_equal(job_mode_name((job_mode)7), "?");
}

static void test_configure_job_executions(void **state)
{
    job_config *cfg = *state;
    assert_int_equal(job_configure_job_executions(cfg, "standalone", 8), JOB_OK);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 8);
    /* NULL mode and 0 workers keep what is there. */
    assert_int_equal(job_configure_job_executions(cfg, NULL, 3), JOB_OK);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 3);
    assert_int_equal(job_configure_job_executions(cfg, "development", 0), JOB_OK);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_DEVELOPMENT);
    assert_int_equal(job_config_nb_of_workers(cfg), 3);
    /* Errors change nothing, even the valid half of the call. */
    assert_int_equal(job_configure_job_executions(cfg, "cluster", 5), JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(cfg, "standalone", -1),
                     JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(cfg, "standalone",
                                                  JX_WORKERS_MAX + 1),
                     JOB_EINVAL);
    assert_int_equal(job_configure_job_executions(NULL, "standalone", 1),
                     JOB_EINVAL);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_DEVELOPMENT);
    assert_int_equal(job_config_nb_of_workers(cfg), 3);
    assert_int_equal(job_configure_job_executions(cfg, NULL, JX_WORKERS_MAX),
                     JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), JX_WORKERS_MAX);
}

static void test_set(void **state)
{
    job_config *cfg = *state;
    assert_int_equal(job_config_set(cfg, "mode", "standalone"), JOB_OK);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_set(cfg, "nb_of_workers", "\"8:int\""), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 8);
    assert_int_equal(job_config_set(cfg, "max_nb_of_workers", "6"), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 6);
    assert_int_equal(job_config_set(cfg, "nb_of_workers", "\"5\""), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 5);
    assert_int_equal(job_config_set(cfg, "job_timeout", "'2m:timedelta'"), JOB_OK);
    assert_int_equal(job_config_job_timeout_ms(cfg), 120000);
    assert_int_equal(job_config_set(cfg, "job_timeout", "90"), JOB_OK);
    assert_int_equal(job_config_job_timeout_ms(cfg), 90000);
    assert_int_equal(job_config_set(cfg, "job_timeout", "1.5"), JOB_OK);
    assert_int_equal(job_config_job_timeout_ms(cfg), 1500);
    assert_int_equal(job_config_set(cfg, "job_timeout", "\"250ms\""), JOB_OK);
    assert_int_equal(job_config_job_timeout_ms(cfg), 250);
    assert_int_equal(job_config_set(cfg, "capture_output", "true"), JOB_OK);
    assert_true(job_config_capture_output(cfg));
    assert_int_equal(job_config_set(cfg, "capture_output", "\"False:bool\""),
                     JOB_OK);
    assert_false(job_config_capture_output(cfg));
    assert_int_equal(job_config_set(cfg, "capture_output", "TRUE"), JOB_OK);
    assert_true(job_config_capture_output(cfg));
    assert_int_equal(job_config_set(cfg, "kill_grace", "0s"), JOB_OK);
    assert_int_equal(job_config_kill_grace_ms(cfg), 0);
    assert_int_equal(job_config_set(cfg, "max_output_bytes", "0"), JOB_OK);
    assert_int_equal(job_config_max_output_bytes(cfg), 0);
    assert_int_equal(job_config_set(cfg, "memory_limit", "1_073_741_824"),
                     JOB_OK);
    assert_int_equal(job_config_memory_limit(cfg), 1073741824);
    assert_int_equal(job_config_set(cfg, "memory_limit", "9223372036854775807"),
                     JOB_OK);
    assert_int_equal(job_config_memory_limit(cfg), INT64_MAX);
    setenv("JX_TEST_SET_WORKERS", "11", 1);
    assert_int_equal(job_config_set(cfg, "nb_of_workers",
                                    "\"ENV[JX_TEST_SET_WORKERS]:int\""),
                     JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 11);
    /* Resolved now: a later change of the variable does not matter. */
    setenv("JX_TEST_SET_WORKERS", "12", 1);
    assert_int_equal(job_config_nb_of_workers(cfg), 11);
    unsetenv("JX_TEST_SET_WORKERS");
}

static void test_set_rejects(void **state)
{
    job_config *cfg = *state;
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"mode", "cluster"},
        {"mode", "Standalone"},
        {"mode", "1"},
        {"mode", "\"standalone:int\""},
        {"nb_of_workers", "0"},
        {"nb_of_workers", "\"0:int\""},
        {"nb_of_workers", "\"-2:int\""},
        {"nb_of_workers", "4097"},
        {"nb_of_workers", "99999999999999999999"},
        {"nb_of_workers", "1.5"},
        {"nb_of_workers", "\"8:str\""},
        {"nb_of_workers", "\"8:integer\""},
        {"nb_of_workers", "eight"},
        {"nb_of_workers", "true"},
        {"nb_of_workers", ""},
        {"job_timeout", "0"},
        {"job_timeout", "\"0s:timedelta\""},
        {"job_timeout", "-5"},
        {"job_timeout", "-1.5"},
        {"job_timeout", "nan"},
        {"job_timeout", "3651d"},
        {"job_timeout", "1e300"},
        {"job_timeout", "999999999999999999"},
        {"job_timeout", "true"},
        {"kill_grace", "-1s"},
        {"capture_output", "1"},
        {"capture_output", "yes"},
        {"capture_output", "\"true:str\""},
        {"max_output_bytes", "-1"},
        {"memory_limit", "-1"},
        {"memory_limit", "\"ENV[JX_TEST_UNSET_VARIABLE]:int\""},
        {"nb_workers", "2"},
        {"", "2"},
    };
    unsetenv("JX_TEST_UNSET_VARIABLE");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = job_config_set(cfg, cases[i].key, cases[i].value);
        if (rc != JOB_EINVAL)
            fail_msg("job_config_set(%s, %s) gave %d", cases[i].key,
                     cases[i].value, rc);
    }
    assert_int_equal(job_config_set(NULL, "mode", "standalone"), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, NULL, "standalone"), JOB_EINVAL);
    assert_int_equal(job_config_set(cfg, "mode", NULL), JOB_EINVAL);
    /* Nothing was changed by any of them. */
    job_config *fresh;
    assert_int_equal(job_config_new(&fresh), JOB_OK);
    char *a, *b;
    assert_int_equal(job_config_export(cfg, &a, NULL), JOB_OK);
    assert_int_equal(job_config_export(fresh, &b, NULL), JOB_OK);
    assert_string_equal(a, b);
    free(a);
    free(b);
    job_config_free(fresh);
}

static void test_range_messages(void **state)
{
    (void)state;
    char msg[JX_MSG_MAX];
    int64_t v;
    assert_int_equal(jx_key_parse(JX_KEY_NB_OF_WORKERS, "\"0:int\"", &v, msg,
                                  sizeof(msg)),
                     JOB_EINVAL);
    assert_string_equal(msg, "must be at least 1");
    assert_int_equal(jx_key_parse(JX_KEY_NB_OF_WORKERS, "5000", &v, msg,
                                  sizeof(msg)),
                     JOB_EINVAL);
    assert_string_equal(msg, "must be at most 4096");
    assert_int_equal(jx_key_parse(JX_KEY_JOB_TIMEOUT, "0", &v, msg, sizeof(msg)),
                     JOB_EINVAL);
    assert_string_equal(msg,
                        "must be greater than 0; leave job_timeout out for no "
                        "timeout");
    assert_int_equal(jx_key_parse(JX_KEY_KILL_GRACE, "3651d", &v, msg,
                                  sizeof(msg)),
                     JOB_EINVAL);
    assert_string_equal(msg, "must be at most 3650d");
    assert_int_equal(jx_key_parse(JX_KEY_MODE, "cluster", &v, msg, sizeof(msg)),
                     JOB_EINVAL);
    assert_string_equal(msg, "unknown mode \"cluster\": expected \"development\" "
                             "or \"standalone\"");
    assert_int_equal(jx_key_parse(JX_KEY_NB_OF_WORKERS, "1.5", &v, msg,
                                  sizeof(msg)),
                     JOB_EINVAL);
    assert_string_equal(msg, "expects an int, not a float");
    assert_int_equal(jx_key_parse(JX_KEY_MODE, "8", &v, msg, sizeof(msg)),
                     JOB_EINVAL);
    assert_string_equal(msg, "expects a mode (\"development\" or \"standalone\"), "
                             "not an int");
}

static void test_key_table(void **state)
{
    (void)state;
    assert_int_equal(jx_key_lookup("mode"), JX_KEY_MODE);
    assert_int_equal(jx_key_lookup("max_nb_of_workers"), JX_KEY_NB_OF_WORKERS);
    assert_int_equal(jx_key_lookup("Mode"), -1);
    assert_string_equal(jx_key_suggest("nb_workers"), "nb_of_workers");
    assert_string_equal(jx_key_suggest("Mode"), "mode");
    assert_string_equal(jx_key_suggest("job_timout"), "job_timeout");
    assert_string_equal(jx_key_suggest("max_nb_of_worker"), "max_nb_of_workers");
    assert_null(jx_key_suggest("database_url"));
    assert_null(jx_key_suggest(""));
}

static void test_layers(void **state)
{
    job_config *cfg = *state;
    /* Code sets a value; a file that sets it too wins. */
    assert_int_equal(job_configure_job_executions(cfg, "standalone", 4), JOB_OK);
    assert_int_equal(job_config_set(cfg, "kill_grace", "1s"), JOB_OK);
    load_ok(cfg, "[JOB]\nnb_of_workers = 2\n");
    assert_int_equal(job_config_nb_of_workers(cfg), 2);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_kill_grace_ms(cfg), 1000);
    /* Set from code after the file: the file still wins, as in Taipy. */
    assert_int_equal(job_configure_job_executions(cfg, NULL, 7), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 2);
    /* A new file replaces the old file layer: the code value shows again. */
    load_ok(cfg, "[JOB]\nmode = \"development\"\n");
    assert_int_equal(job_config_nb_of_workers(cfg), 7);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_DEVELOPMENT);
    const jx_layer *origin = jx_config_origin(cfg, JX_KEY_MODE);
    assert_non_null(origin);
    assert_string_equal(origin->file, "t.toml");
    assert_int_equal(origin->line[JX_KEY_MODE], 2);
    assert_null(jx_config_origin(cfg, JX_KEY_MEMORY_LIMIT));
}

static void test_dup(void **state)
{
    job_config *cfg = *state;
    assert_int_equal(job_configure_job_executions(cfg, "standalone", 4), JOB_OK);
    job_issues *issues;
    const char *text = "[JOB]\nnb_of_workers = 3\nnb_workers = 9\n";
    assert_int_equal(job_config_load_string(cfg, text, strlen(text), "d.toml",
                                            &issues),
                     JOB_OK);
    job_issues_free(issues);
    job_config *copy;
    assert_int_equal(job_config_dup(cfg, &copy), JOB_OK);
    job_config_free(cfg);
    *state = NULL;
    /* The copy stands alone: layers and the recorded warning. */
    assert_int_equal(job_config_mode(copy), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(copy), 3);
    assert_int_equal(job_config_check(copy, &issues), JOB_OK);
    assert_int_equal(job_issues_count_level(issues, JOB_ISSUE_WARNING), 1);
    const job_issue *is = job_issues_get(issues, 0);
    assert_string_equal(is->file, "d.toml");
    assert_int_equal(is->line, 3);
    assert_string_equal(is->key, "nb_workers");
    job_issues_free(issues);
    /* The code layer was copied too: drop the file layer to see it. */
    assert_int_equal(job_config_load_string(copy, "", 0, NULL, NULL), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(copy), 4);
    assert_int_equal(job_config_dup(NULL, &copy), JOB_EINVAL);
    assert_int_equal(job_config_dup(copy, NULL), JOB_EINVAL);
    job_config_free(copy);
}

static void test_dup_out_of_memory(void **state)
{
    job_config *cfg = *state;
    const char *text = "[JOB]\nnb_of_workers = 3\nnb_workers = 9\nfoo = 1\n";
    assert_int_equal(job_config_load_string(cfg, text, strlen(text), "d.toml",
                                            NULL),
                     JOB_OK);
    bool done = false;
    for (long n = 0; n < 50 && !done; n++) {
        job_config *copy = NULL;
        jx_alloc_fail_after(n, 0);
        int rc = job_config_dup(cfg, &copy);
        jx_alloc_fail_after(-1, 0);
        if (rc == JOB_OK) {
            done = true;
            assert_int_equal(job_config_nb_of_workers(copy), 3);
            job_config_free(copy);
        } else {
            assert_int_equal(rc, JOB_ENOMEM);
        }
    }
    assert_true(done);
}

static void test_null_getters(void **state)
{
    (void)state;
    /* The header says cfg must not be NULL; the getters still answer the
     * defaults rather than crash. */
    assert_int_equal(job_config_mode(NULL), JOB_MODE_DEVELOPMENT);
    assert_int_equal(job_config_nb_of_workers(NULL), 1);
    assert_int_equal(job_config_kill_grace_ms(NULL), 5000);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_mode_name),
        T(test_configure_job_executions),
        T(test_set),
        T(test_set_rejects),
        T(test_range_messages),
        T(test_key_table),
        T(test_layers),
        T(test_dup),
        T(test_dup_out_of_memory),
        T(test_null_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
