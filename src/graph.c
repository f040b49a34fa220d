/*
 * graph.c - job graphs: prerequisites (BLOCKED, then PENDING or
 * ABANDONED), cancel cascades, skippable jobs that share the result of an
 * earlier job with the same key, and submissions.
 *
 * Everything here is guarded by ex->mu.  Downstream effects are settled
 * with an explicit work list, never by recursion, so a chain of any length
 * settles in constant stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* ---- the key map: the latest job submitted under each key ------------- */

struct jx_keyent {
    struct jx_keyent *next;
    job *j;                     /* retained */
    char key[];
};

struct jx_keymap {
    struct jx_keyent **b;
    size_t nb, n;
};

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static struct jx_keyent *key_find(struct jx_keymap *m, const char *key)
{
    if (!m || !m->nb)
        return NULL;
    for (struct jx_keyent *e = m->b[hash(key) & (m->nb - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* Makes j the job of its key.  Returns false on ENOMEM (j then simply is
 * not found by later jobs). */
static bool key_put(job_executor *ex, job *j)
{
    struct jx_keymap *m = ex->keys;
    if (!m) {
        m = ex->keys = jx_calloc(1, sizeof(*m));
        if (!m)
            return false;
    }
    struct jx_keyent *e = key_find(m, j->g->key);
    if (e) {
        job *old = e->j;
        e->j = job_retain(j);
        /* Released later, outside the lock's reach of old's record. */
        job_release(old);
        return true;
    }
    if (m->n + 1 > m->nb / 2) {
        size_t nb = m->nb ? m->nb * 2 : 64;
        struct jx_keyent **b = jx_calloc(nb, sizeof(*b));
        if (!b)
            return false;
        for (size_t i = 0; i < m->nb; i++) {
            for (struct jx_keyent *x = m->b[i], *nx; x; x = nx) {
                nx = x->next;
                size_t h = hash(x->key) & (nb - 1);
                x->next = b[h];
                b[h] = x;
            }
        }
        jx_free(m->b);
        m->b = b;
        m->nb = nb;
    }
    size_t len = strlen(j->g->key);
    e = jx_malloc(sizeof(*e) + len + 1);
    if (!e)
        return false;
    memcpy(e->key, j->g->key, len + 1);
    e->j = job_retain(j);
    size_t h = hash(e->key) & (m->nb - 1);
    e->next = m->b[h];
    m->b[h] = e;
    m->n++;
    return true;
}

void jx_keymap_free(struct jx_keymap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        for (struct jx_keyent *e = m->b[i], *ne; e; e = ne) {
            ne = e->next;
            job_release(e->j);
            jx_free(e);
        }
    }
    jx_free(m->b);
    jx_free(m);
}

/* ---- attaching ----------------------------------------------------------- */

static struct jx_graph *graph_of(job *j)
{
    if (!j->g)
        j->g = jx_calloc(1, sizeof(*j->g));
    return j->g;
}

int jx_graph_attach(job *j, job *const *prereqs, size_t n_prereqs,
                    const job_options *opts)
{
    bool keyed = opts && opts->key;
    if (!n_prereqs && !keyed)
        return JOB_OK;
    for (size_t i = 0; i < n_prereqs; i++)
        if (!prereqs[i] || prereqs[i]->ex != j->ex)
            return JOB_EINVAL;
    struct jx_graph *g = graph_of(j);
    if (!g)
        return JOB_ENOMEM;
    if (n_prereqs) {
        g->prereqs = jx_calloc(n_prereqs, sizeof(*g->prereqs));
        if (!g->prereqs)
            return JOB_ENOMEM;
        for (size_t i = 0; i < n_prereqs; i++)
            g->prereqs[i] = job_retain(prereqs[i]);
        g->n_prereqs = n_prereqs;
    }
    if (keyed) {
        g->key = jx_strdup(opts->key);
        if (!g->key)
            return JOB_ENOMEM;
        g->skippable = opts->skippable;
        g->force = opts->force;
    }
    return JOB_OK;
}

void jx_graph_free(job *j)
{
    struct jx_graph *g = j->g;
    if (!g)
        return;
    for (size_t i = 0; i < g->n_prereqs; i++)
        job_release(g->prereqs[i]);
    for (size_t i = 0; i < g->n_deps; i++)
        job_release(g->deps[i]);
    jx_free(g->prereqs);
    jx_free(g->deps);
    job_release(g->coalesce_on);
    job_release(g->shared);
    job_release(g->abandoned_by);
    jx_free(g->key);
    jx_free(g);
    j->g = NULL;
}

/* ---- admission ----------------------------------------------------------- */

static bool completed(job_status s)
{
    return s == JOB_COMPLETED || s == JOB_SKIPPED;
}

static job_status status_of(const job *j)
{
    return (job_status)atomic_load(&((job *)j)->status);
}

/* Adds d to the jobs waiting for p.  Locked. */
static bool add_dep(job *p, job *d)
{
    struct jx_graph *g = graph_of(p);
    if (!g)
        return false;
    if (g->n_deps == g->cap_deps) {
        size_t cap = g->cap_deps ? g->cap_deps * 2 : 4;
        job **v = jx_realloc(g->deps, cap * sizeof(*v));
        if (!v)
            return false;
        g->deps = v;
        g->cap_deps = cap;
    }
    g->deps[g->n_deps++] = job_retain(d);
    return true;
}

static void link_blocked_locked(job *j)
{
    job_executor *ex = j->ex;
    j->flags |= JX_JOB_BLOCKED;
    j->prev = NULL;
    j->next = ex->blocked_head;
    if (ex->blocked_head)
        ex->blocked_head->prev = j;
    ex->blocked_head = j;
}

static void unlink_blocked_locked(job *j)
{
    if (j->flags & JX_JOB_BLOCKED)
        jx_list_unlink(&j->ex->blocked_head, NULL, j, JX_JOB_BLOCKED);
}

/* The sentence of an ABANDONED job. */
static void abandon_message(job *d, job *p)
{
    job_status ps = status_of(p);
    const char *why = p->errmsg ? p->errmsg : job_failure_name(p->failure);
    if (p->label)
        jx_job_set_error(d, JOB_FAILURE_ABANDONED,
                         "prerequisite job %llu (%s) ended %s: %s",
                         (unsigned long long)p->id, p->label, job_status_name(ps), why);
    else
        jx_job_set_error(d, JOB_FAILURE_ABANDONED,
                         "prerequisite job %llu ended %s: %s",
                         (unsigned long long)p->id, job_status_name(ps), why);
}

enum jx_admit jx_graph_admit(job *j)
{
    struct jx_graph *g = j->g;
    if (!g)
        return JX_ADMIT_RUN;
    job_executor *ex = j->ex;
    job *bad = NULL, *skip_to = NULL;
    bool nomem = false;
    pthread_mutex_lock(&ex->mu);
    for (size_t i = 0; i < g->n_prereqs && !bad; i++) {
        job *p = g->prereqs[i];
        job_status ps = status_of(p);
        if (completed(ps))
            continue;
        if (job_status_is_finished(ps))
            bad = p;
        else if (add_dep(p, j))
            g->n_waiting++;
        else
            nomem = true;
    }
    if (!bad && !nomem && g->key) {
        struct jx_keyent *e = key_find(ex->keys, g->key);
        job *prev = e ? e->j : NULL;
        if (g->skippable && !g->force && prev && completed(status_of(prev))) {
            skip_to = prev->g && prev->g->shared ? prev->g->shared : prev;
        } else if (g->skippable && !g->force && prev &&
                   !job_status_is_finished(status_of(prev))) {
            if (add_dep(prev, j)) {
                g->coalesce_on = job_retain(prev);
                g->n_waiting++;
            } else {
                nomem = true;
            }
        } else {
            key_put(ex, j);
        }
    }
    bool wait = !bad && !skip_to && !nomem && g->n_waiting > 0;
    if (wait) {
        jx_job_set_status_locked(j, JOB_BLOCKED);
        link_blocked_locked(j);
    }
    pthread_mutex_unlock(&ex->mu);

    if (bad) {
        g->abandoned_by = job_retain(bad);
        abandon_message(j, bad);
        jx_job_finish(j, JOB_ABANDONED);
        return JX_ADMIT_DONE;
    }
    if (skip_to) {
        g->shared = job_retain(skip_to);
        jx_job_finish(j, JOB_SKIPPED);
        return JX_ADMIT_DONE;
    }
    if (nomem) {
        /* Registered with some prerequisites already: they will find it
         * finished and pass it by. */
        jx_job_set_error(j, JOB_FAILURE_START,
                         "out of memory while linking the job to its graph");
        jx_job_finish(j, JOB_FAILED);
        return JX_ADMIT_DONE;
    }
    if (wait) {
        jx_job_notify(j, JOB_BLOCKED);
        return JX_ADMIT_WAIT;
    }
    return JX_ADMIT_RUN;
}

/* ---- settling downstream -------------------------------------------------- */

enum action { ACT_READY, ACT_SKIP, ACT_ABANDON };

struct todo {
    job *j;
    job *cause;
    enum action act;
};

void jx_graph_settle(job *first)
{
    job_executor *ex = first->ex;
    /* Finished jobs whose dependents are still to be looked at. */
    job **stack = NULL;
    size_t sn = 0, scap = 0;
    job *cur = job_retain(first);
    while (cur) {
        struct jx_graph *g = cur->g;
        job **deps = NULL;
        size_t nd = 0;
        struct todo *todo = NULL;
        size_t nt = 0;
        pthread_mutex_lock(&ex->mu);
        if (g) {
            deps = g->deps;
            nd = g->n_deps;
            g->deps = NULL;
            g->n_deps = g->cap_deps = 0;
        }
        job_status cs = status_of(cur);
        todo = nd ? jx_calloc(nd, sizeof(*todo)) : NULL;
        for (size_t i = 0; todo && i < nd; i++) {
            job *d = deps[i];
            struct jx_graph *dg = d->g;
            job_status ds = status_of(d);
            /* Finished, or being cancelled by another thread. */
            if (job_status_is_finished(ds) || (d->flags & JX_JOB_CANCEL) ||
                ds != JOB_BLOCKED)
                continue;
            if (dg->coalesce_on == cur) {
                if (completed(cs)) {
                    todo[nt++] = (struct todo){d, cur, ACT_SKIP};
                    unlink_blocked_locked(d);
                    d->flags |= JX_JOB_CANCEL; /* nothing else may touch it */
                    continue;
                }
                dg->n_waiting--;
            } else if (completed(cs)) {
                dg->n_waiting--;
            } else {
                todo[nt++] = (struct todo){d, cur, ACT_ABANDON};
                unlink_blocked_locked(d);
                d->flags |= JX_JOB_CANCEL;
                continue;
            }
            if (dg->n_waiting == 0) {
                todo[nt++] = (struct todo){d, cur, ACT_READY};
                unlink_blocked_locked(d);
                if (dg->key && dg->coalesce_on)
                    key_put(ex, d); /* its same-key job failed: it runs */
            }
        }
        pthread_mutex_unlock(&ex->mu);

        for (size_t i = 0; i < nt; i++) {
            job *d = todo[i].j;
            switch (todo[i].act) {
            case ACT_READY:
                jx_job_runnable(d);
                break;
            case ACT_SKIP: {
                job *src = cur->g && cur->g->shared ? cur->g->shared : cur;
                d->g->shared = job_retain(src);
                jx_job_finish_core(d, JOB_SKIPPED);
                break;
            }
            case ACT_ABANDON:
                d->g->abandoned_by = job_retain(cur);
                abandon_message(d, cur);
                jx_job_finish_core(d, JOB_ABANDONED);
                break;
            }
            if (todo[i].act != ACT_READY) {
                if (sn == scap) {
                    size_t cap = scap ? scap * 2 : 16;
                    job **v = jx_realloc(stack, cap * sizeof(*v));
                    if (!v)
                        continue; /* its dependents stay BLOCKED: see below */
                    stack = v;
                    scap = cap;
                }
                stack[sn++] = job_retain(d);
            }
        }
        if (nd && !todo) {
            /* Out of memory: put the list back; it is settled when this
             * job is looked at again (at free, its dependents are
             * cancelled by job_executor_stop). */
            pthread_mutex_lock(&ex->mu);
            if (g && !g->deps) {
                g->deps = deps;
                g->n_deps = g->cap_deps = nd;
                deps = NULL;
                nd = 0;
            }
            pthread_mutex_unlock(&ex->mu);
        }
        for (size_t i = 0; i < nd; i++)
            job_release(deps[i]);
        jx_free(deps);
        jx_free(todo);
        job_release(cur);
        cur = sn ? stack[--sn] : NULL;
    }
    jx_free(stack);
}

void jx_graph_cancel_blocked(job_executor *ex, const char *why,
                             job_failure failure)
{
    for (;;) {
        pthread_mutex_lock(&ex->mu);
        job *j = ex->blocked_head;
        if (j) {
            unlink_blocked_locked(j);
            j->flags |= JX_JOB_CANCEL;
            job_retain(j);
        }
        pthread_mutex_unlock(&ex->mu);
        if (!j)
            return;
        jx_job_set_error(j, failure, "%s", why);
        jx_job_finish(j, JOB_CANCELED);
        job_release(j);
    }
}

/* ---- submissions --------------------------------------------------------- */

struct job_submission {
    atomic_uint refs;
    job_executor *ex;
    job **jobs;                 /* retained */
    size_t n;
    size_t counts[JOB_STATUS_COUNT];
    size_t n_done;
    job_status reported;        /* the status last given to cb */
    job_submission_cb cb;
    void *ud;
};

static job_status sub_status_locked(const job_submission *s)
{
    const size_t *c = s->counts;
    if (c[JOB_FAILED])
        return JOB_FAILED;
    if (c[JOB_CANCELED] || c[JOB_ABANDONED])
        return JOB_CANCELED;
    if (c[JOB_RUNNING])
        return JOB_RUNNING;
    if (c[JOB_PENDING])
        return JOB_PENDING;
    if (c[JOB_BLOCKED])
        return JOB_BLOCKED;
    if (c[JOB_SUBMITTED])
        return JOB_SUBMITTED;
    return JOB_COMPLETED;
}

void jx_graph_count_locked(job *j, job_status from, job_status to)
{
    job_submission *s = j->g ? j->g->sub : NULL;
    if (!s)
        return;
    s->counts[from]--;
    s->counts[to]++;
}

void jx_graph_notify(job *j)
{
    job_submission *s = j->g ? j->g->sub : NULL;
    if (!s)
        return;
    job_executor *ex = j->ex;
    pthread_mutex_lock(&ex->mu);
    job_status now = sub_status_locked(s);
    bool changed = now != s->reported;
    s->reported = now;
    job_submission_cb cb = s->cb;
    pthread_mutex_unlock(&ex->mu);
    if (changed && cb)
        cb(s, now, s->ud);
}

void jx_graph_done(job *j)
{
    job_submission *s = j->g ? j->g->sub : NULL;
    if (!s)
        return;
    pthread_mutex_lock(&j->ex->mu);
    s->n_done++;
    j->g->sub = NULL;
    pthread_mutex_unlock(&j->ex->mu);
    job_submission_release(s);
}

static void sub_free(job_submission *s)
{
    for (size_t i = 0; i < s->n; i++)
        job_release(s->jobs[i]);
    jx_free(s->jobs);
    jx_free(s);
}

void job_submission_release(job_submission *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        sub_free(s);
}

job_status job_submission_status(const job_submission *s)
{
    if (!s)
        return JOB_SUBMITTED;
    pthread_mutex_lock(&s->ex->mu);
    job_status st = sub_status_locked(s);
    pthread_mutex_unlock(&s->ex->mu);
    return st;
}

size_t job_submission_count(const job_submission *s)
{
    return s ? s->n : 0;
}

job *job_submission_job(const job_submission *s, size_t i)
{
    return s && i < s->n ? s->jobs[i] : NULL;
}

int job_submission_wait(job_submission *s, int64_t timeout_ms)
{
    if (!s)
        return JOB_EINVAL;
    /* Each job's wait is bounded by what is left of the timeout. */
    int64_t start = jx_monotonic_ns();
    for (size_t i = 0; i < s->n; i++) {
        int64_t left = timeout_ms;
        if (timeout_ms > 0) {
            left = timeout_ms - (jx_monotonic_ns() - start) / 1000000;
            if (left < 0)
                left = 0;
        }
        int rc = job_wait(s->jobs[i], left);
        if (rc != JOB_OK)
            return rc;
    }
    return JOB_OK;
}

int job_submission_cancel(job_submission *s)
{
    if (!s)
        return JOB_EINVAL;
    bool any = false;
    for (size_t i = 0; i < s->n; i++)
        any |= job_cancel(s->jobs[i]) == JOB_OK;
    return any ? JOB_OK : JOB_EFINISHED;
}

/* Checks the specs and orders them so that every job comes after its
 * prerequisites (Kahn's algorithm).  Returns JOB_OK, JOB_EINVAL or
 * JOB_ECYCLE; *order receives n indices. */
static int order_specs(const job_spec *specs, size_t n, size_t *order)
{
    size_t *indeg = jx_calloc(n, sizeof(*indeg));
    if (!indeg)
        return JOB_ENOMEM;
    int rc = JOB_OK;
    for (size_t i = 0; i < n && rc == JOB_OK; i++) {
        const job_spec *sp = &specs[i];
        int kinds = (sp->fn != NULL) + (sp->fn_name != NULL) + (sp->cmd != NULL);
        if (kinds != 1 || (!sp->input && sp->input_len) ||
            (sp->n_after_idx && !sp->after_idx) ||
            (sp->opts.n_after && !sp->opts.after))
            rc = JOB_EINVAL;
        for (size_t k = 0; rc == JOB_OK && k < sp->n_after_idx; k++) {
            if (sp->after_idx[k] >= n)
                rc = JOB_EINVAL;
            else if (sp->after_idx[k] == i)
                rc = JOB_ECYCLE;
            else
                indeg[i]++;
        }
    }
    size_t head = 0, tail = 0;
    for (size_t i = 0; rc == JOB_OK && i < n; i++)
        if (indeg[i] == 0)
            order[tail++] = i;
    /* Each pass over the specs finds who waits on the job just placed;
     * quadratic in the worst case, which graphs of thousands afford. */
    while (rc == JOB_OK && head < tail) {
        size_t done = order[head++];
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < specs[i].n_after_idx; k++)
                if (specs[i].after_idx[k] == done && --indeg[i] == 0)
                    order[tail++] = i;
    }
    if (rc == JOB_OK && tail != n)
        rc = JOB_ECYCLE;
    jx_free(indeg);
    return rc;
}

int job_submit_graph(job_executor *ex, const job_spec *specs, size_t n,
                     job_submission_cb cb, void *userdata,
                     job_submission **out)
{
    if (out)
        *out = NULL;
    if (!ex || !specs || n == 0)
        return JOB_EINVAL;
    size_t *order = jx_calloc(n, sizeof(*order));
    job **built = jx_calloc(n, sizeof(*built));
    job_submission *s = jx_calloc(1, sizeof(*s));
    int rc = (order && built && s) ? order_specs(specs, n, order) : JOB_ENOMEM;
    if (rc == JOB_OK) {
        s->jobs = jx_calloc(n, sizeof(*s->jobs));
        if (!s->jobs)
            rc = JOB_ENOMEM;
    }
    /* Build every job before submitting any: a failure leaves nothing
     * submitted. */
    for (size_t k = 0; rc == JOB_OK && k < n; k++) {
        size_t i = order[k];
        const job_spec *sp = &specs[i];
        built[i] = jx_job_from_spec(ex, sp, &rc);
        if (rc != JOB_OK)
            break;
        size_t np = sp->opts.n_after + sp->n_after_idx;
        job **pre = np ? jx_calloc(np, sizeof(*pre)) : NULL;
        if (np && !pre) {
            rc = JOB_ENOMEM;
            break;
        }
        for (size_t a = 0; a < sp->opts.n_after; a++)
            pre[a] = sp->opts.after[a];
        for (size_t a = 0; a < sp->n_after_idx; a++)
            pre[sp->opts.n_after + a] = built[sp->after_idx[a]];
        rc = jx_graph_attach(built[i], pre, np, &sp->opts);
        jx_free(pre);
        if (rc == JOB_OK && !graph_of(built[i]))
            rc = JOB_ENOMEM;
    }
    if (rc == JOB_OK) {
        /* Stopped already: nothing is submitted, as with job_submit (a
         * stop that comes during the submission cancels what it reaches). */
        pthread_mutex_lock(&ex->mu);
        if (ex->stopping)
            rc = JOB_ESTOPPED;
        pthread_mutex_unlock(&ex->mu);
    }
    if (rc != JOB_OK) {
        for (size_t i = 0; i < n && built; i++)
            if (built[i])
                jx_job_discard(built[i]);
        if (s)
            jx_free(s->jobs);
        jx_free(s);
        jx_free(built);
        jx_free(order);
        return rc;
    }
    atomic_init(&s->refs, 1u + (out ? 1u : 0u));
    s->ex = ex;
    s->n = n;
    s->cb = cb;
    s->ud = userdata;
    s->reported = JOB_SUBMITTED;
    s->counts[JOB_SUBMITTED] = n;
    for (size_t i = 0; i < n; i++) {
        s->jobs[i] = job_retain(built[i]);
        built[i]->g->sub = s;
        atomic_fetch_add(&s->refs, 1); /* each job holds it until done */
    }
    atomic_fetch_sub(&s->refs, 1); /* the building reference */
    if (out)
        *out = s;
    for (size_t k = 0; k < n; k++) {
        int r = jx_job_submit_built(built[order[k]], NULL);
        if (r != JOB_OK && rc == JOB_OK)
            rc = r;
    }
    jx_free(built);
    jx_free(order);
    return rc;
}

/* ---- accessors ----------------------------------------------------------- */

job *job_abandoned_by(const job *j)
{
    if (!j || !job_status_is_finished(job_get_status(j)) || !j->g)
        return NULL;
    return j->g->abandoned_by;
}

size_t job_ctx_prereq_count(const job_ctx *ctx)
{
    return ctx && ctx->j->g ? ctx->j->g->n_prereqs : 0;
}

const void *job_ctx_prereq_result(const job_ctx *ctx, size_t i, size_t *len)
{
    if (len)
        *len = 0;
    if (!ctx || !ctx->j->g || i >= ctx->j->g->n_prereqs)
        return NULL;
    return job_result(ctx->j->g->prereqs[i], len);
}
