/* run.c - `jobexec run`: runs the lines of standard input as command jobs,
 * in parallel, with their output grouped, the way GNU parallel does.  It
 * uses only the public API. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jobconfig.h>

#include "cli.h"

#define EXIT_USAGE 2
#define EXIT_CONFIG 255
#define MAX_FAILED_STATUS 101

/* One input line and its job. */
struct entry {
    job *j;            /* set by the final callback */
    char *line;
    bool finished;     /* the main thread has seen it finish */
    bool printed;
};

struct runner {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_executor *ex;
    int64_t timeout_ms;
    bool keep_order, progress;
    FILE *joblog;

    /* Guarded by mu. */
    struct entry *v;
    size_t n, cap;
    size_t *done_q;    /* indices finished, in finishing order */
    size_t done_head, done_tail, done_cap;
    size_t submitted, finished, failed, running;
    size_t next_print; /* --keep-order: the next index to print */
    bool input_done;
    int signal;        /* SIGINT or SIGTERM once received */
    bool exiting;      /* the signal thread is told to leave */

    int64_t started_ns;
    int64_t last_progress_ns;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Executor-wide callback: called once per status change of each job.  The
 * final one keeps a reference to the job for the main thread. */
static void on_status(job *j, job_status status, void *ud)
{
    struct runner *r = ud;
    size_t idx = (size_t)(uintptr_t)job_userdata(j);
    pthread_mutex_lock(&r->mu);
    if (status == JOB_RUNNING) {
        r->running++;
    } else if (job_status_is_finished(status)) {
        if (job_status_time_ns(j, JOB_RUNNING))
            r->running--;
        r->v[idx].j = job_retain(j);
        if (r->done_tail == r->done_cap) {
            /* Grown under the lock; the main thread compacts. */
            size_t cap = r->done_cap ? r->done_cap * 2 : 256;
            size_t *q = realloc(r->done_q, cap * sizeof(*q));
            if (!q) {
                fprintf(stderr, "jobexec: out of memory\n");
                abort();
            }
            r->done_q = q;
            r->done_cap = cap;
        }
        r->done_q[r->done_tail++] = idx;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return false;
    return true;
}

/* Reads standard input and submits a job per non-blank line. */
static void *reader_main(void *arg)
{
    struct runner *r = arg;
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while ((len = getline(&line, &size, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (blank(line))
            continue;
        char *copy = strdup(line);
        pthread_mutex_lock(&r->mu);
        bool stop = r->signal != 0;
        if (!stop && r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 256;
            struct entry *v = realloc(r->v, cap * sizeof(*v));
            if (v) {
                r->v = v;
                r->cap = cap;
            }
        }
        size_t idx = r->n;
        bool room = r->n < r->cap;
        if (!stop && room && copy)
            r->v[r->n++] = (struct entry){.line = copy};
        pthread_mutex_unlock(&r->mu);
        if (stop)
            free(copy);
        if (stop)
            break;
        if (!room || !copy) {
            fprintf(stderr, "jobexec: out of memory reading input\n");
            free(copy);
            break;
        }
        const char *argv[] = {"/bin/sh", "-c", copy, NULL};
        job_command cmd = {.argv = argv};
        job_options o = {
            .userdata = (void *)(uintptr_t)idx,
            .timeout_ms = r->timeout_ms,
            .capture_output = JOB_CAPTURE_ON,
        };
        int rc = job_submit_command(r->ex, &cmd, &o, NULL);
        pthread_mutex_lock(&r->mu);
        if (rc == JOB_OK) {
            r->submitted++;
        } else {
            /* Not a job: drop the line (the executor is stopping). */
            free(r->v[idx].line);
            r->n--;
        }
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (rc != JOB_OK) {
            if (rc != JOB_ESTOPPED)
                fprintf(stderr, "jobexec: cannot submit '%s': %s\n", copy,
                        job_strerror(rc));
            break;
        }
    }
    free(line);
    pthread_mutex_lock(&r->mu);
    r->input_done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Waits for SIGINT or SIGTERM (blocked in every thread), then cancels. */
static void *signal_main(void *arg)
{
    struct runner *r = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    if (sigwait(&set, &sig) != 0)
        return NULL;
    pthread_mutex_lock(&r->mu);
    bool leave = r->exiting;
    if (!leave)
        r->signal = sig;
    pthread_mutex_unlock(&r->mu);
    if (leave)
        return NULL;
    /* Kills what runs and cancels what waits; returns at once. */
    job_executor_stop(r->ex, JOB_STOP_CANCEL, 0);
    pthread_mutex_lock(&r->mu);
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void write_all(FILE *f, const char *p, size_t n)
{
    if (n && fwrite(p, 1, n, f) != n)
        fprintf(stderr, "jobexec: write error: %s\n", strerror(errno));
}

/* Prints a finished job's output and joblog line, and lets it go.  Called
 * without the lock, with the entry taken out of r->v (which the reader may
 * grow meanwhile). */
static void print_job(struct runner *r, size_t idx, struct entry *e)
{
    job *j = e->j;
    size_t n;
    bool trunc_out = false, trunc_err = false;
    const char *out = job_stdout(j, &n, &trunc_out);
    write_all(stdout, out, n);
    fflush(stdout);
    const char *err = job_stderr(j, &n, &trunc_err);
    write_all(stderr, err, n);
    if (trunc_out || trunc_err)
        fprintf(stderr, "jobexec: output of '%s' was cut at max_output_bytes\n",
                e->line);
    job_failure why = job_failure_kind(j);
    if (why == JOB_FAILURE_TIMEOUT || why == JOB_FAILURE_START ||
        why == JOB_FAILURE_STOPPED || why == JOB_FAILURE_CANCELED)
        fprintf(stderr, "jobexec: '%s': %s\n", e->line, job_error_message(j));
    fflush(stderr);

    if (r->joblog) {
        int64_t t_run = job_status_time_ns(j, JOB_RUNNING);
        int64_t t_sub = job_status_time_ns(j, JOB_SUBMITTED);
        int64_t t_end = job_status_time_ns(j, job_get_status(j));
        int64_t start = t_run ? t_run : t_sub;
        double runtime = t_run && t_end > t_run ? (double)(t_end - t_run) / 1e9 : 0.0;
        size_t received = 0;
        job_stdout(j, &received, NULL);
        int code = job_exit_code(j);
        fprintf(r->joblog, "%zu\t:\t%" PRId64 ".%03" PRId64 "\t%.3f\t0\t%zu\t%d\t%d\t%s\n",
                idx + 1, start / 1000000000, (start / 1000000) % 1000, runtime,
                received, code < 0 ? 0 : code, job_term_signal(j), e->line);
        fflush(r->joblog);
    }
    job_release(j);
    free(e->line);
}

/* Takes entry idx out of r->v, prints it, and marks it printed.  Called
 * with the lock held; returns with it held. */
static void print_locked(struct runner *r, size_t idx)
{
    struct entry e = r->v[idx];
    r->v[idx].j = NULL;
    r->v[idx].line = NULL;
    pthread_mutex_unlock(&r->mu);
    print_job(r, idx, &e);
    pthread_mutex_lock(&r->mu);
    r->v[idx].printed = true;
}

static void show_progress(struct runner *r, bool last)
{
    int64_t now = now_ns();
    if (!last && now - r->last_progress_ns < 100000000)
        return;
    r->last_progress_ns = now;
    double secs = (double)(now - r->started_ns) / 1e9;
    double rate = secs > 0 ? (double)r->finished / secs : 0.0;
    size_t total = r->input_done ? r->n : r->submitted;
    fprintf(stderr, "\r%zu/%zu%s done, %zu running, %zu failed, %.1f jobs/s",
            r->finished, total, r->input_done ? "" : "+", r->running, r->failed, rate);
    if (r->input_done && rate > 0 && total > r->finished)
        fprintf(stderr, ", ETA %.0fs", (double)(total - r->finished) / rate);
    fprintf(stderr, "\033[K%s", last ? "\n" : "");
    fflush(stderr);
}

/* The main loop: prints finished jobs, in finishing or input order. */
static void drain(struct runner *r)
{
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->done_head < r->done_tail) {
            size_t idx = r->done_q[r->done_head++];
            r->v[idx].finished = true;
            r->finished++;
            if (job_get_status(r->v[idx].j) != JOB_COMPLETED)
                r->failed++;
            if (!r->keep_order)
                print_locked(r, idx);
        }
        while (r->keep_order && r->next_print < r->n &&
               r->v[r->next_print].finished)
            print_locked(r, r->next_print++);
        if (r->progress)
            show_progress(r, false);
        /* After a signal, input may never end: what was submitted is all
         * there is. */
        if ((r->input_done || r->signal) && r->finished == r->submitted)
            break;
        pthread_cond_wait(&r->cv, &r->mu);
    }
    if (r->progress)
        show_progress(r, true);
    pthread_mutex_unlock(&r->mu);
}

static void usage(FILE *f)
{
    fputs("usage: jobexec run [-c FILE] [-j N] [--mode development|standalone]\n"
          "                   [--timeout DURATION] [--joblog FILE] [--progress]\n"
          "                   [--keep-order]\n",
          f);
}

static const char run_help[] =
    "\nReads commands from standard input, one per line, and runs each with\n"
    "/bin/sh -c as a job.  Blank lines are skipped.  Each job's stdout and\n"
    "stderr are printed together when it finishes, in finishing order.\n\n"
    "  -c FILE            load the [JOB] section of FILE (then the file named\n"
    "                     by JOBEXEC_CONFIG_PATH); options below override it\n"
    "  -j N               run up to N jobs at once (implies standalone mode)\n"
    "  --mode MODE        development (one at a time, inline) or standalone\n"
    "  --timeout DURATION kill a job after DURATION (1.5s, 2m, 1h30m...)\n"
    "  --joblog FILE      write GNU parallel's joblog to FILE\n"
    "  --progress         show progress on stderr (default when it is a terminal)\n"
    "  --keep-order       print outputs in input order\n\n"
    "Exit status: the number of failed jobs (at most 101); 255 on a\n"
    "configuration error; 2 on bad usage; 130 or 143 after SIGINT or SIGTERM.\n";

/*
 * Builds the config: file layers first, then the options.  Options must win
 * over the files, but values set from code are weaker than files in the
 * layer order, so the resolved file config is copied into the code layer
 * of a fresh config, key by key, and the options are set after it.
 */
static int build_config(const char *file, const char *mode, int workers,
                        job_config **out)
{
    job_config *loaded = NULL, *cfg = NULL;
    job_issues *issues = NULL;
    char *text = NULL;
    int rc = job_config_new(&loaded);
    if (rc == JOB_OK)
        rc = file ? job_config_load_file(loaded, file, &issues)
                  : job_config_load_env(loaded, &issues);
    for (size_t i = 0; i < job_issues_count(issues); i++) {
        const job_issue *is = job_issues_get(issues, i);
        if (is->level == JOB_ISSUE_INFO)
            continue;
        char buf[1024];
        job_issue_format(is, buf, sizeof(buf));
        fprintf(stderr, "jobexec: %s\n", buf);
    }
    job_issues_free(issues);
    if (rc == JOB_OK)
        rc = job_config_export(loaded, &text, NULL);
    if (rc == JOB_OK)
        rc = job_config_new(&cfg);
    for (char *line = text, *nl; rc == JOB_OK && line && *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        char *eq = strstr(line, " = ");
        if (!eq)
            continue; /* the [JOB] header */
        *eq = '\0';
        rc = job_config_set(cfg, line, eq + 3);
    }
    if (rc == JOB_OK && (mode || workers > 0))
        rc = job_configure_job_executions(cfg, mode ? mode : "standalone", workers);
    free(text);
    job_config_free(loaded);
    if (rc != JOB_OK) {
        job_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return JOB_OK;
}

int jobexec_run(int argc, char **argv)
{
    const char *file = NULL, *mode = NULL, *joblog = NULL, *timeout = NULL;
    int workers = 0;
    bool keep_order = false, progress = isatty(STDERR_FILENO) != 0;
    enum { OPT_MODE = 256, OPT_TIMEOUT, OPT_JOBLOG, OPT_PROGRESS, OPT_KEEP };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"jobs", required_argument, NULL, 'j'},
        {"mode", required_argument, NULL, OPT_MODE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"joblog", required_argument, NULL, OPT_JOBLOG},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"keep-order", no_argument, NULL, OPT_KEEP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+c:j:hk", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'j': {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || n < 1 || n > 4096) {
                fprintf(stderr, "jobexec run: -j takes a number from 1 to 4096\n");
                return EXIT_USAGE;
            }
            workers = (int)n;
            break;
        }
        case OPT_MODE:
            if (strcmp(optarg, "development") && strcmp(optarg, "standalone")) {
                fprintf(stderr, "jobexec run: --mode is development or standalone\n");
                return EXIT_USAGE;
            }
            mode = optarg;
            break;
        case OPT_TIMEOUT:
            timeout = optarg;
            break;
        case OPT_JOBLOG:
            joblog = optarg;
            break;
        case OPT_PROGRESS:
            progress = true;
            break;
        case 'k':
        case OPT_KEEP:
            keep_order = true;
            break;
        case 'h':
            usage(stdout);
            fputs(run_help, stdout);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "jobexec run: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    int64_t timeout_ms = 0;
    if (timeout && (job_parse_timedelta(timeout, &timeout_ms) != JOB_OK ||
                    timeout_ms <= 0)) {
        fprintf(stderr, "jobexec run: bad --timeout '%s' (try 1.5s, 2m, 1h)\n", timeout);
        return EXIT_USAGE;
    }

    job_config *cfg = NULL;
    int rc = build_config(file, mode, workers, &cfg);
    if (rc != JOB_OK) {
        fprintf(stderr, "jobexec run: configuration error: %s\n", job_strerror(rc));
        return EXIT_CONFIG;
    }

    /* SIGINT and SIGTERM go to the signal thread only: block them before
     * any thread (the dispatcher's included) exists. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    static struct runner r;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.keep_order = keep_order;
    r.progress = progress;
    r.timeout_ms = timeout_ms;
    r.started_ns = now_ns();
    if (joblog) {
        r.joblog = fopen(joblog, "w");
        if (!r.joblog) {
            fprintf(stderr, "jobexec run: cannot open joblog '%s': %s\n", joblog,
                    strerror(errno));
            job_config_free(cfg);
            return EXIT_USAGE;
        }
        fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n",
              r.joblog);
        fflush(r.joblog);
    }
    rc = job_executor_new(cfg, &r.ex);
    job_config_free(cfg);
    if (rc != JOB_OK) {
        fprintf(stderr, "jobexec run: cannot start: %s\n", job_strerror(rc));
        return EXIT_CONFIG;
    }
    job_executor_on_status(r.ex, on_status, &r);

    pthread_t reader, sigthread;
    if (pthread_create(&sigthread, NULL, signal_main, &r) != 0 ||
        pthread_create(&reader, NULL, reader_main, &r) != 0) {
        fprintf(stderr, "jobexec run: cannot start threads\n");
        return EXIT_CONFIG;
    }
    drain(&r);

    pthread_mutex_lock(&r.mu);
    int sig = r.signal;
    size_t failed = r.failed;
    r.exiting = true;
    pthread_mutex_unlock(&r.mu);
    if (!sig)
        pthread_kill(sigthread, SIGTERM); /* wakes its sigwait: it leaves */
    pthread_join(sigthread, NULL);
    /* After a signal the reader may still wait on input: it dies with the
     * process.  Every job has finished; stopping reaps what is left. */
    if (sig)
        pthread_detach(reader);
    else
        pthread_join(reader, NULL);
    job_executor_free(r.ex);
    if (r.joblog)
        fclose(r.joblog);
    fflush(stdout);
    if (sig)
        return 128 + sig;
    return failed > MAX_FAILED_STATUS ? MAX_FAILED_STATUS : (int)failed;
}
