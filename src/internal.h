/*
 * internal.h - helpers shared by the library's modules.  Nothing here is
 * public: internal names start with jx_ (functions) or JX_ (macros).
 */
#ifndef JX_INTERNAL_H
#define JX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "jobconfig.h"

#if defined(__GNUC__)
#define JX_UNUSED __attribute__((unused))
#define JX_LIKELY(x) __builtin_expect(!!(x), 1)
#define JX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define JX_UNUSED
#define JX_LIKELY(x) (x)
#define JX_UNLIKELY(x) (x)
#endif

#define JX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- allocation (alloc.c) ----------------------------------------------
 * Every allocation of the library goes through these, so that tests can
 * make the n-th allocation fail (fault injection). */
void *jx_malloc(size_t n);
void *jx_calloc(size_t count, size_t n);
void *jx_realloc(void *p, size_t n);
char *jx_strdup(const char *s);
char *jx_strndup(const char *s, size_t n);
void jx_free(void *p);

/* Makes the allocation that comes `after` allocations from now fail, and
 * every one after it while `sticky` is set.  after < 0 turns injection
 * off.  For tests only; thread-safe. */
void jx_alloc_fail_after(long after, int sticky);
/* Number of allocations made through jx_malloc and friends so far. */
unsigned long jx_alloc_count(void);

/* ---- time ---------------------------------------------------------------- */
/* CLOCK_REALTIME, in nanoseconds since the epoch. */
int64_t jx_realtime_ns(void);
/* CLOCK_MONOTONIC, in nanoseconds. */
int64_t jx_monotonic_ns(void);

#endif
