/* graph.c - a job graph: download -> parse -> aggregate.
 *
 * Three "downloads" produce text, three "parse" jobs each count the words
 * of one download, and an "aggregate" job adds the counts.  Each job reads
 * its prerequisites' results through its context, so no data passes
 * through the host.  A fourth download fails on purpose: its parse job is
 * ABANDONED, and so is the report that needs it.
 *
 *   graph [development|standalone]
 *
 * Both modes print the same lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobconfig.h>

static const char *const pages[] = {
    "the quick brown fox",
    "jumps over the lazy dog",
    "and runs away",
};

/* Input: the page number.  Result: the page's text. */
static int download(job_ctx *ctx, const void *input, size_t len)
{
    int page;
    if (len != sizeof(page))
        return 1;
    memcpy(&page, input, sizeof(page));
    if (page >= 3) {
        job_fail(ctx, "page %d: connection refused", page);
        return 1;
    }
    return job_set_result(ctx, pages[page], strlen(pages[page]));
}

/* Result: the number of words of its one prerequisite's text. */
static int parse(job_ctx *ctx, const void *input, size_t len)
{
    (void)input;
    (void)len;
    size_t n;
    const char *text = job_ctx_prereq_result(ctx, 0, &n);
    long words = 0;
    for (size_t i = 0; i < n; i++)
        if (text[i] != ' ' && (i == 0 || text[i - 1] == ' '))
            words++;
    return job_set_result(ctx, &words, sizeof(words));
}

/* Result: the sum of its prerequisites' counts. */
static int aggregate(job_ctx *ctx, const void *input, size_t len)
{
    (void)input;
    (void)len;
    long total = 0;
    for (size_t i = 0; i < job_ctx_prereq_count(ctx); i++) {
        long words;
        size_t n;
        const void *r = job_ctx_prereq_result(ctx, i, &n);
        if (n != sizeof(words))
            return 1;
        memcpy(&words, r, sizeof(words));
        total += words;
    }
    return job_set_result(ctx, &total, sizeof(total));
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "development";
    job_config *cfg;
    job_executor *ex;
    if (job_config_new(&cfg) != JOB_OK ||
        job_configure_job_executions(cfg, mode, 2) != JOB_OK ||
        job_executor_new(cfg, &ex) != JOB_OK) {
        fprintf(stderr, "graph: cannot set up mode '%s'\n", mode);
        return 1;
    }
    job_config_free(cfg);

    /* Jobs 0-3 download, 4-7 parse, 8 aggregates pages 0-2, 9 pages 0-3. */
    static const int page[4] = {0, 1, 2, 3};
    static const size_t p0[] = {0}, p1[] = {1}, p2[] = {2}, p3[] = {3};
    static const size_t three[] = {4, 5, 6}, four[] = {4, 5, 6, 7};
    static const char *const labels[] = {
        "download 0", "download 1", "download 2", "download 3",
        "parse 0", "parse 1", "parse 2", "parse 3",
        "aggregate 0-2", "aggregate 0-3",
    };
    job_spec specs[10];
    memset(specs, 0, sizeof(specs));
    const size_t *parse_after[4] = {p0, p1, p2, p3};
    for (int i = 0; i < 4; i++) {
        specs[i].fn = download;
        specs[i].input = &page[i];
        specs[i].input_len = sizeof(page[i]);
        specs[4 + i].fn = parse;
        specs[4 + i].after_idx = parse_after[i];
        specs[4 + i].n_after_idx = 1;
    }
    specs[8] = (job_spec){.fn = aggregate, .after_idx = three, .n_after_idx = 3};
    specs[9] = (job_spec){.fn = aggregate, .after_idx = four, .n_after_idx = 4};
    for (int i = 0; i < 10; i++)
        specs[i].opts.label = labels[i];

    job_submission *s;
    int rc = job_submit_graph(ex, specs, 10, NULL, NULL, &s);
    if (rc != JOB_OK) {
        fprintf(stderr, "graph: %s\n", job_strerror(rc));
        return 1;
    }
    job_submission_wait(s, -1);
    for (size_t i = 0; i < job_submission_count(s); i++) {
        job *j = job_submission_job(s, i);
        printf("%-14s %-10s", job_label(j), job_status_name(job_get_status(j)));
        size_t n;
        const void *r = job_result(j, &n);
        if (job_get_status(j) != JOB_COMPLETED)
            printf(" %s", job_error_message(j));
        else if (i < 4)
            printf(" \"%.*s\"", (int)n, (const char *)r);
        else if (n == sizeof(long))
            printf(" %ld words", *(const long *)r);
        printf("\n");
    }
    printf("submission: %s\n", job_status_name(job_submission_status(s)));
    job_submission_release(s);
    job_executor_free(ex);
    return 0;
}
