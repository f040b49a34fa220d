/* nopidfd_shim.c - preloaded to make pidfd_open() fail with ENOSYS, as on
 * kernels before 5.3 and under valgrind, so that the tests cover the
 * library's path without pidfds. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/types.h>

int pidfd_open(pid_t pid, unsigned int flags);

int pidfd_open(pid_t pid, unsigned int flags)
{
    (void)pid;
    (void)flags;
    errno = ENOSYS;
    return -1;
}
