/* loader.c - reads the [JOB] section of TOML files into config layers,
 * through inih with a reader that cleans each line first. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config_internal.h"

/*
 * inih, as distributions build it, cuts lines at 200 bytes, joins indented
 * lines to the previous value, keeps quotes and '#' comments in values and
 * never tells the handler the line number.  Its options are globals that
 * belong to the host, so rather than set them, the reader hands inih lines
 * it cannot misread: "[NAME]" headers and "name=\1" pairs, without
 * indentation or comments.  The real key and value of the line being
 * parsed stay here, in the loader, and the handler takes them from it.
 */
#define VALUE_TOKEN "\x01"   /* stands for the value of the current line */
#define NAME_TOKEN "\x02"    /* stands for a key inih might misread */
#define SECTION_TOKEN "\x01" /* a section that is not [JOB] */
#define SIMPLE_NAME_MAX 40   /* longer names go as tokens */
#define KEY_NAME_MAX 32      /* longer than any known key */

typedef enum line_kind { LINE_NONE, LINE_SECTION, LINE_KEY } line_kind;

typedef struct loader {
    const char *name; /* the file name used in issues */
    const char *text;
    size_t len;
    size_t pos;
    unsigned lineno; /* the physical line last handed to inih */

    char *buf; /* the current line, cleaned */
    size_t cap;
    line_kind kind;
    const char *key; /* into buf, for LINE_KEY */
    const char *value;

    bool in_job;
    unsigned job_line; /* the first [JOB] header, 0 before it */
    bool short_buffer_reported;

    jx_layer *layer;
    unsigned seen_line[JX_KEY_COUNT];
    char seen_name[JX_KEY_COUNT][KEY_NAME_MAX];

    bool errors;
    int rc; /* JOB_ENOMEM once memory ran out */
} loader;

static void note(loader *ld, job_issue_level level, const char *key,
                 const char *value, const char *fmt, ...) JOB_PRINTF(5, 6);

/* Records an issue at the current line. */
static void note(loader *ld, job_issue_level level, const char *key,
                 const char *value, const char *fmt, ...)
{
    char msg[JX_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level == JOB_ISSUE_ERROR)
        ld->errors = true;
    if (ld->rc == JOB_OK &&
        jx_issues_add(ld->layer->notes, level, ld->name, ld->lineno, key,
                      value, "%s", msg) != JOB_OK)
        ld->rc = JOB_ENOMEM;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Names inih takes as they are: nothing it could split or strip. */
static bool simple_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isalnum((unsigned char)s[n]) && !strchr("_-.", s[n]))
            return false;
    return n > 0 && n <= SIMPLE_NAME_MAX;
}

/* A TOML key as a table name: bare or quoted parts joined by dots. */
static bool toml_key(const char *s)
{
    for (;;) {
        while (is_blank(*s))
            s++;
        if (*s == '"' || *s == '\'') {
            const char *close = strchr(s + 1, *s);
            if (!close)
                return false;
            s = close + 1;
        } else {
            size_t n = 0;
            while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-')
                n++;
            if (n == 0)
                return false;
            s += n;
        }
        while (is_blank(*s))
            s++;
        if (*s == '\0')
            return true;
        if (*s++ != '.')
            return false;
    }
}

/* Copies a physical line into ld->buf without BOM, CR, indentation,
 * trailing blanks and comments ('#' or ';' outside quotes).  Returns
 * JOB_OK, JOB_ENOMEM, or JOB_EINVAL for a line holding a NUL byte. */
static int clean_line(loader *ld, const char *p, size_t n)
{
    if (n + 1 > ld->cap) {
        size_t cap = n + 1 < 256 ? 256 : n + 1;
        char *b = jx_realloc(ld->buf, cap);
        if (!b)
            return JOB_ENOMEM;
        ld->buf = b;
        ld->cap = cap;
    }
    if (ld->lineno == 1 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
        p += 3;
        n -= 3;
    }
    if (n && p[n - 1] == '\r')
        n--;
    ld->buf[0] = '\0';
    if (memchr(p, '\0', n))
        return JOB_EINVAL;
    while (n && is_blank(*p)) {
        p++;
        n--;
    }
    char quote = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (quote) {
            if (c == '\\' && quote == '"' && i + 1 < n) {
                ld->buf[k++] = c;
                c = p[++i];
            } else if (c == quote) {
                quote = 0;
            }
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '#' || c == ';') {
            break;
        }
        ld->buf[k++] = c;
    }
    while (k && is_blank(ld->buf[k - 1]))
        k--;
    ld->buf[k] = '\0';
    return JOB_OK;
}

