/* issues.c - the job_issues list that the loader and the checker fill. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* Each issue keeps its strings in one block, so that adding an issue is
 * two allocations at most and a failure leaves nothing half made. */
typedef struct jx_issue_slot {
    job_issue issue;
    char *blob;
} jx_issue_slot;

struct job_issues {
    jx_issue_slot *slots;
    size_t count;
    size_t cap;
};

job_issues *jx_issues_new(void)
{
    return jx_calloc(1, sizeof(job_issues));
}

size_t job_issues_count(const job_issues *list)
{
    return list ? list->count : 0;
}

const job_issue *job_issues_get(const job_issues *list, size_t i)
{
    if (!list || i >= list->count)
        return NULL;
    return &list->slots[i].issue;
}

size_t job_issues_count_level(const job_issues *list, job_issue_level level)
{
    size_t n = 0;
    for (size_t i = 0; list && i < list->count; i++)
        if (list->slots[i].issue.level == level)
            n++;
    return n;
}

void job_issues_free(job_issues *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        jx_free(list->slots[i].blob);
    jx_free(list->slots);
    jx_free(list);
}

const char *job_issue_level_name(job_issue_level level)
{
    switch (level) {
    case JOB_ISSUE_INFO:
        return "INFO";
    case JOB_ISSUE_WARNING:
        return "WARNING";
    case JOB_ISSUE_ERROR:
        return "ERROR";
    }
    return "?";
}

/* Copies s (if any) to *at and advances it. */
static const char *blob_put(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *at;
    memcpy(d, s, n);
    *at += n;
    return d;
}

static int add_strings(job_issues *list, job_issue_level level,
                       const char *file, unsigned line, const char *key,
                       const char *value, const char *message)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        jx_issue_slot *s = jx_realloc(list->slots, cap * sizeof(*s));
        if (!s)
            return JOB_ENOMEM;
        list->slots = s;
        list->cap = cap;
    }
    size_t need = strlen(message) + 1;
    if (file)
        need += strlen(file) + 1;
    if (key)
        need += strlen(key) + 1;
    if (value)
        need += strlen(value) + 1;
    char *blob = jx_malloc(need);
    if (!blob)
        return JOB_ENOMEM;
    char *at = blob;
    jx_issue_slot *slot = &list->slots[list->count++];
    slot->blob = blob;
    slot->issue.level = level;
    slot->issue.line = line;
    slot->issue.file = blob_put(&at, file);
    slot->issue.key = blob_put(&at, key);
    slot->issue.value = blob_put(&at, value);
    slot->issue.message = blob_put(&at, message);
    return JOB_OK;
}

int jx_issues_add(job_issues *list, job_issue_level level, const char *file,
                  unsigned line, const char *key, const char *value,
                  const char *fmt, ...)
{
    char msg[JX_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!list)
        return JOB_EINVAL;
    return add_strings(list, level, file, line, key, value, msg);
}

int jx_issues_append(job_issues *dst, const job_issues *src)
{
    for (size_t i = 0; src && i < src->count; i++) {
        const job_issue *is = &src->slots[i].issue;
        int rc = add_strings(dst, is->level, is->file, is->line, is->key,
                             is->value, is->message);
        if (rc != JOB_OK)
            return rc;
    }
    return JOB_OK;
}

bool jx_issues_has_line(const job_issues *list, const char *file,
                        unsigned line)
{
    for (size_t i = 0; list && i < list->count; i++) {
        const job_issue *is = &list->slots[i].issue;
        if (is->line == line &&
            (is->file == file || (is->file && file && !strcmp(is->file, file))))
            return true;
    }
    return false;
}

int job_issue_format(const job_issue *issue, char *buf, size_t size)
{
    if (!issue)
        return -1;
    /* snprintf into a zero-sized buffer only measures; keep buf valid for
     * it either way. */
    char dummy[1];
    if (!buf || size == 0) {
        buf = dummy;
        size = 0;
    }
    size_t len = 0;
    int n;
#define JX_PUT(...)                                                         \
    do {                                                                     \
        n = snprintf(buf + (len < size ? len : size),                       \
                     len < size ? size - len : 0, __VA_ARGS__);              \
        if (n < 0)                                                           \
            return -1;                                                       \
        len += (size_t)n;                                                    \
    } while (0)
    JX_PUT("%s", job_issue_level_name(issue->level));
    if (issue->file) {
        if (issue->line)
            JX_PUT(" %s:%u:", issue->file, issue->line);
        else
            JX_PUT(" %s:", issue->file);
    } else if (issue->line) {
        JX_PUT(" line %u:", issue->line);
    }
    if (issue->key) {
        if (issue->value)
            JX_PUT(" %s = %s:", issue->key, issue->value);
        else
            JX_PUT(" %s:", issue->key);
    }
    JX_PUT(" %s", issue->message ? issue->message : "");
#undef JX_PUT
    return len > (size_t)INT32_MAX ? -1 : (int)len;
}
