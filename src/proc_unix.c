/* proc_unix.c - forking job processes, signalling their process groups and
 * reaping them by pidfd, never by waitpid(-1) and never with a SIGCHLD
 * handler: both belong to the host. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "wire.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* The fds a job process is given: 0 stdin (/dev/null), 1 and 2 its output
 * (pipes when captured, else the host's), 3 the result pipe. */
#define JX_CHILD_RESULT_FD 3

const char *jx_signal_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, size, "SIG%s", abbrev);
    else
        snprintf(buf, size, "signal %d", sig);
    return buf;
}

static void close_quietly(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* In the child: close every fd from `lowfd` up. */
static void close_from(int lowfd)
{
    if (close_range((unsigned)lowfd, ~0U, 0) == 0)
        return;
    struct rlimit rl;
    long max = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        max = (long)rl.rlim_cur;
    for (long fd = lowfd; fd < max; fd++)
        close((int)fd);
}

/* In the child: make `fd` blocking, as job code expects. */
static void set_blocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* The fd a worker reads its tasks from (reused workers only). */
#define JX_CHILD_TASK_FD 4

/* The fds of a reused worker, past the usual 0-4: its real result pipe
 * (fd 3 is a decoy while a job runs) and the host's stdin, stdout and
 * stderr as the worker got them, to put back after each job. */
#define JX_WORKER_RESULT_FD 5
#define JX_WORKER_SAVED_FD 6 /* 6, 7, 8 */
#define JX_WORKER_CWD_FD 9   /* the working directory, to go back to */

/* A task frame's payload: a 32-byte head (u64 function address, u64 job
 * id, u64 label length, 8 bytes zero), the label padded to 16 bytes, and
 * the input, which so lands 16-byte aligned in the worker's buffer. */
#define JX_TASK_HEAD 32
#define JX_PAD16(n) (((n) + 15u) & ~(size_t)15u)

/* Resets every signal disposition to its default. */
static void default_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* EINVAL for reserved ones */
}

/*
 * Sets up a job process: its own process group, death with the host,
 * default signal dispositions, and the fd layout (0 /dev/null, 1 and 2
 * the output pipes when captured, 3 the result pipe, 4 the task pipe of a
 * reused worker, nothing else).  Signals stay blocked until the caller
 * unblocks them.  Only async-signal-safe calls, apart from stdio purging,
 * which glibc makes safe after fork by resetting its locks.
 */
/*
 * In a child: the fd layout below needs a few fds more than a host short
 * of fds may have left under its soft RLIMIT_NOFILE (the child starts
 * with all of the host's fds).  Raises the soft limit to the hard one
 * while the layout is made; returns whether *saved must be put back.
 */
static bool nofile_raise(struct rlimit *saved)
{
    if (getrlimit(RLIMIT_NOFILE, saved) != 0 || saved->rlim_cur >= saved->rlim_max)
        return false;
    struct rlimit up = {saved->rlim_max, saved->rlim_max};
    return setrlimit(RLIMIT_NOFILE, &up) == 0;
}

