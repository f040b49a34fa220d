/*
 * quickstart.c - three C functions run as jobs, in development mode.
 *
 * Development mode runs each job inline: job_submit() returns once the job
 * has finished, with its status, result or error recorded on the handle.
 * Switch the mode to "standalone" and the same code runs every job in a
 * process of its own.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobconfig.h>

/* Counts the words of the input text; the result is a uint64_t. */
static int count_words(job_ctx *ctx, const void *input, size_t len)
{
    const char *text = input;
    uint64_t words = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int letter = !isspace((unsigned char)text[i]);
        words += letter && !in_word;
        in_word = letter;
    }
    return job_set_result(ctx, &words, sizeof(words));
}

/* Returns the input text in capitals. */
static int shout(job_ctx *ctx, const void *input, size_t len)
{
    char *loud = malloc(len ? len : 1);
    if (!loud)
        return 1;
    for (size_t i = 0; i < len; i++)
        loud[i] = (char)toupper(((const unsigned char *)input)[i]);
    int rc = job_set_result(ctx, loud, len);
    free(loud);
    return rc;
}

/* Fails, with a message, when the input is not a number. */
static int parse_number(job_ctx *ctx, const void *input, size_t len)
{
    char text[32];
    char *end;
    snprintf(text, sizeof(text), "%.*s", (int)len, (const char *)input);
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0') {
        job_fail(ctx, "\"%s\" is not a number", text);
        return 1;
    }
    return job_set_result(ctx, &value, sizeof(value));
}

/* Printers for the three kinds of result. */
static void print_count(const void *result, size_t len)
{
    uint64_t words = 0;
    memcpy(&words, result, len < sizeof(words) ? len : sizeof(words));
    printf("%llu words\n", (unsigned long long)words);
}

static void print_text(const void *result, size_t len)
{
    printf("\"%.*s\"\n", (int)len, (const char *)result);
}

static void print_number(const void *result, size_t len)
{
    long value = 0;
    memcpy(&value, result, len < sizeof(value) ? len : sizeof(value));
    printf("%ld\n", value);
}

int main(void)
{
    static const struct {
        const char *label;
        job_fn fn;
        const char *input;
        void (*print)(const void *result, size_t len);
    } jobs[] = {
        {"count_words", count_words, "the quick brown fox", print_count},
        {"shout", shout, "hello, jobs", print_text},
        {"parse_number", parse_number, "42", print_number},
        {"parse_number", parse_number, "forty-two", print_number},
    };

    job_config *cfg = NULL;
    job_executor *ex = NULL;
    int rc = job_config_new(&cfg);
    if (rc == JOB_OK)
        rc = job_configure_job_executions(cfg, "development", 0);
    if (rc == JOB_OK)
        rc = job_executor_new(cfg, &ex);
    job_config_free(cfg); /* the executor keeps a copy */
    if (rc != JOB_OK) {
        fprintf(stderr, "quickstart: %s\n", job_strerror(rc));
        return 1;
    }

    printf("jobexec %s, %s mode\n", job_version(),
           job_mode_name(job_executor_mode(ex)));
    int failures = 0;
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        job_options opts = {.label = jobs[i].label};
        job *j;
        rc = job_submit(ex, jobs[i].fn, jobs[i].input, strlen(jobs[i].input),
                        &opts, &j);
        if (rc != JOB_OK) {
            fprintf(stderr, "quickstart: submit: %s\n", job_strerror(rc));
            failures++;
            continue;
        }
        /* Development mode: the job has finished already. */
        printf("job %llu  %-13s %-10s", (unsigned long long)job_id(j),
               jobs[i].label, job_status_name(job_get_status(j)));
        if (job_get_status(j) == JOB_COMPLETED) {
            size_t len;
            const void *result = job_result(j, &len);
            jobs[i].print(result, len);
        } else {
            printf("error: %s\n", job_error_message(j));
        }
        job_release(j);
    }
    job_executor_free(ex);
    return failures ? 1 : 0;
}
