/* alloc.c - the library's allocator wrappers, with fault injection. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static atomic_long fail_countdown = -1; /* < 0: injection off */
static atomic_int fail_sticky;
static atomic_ulong alloc_count;

void jx_alloc_fail_after(long after, int sticky)
{
    atomic_store(&fail_sticky, sticky);
    atomic_store(&fail_countdown, after);
}

unsigned long jx_alloc_count(void)
{
    return atomic_load(&alloc_count);
}

/* Returns nonzero when this allocation must fail. */
static int should_fail(void)
{
    atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (JX_LIKELY(c < 0))
        return 0;
    if (c == 0)
        return atomic_load(&fail_sticky) || atomic_exchange(&fail_countdown, -1) == 0;
    /* Count down; another thread may race us, which only shifts which
     * allocation fails. */
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

void *jx_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *jx_calloc(size_t count, size_t n)
{
    return should_fail() ? NULL : calloc(count ? count : 1, n ? n : 1);
}

void *jx_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *jx_strdup(const char *s)
{
    return s ? jx_strndup(s, strlen(s)) : NULL;
}

char *jx_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = jx_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

void jx_free(void *p)
{
    free(p);
}

int64_t jx_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t jx_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
