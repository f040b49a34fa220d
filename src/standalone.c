/*
 * standalone.c - standalone mode: one dispatcher thread takes jobs off the
 * queue in FIFO order and runs each in its own forked process, at most
 * nb_of_workers at a time.
 *
 * The thread sleeps in epoll_wait on an eventfd (new jobs, cancels, stop),
 * the pidfds of its children and their pipes, with a timeout that is the
 * nearest job deadline: nothing polls.  It forks holding no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine.h"
#include "proc.h"
#include "wire.h"

/* A job's result may not exceed this many bytes. */
#define JX_MAX_RESULT ((uint64_t)4 << 30)
/* Tag of the eventfd in epoll data; children use (slot << 2 | kind). */
#define JX_EV_WAKE UINT64_MAX

enum { KIND_PID = 0, KIND_RES = 1, KIND_OUT = 2, KIND_ERR = 3 };
enum { WHY_NONE = 0, WHY_CANCEL, WHY_TIMEOUT, WHY_PROTOCOL };

/* Captured output of one stream. */
struct sink {
    char *buf;
    size_t len, cap;
    bool trunc;
};

/*
 * A slot: a job process and the job it runs.  Slots [0, nslots) hold
 * one-shot processes, forked for one job; slots [nslots, ntotal) hold
 * reused workers (max_jobs_per_worker != 1), which outlive their jobs, and
 * workers that were retired and have yet to exit.
 */
struct run {
    job *j;                 /* the job running here, or NULL */
    bool live;              /* a process occupies the slot */
    bool persistent;        /* it is a reused worker */
    int task_fd;            /* a worker's task pipe; -1 once retired */
    uint64_t jobs_run;      /* jobs a worker has finished */
    struct jx_child c;
    jx_wire_reader rd;
    bool exited;            /* its pidfd is readable */
    bool got_done;
    int rc;
    bool failed;
    char *failmsg;
    void *result;
    size_t result_len;
    struct sink out, err;
    int64_t deadline;       /* monotonic ns of its timeout, 0 for none */
    int64_t kill_at;        /* monotonic ns of the SIGKILL, 0 for none */
    int why;                /* why the library killed it */
    bool cancel_seen;       /* its job was cancelled; act outside the lock */
    bool broken;            /* a reused worker says the job broke fd 3 */
    bool retiring;          /* a reused worker asked for no more tasks */
    int kill_sig;           /* the last signal the library sent it */
};

struct jx_dispatcher {
    pthread_t thread;
    int epfd, evfd, devnull;
    atomic_bool sleeping;   /* in epoll_wait with a free slot */
    bool quit;              /* guarded by ex->mu */
    struct run *runs;
    job **batch;            /* jobs taken off the queue, to start */
    int nslots, ntotal, nrunning;
    uint64_t max_per_worker; /* 0: unlimited */
    pid_t pid;
    bool have_pidfd;
};

static _Thread_local const job_executor *tls_dispatcher;

bool jx_dispatcher_is_current(const job_executor *ex)
{
    return ex && tls_dispatcher == ex;
}

void jx_dispatcher_wake(job_executor *ex)
{
    jx_runner_wake(ex->disp);
}

void jx_dispatcher_queued(job_executor *ex)
{
    if (atomic_exchange(&ex->disp->sleeping, false))
        jx_dispatcher_wake(ex);
}

/* ---- per-run helpers ---------------------------------------------------- */

