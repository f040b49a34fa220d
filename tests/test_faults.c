/*
 * test_faults.c - faults thrown by jobs: crashes, exits without a result,
 * kills from outside, runaway loops under a timeout, jobs that ignore or
 * block signals, leftover grandchildren, escapes from the process group,
 * closed or redirected stdout/stderr, a flood of output, huge results,
 * broken result frames, memory limits, and jobs that change their working
 * directory or environment.
 *
 * After each fault: the job has the right final status and a reason on
 * its record, the same executor runs the next job, and once the executor
 * is freed no fd is left open and no child (not even a zombie) remains.
 */
#include "fault_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "wire.h"

#if JX_ASAN
/* A job that asks for too much memory under memory_limit must see malloc
 * return NULL, as it does without the sanitizer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

static const job_mode DEV = JOB_MODE_DEVELOPMENT;
static const job_mode STA = JOB_MODE_STANDALONE;

/* Shared with the job processes (forked: they inherit the mapping). */
struct fshared {
    struct fx_watchers w;
    _Atomic int started;
    _Atomic int pid;
    _Atomic int gate;
    _Atomic int never;      /* stays 0 */
    _Atomic int setsid_errno;
    _Atomic long value;
    _Atomic long value2;
};
static struct fshared *sh;

static job_mode mode_of(void **state)
{
    return *state ? *(const job_mode *)*state : JOB_MODE_STANDALONE;
}

/* ---- job functions ------------------------------------------------------ */

static int fn_echo(job_ctx *ctx, const void *in, size_t len)
{
    return job_set_result(ctx, in, len) == JOB_OK ? 0 : 1;
}

static int fn_segv(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    /* A real invalid access, not raise(): a page with no access at all. */
    volatile char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ((void *)p == MAP_FAILED)
        return 9;
    p[0] = 1;
    return 0;
}

static int recurse(volatile char *prev, int depth)
{
    volatile char buf[2048];
    buf[0] = (char)depth;
    buf[sizeof(buf) - 1] = prev ? prev[0] : 0;
    if (depth == atomic_load(&sh->never) - 1) /* never: depth >= 0 */
        return 0;
    return recurse(buf, depth + 1) + buf[100];
}

static int fn_stack_overflow(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    return recurse(NULL, 0);
}

static int fn_abort(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    abort();
}

static int fn_exit_code(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)len;
    _exit(*(const int *)in);
}

/* Publishes its pid and waits to be killed from outside. */
static int fn_wait_kill(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    atomic_store(&sh->pid, (int)getpid());
    while (!atomic_load(&sh->never))
        pause();
    return 0;
}

static int fn_busy_loop(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    atomic_fetch_add(&sh->started, 1);
    volatile unsigned long spin = 0;
    while (!atomic_load(&sh->never)) /* always: only a signal ends it */
        spin++;
    return 0;
}

static int fn_ignore_term(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    signal(SIGTERM, SIG_IGN);
    atomic_fetch_add(&sh->started, 1);
    volatile unsigned long spin = 0;
    while (!atomic_load(&sh->never)) /* always: only a signal ends it */
        spin++;
    return 0;
}

/* Blocks every signal it can, and ignores every one it can. */
static int fn_block_all(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_IGN);
    atomic_fetch_add(&sh->started, 1);
    volatile unsigned long spin = 0;
    while (!atomic_load(&sh->never)) /* always: only a signal ends it */
        spin++;
    return 0;
}

/*
 * Leaves grandchildren behind: slots 1-3 are its children, slot 4 a child
 * of slot 1.  Input byte: 0 return normally, 1 crash, 2 wait to be
 * cancelled or timed out.
 */
static int fn_grandchildren(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    int how = len ? ((const unsigned char *)in)[0] : 0;
    for (int i = 0; i < 3; i++) {
        pid_t p = fork();
        if (p < 0)
            return 3;
        if (p == 0) {
            if (i == 0 && fork() == 0) {
                fx_watch_join(&sh->w, 4, false);
                for (;;)
                    pause();
            }
            /* This one holds SIGTERM off: only SIGKILL ends it. */
            if (i == 2)
                signal(SIGTERM, SIG_IGN);
            fx_watch_join(&sh->w, 1 + i, false);
            for (;;)
                pause();
        }
    }
    for (int i = 1; i <= 4; i++)
        fx_await(&sh->w.slot[i].ack, 1);
    atomic_fetch_add(&sh->started, 1);
    if (how == 1)
        abort();
    if (how == 2)
        for (;;)
            pause();
    return 0;
}

/* A grandchild that leaves the job's process group with setsid().  The
 * job itself cannot: as a group leader its setsid() fails with EPERM. */
static int fn_setsid_escape(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    atomic_store(&sh->setsid_errno, setsid() < 0 ? errno : 0);
    pid_t p = fork();
    if (p < 0)
        return 3;
    if (p == 0) {
        if (setsid() < 0)
            _exit(4);
        fx_watch_join(&sh->w, 5, false);
        for (;;)
            pause();
    }
    fx_await(&sh->w.slot[5].ack, 1);
    return 0;
}

static int fn_close_std(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    close(1);
    close(2);
    printf("to a closed stdout\n");
    fflush(stdout);
    fprintf(stderr, "to a closed stderr\n");
    return job_set_result(ctx, "ok", 2) == JOB_OK ? 0 : 1;
}

static int fn_redirect_std(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        return 5;
    close(fd);
    for (int i = 0; i < 1000; i++)
        printf("into /dev/null %d\n", i);
    fflush(stdout);
    fprintf(stderr, "also into /dev/null\n");
    return job_set_result(ctx, "ok", 2) == JOB_OK ? 0 : 1;
}

