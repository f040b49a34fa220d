/*
 * fault_util.h - helpers shared by the fault, misuse and load tests:
 * executors from key/value settings, memory shared with job processes,
 * watching processes end (pidfd, or a FIFO where the kernel or the tool
 * running the test has no pidfds), and counting fds, children and memory.
 *
 * Everything is static inline so that each test takes what it uses.
 */
#ifndef JX_FAULT_UTIL_H
#define JX_FAULT_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jobconfig.h"

/* Which sanitizer the test is built with (GCC says it with __SANITIZE_*,
 * clang 14 only through __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define JX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JX_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define JX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define JX_TSAN 1
#endif
#endif
#ifndef JX_ASAN
#define JX_ASAN 0
#endif
#ifndef JX_TSAN
#define JX_TSAN 0
#endif
#define JX_SANITIZED (JX_ASAN || JX_TSAN)

/* valgrind, when its header is there (the package ships it). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define JX_HAVE_VALGRIND_H 1
#endif
#endif

static inline bool fx_on_valgrind(void)
{
#if defined(JX_HAVE_VALGRIND_H)
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

/* True when the test runs on a runtime of its own (a sanitizer, valgrind)
 * that needs address space beyond any RLIMIT_AS a job would be given, and
 * whose allocator's overhead is not the library's. */
static inline bool fx_managed_runtime(void)
{
    return JX_SANITIZED || fx_on_valgrind();
}

#if defined(__GNUC__)
#define JX_UNUSED_VAR __attribute__((unused))
#else
#define JX_UNUSED_VAR
#endif

/* A check usable in helper processes, where cmocka's asserts must not run
 * (a failed assert would longjmp into a copy of the test runner): prints
 * the line and ends the process with status 1. */
#define HCHECK(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: helper check failed: %s\n", __FILE__,     \
                    __LINE__, #cond);                                         \
            _exit(1);                                                         \
        }                                                                     \
    } while (0)

/* ---- executors ----------------------------------------------------------- */

/* A setting that fx_make applies to every standalone executor it makes
 * (after the caller's), such as max_jobs_per_worker for a run of a whole
 * test with reused workers; NULL for none. */
static const char *fx_extra_key JX_UNUSED_VAR, *fx_extra_val JX_UNUSED_VAR;

/* An executor for `mode` with `workers` workers and then NULL-terminated
 * key, value pairs for job_config_set.  NULL when anything fails. */
static inline job_executor *fx_make(job_mode mode, int workers, ...)
{
    job_config *cfg = NULL;
    job_executor *ex = NULL;
    if (job_config_new(&cfg) != JOB_OK)
        return NULL;
    bool ok = job_configure_job_executions(
                  cfg, mode == JOB_MODE_STANDALONE ? "standalone" : "development",
                  workers) == JOB_OK;
    va_list ap;
    va_start(ap, workers);
    for (const char *k; ok && (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        if (job_config_set(cfg, k, v) != JOB_OK) {
            fprintf(stderr, "fx_make: cannot set %s = %s\n", k, v);
            ok = false;
        }
    }
    va_end(ap);
    if (ok && fx_extra_key && mode == JOB_MODE_STANDALONE &&
        job_config_set(cfg, fx_extra_key, fx_extra_val) != JOB_OK)
        ok = false;
    if (ok && job_executor_new(cfg, &ex) != JOB_OK)
        ex = NULL;
    job_config_free(cfg);
    return ex;
}

/* ---- memory shared with job processes ------------------------------------ */

static inline void *fx_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0, size);
    return p;
}

/* Spins (yielding) until *flag >= v.  Job processes set such flags; the
 * test process never sleeps on a guess. */
static inline void fx_await(_Atomic int *flag, int v)
{
    while (atomic_load(flag) < v)
        sched_yield();
}

/* Same with a deadline in ms; false when it passed. */
static inline int64_t fx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline bool fx_await_for(_Atomic int *flag, int v, int64_t ms)
{
    int64_t end = fx_now_ms() + ms;
    while (atomic_load(flag) < v) {
        if (fx_now_ms() > end)
            return false;
        sched_yield();
    }
    return true;
}

/* ---- watching a process end ---------------------------------------------- */

/*
 * A process the test watches: by its pidfd when the kernel (and the tool
 * running the test: valgrind 3.19 has no pidfd_open) gives one, else by a
 * FIFO that the watched process opened for writing and holds until it
 * dies.  The FIFO way needs the watched process's help: see
 * fx_watch_join().
 */
struct fx_slot {
    _Atomic int pid;
    _Atomic int ack;
};

#define FX_SLOTS 64

struct fx_watchers {
    struct fx_slot slot[FX_SLOTS];
    char dir[64];          /* the FIFOs' directory, "" for none */
};

struct fx_watch {
    pid_t pid;
    int pidfd;             /* -1 without pidfds */
    int fifo;              /* read end of the FIFO, or -1 */
};

