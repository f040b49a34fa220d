/* test_loader.c - loading [JOB] from TOML text and files: TOML's quirks
 * that inih does not know, every error and warning with its line, the
 * JOBEXEC_CONFIG_PATH layer, all-or-nothing loads and out-of-memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ini.h>

#include "config_internal.h"

static char tmpdir[] = "/tmp/jx_loader_XXXXXX";

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
    unsetenv("JOBEXEC_CONFIG_PATH");
    job_config_free(*state);
    return 0;
}

/* Writes a file under tmpdir and returns its path (static buffer). */
static const char *write_tmp(const char *name, const char *text, size_t len)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return p;
}

static int load(job_config *cfg, const char *text, job_issues **issues)
{
    return job_config_load_string(cfg, text, strlen(text), "c.toml", issues);
}

/* Asserts that issue i is at `level`, `line`, about `key` (NULL: none),
 * with a message containing `part`. */
static void expect_issue(const job_issues *issues, size_t i,
                         job_issue_level level, unsigned line,
                         const char *key, const char *part)
{
    const job_issue *is = job_issues_get(issues, i);
    if (!is)
        fail_msg("no issue %zu (there are %zu)", i, job_issues_count(issues));
    char text[512];
    job_issue_format(is, text, sizeof(text));
    if (is->level != level || is->line != line)
        fail_msg("issue %zu is <%s>: expected level %d line %u", i, text,
                 (int)level, line);
    if (key ? !is->key || strcmp(is->key, key) : is->key != NULL)
        fail_msg("issue %zu is <%s>: expected key %s", i, text,
                 key ? key : "(none)");
    if (!strstr(is->message, part))
        fail_msg("issue %zu is <%s>: expected message with <%s>", i, text,
                 part);
}

static char *export(const job_config *cfg)
{
    char *s;
    assert_int_equal(job_config_export(cfg, &s, NULL), JOB_OK);
    return s;
}

static void test_typed_file(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    setenv("JX_LOADER_GRACE", "250ms", 1);
    const char *text = "[JOB]\n"
                       "mode = \"standalone\"\n"
                       "nb_of_workers = \"8:int\"\n"
                       "job_timeout = \"1m30s:timedelta\"\n"
                       "capture_output = \"True:bool\"\n"
                       "kill_grace = \"ENV[JX_LOADER_GRACE]:timedelta\"\n"
                       "max_output_bytes = \"4096:int\"\n"
                       "memory_limit = \"1073741824:int\"\n";
    assert_int_equal(load(cfg, text, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 8);
    assert_int_equal(job_config_job_timeout_ms(cfg), 90000);
    assert_true(job_config_capture_output(cfg));
    assert_int_equal(job_config_kill_grace_ms(cfg), 250);
    assert_int_equal(job_config_max_output_bytes(cfg), 4096);
    assert_int_equal(job_config_memory_limit(cfg), 1073741824);
    unsetenv("JX_LOADER_GRACE");
}

static void test_native_and_single_quotes(void **state)
{
    job_config *cfg = *state;
    const char *text = "[JOB]\n"
                       "mode = 'standalone'\n"
                       "nb_of_workers = 1_0\n"
                       "capture_output = true\n"
                       "job_timeout = 90\n"
                       "kill_grace = '2m:timedelta'\n"
                       "memory_limit = 0x100\n";
    assert_int_equal(load(cfg, text, NULL), JOB_OK);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 10);
    assert_true(job_config_capture_output(cfg));
    assert_int_equal(job_config_job_timeout_ms(cfg), 90000);
    assert_int_equal(job_config_kill_grace_ms(cfg), 120000);
    assert_int_equal(job_config_memory_limit(cfg), 256);
}

