/* proc_util.h - for tests: waiting until a process (not necessarily a
 * child of ours) has ended. */
#ifndef JOBEXEC_TEST_PROC_UTIL_H
#define JOBEXEC_TEST_PROC_UTIL_H

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Without pidfds (valgrind, old kernels): looks until the process is gone
 * or a zombie, for at most 10 s. */
static bool ends_without_pidfd(pid_t pid)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return true;
        char path[64], buf[256] = "";
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            buf[n] = '\0';
            fclose(f);
            const char *rp = strrchr(buf, ')');
            if (rp && rp[1] == ' ' && rp[2] == 'Z')
                return true;
        }
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 10);
    return false;
}

/* True once the process is gone (or a zombie of someone else's). */
static bool process_ends(pid_t pid)
{
    int fd = pidfd_open(pid, 0);
    if (fd < 0 && errno == ENOSYS)
        return ends_without_pidfd(pid);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, 10000);
    close(fd);
    return r == 1;
}

#endif