static void epoll_add(struct jx_dispatcher *d, int fd, int slot, int kind)
{
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u64 = ((uint64_t)slot << 2) | (uint64_t)kind;
    epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_fd(struct jx_dispatcher *d, int *fd)
{
    if (*fd >= 0) {
        epoll_ctl(d->epfd, EPOLL_CTL_DEL, *fd, NULL);
        close(*fd);
        *fd = -1;
    }
}

/* Reads what is available from an output pipe, keeping at most `cap`
 * bytes and counting the rest as truncated. */
static void read_output(struct jx_dispatcher *d, int *fd, struct sink *s,
                        uint64_t cap)
{
    char scratch[16384];
    for (;;) {
        char *dst = scratch;
        size_t room = sizeof(scratch);
        if (s->len < cap) {
            if (s->len == s->cap) {
                size_t ncap = s->cap ? s->cap * 2 : 4096;
                if (ncap > cap)
                    ncap = (size_t)cap;
                char *nb = jx_realloc(s->buf, ncap + 1);
                if (nb) {
                    s->buf = nb;
                    s->cap = ncap;
                }
            }
            if (s->len < s->cap) {
                dst = s->buf + s->len;
                room = s->cap - s->len;
            }
        }
        ssize_t r = read(*fd, dst, room);
        if (r > 0) {
            if (dst == scratch)
                s->trunc = true;
            else
                s->len += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            close_fd(d, fd);
        return;
    }
}

static void kill_run(struct run *r, int why, int sig)
{
    if (r->why == WHY_NONE)
        r->why = why;
    r->kill_sig = sig;
    jx_proc_signal_group(&r->c, sig);
}

/* Starts the grace period: SIGTERM now, SIGKILL later. */
static void terminate_run(job_executor *ex, struct run *r, int why)
{
    if (r->why != WHY_NONE || r->exited)
        return;
    int64_t grace = ex->set.kill_grace_ms;
    if (grace <= 0) {
        kill_run(r, why, SIGKILL);
        return;
    }
    kill_run(r, why, SIGTERM);
    r->kill_at = jx_monotonic_ns() + grace * 1000000;
}

static void handle_frame(job_executor *ex, struct run *r)
{
    jx_wire_reader *rd = &r->rd;
    switch (rd->type) {
    case JX_FRAME_RESULT:
        jx_free(r->result);
        r->result = jx_wire_reader_take(rd, &r->result_len);
        break;
    case JX_FRAME_PROGRESS:
        pthread_mutex_lock(&ex->mu);
        r->j->prog_done = jx_wire_get_u64(rd->buf);
        r->j->prog_total = jx_wire_get_u64(rd->buf + 8);
        pthread_mutex_unlock(&ex->mu);
        break;
    case JX_FRAME_FAIL:
        jx_free(r->failmsg);
        r->failmsg = jx_strndup(rd->buf ? (const char *)rd->buf : "", rd->have);
        r->failed = true;
        break;
    case JX_FRAME_BROKEN:
        jx_free(r->failmsg);
        r->failmsg = jx_strndup(rd->buf ? (const char *)rd->buf : "", rd->have);
        r->broken = true;
        break;
    case JX_FRAME_RETIRE:
        r->retiring = true;
        break;
    case JX_FRAME_DONE: {
        const unsigned char *p = rd->buf;
        r->rc = (int)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                      (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        r->got_done = true;
        break;
    }
    default:
        break;
    }
}

static void worker_job_done(job_executor *ex, struct jx_dispatcher *d,
                            struct run *r);

/* Reads frames from the result pipe until it would block.  A process that
 * breaks the protocol is killed: nothing it sends is trusted. */
static void read_results(job_executor *ex, struct jx_dispatcher *d,
                         struct run *r)
{
    while (r->c.res_fd >= 0) {
        void *p;
        size_t n;
        if (jx_wire_reader_space(&r->rd, &p, &n) != JX_WIRE_MORE)
            goto broken;
        ssize_t got = read(r->c.res_fd, p, n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            close_fd(d, &r->c.res_fd);
            return;
        }
        if (got == 0) {
            close_fd(d, &r->c.res_fd);
            return;
        }
        int st = jx_wire_reader_commit(&r->rd, (size_t)got);
        if (st == JX_WIRE_ERROR)
            goto broken;
        if (st == JX_WIRE_FRAME) {
            /* Nothing may follow DONE, and an idle worker says nothing. */
            if (!r->j || r->got_done)
                goto broken;
            handle_frame(ex, r);
            if (r->got_done && r->persistent)
                worker_job_done(ex, d, r);
        }
    }
    return;
broken:
    close_fd(d, &r->c.res_fd);
    if (r->why == WHY_NONE && r->j)
        r->why = WHY_PROTOCOL;
    if (!r->exited)
        kill_run(r, WHY_PROTOCOL, SIGKILL);
}

static void sink_give(struct sink *s, char **buf, size_t *len)
{
    if (s->buf)
        s->buf[s->len] = '\0';
    *buf = s->buf;
    *len = s->len;
    s->buf = NULL;
}

/*
 * Fills in the record of the job in slot r and returns its final status.
 * `how` tells how its process ended, or is NULL when a reused worker
 * finished the job and lives on.
 */
static job_status judge(struct run *r, const struct jx_exit *how)
{
    static const struct jx_exit alive = {false, -1, 0};
    job *j = r->j;
    if (!how)
        how = &alive;
    j->exit_code = how->exit_code;
    j->term_signal = how->signal;
    sink_give(&r->out, &j->out, &j->out_len);
    sink_give(&r->err, &j->err, &j->err_len);
    j->out_trunc = r->out.trunc;
    j->err_trunc = r->err.trunc;

    char sname[32];
    int sig = how->signal ? how->signal : r->kill_sig;
    if (r->why == WHY_CANCEL) {
        jx_job_set_error(j, JOB_FAILURE_CANCELED,
                         "canceled while running; killed by %s",
                         jx_signal_name(sig, sname, sizeof(sname)));
        return JOB_CANCELED;
    }
    if (r->why == WHY_TIMEOUT) {
        jx_job_set_error(j, JOB_FAILURE_TIMEOUT,
                         "timed out after %" PRId64 " ms; killed by %s",
                         j->timeout_ms, jx_signal_name(sig, sname, sizeof(sname)));
        return JOB_FAILED;
    }
    if (j->is_cmd) {
        if (how->signal)
            jx_job_set_error(j, JOB_FAILURE_SIGNAL, "killed by signal %d (%s)",
                             how->signal, jx_signal_name(how->signal, sname, sizeof(sname)));
        else if (how->exit_code == 0)
            return JOB_COMPLETED;
        else if (how->known)
            jx_job_set_error(j, JOB_FAILURE_EXIT, "exited with code %d",
                             how->exit_code);
        else
            jx_job_set_error(j, JOB_FAILURE_EXIT,
                             "its exit status was taken by another waitpid() "
                             "in the host");
        return JOB_FAILED;
    }
    if (r->why == WHY_PROTOCOL) {
        jx_job_set_error(j, JOB_FAILURE_PROTOCOL,
                         "the job process sent a malformed result (%s)",
                         r->rd.error ? r->rd.error : "cut off or out of order");
        return JOB_FAILED;
    }
    if (r->broken) {
        jx_job_set_error(j, JOB_FAILURE_PROTOCOL, "%s",
                         r->failmsg ? r->failmsg : "the job broke its result stream");
        return JOB_FAILED;
    }
    if (r->got_done) {
        if (r->failed) {
            jx_job_set_error(j, JOB_FAILURE_ERROR, "%s",
                             r->failmsg ? r->failmsg : "the job failed");
            return JOB_FAILED;
        }
        if (r->rc != 0) {
            jx_job_set_error(j, JOB_FAILURE_ERROR,
                             "the job function returned %d", r->rc);
            return JOB_FAILED;
        }
        j->result = r->result;
        j->result_len = r->result_len;
        r->result = NULL;
        return JOB_COMPLETED;
    }
    if (how->signal)
        jx_job_set_error(j, JOB_FAILURE_SIGNAL, "killed by signal %d (%s)",
                         how->signal, jx_signal_name(how->signal, sname, sizeof(sname)));
    else if (how->known)
        jx_job_set_error(j, JOB_FAILURE_EXIT,
                         "the job process exited with code %d without a result",
                         how->exit_code);
    else
        jx_job_set_error(j, JOB_FAILURE_EXIT,
                         "the job process ended without a result; its exit "
                         "status was taken by another waitpid() in the host");
    return JOB_FAILED;
}

/* A development-mode command is about to finish: job_cancel must no
 * longer reach the loop that ran it. */
static void detach_runner(job_executor *ex, job *j)
{
    if (j->runner) {
        pthread_mutex_lock(&ex->mu);
        j->runner = NULL;
        pthread_mutex_unlock(&ex->mu);
    }
}

/* Detaches the job from slot r, resets what belonged to it, and finishes
 * it with `final`. */
static void end_job(job_executor *ex, struct jx_dispatcher *d, struct run *r,
                    job_status final)
{
    job *j = r->j;
    jx_free(r->result);
    jx_free(r->failmsg);
    jx_free(r->out.buf);
    jx_free(r->err.buf);
    r->j = NULL;
    r->got_done = r->failed = r->cancel_seen = r->broken = false;
    r->rc = 0;
    r->failmsg = NULL;
    r->result = NULL;
    r->result_len = 0;
    memset(&r->out, 0, sizeof(r->out));
    memset(&r->err, 0, sizeof(r->err));
    r->deadline = r->kill_at = 0;
    r->why = WHY_NONE;
    r->kill_sig = 0;
    d->nrunning--;
    detach_runner(ex, j);
    jx_job_finish(j, final);
}

/* A reused worker sent DONE: its job is over, the worker lives on (or is
 * retired once it has run its share). */
static void worker_job_done(job_executor *ex, struct jx_dispatcher *d,
                            struct run *r)
{
    job_status final = judge(r, NULL);
    end_job(ex, d, r, final);
    r->jobs_run++;
    bool retire = r->retiring ||
                  (d->max_per_worker && r->jobs_run >= d->max_per_worker);
    r->retiring = false;
    if (retire && r->task_fd >= 0) {
        close(r->task_fd); /* it exits at end of file */
        r->task_fd = -1;
    }
}

/* The process of slot r has exited: collect everything, reap it, and
 * finish its job if it had one. */
static void process_exited(job_executor *ex, struct jx_dispatcher *d,
                           struct run *r)
{
    uint64_t cap = ex->set.max_output;
    /* Whatever the job left behind in its process group goes too, before
     * it can write more.  Everything the child wrote is in the pipes. */
    jx_proc_signal_group(&r->c, SIGKILL);
    if (r->c.out_fd >= 0)
        read_output(d, &r->c.out_fd, &r->out, cap);
    if (r->c.err_fd >= 0)
        read_output(d, &r->c.err_fd, &r->err, cap);
    read_results(ex, d, r);
    if (r->c.pidfd >= 0)
        epoll_ctl(d->epfd, EPOLL_CTL_DEL, r->c.pidfd, NULL);
    struct jx_exit how;
    jx_keeper_track(&ex->keeper, &r->c, false);
    jx_proc_reap(&r->c, &how);
    close_fd(d, &r->c.res_fd);
    close_fd(d, &r->c.out_fd);
    close_fd(d, &r->c.err_fd);
    if (r->task_fd >= 0)
        close(r->task_fd);
    r->task_fd = -1;
    if (r->j) {
        /* A frame cut off in the middle is a malformed result, whether
         * DONE came before it or not, unless a signal explains it. */
        if (r->why == WHY_NONE && !how.signal && !jx_wire_reader_idle(&r->rd))
            r->why = WHY_PROTOCOL;
        job_status final = judge(r, &how);
        end_job(ex, d, r, final);
    }
    jx_wire_reader_free(&r->rd);
    memset(&r->rd, 0, sizeof(r->rd));
    r->live = r->persistent = r->exited = r->retiring = false;
    r->jobs_run = 0;
    r->c.pid = -1;
    r->c.pidfd = r->c.res_fd = r->c.out_fd = r->c.err_fd = -1;
    r->c.keeper_slot = -1;
}

/* Registers the fds of slot r's new process with epoll. */
static void watch(struct jx_dispatcher *d, struct run *r)
{
    int slot = (int)(r - d->runs);
    if (r->c.pidfd >= 0)
        epoll_add(d, r->c.pidfd, slot, KIND_PID);
    if (r->c.res_fd >= 0)
        epoll_add(d, r->c.res_fd, slot, KIND_RES);
    if (r->c.out_fd >= 0) {
        epoll_add(d, r->c.out_fd, slot, KIND_OUT);
        epoll_add(d, r->c.err_fd, slot, KIND_ERR);
    }
}

/* A slot among [from, to) matching: idle live worker (want_idle) or no
 * process at all. */
static struct run *find_slot(struct jx_dispatcher *d, int from, int to,
                             bool want_idle)
{
    for (int i = from; i < to; i++) {
        struct run *r = &d->runs[i];
        if (want_idle ? (r->live && !r->j && r->task_fd >= 0 && !r->exited)
                      : !r->live)
            return r;
    }
    return NULL;
}

/* Hands j to a reused worker, forking one if none is idle.  Returns the
 * slot, or NULL when j must run in a process of its own. */
static struct run *start_on_worker(job_executor *ex, struct jx_dispatcher *d,
                                   job *j, const struct jx_child_setup *setup)
{
    struct run *r = find_slot(d, d->nslots, d->ntotal, true);
    if (!r) {
        r = find_slot(d, d->nslots, d->ntotal, false);
        if (!r || jx_proc_fork_worker(setup, &r->c, &r->task_fd) != 0)
            return NULL;
        r->live = r->persistent = true;
        r->jobs_run = 0;
        jx_keeper_track(&ex->keeper, &r->c, true);
        jx_wire_reader_init(&r->rd, JX_MAX_RESULT);
        watch(d, r);
    }
    if (jx_proc_send_task(r->task_fd, j) != 0) {
        /* The worker is gone: retire it; its exit is reaped as usual. */
        jx_proc_signal_group(&r->c, SIGKILL);
        close(r->task_fd);
        r->task_fd = -1;
        return NULL;
    }
    return r;
}

/* Starts a job taken off the queue. */
static void start_job(job_executor *ex, struct jx_dispatcher *d, job *j)
{
    struct jx_child_setup setup = {
        .capture = j->capture,
        .have_pidfd = d->have_pidfd,
        .memory_limit = ex->set.memory_limit,
        .devnull = d->devnull,
        .host_pid = d->pid,
    };
    struct run *r = NULL;
    /* Reused workers run function jobs that capture nothing and read no
     * prerequisite results (a worker forked earlier has none of them). */
    if (d->ntotal > d->nslots && !j->is_cmd && !j->capture &&
        !(j->g && j->g->n_prereqs))
        r = start_on_worker(ex, d, j, &setup);
    if (!r) {
        r = find_slot(d, 0, d->nslots, false);
        bool exec_failed = false;
        int err = j->is_cmd ? jx_proc_spawn_command(j, &setup, &r->c, &exec_failed)
                            : jx_proc_fork_job(j, &setup, &r->c);
        if (err != 0) {
            if (exec_failed)
                jx_job_set_error(j, JOB_FAILURE_START, "cannot execute '%s': %s",
                                 (const char *)j->input, strerror(err));
            else
                jx_job_set_error(j, JOB_FAILURE_START,
                                 "could not start the job process: %s", strerror(err));
            detach_runner(ex, j);
            jx_job_finish(j, JOB_FAILED);
            return;
        }
        r->live = true;
        r->task_fd = -1;
        jx_keeper_track(&ex->keeper, &r->c, true);
        jx_wire_reader_init(&r->rd, JX_MAX_RESULT);
        watch(d, r);
        /* Reaped by another waitpid() in the host before its pidfd could
         * be opened, and without a pipe whose end would tell (a command):
         * it has ended already. */
        if (r->c.pidfd < 0 && r->c.res_fd < 0)
            r->exited = true;
    }
    r->j = j;
    d->nrunning++;
    if (j->timeout_ms > 0)
        r->deadline = jx_monotonic_ns() + j->timeout_ms * 1000000;

    pthread_mutex_lock(&ex->mu);
    jx_job_set_status_locked(j, JOB_RUNNING);
    ex->n_running++;
    bool cancel = (j->flags & JX_JOB_CANCEL) || ex->cancel_all;
    pthread_mutex_unlock(&ex->mu);
    jx_job_notify(j, JOB_RUNNING);
    if (cancel)
        terminate_run(ex, r, WHY_CANCEL);
}

/* Deadlines: timeouts to enforce and SIGKILLs due.  Returns the epoll
 * timeout in ms until the next one (-1 for none). */
static int run_deadlines(job_executor *ex, struct jx_dispatcher *d)
{
    int64_t now = jx_monotonic_ns(), next = INT64_MAX;
    for (int i = 0; i < d->ntotal; i++) {
        struct run *r = &d->runs[i];
        if (!r->j || r->exited)
            continue;
        if (r->deadline && r->why == WHY_NONE) {
            if (now >= r->deadline)
                terminate_run(ex, r, WHY_TIMEOUT);
            else if (r->deadline < next)
                next = r->deadline;
        }
        if (r->kill_at) {
            if (now >= r->kill_at) {
                kill_run(r, r->why, SIGKILL);
                r->kill_at = 0;
            } else if (r->kill_at < next) {
                next = r->kill_at;
            }
        }
    }
    if (next == INT64_MAX)
        return -1;
    int64_t ms = (next - now + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

static void handle_event(job_executor *ex, struct jx_dispatcher *d,
                         uint64_t tag)
{
    if (tag == JX_EV_WAKE) {
        uint64_t v;
        ssize_t n = read(d->evfd, &v, sizeof(v));
        (void)n;
        return;
    }
    int slot = (int)(tag >> 2);
    if (slot >= d->ntotal || !d->runs[slot].live)
        return;
    struct run *r = &d->runs[slot];
    switch ((int)(tag & 3)) {
    case KIND_PID:
        r->exited = true;
        break;
    case KIND_RES:
        read_results(ex, d, r);
        /* A child reaped by another thread of the host before its pidfd
         * could be opened: the end of the result pipe is the end. */
        if (r->c.res_fd < 0 && r->c.pidfd < 0)
            r->exited = true;
        break;
    case KIND_OUT:
        read_output(d, &r->c.out_fd, &r->out, ex->set.max_output);
        break;
    case KIND_ERR:
        read_output(d, &r->c.err_fd, &r->err, ex->set.max_output);
        break;
    }
}

/* Acts on cancels, waits for events or the next deadline (not at all when
 * `busy`), handles them, and finishes the jobs whose process exited. */
static void pump(job_executor *ex, struct jx_dispatcher *d, bool busy)
{
    struct epoll_event evs[64];
    for (int i = 0; i < d->ntotal; i++) {
        if (d->runs[i].cancel_seen) {
            d->runs[i].cancel_seen = false;
            terminate_run(ex, &d->runs[i], WHY_CANCEL);
        }
    }
    int timeout = run_deadlines(ex, d);
    for (int i = 0; i < d->ntotal && !busy; i++)
        busy = d->runs[i].live && d->runs[i].exited;
    if (busy)
        timeout = 0;
    int n = epoll_wait(d->epfd, evs, (int)JX_ARRAY_SIZE(evs), timeout);
    atomic_store(&d->sleeping, false);
    for (int i = 0; i < n; i++)
        handle_event(ex, d, evs[i].data.u64);
    run_deadlines(ex, d);
    for (int i = 0; i < d->ntotal; i++)
        if (d->runs[i].live && d->runs[i].exited)
            process_exited(ex, d, &d->runs[i]);
}

/* Marks the running jobs that were cancelled since the last look.  Call
 * with ex->mu held. */
static void see_cancels_locked(job_executor *ex, struct jx_dispatcher *d)
{
    for (int i = 0; i < d->ntotal; i++) {
        struct run *r = &d->runs[i];
        if (r->j && r->why == WHY_NONE &&
            ((r->j->flags & JX_JOB_CANCEL) || ex->cancel_all))
            r->cancel_seen = true;
    }
}

static void *dispatcher_main(void *arg)
{
    job_executor *ex = arg;
    struct jx_dispatcher *d = ex->disp;
    tls_dispatcher = ex;
    job **batch = d->batch;

    for (;;) {
        int nstart = 0;
        bool quit;
        pthread_mutex_lock(&ex->mu);
        while (d->nrunning + nstart < d->nslots && ex->qhead) {
            job *j = ex->qhead;
            ex->qhead = j->next;
            if (ex->qhead)
                ex->qhead->prev = NULL;
            else
                ex->qtail = NULL;
            j->next = j->prev = NULL;
            j->flags &= ~(unsigned)JX_JOB_QUEUED;
            ex->n_pending--;
            batch[nstart++] = j;
        }
        see_cancels_locked(ex, d);
        quit = d->quit && d->nrunning == 0 && nstart == 0 && !ex->qhead;
        atomic_store(&d->sleeping, nstart == 0 && d->nrunning < d->nslots);
        pthread_mutex_unlock(&ex->mu);
        if (quit) {
            /* Retire the idle workers, and leave once every process of
             * ours has been reaped. */
            bool live = false;
            for (int i = 0; i < d->ntotal; i++) {
                struct run *r = &d->runs[i];
                if (r->task_fd >= 0) {
                    close(r->task_fd);
                    r->task_fd = -1;
                }
                live |= r->live;
            }
            if (!live)
                break;
        }

        for (int i = 0; i < nstart; i++)
            start_job(ex, d, batch[i]);
        /* Started jobs may have freed nothing, but the queue may hold
         * more for slots that are free: look again without sleeping. */
        pump(ex, d, nstart > 0);
    }
    return NULL;
}

/* Opens what a dispatcher needs: epoll, its eventfd, /dev/null, slots. */
static int dispatcher_open(struct jx_dispatcher *d, int nslots,
                           int64_t max_per_worker)
{
    d->nslots = nslots;
    /* max_jobs_per_worker = 1 is a fresh process per job: no workers.
     * Otherwise each slot may hold a worker and one being retired, so that
     * a worker that has run its share is replaced at once. */
    d->ntotal = max_per_worker == 1 ? nslots : 3 * nslots;
    d->max_per_worker = max_per_worker > 0 ? (uint64_t)max_per_worker : 0;
    d->pid = getpid();
    d->have_pidfd = jx_proc_have_pidfd();
    d->epfd = d->evfd = d->devnull = -1;
    d->runs = jx_calloc((size_t)d->ntotal, sizeof(*d->runs));
    d->batch = jx_calloc((size_t)nslots, sizeof(*d->batch));
    if (!d->runs || !d->batch)
        return JOB_ENOMEM;
    for (int i = 0; i < d->ntotal; i++) {
        struct run *r = &d->runs[i];
        r->c.pid = -1;
        r->c.pidfd = r->c.res_fd = r->c.out_fd = r->c.err_fd = -1;
        r->c.keeper_slot = -1;
        r->task_fd = -1;
    }
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (d->epfd < 0 || d->evfd < 0 || d->devnull < 0)
        return JOB_ESYS;
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u64 = JX_EV_WAKE;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev) < 0)
        return JOB_ESYS;
    return JOB_OK;
}

static void dispatcher_close(struct jx_dispatcher *d)
{
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->evfd >= 0)
        close(d->evfd);
    if (d->devnull >= 0)
        close(d->devnull);
    jx_free(d->runs);
    jx_free(d->batch);
}

void jx_keeper_ensure_locked(job_executor *ex)
{
    if (ex->keeper_started)
        return;
    ex->keeper_started = true;
    jx_keeper_start(&ex->keeper); /* on failure fd is -1: no keeper */
}

int jx_dispatcher_start(job_executor *ex)
{
    struct jx_dispatcher *d = jx_calloc(1, sizeof(*d));
    if (!d)
        return JOB_ENOMEM;
    int rc = dispatcher_open(d, ex->set.workers, ex->set.max_jobs_per_worker);
    if (rc != JOB_OK)
        goto fail;
    jx_keeper_ensure_locked(ex); /* no other thread knows ex yet */

    /* The thread starts with every signal blocked: host signals are never
     * delivered to it, and the children it forks start blocked too. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ex->disp = d;
    int e = pthread_create(&d->thread, NULL, dispatcher_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        ex->disp = NULL;
        rc = JOB_ESYS;
        goto fail;
    }
    return JOB_OK;
fail:
    jx_keeper_stop(&ex->keeper);
    ex->keeper_started = false;
    dispatcher_close(d);
    jx_free(d);
    return rc;
}

void jx_dispatcher_join(job_executor *ex)
{
    struct jx_dispatcher *d = ex->disp;
    pthread_mutex_lock(&ex->mu);
    d->quit = true;
    pthread_mutex_unlock(&ex->mu);
    jx_dispatcher_wake(ex);
    pthread_join(d->thread, NULL);
    dispatcher_close(d);
    jx_free(d);
    ex->disp = NULL;
}

void jx_runner_wake(struct jx_dispatcher *d)
{
    uint64_t one = 1;
    ssize_t r = write(d->evfd, &one, sizeof(one));
    (void)r; /* EAGAIN: the counter is already non-zero, it will wake */
}

void jx_dispatch_inline(job *j)
{
    job_executor *ex = j->ex;
    struct jx_dispatcher d;
    memset(&d, 0, sizeof(d));
    if (dispatcher_open(&d, 1, 1) != JOB_OK) {
        dispatcher_close(&d);
        jx_job_set_error(j, JOB_FAILURE_START,
                         "could not start the job process: %s", strerror(errno));
        jx_job_finish(j, JOB_FAILED);
        return;
    }
    /* Block signals while the child is created, so that none reaches it
     * before it has reset the host's handlers. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_lock(&ex->mu);
    jx_keeper_ensure_locked(ex);
    j->runner = &d;
    pthread_mutex_unlock(&ex->mu);
    start_job(ex, &d, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    while (d.runs[0].j) {
        pthread_mutex_lock(&ex->mu);
        see_cancels_locked(ex, &d);
        pthread_mutex_unlock(&ex->mu);
        pump(ex, &d, false);
    }
    dispatcher_close(&d);
}
