/* error.c - error codes and names. */
#include "internal.h"

static const struct {
    int code;
    const char *name;
    const char *text;
} errors[] = {
    {JOB_OK, "JOB_OK", "success"},
    {JOB_EINVAL, "JOB_EINVAL", "invalid argument"},
    {JOB_ENOMEM, "JOB_ENOMEM", "out of memory"},
    {JOB_EIO, "JOB_EIO", "input/output error: a file could not be read or written"},
    {JOB_ECONFIG, "JOB_ECONFIG", "the configuration has errors"},
    {JOB_ESTOPPED, "JOB_ESTOPPED", "the executor is stopped"},
    {JOB_EFINISHED, "JOB_EFINISHED", "the job has already finished"},
    {JOB_ETIMEDOUT, "JOB_ETIMEDOUT", "timed out"},
    {JOB_ENOTFOUND, "JOB_ENOTFOUND", "no function is registered under that name"},
    {JOB_EEXIST, "JOB_EEXIST", "a function is already registered under that name"},
    {JOB_ESYS, "JOB_ESYS", "a system call failed"},
    {JOB_EBUSY, "JOB_EBUSY", "not allowed from a callback or a job"},
    {JOB_EFORKED, "JOB_EFORKED", "the executor belongs to the parent process"},
    {JOB_ECYCLE, "JOB_ECYCLE", "the job prerequisites form a cycle"},
};

const char *job_strerror(int err)
{
    for (size_t i = 0; i < JX_ARRAY_SIZE(errors); i++)
        if (errors[i].code == err)
            return errors[i].text;
    return "unknown error";
}

const char *job_err_name(int err)
{
    for (size_t i = 0; i < JX_ARRAY_SIZE(errors); i++)
        if (errors[i].code == err)
            return errors[i].name;
    return "JOB_E?";
}

const char *job_version(void)
{
    return JOBEXEC_VERSION_STRING;
}