/* Short form of the current line for messages. */
#define LINE_FMT "\"%.60s%s\""
#define LINE_ARGS(s) (s), (strlen(s) > 60 ? "..." : "")

/* A section header: sets the section and returns the line for inih. */
static const char *section_line(loader *ld, char *out, size_t size)
{
    char *s = ld->buf;
    size_t n = strlen(s);
    bool array = n >= 2 && s[1] == '[';
    size_t open = array ? 2 : 1;
    bool valid = n >= 2 * open + 1 &&
                 !strncmp(s + n - open, array ? "]]" : "]", open);
    char *name = s + open;
    if (valid) {
        s[n - open] = '\0';
        valid = toml_key(name);
        if (valid) {
            while (is_blank(*name))
                name++;
            size_t l = strlen(name);
            while (l && is_blank(name[l - 1]))
                name[--l] = '\0';
        } else {
            s[n - open] = ']'; /* the message shows the line as written */
        }
    }
    if (!valid) {
        const char *first = s + open;
        while (is_blank(*first))
            first++;
        /* Outside [JOB], a line such as "[1, 2]," continues a multi-line
         * array of the host's; only a line that looks like a header is
         * reported there. */
        if (ld->in_job || isalpha((unsigned char)*first) || *first == '_' ||
            *first == '"' || *first == '\'')
            note(ld, JOB_ISSUE_ERROR, NULL, NULL,
                 "malformed section header " LINE_FMT ": expected [NAME]",
                 LINE_ARGS(s));
        ld->in_job = false;
        snprintf(out, size, "[" SECTION_TOKEN "]\n");
        return out;
    }
    ld->in_job = !array && !strcmp(name, "JOB");
    if (ld->in_job) {
        if (ld->job_line)
            note(ld, JOB_ISSUE_WARNING, NULL, NULL,
                 "section [JOB] appears again (first on line %u); its keys "
                 "are read as one section",
                 ld->job_line);
        else
            ld->job_line = ld->lineno;
        snprintf(out, size, "[JOB]\n");
    } else {
        if (!array && !strcasecmp(name, "JOB"))
            note(ld, JOB_ISSUE_WARNING, NULL, NULL,
                 "section [%s] is ignored: section names are case-sensitive; "
                 "did you mean [JOB]?",
                 name);
        if (!array && simple_name(name))
            snprintf(out, size, "[%s]\n", name);
        else
            snprintf(out, size, "[" SECTION_TOKEN "]\n");
    }
    return out;
}

/* A "key = value" line: keeps both and returns the line for inih. */
static const char *key_line(loader *ld, char *out, size_t size)
{
    char *s = ld->buf;
    char *eq;
    if (*s == '"' || *s == '\'') {
        /* A quoted key may hold '='. */
        char *close = strchr(s + 1, *s);
        eq = close ? strchr(close + 1, '=') : NULL;
    } else {
        eq = strchr(s, '=');
    }
    if (!eq) {
        if (ld->in_job)
            note(ld, JOB_ISSUE_ERROR, NULL, NULL,
                 "malformed line " LINE_FMT ": expected key = value",
                 LINE_ARGS(s));
        return "\n";
    }
    char *value = eq + 1;
    while (is_blank(*value))
        value++;
    char *end = eq;
    while (end > s && is_blank(end[-1]))
        end--;
    *end = '\0';
    if (ld->in_job && !*s) {
        note(ld, JOB_ISSUE_ERROR, NULL, NULL,
             "malformed line: the key before '=' is missing");
        return "\n";
    }
    if (ld->in_job && !*value) {
        note(ld, JOB_ISSUE_ERROR, s, NULL, "missing value after '='");
        return "\n";
    }
    ld->key = s;
    ld->value = value;
    ld->kind = LINE_KEY;
    snprintf(out, size, "%s=" VALUE_TOKEN "\n",
             simple_name(s) ? s : NAME_TOKEN);
    return out;
}

