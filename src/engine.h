/*
 * engine.h - the executor, its jobs and the contract between the executor
 * (executor.c) and its two dispatchers (inline.c, standalone.c).
 *
 * Data flows one way: config -> executor -> dispatcher -> worker process ->
 * results back through the wire (wire.c) -> the job's record.
 *
 * Locking: one mutex per executor (ex->mu) guards the queue, the counters
 * and every job's mutable record.  It is never held across fork(), a
 * callback, or a blocking system call.
 */
#ifndef JX_ENGINE_H
#define JX_ENGINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "internal.h"

struct jx_dispatcher; /* standalone.c */

/* A process that kills the process groups of jobs when the host dies
 * (proc.h, proc_unix.c). */
struct jx_keeper {
    pid_t pid;
    int pidfd;
    int fd;
    _Atomic int *table;          /* shared with the keeper: live groups */
    size_t slots;
    atomic_size_t hint;          /* where to look for a free slot first */
};

/* A registered job function. */
struct jx_fn_entry {
    char *name;
    job_fn fn;
};

/* The settings an executor copies from its config at creation. */
struct jx_settings {
    job_mode mode;
    int workers;
    int64_t timeout_ms;  /* 0: none */
    bool capture;
    int64_t kill_grace_ms;
    uint64_t max_output;
    uint64_t memory_limit; /* 0: none */
    int64_t max_jobs_per_worker; /* 1: a process per job; 0: unlimited */
};

struct job_executor {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* broadcast when a job is done */
    atomic_uint refs;           /* the handle, plus one per live job */
    struct jx_settings set;
    unsigned fork_gen;          /* jx_fork_generation() at creation */

    /* Guarded by mu. */
    uint64_t next_id;
    job *qhead, *qtail;         /* the FIFO of PENDING jobs */
    job *inline_head;           /* development mode: jobs being run */
    job *ready_head, *ready_tail; /* development mode: unblocked, to run */
    job *blocked_head;          /* BLOCKED jobs */
    struct jx_keymap *keys;     /* skippable jobs by key (graph.c) */
    uint64_t n_submitted, n_pending, n_running, n_finished, n_failed;
    uint64_t n_undone;          /* jobs whose final callbacks have not run */
    unsigned n_job_waiters;     /* threads in job_wait */
    unsigned n_all_waiters;     /* threads in job_executor_wait_all */
    bool stopping;
    bool cancel_all;            /* stop(JOB_STOP_CANCEL): kill what runs */
    bool freeing;
    job_status_cb cb;
    void *cb_ud;
    struct jx_fn_entry *fns;
    size_t n_fns, cap_fns;

    struct jx_dispatcher *disp; /* standalone mode only */
    struct jx_keeper keeper;     /* started before the first job process */
    bool keeper_started;         /* guarded by mu */
};

/* Bits of job->flags, guarded by ex->mu. */
enum {
    JX_JOB_QUEUED = 1u << 0,      /* linked in ex's queue */
    JX_JOB_CANCEL = 1u << 1,      /* job_cancel was called */
    JX_JOB_DONE = 1u << 2,        /* final callbacks have returned */
    JX_JOB_INLINE = 1u << 3,      /* linked in ex's list of inline jobs */
    JX_JOB_BLOCKED = 1u << 4      /* linked in ex's list of blocked jobs */
};

/* What a job has of a graph: allocated only for jobs with prerequisites,
 * a key or a submission (graph.c).  Guarded by ex->mu. */
struct jx_graph {
    job **prereqs;              /* retained */
    size_t n_prereqs;
    size_t n_waiting;           /* prerequisites (and a same-key job) to wait for */
    job **deps;                 /* jobs waiting for this one (retained) */
    size_t n_deps, cap_deps;
    job *coalesce_on;           /* the running same-key job waited for */
    job *shared;                /* SKIPPED: the job whose result it shares */
    job *abandoned_by;          /* ABANDONED: the prerequisite that caused it */
    char *key;
    bool skippable, force;
    struct job_submission *sub; /* retained until the job is done */
};

struct job {
    job *prev, *next;           /* queue links, or inline list links */
    job_executor *ex;
    atomic_uint refs;
    _Atomic int status;         /* job_status; written under ex->mu */
    unsigned flags;
    uint64_t id;
    job_fn fn;
    const char *fn_name;        /* registry-owned, or NULL */
    char *label;
    void *userdata;
    job_status_cb on_status;
    int64_t timeout_ms;         /* 0: none */
    bool capture;
    int64_t times[JOB_STATUS_COUNT];

    /* The record, complete once the job is finished. */
    void *result;
    size_t result_len;
    char *errmsg;
    job_failure failure;
    int exit_code;
    int term_signal;
    char *out, *err;
    size_t out_len, err_len;
    bool out_trunc, err_trunc;
    uint64_t prog_done, prog_total;

    /* A command job (fn == NULL): input holds argv, then envp, then cwd,
     * each string NUL-terminated. */
    bool is_cmd, has_env, has_cwd;
    uint32_t argc, envc;
    struct jx_dispatcher *runner; /* development-mode command: its loop */
    struct jx_graph *g;         /* NULL for a job outside any graph */

    size_t input_len;
    /* Copied at submit; aligned for any type, as malloc's memory is. */
    _Alignas(max_align_t) unsigned char input[];
};