static void child_setup(const struct jx_child_setup *s, int res_w, int out_w,
                        int err_w, int task_r)
{
    setpgid(0, 0);
    /* Die with the host.  The parent may already be gone: check after. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != s->host_pid)
        _exit(127);
    default_signals();

    struct rlimit nofile;
    bool raised = nofile_raise(&nofile);
    /* Lift every fd we keep above the targets first, so that no dup2
     * overwrites a source whatever numbers the host's fds have. */
    int res = fcntl(res_w, F_DUPFD, 10);
    int out = out_w >= 0 ? fcntl(out_w, F_DUPFD, 10) : -1;
    int err = err_w >= 0 ? fcntl(err_w, F_DUPFD, 10) : -1;
    int task = task_r >= 0 ? fcntl(task_r, F_DUPFD, 10) : -1;
    int nul = fcntl(s->devnull, F_DUPFD, 10);
    if (res < 0 || nul < 0 || (out_w >= 0 && out < 0) ||
        (err_w >= 0 && err < 0) || (task_r >= 0 && task < 0))
        _exit(126);
    if (dup2(nul, 0) < 0 || dup2(res, JX_CHILD_RESULT_FD) < 0)
        _exit(126);
    if (out >= 0 && (dup2(out, 1) < 0 || dup2(err, 2) < 0))
        _exit(126);
    if (task >= 0 && dup2(task, JX_CHILD_TASK_FD) < 0)
        _exit(126);
    close_from(task >= 0 ? JX_CHILD_TASK_FD + 1 : JX_CHILD_RESULT_FD + 1);
    if (raised)
        setrlimit(RLIMIT_NOFILE, &nofile);
    set_blocking(JX_CHILD_RESULT_FD);
    if (out >= 0) {
        set_blocking(1);
        set_blocking(2);
    }
    if (s->memory_limit) {
        struct rlimit rl = {(rlim_t)s->memory_limit, (rlim_t)s->memory_limit};
        setrlimit(RLIMIT_AS, &rl);
    }
    /* Output the host had buffered but not written is the host's. */
    __fpurge(stdout);
    __fpurge(stderr);
}

static void unblock_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Runs one job function and sends its DONE frame.  Returns false when the
 * host can no longer be told. */
static bool run_one(job *j, const void *input, size_t len, int fd)
{
    struct job_ctx ctx = {.kind = JX_CTX_CHILD, .j = j, .fd = fd};
    jx_set_in_job(true);
    int rc = j->fn(&ctx, input, len);
    jx_set_in_job(false);
    fflush(stdout);
    fflush(stderr);
    unsigned char p[4] = {(unsigned char)rc, (unsigned char)(rc >> 8),
                          (unsigned char)(rc >> 16), (unsigned char)(rc >> 24)};
    return jx_wire_send(fd, JX_FRAME_DONE, p, sizeof(p)) == 0;
}

/* A process that runs one job. */
static _Noreturn void child_main(job *j, const struct jx_child_setup *s,
                                 int res_w, int out_w, int err_w)
{
    child_setup(s, res_w, out_w, err_w, -1);
    unblock_signals();
    _exit(run_one(j, j->input, j->input_len, JX_CHILD_RESULT_FD) ? 0 : 125);
}

/* Reads exactly n bytes from a blocking fd; false on end of file/error. */
static bool read_full(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* What a reused worker restores after each job: the working directory,
 * the environment, the umask, signal dispositions and mask. */
struct worker_state {
    struct rlimit limits[RLIM_NLIMITS];
    int nice;
    int cwd_fd;
    char **env;   /* copies of the "NAME=value" strings */
    char **envp;  /* environ as it was */
    size_t nenv;
    mode_t umask;
};

static void worker_save(struct worker_state *w)
{
    extern char **environ;
    for (int i = 0; i < RLIM_NLIMITS; i++)
        getrlimit(i, &w->limits[i]);
    errno = 0;
    w->nice = getpriority(PRIO_PROCESS, 0);
    int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    w->cwd_fd = cwd == JX_WORKER_CWD_FD ? cwd
              : cwd >= 0 ? dup3(cwd, JX_WORKER_CWD_FD, O_CLOEXEC) : -1;
    if (cwd >= 0 && cwd != JX_WORKER_CWD_FD)
        close(cwd);
    w->umask = umask(0);
    umask(w->umask);
    w->nenv = 0;
    while (environ && environ[w->nenv])
        w->nenv++;
    w->env = calloc(w->nenv + 1, sizeof(*w->env));
    w->envp = environ;
    for (size_t i = 0; w->env && i < w->nenv; i++)
        w->env[i] = strdup(environ[i]);
}

static void worker_restore(struct worker_state *w)
{
    extern char **environ;
    if (w->cwd_fd >= 0)
        fchdir(w->cwd_fd);
    umask(w->umask);
    default_signals();
    unblock_signals();
    bool same = environ == w->envp && w->env;
    for (size_t i = 0; same && i <= w->nenv; i++) {
        const char *now = environ[i], *was = i < w->nenv ? w->env[i] : NULL;
        same = now == was || (now && was && strcmp(now, was) == 0);
    }
    if (same || !w->env)
        return;
    clearenv();
    for (size_t i = 0; i < w->nenv; i++) {
        char *eq = w->env[i] ? strchr(w->env[i], '=') : NULL;
        if (!eq)
            continue;
        *eq = '\0';
        setenv(w->env[i], eq + 1, 1);
        *eq = '=';
    }
    w->envp = environ;
}

/*
 * A reused worker: runs the tasks the host sends on its task pipe, one
 * after another, until the pipe ends.  A task frame carries the job
 * function's address (valid: the worker is a fork of the host), the job's
 * id and label, and its input bytes.
 */

/*
 * After a job: puts back what the job may have changed of the worker, and
 * says whether the worker must go (something it cannot put back: a
 * process the job left running, a lowered hard limit, a raised nice).
 */
static bool worker_clean(struct worker_state *w)
{
    bool retire = false;
    /* Reap what the job left; anything still running retires the worker,
     * whose process group the host kills when it exits. */
    for (;;) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p > 0)
            continue;
        retire |= p == 0;
        break;
    }
    for (int fd = 0; fd < 3; fd++)
        if (dup2(JX_WORKER_SAVED_FD + fd, fd) < 0)
            retire = true;
    close_from(JX_WORKER_CWD_FD + 1);
    for (int i = 0; i < RLIM_NLIMITS; i++) {
        struct rlimit now;
        if (getrlimit(i, &now) == 0 &&
            (now.rlim_cur != w->limits[i].rlim_cur || now.rlim_max != w->limits[i].rlim_max) &&
            setrlimit(i, &w->limits[i]) != 0)
            retire = true;
    }
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, 0);
    if (nice_now != w->nice && setpriority(PRIO_PROCESS, 0, w->nice) != 0)
        retire = true;
    worker_restore(w);
    return retire;
}