static void test_comments(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    const char *text = "# a config\n"
                       "; an ini comment\n"
                       "[JOB] # the section\n"
                       "mode = \"standalone\" # trailing comment\n"
                       "nb_of_workers = 3 ; ini-style comment\n"
                       "capture_output = true# no blank before it\n";
    assert_int_equal(load(cfg, text, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 3);
    assert_true(job_config_capture_output(cfg));
    /* Inside quotes '#' and ';' are text: here they make the mode wrong. */
    text = "[JOB]\nmode = \"stand#alone;\" # real comment\n";
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 2, "mode",
                 "unknown mode \"stand#alone;\"");
    assert_string_equal(job_issues_get(issues, 0)->value, "\"stand#alone;\"");
    job_issues_free(issues);
    /* An escaped quote does not end the string. */
    text = "[JOB]\nmode = \"a\\\"#b\" # c\n";
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 2, "mode", "unknown mode \"a\"#b\"");
    job_issues_free(issues);
}

static void test_indented_keys(void **state)
{
    job_config *cfg = *state;
    /* inih would join the indented lines to mode's value. */
    const char *text = "[JOB]\n"
                       "mode = \"standalone\"\n"
                       "    nb_of_workers = 5\n"
                       "\tcapture_output = true\n"
                       "  [TAIPY]\n"
                       "  nb_of_workers = 9\n";
    job_issues *issues;
    assert_int_equal(load(cfg, text, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 5);
    assert_true(job_config_capture_output(cfg));
}

static void test_crlf_bom_spaced_section(void **state)
{
    job_config *cfg = *state;
    const char *text = "\xEF\xBB\xBF[ JOB ]\r\n"
                       "mode = \"standalone\"\r\n"
                       "\r\n"
                       "nb_of_workers = \"6:int\" # six\r\n"
                       "nb_of_workers = \"0:int\"\r\n";
    job_issues *issues;
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    /* CR is not part of the value, and the lines count from 1. */
    assert_int_equal(job_issues_count_level(issues, JOB_ISSUE_ERROR), 1);
    expect_issue(issues, 0, JOB_ISSUE_WARNING, 5, "nb_of_workers",
                 "duplicate key (first set on line 4); the last one is used");
    expect_issue(issues, 1, JOB_ISSUE_ERROR, 5, "nb_of_workers",
                 "must be at least 1");
    assert_string_equal(job_issues_get(issues, 1)->value, "\"0:int\"");
    job_issues_free(issues);
    /* Without the bad line it loads. */
    size_t len = strstr(text, "nb_of_workers = \"0") - text;
    assert_int_equal(job_config_load_string(cfg, text, len, NULL, NULL), JOB_OK);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 6);
    /* [ JOB ] spelled with tabs, and a file without a final newline. */
    assert_int_equal(load(cfg, "[\tJOB  ]\nnb_of_workers = 2", NULL), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 2);
}

static void test_long_lines(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    /* Lines past inih's 200 bytes: a long comment, a long value, a long
     * key, and a long section name, each followed by a line that must keep
     * its own line number. */
    char text[8192];
    char pad[1001];
    memset(pad, 'x', 1000);
    pad[1000] = '\0';
    snprintf(text, sizeof(text),
             "[JOB]\n"
             "mode = \"standalone\"   # %s\n"
             "nb_of_workers = 3\n"
             "unknown_%s = 1\n"
             "capture_output = true\n"
             "mode = \"%s\"\n"
             "kill_grace = \"xyz\"\n"
             "[DATA_NODE.%s]\n"
             "nb_of_workers = 99\n",
             pad, pad, pad, pad);
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    assert_int_equal(job_issues_count(issues), 4);
    assert_int_equal(strncmp(job_issues_get(issues, 0)->key, "unknown_xxx", 11), 0);
    assert_int_equal(strlen(job_issues_get(issues, 0)->key), 1008);
    expect_issue(issues, 0, JOB_ISSUE_WARNING, 4,
                 job_issues_get(issues, 0)->key, "unknown key in [JOB]");
    expect_issue(issues, 1, JOB_ISSUE_WARNING, 6, "mode", "duplicate key");
    expect_issue(issues, 2, JOB_ISSUE_ERROR, 6, "mode", "unknown mode \"xxxx");
    assert_int_equal(strlen(job_issues_get(issues, 2)->value), 1002);
    expect_issue(issues, 3, JOB_ISSUE_ERROR, 7, "kill_grace",
                 "invalid timedelta \"xyz\"");
    job_issues_free(issues);

    /* The same without the errors loads, and the long section is not
     * [JOB]. */
    snprintf(text, sizeof(text),
             "[JOB]\n"
             "mode = \"standalone\"   # %s\n"
             "nb_of_workers = 3\n"
             "capture_output = true\n"
             "[DATA_NODE.%s]\n"
             "nb_of_workers = 99\n",
             pad, pad);
    assert_int_equal(load(cfg, text, NULL), JOB_OK);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 3);
    assert_true(job_config_capture_output(cfg));
}

