/*
 * bench.h - what the parts of the benchmark program share: the clock, the
 * CPU burner, the limit (limit.c), the runner of external peers (spawn.c)
 * and the store of results with its reports (report.c).
 *
 * The benchmark uses only the public API of libjobexec, as a host would.
 */
#ifndef JOBEXEC_BENCH_H
#define JOBEXEC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Most repetitions a figure may run. */
#define BENCH_MAX_REPS 64

/* ---- time (limit.c) ---------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds; the same clock in every process. */
int64_t bench_now_ns(void);

/* Spins until the calling thread has used `ns` nanoseconds of CPU, by
 * CLOCK_THREAD_CPUTIME_ID: useful work that time slicing cannot fake. */
void bench_burn_cpu(int64_t ns);

/* ---- the limit (limit.c) ----------------------------------------------- */

/*
 * Runs `n` jobs the barest way, at most `conc` at a time: fork a child that
 * (after burning `work_ns` of CPU, if any) writes 8 bytes to a pipe and
 * _exits; watch its pidfd with poll; read the result; reap it with
 * waitid(P_PIDFD).  *elapsed_ns receives the wall time of the whole run.
 * Returns 0, or -1 with a message on stderr.
 */
int limit_run(int n, int conc, int64_t work_ns, int64_t *elapsed_ns);

/* One job as above, alone: *latency_ns is the time from just before fork()
 * to the child's first instruction of its own (the clock it reads). */
int limit_latency(int64_t *latency_ns);

/* ---- external programs (spawn.c) --------------------------------------- */

/*
 * Runs argv[0] (looked up in PATH), with stdin from `stdin_path` (NULL:
 * /dev/null), stdout into `out` (NUL-terminated, truncated to `outsz`; NULL:
 * /dev/null), and stderr to /dev/null when `quiet`.  Waits for it.
 * *elapsed_ns (if not NULL) receives the wall time from the spawn to the
 * reap.  Returns its exit status (0-255), 256 + signal when a signal killed
 * it, or -1 when it could not be started.
 */
int spawn_run(char *const argv[], const char *stdin_path, char *out,
              size_t outsz, bool quiet, int64_t *elapsed_ns);

/* ---- results (report.c) ------------------------------------------------- */

/* Which way is better for a series. */
enum { BENCH_HIGHER = 1, BENCH_LOWER = -1 };

/* The values of one peer (or metric) at one parameter of one figure, one
 * per repetition. */
typedef struct series {
    int fig;
    char peer[32];
    char param[24];
    char unit[16];
    int better;            /* BENCH_HIGHER or BENCH_LOWER */
    double v[BENCH_MAX_REPS];
    int n;
    char na[160];          /* non-empty: not available, and why */
} series;

/* Opens (appends to) the CSV file; writes the header when it is new or
 * empty.  Returns 0 or -1. */
int report_open_csv(const char *path);
void report_close_csv(void);

/* Finds or creates a series.  Series keep the order they were created in. */
series *report_series(int fig, const char *peer, const char *param,
                      const char *unit, int better);

/* Records one repetition's value (and writes its CSV row at once). */
void report_add(series *s, int rep, double value);

/* Marks a series as not available, with the reason (printf style). */
void report_na(series *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Looks a series up; NULL when it does not exist. */
series *report_find(int fig, const char *peer, const char *param);

/* The median of a series; NaN when it has no values. */
double report_median(const series *s);

/*
 * The ratio a/b of two series that ran side by side: the median of their
 * per-repetition ratios when both have the same repetitions, else the
 * ratio of their medians.  NaN when either is empty.
 */
double report_ratio(const series *a, const series *b);

/* Prints figure `fig` as a table: one block per parameter, one row per
 * peer, with the median, the spread and the ratio to every other peer of
 * the block.  When `scale_to_first` is set, also prints, per peer, the
 * ratio of each parameter to the first one. */
void report_print_figure(FILE *f, int fig, const char *title,
                         bool scale_to_first);

/* Writes dir/figN.dat: a row per parameter, a column of medians per peer,
 * with a header line, for gnuplot.  Returns 0 or -1. */
int report_write_dat(const char *dir, int fig);

/* Appends a free-form note printed under the figure's table. */
void report_note(int fig, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Frees everything. */
void report_free(void);

#endif
