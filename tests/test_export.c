/* test_export.c - job_config_export and job_config_export_file: the typed
 * format, and that an export loads back to the same config. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_internal.h"

static char tmpdir[] = "/tmp/jx_export_XXXXXX";

static int group_setup(void **state)
{
    (void)state;
    unsetenv("JOBEXEC_CONFIG_PATH");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_same_config(const job_config *a, const job_config *b)
{
    assert_int_equal(job_config_mode(a), job_config_mode(b));
    assert_int_equal(job_config_nb_of_workers(a), job_config_nb_of_workers(b));
    assert_int_equal(job_config_job_timeout_ms(a), job_config_job_timeout_ms(b));
    assert_int_equal(job_config_capture_output(a), job_config_capture_output(b));
    assert_int_equal(job_config_kill_grace_ms(a), job_config_kill_grace_ms(b));
    assert_int_equal(job_config_max_output_bytes(a),
                     job_config_max_output_bytes(b));
    assert_int_equal(job_config_memory_limit(a), job_config_memory_limit(b));
    assert_int_equal(job_config_max_jobs_per_worker(a),
                     job_config_max_jobs_per_worker(b));
}

/* Exports cfg, loads the text into a fresh config, and compares. */
static char *round_trip(const job_config *cfg)
{
    char *text;
    size_t len;
    assert_int_equal(job_config_export(cfg, &text, &len), JOB_OK);
    assert_int_equal(len, strlen(text));
    job_config *back;
    assert_int_equal(job_config_new(&back), JOB_OK);
    job_issues *issues;
    assert_int_equal(job_config_load_string(back, text, len, "export", &issues),
                     JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_same_config(cfg, back);
    char *again;
    assert_int_equal(job_config_export(back, &again, NULL), JOB_OK);
    assert_string_equal(text, again);
    free(again);
    job_config_free(back);
    return text;
}

static void test_defaults(void **state)
{
    (void)state;
    job_config *cfg;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    char *text = round_trip(cfg);
    assert_string_equal(text, "[JOB]\n"
                              "mode = \"development\"\n"
                              "nb_of_workers = \"1:int\"\n"
                              "capture_output = \"False:bool\"\n"
                              "kill_grace = \"5s:timedelta\"\n"
                              "max_output_bytes = \"1048576:int\"\n"
                              "memory_limit = \"0:int\"\n"
                              "max_jobs_per_worker = \"1:int\"\n");
    free(text);
    job_config_free(cfg);
}

static void test_every_key(void **state)
{
    (void)state;
    job_config *cfg;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    const char *src = "[JOB]\n"
                      "mode = standalone\n"
                      "nb_of_workers = 8\n"
                      "job_timeout = 90.5\n"
                      "capture_output = true\n"
                      "kill_grace = \"1d2h3m4s5ms\"\n"
                      "max_output_bytes = 0\n"
                      "memory_limit = 9223372036854775807\n"
                      "max_jobs_per_worker = 0\n";
    assert_int_equal(job_config_load_string(cfg, src, strlen(src), NULL, NULL),
                     JOB_OK);
    char *text = round_trip(cfg);
    assert_string_equal(text, "[JOB]\n"
                              "mode = \"standalone\"\n"
                              "nb_of_workers = \"8:int\"\n"
                              "job_timeout = \"1m30s500ms:timedelta\"\n"
                              "capture_output = \"True:bool\"\n"
                              "kill_grace = \"1d2h3m4s5ms:timedelta\"\n"
                              "max_output_bytes = \"0:int\"\n"
                              "memory_limit = \"9223372036854775807:int\"\n"
                              "max_jobs_per_worker = \"0:int\"\n");
    free(text);
    job_config_free(cfg);
}

static void test_layers_and_extremes(void **state)
{
    (void)state;
    /* Each key at its bounds, set through every layer. */
    static const char *const sets[][2] = {
        {"nb_of_workers", "4096"},     {"job_timeout", "1ms"},
        {"job_timeout", "3650d"},      {"kill_grace", "0"},
        {"kill_grace", "3650d"},       {"max_output_bytes", "1"},
        {"memory_limit", "0"},         {"mode", "development"},
        {"capture_output", "false"},   {"nb_of_workers", "1"},
        {"max_jobs_per_worker", "0"},  {"max_jobs_per_worker", "1000000"},
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        job_config *cfg;
        assert_int_equal(job_config_new(&cfg), JOB_OK);
        assert_int_equal(job_configure_job_executions(cfg, "standalone", 3),
                         JOB_OK);
        char line[128];
        snprintf(line, sizeof(line), "[JOB]\n%s = \"%s\"\n", sets[i][0],
                 sets[i][1]);
        assert_int_equal(job_config_load_string(cfg, line, strlen(line), NULL,
                                                NULL),
                         JOB_OK);
        free(round_trip(cfg));
        job_config_free(cfg);
    }
}

static void test_file(void **state)
{
    (void)state;
    job_config *cfg;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    assert_int_equal(job_configure_job_executions(cfg, "standalone", 5), JOB_OK);
    assert_int_equal(job_config_set(cfg, "job_timeout", "2m"), JOB_OK);
    char path[300];
    snprintf(path, sizeof(path), "%s/out.toml", tmpdir);
    /* Replaces what was there. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old content that is much longer than the new one ...........\n"
          "......................................................................"
          "......................................................................"
          "......................................................................"
          "...........................................................\n", f);
    fclose(f);
    assert_int_equal(job_config_export_file(cfg, path), JOB_OK);
    job_config *back;
    assert_int_equal(job_config_new(&back), JOB_OK);
    assert_int_equal(job_config_load_file(back, path, NULL), JOB_OK);
    assert_same_config(cfg, back);
    assert_int_equal(job_config_job_timeout_ms(back), 120000);
    job_config_free(back);
    /* No temporary file is left beside it. */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", tmpdir);
    assert_int_equal(system(cmd), 0);

    char bad[300];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/out.toml", tmpdir);
    assert_int_equal(job_config_export_file(cfg, bad), JOB_EIO);
    assert_int_equal(job_config_export_file(cfg, tmpdir), JOB_EIO);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(job_config_export_file(NULL, path), JOB_EINVAL);
    assert_int_equal(job_config_export_file(cfg, NULL), JOB_EINVAL);
    assert_int_equal(job_config_export_file(cfg, ""), JOB_EINVAL);
    job_config_free(cfg);
}

static void test_bad_arguments_and_memory(void **state)
{
    (void)state;
    job_config *cfg;
    assert_int_equal(job_config_new(&cfg), JOB_OK);
    char *text = (char *)1;
    size_t len = 99;
    assert_int_equal(job_config_export(NULL, &text, &len), JOB_EINVAL);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(job_config_export(cfg, NULL, NULL), JOB_EINVAL);
    jx_alloc_fail_after(0, 0);
    assert_int_equal(job_config_export(cfg, &text, &len), JOB_ENOMEM);
    jx_alloc_fail_after(-1, 0);
    assert_null(text);
    char path[300];
    snprintf(path, sizeof(path), "%s/oom.toml", tmpdir);
    for (long n = 0; n < 2; n++) {
        jx_alloc_fail_after(n, 0);
        assert_int_equal(job_config_export_file(cfg, path), JOB_ENOMEM);
        jx_alloc_fail_after(-1, 0);
    }
    assert_int_equal(access(path, F_OK), -1);
    job_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_layers_and_extremes),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_bad_arguments_and_memory),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
