/*
 * report.c - the results: every repetition's value goes to the CSV as soon
 * as it is measured; the tables show medians, spreads and the ratios of the
 * peers that ran side by side.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"

static series **all;
static size_t n_all, cap_all;
static FILE *csv;

struct note {
    int fig;
    char text[512];
};
static struct note *notes;
static size_t n_notes, cap_notes;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap * 2 : 32;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(p, ncap * elem);
    if (!np) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    *cap = ncap;
    return np;
}

int report_open_csv(const char *path)
{
    csv = fopen(path, "a");
    if (!csv) {
        perror(path);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(csv), &st) == 0 && st.st_size == 0)
        fprintf(csv, "figure,peer,param,rep,value,unit\n");
    fflush(csv);
    return 0;
}

void report_close_csv(void)
{
    if (csv)
        fclose(csv);
    csv = NULL;
}

series *report_find(int fig, const char *peer, const char *param)
{
    for (size_t i = 0; i < n_all; i++) {
        series *s = all[i];
        if (s->fig == fig && !strcmp(s->peer, peer) && !strcmp(s->param, param))
            return s;
    }
    return NULL;
}

series *report_series(int fig, const char *peer, const char *param,
                      const char *unit, int better)
{
    series *s = report_find(fig, peer, param);
    if (s)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    s->fig = fig;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    snprintf(s->param, sizeof(s->param), "%s", param);
    snprintf(s->unit, sizeof(s->unit), "%s", unit);
    s->better = better;
    all = grow(all, &cap_all, n_all + 1, sizeof(*all));
    all[n_all++] = s;
    return s;
}

void report_add(series *s, int rep, double value)
{
    if (s->n < BENCH_MAX_REPS)
        s->v[s->n++] = value;
    if (csv) {
        fprintf(csv, "%d,%s,%s,%d,%.6g,%s\n", s->fig, s->peer, s->param, rep,
                value, s->unit);
        fflush(csv);
    }
}

void report_na(series *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->na, sizeof(s->na), fmt, ap);
    va_end(ap);
    if (!s->na[0])
        snprintf(s->na, sizeof(s->na), "not available");
}

void report_note(int fig, const char *fmt, ...)
{
    notes = grow(notes, &cap_notes, n_notes + 1, sizeof(*notes));
    struct note *nt = &notes[n_notes];
    nt->fig = fig;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nt->text, sizeof(nt->text), fmt, ap);
    va_end(ap);
    /* The same note once per figure. */
    for (size_t i = 0; i < n_notes; i++)
        if (notes[i].fig == fig && !strcmp(notes[i].text, nt->text))
            return;
    n_notes++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *v, int n)
{
    if (n <= 0)
        return NAN;
    double tmp[BENCH_MAX_REPS];
    memcpy(tmp, v, (size_t)n * sizeof(*v));
    qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

double report_median(const series *s)
{
    return s && !s->na[0] ? median_of(s->v, s->n) : NAN;
}

double report_ratio(const series *a, const series *b)
{
    if (!a || !b || a->na[0] || b->na[0] || a->n == 0 || b->n == 0)
        return NAN;
    if (a->n == b->n) {
        double r[BENCH_MAX_REPS];
        for (int i = 0; i < a->n; i++)
            r[i] = a->v[i] / b->v[i];
        return median_of(r, a->n);
    }
    return report_median(a) / report_median(b);
}

/* A number in a few significant digits, without exponents where it can. */
static const char *fmt_num(double v, char *buf, size_t size)
{
    double a = fabs(v);
    if (isnan(v))
        snprintf(buf, size, "n/a");
    else if (a >= 1000)
        snprintf(buf, size, "%.0f", v);
    else if (a >= 100)
        snprintf(buf, size, "%.1f", v);
    else if (a >= 1)
        snprintf(buf, size, "%.2f", v);
    else
        snprintf(buf, size, "%.3g", v);
    return buf;
}

static double series_min(const series *s)
{
    double m = INFINITY;
    for (int i = 0; i < s->n; i++)
        m = s->v[i] < m ? s->v[i] : m;
    return m;
}

static double series_max(const series *s)
{
    double m = -INFINITY;
    for (int i = 0; i < s->n; i++)
        m = s->v[i] > m ? s->v[i] : m;
    return m;
}

/* The distinct values of a field among the figure's series, in order. */
static size_t distinct(int fig, bool params, const char **out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n_all; i++) {
        if (all[i]->fig != fig)
            continue;
        const char *name = params ? all[i]->param : all[i]->peer;
        size_t j = 0;
        while (j < k && strcmp(out[j], name))
            j++;
        if (j == k && k < max)
            out[k++] = name;
    }
    return k;
}