static inline bool fx_have_pidfd(void)
{
    int fd = pidfd_open(getpid(), 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Makes the FIFOs of every slot (call before the watched processes start;
 * the read ends are opened by fx_watch_open). */
static inline bool fx_watchers_init(struct fx_watchers *w)
{
    memset(w->slot, 0, sizeof(w->slot));
    snprintf(w->dir, sizeof(w->dir), "/tmp/jxfault.XXXXXX");
    if (!mkdtemp(w->dir))
        return false;
    for (int i = 0; i < FX_SLOTS; i++) {
        char p[96];
        snprintf(p, sizeof(p), "%s/w%d", w->dir, i);
        if (mkfifo(p, 0600) < 0)
            return false;
    }
    return true;
}

static inline void fx_watchers_fini(struct fx_watchers *w)
{
    for (int i = 0; i < FX_SLOTS; i++) {
        char p[96];
        snprintf(p, sizeof(p), "%s/w%d", w->dir, i);
        unlink(p);
    }
    rmdir(w->dir);
}

/* Opens the read end of slot i's FIFO, before its process joins. */
static inline int fx_fifo_open(struct fx_watchers *w, int i)
{
    char p[96];
    snprintf(p, sizeof(p), "%s/w%d", w->dir, i);
    return open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

/*
 * Called by a watched process: holds slot i's FIFO open for writing (it
 * must do so before forking anything that should not hold it), publishes
 * its pid, and, when `wait_ack`, waits until the test has opened its watch
 * (so that the test never opens a pidfd on a pid that could be reused).
 * Async-signal-safe: fine in a forked child.
 */
static inline void fx_watch_join(struct fx_watchers *w, int i, bool wait_ack)
{
    char p[96];
    size_t n = strlen(w->dir);
    memcpy(p, w->dir, n);
    p[n++] = '/';
    p[n++] = 'w';
    if (i >= 10)
        p[n++] = (char)('0' + i / 10);
    p[n++] = (char)('0' + i % 10);
    p[n] = '\0';
    /* The test holds the read end, so this does not block; the fd stays
     * open until this process dies (O_CLOEXEC: an exec'd program drops
     * it, so commands are watched by pidfd only). */
    int fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    (void)fd;
    atomic_store(&w->slot[i].pid, (int)getpid());
    while (wait_ack && !atomic_load(&w->slot[i].ack))
        sched_yield();
}

/* Waits for slot i's process to join, then opens its watch.  `fifo` is
 * the read end from fx_fifo_open (the watch takes it). */
static inline struct fx_watch fx_watch_open(struct fx_watchers *w, int i,
                                            int fifo)
{
    struct fx_watch wt = {.pid = -1, .pidfd = -1, .fifo = fifo};
    fx_await(&w->slot[i].pid, 1);
    wt.pid = atomic_load(&w->slot[i].pid);
    wt.pidfd = pidfd_open(wt.pid, 0);
    atomic_store(&w->slot[i].ack, 1);
    return wt;
}

/* True when the watched process has ended (its pidfd readable, or its
 * FIFO hung up) within `ms` (0: now; < 0: wait for ever). */
static inline bool fx_watch_ended(const struct fx_watch *wt, int ms)
{
    struct pollfd pf = {.fd = wt->pidfd >= 0 ? wt->pidfd : wt->fifo,
                        .events = POLLIN};
    if (pf.fd < 0)
        return false;
    int64_t end = ms < 0 ? INT64_MAX : fx_now_ms() + ms;
    for (;;) {
        int left = ms < 0 ? -1 : (int)(end - fx_now_ms());
        if (ms >= 0 && left < 0)
            left = 0;
        int r = poll(&pf, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        if (wt->pidfd >= 0)
            return true;
        /* A FIFO: drain stray bytes; the end is POLLHUP with no writer. */
        if (pf.revents & POLLHUP)
            return true;
        char buf[64];
        if (read(pf.fd, buf, sizeof(buf)) == 0)
            return true;
        if (left == 0)
            return false;
    }
}

static inline void fx_watch_kill(const struct fx_watch *wt, int sig)
{
    if (wt->pidfd >= 0)
        pidfd_send_signal(wt->pidfd, sig, NULL, 0);
    else if (wt->pid > 0)
        kill(wt->pid, sig);
}

static inline void fx_watch_close(struct fx_watch *wt)
{
    if (wt->pidfd >= 0)
        close(wt->pidfd);
    if (wt->fifo >= 0)
        close(wt->fifo);
    wt->pidfd = wt->fifo = -1;
}

/*
 * Makes pidfd_open() fail with ENOSYS in this process and its children, as
 * on a kernel older than 5.3 or under valgrind 3.19, so that the library's
 * fallback (reaping by pid, the end of a pipe as the end of a process)
 * runs.  Must be called before the library first probes for pidfds.
 * Returns false when the filter cannot be installed.
 */
static inline bool fx_disable_pidfd(void)
{
#if defined(__x86_64__)
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
                              .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return false;
    int fd = pidfd_open(getpid(), 0);
    if (fd >= 0) {
        close(fd);
        return false;
    }
    return errno == ENOSYS;
#else
    return false;
#endif
}

/* ---- counting ------------------------------------------------------------ */

static inline int fx_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Describes the fds open now, for a failure message. */
static inline void fx_dump_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[300], t[300];
        snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, t, sizeof(t) - 1);
        t[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "  fd %s -> %s\n", e->d_name, t);
    }
    closedir(d);
}

/* True when this process has no child at all, not even a zombie. */
static inline bool fx_no_children(void)
{
    errno = 0;
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1. */
static inline long fx_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS. */
static inline void fx_reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, "5", 1);
        (void)w;
        close(fd);
    }
}

/* Runs fn(arg) in a forked helper process and returns its wait status, or
 * -1 when it has not ended within timeout_ms (it is then killed). */
static inline int fx_run_helper(void (*fn)(void *), void *arg, int timeout_ms)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -2;
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int pfd = pidfd_open(pid, 0);
    int st = 0;
    if (pfd >= 0) {
        struct pollfd pf = {.fd = pfd, .events = POLLIN};
        int r;
        do
            r = poll(&pf, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        close(pfd);
        if (r == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        waitpid(pid, &st, 0);
        return st;
    }
    /* Without pidfds: a watchdog thread would be needed; the helper's own
     * alarm() is the deadline instead. */
    waitpid(pid, &st, 0);
    return st;
}

#endif
