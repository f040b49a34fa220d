/* fuzz_config.c - libFuzzer target for the configuration: any text loads
 * without crashing, issues are consistent with the result, and a loaded
 * config exports to text that loads back to the same config. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* A host layer would make runs depend on the machine's files. */
    unsetenv("JOBEXEC_CONFIG_PATH");
    /* Variables for the templates the corpus uses. */
    setenv("JX_FUZZ_INT", "8", 1);
    setenv("JX_FUZZ_TD", "1m30s", 1);
    setenv("JX_FUZZ_MODE", "standalone", 1);
    setenv("JX_FUZZ_BOOL", "True", 1);
    return 0;
}

static void same_config(const job_config *a, const job_config *b)
{
    CHECK(job_config_mode(a) == job_config_mode(b));
    CHECK(job_config_nb_of_workers(a) == job_config_nb_of_workers(b));
    CHECK(job_config_job_timeout_ms(a) == job_config_job_timeout_ms(b));
    CHECK(job_config_capture_output(a) == job_config_capture_output(b));
    CHECK(job_config_kill_grace_ms(a) == job_config_kill_grace_ms(b));
    CHECK(job_config_max_output_bytes(a) == job_config_max_output_bytes(b));
    CHECK(job_config_memory_limit(a) == job_config_memory_limit(b));
}

static void check_issues(const job_issues *issues)
{
    for (size_t i = 0; i < job_issues_count(issues); i++) {
        const job_issue *is = job_issues_get(issues, i);
        CHECK(is && is->message && is->message[0]);
        char small[16], big[2048];
        int need = job_issue_format(is, small, sizeof(small));
        CHECK(need >= 0 && strlen(small) == ((size_t)need < sizeof(small)
                                                 ? (size_t)need
                                                 : sizeof(small) - 1));
        CHECK(job_issue_format(is, big, sizeof(big)) == need);
    }
}

/* The text loads; the issues agree with the result; on success the export
 * loads back to the same config, and on failure nothing changed. */
static void fuzz_load(const char *text, size_t size)
{
    job_config *cfg, *fresh;
    if (job_config_new(&cfg) != JOB_OK || job_config_new(&fresh) != JOB_OK)
        abort();
    job_issues *issues = NULL;
    int rc = job_config_load_string(cfg, text, size, "fuzz", &issues);
    CHECK(rc == JOB_OK || rc == JOB_ECONFIG);
    size_t errors = job_issues_count_level(issues, JOB_ISSUE_ERROR);
    CHECK((rc == JOB_ECONFIG) == (errors > 0));
    check_issues(issues);
    job_issues_free(issues);
    if (rc != JOB_OK)
        same_config(cfg, fresh);

    job_issues *checked = NULL;
    CHECK(job_config_check(cfg, &checked) == JOB_OK);
    check_issues(checked);
    job_issues_free(checked);

    char *out = NULL, *again = NULL;
    size_t len = 0;
    CHECK(job_config_export(cfg, &out, &len) == JOB_OK);
    CHECK(strlen(out) == len);
    job_issues *back_issues = NULL;
    CHECK(job_config_load_string(fresh, out, len, "export", &back_issues) ==
          JOB_OK);
    CHECK(job_issues_count(back_issues) == 0);
    job_issues_free(back_issues);
    same_config(cfg, fresh);
    CHECK(job_config_export(fresh, &again, NULL) == JOB_OK);
    CHECK(strcmp(out, again) == 0);
    free(out);
    free(again);
    job_config_free(cfg);
    job_config_free(fresh);
}

/* The first byte picks a key; the rest is a value for job_config_set and a
 * timedelta for job_parse_timedelta. */
static void fuzz_value(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    char *value = malloc(size);
    if (!value)
        abort();
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';
    job_config *cfg;
    if (job_config_new(&cfg) != JOB_OK)
        abort();
    int key = data[0] % JX_KEY_COUNT;
    int rc = job_config_set(cfg, jx_keys[key].name, value);
    CHECK(rc == JOB_OK || rc == JOB_EINVAL);
    if (rc == JOB_OK) {
        int64_t v = jx_config_get(cfg, key);
        CHECK(v >= jx_keys[key].min && v <= jx_keys[key].max);
        /* What export writes for the key, set sets back. */
        char text[128];
        jx_key_format(key, v, text, sizeof(text));
        job_config *other;
        if (job_config_new(&other) != JOB_OK)
            abort();
        CHECK(job_config_set(other, jx_keys[key].name, text) == JOB_OK);
        CHECK(jx_config_get(other, key) == v);
        job_config_free(other);
    }
    job_config_free(cfg);

    int64_t ms;
    if (job_parse_timedelta(value, &ms) == JOB_OK) {
        CHECK(ms >= 0);
        char td[64];
        jx_format_timedelta(ms, td, sizeof(td));
        int64_t back = -1;
        CHECK(job_parse_timedelta(td, &back) == JOB_OK && back == ms);
    }
    free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load((const char *)data, size);
    fuzz_value(data, size);
    return 0;
}