/*
 * Unlinks j from one of ex's doubly-linked lists (the queue, the inline
 * jobs, the blocked jobs: a job is in at most one) and clears `flag`.
 * *tail may be NULL for lists without a tail.  With ex->mu held.
 */
static inline void jx_list_unlink(job **head, job **tail, job *j, unsigned flag)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else if (tail)
        *tail = j->prev;
    j->prev = j->next = NULL;
    j->flags &= ~flag;
}

/* How a job function's context reaches its record. */
enum jx_ctx_kind { JX_CTX_INLINE, JX_CTX_CHILD };

struct job_ctx {
    enum jx_ctx_kind kind;
    job *j;
    int fd;                     /* JX_CTX_CHILD: the result pipe */
    bool failed;                /* job_fail() was called */
    char *failmsg;              /* JX_CTX_INLINE: the message */
    int io_error;               /* JX_CTX_CHILD: a write failed */
};

/* ---- executor.c: shared by the dispatchers ----------------------------- */

/* Moves j to `status` (not a final one) under ex->mu, stamping the time. */
void jx_job_set_status_locked(job *j, job_status status);

/* Runs the job's and the executor's callbacks for `status`.  Call without
 * ex->mu held. */
void jx_job_notify(job *j, job_status status);

/*
 * Finishes j: the record fields must already be filled in.  Takes ex->mu,
 * sets the final status and counters, runs the callbacks, then marks the
 * job done, wakes waiters and drops the executor's reference.  Call
 * without ex->mu held.
 */
void jx_job_finish(job *j, job_status final);

/* Builds the failure sentence for j (printf style) and stores it. */
void jx_job_set_error(job *j, job_failure failure, const char *fmt, ...)
    JOB_PRINTF(3, 4);

/* Thread-local markers of where the current thread is. */
bool jx_in_callback(void);
bool jx_in_job(void);
void jx_set_in_job(bool on);

/* Increased in every child forked by this process (pthread_atfork). */
unsigned jx_fork_generation(void);

void jx_executor_unref(job_executor *ex);

/* Starts ex's keeper if it has none yet (standalone.c).  Call with ex->mu
 * held. */
void jx_keeper_ensure_locked(job_executor *ex);

/* Finishes j as jx_job_finish does, without settling its dependents
 * (graph.c settles them without recursion). */
void jx_job_finish_core(job *j, job_status final);

/* A job that may run now: queued (standalone) or listed to be run inline
 * (development). */
void jx_job_runnable(job *j);

/* For job_submit_graph: builds a job for a spec without submitting it;
 * submits a built job; frees one never submitted. */
job *jx_job_from_spec(job_executor *ex, const job_spec *sp, int *rc);
int jx_job_submit_built(job *j, job **out);
void jx_job_discard(job *j);

/* ---- graph.c: prerequisites, skipping, submissions ---------------------- */

/* Gives j its graph state from the options.  Returns JOB_OK, JOB_EINVAL
 * (a prerequisite of another executor) or JOB_ENOMEM. */
int jx_graph_attach(job *j, job *const *prereqs, size_t n_prereqs,
                    const job_options *opts);

enum jx_admit { JX_ADMIT_RUN, JX_ADMIT_WAIT, JX_ADMIT_DONE };
/* Decides, after SUBMITTED, whether j runs now, waits BLOCKED, or is
 * already over (SKIPPED or ABANDONED).  Call without ex->mu. */
enum jx_admit jx_graph_admit(job *j);

/* After j finished: readies, skips or abandons the jobs waiting for it,
 * and so on downstream, without recursion.  Call without ex->mu. */
void jx_graph_settle(job *j);

/* Cancels every BLOCKED job of ex (job_executor_stop). */
void jx_graph_cancel_blocked(job_executor *ex, const char *why,
                             job_failure failure);

/* Counts a status change of j for its submission.  With ex->mu held. */
void jx_graph_count_locked(job *j, job_status from, job_status to);
/* Runs the submission's callback if its status changed.  Without mu. */
void jx_graph_notify(job *j);
/* j is done: the submission counts it, and j lets it go. */
void jx_graph_done(job *j);

/* Frees j's graph state (job_release). */
void jx_graph_free(job *j);
void jx_keymap_free(struct jx_keymap *m);

/* ---- inline.c: development mode ---------------------------------------- */

/* Runs the jobs that became runnable in development mode. */
void jx_inline_drain(job_executor *ex);

/* Runs a development-mode command job in the calling thread, with the
 * dispatcher's machinery (standalone.c): timeouts and cancel work. */
void jx_dispatch_inline(job *j);


/* Runs j inline in the calling thread, from SUBMITTED to its end. */
void jx_inline_run(job *j);

/* ---- standalone.c: the dispatcher -------------------------------------- */

int jx_dispatcher_start(job_executor *ex);
/* Wakes the dispatcher: a cancel flag or `stopping` changed. */
void jx_dispatcher_wake(job_executor *ex);
/* A job was queued: wakes the dispatcher if it sleeps with a free slot. */
void jx_dispatcher_queued(job_executor *ex);
/* Tells the dispatcher to exit once nothing runs, joins it, frees it. */
void jx_dispatcher_join(job_executor *ex);
/* Wakes a development-mode command's loop (see job->runner). */
void jx_runner_wake(struct jx_dispatcher *d);
/* True when the calling thread is ex's dispatcher. */
bool jx_dispatcher_is_current(const job_executor *ex);

#endif
