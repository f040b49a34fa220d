/*
 * config_internal.h - what the configuration modules share: typed values
 * (value.c), the key table and layers (config.c), issue lists (issues.c).
 * Nothing here is public.
 */
#ifndef JX_CONFIG_INTERNAL_H
#define JX_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Room for one issue message; longer messages are cut. */
#define JX_MSG_MAX 256

/* ---- typed values (value.c) -------------------------------------------- */

typedef enum jx_vtype {
    JX_VT_INT,
    JX_VT_FLOAT,
    JX_VT_BOOL,
    JX_VT_STR,
    JX_VT_TIMEDELTA
} jx_vtype;

typedef struct jx_value {
    jx_vtype type;
    /* False for a plain string or bare word, whose type is decided by the
     * key that receives it; true when the text said its type (native TOML
     * syntax or a ":type" suffix). */
    bool explicit_type;
    int64_t i; /* INT; BOOL (0 or 1); TIMEDELTA (milliseconds) */
    double f;  /* FLOAT */
    char *s;   /* STR: the string, owned (jx_free); NULL otherwise */
} jx_value;

/* Parses the text written after "key =" (comments and surrounding blanks
 * already removed).  Returns JOB_OK, JOB_ENOMEM, or JOB_EINVAL with a
 * sentence in msg.  On success the caller clears *out. */
int jx_value_parse(const char *text, jx_value *out, char *msg, size_t msgsize);
void jx_value_clear(jx_value *v);
/* "int", "float", "bool", "str", "timedelta". */
const char *jx_vtype_name(jx_vtype t);

/* Parses `len` bytes as an integer in TOML syntax (sign, '_' between
 * digits, 0x/0o/0b prefixes); blanks around it are allowed. */
int jx_parse_int(const char *text, size_t len, int64_t *out, char *msg,
                 size_t msgsize);
/* Parses `len` bytes as true/false in any case; blanks around allowed. */
int jx_parse_bool(const char *text, size_t len, bool *out, char *msg,
                  size_t msgsize);
/* As job_parse_timedelta, for `len` bytes, with a message on error. */
int jx_parse_timedelta(const char *text, size_t len, int64_t *ms,
                       char *msg, size_t msgsize);
/* Writes ms >= 0 as "1d2h3m4s5ms" ("0s" for zero).  Returns the length,
 * as snprintf. */
int jx_format_timedelta(int64_t ms, char *buf, size_t size);

/* ---- issue lists (issues.c) -------------------------------------------- */

job_issues *jx_issues_new(void);
/* Appends an issue; every string is copied (NULL stays NULL).  Returns
 * JOB_OK or JOB_ENOMEM. */
int jx_issues_add(job_issues *list, job_issue_level level, const char *file,
                  unsigned line, const char *key, const char *value,
                  const char *fmt, ...) JOB_PRINTF(7, 8);
/* Appends copies of every issue of src (NULL src appends nothing). */
int jx_issues_append(job_issues *dst, const job_issues *src);
/* True when an issue at `line` of `file` is already in the list. */
bool jx_issues_has_line(const job_issues *list, const char *file,
                        unsigned line);

/* ---- keys (config.c) ----------------------------------------------------- */

typedef enum jx_kind {
    JX_KIND_MODE,
    JX_KIND_INT,
    JX_KIND_BOOL,
    JX_KIND_TIMEDELTA
} jx_kind;

/* Timedeltas are capped so that the engine can turn them into nanoseconds
 * and add them to a clock without overflow. */
#define JX_TIMEDELTA_MAX_MS ((int64_t)3650 * 24 * 3600 * 1000)
#define JX_WORKERS_MAX 4096

/*
 * The [JOB] keys, one row each: enum suffix, name, kind, default, minimum,
 * maximum, whether the key is unset by default (the default is then only
 * what the getter returns), and a message for values below the minimum
 * (NULL for the generic one).  Adding a key is adding a row here and a
 * getter.
 */
