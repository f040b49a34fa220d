/* inline.c - development mode: the job runs in the caller's thread, with
 * the same statuses, record and callbacks as in standalone mode. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"

/*
 * Capturing the output of an inline job means pointing the process's fds 1
 * and 2 at memory files for the time the job runs.  That is process-wide,
 * so captured inline jobs take turns, and what other threads print
 * meanwhile is captured too (documented in the README).
 */
static pthread_mutex_t capture_mu = PTHREAD_MUTEX_INITIALIZER;

struct capture {
    int saved[2];
    int mem[2];
    bool sized[2];    /* the file was sized to cap + one page */
    bool had_error[2]; /* ferror() of stdout/stderr before the job */
};

/* A memory file grows with what is written to it, so a job that prints
 * gigabytes would cost the host gigabytes.  It is therefore sized to the
 * cap plus one page (pages cost memory only once written) and sealed
 * against growth: writes past the end fail with EPERM, and a file
 * position past the cap shows that output was cut.  Returns whether the
 * file was sized (its length is then its position, not its size). */
#define JX_CAPTURE_SLACK 4096

static bool cap_file(int fd, uint64_t cap)
{
    if (cap > (uint64_t)INT64_MAX / 2 ||
        ftruncate(fd, (off_t)(cap + JX_CAPTURE_SLACK)) < 0)
        return false;
    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK);
    return true;
}