/* Closes the result pipe, then returns normally. */
static int fn_close_result_fd(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    close(3);
    return 0;
}

/* Points its stdout at the result pipe and prints. */
static int fn_stdout_into_result(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    if (dup2(3, 1) < 0)
        return 5;
    printf("this is not a frame\n");
    return 0;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Writes 1 GiB to stdout and 16 MiB to stderr.  In development mode it
 * also records how large its captured stdout grew in the host. */
static int fn_flood_1g(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    size_t chunk = 1u << 20;
    char *buf = malloc(chunk);
    if (!buf)
        return 2;
    memset(buf, 'o', chunk);
    long wrote = 0;
    for (int i = 0; i < 1024; i++)
        if (write_all(1, buf, chunk))
            wrote++;
    memset(buf, 'e', chunk);
    for (int i = 0; i < 16; i++)
        write_all(2, buf, chunk);
    free(buf);
    struct stat st;
    atomic_store(&sh->value, fstat(1, &st) == 0 ? (long)st.st_blocks * 512 : -1);
    atomic_store(&sh->value2, wrote);
    return 0;
}

#define BIG_RESULT ((size_t)256 << 20)

static unsigned char big_byte(size_t i)
{
    return (unsigned char)((i * 131u) ^ (i >> 17));
}

static int fn_result_256m(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    unsigned char *b = malloc(BIG_RESULT);
    if (!b)
        return 2;
    for (size_t i = 0; i < BIG_RESULT; i++)
        b[i] = big_byte(i);
    int rc = job_set_result(ctx, b, BIG_RESULT);
    free(b);
    return rc == JOB_OK ? 0 : 1;
}

/* Broken frames on the result pipe (fd 3), chosen by the input byte. */
enum {
    WF_GARBAGE, WF_CUT_EXIT, WF_CUT_RETURN, WF_HUGE_LEN, WF_BAD_TYPE,
    WF_RESERVED, WF_BAD_PROGRESS, WF_AFTER_DONE, WF_LONG_FAIL,
    WF_RESULT_THEN_GARBAGE, WF_HALF_HEADER, WF_COUNT
};

static int fn_bad_frames(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)len;
    unsigned char h[JX_WIRE_HDR];
    int which = ((const unsigned char *)in)[0];
    switch (which) {
    case WF_GARBAGE:
        write_all(3, "GARBAGE! not a frame header at all", 34);
        return 0;
    case WF_CUT_EXIT:
    case WF_CUT_RETURN:
        jx_wire_header(h, JX_FRAME_RESULT, 1000);
        write_all(3, h, sizeof(h));
        write_all(3, "0123456789", 10);
        if (which == WF_CUT_EXIT)
            _exit(0);
        return 0; /* the DONE frame that follows is read as payload */
    case WF_HUGE_LEN:
        jx_wire_header(h, JX_FRAME_RESULT, (uint64_t)1 << 62);
        write_all(3, h, sizeof(h));
        write_all(3, "abc", 3);
        return 0;
    case WF_BAD_TYPE:
        jx_wire_header(h, 77, 4);
        write_all(3, h, sizeof(h));
        write_all(3, "abcd", 4);
        return 0;
    case WF_RESERVED:
        jx_wire_header(h, JX_FRAME_RESULT, 1);
        h[6] = 1;
        write_all(3, h, sizeof(h));
        write_all(3, "x", 1);
        return 0;
    case WF_BAD_PROGRESS:
        jx_wire_header(h, JX_FRAME_PROGRESS, 5);
        write_all(3, h, sizeof(h));
        write_all(3, "12345", 5);
        return 0;
    case WF_AFTER_DONE: {
        /* A DONE of its own: the library's DONE then follows it. */
        unsigned char rc[4] = {0, 0, 0, 0};
        jx_wire_header(h, JX_FRAME_DONE, 4);
        write_all(3, h, sizeof(h));
        write_all(3, rc, 4);
        return 0;
    }
    case WF_LONG_FAIL: {
        size_t n = 1u << 20;
        char *m = malloc(n);
        if (!m)
            return 2;
        memset(m, 'm', n);
        jx_wire_header(h, JX_FRAME_FAIL, n);
        write_all(3, h, sizeof(h));
        write_all(3, m, n);
        free(m);
        return 0;
    }
    case WF_RESULT_THEN_GARBAGE:
        job_set_result(ctx, "valid", 5);
        write_all(3, "JXF1-but-not-really-a-frame", 27);
        return 0;
    case WF_HALF_HEADER:
        jx_wire_header(h, JX_FRAME_RESULT, 4);
        write_all(3, h, 7);
        _exit(0);
    }
    return 0;
}

/* Allocates 1 GiB at once. */
static int fn_hog_once(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    size_t n = (size_t)1 << 30;
    char *p = malloc(n);
    if (!p) {
        job_fail(ctx, "could not allocate 1 GiB");
        return 1;
    }
    memset(p, 1, n);
    free(p);
    return 0;
}

/* Allocates and touches 1 MiB at a time until malloc fails (or 1 GiB). */
static int fn_hog_gradual(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    void **blocks = calloc(1024, sizeof(*blocks));
    if (!blocks) {
        job_fail(ctx, "out of memory at once");
        return 1;
    }
    int n = 0;
    while (n < 1024) {
        char *p = malloc((size_t)1 << 20);
        if (!p)
            break;
        memset(p, 2, (size_t)1 << 20);
        blocks[n++] = p;
    }
    for (int i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
    atomic_store(&sh->value, n);
    if (n < 1024) {
        job_fail(ctx, "out of memory after %d MiB", n);
        return 1;
    }
    return 0;
}

/* Changes what a process carries from job to job, then returns. */
static int fn_pollute(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    if (chdir("/") < 0)
        return 5;
    setenv("JX_FAULT_POLLUTED", "yes", 1);
    unsetenv("JX_FAULT_KEEP");
    umask(0077);
    signal(SIGUSR1, SIG_IGN);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_BLOCK, &s, NULL);
    return 0;
}

