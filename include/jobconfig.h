/*
 * jobconfig.h - the public API of libjobexec.
 *
 * libjobexec runs jobs for a host application.  A job is a C function (or,
 * by name, a function registered with the executor) that receives a copy of
 * its input bytes and produces result bytes.  How jobs run is configured the
 * way Taipy configures job executions: a [JOB] section in a TOML file, or the
 * same settings from code.
 *
 *   development mode  job_submit() runs the job inline, in the caller's
 *                     thread, and returns when it has finished.
 *   standalone mode   job_submit() queues the job and returns at once; a
 *                     dispatcher thread runs each job in its own forked
 *                     process, at most nb_of_workers at a time.
 *
 * Conventions used throughout this header:
 *   - Every function that can fail returns an int: JOB_OK (0) or a negative
 *     JOB_E* code.  job_strerror() describes a code.
 *   - Objects that live and die are opaque handles with a constructor and a
 *     destructor.  Destructors accept NULL and do nothing with it.
 *   - Timeouts are in milliseconds: a negative timeout waits for ever, zero
 *     does not wait at all.
 *   - Strings passed in are copied; nothing keeps a pointer into the
 *     caller's memory after a call returns.
 *
 * Thread rules: a job_config is a plain value and may be used by one thread
 * at a time.  An executor and job handles may be used from any thread at the
 * same time, except where a function says otherwise.
 *
 * fork(): an executor belongs to the process that created it.  In a child
 * forked from that process, job_submit, job_executor_wait_all,
 * job_executor_stop, job_wait and job_cancel return JOB_EFORKED (job_wait
 * and job_cancel answer as usual for a job that had finished), and
 * job_executor_free does nothing: the parent's jobs are the parent's.
 */
#ifndef JOBCONFIG_H
#define JOBCONFIG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define JOB_API __attribute__((visibility("default")))
#define JOB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JOB_API
#define JOB_PRINTF(f, a)
#endif

#define JOBEXEC_VERSION_MAJOR 0
#define JOBEXEC_VERSION_MINOR 1
#define JOBEXEC_VERSION_PATCH 0
#define JOBEXEC_VERSION_STRING "0.1.0"

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

/* Error codes.  Their values never change. */
typedef enum job_error {
    JOB_OK = 0,
    JOB_EINVAL = -1,      /* an argument is invalid (NULL, out of range) */
    JOB_ENOMEM = -2,      /* memory ran out */
    JOB_EIO = -3,         /* a file could not be read or written */
    JOB_ECONFIG = -4,     /* the configuration has errors; see the issues */
    JOB_ESTOPPED = -5,    /* the executor is stopping or stopped */
    JOB_EFINISHED = -6,   /* the job has already finished */
    JOB_ETIMEDOUT = -7,   /* a wait ran out of time */
    JOB_ENOTFOUND = -8,   /* no function is registered under that name */
    JOB_EEXIST = -9,      /* a function is already registered under it */
    JOB_ESYS = -10,       /* a system call failed (fork, pipe, thread...) */
    JOB_EBUSY = -11,      /* not allowed from here (a callback, a job) */
    JOB_EFORKED = -12,    /* the executor belongs to the parent process */
    JOB_ECYCLE = -13      /* job prerequisites form a cycle */
} job_error;

/* A sentence describing `err`, such as "invalid argument".  Never NULL; an
 * unknown code gives "unknown error".  The string is static. */
JOB_API const char *job_strerror(int err);

/* The code's name, such as "JOB_EINVAL".  Never NULL; static. */
JOB_API const char *job_err_name(int err);

/* The library's version as a string, such as "0.1.0". */
JOB_API const char *job_version(void);

/* ======================================================================== */
/* Configuration                                                            */
/* ======================================================================== */

