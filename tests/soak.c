/*
 * soak.c - the soak run behind tests/soak.sh: mixed jobs, in both modes,
 * for a given number of seconds, with executors torn down and made again
 * now and then.  At each sample the executors are freed (reused workers
 * hold fds while they live), and the process's RSS, open fds and zombie
 * children are taken, written to the log, and judged: fds and zombies
 * must come back to exactly where they were, and RSS may not grow past
 * its warmed-up level by more than a margin.
 *
 *   soak_jobexec SECONDS [SAMPLE_SECONDS [LOG]]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_util.h"

struct soak_shared {
    _Atomic int started;
};
static struct soak_shared *sh;
static uint64_t seed = 88172645463325252ull;

static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (uint32_t)seed;
}

/* ---- jobs ----------------------------------------------------------------- */

static int fn_echo(job_ctx *ctx, const void *in, size_t len)
{
    return job_set_result(ctx, in, len) == JOB_OK ? 0 : 1;
}

static int fn_sized(job_ctx *ctx, const void *in, size_t len)
{
    (void)len;
    size_t n = *(const uint32_t *)in;
    unsigned char *b = malloc(n ? n : 1);
    if (!b)
        return 2;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 7u);
    for (uint64_t i = 0; i < 4; i++)
        job_report_progress(ctx, i, 4);
    int rc = job_set_result(ctx, b, n);
    free(b);
    return rc == JOB_OK ? 0 : 1;
}

static int fn_fail(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    job_fail(ctx, "soak failure %d", 7);
    return 0;
}

static int fn_print(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    for (int i = 0; i < 200; i++)
        printf("soak line %d of output that is captured\n", i);
    fprintf(stderr, "soak stderr\n");
    return 0;
}

static int fn_segv(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    volatile char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ((void *)p != MAP_FAILED)
        p[0] = 1;
    return 9;
}

static int fn_exit3(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    _exit(3);
}

static int fn_spin(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    atomic_fetch_add(&sh->started, 1);
    volatile unsigned long x = 0;
    while (x != ~0ul)
        x++;
    return 0;
}

/* Leaves a child behind (the library kills it with the group). */
static int fn_orphan(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    pid_t p = fork();
    if (p == 0) {
        for (;;)
            pause();
    }
    return p < 0;
}

static int fn_sum_prereqs(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    uint32_t sum = 0;
    for (size_t i = 0; i < job_ctx_prereq_count(ctx); i++) {
        size_t n = 0;
        const unsigned char *r = job_ctx_prereq_result(ctx, i, &n);
        for (size_t k = 0; k < n; k++)
            sum += r[k];
    }
    return job_set_result(ctx, &sum, sizeof(sum)) == JOB_OK ? 0 : 1;
}

/* ---- one round ------------------------------------------------------------ */

#define ROUND 48

static int round_of_jobs(job_executor *ex, bool inline_mode, long *count)
{
    job *js[ROUND + 8];
    int n = 0, bad = 0;
    const char *true_argv[] = {"/bin/true", NULL};
    const char *two_argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 2", NULL};
    const char *bg_argv[] = {"/bin/sh", "-c", "sleep 30 & exit 0", NULL};
    const char *missing_argv[] = {"/nonexistent/soak", NULL};
    for (int i = 0; i < ROUND; i++) {
        job_options o = {.capture_output = rnd() % 3 == 0 ? JOB_CAPTURE_ON : JOB_CAPTURE_DEFAULT};
        job *j = NULL;
        int rc;
        uint32_t size = rnd() % 3 == 0 ? rnd() % (256u << 10) : rnd() % 64;
        unsigned kind = rnd() % (inline_mode ? 8 : 13);
        job_command c = {.argv = true_argv};
        switch (kind) {
        case 0: rc = job_submit(ex, fn_echo, &size, sizeof(size), &o, &j); break;
        case 1: rc = job_submit(ex, fn_sized, &size, sizeof(size), &o, &j); break;
        case 2: rc = job_submit(ex, fn_fail, NULL, 0, &o, &j); break;
        case 3: rc = job_submit(ex, fn_print, NULL, 0, &o, &j); break;
        case 4: rc = job_submit_command(ex, &c, &o, &j); break;
        case 5: c.argv = two_argv; rc = job_submit_command(ex, &c, &o, &j); break;
        case 6: c.argv = missing_argv; rc = job_submit_command(ex, &c, &o, &j); break;
        case 7: {
            o.timeout_ms = 30;
            c.argv = bg_argv;
            rc = job_submit_command(ex, &c, &o, &j);
            break;
        }
        case 8: rc = job_submit(ex, fn_segv, NULL, 0, &o, &j); break;
        case 9: rc = job_submit(ex, fn_exit3, NULL, 0, &o, &j); break;
        case 10:
            o.timeout_ms = 20;
            rc = job_submit(ex, fn_spin, NULL, 0, &o, &j);
            break;
        case 11:
            rc = job_submit(ex, fn_spin, NULL, 0, &o, &j);
            if (rc == JOB_OK)
                job_cancel(j);
            break;
        default: rc = job_submit(ex, fn_orphan, NULL, 0, &o, &j); break;
        }
        if (rc != JOB_OK) {
            fprintf(stderr, "soak: submit failed: %s\n", job_strerror(rc));
            bad++;
            continue;
        }
        js[n++] = j;
    }
    /* A small graph: two jobs feeding a third. */
    job_spec specs[3] = {
        {.fn = fn_echo, .input = "ab", .input_len = 2},
        {.fn = fn_echo, .input = "c", .input_len = 1},
        {.fn = fn_sum_prereqs},
    };
    size_t idx[2] = {0, 1};
    specs[2].after_idx = idx;
    specs[2].n_after_idx = 2;
    job_submission *s = NULL;
    if (job_submit_graph(ex, specs, 3, NULL, NULL, &s) != JOB_OK) {
        fprintf(stderr, "soak: graph submit failed\n");
        bad++;
    }
    if (job_executor_wait_all(ex, 120000) != JOB_OK) {
        fprintf(stderr, "soak: jobs did not finish\n");
        bad++;
    }
    for (int i = 0; i < n; i++) {
        if (!job_status_is_finished(job_get_status(js[i]))) {
            fprintf(stderr, "soak: a job never finished\n");
            bad++;
        }
        job_release(js[i]);
    }
    if (s) {
        job *last = job_submission_job(s, 2);
        size_t len = 0;
        const uint32_t *sum = job_result(last, &len);
        if (job_get_status(last) != JOB_COMPLETED || len != 4 ||
            *sum != (uint32_t)('a' + 'b' + 'c')) {
            fprintf(stderr, "soak: the graph computed the wrong thing\n");
            bad++;
        }
        job_submission_release(s);
    }
    *count += n + 3;
    return bad;
}