struct proc_view {
    char cwd[512];
    int polluted;   /* JX_FAULT_POLLUTED is set */
    int keep;       /* JX_FAULT_KEEP is still set */
    unsigned umask;
    int usr1_ignored;
    int usr2_blocked;
};

static void view_self(struct proc_view *v)
{
    memset(v, 0, sizeof(*v));
    if (!getcwd(v->cwd, sizeof(v->cwd)))
        v->cwd[0] = '\0';
    v->polluted = getenv("JX_FAULT_POLLUTED") != NULL;
    v->keep = getenv("JX_FAULT_KEEP") != NULL;
    mode_t m = umask(0);
    umask(m);
    v->umask = (unsigned)m;
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    v->usr1_ignored = sa.sa_handler == SIG_IGN;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    v->usr2_blocked = sigismember(&cur, SIGUSR2);
}

static int fn_inspect(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    struct proc_view v;
    view_self(&v);
    return job_set_result(ctx, &v, sizeof(v)) == JOB_OK ? 0 : 1;
}

/* ---- checks shared by every test ---------------------------------------- */

static int fds_at_start;

static int setup(void **state)
{
    (void)state;
    fx_extra_key = fx_extra_val = NULL;
    memset(sh->w.slot, 0, sizeof(sh->w.slot));
    atomic_store(&sh->started, 0);
    atomic_store(&sh->pid, 0);
    atomic_store(&sh->gate, 0);
    atomic_store(&sh->value, 0);
    atomic_store(&sh->value2, 0);
    fds_at_start = fx_count_fds();
    return 0;
}

/* The same faults with reused worker processes (function jobs without
 * capture run in them). */
static int setup_reuse(void **state)
{
    setup(state);
    fx_extra_key = "max_jobs_per_worker";
    fx_extra_val = "0";
    return 0;
}

/* The executor still runs a job, then is freed; nothing is left. */
static void next_job_and_free(job_executor *ex)
{
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_echo, "next", 4, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 0;
    const char *r = job_result(j, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(r, "next", 4);
    job_release(j);
    job_executor_stats st;
    assert_int_equal(job_executor_stats_get(ex, &st), JOB_OK);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.finished, st.submitted);
    job_executor_free(ex);
    int fds = fx_count_fds();
    if (fds != fds_at_start)
        fx_dump_fds();
    assert_int_equal(fds, fds_at_start);
    assert_true(fx_no_children());
}

/* Submits fn and waits for it; returns the job. */
static job *run_job(job_executor *ex, job_fn fn, const void *in, size_t len,
                    const job_options *o)
{
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn, in, len, o, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_true(job_status_is_finished(job_get_status(j)));
    return j;
}

static void assert_failed(job *j, job_failure kind, const char *words)
{
    const char *msg = job_error_message(j);
    if (job_get_status(j) != JOB_FAILED || job_failure_kind(j) != kind ||
        !msg || (words && !strstr(msg, words)))
        fprintf(stderr, "job %llu: %s, %s, \"%s\" (wanted %s with \"%s\")\n",
                (unsigned long long)job_id(j), job_status_name(job_get_status(j)),
                job_failure_name(job_failure_kind(j)), msg ? msg : "(null)",
                job_failure_name(kind), words ? words : "");
    assert_int_equal(job_get_status(j), JOB_FAILED);
    assert_int_equal(job_failure_kind(j), kind);
    assert_non_null(msg);
    if (words)
        assert_non_null(strstr(msg, words));
    size_t n = 1;
    assert_null(job_result(j, &n));
    assert_int_equal(n, 0);
}

/* ---- crashes and exits -------------------------------------------------- */

static void test_segfault(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    job *j = run_job(ex, fn_segv, NULL, 0, NULL);
    assert_failed(j, JOB_FAILURE_SIGNAL, "SIGSEGV");
    assert_int_equal(job_term_signal(j), SIGSEGV);
    assert_int_equal(job_exit_code(j), -1);
    job_release(j);
    j = run_job(ex, fn_stack_overflow, NULL, 0, NULL);
    assert_failed(j, JOB_FAILURE_SIGNAL, "SIGSEGV");
    job_release(j);
    next_job_and_free(ex);
}

static void test_abort(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    job *j = run_job(ex, fn_abort, NULL, 0, NULL);
    assert_failed(j, JOB_FAILURE_SIGNAL, "SIGABRT");
    assert_int_equal(job_term_signal(j), SIGABRT);
    job_release(j);
    next_job_and_free(ex);
}

static void test_exit_without_result(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 2, NULL);
    assert_non_null(ex);
    int codes[] = {0, 1, 42, 255};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        job *j = run_job(ex, fn_exit_code, &codes[i], sizeof(int), NULL);
        char words[64];
        snprintf(words, sizeof(words), "code %d without a result", codes[i]);
        assert_failed(j, JOB_FAILURE_EXIT, words);
        assert_int_equal(job_exit_code(j), codes[i]);
        assert_int_equal(job_term_signal(j), 0);
        job_release(j);
    }
    next_job_and_free(ex);
}