#define MAX_COLS 16

void report_print_figure(FILE *f, int fig, const char *title,
                         bool scale_to_first)
{
    const char *params[MAX_COLS], *peers[MAX_COLS];
    size_t np = distinct(fig, true, params, MAX_COLS);
    size_t nq = distinct(fig, false, peers, MAX_COLS);
    char a[32], b[32], c[32];

    fprintf(f, "\n== Figure %d: %s ==\n", fig, title);
    for (size_t p = 0; p < np; p++) {
        /* The peers of this block, for the ratio columns. */
        const series *row[MAX_COLS];
        size_t nr = 0;
        for (size_t q = 0; q < nq; q++) {
            series *s = report_find(fig, peers[q], params[p]);
            if (s)
                row[nr++] = s;
        }
        fprintf(f, "-- %s\n", params[p]);
        fprintf(f, "  %-16s %10s %-8s %-23s |", "peer", "median", "unit",
                "(min .. max)");
        if (nr > 1) {
            fprintf(f, " ratio to:");
            for (size_t k = 0; k < nr; k++)
                fprintf(f, " %11.11s", row[k]->peer);
        }
        fprintf(f, "\n");
        for (size_t r = 0; r < nr; r++) {
            const series *s = row[r];
            if (s->na[0]) {
                fprintf(f, "  %-16s %10s  %s\n", s->peer, "n/a", s->na);
                continue;
            }
            char spread[80];
            snprintf(spread, sizeof(spread), "(%s .. %s)",
                     fmt_num(series_min(s), a, sizeof(a)),
                     fmt_num(series_max(s), b, sizeof(b)));
            fprintf(f, "  %-16s %10s %-8s %-23s |", s->peer,
                    fmt_num(report_median(s), c, sizeof(c)), s->unit, spread);
            if (nr > 1) {
                fprintf(f, " %9s", "");
                for (size_t k = 0; k < nr; k++) {
                    if (k == r || strcmp(s->unit, row[k]->unit) != 0)
                        fprintf(f, " %11s", "-");
                    else
                        fprintf(f, " %11s",
                                fmt_num(report_ratio(s, row[k]), a, sizeof(a)));
                }
            }
            fprintf(f, "\n");
        }
    }
    if (scale_to_first && np > 1) {
        fprintf(f, "-- scaling: each %s's median over its median at %s\n",
                "peer", params[0]);
        for (size_t q = 0; q < nq; q++) {
            series *base = report_find(fig, peers[q], params[0]);
            if (!base || base->na[0])
                continue;
            fprintf(f, "  %-16s", peers[q]);
            for (size_t p = 1; p < np; p++) {
                series *s = report_find(fig, peers[q], params[p]);
                double r = s ? report_median(s) / report_median(base) : NAN;
                fprintf(f, "  %s: %s", params[p], fmt_num(r, a, sizeof(a)));
            }
            fprintf(f, "\n");
        }
    }
    for (size_t i = 0; i < n_notes; i++)
        if (notes[i].fig == fig)
            fprintf(f, "  note: %s\n", notes[i].text);
    fflush(f);
}

int report_write_dat(const char *dir, int fig)
{
    const char *params[MAX_COLS], *peers[MAX_COLS];
    size_t np = distinct(fig, true, params, MAX_COLS);
    size_t nq = distinct(fig, false, peers, MAX_COLS);
    if (np == 0)
        return 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/fig%d.dat", dir, fig);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "param");
    for (size_t q = 0; q < nq; q++)
        fprintf(f, " %s", peers[q]);
    fprintf(f, "\n");
    for (size_t p = 0; p < np; p++) {
        fprintf(f, "%s", params[p]);
        for (size_t q = 0; q < nq; q++) {
            double m = report_median(report_find(fig, peers[q], params[p]));
            if (isnan(m))
                fprintf(f, " NaN");
            else
                fprintf(f, " %.6g", m);
        }
        fprintf(f, "\n");
    }
    return fclose(f) == 0 ? 0 : -1;
}

void report_free(void)
{
    for (size_t i = 0; i < n_all; i++)
        free(all[i]);
    free(all);
    free(notes);
    all = NULL;
    notes = NULL;
    n_all = cap_all = n_notes = cap_notes = 0;
}
