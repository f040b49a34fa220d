/*
 * limit.c - the limit: the least a job can cost when each one runs in a
 * process of its own, with no library around it.  Fork a child; the child
 * writes a small result to a pipe and _exits; the parent watches the
 * child's pidfd with poll, reads the result and reaps the child with
 * waitid(P_PIDFD).  No signal reset, no fd hygiene, no records, no
 * callbacks: anything a library adds shows as the distance to this.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_burn_cpu(int64_t ns)
{
    int64_t start = thread_cpu_ns();
    while (thread_cpu_ns() - start < ns) {
    }
}

/* One child in flight. */
struct lslot {
    pid_t pid;
    int pidfd;
    int rfd;
};

static void lerr(const char *what)
{
    fprintf(stderr, "limit: %s: %s\n", what, strerror(errno));
}

/* Forks one child.  Returns 0 or -1. */
static int lslot_start(struct lslot *s, int64_t work_ns)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        lerr("pipe2");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        lerr("fork");
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int64_t running = bench_now_ns();
        if (work_ns > 0)
            bench_burn_cpu(work_ns);
        ssize_t w = write(p[1], &running, sizeof(running));
        _exit(w == (ssize_t)sizeof(running) ? 0 : 1);
    }
    close(p[1]);
    int fd = pidfd_open(pid, 0);
    if (fd < 0) {
        lerr("pidfd_open");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[0]);
        return -1;
    }
    s->pid = pid;
    s->pidfd = fd;
    s->rfd = p[0];
    return 0;
}

/* The child's pidfd is readable: takes its result and reaps it. */
static int lslot_finish(struct lslot *s, int64_t *result)
{
    int64_t v = 0;
    ssize_t r;
    do
        r = read(s->rfd, &v, sizeof(v));
    while (r < 0 && errno == EINTR);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int w;
    do
        w = waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &si, WEXITED);
    while (w < 0 && errno == EINTR);
    close(s->pidfd);
    close(s->rfd);
    s->pid = -1;
    s->pidfd = s->rfd = -1;
    if (w < 0) {
        lerr("waitid");
        return -1;
    }
    if (r != (ssize_t)sizeof(v) || si.si_code != CLD_EXITED || si.si_status != 0) {
        fprintf(stderr, "limit: a child ended without its result\n");
        return -1;
    }
    if (result)
        *result = v;
    return 0;
}

int limit_run(int n, int conc, int64_t work_ns, int64_t *elapsed_ns)
{
    if (n <= 0 || conc <= 0)
        return -1;
    struct lslot *slots = calloc((size_t)conc, sizeof(*slots));
    struct pollfd *pfds = calloc((size_t)conc, sizeof(*pfds));
    if (!slots || !pfds) {
        free(slots);
        free(pfds);
        return -1;
    }
    int rc = 0, started = 0, done = 0;
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < conc; i++) {
        pfds[i].fd = -1;
        pfds[i].events = POLLIN;
        if (started < n) {
            if (lslot_start(&slots[i], work_ns) != 0) {
                rc = -1;
                break;
            }
            pfds[i].fd = slots[i].pidfd;
            started++;
        }
    }
    while (rc == 0 && done < started) {
        int k = poll(pfds, (nfds_t)conc, -1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            lerr("poll");
            rc = -1;
            break;
        }
        for (int i = 0; i < conc && rc == 0; i++) {
            if (pfds[i].fd < 0 || !pfds[i].revents)
                continue;
            pfds[i].fd = -1;
            if (lslot_finish(&slots[i], NULL) != 0)
                rc = -1;
            done++;
            if (rc == 0 && started < n) {
                if (lslot_start(&slots[i], work_ns) != 0) {
                    rc = -1;
                    break;
                }
                pfds[i].fd = slots[i].pidfd;
                started++;
            }
        }
    }
    int64_t t1 = bench_now_ns();
    /* After an error, take back whatever is still running. */
    for (int i = 0; i < conc; i++) {
        if (pfds[i].fd >= 0) {
            kill(slots[i].pid, SIGKILL);
            lslot_finish(&slots[i], NULL);
        }
    }
    free(slots);
    free(pfds);
    if (elapsed_ns)
        *elapsed_ns = t1 - t0;
    return rc;
}

int limit_latency(int64_t *latency_ns)
{
    struct lslot s;
    int64_t t0 = bench_now_ns();
    if (lslot_start(&s, 0) != 0)
        return -1;
    struct pollfd pfd = {.fd = s.pidfd, .events = POLLIN};
    while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
    int64_t running = 0;
    if (lslot_finish(&s, &running) != 0)
        return -1;
    *latency_ns = running - t0;
    return 0;
}