static void test_sigkill_from_outside(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_wait_kill, NULL, 0, NULL, &j), JOB_OK);
    fx_await(&sh->pid, 1);
    assert_int_equal(kill(atomic_load(&sh->pid), SIGKILL), 0);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_failed(j, JOB_FAILURE_SIGNAL, "SIGKILL");
    assert_int_equal(job_term_signal(j), SIGKILL);
    job_release(j);
    next_job_and_free(ex);
}

/* ---- timeouts, cancel and signals --------------------------------------- */

static void test_infinite_loop_timeout(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, "kill_grace", "\"5s:timedelta\"", NULL);
    assert_non_null(ex);
    job_options o = {.timeout_ms = 150};
    int64_t t0 = fx_now_ms();
    job *j = run_job(ex, fn_busy_loop, NULL, 0, &o);
    int64_t took = fx_now_ms() - t0;
    assert_failed(j, JOB_FAILURE_TIMEOUT, "timed out after 150 ms");
    /* SIGTERM was enough: no grace period was waited out. */
    assert_int_equal(job_term_signal(j), SIGTERM);
    assert_true(took >= 150);
    assert_true(took < 4000);
    job_release(j);
    next_job_and_free(ex);
}

static void test_ignore_sigterm(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 2, "kill_grace", "\"300ms:timedelta\"", NULL);
    assert_non_null(ex);
    /* Under a timeout. */
    job_options o = {.timeout_ms = 100};
    int64_t t0 = fx_now_ms();
    job *j = run_job(ex, fn_ignore_term, NULL, 0, &o);
    int64_t took = fx_now_ms() - t0;
    assert_failed(j, JOB_FAILURE_TIMEOUT, "SIGKILL");
    assert_int_equal(job_term_signal(j), SIGKILL);
    assert_true(took >= 100 + 300);
    job_release(j);
    /* Cancelled. */
    atomic_store(&sh->started, 0);
    assert_int_equal(job_submit(ex, fn_ignore_term, NULL, 0, NULL, &j), JOB_OK);
    fx_await(&sh->started, 1);
    assert_int_equal(job_cancel(j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_CANCELED);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_CANCELED);
    assert_int_equal(job_term_signal(j), SIGKILL);
    assert_non_null(strstr(job_error_message(j), "SIGKILL"));
    job_release(j);
    next_job_and_free(ex);
}

static void test_block_all_signals(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, "kill_grace", "\"200ms:timedelta\"", NULL);
    assert_non_null(ex);
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_block_all, NULL, 0, NULL, &j), JOB_OK);
    fx_await(&sh->started, 1);
    assert_int_equal(job_cancel(j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_CANCELED);
    assert_int_equal(job_failure_kind(j), JOB_FAILURE_CANCELED);
    assert_int_equal(job_term_signal(j), SIGKILL);
    assert_non_null(strstr(job_error_message(j), "canceled while running"));
    job_release(j);
    /* And under a timeout. */
    job_options o = {.timeout_ms = 50};
    j = run_job(ex, fn_block_all, NULL, 0, &o);
    assert_failed(j, JOB_FAILURE_TIMEOUT, "SIGKILL");
    job_release(j);
    /* The host's own signal mask and dispositions are untouched. */
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    assert_false(sigismember(&cur, SIGTERM));
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
    next_job_and_free(ex);
}

/* Command jobs have the same faults; in development mode the calling
 * thread enforces the timeout and grace period. */
