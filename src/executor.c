/* executor.c - executors, job handles, submission, status changes, waiting,
 * cancelling and callbacks: everything that does not depend on the mode. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "proc.h"

/* ---- where the current thread is --------------------------------------- */

static _Thread_local int tls_in_callback;
static _Thread_local bool tls_in_job;

bool jx_in_callback(void)
{
    return tls_in_callback > 0;
}

bool jx_in_job(void)
{
    return tls_in_job;
}

void jx_set_in_job(bool on)
{
    tls_in_job = on;
}

static atomic_uint fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

unsigned jx_fork_generation(void)
{
    return atomic_load(&fork_gen);
}

/* ---- executor ----------------------------------------------------------- */

static void executor_destroy(job_executor *ex)
{
    for (size_t i = 0; i < ex->n_fns; i++)
        jx_free(ex->fns[i].name);
    jx_free(ex->fns);
    pthread_cond_destroy(&ex->cv);
    pthread_mutex_destroy(&ex->mu);
    jx_free(ex);
}

void jx_executor_unref(job_executor *ex)
{
    if (atomic_fetch_sub(&ex->refs, 1) == 1)
        executor_destroy(ex);
}

int job_executor_new(const job_config *cfg, job_executor **out)
{
    if (!cfg || !out)
        return JOB_EINVAL;
    *out = NULL;
    int rc = job_config_check(cfg, NULL);
    if (rc != JOB_OK)
        return rc;

    pthread_once(&atfork_once, register_atfork);
    job_executor *ex = jx_calloc(1, sizeof(*ex));
    if (!ex)
        return JOB_ENOMEM;
    pthread_condattr_t ca;
    if (pthread_mutex_init(&ex->mu, NULL) != 0) {
        jx_free(ex);
        return JOB_ESYS;
    }
    if (pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&ex->cv, &ca) != 0) {
        pthread_mutex_destroy(&ex->mu);
        jx_free(ex);
        return JOB_ESYS;
    }
    pthread_condattr_destroy(&ca);
    atomic_init(&ex->refs, 1);
    ex->keeper.fd = ex->keeper.pidfd = -1;
    ex->keeper.pid = -1;
    ex->fork_gen = jx_fork_generation();
    ex->set.mode = job_config_mode(cfg);
    ex->set.workers = job_config_nb_of_workers(cfg);
    ex->set.timeout_ms = job_config_job_timeout_ms(cfg);
    ex->set.capture = job_config_capture_output(cfg);
    ex->set.kill_grace_ms = job_config_kill_grace_ms(cfg);
    ex->set.max_output = job_config_max_output_bytes(cfg);
    ex->set.memory_limit = job_config_memory_limit(cfg);
    ex->set.max_jobs_per_worker = job_config_max_jobs_per_worker(cfg);
    if (ex->set.workers < 1)
        ex->set.workers = 1;

    if (ex->set.mode == JOB_MODE_STANDALONE) {
        rc = jx_dispatcher_start(ex);
        if (rc != JOB_OK) {
            executor_destroy(ex);
            return rc;
        }
    }
    *out = ex;
    return JOB_OK;
}

job_mode job_executor_mode(const job_executor *ex)
{
    return ex ? ex->set.mode : JOB_MODE_DEVELOPMENT;
}

int job_executor_register(job_executor *ex, const char *name, job_fn fn)
{
    if (!ex || !name || !*name || !fn)
        return JOB_EINVAL;
    char *copy = jx_strdup(name);
    if (!copy)
        return JOB_ENOMEM;
    pthread_mutex_lock(&ex->mu);
    int rc = JOB_OK;
    for (size_t i = 0; i < ex->n_fns; i++) {
        if (strcmp(ex->fns[i].name, name) == 0) {
            rc = JOB_EEXIST;
            goto out;
        }
    }
    if (ex->n_fns == ex->cap_fns) {
        size_t cap = ex->cap_fns ? ex->cap_fns * 2 : 8;
        struct jx_fn_entry *fns = jx_realloc(ex->fns, cap * sizeof(*fns));
        if (!fns) {
            rc = JOB_ENOMEM;
            goto out;
        }
        ex->fns = fns;
        ex->cap_fns = cap;
    }
    ex->fns[ex->n_fns].name = copy;
    ex->fns[ex->n_fns].fn = fn;
    ex->n_fns++;
    copy = NULL;
out:
    pthread_mutex_unlock(&ex->mu);
    jx_free(copy);
    return rc;
}

