/* ctx.c - what a job function can do through its context: set its result,
 * fail, report progress.  Inline jobs write their record directly; jobs in
 * a child process send frames to the host. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "wire.h"

int job_set_result(job_ctx *ctx, const void *data, size_t len)
{
    if (!ctx || (!data && len))
        return JOB_EINVAL;
    if (ctx->kind == JX_CTX_CHILD) {
        if (jx_wire_send(ctx->fd, JX_FRAME_RESULT, data, len) != 0) {
            ctx->io_error = 1;
            return JOB_ESYS;
        }
        return JOB_OK;
    }
    void *copy = NULL;
    if (len) {
        copy = jx_malloc(len);
        if (!copy)
            return JOB_ENOMEM;
        memcpy(copy, data, len);
    }
    job *j = ctx->j;
    jx_free(j->result);
    j->result = copy;
    j->result_len = len;
    return JOB_OK;
}

int job_fail(job_ctx *ctx, const char *fmt, ...)
{
    if (!ctx || !fmt)
        return JOB_EINVAL;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ctx->failed = true;
    if (ctx->kind == JX_CTX_CHILD) {
        if (jx_wire_send(ctx->fd, JX_FRAME_FAIL, buf, strlen(buf)) != 0)
            ctx->io_error = 1;
        return JOB_OK;
    }
    jx_free(ctx->failmsg);
    ctx->failmsg = jx_strdup(buf);
    return JOB_OK;
}

int job_report_progress(job_ctx *ctx, uint64_t done, uint64_t total)
{
    if (!ctx)
        return JOB_EINVAL;
    if (ctx->kind == JX_CTX_CHILD) {
        unsigned char p[16];
        jx_wire_put_u64(p, done);
        jx_wire_put_u64(p + 8, total);
        if (jx_wire_send(ctx->fd, JX_FRAME_PROGRESS, p, sizeof(p)) != 0) {
            ctx->io_error = 1;
            return JOB_ESYS;
        }
        return JOB_OK;
    }
    job *j = ctx->j;
    pthread_mutex_lock(&j->ex->mu);
    j->prog_done = done;
    j->prog_total = total;
    pthread_mutex_unlock(&j->ex->mu);
    return JOB_OK;
}

bool job_ctx_canceled(const job_ctx *ctx)
{
    if (!ctx || ctx->kind == JX_CTX_CHILD)
        return false;
    job *j = ctx->j;
    pthread_mutex_lock(&j->ex->mu);
    bool c = (j->flags & JX_JOB_CANCEL) != 0;
    pthread_mutex_unlock(&j->ex->mu);
    return c;
}

uint64_t job_ctx_id(const job_ctx *ctx)
{
    return ctx ? ctx->j->id : 0;
}

const char *job_ctx_label(const job_ctx *ctx)
{
    return ctx ? ctx->j->label : NULL;
}