/*
 * A reused worker: runs the tasks the host sends on its task pipe, one
 * after another, until the pipe ends.  A task frame carries the job
 * function's address (valid: the worker is a fork of the host), the job's
 * id and label, and its input bytes.
 *
 * While a job runs, its fd 3 is a decoy (a memory file), so that a job
 * writing to fd 3 cannot corrupt the stream of the jobs after it: the
 * worker sees the decoy's offset move and reports the job broken.
 */
static _Noreturn void worker_main(const struct jx_child_setup *s, int res_w,
                                  int task_r)
{
    child_setup(s, res_w, -1, -1, task_r);
    if (dup2(JX_CHILD_RESULT_FD, JX_WORKER_RESULT_FD) < 0)
        _exit(126);
    for (int fd = 0; fd < 3; fd++)
        if (dup2(fd, JX_WORKER_SAVED_FD + fd) < 0)
            _exit(126);
    int decoy = memfd_create("jobexec-fd3", 0);
    if (decoy < 0 || dup2(decoy, JX_CHILD_RESULT_FD) < 0)
        _exit(126);
    close(decoy);
    /* Orphans of a job's children come to the worker, which sees them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    unblock_signals();
    struct worker_state w;
    worker_save(&w);
    for (;;) {
        unsigned char hdr[JX_WIRE_HDR];
        if (!read_full(JX_CHILD_TASK_FD, hdr, sizeof(hdr)))
            _exit(0); /* the host retired this worker */
        uint64_t len = jx_wire_get_u64(hdr + 8);
        if (hdr[4] != JX_FRAME_TASK || len < JX_TASK_HEAD || len > SIZE_MAX - 1)
            _exit(124);
        unsigned char *task = malloc((size_t)len + 1);
        if (!task || !read_full(JX_CHILD_TASK_FD, task, (size_t)len))
            _exit(124);
        struct job jb;
        memset(&jb, 0, sizeof(jb));
        uintptr_t fn = (uintptr_t)jx_wire_get_u64(task);
        memcpy(&jb.fn, &fn, sizeof(jb.fn));
        jb.id = jx_wire_get_u64(task + 8);
        uint64_t llen = jx_wire_get_u64(task + 16);
        if (llen > 4096 || JX_TASK_HEAD + JX_PAD16(llen) > len)
            _exit(124);
        size_t off = JX_TASK_HEAD + JX_PAD16((size_t)llen);
        char *label = llen ? strndup((const char *)task + JX_TASK_HEAD, (size_t)llen) : NULL;
        jb.label = label;

        /* run_one sends DONE last: tell the host first what it must know
         * before the job counts as done. */
        struct job_ctx ctx = {.kind = JX_CTX_CHILD, .j = &jb, .fd = JX_WORKER_RESULT_FD};
        jx_set_in_job(true);
        int rc = jb.fn(&ctx, task + off, (size_t)(len - off));
        jx_set_in_job(false);
        fflush(stdout);
        fflush(stderr);
        free(label);
        free(task);
        off_t wrote = lseek(JX_CHILD_RESULT_FD, 0, SEEK_CUR);
        if (wrote != 0) {
            char msg[128];
            int n = snprintf(msg, sizeof(msg),
                             "the job wrote %lld bytes straight to fd 3, past its "
                             "context", (long long)(wrote < 0 ? 0 : wrote));
            if (ftruncate(JX_CHILD_RESULT_FD, 0) != 0 ||
                lseek(JX_CHILD_RESULT_FD, 0, SEEK_SET) != 0 ||
                jx_wire_send(JX_WORKER_RESULT_FD, JX_FRAME_BROKEN, msg, (size_t)n) != 0)
                _exit(125);
        }
        bool retire = worker_clean(&w);
        if (retire && jx_wire_send(JX_WORKER_RESULT_FD, JX_FRAME_RETIRE, NULL, 0) != 0)
            _exit(125);
        unsigned char p[4] = {(unsigned char)rc, (unsigned char)(rc >> 8),
                              (unsigned char)(rc >> 16), (unsigned char)(rc >> 24)};
        if (jx_wire_send(JX_WORKER_RESULT_FD, JX_FRAME_DONE, p, sizeof(p)) != 0 || retire)
            _exit(retire ? 0 : 125);
    }
}