/*
 * A job_config holds the settings of the [JOB] section.  It is built in
 * layers, weakest first:
 *
 *   1. the defaults,
 *   2. values set from code (job_configure_job_executions, job_config_set),
 *   3. the file loaded with job_config_load_file or job_config_load_string,
 *   4. the file named by the environment variable JOBEXEC_CONFIG_PATH.
 *
 * A value set in a stronger layer hides the same key in weaker layers, the
 * way Taipy's Config does: a value set from code after a file was loaded
 * does not override the file.
 *
 * Keys of the [JOB] section (see the README for the full reference):
 *
 *   mode              "development" (default) or "standalone"
 *   nb_of_workers     int, 1 to 4096, default 1 (max_nb_of_workers is a
 *                     synonym)
 *   job_timeout       timedelta > 0, default none: a running job is killed
 *                     and FAILED after this long (standalone mode only)
 *   capture_output    bool, default false: record the job's stdout/stderr
 *   kill_grace        timedelta, default 5s: time between SIGTERM and
 *                     SIGKILL when a job is cancelled or times out
 *                     (timedeltas are at most 3650d)
 *   max_output_bytes  int >= 0, default 1048576: cap on each of the
 *                     captured stdout and stderr of one job
 *   memory_limit      int >= 0 bytes, default 0 (none): RLIMIT_AS of each
 *                     job's process (standalone mode only)
 *   max_jobs_per_worker  int >= 0, default 1: how many jobs one worker
 *                     process runs.  1 forks a fresh process per job; 0
 *                     (no limit) or N > 1 reuses worker processes, forked
 *                     when first needed, for function jobs that do not
 *                     capture output (standalone mode only)
 *
 * Values may be written natively (8, true, "standalone") or typed in a
 * string the way Taipy writes them: "8:int", "1.5:float", "true:bool",
 * "x:str", "1d2h3m4s:timedelta", and templates "ENV[VAR]" or
 * "ENV[VAR]:int" resolved from the environment when the file is loaded.
 */

typedef struct job_config job_config;

typedef enum job_mode {
    JOB_MODE_DEVELOPMENT = 0,
    JOB_MODE_STANDALONE = 1
} job_mode;

/* Creates a config holding the defaults.  It reads no file and no
 * environment.  Returns JOB_OK, JOB_EINVAL (out is NULL) or JOB_ENOMEM. */
JOB_API int job_config_new(job_config **out);

/* Frees a config and everything it owns.  NULL is a no-op. */
JOB_API void job_config_free(job_config *cfg);

/* Makes an independent copy of `cfg`, layers and recorded issues included.
 * Returns JOB_OK, JOB_EINVAL or JOB_ENOMEM. */
JOB_API int job_config_dup(const job_config *cfg, job_config **out);

/*
 * The C form of Taipy's Config.configure_job_executions(mode=...,
 * nb_of_workers=...).  Sets values in the code layer.
 *
 *   mode            "development" or "standalone"; NULL keeps the current one.
 *   nb_of_workers   1 to 4096; 0 keeps the current one.
 *
 * Returns JOB_OK, or JOB_EINVAL (unknown mode, count out of range, cfg
 * NULL), in which case nothing is changed.
 */
JOB_API int job_configure_job_executions(job_config *cfg, const char *mode,
                                         int nb_of_workers);

/*
 * Sets any [JOB] key in the code layer, from its text as it would be written
 * after "key =" in a file: "8", "\"8:int\"", "standalone", "'2m:timedelta'".
 * A bare word is taken as a string.  ENV[...] templates are resolved now.
 *
 * Returns JOB_OK; JOB_EINVAL if cfg, key or value is NULL, the key is
 * unknown, or the value is not valid for it (nothing is changed); JOB_ENOMEM.
 */
JOB_API int job_config_set(job_config *cfg, const char *key,
                           const char *value);

/* Resolved values, after layers.  cfg must not be NULL. */
JOB_API job_mode job_config_mode(const job_config *cfg);
JOB_API int job_config_nb_of_workers(const job_config *cfg);
/* 0 means no timeout. */
JOB_API int64_t job_config_job_timeout_ms(const job_config *cfg);
JOB_API bool job_config_capture_output(const job_config *cfg);
JOB_API int64_t job_config_kill_grace_ms(const job_config *cfg);
JOB_API uint64_t job_config_max_output_bytes(const job_config *cfg);
/* 0 means no limit. */
JOB_API uint64_t job_config_memory_limit(const job_config *cfg);
/* 1: a process per job; 0: workers are reused without limit. */
JOB_API int64_t job_config_max_jobs_per_worker(const job_config *cfg);

