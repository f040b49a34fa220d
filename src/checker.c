/* checker.c - job_config_check: the warnings kept from loading, and the
 * problems of the resolved values taken together. */
#include <stdio.h>
#include <unistd.h>

#include "config_internal.h"

/* Workers beyond this many per online CPU mostly wait for a CPU. */
#define WORKERS_PER_CPU 4

/* Adds an issue about `key`, placed where its resolved value was set. */
static int about(job_issues *list, const job_config *cfg, int key,
                 job_issue_level level, const char *msg)
{
    const jx_layer *l = jx_config_origin(cfg, key);
    char value[64];
    jx_key_format(key, jx_config_get(cfg, key), value, sizeof(value));
    char quoted[72];
    snprintf(quoted, sizeof(quoted), "\"%s\"", value);
    return jx_issues_add(list, level, l ? l->file : NULL, l ? l->line[key] : 0,
                         jx_keys[key].name, quoted, "%s", msg);
}

/* Values that loading and job_config_set cannot produce; checked anyway so
 * that a config that reaches an executor is known to be sound. */
static int check_ranges(job_issues *list, const job_config *cfg)
{
    for (int k = 0; k < JX_KEY_COUNT; k++) {
        int64_t v = jx_config_get(cfg, k);
        if (jx_keys[k].optional && v == 0 && !jx_config_origin(cfg, k))
            continue;
        if (v < jx_keys[k].min || v > jx_keys[k].max) {
            int rc = about(list, cfg, k, JOB_ISSUE_ERROR, "out of range");
            if (rc != JOB_OK)
                return rc;
        }
    }
    return JOB_OK;
}

static int check_values(job_issues *list, const job_config *cfg)
{
    int rc = check_ranges(list, cfg);
    bool dev = job_config_mode(cfg) == JOB_MODE_DEVELOPMENT;
    if (rc == JOB_OK && dev && job_config_job_timeout_ms(cfg) > 0)
        rc = about(list, cfg, JX_KEY_JOB_TIMEOUT, JOB_ISSUE_INFO,
                   "development mode runs jobs inline and cannot enforce "
                   "job_timeout");
    if (rc == JOB_OK && dev && job_config_memory_limit(cfg) > 0)
        rc = about(list, cfg, JX_KEY_MEMORY_LIMIT, JOB_ISSUE_INFO,
                   "development mode runs jobs inline and cannot enforce "
                   "memory_limit");
    if (rc == JOB_OK && dev && job_config_nb_of_workers(cfg) > 1)
        rc = about(list, cfg, JX_KEY_NB_OF_WORKERS, JOB_ISSUE_INFO,
                   "development mode runs one job at a time; nb_of_workers "
                   "is ignored");
    if (rc == JOB_OK && !job_config_capture_output(cfg) &&
        jx_config_origin(cfg, JX_KEY_MAX_OUTPUT_BYTES))
        rc = about(list, cfg, JX_KEY_MAX_OUTPUT_BYTES, JOB_ISSUE_INFO,
                   "max_output_bytes has no effect while capture_output is "
                   "false");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = job_config_nb_of_workers(cfg);
    if (rc == JOB_OK && !dev && cpus > 0 && workers > cpus * WORKERS_PER_CPU) {
        char msg[JX_MSG_MAX];
        snprintf(msg, sizeof(msg),
                 "%d workers is more than %d per online CPU (%ld CPUs); "
                 "jobs will mostly wait for a CPU",
                 workers, WORKERS_PER_CPU, cpus);
        rc = about(list, cfg, JX_KEY_NB_OF_WORKERS, JOB_ISSUE_WARNING, msg);
    }
    return rc;
}

int job_config_check(const job_config *cfg, job_issues **issues)
{
    if (issues)
        *issues = NULL;
    if (!cfg)
        return JOB_EINVAL;
    job_issues *list = jx_issues_new();
    if (!list)
        return JOB_ENOMEM;
    int rc = jx_issues_append(list, jx_config_notes(cfg, JX_LAYER_FILE));
    if (rc == JOB_OK)
        rc = jx_issues_append(list, jx_config_notes(cfg, JX_LAYER_ENV));
    if (rc == JOB_OK)
        rc = check_values(list, cfg);
    if (rc != JOB_OK) {
        job_issues_free(list);
        return rc;
    }
    if (job_issues_count_level(list, JOB_ISSUE_ERROR))
        rc = JOB_ECONFIG;
    if (issues)
        *issues = list;
    else
        job_issues_free(list);
    return rc;
}
