/*
 * standalone.c - jobs in forked worker processes, configured from a file.
 *
 *   usage: standalone [CONFIG]
 *
 * Loads the [JOB] section of CONFIG (by default examples/config.toml, which
 * asks for standalone mode and four workers), then counts the primes below
 * one million in eight slices, one job per slice.  job_submit() returns at
 * once; the dispatcher runs at most nb_of_workers job processes at a time.
 * The program waits for them all and prints each job's result and timings.
 *
 * A file named by the environment variable JOBEXEC_CONFIG_PATH, if set,
 * overrides what CONFIG says.
 */
#define _POSIX_C_SOURCE 200809L /* for clock_gettime */

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jobconfig.h>

#ifndef EXAMPLE_CONFIG
#define EXAMPLE_CONFIG "config.toml"
#endif

#define LIMIT 1000000u
#define SLICES 8
#define PRIMES_BELOW_LIMIT 78498u /* known: pi(10^6) */

/* A job's input: count the primes in [lo, hi). */
struct slice {
    uint64_t lo, hi;
};

/* Written by the jobs.  Each job process has its own copy of the host's
 * memory, taken at fork, so the host never sees these increments. */
static uint64_t numbers_tested;

static int is_prime(uint64_t n)
{
    if (n < 2)
        return 0;
    if (n % 2 == 0)
        return n == 2;
    for (uint64_t d = 3; d * d <= n; d += 2)
        if (n % d == 0)
            return 0;
    return 1;
}

static int count_primes(job_ctx *ctx, const void *input, size_t len)
{
    struct slice s;
    if (len != sizeof(s)) {
        job_fail(ctx, "expected a struct slice, got %zu bytes", len);
        return 1;
    }
    memcpy(&s, input, sizeof(s));
    uint64_t count = 0, step = (s.hi - s.lo) / 10 + 1;
    for (uint64_t n = s.lo; n < s.hi; n++) {
        count += (uint64_t)is_prime(n);
        numbers_tested++;
        if ((n - s.lo) % step == 0)
            job_report_progress(ctx, n - s.lo, s.hi - s.lo);
    }
    job_report_progress(ctx, s.hi - s.lo, s.hi - s.lo);
    /* Captured when capture_output is true, as the example config says. */
    printf("job %" PRIu64 ": %" PRIu64 " primes in [%" PRIu64 ", %" PRIu64
           ")\n",
           job_ctx_id(ctx), count, s.lo, s.hi);
    return job_set_result(ctx, &count, sizeof(count));
}

static double ms_between(int64_t from_ns, int64_t to_ns)
{
    return (double)(to_ns - from_ns) / 1e6;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Loads the config file, printing every issue found.  Returns JOB_OK or
 * the error of the load. */
static int load_config(job_config *cfg, const char *path)
{
    job_issues *issues = NULL;
    int rc = job_config_load_file(cfg, path, &issues);
    char line[512];
    for (size_t i = 0; i < job_issues_count(issues); i++) {
        job_issue_format(job_issues_get(issues, i), line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    job_issues_free(issues);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : EXAMPLE_CONFIG;
    job_config *cfg = NULL;
    job_executor *ex = NULL;
    int rc = job_config_new(&cfg);
    if (rc == JOB_OK)
        rc = load_config(cfg, path);
    if (rc == JOB_OK)
        rc = job_executor_new(cfg, &ex);
    if (rc != JOB_OK) {
        fprintf(stderr, "standalone: %s: %s\n", path, job_strerror(rc));
        job_config_free(cfg);
        return 1;
    }
    printf("%s: %s mode, %d workers, output %s\n", path,
           job_mode_name(job_config_mode(cfg)), job_config_nb_of_workers(cfg),
           job_config_capture_output(cfg) ? "captured" : "not captured");
    int workers = job_config_nb_of_workers(cfg);
    job_config_free(cfg);

    /* By name, as a job journal or a cluster would need. */
    rc = job_executor_register(ex, "count_primes", count_primes);

    job *jobs[SLICES] = {0};
    int64_t start = now_ns();
    for (int i = 0; i < SLICES && rc == JOB_OK; i++) {
        struct slice s = {(uint64_t)LIMIT * i / SLICES,
                          (uint64_t)LIMIT * (i + 1) / SLICES};
        rc = job_submit_named(ex, "count_primes", &s, sizeof(s), NULL,
                              &jobs[i]);
    }
    if (rc == JOB_OK)
        rc = job_executor_wait_all(ex, -1);
    int64_t wall = now_ns() - start;
    if (rc != JOB_OK)
        fprintf(stderr, "standalone: %s\n", job_strerror(rc));

    printf("\n job  status     primes   waited ms   ran ms  progress\n");
    uint64_t total = 0;
    double busy_ms = 0;
    int completed = 0;
    for (int i = 0; i < SLICES && jobs[i]; i++) {
        job *j = jobs[i];
        job_status st = job_get_status(j);
        uint64_t primes = 0, done, of;
        size_t len;
        const void *result = job_result(j, &len);
        if (st == JOB_COMPLETED && len == sizeof(primes)) {
            memcpy(&primes, result, sizeof(primes));
            total += primes;
            completed++;
        }
        int64_t submitted = job_status_time_ns(j, JOB_SUBMITTED);
        int64_t running = job_status_time_ns(j, JOB_RUNNING);
        int64_t ended = job_status_time_ns(j, st);
        double ran = running ? ms_between(running, ended) : 0;
        busy_ms += ran;
        job_get_progress(j, &done, &of);
        printf("%4" PRIu64 "  %-9s %7" PRIu64 "   %9.1f  %7.1f  %3.0f%%\n",
               job_id(j), job_status_name(st), primes,
               running ? ms_between(submitted, running) : 0.0, ran,
               of ? 100.0 * (double)done / (double)of : 0.0);
        if (st != JOB_COMPLETED)
            printf("      error: %s\n", job_error_message(j));
    }

    if (jobs[0]) {
        size_t len;
        const char *out = job_stdout(jobs[0], &len, NULL);
        printf("\nstdout of job 1, captured: %.*s", (int)len, out ? out : "\n");
    }
    printf("%d of %d jobs completed: %" PRIu64 " primes below %u\n", completed,
           SLICES, total, LIMIT);
    printf("%.1f ms of work in %.1f ms on %d workers\n", busy_ms,
           (double)wall / 1e6, workers);
    printf("numbers tested, as the host sees it: %" PRIu64
           " (the jobs counted in their own copies)\n",
           numbers_tested);

    for (int i = 0; i < SLICES; i++)
        job_release(jobs[i]);
    job_executor_free(ex);
    return rc == JOB_OK && completed == SLICES && total == PRIMES_BELOW_LIMIT
               ? 0
               : 1;
}