/* The name of a mode: "development" or "standalone"; "?" otherwise. */
JOB_API const char *job_mode_name(job_mode mode);

/* ---- Issues: what the loader and the checker report ------------------- */

typedef enum job_issue_level {
    JOB_ISSUE_INFO = 0,
    JOB_ISSUE_WARNING = 1,
    JOB_ISSUE_ERROR = 2
} job_issue_level;

/* One problem.  Strings are owned by the job_issues list that holds it. */
typedef struct job_issue {
    job_issue_level level;
    const char *file;    /* file name, "<string>" style name, or NULL */
    unsigned line;       /* 1-based line, or 0 when not known */
    const char *key;     /* the key concerned, or NULL */
    const char *value;   /* the value as written, or NULL */
    const char *message; /* a sentence a user can act on; never NULL */
} job_issue;

typedef struct job_issues job_issues;

/* Number of issues in the list (0 for NULL). */
JOB_API size_t job_issues_count(const job_issues *list);
/* Issue i, or NULL when i is out of range.  Valid until the list is freed. */
JOB_API const job_issue *job_issues_get(const job_issues *list, size_t i);
/* Number of issues at `level` (0 for NULL). */
JOB_API size_t job_issues_count_level(const job_issues *list,
                                      job_issue_level level);
/* Frees the list.  NULL is a no-op. */
JOB_API void job_issues_free(job_issues *list);
/* "ERROR", "WARNING" or "INFO". */
JOB_API const char *job_issue_level_name(job_issue_level level);
/*
 * Formats one issue on one line, without a newline:
 *   ERROR config.toml:3: nb_of_workers = "0:int": must be at least 1
 * Writes at most `size` bytes, NUL included, and returns the length the full
 * line needs (as snprintf does), or -1 if issue is NULL.
 */
JOB_API int job_issue_format(const job_issue *issue, char *buf, size_t size);

/* ---- Loading, checking, exporting ------------------------------------- */

/*
 * Loads the [JOB] section of a TOML file into the file layer, then reloads
 * the layer of the file named by JOBEXEC_CONFIG_PATH, if that variable is
 * set and not empty.  Other sections belong to the host and are ignored.
 *
 * Every problem found is reported in *issues (when issues is not NULL; the
 * caller frees the list), with its file and line.  If any problem is an
 * ERROR, the config is left exactly as it was.
 *
 * Returns JOB_OK (warnings may still be reported), JOB_EIO (a file cannot be
 * read; also reported as an issue), JOB_ECONFIG (errors in a file),
 * JOB_EINVAL (cfg or path NULL) or JOB_ENOMEM.
 */
JOB_API int job_config_load_file(job_config *cfg, const char *path,
                                 job_issues **issues);

/* As job_config_load_file, from `len` bytes of text in memory.  `name` is
 * used as the file name in issues (NULL gives "<string>"). */
JOB_API int job_config_load_string(job_config *cfg, const char *text,
                                   size_t len, const char *name,
                                   job_issues **issues);

/* Loads only the layer named by JOBEXEC_CONFIG_PATH, for a host that loads
 * no file of its own.  Returns JOB_OK when the variable is unset or empty
 * (a layer loaded from it before is then dropped); otherwise as
 * job_config_load_file. */
JOB_API int job_config_load_env(job_config *cfg, job_issues **issues);

/*
 * The checker.  Reports every problem of the config as it stands: the
 * warnings recorded when its files were loaded (unknown keys, duplicates,
 * with file and line) and the problems of the resolved values taken
 * together (for example an INFO when job_timeout is set in development
 * mode, which cannot enforce it).
 *
 * Returns JOB_OK when there is no ERROR, JOB_ECONFIG when there is one,
 * JOB_EINVAL or JOB_ENOMEM.  *issues (when not NULL) receives the list,
 * possibly empty; the caller frees it.
 */
JOB_API int job_config_check(const job_config *cfg, job_issues **issues);