/* Without pidfds: a thread that waits for one child to exit, without
 * reaping it (WNOWAIT keeps its process group id reserved), and then
 * closes the write end of a pipe, whose read end (readable at end of
 * file) stands in for the pidfd.  Closing rather than writing: once the
 * host sees the end, the thread holds no fd of the process any more, so
 * an executor freed right after leaves no fd behind, not even briefly. */
struct exit_waiter {
    pid_t pid;
    int fd;
};

static void *exit_waiter_main(void *arg)
{
    struct exit_waiter w = *(struct exit_waiter *)arg;
    free(arg);
    siginfo_t si;
    int r;
    do
        r = waitid(P_PID, (id_t)w.pid, &si, WEXITED | WNOWAIT);
    while (r < 0 && errno == EINTR);
    close(w.fd);
    return NULL;
}

/* Starts an exit waiter for c; c->pidfd receives the pipe's read end. */
static int start_exit_waiter(struct jx_child *c)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return errno;
    struct exit_waiter *w = malloc(sizeof(*w));
    pthread_attr_t attr;
    pthread_t t;
    int e = w ? pthread_attr_init(&attr) : ENOMEM;
    if (e == 0) {
        w->pid = c->pid;
        w->fd = p[1];
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        /* No signal of the host's may land on it. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        e = pthread_create(&t, &attr, exit_waiter_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
    if (e != 0) {
        free(w);
        close(p[0]);
        close(p[1]);
        return e;
    }
    c->pidfd = p[0];
    c->exit_pipe = true;
    return 0;
}

/*
 * Opens the pidfd of a child just started (or, without pidfds, starts a
 * thread that stands in for it).  ESRCH means another thread of the host
 * reaped the child already: its pid may be reused, so it is never
 * signalled or waited for again (c->pid = 0), and its pipes tell what
 * happened.  Any other failure kills and reaps it and returns the errno.
 */
static int open_pidfd(struct jx_child *c, bool have_pidfd)
{
    c->pidfd = -1;
    c->exit_pipe = false;
    int e;
    if (have_pidfd) {
        c->pidfd = pidfd_open(c->pid, 0);
        if (c->pidfd >= 0)
            return 0;
        e = errno;
        if (e == ESRCH) {
            c->pid = 0;
            return 0;
        }
    } else {
        e = start_exit_waiter(c);
        if (e == 0)
            return 0;
    }
    kill(-c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = -1;
    return e;
}

int jx_proc_fork_job(job *j, const struct jx_child_setup *s,
                     struct jx_child *c)
{
    int res[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    c->pid = -1;
    c->pidfd = c->res_fd = c->out_fd = c->err_fd = -1;
    c->keeper_slot = -1;
    if (pipe2(res, O_CLOEXEC | O_NONBLOCK) < 0)
        goto fail;
    if (s->capture && (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 ||
                       pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0))
        goto fail;

    pid_t pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0)
        child_main(j, s, res[1], out[1], err[1]);

    /* Also set the group here, so that signalling it cannot race the
     * child's own setpgid. */
    setpgid(pid, pid);
    c->pid = pid;
    int e = open_pidfd(c, jx_proc_have_pidfd());
    if (e != 0) {
        errno = e;
        goto fail;
    }
    close(res[1]);
    close_quietly(out[1]);
    close_quietly(err[1]);
    c->res_fd = res[0];
    c->out_fd = out[0];
    c->err_fd = err[0];
    return 0;

fail:
    e = errno;
    close_quietly(res[0]);
    close_quietly(res[1]);
    close_quietly(out[0]);
    close_quietly(out[1]);
    close_quietly(err[0]);
    close_quietly(err[1]);
    return e;
}

int jx_proc_fork_worker(const struct jx_child_setup *s, struct jx_child *c,
                        int *task_fd)
{
    int res[2] = {-1, -1}, task[2] = {-1, -1};
    int e = 0;
    c->pid = -1;
    c->pidfd = c->res_fd = c->out_fd = c->err_fd = -1;
    c->keeper_slot = -1;
    *task_fd = -1;
    if (pipe2(res, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(task, O_CLOEXEC) < 0) {
        e = errno;
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        e = errno;
        goto fail;
    }
    if (pid == 0)
        worker_main(s, res[1], task[0]);
    setpgid(pid, pid);
    c->pid = pid;
    e = open_pidfd(c, jx_proc_have_pidfd());
    if (e != 0)
        goto fail;
    close(res[1]);
    close(task[0]);
    c->res_fd = res[0];
    *task_fd = task[1];
    return 0;
fail:
    close_quietly(res[0]);
    close_quietly(res[1]);
    close_quietly(task[0]);
    close_quietly(task[1]);
    return e;
}

int jx_proc_send_task(int task_fd, const job *j)
{
    size_t llen = j->label ? strlen(j->label) : 0;
    if (llen > 4096)
        llen = 4096; /* a label is for people; a longer one is cut */
    unsigned char head[JX_WIRE_HDR + JX_TASK_HEAD];
    static const unsigned char zeros[16];
    uint64_t len = JX_TASK_HEAD + JX_PAD16(llen) + (uint64_t)j->input_len;
    memset(head, 0, sizeof(head));
    jx_wire_header(head, JX_FRAME_TASK, len);
    uintptr_t fn;
    memcpy(&fn, &j->fn, sizeof(fn));
    jx_wire_put_u64(head + JX_WIRE_HDR, (uint64_t)fn);
    jx_wire_put_u64(head + JX_WIRE_HDR + 8, j->id);
    jx_wire_put_u64(head + JX_WIRE_HDR + 16, (uint64_t)llen);
    struct iovec iov[4] = {
        {head, sizeof(head)},
        {(void *)j->label, llen},
        {(void *)zeros, JX_PAD16(llen) - llen},
        {(void *)j->input, j->input_len},
    };
    return jx_wire_writev_all(task_fd, iov, 4);
}

bool jx_proc_have_pidfd(void)
{
    static int have = -1; /* a benign race: every thread finds the same */
    if (have < 0) {
        int fd = pidfd_open(getpid(), 0);
        have = fd >= 0;
        if (fd >= 0)
            close(fd);
    }
    return have;
}

/* What a command's child needs; lives in the parent's frame, which the
 * vfork child shares until it execs. */
struct cmd_spawn {
    const char *path;
    char **argv, **envp;
    const char *cwd;
    int out_w, err_w, errpipe_w, devnull;
    pid_t host_pid;
};

static _Noreturn void cmd_fail(int errpipe, int err)
{
    ssize_t w = write(errpipe, &err, sizeof(err));
    (void)w;
    _exit(127);
}

/* The vfork child: only system calls, no allocation, no stdio. */
static _Noreturn void cmd_child(const struct cmd_spawn *sp)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != sp->host_pid)
        _exit(127);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);

    struct rlimit nofile;
    bool raised = nofile_raise(&nofile);
    /* F_DUPFD says EINVAL when 10 is past the fd limit: out of fds. */
    int ep = fcntl(sp->errpipe_w, F_DUPFD_CLOEXEC, 10);
    if (ep < 0)
        cmd_fail(sp->errpipe_w, errno == EINVAL ? EMFILE : errno);
    int nul = fcntl(sp->devnull, F_DUPFD, 10);
    int out = sp->out_w >= 0 ? fcntl(sp->out_w, F_DUPFD, 10) : -1;
    int err = sp->err_w >= 0 ? fcntl(sp->err_w, F_DUPFD, 10) : -1;
    if (nul < 0 || (sp->out_w >= 0 && (out < 0 || err < 0)))
        cmd_fail(ep, errno == EINVAL ? EMFILE : errno);
    if (dup2(nul, 0) < 0)
        cmd_fail(ep, errno);
    if (out >= 0 && (dup2(out, 1) < 0 || dup2(err, 2) < 0))
        cmd_fail(ep, errno);
    if (dup3(ep, 3, O_CLOEXEC) < 0)
        cmd_fail(ep, errno);
    ep = 3;
    close_from(4);
    if (raised)
        setrlimit(RLIMIT_NOFILE, &nofile);
    if (out >= 0) {
        set_blocking(1);
        set_blocking(2);
    }
    if (sp->cwd && chdir(sp->cwd) < 0)
        cmd_fail(ep, errno);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(sp->path, sp->argv, sp->envp);
    cmd_fail(ep, errno);
}