/* ---- sampling ------------------------------------------------------------- */

static int zombies(void)
{
    int n = 0;
    pid_t me = getpid();
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t r = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[r] = '\0';
        const char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == me &&
            state == 'Z')
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static job_executor *make(job_mode mode, const char *per_worker)
{
    job_executor *ex = fx_make(mode, 4, "kill_grace", "\"100ms:timedelta\"",
                               "max_output_bytes", "65536",
                               per_worker ? "max_jobs_per_worker" : NULL, per_worker,
                               NULL);
    if (!ex) {
        fprintf(stderr, "soak: cannot make an executor\n");
        exit(2);
    }
    return ex;
}

int main(int argc, char **argv)
{
    long seconds = argc > 1 ? atol(argv[1]) : 600;
    long every = argc > 2 ? atol(argv[2]) : 10;
    if (seconds <= 0 || every <= 0) {
        fprintf(stderr, "usage: soak_jobexec SECONDS [SAMPLE_SECONDS]\n");
        return 2;
    }
    sh = fx_shared(sizeof(*sh));
    if (!sh)
        return 2;
    FILE *log = argc > 3 ? fopen(argv[3], "we") : stderr;
    if (!log)
        return 2;
    /* Job output is captured or goes to /dev/null, not to the log. */
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (nul < 0 || dup2(nul, 1) < 0 || (log != stderr && dup2(nul, 2) < 0))
        return 2;
    close(nul);
    int fds_empty = fx_count_fds();

    job_executor *ex[3];
    ex[0] = make(JOB_MODE_STANDALONE, NULL);
    ex[1] = make(JOB_MODE_STANDALONE, "50");
    ex[2] = make(JOB_MODE_DEVELOPMENT, NULL);
    int64_t start = fx_now_ms(), next_sample = start;
    long jobs = 0, rounds = 0;
    int failures = 0, samples = 0;
    long rss_warm = 0, fds_base = -1, rss_first = 0, rss_last = 0;
    int64_t warm_until = start + seconds * 1000 / 5;
    fprintf(log, "seconds,jobs,rss_kb,fds,zombies\n");
    for (;;) {
        for (int k = 0; k < 3; k++)
            failures += round_of_jobs(ex[k], k == 2, &jobs);
        rounds++;
        int64_t now = fx_now_ms();
        bool sample = now >= next_sample || now - start >= seconds * 1000;
        /* Now and then, and at each sample, the executors go and come
         * back: with them gone, nothing of theirs may be left. */
        if (rounds % 25 != 0 && !sample)
            continue;
        for (int k = 0; k < 3; k++)
            job_executor_free(ex[k]);
        long rss = fx_status_kb("VmRSS");
        int fds = fx_count_fds(), z = zombies();
        bool kids = !fx_no_children();
        ex[0] = make(JOB_MODE_STANDALONE, NULL);
        ex[1] = make(JOB_MODE_STANDALONE, "50");
        ex[2] = make(JOB_MODE_DEVELOPMENT, NULL);
        if (!sample)
            continue;
        next_sample = now + every * 1000;
        fprintf(log, "%" PRId64 ",%ld,%ld,%d,%d\n", (now - start) / 1000, jobs, rss,
                fds, z);
        fflush(log);
        samples++;
        if (fds_base < 0) {
            fds_base = fds_empty;
            rss_first = rss;
        }
        if (kids) {
            fprintf(log, "soak: children left after the executors were freed\n");
            failures++;
        }
        if (now <= warm_until && rss > rss_warm)
            rss_warm = rss;
        rss_last = rss;
        if (fds != fds_base) {
            fprintf(log, "soak: fds went from %ld to %d\n", fds_base, fds);
            failures++;
        }
        if (z != 0) {
            fprintf(log, "soak: %d zombie children\n", z);
            failures++;
        }
        if (now - start >= seconds * 1000)
            break;
    }
    for (int k = 0; k < 3; k++)
        job_executor_free(ex[k]);
    if (!fx_no_children()) {
        fprintf(log, "soak: children left after the executors were freed\n");
        failures++;
    }
    if (rss_warm == 0)
        rss_warm = rss_first;
    /* Allocator noise, not growth: 10% and 8 MiB over the warmed-up peak. */
    long limit = rss_warm + rss_warm / 10 + 8192;
    fprintf(log, "soak: %ld jobs in %ld rounds, %d samples; RSS %ld kB first, "
            "%ld kB warm, %ld kB last (limit %ld); fds %ld; %d failures\n",
            jobs, rounds, samples, rss_first, rss_warm, rss_last, limit, fds_base,
            failures);
    if (rss_last > limit) {
        fprintf(log, "soak: RSS grew\n");
        failures++;
    }
    return failures ? 1 : 0;
}