/*
 * Writes the resolved config as a [JOB] section in Taipy's typed style
 * (mode = "standalone", nb_of_workers = "8:int", ...), which loads back to
 * the same config.  *out receives a NUL-terminated string the caller frees
 * with free(); *len (if not NULL) its length.
 * Returns JOB_OK, JOB_EINVAL or JOB_ENOMEM.
 */
JOB_API int job_config_export(const job_config *cfg, char **out, size_t *len);

/* As job_config_export, written to `path` (replaced atomically).
 * Returns JOB_OK, JOB_EINVAL, JOB_ENOMEM or JOB_EIO. */
JOB_API int job_config_export_file(const job_config *cfg, const char *path);

/*
 * Parses a timedelta as written in a config ("1d2h3m4s", "1.5s", "2m",
 * "250ms", "90", a bare number meaning seconds) into milliseconds.
 * Returns JOB_OK or JOB_EINVAL.
 */
JOB_API int job_parse_timedelta(const char *text, int64_t *ms_out);

/* ======================================================================== */
/* Jobs                                                                     */
/* ======================================================================== */

typedef struct job_executor job_executor;
typedef struct job job;
typedef struct job_ctx job_ctx;

/*
 * A job function.  It receives its context and its input bytes, which stay
 * valid until it returns.  It returns 0 for success; anything else fails
 * the job.  In standalone mode it runs in a child process: what it changes
 * in memory is not seen by the host, only what it sends through its context.
 */
typedef int (*job_fn)(job_ctx *ctx, const void *input, size_t input_len);

/* Taipy's job statuses, with Taipy's meanings. */
typedef enum job_status {
    JOB_SUBMITTED = 0, /* created by job_submit */
    JOB_BLOCKED = 1,   /* waiting for prerequisites (job graphs) */
    JOB_PENDING = 2,   /* queued, waiting for a free worker */
    JOB_RUNNING = 3,   /* running */
    JOB_CANCELED = 4,  /* cancelled before it could finish */
    JOB_FAILED = 5,    /* ran and failed; see job_failure_kind() */
    JOB_COMPLETED = 6, /* ran and succeeded */
    JOB_SKIPPED = 7,   /* not run: its result was already known */
    JOB_ABANDONED = 8  /* not run: a prerequisite did not complete */
} job_status;
#define JOB_STATUS_COUNT 9

/* "SUBMITTED", "PENDING", ...; "?" for an unknown value. */
JOB_API const char *job_status_name(job_status status);

/* True for COMPLETED, FAILED, CANCELED, SKIPPED and ABANDONED. */
JOB_API bool job_status_is_finished(job_status status);

/* Why a job did not complete.  Values never change. */
typedef enum job_failure {
    JOB_FAILURE_NONE = 0,     /* it completed, or has not finished */
    JOB_FAILURE_ERROR = 1,    /* the function returned non-zero or called
                                 job_fail(); see job_error_message() */
    JOB_FAILURE_SIGNAL = 2,   /* its process was killed by a signal it did
                                 not get from the library (a crash) */
    JOB_FAILURE_EXIT = 3,     /* its process exited without a result */
    JOB_FAILURE_TIMEOUT = 4,  /* it ran past its timeout and was killed */
    JOB_FAILURE_CANCELED = 5, /* it was cancelled (status CANCELED) */
    JOB_FAILURE_START = 6,    /* it could not be started (fork, pipe...) */
    JOB_FAILURE_PROTOCOL = 7, /* its process sent a malformed result */
    JOB_FAILURE_STOPPED = 8,  /* the executor was stopped before it ran */
    JOB_FAILURE_ABANDONED = 9 /* a prerequisite did not complete; see
                                 job_abandoned_by() */
} job_failure;

/* "none", "error", "signal", "exit", "timeout", "canceled", "start",
 * "protocol", "stopped", "abandoned"; "?" otherwise. */
JOB_API const char *job_failure_name(job_failure failure);

/* Called on each status change of a job.  `status` is the status the job
 * has just entered; the job's record is complete for it (for FAILED, the
 * error is already recorded).  Calls for one job arrive in order.  See
 * job_options.on_status and job_executor_on_status for the thread. */
typedef void (*job_status_cb)(job *j, job_status status, void *userdata);