/* vfork in a function of its own, so that nothing of the caller's frame
 * is live across it. */
static __attribute__((noinline)) pid_t vfork_command(const struct cmd_spawn *sp)
{
    pid_t pid = vfork();
    if (pid == 0)
        cmd_child(sp);
    return pid;
}

/* Splits `count` NUL-terminated strings from p into a new vector. */
static char **unpack(const unsigned char **p, uint32_t count)
{
    char **v = jx_calloc((size_t)count + 1, sizeof(*v));
    if (!v)
        return NULL;
    for (uint32_t i = 0; i < count; i++) {
        v[i] = (char *)*p;
        *p += strlen((const char *)*p) + 1;
    }
    return v;
}

/* Finds `file` in PATH as execvp would; 0 or an errno value. */
static int find_program(const char *file, char *buf, size_t size)
{
    if (strchr(file, '/')) {
        if (strlen(file) >= size)
            return ENAMETOOLONG;
        strcpy(buf, file);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int err = ENOENT;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t dl = end ? (size_t)(end - path) : strlen(path);
        int n = snprintf(buf, size, "%.*s%s%s", (int)dl, path, dl ? "/" : "", file);
        if (n > 0 && (size_t)n < size) {
            if (access(buf, X_OK) == 0)
                return 0;
            if (errno == EACCES)
                err = EACCES;
        }
        path += dl + (end ? 1 : 0);
        if (!end)
            break;
    }
    return err;
}