static void test_command_faults(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 1, "kill_grace", "\"200ms:timedelta\"", NULL);
    assert_non_null(ex);
    const char *segv[] = {"/bin/sh", "-c", "kill -SEGV $$", NULL};
    const char *loop[] = {"/bin/sh", "-c", "while :; do :; done", NULL};
    const char *noterm[] = {"/bin/sh", "-c", "trap '' TERM; while :; do :; done", NULL};
    const char *code[] = {"/bin/sh", "-c", "exit 3", NULL};
    job_command c = {.argv = segv};
    job *j = NULL;

    assert_int_equal(job_submit_command(ex, &c, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_failed(j, JOB_FAILURE_SIGNAL, "SIGSEGV");
    job_release(j);

    c.argv = code;
    assert_int_equal(job_submit_command(ex, &c, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_failed(j, JOB_FAILURE_EXIT, "code 3");
    assert_int_equal(job_exit_code(j), 3);
    job_release(j);

    job_options o = {.timeout_ms = 100};
    c.argv = loop;
    assert_int_equal(job_submit_command(ex, &c, &o, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_failed(j, JOB_FAILURE_TIMEOUT, "timed out");
    assert_int_equal(job_term_signal(j), SIGTERM);
    job_release(j);

    c.argv = noterm;
    assert_int_equal(job_submit_command(ex, &c, &o, &j), JOB_OK);
    assert_int_equal(job_wait(j, -1), JOB_OK);
    assert_failed(j, JOB_FAILURE_TIMEOUT, "SIGKILL");
    assert_int_equal(job_term_signal(j), SIGKILL);
    job_release(j);
    next_job_and_free(ex);
}

/* ---- grandchildren and process groups ----------------------------------- */

/* Leftover processes that hold the result pipe must not hold up the job's
 * end: a bounded wait turns such a hang into a failure. */
#define GROUP_WAIT_MS 10000

static void assert_all_end(struct fx_watch wt[5])
{
    for (int i = 1; i <= 4; i++) {
        bool ended = fx_watch_ended(&wt[i], 1000);
        if (!ended)
            fprintf(stderr, "grandchild %d (pid %d) still runs\n", i, (int)wt[i].pid);
        assert_true(ended);
        fx_watch_close(&wt[i]);
    }
}

static void test_grandchildren(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 2, "kill_grace", "\"200ms:timedelta\"", NULL);
    assert_non_null(ex);
    /* 0: the job returns; 1: it crashes; 2: it is cancelled; 3: it times
     * out.  Every time, everything it started must end. */
    for (int how = 0; how < 4; how++) {
        memset(sh->w.slot, 0, sizeof(sh->w.slot));
        atomic_store(&sh->started, 0);
        int fifos[5];
        for (int i = 1; i <= 4; i++)
            fifos[i] = fx_fifo_open(&sh->w, i);
        unsigned char in = (unsigned char)(how >= 2 ? 2 : how);
        job_options o = {.timeout_ms = how == 3 ? 300 : 0};
        job *j = NULL;
        assert_int_equal(job_submit(ex, fn_grandchildren, &in, 1, &o, &j), JOB_OK);
        struct fx_watch wt[5];
        for (int i = 1; i <= 4; i++)
            wt[i] = fx_watch_open(&sh->w, i, fifos[i]);
        fx_await(&sh->started, 1);
        if (how == 2)
            assert_int_equal(job_cancel(j), JOB_OK);
        assert_int_equal(job_wait(j, GROUP_WAIT_MS), JOB_OK);
        job_status want[] = {JOB_COMPLETED, JOB_FAILED, JOB_CANCELED, JOB_FAILED};
        assert_int_equal(job_get_status(j), want[how]);
        if (how == 1)
            assert_int_equal(job_failure_kind(j), JOB_FAILURE_SIGNAL);
        if (how == 3)
            assert_int_equal(job_failure_kind(j), JOB_FAILURE_TIMEOUT);
        assert_all_end(wt);
        job_release(j);
    }
    next_job_and_free(ex);
}

/* A command that leaves a background process holding a FIFO open. */
static void test_command_grandchildren(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 1, NULL);
    assert_non_null(ex);
    char script[256];
    snprintf(script, sizeof(script), "exec 4>%s/w7; sleep 1000 & exit 0", sh->w.dir);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    job_command c = {.argv = argv};
    struct fx_watch wt = {.pid = -1, .pidfd = -1, .fifo = fx_fifo_open(&sh->w, 7)};
    assert_true(wt.fifo >= 0);
    job *j = NULL;
    assert_int_equal(job_submit_command(ex, &c, NULL, &j), JOB_OK);
    assert_int_equal(job_wait(j, GROUP_WAIT_MS), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    /* The shell and its background sleep both held the FIFO: it hangs up
     * once the sleep is gone too. */
    assert_true(fx_watch_ended(&wt, 1000));
    fx_watch_close(&wt);
    job_release(j);
    next_job_and_free(ex);
}

/*
 * setsid(): the job process itself cannot leave its group (it leads it),
 * but a child of the job can start a session of its own, and then neither
 * the group kill at the job's end nor the host-death keeper reaches it.
 * This is the documented limit: NOT contained (no cgroup is used).  The
 * test asserts exactly that, and cleans up after it.
 */
#define SETSID_ESCAPE_IS_CONTAINED 0

static void test_setsid_escape(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    int fifo = fx_fifo_open(&sh->w, 5);
    job *j = NULL;
    assert_int_equal(job_submit(ex, fn_setsid_escape, NULL, 0, NULL, &j), JOB_OK);
    struct fx_watch wt = fx_watch_open(&sh->w, 5, fifo);
    assert_int_equal(job_wait(j, GROUP_WAIT_MS), JOB_OK);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    assert_int_equal(atomic_load(&sh->setsid_errno), EPERM);
    bool ended = fx_watch_ended(&wt, 300);
    assert_int_equal(ended, SETSID_ESCAPE_IS_CONTAINED);
    if (!ended) {
        fx_watch_kill(&wt, SIGKILL);
        assert_true(fx_watch_ended(&wt, 1000));
    }
    fx_watch_close(&wt);
    job_release(j);
    next_job_and_free(ex);
}

/* ---- stdout and stderr -------------------------------------------------- */

static void test_close_redirect_std(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    job_fn fns[] = {fn_close_std, fn_redirect_std};
    for (int cap = 0; cap < 2; cap++) {
        job_options o = {.capture_output = cap ? JOB_CAPTURE_ON : JOB_CAPTURE_OFF};
        for (int k = 0; k < 2; k++) {
            job *j = run_job(ex, fns[k], NULL, 0, &o);
            assert_int_equal(job_get_status(j), JOB_COMPLETED);
            size_t n = 9;
            const char *r = job_result(j, &n);
            assert_int_equal(n, 2);
            assert_memory_equal(r, "ok", 2);
            bool t = true;
            job_stdout(j, &n, &t);
            assert_int_equal(n, 0);
            assert_false(t);
            job_stderr(j, &n, &t);
            assert_int_equal(n, 0);
            job_release(j);
        }
    }
    /* Closing the result pipe: the process cannot report; it exits with
     * the library's own code for that. */
    job *j = run_job(ex, fn_close_result_fd, NULL, 0, NULL);
    assert_failed(j, JOB_FAILURE_EXIT, "without a result");
    job_release(j);
    /* Printing into the result pipe is a malformed result (the words of
     * the reason depend on how the library tells). */
    j = run_job(ex, fn_stdout_into_result, NULL, 0, NULL);
    assert_failed(j, JOB_FAILURE_PROTOCOL, NULL);
    job_release(j);
    next_job_and_free(ex);
}

/* Development mode with capture: the job runs in the host, and whatever
 * it does to fds 1 and 2 is undone when it returns. */
static void test_redirect_std_dev(void **state)
{
    (void)state;
    struct stat before[2], after[2];
    assert_int_equal(fstat(1, &before[0]), 0);
    assert_int_equal(fstat(2, &before[1]), 0);
    job_executor *ex = fx_make(DEV, 1, NULL);
    assert_non_null(ex);
    job_options o = {.capture_output = JOB_CAPTURE_ON};
    job *j = run_job(ex, fn_redirect_std, NULL, 0, &o);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 1;
    job_stdout(j, &n, NULL);
    assert_int_equal(n, 0);
    job_release(j);
    assert_int_equal(fstat(1, &after[0]), 0);
    assert_int_equal(fstat(2, &after[1]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(before[i].st_dev, after[i].st_dev);
        assert_int_equal(before[i].st_ino, after[i].st_ino);
    }
    next_job_and_free(ex);
}

/* 1 GiB of output, captured with a 1 MiB cap: the host keeps 1 MiB. */
static void test_output_flood(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 1, "max_output_bytes", "1048576",
                               "capture_output", "true", NULL);
    assert_non_null(ex);
    long rss0 = fx_status_kb("VmRSS");
    fx_reset_hwm();
    job *j = run_job(ex, fn_flood_1g, NULL, 0, NULL);
    long hwm = fx_status_kb("VmHWM");
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 0;
    bool t = false;
    const char *out = job_stdout(j, &n, &t);
    assert_non_null(out);
    assert_int_equal(n, 1u << 20);
    assert_true(t);
    assert_true(out[0] == 'o' && out[n - 1] == 'o');
    const char *err = job_stderr(j, &n, &t);
    assert_non_null(err);
    assert_int_equal(n, 1u << 20);
    assert_true(t);
    assert_true(err[0] == 'e' && err[n - 1] == 'e');
    if (m == DEV) {
        /* The job ran in the host: what its writes cost the host, seen
         * from inside (the blocks of the file behind its fd 1). */
        long held = atomic_load(&sh->value);
        fprintf(stderr, "development mode: the host held %ld bytes of stdout\n", held);
        assert_true(held >= 0);
        assert_true(held <= (2L << 20));
    }
    /* The host's peak memory grew by the captures, not by the flood. */
    fprintf(stderr, "RSS %ld kB, peak during the flood %ld kB\n", rss0, hwm);
    assert_true(hwm - rss0 < 64 * 1024);
    job_release(j);
    next_job_and_free(ex);
}

/* ---- results ------------------------------------------------------------ */

static void test_result_256m(void **state)
{
    job_mode m = mode_of(state);
    job_executor *ex = fx_make(m, 1, NULL);
    assert_non_null(ex);
    job *j = run_job(ex, fn_result_256m, NULL, 0, NULL);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    size_t n = 0;
    const unsigned char *r = job_result(j, &n);
    assert_non_null(r);
    assert_int_equal(n, BIG_RESULT);
    for (size_t i = 0; i < n; i += 65521)
        assert_int_equal(r[i], big_byte(i));
    assert_int_equal(r[n - 1], big_byte(n - 1));
    job_release(j);
    next_job_and_free(ex);
}

static void test_bad_frames(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 2, NULL);
    assert_non_null(ex);
    static const char *const why[WF_COUNT] = {
        [WF_GARBAGE] = "bad frame magic",
        [WF_CUT_EXIT] = "malformed",
        [WF_CUT_RETURN] = "malformed",
        [WF_HUGE_LEN] = "larger than the host accepts",
        [WF_BAD_TYPE] = "unknown frame type",
        [WF_RESERVED] = "bad frame header",
        [WF_BAD_PROGRESS] = "bad progress frame",
        [WF_AFTER_DONE] = "malformed",
        [WF_LONG_FAIL] = "failure message too long",
        [WF_RESULT_THEN_GARBAGE] = "bad frame header",
        [WF_HALF_HEADER] = "malformed",
    };
    for (int k = 0; k < WF_COUNT; k++) {
        unsigned char in = (unsigned char)k;
        job *j = NULL;
        assert_int_equal(job_submit(ex, fn_bad_frames, &in, 1, NULL, &j), JOB_OK);
        /* A bounded wait: a host that waits for ever on a broken frame is
         * the failure this looks for. */
        int rc = job_wait(j, 20000);
        if (rc != JOB_OK)
            fprintf(stderr, "broken frame case %d: the job never ended\n", k);
        assert_int_equal(rc, JOB_OK);
        if (job_failure_kind(j) != JOB_FAILURE_PROTOCOL)
            fprintf(stderr, "broken frame case %d\n", k);
        if (fx_extra_key) {
            /* A reused worker gives its jobs a decoy fd 3: what a job writes
             * there cannot reach the stream, and it is reported; a job that
             * exits takes its worker with it. */
            if (k == WF_CUT_EXIT || k == WF_HALF_HEADER)
                assert_failed(j, JOB_FAILURE_EXIT, "without a result");
            else
                assert_failed(j, JOB_FAILURE_PROTOCOL, "straight to fd 3");
        } else {
            assert_failed(j, JOB_FAILURE_PROTOCOL, why[k]);
        }
        job_release(j);
    }
    next_job_and_free(ex);
}

/* ---- memory limit ------------------------------------------------------- */

static void test_memory_limit(void **state)
{
    (void)state;
    struct rlimit host_before, host_after;
    getrlimit(RLIMIT_AS, &host_before);
    job_executor *ex = fx_make(STA, 1, "memory_limit", "268435456", NULL);
    assert_non_null(ex);
    job *j = run_job(ex, fn_hog_once, NULL, 0, NULL);
    bool managed = fx_managed_runtime();
    if (managed) {
        /* A sanitizer's runtime, or valgrind's, has address space of its
         * own: under the limit it may end the process by itself (a
         * signal, its own exit code) when the job allocates, or serve the
         * allocation from space it reserved at start (ThreadSanitizer).
         * The job still ends with a consistent record. */
        assert_true(job_get_status(j) == JOB_COMPLETED ||
                    (job_get_status(j) == JOB_FAILED && job_error_message(j)));
    } else {
        assert_failed(j, JOB_FAILURE_ERROR, "could not allocate 1 GiB");
    }
    job_release(j);
    j = run_job(ex, fn_hog_gradual, NULL, 0, NULL);
    if (managed) {
        assert_true(job_get_status(j) == JOB_COMPLETED ||
                    (job_get_status(j) == JOB_FAILED && job_error_message(j)));
    } else {
        assert_failed(j, JOB_FAILURE_ERROR, "out of memory after");
        assert_true(atomic_load(&sh->value) < 256);
    }
    job_release(j);
    getrlimit(RLIMIT_AS, &host_after);
    assert_int_equal(host_before.rlim_cur, host_after.rlim_cur);
    if (managed) {
        /* Under the limit, even an empty job may not fit such a runtime
         * (a reused worker's task loop allocates): no next job. */
        job_executor_free(ex);
        assert_int_equal(fx_count_fds(), fds_at_start);
        assert_true(fx_no_children());
    } else {
        next_job_and_free(ex);
    }

    /* A limit too small to do anything still ends in a final status with a
     * reason, and the executor goes on. */
    ex = fx_make(STA, 1, "memory_limit", "4096", NULL);
    assert_non_null(ex);
    j = run_job(ex, fn_hog_gradual, NULL, 0, NULL);
    if (managed)
        assert_true(job_get_status(j) == JOB_COMPLETED ||
                    job_get_status(j) == JOB_FAILED);
    else
        assert_int_equal(job_get_status(j), JOB_FAILED);
    if (job_get_status(j) == JOB_FAILED)
        assert_non_null(job_error_message(j));
    job_release(j);
    job_executor_free(ex);
    assert_int_equal(fx_count_fds(), fds_at_start);
    assert_true(fx_no_children());

    /* Development mode: memory_limit does not apply, and the host's own
     * limit is never touched. */
    ex = fx_make(DEV, 1, "memory_limit", "268435456", NULL);
    assert_non_null(ex);
    j = run_job(ex, fn_echo, "x", 1, NULL);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    job_release(j);
    getrlimit(RLIMIT_AS, &host_after);
    assert_int_equal(host_before.rlim_cur, host_after.rlim_cur);
    next_job_and_free(ex);
}

/* ---- working directory and environment ---------------------------------- */

static void test_chdir_setenv(void **state)
{
    (void)state;
    setenv("JX_FAULT_KEEP", "1", 1);
    unsetenv("JX_FAULT_POLLUTED");
    struct proc_view host;
    view_self(&host);
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    for (int round = 0; round < 3; round++) {
        job *p = run_job(ex, fn_pollute, NULL, 0, NULL);
        assert_int_equal(job_get_status(p), JOB_COMPLETED);
        job_release(p);
        job *q = run_job(ex, fn_inspect, NULL, 0, NULL);
        assert_int_equal(job_get_status(q), JOB_COMPLETED);
        size_t n = 0;
        const struct proc_view *v = job_result(q, &n);
        assert_int_equal(n, sizeof(*v));
        /* The next job starts as the host is. */
        assert_string_equal(v->cwd, host.cwd);
        assert_false(v->polluted);
        assert_true(v->keep);
        assert_int_equal(v->umask, host.umask);
        assert_false(v->usr1_ignored);
        assert_false(v->usr2_blocked);
        job_release(q);
    }
    /* And the host is as it was. */
    struct proc_view now;
    view_self(&now);
    assert_memory_equal(&now, &host, sizeof(now));
    unsetenv("JX_FAULT_KEEP");
    next_job_and_free(ex);
}

/* What else a process carries from one job to the next: its fds (a job
 * that closes stdout, or leaves files open), its resource limits and its
 * priority. */
struct more_view {
    int nfds;
    long fd1_ino, fd2_ino; /* -1 when closed */
    unsigned long nofile;
    int nice;
};

static long ino_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (long)st.st_ino : -1;
}

static int fn_pollute_more(job_ctx *ctx, const void *in, size_t len)
{
    (void)ctx;
    (void)in;
    (void)len;
    close(1);
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0 && fd != 2)
        dup2(fd, 2);
    for (int i = 0; i < 3; i++)
        if (open("/dev/null", O_RDONLY) < 0)
            return 5;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 64;
    setrlimit(RLIMIT_NOFILE, &rl);
    errno = 0;
    if (nice(5) == -1 && errno)
        return 6;
    return 0;
}

static int fn_inspect_more(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    struct more_view v;
    memset(&v, 0, sizeof(v));
    v.nfds = fx_count_fds();
    v.fd1_ino = ino_of(1);
    v.fd2_ino = ino_of(2);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    v.nofile = (unsigned long)rl.rlim_cur;
    errno = 0;
    v.nice = nice(0);
    return job_set_result(ctx, &v, sizeof(v)) == JOB_OK ? 0 : 1;
}

static void test_pollution_fds_limits(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    job *j = run_job(ex, fn_inspect_more, NULL, 0, NULL);
    assert_int_equal(job_get_status(j), JOB_COMPLETED);
    struct more_view before;
    memcpy(&before, job_result(j, NULL), sizeof(before));
    job_release(j);
    assert_int_equal(before.fd1_ino, ino_of(1));
    assert_int_equal(before.fd2_ino, ino_of(2));
    for (int round = 0; round < 2; round++) {
        j = run_job(ex, fn_pollute_more, NULL, 0, NULL);
        assert_int_equal(job_get_status(j), JOB_COMPLETED);
        job_release(j);
        j = run_job(ex, fn_inspect_more, NULL, 0, NULL);
        assert_int_equal(job_get_status(j), JOB_COMPLETED);
        size_t n = 0;
        const struct more_view *v = job_result(j, &n);
        assert_int_equal(n, sizeof(*v));
        if (memcmp(v, &before, sizeof(*v)) != 0)
            fprintf(stderr, "the next job saw: %d fds (was %d), fd 1 %ld (was %ld), "
                    "fd 2 %ld (was %ld), RLIMIT_NOFILE %lu (was %lu), nice %d (was %d)\n",
                    v->nfds, before.nfds, v->fd1_ino, before.fd1_ino, v->fd2_ino,
                    before.fd2_ino, v->nofile, before.nofile, v->nice, before.nice);
        assert_memory_equal(v, &before, sizeof(*v));
        job_release(j);
    }
    next_job_and_free(ex);
}

/* ---- what a job process inherits ------------------------------------------ */

/* Counts the anonymous shared mappings of the job's process other than
 * the test's own: memory shared with the library's helper processes (the
 * keeper's table of process groups) must not reach job code, which could
 * scribble on it. */
static int fn_shared_maps(job_ctx *ctx, const void *in, size_t len)
{
    (void)in;
    (void)len;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 5;
    char line[512];
    int others = 0;
    uintptr_t mine = (uintptr_t)sh;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
            continue;
        if (perms[3] != 's' || !strstr(line, "/dev/zero"))
            continue;
        if (mine >= lo && mine < hi)
            continue;
        others++;
    }
    fclose(f);
    return job_set_result(ctx, &others, sizeof(others)) == JOB_OK ? 0 : 1;
}