/* Per-job options.  A zeroed struct means "everything from the config". */
typedef struct job_options {
    const char *label;     /* a name for people; copied; may be NULL */
    void *userdata;        /* passed to on_status; see job_userdata() */
    job_status_cb on_status; /* called on each status change, or NULL */
    int64_t timeout_ms;    /* 0: the config's job_timeout; < 0: none */
    int capture_output;    /* JOB_CAPTURE_DEFAULT / _ON / _OFF */

    /* Job graphs.  Prerequisites: jobs already submitted to the same
     * executor.  The job is BLOCKED until each of them is COMPLETED or
     * SKIPPED, then PENDING; if one ends FAILED, CANCELED or ABANDONED,
     * the job is ABANDONED, and so is everything downstream of it. */
    job *const *after;     /* n_after handles (not taken over), or NULL */
    size_t n_after;

    /* Skippable jobs.  `key` names what the job computes (its function and
     * input, as the host chooses).  With `skippable`, a job whose key
     * already COMPLETED in this executor is SKIPPED at once and shares
     * that result, and one whose key is running waits for it (BLOCKED)
     * and shares its result when it completes (or runs itself if it does
     * not).  `force` runs the job anyway. */
    const char *key;       /* copied; NULL for none */
    bool skippable;
    bool force;
} job_options;

#define JOB_CAPTURE_DEFAULT 0
#define JOB_CAPTURE_ON 1
#define JOB_CAPTURE_OFF 2

/* How job_executor_stop() ends the work. */
typedef enum job_stop_mode {
    JOB_STOP_DRAIN = 0, /* no new submits; queued and running jobs finish */
    JOB_STOP_CANCEL = 1 /* no new submits; everything unfinished is
                           cancelled, running processes killed */
} job_stop_mode;

/* ---- Executor --------------------------------------------------------- */

/*
 * Creates an executor from a copy of `cfg` (later changes to cfg do not
 * touch it).  In standalone mode this starts the dispatcher thread.
 *
 * Returns JOB_OK; JOB_EINVAL (NULL argument); JOB_ECONFIG (the config has
 * an ERROR); JOB_ENOMEM; JOB_ESYS (a thread or descriptor could not be
 * created).
 */
JOB_API int job_executor_new(const job_config *cfg, job_executor **out);

/*
 * Registers `fn` under `name`, for job_submit_named().  Register functions
 * before submitting jobs that use them; in standalone mode children see the
 * registry as it was when they were forked.
 *
 * Returns JOB_OK, JOB_EINVAL (NULL or empty name, NULL fn), JOB_EEXIST or
 * JOB_ENOMEM.  Any thread.
 */
JOB_API int job_executor_register(job_executor *ex, const char *name,
                                  job_fn fn);

/*
 * Sets the executor-wide status callback (NULL removes it).  It is called
 * for every status change of every job, after the job's own on_status.
 *
 * Threads: in development mode, every callback runs in the thread that
 * called job_submit (or job_cancel).  In standalone mode, SUBMITTED and
 * PENDING run in the thread that called job_submit, CANCELED of a job that
 * never ran in the thread that called job_cancel or job_executor_stop, and
 * RUNNING and every other final status in the dispatcher thread.  In a job
 * graph, what happens to a job because another one finished (PENDING after
 * BLOCKED, SKIPPED, ABANDONED) runs in the thread that finished the other
 * one; in development mode, a job unblocked that way runs in the thread
 * whose job_submit call unblocked it.  A
 * callback must not block for long, must not call job_wait on a job of the
 * same executor, and must not stop or free the executor (those return
 * JOB_EBUSY).
 *
 * Returns JOB_OK or JOB_EINVAL.  Any thread.
 */
JOB_API int job_executor_on_status(job_executor *ex, job_status_cb cb,
                                   void *userdata);

/* The mode the executor runs in. */
JOB_API job_mode job_executor_mode(const job_executor *ex);

/* Counts of the executor's jobs, by where they are. */
typedef struct job_executor_stats {
    uint64_t submitted; /* jobs ever submitted */
    uint64_t pending;   /* queued now */
    uint64_t running;   /* running now */
    uint64_t finished;  /* finished, of any final status */
    uint64_t failed;    /* finished FAILED */
} job_executor_stats;