int jx_proc_spawn_command(job *j, const struct jx_child_setup *s,
                          struct jx_child *c, bool *exec_failed)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    int ep[2] = {-1, -1};
    char path[4096];
    int e = 0;
    *exec_failed = false;
    c->pid = -1;
    c->pidfd = c->res_fd = c->out_fd = c->err_fd = -1;
    c->keeper_slot = -1;

    const unsigned char *p = j->input;
    char **argv = unpack(&p, j->argc);
    extern char **environ;
    char **envp = j->has_env ? unpack(&p, j->envc) : NULL;
    const char *cwd = j->has_cwd ? (const char *)p : NULL;
    if (!argv || (j->has_env && !envp)) {
        e = ENOMEM;
        goto out;
    }
    e = find_program(argv[0], path, sizeof(path));
    if (e != 0) {
        *exec_failed = true;
        goto out;
    }
    if (pipe2(ep, O_CLOEXEC) < 0 ||
        (s->capture && (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 ||
                        pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0))) {
        e = errno;
        goto out;
    }
    struct cmd_spawn sp = {
        .path = path, .argv = argv, .envp = envp ? envp : environ, .cwd = cwd,
        .out_w = out[1], .err_w = err[1],
        .errpipe_w = ep[1], .devnull = s->devnull, .host_pid = s->host_pid,
    };
    pid_t pid = vfork_command(&sp);
    if (pid < 0) {
        e = errno;
        goto out;
    }
    close(ep[1]);
    ep[1] = -1;
    /* EOF when the program was executed (the pipe is close-on-exec), an
     * errno when it could not be. */
    int child_errno = 0;
    ssize_t r;
    do
        r = read(ep[0], &child_errno, sizeof(child_errno));
    while (r < 0 && errno == EINTR);
    if (r == (ssize_t)sizeof(child_errno)) {
        waitpid(pid, NULL, 0); /* our own child, which has exited */
        e = child_errno;
        *exec_failed = true;
        goto out;
    }
    setpgid(pid, pid);
    c->pid = pid;
    e = open_pidfd(c, s->have_pidfd);
    if (e != 0)
        goto out;
    c->out_fd = out[0];
    c->err_fd = err[0];
    out[0] = err[0] = -1;
