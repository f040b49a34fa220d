/* test_issues.c - the job_issues list and how an issue is formatted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config_internal.h"

static void test_format(void **state)
{
    (void)state;
    job_issue is = {JOB_ISSUE_ERROR, "config.toml", 3, "nb_of_workers",
                    "\"0:int\"", "must be at least 1"};
    char buf[256];
    const char *full =
        "ERROR config.toml:3: nb_of_workers = \"0:int\": must be at least 1";
    assert_int_equal(job_issue_format(&is, buf, sizeof(buf)), (int)strlen(full));
    assert_string_equal(buf, full);
    /* Parts not known are left out. */
    is.value = NULL;
    job_issue_format(&is, buf, sizeof(buf));
    assert_string_equal(buf, "ERROR config.toml:3: nb_of_workers: must be at least 1");
    is.line = 0;
    is.key = NULL;
    job_issue_format(&is, buf, sizeof(buf));
    assert_string_equal(buf, "ERROR config.toml: must be at least 1");
    is.file = NULL;
    is.level = JOB_ISSUE_INFO;
    job_issue_format(&is, buf, sizeof(buf));
    assert_string_equal(buf, "INFO must be at least 1");
    is.line = 7;
    is.level = JOB_ISSUE_WARNING;
    job_issue_format(&is, buf, sizeof(buf));
    assert_string_equal(buf, "WARNING line 7: must be at least 1");
}

static void test_format_truncates(void **state)
{
    (void)state;
    job_issue is = {JOB_ISSUE_WARNING, "c.toml", 12, "nb_workers", "2",
                    "unknown key"};
    const char *full = "WARNING c.toml:12: nb_workers = 2: unknown key";
    int need = (int)strlen(full);
    for (size_t size = 0; size <= strlen(full) + 1; size++) {
        char buf[64];
        memset(buf, 'Z', sizeof(buf));
        assert_int_equal(job_issue_format(&is, size ? buf : NULL, size), need);
        if (size) {
            assert_int_equal(strlen(buf), size - 1);
            assert_memory_equal(buf, full, size - 1);
        }
        assert_int_equal(buf[size], 'Z'); /* nothing written past size */
    }
    assert_int_equal(job_issue_format(NULL, NULL, 0), -1);
}

static void test_list(void **state)
{
    (void)state;
    job_issues *list = jx_issues_new();
    assert_non_null(list);
    assert_int_equal(jx_issues_add(list, JOB_ISSUE_WARNING, "f", 1, "k", "v",
                                   "message %d", 1),
                     JOB_OK);
    assert_int_equal(jx_issues_add(list, JOB_ISSUE_ERROR, NULL, 0, NULL, NULL,
                                   "second"),
                     JOB_OK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(jx_issues_add(list, JOB_ISSUE_INFO, "f", 100 + i, NULL,
                                       NULL, "info %d", i),
                         JOB_OK);
    assert_int_equal(job_issues_count(list), 22);
    assert_int_equal(job_issues_count_level(list, JOB_ISSUE_INFO), 20);
    assert_int_equal(job_issues_count_level(list, JOB_ISSUE_ERROR), 1);
    const job_issue *is = job_issues_get(list, 0);
    assert_string_equal(is->file, "f");
    assert_string_equal(is->key, "k");
    assert_string_equal(is->value, "v");
    assert_string_equal(is->message, "message 1");
    is = job_issues_get(list, 1);
    assert_null(is->file);
    assert_null(is->key);
    assert_null(is->value);
    assert_string_equal(job_issues_get(list, 21)->message, "info 19");
    assert_null(job_issues_get(list, 22));
    assert_true(jx_issues_has_line(list, "f", 119));
    assert_false(jx_issues_has_line(list, "g", 119));
    assert_true(jx_issues_has_line(list, NULL, 0));

    job_issues *copy = jx_issues_new();
    assert_int_equal(jx_issues_append(copy, list), JOB_OK);
    assert_int_equal(jx_issues_append(copy, NULL), JOB_OK);
    job_issues_free(list);
    assert_int_equal(job_issues_count(copy), 22);
    assert_string_equal(job_issues_get(copy, 0)->message, "message 1");
    job_issues_free(copy);

    assert_int_equal(job_issues_count(NULL), 0);
    assert_null(job_issues_get(NULL, 0));
    assert_int_equal(job_issues_count_level(NULL, JOB_ISSUE_ERROR), 0);
    job_issues_free(NULL);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    job_issues *list = jx_issues_new();
    assert_non_null(list);
    jx_alloc_fail_after(0, 0);
    assert_int_equal(jx_issues_add(list, JOB_ISSUE_INFO, "f", 1, NULL, NULL, "a"),
                     JOB_ENOMEM);
    jx_alloc_fail_after(1, 0);
    assert_int_equal(jx_issues_add(list, JOB_ISSUE_INFO, "f", 1, NULL, NULL, "a"),
                     JOB_ENOMEM);
    jx_alloc_fail_after(-1, 0);
    assert_int_equal(job_issues_count(list), 0);
    assert_int_equal(jx_issues_add(list, JOB_ISSUE_INFO, "f", 1, NULL, NULL, "a"),
                     JOB_OK);
    assert_int_equal(job_issues_count(list), 1);
    job_issues_free(list);
}

static void test_level_names(void **state)
{
    (void)state;
    assert_string_equal(job_issue_level_name(JOB_ISSUE_INFO), "INFO");
    assert_string_equal(job_issue_level_name(JOB_ISSUE_WARNING), "WARNING");
    assert_string_equal(job_issue_level_name(JOB_ISSUE_ERROR), "ERROR");
    assert_string_equal(job_issue_level_name((job_issue_level)9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_truncates),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