/* Fills *out.  Returns JOB_OK or JOB_EINVAL.  Any thread. */
JOB_API int job_executor_stats_get(job_executor *ex, job_executor_stats *out);

/*
 * Waits until every job submitted so far has finished and its callbacks
 * have returned.  Returns JOB_OK, JOB_ETIMEDOUT, JOB_EINVAL, or JOB_EBUSY
 * (called from a callback in the dispatcher thread).
 */
JOB_API int job_executor_wait_all(job_executor *ex, int64_t timeout_ms);

/*
 * Stops the executor: job_submit returns JOB_ESTOPPED from now on.  With
 * JOB_STOP_DRAIN, queued and running jobs go on; with JOB_STOP_CANCEL they
 * are cancelled as by job_cancel.  Then waits up to timeout_ms for every
 * job to finish.  May be called again, for instance to cancel after a
 * drain that timed out.
 *
 * Returns JOB_OK (all jobs finished), JOB_ETIMEDOUT, JOB_EINVAL or
 * JOB_EBUSY (called from a callback or a job).
 */
JOB_API int job_executor_stop(job_executor *ex, job_stop_mode how,
                              int64_t timeout_ms);

/*
 * Stops the executor with JOB_STOP_CANCEL if it is not stopped, waits for
 * every job to finish and every child process to be reaped, joins the
 * dispatcher thread and frees the executor.  Job handles still held stay
 * valid and finished.  NULL is a no-op.  Must not be called from a
 * callback or a job (it then does nothing).
 */
JOB_API void job_executor_free(job_executor *ex);

/* ---- Submitting ------------------------------------------------------- */

/*
 * Submits a job that runs fn(ctx, input, input_len).  The input bytes are
 * copied now.  opts may be NULL (all from the config).
 *
 * In development mode the job runs inline and has finished when this
 * returns.  In standalone mode it is queued and this returns at once.
 *
 * If out is not NULL it receives a new reference to the job, which the
 * caller releases with job_release().  If out is NULL, the job still runs.
 *
 * Returns JOB_OK; JOB_EINVAL (ex or fn NULL, input NULL with a non-zero
 * length); JOB_ESTOPPED; JOB_EBUSY (called from inside a job function);
 * JOB_EFORKED (called in a child of the process that created ex);
 * JOB_ENOMEM.  A job that ran and failed still returns JOB_OK: its failure
 * is on its record.  Any thread.
 */
JOB_API int job_submit(job_executor *ex, job_fn fn, const void *input,
                       size_t input_len, const job_options *opts, job **out);

/* As job_submit, with a function registered under `name`.  Also returns
 * JOB_ENOTFOUND when no function has that name. */
JOB_API int job_submit_named(job_executor *ex, const char *name,
                             const void *input, size_t input_len,
                             const job_options *opts, job **out);

/* A program to run as a job: no shell is involved. */
typedef struct job_command {
    const char *const *argv; /* NULL-terminated; argv[0] is the program,
                                looked up in PATH when it has no '/' */
    const char *const *envp; /* NULL-terminated environment, or NULL for
                                the host's environment at submit time */
    const char *cwd;         /* working directory, or NULL for the host's */
} job_command;

/*
 * Submits a job that runs a program.  argv, envp and cwd are copied now.
 * The program is started with vfork and exec, whose cost does not grow with
 * the host's memory, in its own process group, with stdin on /dev/null and
 * stdout/stderr captured or inherited as for function jobs.
 *
 * Exit code 0 is COMPLETED.  Another exit code is FAILED with
 * JOB_FAILURE_EXIT, a signal FAILED with JOB_FAILURE_SIGNAL (job_exit_code
 * and job_term_signal say which), and a program that cannot be executed
 * FAILED with JOB_FAILURE_START and the reason ("No such file or
 * directory").  Timeouts and cancel kill the whole process group, in both
 * modes: in development mode the calling thread waits for the program, and
 * job_timeout is enforced.  When a command's process exits, what is left in
 * its process group is killed.
 *
 * Returns as job_submit; JOB_EINVAL also when argv or argv[0] is NULL.
 */