out:
    close_quietly(ep[0]);
    close_quietly(ep[1]);
    close_quietly(out[0]);
    close_quietly(out[1]);
    close_quietly(err[0]);
    close_quietly(err[1]);
    jx_free(argv);
    jx_free(envp);
    return e;
}

/* ---- the keeper ---------------------------------------------------------- */

enum { KEEP_ADD = 1, KEEP_REMOVE = 2, KEEP_STOP = 3 };

static _Noreturn void keeper_main(int rfd, _Atomic int *table, size_t slots)
{
    setpgid(0, 0);
    /* Signals stay blocked (the forking thread blocked them all): the
     * keeper ends only by its pipe, or by SIGKILL. */
    if (dup2(rfd, 0) < 0)
        _exit(1);
    close_from(1);
    pid_t *groups = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        int32_t msg[2];
        ssize_t r = read(0, msg, sizeof(msg));
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof(msg))
            break; /* end of file: the host is gone */
        if (msg[0] == KEEP_STOP)
            _exit(0);
        if (msg[0] == KEEP_ADD) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                pid_t *g = realloc(groups, ncap * sizeof(*g));
                if (!g)
                    continue;
                groups = g;
                cap = ncap;
            }
            groups[n++] = (pid_t)msg[1];
        } else if (msg[0] == KEEP_REMOVE) {
            for (size_t i = 0; i < n; i++) {
                if (groups[i] == (pid_t)msg[1]) {
                    groups[i] = groups[--n];
                    break;
                }
            }
        }
    }
    /* Never kill(-1) nor kill(0): whatever the table holds, only real
     * process groups are killed. */
    for (size_t i = 0; i < n; i++)
        if (groups[i] > 1)
            kill(-groups[i], SIGKILL);
    for (size_t i = 0; i < slots; i++) {
        int g = atomic_load(&table[i]);
        if (g > 1)
            kill(-g, SIGKILL);
    }
    _exit(0);
}

#define JX_KEEPER_SLOTS 4096