static void test_no_shared_memory_in_jobs(void **state)
{
    (void)state;
    job_executor *ex = fx_make(STA, 1, NULL);
    assert_non_null(ex);
    /* The keeper runs from the first job on. */
    for (int i = 0; i < 2; i++) {
        job *j = run_job(ex, fn_shared_maps, NULL, 0, NULL);
        assert_int_equal(job_get_status(j), JOB_COMPLETED);
        size_t n = 0;
        const int *others = job_result(j, &n);
        assert_int_equal(n, sizeof(int));
        assert_int_equal(*others, 0);
        job_release(j);
    }
    next_job_and_free(ex);
}

/* ---- main --------------------------------------------------------------- */

#define STA_ONLY(f) cmocka_unit_test_setup(f, setup)
#define REUSE(f) {#f " [reused workers]", f, setup_reuse, NULL, NULL}
#define BOTH(f)                                                                \
    cmocka_unit_test_prestate_setup_teardown(f, setup, NULL, (void *)&DEV),    \
        cmocka_unit_test_prestate_setup_teardown(f, setup, NULL, (void *)&STA)

int main(void)
{
    sh = fx_shared(sizeof(*sh));
    if (!sh || !fx_watchers_init(&sh->w))
        return 2;
    /* JX_FAULTS_NO_PIDFD=1: the whole run without pidfds, as on kernels
     * before 5.3 and under valgrind, so that the library's fallback runs. */
    const char *nopidfd = getenv("JX_FAULTS_NO_PIDFD");
    if (nopidfd && *nopidfd == '1' && !fx_disable_pidfd()) {
        fprintf(stderr, "cannot turn pidfd_open off here\n");
        return 2;
    }
    const struct CMUnitTest tests[] = {
        REUSE(test_grandchildren),
        REUSE(test_bad_frames),
        REUSE(test_pollution_fds_limits),
        STA_ONLY(test_segfault),
        STA_ONLY(test_abort),
        STA_ONLY(test_exit_without_result),
        STA_ONLY(test_sigkill_from_outside),
        STA_ONLY(test_infinite_loop_timeout),
        STA_ONLY(test_ignore_sigterm),
        STA_ONLY(test_block_all_signals),
        BOTH(test_command_faults),
        STA_ONLY(test_grandchildren),
        BOTH(test_command_grandchildren),
        STA_ONLY(test_setsid_escape),
        STA_ONLY(test_close_redirect_std),
        STA_ONLY(test_redirect_std_dev),
        BOTH(test_output_flood),
        BOTH(test_result_256m),
        STA_ONLY(test_bad_frames),
        STA_ONLY(test_memory_limit),
        STA_ONLY(test_chdir_setenv),
        STA_ONLY(test_pollution_fds_limits),
        STA_ONLY(test_no_shared_memory_in_jobs),
        REUSE(test_segfault),
        REUSE(test_abort),
        REUSE(test_exit_without_result),
        REUSE(test_sigkill_from_outside),
        REUSE(test_infinite_loop_timeout),
        REUSE(test_ignore_sigterm),
        REUSE(test_block_all_signals),
        REUSE(test_setsid_escape),
        REUSE(test_close_redirect_std),
        REUSE(test_result_256m),
        REUSE(test_memory_limit),
        REUSE(test_chdir_setenv),
        REUSE(test_no_shared_memory_in_jobs),
    };
    if (getenv("JX_TEST_FILTER"))
        cmocka_set_test_filter(getenv("JX_TEST_FILTER"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fx_watchers_fini(&sh->w);
    return rc;
}
