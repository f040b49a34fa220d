/*
 * proc.h - process control for job processes (POSIX/Linux: proc_unix.c).
 *
 * A job process is forked by the dispatcher thread, which runs with every
 * signal blocked, so the child starts with every signal blocked too and
 * no host handler can run in it before its dispositions are reset.
 */
#ifndef JX_PROC_H
#define JX_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

/* A live job process, as the host sees it. */
struct jx_child {
    pid_t pid;
    int pidfd;   /* readable when the child has exited: a pidfd, or the
                    pipe of an exit waiter thread (exit_pipe) without
                    pidfds; -1 when another thread reaped the child */
    bool exit_pipe;
    int keeper_slot; /* its slot in the keeper's table, or -1 */
    int res_fd;  /* read end of the result pipe */
    int out_fd;  /* read end of the stdout pipe, or -1 */
    int err_fd;  /* read end of the stderr pipe, or -1 */
};

/* What the child needs besides the job. */
struct jx_child_setup {
    bool capture;
    bool have_pidfd;       /* false: exit waiter threads stand in */
    uint64_t memory_limit; /* RLIMIT_AS, 0 for none */
    int devnull;           /* an fd open on /dev/null, for stdin */
    pid_t host_pid;
};

/*
 * Forks a process that runs j's function and sends its frames, with the
 * result pipe (and the output pipes) set up.  The host's ends are
 * non-blocking and close-on-exec.  Returns 0, or an errno value (nothing
 * is left open or running then).
 */
int jx_proc_fork_job(job *j, const struct jx_child_setup *setup,
                     struct jx_child *out);

/*
 * Starts j's command with vfork and execve.  Returns 0, or an errno value:
 * then nothing is left open or running, and *exec_failed tells whether the
 * process started but its program could not be executed (the errno is the
 * exec's) rather than the process not starting at all.
 */
int jx_proc_spawn_command(job *j, const struct jx_child_setup *setup,
                          struct jx_child *out, bool *exec_failed);

/*
 * Forks a reused worker: a process that runs, one after another, the jobs
 * sent to it with jx_proc_send_task() on *task_fd (blocking), and sends
 * their frames on its result pipe.  It exits when *task_fd is closed.
 * Returns 0 or an errno value.
 */
int jx_proc_fork_worker(const struct jx_child_setup *setup,
                        struct jx_child *out, int *task_fd);

/* Sends j (function, id, label, input) to a reused worker.  Returns 0 or
 * -errno (EPIPE when the worker is gone). */
int jx_proc_send_task(int task_fd, const job *j);

/* Probes once whether the kernel gives pidfds. */
bool jx_proc_have_pidfd(void);

/* Sends sig to the child's whole process group.  Only valid before the
 * child is reaped, while its process group id cannot be reused. */
void jx_proc_signal_group(const struct jx_child *c, int sig);

/* How a reaped child ended. */
struct jx_exit {
    bool known;     /* false when another thread of the host reaped it */
    int exit_code;  /* when it exited, else -1 */
    int signal;     /* when a signal killed it, else 0 */
};

/* Reaps the child (which must have exited: its pidfd is readable) and
 * closes the pidfd.  Never waits for any other process. */
void jx_proc_reap(struct jx_child *c, struct jx_exit *how);

/*
 * The keeper: a small process, started once per executor, that kills the
 * process groups of running jobs when the host dies, so that a job's own
 * children die with the host too (PR_SET_PDEATHSIG reaches only the job's
 * process).  It learns the groups over a pipe whose write end only the
 * host holds; end of file on it means the host is gone.
 */
/* struct jx_keeper (engine.h): pid, pidfd (-1 without pidfds), and fd,
 * the write end of the pipe (-1 when there is no keeper). */

/* Starts a keeper.  Returns 0 or an errno value (k->fd is then -1: jobs
 * run, but their children may outlive a host that is killed). */
int jx_keeper_start(struct jx_keeper *k);
/* Tells the keeper that c's process group started (add) or is about to
 * go.  A slot of a table shared with the keeper takes it, without a
 * system call; when the table is full, a message on the pipe does. */
void jx_keeper_track(struct jx_keeper *k, struct jx_child *c, bool add);
/* Stops the keeper without killing anything, and reaps it. */
void jx_keeper_stop(struct jx_keeper *k);

/* "SIGSEGV" style name of a signal, or "signal N". */
const char *jx_signal_name(int sig, char *buf, size_t size);

#endif