int job_executor_on_status(job_executor *ex, job_status_cb cb, void *userdata)
{
    if (!ex)
        return JOB_EINVAL;
    pthread_mutex_lock(&ex->mu);
    ex->cb = cb;
    ex->cb_ud = userdata;
    pthread_mutex_unlock(&ex->mu);
    return JOB_OK;
}

int job_executor_stats_get(job_executor *ex, job_executor_stats *out)
{
    if (!ex || !out)
        return JOB_EINVAL;
    pthread_mutex_lock(&ex->mu);
    out->submitted = ex->n_submitted;
    out->pending = ex->n_pending;
    out->running = ex->n_running;
    out->finished = ex->n_finished;
    out->failed = ex->n_failed;
    pthread_mutex_unlock(&ex->mu);
    return JOB_OK;
}

/* Absolute CLOCK_MONOTONIC deadline for a timeout; tv_sec < 0 = none. */
static struct timespec deadline_after(int64_t timeout_ms)
{
    struct timespec ts = {-1, 0};
    if (timeout_ms < 0)
        return ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits on ex->cv until the deadline, counted in *waiters so that job
 * ends wake no one when no one waits.  Returns false once the deadline
 * has passed. */
static bool wait_until(job_executor *ex, const struct timespec *dl,
                       unsigned *waiters)
{
    bool in_time = true;
    (*waiters)++;
    if (dl->tv_sec < 0)
        pthread_cond_wait(&ex->cv, &ex->mu);
    else
        in_time = pthread_cond_timedwait(&ex->cv, &ex->mu, dl) != ETIMEDOUT;
    (*waiters)--;
    return in_time;
}

/* A thread may not block on jobs from a callback, where it would wait for
 * itself, or from a job function. */
static bool may_block(const job_executor *ex)
{
    return !jx_in_callback() && !jx_in_job() && !jx_dispatcher_is_current(ex);
}

/* In a child forked from the host, the executor's dispatcher and job
 * processes are the parent's, and its mutex may have been held by another
 * thread at fork(): nothing there may lock it or wait for a job. */
static bool forked(const job_executor *ex)
{
    return ex->fork_gen != jx_fork_generation();
}

int job_executor_wait_all(job_executor *ex, int64_t timeout_ms)
{
    if (!ex)
        return JOB_EINVAL;
    if (forked(ex))
        return JOB_EFORKED;
    struct timespec dl = deadline_after(timeout_ms);
    int rc = JOB_OK;
    pthread_mutex_lock(&ex->mu);
    while (ex->n_undone > 0) {
        if (!may_block(ex)) {
            rc = JOB_EBUSY;
            break;
        }
        if (timeout_ms == 0 || !wait_until(ex, &dl, &ex->n_all_waiters)) {
            rc = ex->n_undone > 0 ? JOB_ETIMEDOUT : JOB_OK;
            break;
        }
    }
    pthread_mutex_unlock(&ex->mu);
    return rc;
}

int job_executor_stop(job_executor *ex, job_stop_mode how, int64_t timeout_ms)
{
    if (!ex || (how != JOB_STOP_DRAIN && how != JOB_STOP_CANCEL))
        return JOB_EINVAL;
    if (!may_block(ex))
        return JOB_EBUSY;
    if (forked(ex))
        return JOB_EFORKED;
    job *canceled = NULL;
    pthread_mutex_lock(&ex->mu);
    ex->stopping = true;
    if (how == JOB_STOP_CANCEL) {
        /* Take the whole queue; the dispatcher kills what runs. */
        ex->cancel_all = true;
        canceled = ex->qhead;
        for (job *j = ex->qhead; j; j = j->next) {
            j->flags &= ~(unsigned)JX_JOB_QUEUED;
            j->flags |= JX_JOB_CANCEL;
        }
        ex->qhead = ex->qtail = NULL;
        ex->n_pending = 0;
        /* Development mode: ask inline jobs to stop, and kill commands. */
        for (job *j = ex->inline_head; j; j = j->next) {
            j->flags |= JX_JOB_CANCEL;
            if (j->runner)
                jx_runner_wake(j->runner);
        }
    }
    pthread_mutex_unlock(&ex->mu);
    if (ex->disp)
        jx_dispatcher_wake(ex);
    while (canceled) {
        job *next = canceled->next;
        canceled->next = canceled->prev = NULL;
        jx_job_set_error(canceled, JOB_FAILURE_STOPPED,
                         "canceled by job_executor_stop before it ran");
        jx_job_finish(canceled, JOB_CANCELED);
        canceled = next;
    }
    if (how == JOB_STOP_CANCEL)
        jx_graph_cancel_blocked(ex, "canceled by job_executor_stop before it ran",
                                JOB_FAILURE_STOPPED);
    return job_executor_wait_all(ex, timeout_ms);
}

void job_executor_free(job_executor *ex)
{
    if (!ex || !may_block(ex) || forked(ex))
        return;
    pthread_mutex_lock(&ex->mu);
    bool again = ex->freeing;
    ex->freeing = true;
    pthread_mutex_unlock(&ex->mu);
    if (again)
        return;
    job_executor_stop(ex, JOB_STOP_CANCEL, -1);
    if (ex->disp)
        jx_dispatcher_join(ex);
    jx_keeper_stop(&ex->keeper);
    /* The key map holds jobs, which hold the executor: let them go. */
    pthread_mutex_lock(&ex->mu);
    struct jx_keymap *keys = ex->keys;
    ex->keys = NULL;
    pthread_mutex_unlock(&ex->mu);
    jx_keymap_free(keys);
    jx_executor_unref(ex);
}

/* ---- status changes and callbacks ------------------------------------- */

void jx_job_set_status_locked(job *j, job_status status)
{
    job_status from = (job_status)atomic_load_explicit(&j->status, memory_order_relaxed);
    j->times[status] = jx_realtime_ns();
    atomic_store_explicit(&j->status, (int)status, memory_order_release);
    if (j->g)
        jx_graph_count_locked(j, from, status);
}

void jx_job_notify(job *j, job_status status)
{
    job_executor *ex = j->ex;
    job_status_cb ecb;
    void *eud;
    pthread_mutex_lock(&ex->mu);
    ecb = ex->cb;
    eud = ex->cb_ud;
    pthread_mutex_unlock(&ex->mu);
    if (!j->on_status && !ecb && !j->g)
        return;
    tls_in_callback++;
    if (j->on_status)
        j->on_status(j, status, j->userdata);
    if (ecb)
        ecb(j, status, eud);
    if (j->g)
        jx_graph_notify(j);
    tls_in_callback--;
}

void jx_job_finish(job *j, job_status final)
{
    if (!j->g) {
        jx_job_finish_core(j, final);
        return;
    }
    job_retain(j);
    jx_job_finish_core(j, final);
    jx_graph_settle(j);
    job_release(j);
}

void jx_job_finish_core(job *j, job_status final)
{
    job_executor *ex = j->ex;
    pthread_mutex_lock(&ex->mu);
    if (j->flags & JX_JOB_INLINE)
        jx_list_unlink(&ex->inline_head, NULL, j, JX_JOB_INLINE);
    if (atomic_load(&j->status) == JOB_RUNNING)
        ex->n_running--;
    ex->n_finished++;
    if (final == JOB_FAILED)
        ex->n_failed++;
    if (final == JOB_CANCELED && j->failure == JOB_FAILURE_NONE)
        j->failure = JOB_FAILURE_CANCELED;
    jx_job_set_status_locked(j, final);
    pthread_mutex_unlock(&ex->mu);

    jx_job_notify(j, final);

    pthread_mutex_lock(&ex->mu);
    j->flags |= JX_JOB_DONE;
    ex->n_undone--;
    if (ex->n_job_waiters || (ex->n_all_waiters && ex->n_undone == 0))
        pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    jx_graph_done(j);
    job_release(j); /* the executor's reference */
}

void jx_job_set_error(job *j, job_failure failure, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    jx_free(j->errmsg);
    j->errmsg = jx_strdup(buf); /* on ENOMEM the failure kind still tells */
    j->failure = failure;
}

/* ---- submitting --------------------------------------------------------- */

/* Allocates a job with room for `payload` bytes of input and applies the
 * options. */
static job *job_alloc(job_executor *ex, size_t payload, const job_options *opts)
{
    if (payload > SIZE_MAX - sizeof(job))
        return NULL;
    job *j = jx_malloc(sizeof(*j) + payload);
    if (!j)
        return NULL;
    memset(j, 0, sizeof(*j));
    /* The executor's reference, from submit until the job is done. */
    atomic_init(&j->refs, 1u);
    j->input_len = payload;
    j->ex = ex;
    j->exit_code = -1;
    j->timeout_ms = ex->set.timeout_ms;
    j->capture = ex->set.capture;
    if (opts) {
        if (opts->label && !(j->label = jx_strdup(opts->label))) {
            jx_free(j);
            return NULL;
        }
        j->userdata = opts->userdata;
        j->on_status = opts->on_status;
        if (opts->timeout_ms > 0)
            j->timeout_ms = opts->timeout_ms;
        else if (opts->timeout_ms < 0)
            j->timeout_ms = 0;
        if (opts->capture_output == JOB_CAPTURE_ON)
            j->capture = true;
        else if (opts->capture_output == JOB_CAPTURE_OFF)
            j->capture = false;
    }
    return j;
}

/* Checks that a thread may submit to ex now. */
static int may_submit(const job_executor *ex)
{
    if (jx_in_job())
        return JOB_EBUSY;
    if (ex->fork_gen != jx_fork_generation())
        return JOB_EFORKED;
    return JOB_OK;
}

void jx_job_runnable(job *j)
{
    job_executor *ex = j->ex;
    if (ex->set.mode == JOB_MODE_DEVELOPMENT) {
        /* Run by the thread that drains the list (jx_inline_drain): never
         * from deep inside another job's end. */
        pthread_mutex_lock(&ex->mu);
        j->next = NULL;
        if (ex->ready_tail)
            ex->ready_tail->next = j;
        else
            ex->ready_head = j;
        ex->ready_tail = j;
        pthread_mutex_unlock(&ex->mu);
        return;
    }
    /* Standalone: the PENDING callbacks run here, before the dispatcher
     * can see the job, so that a job's callbacks keep their order. */
    pthread_mutex_lock(&ex->mu);
    jx_job_set_status_locked(j, JOB_PENDING);
    pthread_mutex_unlock(&ex->mu);
    jx_job_notify(j, JOB_PENDING);

    pthread_mutex_lock(&ex->mu);
    bool canceled = (j->flags & JX_JOB_CANCEL) || ex->stopping;
    bool by_stop = !(j->flags & JX_JOB_CANCEL);
    if (!canceled) {
        j->flags |= JX_JOB_QUEUED;
        j->prev = ex->qtail;
        j->next = NULL;
        if (ex->qtail)
            ex->qtail->next = j;
        else
            ex->qhead = j;
        ex->qtail = j;
        ex->n_pending++;
    }
    pthread_mutex_unlock(&ex->mu);
    if (canceled) {
        if (by_stop)
            jx_job_set_error(j, JOB_FAILURE_STOPPED,
                             "canceled by job_executor_stop before it ran");
        else
            jx_job_set_error(j, JOB_FAILURE_CANCELED, "canceled before it ran");
        jx_job_finish(j, JOB_CANCELED);
    } else {
        jx_dispatcher_queued(ex);
    }
}

/* Frees a job that was built but never submitted. */
void jx_job_discard(job *j)
{
    jx_graph_free(j);
    jx_free(j->label);
    jx_free(j);
}

/*
 * Registers j with its executor and runs, queues or parks it.  A job of a
 * submission (in_graph) is never dropped: if the executor is stopping it is
 * registered and CANCELED, so that the submission accounts for it.
 */
static int submit(job *j, job **out, bool in_graph)
{
    job_executor *ex = j->ex;
    if (out)
        job_retain(j); /* the caller's */

    pthread_mutex_lock(&ex->mu);
    bool stopping = ex->stopping;
    if (stopping && !in_graph) {
        pthread_mutex_unlock(&ex->mu);
        jx_job_discard(j);
        return JOB_ESTOPPED;
    }
    j->id = ++ex->next_id;
    ex->n_submitted++;
    ex->n_undone++;
    atomic_fetch_add(&ex->refs, 1);
    jx_job_set_status_locked(j, JOB_SUBMITTED);
    pthread_mutex_unlock(&ex->mu);
    if (out)
        *out = j;

    jx_job_notify(j, JOB_SUBMITTED);
    if (stopping) {
        jx_job_set_error(j, JOB_FAILURE_STOPPED,
                         "canceled by job_executor_stop before it ran");
        jx_job_finish(j, JOB_CANCELED);
        return JOB_ESTOPPED;
    }
    if (jx_graph_admit(j) == JX_ADMIT_RUN) {
        if (ex->set.mode == JOB_MODE_DEVELOPMENT)
            jx_inline_run(j);
        else
            jx_job_runnable(j);
    }
    if (ex->set.mode == JOB_MODE_DEVELOPMENT)
        jx_inline_drain(ex);
    return JOB_OK;
}

int jx_job_submit_built(job *j, job **out)
{
    return submit(j, out, true);
}

/* Gives j the graph state its options ask for, then submits it. */
static int attach_and_submit(job *j, const job_options *opts, job **out)
{
    if (opts && ((opts->n_after && !opts->after))) {
        jx_job_discard(j);
        return JOB_EINVAL;
    }
    int rc = jx_graph_attach(j, opts ? opts->after : NULL,
                             opts ? opts->n_after : 0, opts);
    if (rc != JOB_OK) {
        jx_job_discard(j);
        return rc;
    }
    return submit(j, out, false);
}

static job *build_fn(job_executor *ex, job_fn fn, const char *fn_name,
                     const void *input, size_t input_len,
                     const job_options *opts, int *rc)
{
    job *j = job_alloc(ex, input_len, opts);
    if (!j) {
        *rc = JOB_ENOMEM;
        return NULL;
    }
    if (input_len)
        memcpy(j->input, input, input_len);
    j->fn = fn;
    j->fn_name = fn_name;
    *rc = JOB_OK;
    return j;
}

/* The registered function named `name`, and the registry's copy of the
 * name; NULL when there is none. */
static job_fn lookup(job_executor *ex, const char *name, const char **stored)
{
    job_fn fn = NULL;
    pthread_mutex_lock(&ex->mu);
    for (size_t i = 0; i < ex->n_fns; i++) {
        if (strcmp(ex->fns[i].name, name) == 0) {
            fn = ex->fns[i].fn;
            *stored = ex->fns[i].name;
            break;
        }
    }
    pthread_mutex_unlock(&ex->mu);
    return fn;
}

int job_submit(job_executor *ex, job_fn fn, const void *input,
               size_t input_len, const job_options *opts, job **out)
{
    if (out)
        *out = NULL;
    if (!ex || !fn || (!input && input_len))
        return JOB_EINVAL;
    int rc = may_submit(ex);
    if (rc != JOB_OK)
        return rc;
    job *j = build_fn(ex, fn, NULL, input, input_len, opts, &rc);
    return j ? attach_and_submit(j, opts, out) : rc;
}

int job_submit_named(job_executor *ex, const char *name, const void *input,
                     size_t input_len, const job_options *opts, job **out)
{
    if (out)
        *out = NULL;
    if (!ex || !name || (!input && input_len))
        return JOB_EINVAL;
    int rc = may_submit(ex);
    if (rc != JOB_OK)
        return rc;
    const char *stored = NULL;
    job_fn fn = lookup(ex, name, &stored);
    if (!fn)
        return JOB_ENOTFOUND;
    job *j = build_fn(ex, fn, stored, input, input_len, opts, &rc);
    return j ? attach_and_submit(j, opts, out) : rc;
}

/* Adds the lengths of a NULL-terminated string vector; false on overflow. */
static bool vec_size(const char *const *v, uint32_t *count, size_t *bytes)
{
    *count = 0;
    for (; v && *v; v++) {
        size_t n = strlen(*v) + 1;
        if (*bytes > SIZE_MAX - n || *count == UINT32_MAX)
            return false;
        *bytes += n;
        (*count)++;
    }
    return true;
}

static unsigned char *vec_pack(unsigned char *p, const char *const *v)
{
    for (; v && *v; v++) {
        size_t n = strlen(*v) + 1;
        memcpy(p, *v, n);
        p += n;
    }
    return p;
}

static job *build_command(job_executor *ex, const job_command *cmd,
                          const job_options *opts, int *rc)
{
    *rc = JOB_EINVAL;
    if (!cmd || !cmd->argv || !cmd->argv[0] || !cmd->argv[0][0])
        return NULL;
    *rc = JOB_ENOMEM;
    /* Without an environment of its own, the command gets the host's as it
     * is when it starts: copying it into every queued job would cost
     * kilobytes a job. */
    const char *const *envp = cmd->envp;
    size_t bytes = 0;
    uint32_t argc, envc;
    if (!vec_size(cmd->argv, &argc, &bytes) || !vec_size(envp, &envc, &bytes))
        return NULL;
    size_t cwdlen = cmd->cwd ? strlen(cmd->cwd) + 1 : 0;
    if (bytes > SIZE_MAX - cwdlen)
        return NULL;
    job *j = job_alloc(ex, bytes + cwdlen, opts);
    if (!j)
        return NULL;
    unsigned char *p = vec_pack(j->input, cmd->argv);
    p = vec_pack(p, envp);
    if (cmd->cwd)
        memcpy(p, cmd->cwd, cwdlen);
    j->is_cmd = true;
    j->argc = argc;
    j->envc = envc;
    j->has_env = envp != NULL;
    j->has_cwd = cmd->cwd != NULL;
    *rc = JOB_OK;
    return j;
}

int job_submit_command(job_executor *ex, const job_command *cmd,
                       const job_options *opts, job **out)
{
    if (out)
        *out = NULL;
    if (!ex)
        return JOB_EINVAL;
    int rc = may_submit(ex);
    if (rc != JOB_OK)
        return rc;
    job *j = build_command(ex, cmd, opts, &rc);
    return j ? attach_and_submit(j, opts, out) : rc;
}

job *jx_job_from_spec(job_executor *ex, const job_spec *sp, int *rc)
{
    *rc = may_submit(ex);
    if (*rc != JOB_OK)
        return NULL;
    if (sp->cmd)
        return build_command(ex, sp->cmd, &sp->opts, rc);
    job_fn fn = sp->fn;
    const char *stored = NULL;
    if (!fn && !(fn = lookup(ex, sp->fn_name, &stored))) {
        *rc = JOB_ENOTFOUND;
        return NULL;
    }
    return build_fn(ex, fn, stored, sp->input, sp->input_len, &sp->opts, rc);
}

/* ---- job handles -------------------------------------------------------- */

job *job_retain(job *j)
{
    if (j)
        atomic_fetch_add(&j->refs, 1);
    return j;
}

void job_release(job *j)
{
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    job_executor *ex = j->ex;
    jx_graph_free(j);
    jx_free(j->label);
    jx_free(j->result);
    jx_free(j->errmsg);
    jx_free(j->out);
    jx_free(j->err);
    jx_free(j);
    jx_executor_unref(ex);
}

uint64_t job_id(const job *j)
{
    return j ? j->id : 0;
}

const char *job_label(const job *j)
{
    return j ? j->label : NULL;
}

void *job_userdata(const job *j)
{
    return j ? j->userdata : NULL;
}

job_status job_get_status(const job *j)
{
    if (!j)
        return JOB_SUBMITTED;
    return (job_status)atomic_load_explicit(&((job *)j)->status,
                                            memory_order_acquire);
}

/* The record is written before the final status is published, and never
 * after; a reader that sees a final status may read it without the lock. */
static bool finished(const job *j)
{
    return j && job_status_is_finished(job_get_status(j));
}

int64_t job_status_time_ns(const job *j, job_status status)
{
    if (!j || (unsigned)status >= JOB_STATUS_COUNT)
        return 0;
    pthread_mutex_lock(&j->ex->mu);
    int64_t t = j->times[status];
    pthread_mutex_unlock(&j->ex->mu);
    return t;
}

int job_wait(job *j, int64_t timeout_ms)
{
    if (!j)
        return JOB_EINVAL;
    if (forked(j->ex))
        return job_status_is_finished(job_get_status(j)) ? JOB_OK : JOB_EFORKED;
    job_executor *ex = j->ex;
    struct timespec dl = deadline_after(timeout_ms);
    int rc = JOB_OK;
    pthread_mutex_lock(&ex->mu);
    while (!(j->flags & JX_JOB_DONE)) {
        if (!may_block(ex)) {
            rc = JOB_EBUSY;
            break;
        }
        if (timeout_ms == 0 || !wait_until(ex, &dl, &ex->n_job_waiters)) {
            rc = (j->flags & JX_JOB_DONE) ? JOB_OK : JOB_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&ex->mu);
    return rc;
}

int job_cancel(job *j)
{
    if (!j)
        return JOB_EINVAL;
    if (forked(j->ex))
        return job_status_is_finished(job_get_status(j)) ? JOB_EFINISHED : JOB_EFORKED;
    job_executor *ex = j->ex;
    bool dequeued = false, wake = false;
    pthread_mutex_lock(&ex->mu);
    if (job_status_is_finished((job_status)atomic_load(&j->status))) {
        pthread_mutex_unlock(&ex->mu);
        return JOB_EFINISHED;
    }
    j->flags |= JX_JOB_CANCEL;
    if (j->flags & JX_JOB_BLOCKED) {
        /* Waiting for prerequisites: it never runs. */
        jx_list_unlink(&ex->blocked_head, NULL, j, JX_JOB_BLOCKED);
        dequeued = true;
    } else if (j->flags & JX_JOB_QUEUED) {
        /* Still in the queue: it never runs. */
        jx_list_unlink(&ex->qhead, &ex->qtail, j, JX_JOB_QUEUED);
        ex->n_pending--;
        dequeued = true;
    } else if (ex->disp) {
        /* The dispatcher sees the flag once woken. */
        wake = true;
    } else if (j->runner) {
        /* A development-mode command: wake the loop that waits for it,
         * while the lock keeps that loop alive. */
        jx_runner_wake(j->runner);
    }
    pthread_mutex_unlock(&ex->mu);
    if (dequeued) {
        jx_job_set_error(j, JOB_FAILURE_CANCELED, "canceled before it ran");
        jx_job_finish(j, JOB_CANCELED);
    } else if (wake) {
        jx_dispatcher_wake(ex);
    }
    return JOB_OK;
}

const void *job_result(const job *j, size_t *len)
{
    bool done = finished(j);
    if (done && j->g && j->g->shared)
        j = j->g->shared; /* SKIPPED: the earlier job's result */
    if (len)
        *len = done ? j->result_len : 0;
    return done ? j->result : NULL;
}

job_failure job_failure_kind(const job *j)
{
    return finished(j) ? j->failure : JOB_FAILURE_NONE;
}

const char *job_error_message(const job *j)
{
    return finished(j) ? j->errmsg : NULL;
}

int job_exit_code(const job *j)
{
    return finished(j) ? j->exit_code : -1;
}

int job_term_signal(const job *j)
{
    return finished(j) ? j->term_signal : 0;
}

const char *job_stdout(const job *j, size_t *len, bool *truncated)
{
    bool done = finished(j);
    if (len)
        *len = done ? j->out_len : 0;
    if (truncated)
        *truncated = done && j->out_trunc;
    return done ? j->out : NULL;
}

const char *job_stderr(const job *j, size_t *len, bool *truncated)
{
    bool done = finished(j);
    if (len)
        *len = done ? j->err_len : 0;
    if (truncated)
        *truncated = done && j->err_trunc;
    return done ? j->err : NULL;
}

void job_get_progress(const job *j, uint64_t *done, uint64_t *total)
{
    uint64_t d = 0, t = 0;
    if (j) {
        pthread_mutex_lock(&j->ex->mu);
        d = j->prog_done;
        t = j->prog_total;
        pthread_mutex_unlock(&j->ex->mu);
    }
    if (done)
        *done = d;
    if (total)
        *total = t;
}

/* ---- names -------------------------------------------------------------- */

static const char *const status_names[JOB_STATUS_COUNT] = {
    "SUBMITTED", "BLOCKED", "PENDING", "RUNNING", "CANCELED",
    "FAILED", "COMPLETED", "SKIPPED", "ABANDONED",
};

const char *job_status_name(job_status status)
{
    return (unsigned)status < JOB_STATUS_COUNT ? status_names[status] : "?";
}

bool job_status_is_finished(job_status status)
{
    switch (status) {
    case JOB_COMPLETED:
    case JOB_FAILED:
    case JOB_CANCELED:
    case JOB_SKIPPED:
    case JOB_ABANDONED:
        return true;
    default:
        return false;
    }
}

const char *job_failure_name(job_failure failure)
{
    static const char *const names[] = {
        "none", "error", "signal", "exit", "timeout",
        "canceled", "start", "protocol", "stopped", "abandoned",
    };
    return (unsigned)failure < JX_ARRAY_SIZE(names) ? names[failure] : "?";
}