JOB_API int job_submit_command(job_executor *ex, const job_command *cmd,
                               const job_options *opts, job **out);

/* ---- Job graphs and submissions -------------------------------------- */

/*
 * A submission groups the jobs submitted together by job_submit_graph, as
 * Taipy's Submission does.  Its status follows Taipy's rules: FAILED as
 * soon as any job failed; otherwise CANCELED if any was cancelled or
 * abandoned; otherwise RUNNING, PENDING or BLOCKED if any job is; and
 * COMPLETED once every job is COMPLETED or SKIPPED.
 */
typedef struct job_submission job_submission;

/* Called when a submission's status changes.  It runs in the thread whose
 * job status change changed the submission's status. */
typedef void (*job_submission_cb)(job_submission *s, job_status status,
                                  void *userdata);

/* One job of a graph.  Exactly one of fn, fn_name and cmd is set. */
typedef struct job_spec {
    job_fn fn;
    const char *fn_name;        /* a function registered with the executor */
    const job_command *cmd;
    const void *input;
    size_t input_len;
    job_options opts;           /* opts.after may name earlier jobs too */
    const size_t *after_idx;    /* prerequisites among the specs, by index */
    size_t n_after_idx;
} job_spec;

/*
 * Submits n jobs at once, whose prerequisites may be other specs of the
 * same call (after_idx) as well as jobs submitted before (opts.after).
 * Nothing is submitted when the graph is invalid.  In development mode the
 * graph runs inline, in dependency order, before this returns; in
 * standalone mode the jobs are queued as their prerequisites complete.
 *
 * *out (when not NULL) receives the submission, released with
 * job_submission_release().  cb (may be NULL) is called on each change of
 * the submission's status.
 *
 * Returns JOB_OK; JOB_EINVAL (NULL or empty specs, a spec without exactly
 * one of fn/fn_name/cmd, an index out of range, a prerequisite of another
 * executor); JOB_ECYCLE (the prerequisites form a cycle); JOB_ENOTFOUND;
 * and as job_submit.
 */
JOB_API int job_submit_graph(job_executor *ex, const job_spec *specs, size_t n,
                             job_submission_cb cb, void *userdata,
                             job_submission **out);

/* The submission's status, by the rules above. */
JOB_API job_status job_submission_status(const job_submission *s);
/* Its number of jobs, and job i (borrowed: valid while s is held). */
JOB_API size_t job_submission_count(const job_submission *s);
JOB_API job *job_submission_job(const job_submission *s, size_t i);
/* Waits until every job of s has finished and its callbacks returned.
 * Returns JOB_OK, JOB_ETIMEDOUT, JOB_EINVAL or JOB_EBUSY. */
JOB_API int job_submission_wait(job_submission *s, int64_t timeout_ms);
/* Cancels every job of s that has not finished.  Returns JOB_OK,
 * JOB_EFINISHED (all had finished) or JOB_EINVAL. */
JOB_API int job_submission_cancel(job_submission *s);
/* Releases the submission (its jobs live on).  NULL is a no-op. */
JOB_API void job_submission_release(job_submission *s);

/* ---- Job handles ------------------------------------------------------ */

/* Takes another reference to j and returns j.  Any thread. */
JOB_API job *job_retain(job *j);

/* Releases a reference.  The handle must not be used after its last
 * reference is released.  NULL is a no-op.  Any thread. */
JOB_API void job_release(job *j);

/* The job's id: 1 for the executor's first job, then 2, 3... */
JOB_API uint64_t job_id(const job *j);
/* The label given at submit, or NULL.  Valid while j is held. */
JOB_API const char *job_label(const job *j);
/* The userdata given at submit. */
JOB_API void *job_userdata(const job *j);

/* The current status. */
JOB_API job_status job_get_status(const job *j);

/* When the job entered `status`, in nanoseconds since the Unix epoch, or 0
 * if it never did. */
JOB_API int64_t job_status_time_ns(const job *j, job_status status);

/*
 * Waits until j has finished and its callbacks have returned.
 * Returns JOB_OK, JOB_ETIMEDOUT, JOB_EINVAL or JOB_EBUSY (from a callback
 * running in the dispatcher thread of the same executor).
 */