static void test_other_sections(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    const char *text = "nb_of_workers = 40\n"
                       "[TAIPY]\n"
                       "nb_of_workers = 50\n"
                       "this line is not toml but not ours either\n"
                       "values = [\n"
                       "  [1, 2],\n"
                       "]\n"
                       "[JOB.sub]\n"
                       "nb_of_workers = 60\n"
                       "[[JOB]]\n"
                       "nb_of_workers = 70\n"
                       "[\"JOB\"]\n"
                       "nb_of_workers = 80\n"
                       "[JOB]\n"
                       "nb_of_workers = 2\n"
                       "[DATA_NODE.x]\n"
                       "\"quoted key\" = 1\n"
                       "a:b = c\n"
                       "nb_of_workers = 90\n";
    assert_int_equal(load(cfg, text, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_int_equal(job_config_nb_of_workers(cfg), 2);
}

static void test_section_warnings(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    const char *text = "[job]\n"
                       "nb_of_workers = 9\n"
                       "[JOB]\n"
                       "nb_of_workers = 2\n"
                       "[TAIPY]\n"
                       "[JOB]\n"
                       "mode = \"standalone\"\n";
    assert_int_equal(load(cfg, text, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 2);
    expect_issue(issues, 0, JOB_ISSUE_WARNING, 1, NULL,
                 "section [job] is ignored: section names are case-sensitive; "
                 "did you mean [JOB]?");
    expect_issue(issues, 1, JOB_ISSUE_WARNING, 6, NULL,
                 "section [JOB] appears again (first on line 3)");
    job_issues_free(issues);
    assert_int_equal(job_config_nb_of_workers(cfg), 2);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
}

static void test_unknown_keys_and_duplicates(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    const char *text = "[JOB]\n"
                       "nb_workers = 2\n"
                       "database_url = \"x\"\n"
                       "nb_of_workers = 3\n"
                       "max_nb_of_workers = 4\n"
                       "mode = \"development\"\n"
                       "mode = \"standalone\"\n"
                       "Mode = 1\n";
    assert_int_equal(load(cfg, text, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 5);
    expect_issue(issues, 0, JOB_ISSUE_WARNING, 2, "nb_workers",
                 "unknown key in [JOB], ignored; did you mean nb_of_workers?");
    expect_issue(issues, 1, JOB_ISSUE_WARNING, 3, "database_url",
                 "unknown key in [JOB], ignored (known keys: mode, "
                 "nb_of_workers, job_timeout, capture_output, kill_grace, "
                 "max_output_bytes, memory_limit, max_jobs_per_worker)");
    expect_issue(issues, 2, JOB_ISSUE_WARNING, 5, "max_nb_of_workers",
                 "max_nb_of_workers and nb_of_workers are the same setting "
                 "and both are set (the other on line 4); the last one is "
                 "used");
    expect_issue(issues, 3, JOB_ISSUE_WARNING, 7, "mode",
                 "duplicate key (first set on line 6); the last one is used");
    expect_issue(issues, 4, JOB_ISSUE_WARNING, 8, "Mode", "did you mean mode?");
    job_issues_free(issues);
    /* The last one wins. */
    assert_int_equal(job_config_nb_of_workers(cfg), 4);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
}

static void test_value_errors(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    unsetenv("JX_LOADER_MISSING");
    const char *text = "[JOB]\n"
                       "mode = \"cluster\"\n"                      /* 2 */
                       "nb_of_workers = \"0:int\"\n"               /* 3 */
                       "nb_of_workers = \"-2:int\"\n"              /* 4 */
                       "nb_of_workers = \"8:integer\"\n"           /* 5 */
                       "nb_of_workers = 99999999999999999999\n"    /* 6 */
                       "job_timeout = \"ENV[JX_LOADER_MISSING]\"\n" /* 7 */
                       "capture_output = \"maybe\"\n"              /* 8 */
                       "kill_grace = \"5 parsecs\"\n"              /* 9 */
                       "max_output_bytes = -1\n"                   /* 10 */
                       "memory_limit = \"12:float\"\n"             /* 11 */
                       "job_timeout = \"0s:timedelta\"\n"          /* 12 */
                       "nb_of_workers = 5000\n"                    /* 13 */
                       "mode = \"standalone\n";                    /* 14 */
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    assert_int_equal(job_issues_count_level(issues, JOB_ISSUE_ERROR), 13);
    static const struct {
        unsigned line;
        const char *key, *part;
    } want[] = {
        {2, "mode",
         "unknown mode \"cluster\": expected \"development\" or \"standalone\""},
        {3, "nb_of_workers", "must be at least 1"},
        {4, "nb_of_workers", "must be at least 1"},
        {5, "nb_of_workers",
         "unknown type \"integer\" (known: int, float, bool, str, timedelta)"},
        {6, "nb_of_workers",
         "\"99999999999999999999\" is out of range for an int"},
        {7, "job_timeout", "environment variable JX_LOADER_MISSING is not set"},
        {8, "capture_output", "\"maybe\" is not a bool (true or false)"},
        {9, "kill_grace", "unknown unit \"parsecs\""},
        {10, "max_output_bytes", "must be at least 0"},
        {11, "memory_limit", "expects an int, not a float"},
        {12, "job_timeout",
         "must be greater than 0; leave job_timeout out for no timeout"},
        {13, "nb_of_workers", "must be at most 4096"},
        {14, "mode", "unterminated string: the closing \" is missing"},
    };
    size_t e = 0;
    for (size_t i = 0; i < job_issues_count(issues); i++) {
        if (job_issues_get(issues, i)->level != JOB_ISSUE_ERROR)
            continue;
        expect_issue(issues, i, JOB_ISSUE_ERROR, want[e].line, want[e].key,
                     want[e].part);
        e++;
    }
    assert_int_equal(e, sizeof(want) / sizeof(want[0]));
    job_issues_free(issues);
}

static void test_malformed_lines(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    const char *text = "[JOB]\n"
                       "mode standalone\n"   /* 2 */
                       "= 5\n"               /* 3 */
                       "nb_of_workers =\n"   /* 4 */
                       "nb_of_workers = # only a comment\n" /* 5 */
                       "[JOB\n"              /* 6 */
                       "[JOB]\n"             /* 7 */
                       "[1, 2]\n"            /* 8 */
                       "ignored = 1\n";      /* 9: no known section */
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    assert_int_equal(job_issues_count(issues), 7);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 2, NULL,
                 "malformed line \"mode standalone\": expected key = value");
    expect_issue(issues, 1, JOB_ISSUE_ERROR, 3, NULL,
                 "malformed line: the key before '=' is missing");
    expect_issue(issues, 2, JOB_ISSUE_ERROR, 4, "nb_of_workers",
                 "missing value after '='");
    expect_issue(issues, 3, JOB_ISSUE_ERROR, 5, "nb_of_workers",
                 "missing value after '='");
    expect_issue(issues, 4, JOB_ISSUE_ERROR, 6, NULL,
                 "malformed section header \"[JOB\": expected [NAME]");
    expect_issue(issues, 5, JOB_ISSUE_WARNING, 7, NULL,
                 "section [JOB] appears again");
    expect_issue(issues, 6, JOB_ISSUE_ERROR, 8, NULL,
                 "malformed section header \"[1, 2]\"");
    job_issues_free(issues);

    /* A NUL byte is reported on its line, wherever it is. */
    static const char nul[] = "[TAIPY]\nx = 1\ny = \0\n[JOB]\nmode = 'standalone'\n";
    assert_int_equal(job_config_load_string(cfg, nul, sizeof(nul) - 1, NULL,
                                            &issues),
                     JOB_ECONFIG);
    assert_int_equal(job_issues_count(issues), 1);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 3, NULL, "NUL byte");
    assert_string_equal(job_issues_get(issues, 0)->file, "<string>");
    job_issues_free(issues);
}

static void test_failed_load_changes_nothing(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    assert_int_equal(job_configure_job_executions(cfg, NULL, 2), JOB_OK);
    const char *good = "[JOB]\nmode = \"standalone\"\nnb_of_workers = 3\n"
                       "typo_key = 1\n";
    assert_int_equal(load(cfg, good, NULL), JOB_OK);
    char *before = export(cfg);
    job_issues *notes_before;
    assert_int_equal(job_config_check(cfg, &notes_before), JOB_OK);
    const char *bad = "[JOB]\nnb_of_workers = 7\nmemory_limit = 5\n"
                      "kill_grace = 1s\nmode = \"oops\"\n";
    assert_int_equal(load(cfg, bad, &issues), JOB_ECONFIG);
    job_issues_free(issues);
    char *after = export(cfg);
    assert_string_equal(before, after);
    job_issues *notes_after;
    assert_int_equal(job_config_check(cfg, &notes_after), JOB_OK);
    assert_int_equal(job_issues_count(notes_after), job_issues_count(notes_before));
    expect_issue(notes_after, 0, JOB_ISSUE_WARNING, 4, "typo_key", "unknown key");
    job_issues_free(notes_before);
    job_issues_free(notes_after);
    free(before);
    free(after);
    assert_int_equal(job_config_nb_of_workers(cfg), 3);
}

static void test_files(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    const char *text = "[JOB]\r\n  mode = 'standalone' # x\r\nnb_of_workers = 0\r\n";
    const char *path = write_tmp("f.toml", text, strlen(text));
    assert_int_equal(job_config_load_file(cfg, path, &issues), JOB_ECONFIG);
    assert_int_equal(job_issues_count(issues), 1);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 3, "nb_of_workers",
                 "must be at least 1");
    assert_string_equal(job_issues_get(issues, 0)->file, path);
    job_issues_free(issues);

    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing.toml", tmpdir);
    assert_int_equal(job_config_load_file(cfg, missing, &issues), JOB_EIO);
    assert_int_equal(job_issues_count(issues), 1);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 0, NULL,
                 "cannot read the file: No such file or directory");
    assert_string_equal(job_issues_get(issues, 0)->file, missing);
    job_issues_free(issues);

    assert_int_equal(job_config_load_file(cfg, tmpdir, &issues), JOB_EIO);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 0, NULL, "Is a directory");
    job_issues_free(issues);

    /* An empty file is a valid, empty config. */
    path = write_tmp("empty.toml", "", 0);
    assert_int_equal(job_config_load_file(cfg, path, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);

    /* A file larger than the first read. */
    size_t big = 100000;
    char *bigtext = malloc(big);
    assert_non_null(bigtext);
    memset(bigtext, '#', big);
    for (size_t i = 80; i < big; i += 80)
        bigtext[i] = '\n';
    const char *tail = "\n[JOB]\nnb_of_workers = 12\n";
    memcpy(bigtext + big - strlen(tail), tail, strlen(tail));
    path = write_tmp("big.toml", bigtext, big);
    free(bigtext);
    assert_int_equal(job_config_load_file(cfg, path, NULL), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 12);
}

