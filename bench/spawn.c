/*
 * spawn.c - runs the external peers (Python, xargs, GNU parallel, the
 * jobexec command) with posix_spawn, which costs the same whatever the
 * size of this process, and reaps each by its own pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

int spawn_run(char *const argv[], const char *stdin_path, char *out,
              size_t outsz, bool quiet, int64_t *elapsed_ns)
{
    int p[2] = {-1, -1};
    if (out && !outsz)
        return -1;
    if (out)
        out[0] = '\0';
    if (out && pipe2(p, O_CLOEXEC) < 0)
        return -1;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null",
                                     O_RDONLY, 0);
    if (out)
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (quiet)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

    /* The child starts with default signal handling and an empty mask,
     * whatever this process has. */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid;
    int64_t t0 = bench_now_ns();
    int e = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (out)
        close(p[1]);
    if (e != 0) {
        if (out)
            close(p[0]);
        errno = e;
        return -1;
    }
    if (out) {
        size_t have = 0;
        char sink[4096];
        for (;;) {
            char *dst = have + 1 < outsz ? out + have : sink;
            size_t room = have + 1 < outsz ? outsz - 1 - have : sizeof(sink);
            ssize_t r = read(p[0], dst, room);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            if (dst != sink)
                have += (size_t)r;
        }
        out[have] = '\0';
        close(p[0]);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (elapsed_ns)
        *elapsed_ns = bench_now_ns() - t0;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 256 + WTERMSIG(st);
}