int jx_keeper_start(struct jx_keeper *k)
{
    int p[2];
    k->pid = -1;
    k->pidfd = -1;
    k->fd = -1;
    k->slots = 0;
    atomic_init(&k->hint, 0);
    /* Shared with the keeper, which reads it only once the host is gone. */
    k->table = mmap(NULL, JX_KEEPER_SLOTS * sizeof(*k->table),
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (k->table == MAP_FAILED)
        k->table = NULL;
    else
        k->slots = JX_KEEPER_SLOTS;
    if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        if (k->table)
            munmap(k->table, k->slots * sizeof(*k->table));
        k->table = NULL;
        k->slots = 0;
        return e;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        keeper_main(p[0], k->table, k->slots);
    }
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        return e;
    }
    /* The keeper has its copy; job processes, forked later, get none: a
     * job that scribbled on the table could make the keeper kill process
     * groups that are not the library's. */
    if (k->table)
        madvise(k->table, k->slots * sizeof(*k->table), MADV_DONTFORK);
    k->pid = pid;
    k->fd = p[1];
    if (jx_proc_have_pidfd())
        k->pidfd = pidfd_open(pid, 0);
    return 0;
}

static void keeper_send(const struct jx_keeper *k, int op, pid_t pgid)
{
    int32_t msg[2] = {op, (int32_t)pgid};
    ssize_t r;
    do
        r = write(k->fd, msg, sizeof(msg)); /* atomic: under PIPE_BUF */
    while (r < 0 && errno == EINTR);
}

void jx_keeper_track(struct jx_keeper *k, struct jx_child *c, bool add)
{
    if (!add) {
        if (c->keeper_slot >= 0 && k->table)
            atomic_store(&k->table[c->keeper_slot], 0);
        else if (k->fd >= 0 && c->pid > 0)
            keeper_send(k, KEEP_REMOVE, c->pid);
        c->keeper_slot = -1;
        return;
    }
    if (k->fd < 0 || c->pid <= 0)
        return;
    c->keeper_slot = -1;
    size_t start = atomic_fetch_add(&k->hint, 1);
    for (size_t i = 0; i < k->slots; i++) {
        size_t at = (start + i) % k->slots;
        int zero = 0;
        if (atomic_load_explicit(&k->table[at], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&k->table[at], &zero, (int)c->pid)) {
            c->keeper_slot = (int)at;
            return;
        }
    }
    keeper_send(k, KEEP_ADD, c->pid);
}

void jx_keeper_stop(struct jx_keeper *k)
{
    if (k->table) {
        munmap(k->table, k->slots * sizeof(*k->table));
        k->table = NULL;
        k->slots = 0;
    }
    if (k->fd < 0)
        return;
    int32_t msg[2] = {KEEP_STOP, 0};
    ssize_t r = write(k->fd, msg, sizeof(msg));
    (void)r;
    close(k->fd);
    k->fd = -1;
    struct jx_child c = {.pid = k->pid, .pidfd = k->pidfd};
    struct jx_exit how;
    jx_proc_reap(&c, &how);
    k->pid = -1;
    k->pidfd = -1;
}

void jx_proc_signal_group(const struct jx_child *c, int sig)
{
    if (c->pid > 0)
        kill(-c->pid, sig);
}

void jx_proc_reap(struct jx_child *c, struct jx_exit *how)
{
    siginfo_t si;
    how->known = false;
    how->exit_code = -1;
    how->signal = 0;
    memset(&si, 0, sizeof(si));
    int r;
    if (c->pid == 0)
        return;
    if (c->pidfd >= 0 && !c->exit_pipe) {
        do
            r = waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED);
        while (r < 0 && errno == EINTR);
        close(c->pidfd);
        c->pidfd = -1;
    } else {
        if (c->pidfd >= 0)
            close(c->pidfd);
        c->pidfd = -1;
        c->exit_pipe = false;
        do
            r = waitid(P_PID, (id_t)c->pid, &si, WEXITED);
        while (r < 0 && errno == EINTR);
    }
    c->pid = -1;
    if (r < 0)
        return; /* ECHILD: reaped by someone else */
    how->known = true;
    if (si.si_code == CLD_EXITED)
        how->exit_code = si.si_status;
    else
        how->signal = si.si_status;
}