static void test_env_layer(void **state)
{
    job_config *cfg = *state;
    job_issues *issues;
    const char *envtext = "[JOB]\nnb_of_workers = 6\nnb_workerz = 1\n";
    const char *envpath = write_tmp("env.toml", envtext, strlen(envtext));
    setenv("JOBEXEC_CONFIG_PATH", envpath, 1);
    const char *text = "[JOB]\nmode = \"standalone\"\nnb_of_workers = 3\n";
    assert_int_equal(load(cfg, text, &issues), JOB_OK);
    /* The env file is the stronger layer, and its warning is reported. */
    assert_int_equal(job_config_nb_of_workers(cfg), 6);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_issues_count(issues), 1);
    expect_issue(issues, 0, JOB_ISSUE_WARNING, 3, "nb_workerz", "unknown key");
    assert_string_equal(job_issues_get(issues, 0)->file, envpath);
    job_issues_free(issues);
    const jx_layer *origin = jx_config_origin(cfg, JX_KEY_NB_OF_WORKERS);
    assert_string_equal(origin->file, envpath);
    assert_int_equal(origin->line[JX_KEY_NB_OF_WORKERS], 2);

    /* An error in the env file: nothing is loaded, from either file. */
    const char *badenv = "[JOB]\nnb_of_workers = \"x:int\"\n";
    write_tmp("env.toml", badenv, strlen(badenv));
    text = "[JOB]\nmode = \"development\"\n";
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 2, "nb_of_workers", "not an int");
    assert_string_equal(job_issues_get(issues, 0)->file, envpath);
    job_issues_free(issues);
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);
    assert_int_equal(job_config_nb_of_workers(cfg), 6);

    /* An unreadable env file. */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope.toml", tmpdir);
    setenv("JOBEXEC_CONFIG_PATH", missing, 1);
    assert_int_equal(job_config_load_env(cfg, &issues), JOB_EIO);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 0, NULL, "cannot read the file");
    assert_string_equal(job_issues_get(issues, 0)->file, missing);
    job_issues_free(issues);
    assert_int_equal(job_config_nb_of_workers(cfg), 6);

    /* load_env alone reloads only that layer. */
    const char *env2 = "[JOB]\nkill_grace = \"9s:timedelta\"\n";
    envpath = write_tmp("env2.toml", env2, strlen(env2));
    setenv("JOBEXEC_CONFIG_PATH", envpath, 1);
    assert_int_equal(job_config_load_env(cfg, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_int_equal(job_config_kill_grace_ms(cfg), 9000);
    assert_int_equal(job_config_nb_of_workers(cfg), 3); /* the file's again */
    assert_int_equal(job_config_mode(cfg), JOB_MODE_STANDALONE);

    /* Unset or empty: load_env succeeds and drops the old env layer. */
    setenv("JOBEXEC_CONFIG_PATH", "", 1);
    assert_int_equal(job_config_load_env(cfg, &issues), JOB_OK);
    assert_int_equal(job_issues_count(issues), 0);
    job_issues_free(issues);
    assert_int_equal(job_config_kill_grace_ms(cfg), 5000);
    unsetenv("JOBEXEC_CONFIG_PATH");
    assert_int_equal(job_config_load_env(cfg, NULL), JOB_OK);
    assert_int_equal(job_config_nb_of_workers(cfg), 3);
}

static void test_inih_globals_untouched(void **state)
{
    job_config *cfg = *state;
    /* A host's choices stay as they are, and the loader copes with them. */
    bool multiline = ini_allow_multiline, inline_c = ini_allow_inline_comments;
    bool bom = ini_allow_bom, novalue = ini_allow_no_value;
    bool stop = ini_stop_on_first_error;
    int maxline = ini_max_line;
    ini_allow_no_value = true;
    ini_stop_on_first_error = true;
    const char *text = "[JOB]\nmode standalone\n  nb_of_workers = 0\n"
                       "mode = \"a ;b\"\n";
    job_issues *issues;
    assert_int_equal(load(cfg, text, &issues), JOB_ECONFIG);
    assert_int_equal(job_issues_count(issues), 3);
    expect_issue(issues, 0, JOB_ISSUE_ERROR, 2, NULL, "malformed line");
    expect_issue(issues, 1, JOB_ISSUE_ERROR, 3, "nb_of_workers",
                 "must be at least 1");
    expect_issue(issues, 2, JOB_ISSUE_ERROR, 4, "mode", "unknown mode \"a ;b\"");
    job_issues_free(issues);
    assert_true(ini_allow_no_value);
    assert_true(ini_stop_on_first_error);
    ini_allow_no_value = novalue;
    ini_stop_on_first_error = stop;
    assert_int_equal(ini_allow_multiline, multiline);
    assert_int_equal(ini_allow_inline_comments, inline_c);
    assert_int_equal(ini_allow_bom, bom);
    assert_int_equal(ini_max_line, maxline);
}

static void test_bad_arguments(void **state)
{
    job_config *cfg = *state;
    job_issues *issues = (job_issues *)1;
    assert_int_equal(job_config_load_file(NULL, "x", &issues), JOB_EINVAL);
    assert_null(issues);
    assert_int_equal(job_config_load_file(cfg, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_config_load_string(NULL, "", 0, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_config_load_string(cfg, NULL, 3, NULL, NULL), JOB_EINVAL);
    assert_int_equal(job_config_load_string(cfg, NULL, 0, NULL, NULL), JOB_OK);
    assert_int_equal(job_config_load_env(NULL, NULL), JOB_EINVAL);
}

/* Makes each allocation of a load fail in turn, once or for good: the load
 * must return JOB_ENOMEM and change nothing, or finish as it would have. */
static void oom_loop(const char *text, int want, bool with_env)
{
    for (int sticky = 0; sticky < 2; sticky++) {
        bool completed = false;
        for (long n = 0; n < 1000 && !completed; n++) {
            job_config *c;
            assert_int_equal(job_config_new(&c), JOB_OK);
            assert_int_equal(job_config_set(c, "memory_limit", "77"), JOB_OK);
            char *before = export(c);
            job_issues *issues = NULL;
            jx_alloc_fail_after(n, sticky);
            int rc = job_config_load_string(c, text, strlen(text), NULL,
                                            &issues);
            jx_alloc_fail_after(-1, 0);
            if (rc == JOB_ENOMEM) {
                char *after = export(c);
                assert_string_equal(before, after);
                free(after);
            } else {
                assert_int_equal(rc, want);
                completed = true;
                if (want == JOB_OK) {
                    assert_int_equal(job_config_nb_of_workers(c), 7);
                    assert_int_equal(job_config_kill_grace_ms(c),
                                     with_env ? 2000 : 5000);
                    job_issues *notes = NULL;
                    assert_int_equal(job_config_check(c, &notes), JOB_OK);
                    /* nb_workers, the duplicate, and the env's bad_key. */
                    assert_int_equal(
                        job_issues_count_level(notes, JOB_ISSUE_WARNING),
                        with_env ? 3 : 2);
                    job_issues_free(notes);
                }
            }
            free(before);
            job_issues_free(issues);
            job_config_free(c);
        }
        assert_true(completed);
    }
}

static void test_out_of_memory(void **state)
{
    (void)state;
    setenv("JX_LOADER_OOM", "7", 1);
    const char *envtext = "[JOB]\nkill_grace = 2s\nbad_key = 1\n";
    const char *envpath = write_tmp("oom-env.toml", envtext, strlen(envtext));
    char good[2048];
    char pad[400];
    memset(pad, 'y', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(good, sizeof(good),
             "\xEF\xBB\xBF[TAIPY]\nx = 1\n[ JOB ]\r\n"
             "  mode = \"standalone\" # %s\n"
             "nb_of_workers = \"ENV[JX_LOADER_OOM]:int\"\n"
             "nb_workers = 3\n"
             "job_timeout = \"5s\"\n"
             "job_timeout = \"1m:timedelta\"\n",
             pad);
    const char *bad = "[JOB]\nmode = 'x'\nfoo = 1\nnb_of_workers = 0\n";
    oom_loop(good, JOB_OK, false);
    oom_loop(bad, JOB_ECONFIG, false);
    setenv("JOBEXEC_CONFIG_PATH", envpath, 1);
    oom_loop(good, JOB_OK, true);
    oom_loop(bad, JOB_ECONFIG, true);
    unsetenv("JOBEXEC_CONFIG_PATH");
    unsetenv("JX_LOADER_OOM");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_typed_file),
        T(test_native_and_single_quotes),
        T(test_comments),
        T(test_indented_keys),
        T(test_crlf_bom_spaced_section),
        T(test_long_lines),
        T(test_other_sections),
        T(test_section_warnings),
        T(test_unknown_keys_and_duplicates),
        T(test_value_errors),
        T(test_malformed_lines),
        T(test_failed_load_changes_nothing),
        T(test_files),
        T(test_env_layer),
        T(test_inih_globals_untouched),
        T(test_bad_arguments),
        T(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