static bool capture_begin(struct capture *c, uint64_t cap)
{
    c->saved[0] = c->saved[1] = c->mem[0] = c->mem[1] = -1;
    pthread_mutex_lock(&capture_mu);
    fflush(stdout);
    fflush(stderr);
    c->had_error[0] = ferror(stdout) != 0;
    c->had_error[1] = ferror(stderr) != 0;
    for (int i = 0; i < 2; i++) {
        c->mem[i] = memfd_create(i ? "jobexec-stderr" : "jobexec-stdout",
                                 MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (c->mem[i] < 0)
            goto undo;
        c->sized[i] = cap_file(c->mem[i], cap);
        c->saved[i] = fcntl(1 + i, F_DUPFD_CLOEXEC, 3);
        if (c->saved[i] < 0 || dup2(c->mem[i], 1 + i) < 0)
            goto undo;
    }
    return true;
undo:;
    /* F_DUPFD says EINVAL when 3 is past the fd limit: out of fds. */
    int e = errno == EINVAL ? EMFILE : errno;
    for (int i = 0; i < 2; i++) {
        if (c->saved[i] >= 0) {
            dup2(c->saved[i], 1 + i);
            close(c->saved[i]);
        }
        if (c->mem[i] >= 0)
            close(c->mem[i]);
    }
    pthread_mutex_unlock(&capture_mu);
    errno = e;
    return false;
}

/* Reads up to `cap` bytes of a memory file into a new buffer.  In a sized
 * file, what was written ends at the file position (shared with the fd the
 * job wrote to). */
static void collect(int fd, bool sized, uint64_t cap, char **out, size_t *len,
                    bool *trunc)
{
    *out = NULL;
    *len = 0;
    *trunc = false;
    off_t size = lseek(fd, 0, sized ? SEEK_CUR : SEEK_END);
    if (size <= 0)
        return;
    uint64_t want = (uint64_t)size;
    if (want > cap) {
        want = cap;
        *trunc = true;
    }
    char *buf = jx_malloc((size_t)want + 1);
    if (!buf)
        return;
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(fd, buf + got, (size_t)want - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
}

static void capture_end(struct capture *c, job *j, uint64_t cap)
{
    /* What stdio could not write past the cap is dropped here, not
     * written later to the host's own stdout; the error it caused is the
     * job's, not the host's. */
    FILE *f[2] = {stdout, stderr};
    for (int i = 0; i < 2; i++) {
        if (fflush(f[i]) != 0)
            __fpurge(f[i]);
        if (!c->had_error[i])
            clearerr(f[i]);
    }
    for (int i = 0; i < 2; i++) {
        dup2(c->saved[i], 1 + i);
        close(c->saved[i]);
    }
    pthread_mutex_unlock(&capture_mu);
    collect(c->mem[0], c->sized[0], cap, &j->out, &j->out_len, &j->out_trunc);
    collect(c->mem[1], c->sized[1], cap, &j->err, &j->err_len, &j->err_trunc);
    close(c->mem[0]);
    close(c->mem[1]);
}

void jx_inline_drain(job_executor *ex)
{
    for (;;) {
        pthread_mutex_lock(&ex->mu);
        job *j = ex->ready_head;
        if (j) {
            ex->ready_head = j->next;
            if (!ex->ready_head)
                ex->ready_tail = NULL;
            j->next = NULL;
        }
        pthread_mutex_unlock(&ex->mu);
        if (!j)
            return;
        jx_inline_run(j);
    }
}

void jx_inline_run(job *j)
{
    job_executor *ex = j->ex;
    /* Listed while it runs, so that job_executor_stop can cancel it. */
    pthread_mutex_lock(&ex->mu);
    j->flags |= JX_JOB_INLINE;
    j->next = ex->inline_head;
    if (ex->inline_head)
        ex->inline_head->prev = j;
    ex->inline_head = j;
    if (ex->cancel_all)
        j->flags |= JX_JOB_CANCEL;
    pthread_mutex_unlock(&ex->mu);
    pthread_mutex_lock(&ex->mu);
    jx_job_set_status_locked(j, JOB_PENDING);
    pthread_mutex_unlock(&ex->mu);
    jx_job_notify(j, JOB_PENDING);

    pthread_mutex_lock(&ex->mu);
    bool canceled = (j->flags & JX_JOB_CANCEL) != 0;
    if (!canceled && j->is_cmd) {
        pthread_mutex_unlock(&ex->mu);
        jx_dispatch_inline(j);
        return;
    }
    if (!canceled) {
        jx_job_set_status_locked(j, JOB_RUNNING);
        ex->n_running++;
    }
    pthread_mutex_unlock(&ex->mu);
    if (canceled) {
        jx_job_set_error(j, JOB_FAILURE_CANCELED, "canceled before it ran");
        jx_job_finish(j, JOB_CANCELED);
        return;
    }
    jx_job_notify(j, JOB_RUNNING);

    struct job_ctx ctx = {.kind = JX_CTX_INLINE, .j = j, .fd = -1};
    struct capture cap;
    if (j->capture && !capture_begin(&cap, ex->set.max_output)) {
        /* As in standalone mode, where the pipes could not be made: the
         * job does not run with its output going where it was not asked
         * to go. */
        jx_job_set_error(j, JOB_FAILURE_START,
                         "could not capture the job's output: %s", strerror(errno));
        jx_job_finish(j, JOB_FAILED);
        return;
    }
    bool capturing = j->capture;
    jx_set_in_job(true);
    int rc = j->fn(&ctx, j->input, j->input_len);
    jx_set_in_job(false);
    if (capturing)
        capture_end(&cap, j, ex->set.max_output);

    pthread_mutex_lock(&ex->mu);
    canceled = (j->flags & JX_JOB_CANCEL) != 0;
    pthread_mutex_unlock(&ex->mu);
    job_status final = JOB_COMPLETED;
    if (canceled) {
        jx_job_set_error(j, JOB_FAILURE_CANCELED,
                         "canceled while running; the function returned %d", rc);
        final = JOB_CANCELED;
    } else if (ctx.failed) {
        jx_job_set_error(j, JOB_FAILURE_ERROR, "%s",
                         ctx.failmsg ? ctx.failmsg : "the job failed");
        final = JOB_FAILED;
    } else if (rc != 0) {
        jx_job_set_error(j, JOB_FAILURE_ERROR,
                         "the job function returned %d", rc);
        final = JOB_FAILED;
    }
    jx_free(ctx.failmsg);
    jx_job_finish(j, final);
}