static char *reader(char *str, int num, void *stream)
{
    loader *ld = stream;
    if (ld->rc != JOB_OK || ld->pos >= ld->len || num < 2)
        return NULL;
    const char *p = ld->text + ld->pos;
    size_t rest = ld->len - ld->pos;
    const char *nl = memchr(p, '\n', rest);
    size_t n = nl ? (size_t)(nl - p) : rest;
    ld->pos += nl ? n + 1 : n;
    ld->lineno++;
    ld->kind = LINE_NONE;

    char line[SIMPLE_NAME_MAX + 8];
    const char *hand = "\n";
    int rc = clean_line(ld, p, n);
    if (rc == JOB_ENOMEM) {
        ld->rc = rc;
        return NULL;
    }
    if (rc == JOB_EINVAL) {
        note(ld, JOB_ISSUE_ERROR, NULL, NULL,
             "the line holds a NUL byte; a config file is text");
    } else if (ld->buf[0] == '[') {
        hand = section_line(ld, line, sizeof(line));
        ld->kind = LINE_SECTION;
    } else if (ld->buf[0]) {
        hand = key_line(ld, line, sizeof(line));
    }
    size_t hn = strlen(hand);
    if (hn + 1 > (size_t)num) {
        /* The host shrank inih's line buffer below what a header needs. */
        if (!ld->short_buffer_reported)
            note(ld, JOB_ISSUE_ERROR, NULL, NULL,
                 "inih's line buffer (%d bytes) is too small to parse this "
                 "file",
                 num);
        ld->short_buffer_reported = true;
        ld->kind = LINE_NONE;
        hand = "\n";
        hn = 1;
    }
    memcpy(str, hand, hn + 1);
    return str;
}

static void job_key(loader *ld, const char *key, const char *value)
{
    int k = jx_key_lookup(key);
    if (k < 0) {
        const char *sug = jx_key_suggest(key);
        if (sug) {
            note(ld, JOB_ISSUE_WARNING, key, value,
                 "unknown key in [JOB], ignored; did you mean %s?", sug);
        } else {
            char known[256];
            size_t len = 0;
            for (int i = 0; i < JX_KEY_COUNT && len < sizeof(known); i++)
                len += (size_t)snprintf(known + len, sizeof(known) - len,
                                        "%s%s", i ? ", " : "", jx_keys[i].name);
            note(ld, JOB_ISSUE_WARNING, key, value,
                 "unknown key in [JOB], ignored (known keys: %s)", known);
        }
        return;
    }
    if (ld->seen_line[k]) {
        if (strcmp(ld->seen_name[k], key))
            note(ld, JOB_ISSUE_WARNING, key, value,
                 "%s and %s are the same setting and both are set (the other "
                 "on line %u); the last one is used",
                 key, ld->seen_name[k], ld->seen_line[k]);
        else
            note(ld, JOB_ISSUE_WARNING, key, value,
                 "duplicate key (first set on line %u); the last one is used",
                 ld->seen_line[k]);
    }
    ld->seen_line[k] = ld->lineno;
    snprintf(ld->seen_name[k], sizeof(ld->seen_name[k]), "%s", key);

    char msg[JX_MSG_MAX];
    int64_t v;
    int rc = jx_key_parse(k, value, &v, msg, sizeof(msg));
    if (rc == JOB_ENOMEM) {
        ld->rc = rc;
    } else if (rc != JOB_OK) {
        note(ld, JOB_ISSUE_ERROR, key, value, "%s", msg);
    } else {
        ld->layer->set[k] = true;
        ld->layer->val[k] = v;
        ld->layer->line[k] = ld->lineno;
    }
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
    loader *ld = user;
    (void)name;
    (void)value;
    /* Only lines the reader handed as keys carry a key; take it once. */
    if (ld->kind != LINE_KEY)
        return 1;
    ld->kind = LINE_NONE;
    if (ld->rc == JOB_OK && !strcmp(section, "JOB"))
        job_key(ld, ld->key, ld->value);
    return 1;
}

/* Parses text into *layer (initialised empty), recording issues in the
 * layer's notes.  Returns JOB_OK, JOB_ECONFIG or JOB_ENOMEM. */
static int parse_text(const char *text, size_t len, const char *name,
                      jx_layer *layer)
{
    if (!(layer->notes = jx_issues_new()) || !(layer->file = jx_strdup(name)))
        return JOB_ENOMEM;
    loader ld;
    memset(&ld, 0, sizeof(ld));
    ld.name = name;
    ld.text = text;
    ld.len = len;
    ld.layer = layer;
    int r = ini_parse_stream(reader, &ld, handler, &ld);
    jx_free(ld.buf);
    if (ld.rc != JOB_OK || r == -2)
        return JOB_ENOMEM;
    if (r > 0 && !jx_issues_has_line(layer->notes, name, (unsigned)r)) {
        /* inih refused a line the reader let through. */
        ld.errors = true;
        if (jx_issues_add(layer->notes, JOB_ISSUE_ERROR, name, (unsigned)r,
                          NULL, NULL, "malformed line") != JOB_OK)
            return JOB_ENOMEM;
    }
    return ld.errors ? JOB_ECONFIG : JOB_OK;
}

