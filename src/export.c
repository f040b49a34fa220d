/* export.c - writes the resolved config as a [JOB] section in Taipy's
 * typed style, to memory or atomically to a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"

int job_config_export(const job_config *cfg, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!cfg || !out)
        return JOB_EINVAL;
    /* Every line is short and bounded: key names and formatted numbers. */
    char text[128 * (JX_KEY_COUNT + 1)];
    size_t n = (size_t)snprintf(text, sizeof(text), "[JOB]\n");
    for (int k = 0; k < JX_KEY_COUNT; k++) {
        if (jx_keys[k].optional && !jx_config_origin(cfg, k))
            continue;
        char value[96];
        jx_key_format(k, jx_config_get(cfg, k), value, sizeof(value));
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = \"%s\"\n",
                              jx_keys[k].name, value);
    }
    /* The caller frees with free(), so allocate through jx_malloc, whose
     * memory comes from malloc. */
    char *s = jx_malloc(n + 1);
    if (!s)
        return JOB_ENOMEM;
    memcpy(s, text, n + 1);
    *out = s;
    if (len)
        *len = n;
    return JOB_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int job_config_export_file(const job_config *cfg, const char *path)
{
    static atomic_uint counter;
    if (!cfg || !path || !*path)
        return JOB_EINVAL;
    char *text;
    size_t len;
    int rc = job_config_export(cfg, &text, &len);
    if (rc != JOB_OK)
        return rc;
    /* The temporary file sits beside the target so that rename() replaces
     * it in one step; O_EXCL with the mode 0666 lets the umask decide the
     * permissions, as for any file the host creates. */
    size_t tmpsize = strlen(path) + 48;
    char *tmp = jx_malloc(tmpsize);
    if (!tmp) {
        jx_free(text);
        return JOB_ENOMEM;
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, tmpsize, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    rc = JOB_EIO;
    if (fd >= 0) {
        bool ok = write_all(fd, text, len) == 0 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp, path) == 0)
            rc = JOB_OK;
        else
            unlink(tmp);
    }
    jx_free(tmp);
    jx_free(text);
    return rc;
}