#define JX_KEYS(X)                                                           \
    X(MODE, "mode", JX_KIND_MODE, JOB_MODE_DEVELOPMENT, 0, 1, false, NULL)  \
    X(NB_OF_WORKERS, "nb_of_workers", JX_KIND_INT, 1, 1, JX_WORKERS_MAX,    \
      false, NULL)                                                           \
    X(JOB_TIMEOUT, "job_timeout", JX_KIND_TIMEDELTA, 0, 1,                   \
      JX_TIMEDELTA_MAX_MS, true,                                             \
      "must be greater than 0; leave job_timeout out for no timeout")        \
    X(CAPTURE_OUTPUT, "capture_output", JX_KIND_BOOL, 0, 0, 1, false, NULL) \
    X(KILL_GRACE, "kill_grace", JX_KIND_TIMEDELTA, 5000, 0,                  \
      JX_TIMEDELTA_MAX_MS, false, NULL)                                      \
    X(MAX_OUTPUT_BYTES, "max_output_bytes", JX_KIND_INT, 1048576, 0,         \
      INT64_MAX, false, NULL)                                                \
    X(MEMORY_LIMIT, "memory_limit", JX_KIND_INT, 0, 0, INT64_MAX, false,     \
      NULL)                                                                  \
    X(MAX_JOBS_PER_WORKER, "max_jobs_per_worker", JX_KIND_INT, 1, 0,         \
      INT64_MAX, false, "must be 0 (no limit) or more")

typedef enum jx_key {
#define JX_KEY_ENUM(e, name, kind, def, min, max, opt, minmsg) JX_KEY_##e,
    JX_KEYS(JX_KEY_ENUM)
#undef JX_KEY_ENUM
    JX_KEY_COUNT
} jx_key;

typedef struct jx_key_def {
    const char *name;
    jx_kind kind;
    int64_t def;
    int64_t min;
    int64_t max;
    bool optional;
    const char *min_msg;
} jx_key_def;

extern const jx_key_def jx_keys[JX_KEY_COUNT];

/* The key named `name` (a synonym gives its key), or -1. */
int jx_key_lookup(const char *name);
/* The known name closest to `name` by edit distance, if close enough to be
 * a likely typo; NULL otherwise. */
const char *jx_key_suggest(const char *name);
/* Parses `text` as written after "key =" and checks it against the key's
 * kind and range.  Returns JOB_OK, JOB_ENOMEM, or JOB_EINVAL with msg. */
int jx_key_parse(int key, const char *text, int64_t *out, char *msg,
                 size_t msgsize);
/* Writes a key's value the way export does, without quotes: "8:int",
 * "standalone", "5s:timedelta", "True:bool". */
int jx_key_format(int key, int64_t value, char *buf, size_t size);

/* ---- layers (config.c) --------------------------------------------------- */

typedef enum jx_layer_id {
    JX_LAYER_CODE,
    JX_LAYER_FILE,
    JX_LAYER_ENV,
    JX_LAYER_COUNT
} jx_layer_id;

typedef struct jx_layer {
    bool set[JX_KEY_COUNT];
    int64_t val[JX_KEY_COUNT];
    unsigned line[JX_KEY_COUNT]; /* where it was set; 0 when not known */
    char *file;                  /* the file it was loaded from, or NULL */
    job_issues *notes;           /* warnings recorded when it was loaded */
} jx_layer;

void jx_layer_init(jx_layer *l);
void jx_layer_clear(jx_layer *l);
/* Replaces layer `id` of cfg by *l, which is left empty. */
void jx_config_commit_layer(job_config *cfg, jx_layer_id id, jx_layer *l);
/* The resolved value of a key. */
int64_t jx_config_get(const job_config *cfg, int key);
/* The layer the resolved value comes from, or NULL for the default. */
const jx_layer *jx_config_origin(const job_config *cfg, int key);
/* The notes of layer `id` (may be NULL). */
const job_issues *jx_config_notes(const job_config *cfg, jx_layer_id id);

#endif