JOB_API int job_wait(job *j, int64_t timeout_ms);

/*
 * Cancels j.  A SUBMITTED or PENDING job becomes CANCELED and never runs.
 * A RUNNING standalone job is killed (SIGTERM to its process group, then
 * SIGKILL after kill_grace) and becomes CANCELED when its process is gone;
 * this returns before that, so use job_wait.  A RUNNING development-mode
 * job cannot be killed: it is asked to stop (job_ctx_canceled() turns true)
 * and becomes CANCELED when its function returns.
 *
 * Returns JOB_OK, JOB_EFINISHED (already finished: nothing changes) or
 * JOB_EINVAL.  Any thread.
 */
JOB_API int job_cancel(job *j);

/* The result bytes set by the job (NULL and 0 if none).  Set only once the
 * job has finished; valid while j is held. */
JOB_API const void *job_result(const job *j, size_t *len);

/* Why the job did not complete (JOB_FAILURE_NONE if it did, or has not
 * finished). */
JOB_API job_failure job_failure_kind(const job *j);

/* A sentence saying why the job failed, such as "killed by signal 11
 * (SIGSEGV)" or the message given to job_fail(); NULL when it did not
 * fail.  Valid while j is held. */
JOB_API const char *job_error_message(const job *j);

/* The job process's exit code, or -1 if it did not exit normally or ran
 * inline. */
JOB_API int job_exit_code(const job *j);

/* The signal that ended the job's process, or 0. */
JOB_API int job_term_signal(const job *j);

/* For an ABANDONED job: the prerequisite that caused it (borrowed, valid
 * while j is held), or NULL.  job_error_message() says how it ended. */
JOB_API job *job_abandoned_by(const job *j);

/* The captured stdout / stderr (NULL and 0 when nothing was captured).
 * In standalone mode what a job writes past max_output_bytes is read and
 * dropped; in development mode the job's writes past it fail (EPERM),
 * since its fds 1 and 2 point at memory files of that size.
 * *truncated (if not NULL) is set when output past max_output_bytes was
 * discarded.  Set once the job has finished; valid while j is held. */
JOB_API const char *job_stdout(const job *j, size_t *len, bool *truncated);
JOB_API const char *job_stderr(const job *j, size_t *len, bool *truncated);

/* The last progress reported by the job: done out of total. */
JOB_API void job_get_progress(const job *j, uint64_t *done, uint64_t *total);

/* ---- Inside a job function -------------------------------------------- */

/* These are called by a job function, with the ctx it was given, from the
 * thread that runs it. */

/* Sets the job's result to a copy of `len` bytes (replacing any earlier
 * result).  Returns JOB_OK, JOB_EINVAL, JOB_ENOMEM or JOB_ESYS (the host
 * went away). */
JOB_API int job_set_result(job_ctx *ctx, const void *data, size_t len);

/* Marks the job as failed with a message (printf format).  The job is
 * FAILED when its function returns, whatever it returns.  Returns JOB_OK
 * or JOB_EINVAL. */
JOB_API int job_fail(job_ctx *ctx, const char *fmt, ...) JOB_PRINTF(2, 3);

/* Reports progress: done out of total.  Returns JOB_OK or JOB_EINVAL. */
JOB_API int job_report_progress(job_ctx *ctx, uint64_t done, uint64_t total);

/* True once job_cancel() was called on this job (development mode; in
 * standalone mode a cancelled job is sent SIGTERM instead). */
JOB_API bool job_ctx_canceled(const job_ctx *ctx);

/* The number of the job's prerequisites, and the result bytes of
 * prerequisite i (in the order given at submit: opts.after, then
 * after_idx).  NULL and 0 when i is out of range.  In standalone mode the
 * job's process sees a copy taken when it started. */
JOB_API size_t job_ctx_prereq_count(const job_ctx *ctx);
JOB_API const void *job_ctx_prereq_result(const job_ctx *ctx, size_t i,
                                          size_t *len);

/* The job's id and label, as on its handle. */
JOB_API uint64_t job_ctx_id(const job_ctx *ctx);
JOB_API const char *job_ctx_label(const job_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* JOBCONFIG_H */