/* Reads a whole file.  Returns 0 or an errno value. */
static int read_file(const char *path, char **out, size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return EISDIR;
    }
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1
                                                        : 4096;
    size_t len = 0;
    char *buf = jx_malloc(cap);
    int err = 0;
    while (buf) {
        if (len == cap) {
            char *b = cap > SIZE_MAX / 2 ? NULL : jx_realloc(buf, cap * 2);
            if (!b) {
                jx_free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = errno;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (!buf)
        return ENOMEM;
    if (err) {
        jx_free(buf);
        return err;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

/* Loads a file into *layer; an unreadable file is an issue in `all`. */
static int parse_file(const char *path, jx_layer *layer, job_issues *all)
{
    char *text = NULL;
    size_t len = 0;
    int err = read_file(path, &text, &len);
    if (err == ENOMEM)
        return JOB_ENOMEM;
    if (err) {
        char ebuf[128];
        const char *why = strerror_r(err, ebuf, sizeof(ebuf));
        return jx_issues_add(all, JOB_ISSUE_ERROR, path, 0, NULL, NULL,
                             "cannot read the file: %s", why) == JOB_OK
                   ? JOB_EIO
                   : JOB_ENOMEM;
    }
    int rc = parse_text(text, len, path, layer);
    jx_free(text);
    return rc;
}

/* The worse of two results: memory, then files, then config errors. */
static int worse(int a, int b)
{
    static const int order[] = {JOB_ENOMEM, JOB_EIO, JOB_ECONFIG};
    for (size_t i = 0; i < JX_ARRAY_SIZE(order); i++)
        if (a == order[i] || b == order[i])
            return order[i];
    return a != JOB_OK ? a : b;
}

/*
 * Loads the file layer (from path, or from text when path is NULL, or not
 * at all when neither is given) and the JOBEXEC_CONFIG_PATH layer, and
 * commits both only when neither has an error.
 */
static int load(job_config *cfg, const char *path, const char *text,
                size_t len, const char *name, job_issues **issues)
{
    if (issues)
        *issues = NULL;
    job_issues *all = jx_issues_new();
    if (!all)
        return JOB_ENOMEM;
    jx_layer file_layer, env_layer;
    jx_layer_init(&file_layer);
    jx_layer_init(&env_layer);
    bool with_file = path || text;
    int rc = JOB_OK;
    if (path)
        rc = parse_file(path, &file_layer, all);
    else if (text)
        rc = parse_text(text, len, name ? name : "<string>", &file_layer);
    if (rc != JOB_ENOMEM && jx_issues_append(all, file_layer.notes) != JOB_OK)
        rc = JOB_ENOMEM;

    const char *env_path = getenv("JOBEXEC_CONFIG_PATH");
    if (rc != JOB_ENOMEM && env_path && *env_path) {
        /* A copy: the host may change the environment while we parse. */
        char *ep = jx_strdup(env_path);
        int erc = ep ? parse_file(ep, &env_layer, all) : JOB_ENOMEM;
        jx_free(ep);
        if (erc != JOB_ENOMEM && jx_issues_append(all, env_layer.notes) != JOB_OK)
            erc = JOB_ENOMEM;
        rc = worse(rc, erc);
    }
    if (rc == JOB_OK) {
        if (with_file)
            jx_config_commit_layer(cfg, JX_LAYER_FILE, &file_layer);
        /* Without the variable, a layer loaded before is dropped. */
        jx_config_commit_layer(cfg, JX_LAYER_ENV, &env_layer);
    }
    jx_layer_clear(&file_layer);
    jx_layer_clear(&env_layer);
    if (issues)
        *issues = all;
    else
        job_issues_free(all);
    return rc;
}

int job_config_load_file(job_config *cfg, const char *path,
                         job_issues **issues)
{
    if (issues)
        *issues = NULL;
    if (!cfg || !path)
        return JOB_EINVAL;
    return load(cfg, path, NULL, 0, NULL, issues);
}

int job_config_load_string(job_config *cfg, const char *text, size_t len,
                           const char *name, job_issues **issues)
{
    if (issues)
        *issues = NULL;
    if (!cfg || (!text && len))
        return JOB_EINVAL;
    return load(cfg, NULL, text ? text : "", len, name, issues);
}

int job_config_load_env(job_config *cfg, job_issues **issues)
{
    if (issues)
        *issues = NULL;
    if (!cfg)
        return JOB_EINVAL;
    return load(cfg, NULL, NULL, 0, NULL, issues);
}
