/* config.c - the job_config value: the [JOB] key table, the layers and
 * how they resolve, and the config functions that are not about files. */
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

const jx_key_def jx_keys[JX_KEY_COUNT] = {
#define JX_KEY_ROW(e, n, k, d, lo, hi, opt, minmsg)                          \
    [JX_KEY_##e] = {n, k, d, lo, hi, opt, minmsg},
    JX_KEYS(JX_KEY_ROW)
#undef JX_KEY_ROW
};

/* Other names a key is known by.  Taipy renamed nb_of_workers in 2.0. */
static const struct {
    const char *name;
    int key;
} synonyms[] = {
    {"max_nb_of_workers", JX_KEY_NB_OF_WORKERS},
};

struct job_config {
    jx_layer layer[JX_LAYER_COUNT];
};

int jx_key_lookup(const char *name)
{
    for (int k = 0; k < JX_KEY_COUNT; k++)
        if (!strcmp(name, jx_keys[k].name))
            return k;
    for (size_t i = 0; i < JX_ARRAY_SIZE(synonyms); i++)
        if (!strcmp(name, synonyms[i].name))
            return synonyms[i].key;
    return -1;
}

/* Levenshtein distance, giving up (returning limit + 1) once it exceeds
 * limit; names are short, so two rows of a fixed size suffice. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
    enum { MAXN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAXN || lb >= MAXN)
        return limit + 1;
    size_t prev[MAXN], cur[MAXN];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (cur[j] < best)
                best = cur[j];
        }
        if (best > limit)
            return limit + 1;
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

const char *jx_key_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t count = JX_KEY_COUNT + JX_ARRAY_SIZE(synonyms);
    for (size_t i = 0; i < count; i++) {
        const char *cand = i < JX_KEY_COUNT ? jx_keys[i].name
                                            : synonyms[i - JX_KEY_COUNT].name;
        /* Allow about one edit in three letters, and at least two. */
        size_t limit = strlen(cand) / 3;
        if (limit < 2)
            limit = 2;
        size_t d = edit_distance(name, cand, limit);
        if (d <= limit && d < best_d) {
            best = cand;
            best_d = d;
        }
    }
    return best;
}

static const char *kind_article_name(jx_kind kind)
{
    switch (kind) {
    case JX_KIND_MODE:
        return "a mode (\"development\" or \"standalone\")";
    case JX_KIND_INT:
        return "an int";
    case JX_KIND_BOOL:
        return "a bool";
    default:
        return "a timedelta";
    }
}

static int fmt_bound(int key, int64_t v, char *buf, size_t size)
{
    if (jx_keys[key].kind == JX_KIND_TIMEDELTA)
        return jx_format_timedelta(v, buf, size);
    return snprintf(buf, size, "%lld", (long long)v);
}

/* Turns a parsed value into the key's stored form. */
static int convert(int key, const jx_value *v, int64_t *out, char *msg,
                   size_t msgsize)
{
    const jx_key_def *def = &jx_keys[key];
    bool plain = v->type == JX_VT_STR && !v->explicit_type;
    int64_t x = 0;
    int rc = JOB_OK;
    bool b = false;
    switch (def->kind) {
    case JX_KIND_MODE:
        if (v->type != JX_VT_STR)
            goto wrong_type;
        if (!strcmp(v->s, "development")) {
            x = JOB_MODE_DEVELOPMENT;
        } else if (!strcmp(v->s, "standalone")) {
            x = JOB_MODE_STANDALONE;
        } else {
            snprintf(msg, msgsize,
                     "unknown mode \"%.64s\": expected \"development\" or "
                     "\"standalone\"",
                     v->s);
            return JOB_EINVAL;
        }
        break;
    case JX_KIND_INT:
        if (plain)
            rc = jx_parse_int(v->s, strlen(v->s), &x, msg, msgsize);
        else if (v->type == JX_VT_INT)
            x = v->i;
        else
            goto wrong_type;
        break;
    case JX_KIND_BOOL:
        if (plain) {
            rc = jx_parse_bool(v->s, strlen(v->s), &b, msg, msgsize);
            x = b;
        } else if (v->type == JX_VT_BOOL) {
            x = v->i;
        } else {
            goto wrong_type;
        }
        break;
    case JX_KIND_TIMEDELTA:
        /* A number alone is seconds, as in a timedelta string. */
        if (plain) {
            rc = jx_parse_timedelta(v->s, strlen(v->s), &x, msg, msgsize);
        } else if (v->type == JX_VT_TIMEDELTA) {
            x = v->i;
        } else if (v->type == JX_VT_INT) {
            if (v->i < 0) {
                snprintf(msg, msgsize, "a timedelta must be >= 0");
                return JOB_EINVAL;
            }
            /* Too large for milliseconds is above the maximum anyway. */
            if (__builtin_mul_overflow(v->i, 1000, &x))
                x = INT64_MAX;
        } else if (v->type == JX_VT_FLOAT) {
            if (!(v->f >= 0)) { /* also NaN */
                snprintf(msg, msgsize, "a timedelta must be a number >= 0");
                return JOB_EINVAL;
            }
            /* Compare before converting: a huge double does not fit. */
            if (v->f * 1000.0 > (double)def->max)
                x = INT64_MAX;
            else
                x = (int64_t)(v->f * 1000.0 + 0.5);
        } else {
            goto wrong_type;
        }
        break;
    }
    if (rc != JOB_OK)
        return rc;
    char bound[48];
    if (x < def->min) {
        if (def->min_msg) {
            snprintf(msg, msgsize, "%s", def->min_msg);
        } else {
            fmt_bound(key, def->min, bound, sizeof(bound));
            snprintf(msg, msgsize, "must be at least %s", bound);
        }
        return JOB_EINVAL;
    }
    if (x > def->max) {
        fmt_bound(key, def->max, bound, sizeof(bound));
        snprintf(msg, msgsize, "must be at most %s", bound);
        return JOB_EINVAL;
    }
    *out = x;
    return JOB_OK;

wrong_type:
    snprintf(msg, msgsize, "expects %s, not %s %s",
             kind_article_name(def->kind),
             v->type == JX_VT_INT ? "an" : "a", jx_vtype_name(v->type));
    return JOB_EINVAL;
}

int jx_key_parse(int key, const char *text, int64_t *out, char *msg,
                 size_t msgsize)
{
    jx_value v;
    int rc = jx_value_parse(text, &v, msg, msgsize);
    if (rc == JOB_OK)
        rc = convert(key, &v, out, msg, msgsize);
    jx_value_clear(&v);
    return rc;
}

int jx_key_format(int key, int64_t value, char *buf, size_t size)
{
    char td[64];
    switch (jx_keys[key].kind) {
    case JX_KIND_MODE:
        return snprintf(buf, size, "%s", job_mode_name((job_mode)value));
    case JX_KIND_INT:
        return snprintf(buf, size, "%lld:int", (long long)value);
    case JX_KIND_BOOL:
        /* Taipy writes Python's spelling. */
        return snprintf(buf, size, "%s:bool", value ? "True" : "False");
    default:
        jx_format_timedelta(value, td, sizeof(td));
        return snprintf(buf, size, "%s:timedelta", td);
    }
}

/* ---- layers ------------------------------------------------------------- */

void jx_layer_init(jx_layer *l)
{
    memset(l, 0, sizeof(*l));
}

void jx_layer_clear(jx_layer *l)
{
    jx_free(l->file);
    job_issues_free(l->notes);
    jx_layer_init(l);
}

void jx_config_commit_layer(job_config *cfg, jx_layer_id id, jx_layer *l)
{
    jx_layer_clear(&cfg->layer[id]);
    cfg->layer[id] = *l;
    jx_layer_init(l);
}

const jx_layer *jx_config_origin(const job_config *cfg, int key)
{
    for (int id = JX_LAYER_COUNT - 1; id >= 0; id--)
        if (cfg->layer[id].set[key])
            return &cfg->layer[id];
    return NULL;
}

int64_t jx_config_get(const job_config *cfg, int key)
{
    if (!cfg)
        return jx_keys[key].def;
    const jx_layer *l = jx_config_origin(cfg, key);
    return l ? l->val[key] : jx_keys[key].def;
}

const job_issues *jx_config_notes(const job_config *cfg, jx_layer_id id)
{
    return cfg->layer[id].notes;
}

/* ---- public functions ---------------------------------------------------- */

int job_config_new(job_config **out)
{
    if (!out)
        return JOB_EINVAL;
    *out = jx_calloc(1, sizeof(job_config));
    return *out ? JOB_OK : JOB_ENOMEM;
}

void job_config_free(job_config *cfg)
{
    if (!cfg)
        return;
    for (int id = 0; id < JX_LAYER_COUNT; id++)
        jx_layer_clear(&cfg->layer[id]);
    jx_free(cfg);
}

int job_config_dup(const job_config *cfg, job_config **out)
{
    if (!cfg || !out)
        return JOB_EINVAL;
    job_config *c = jx_calloc(1, sizeof(job_config));
    if (!c)
        return JOB_ENOMEM;
    for (int id = 0; id < JX_LAYER_COUNT; id++) {
        const jx_layer *from = &cfg->layer[id];
        jx_layer *to = &c->layer[id];
        memcpy(to->set, from->set, sizeof(to->set));
        memcpy(to->val, from->val, sizeof(to->val));
        memcpy(to->line, from->line, sizeof(to->line));
        if (from->file && !(to->file = jx_strdup(from->file)))
            goto nomem;
        if (from->notes) {
            if (!(to->notes = jx_issues_new()) ||
                jx_issues_append(to->notes, from->notes) != JOB_OK)
                goto nomem;
        }
    }
    *out = c;
    return JOB_OK;
nomem:
    job_config_free(c);
    return JOB_ENOMEM;
}

static void set_code(job_config *cfg, int key, int64_t v)
{
    jx_layer *l = &cfg->layer[JX_LAYER_CODE];
    l->set[key] = true;
    l->val[key] = v;
    l->line[key] = 0;
}

int job_configure_job_executions(job_config *cfg, const char *mode,
                                 int nb_of_workers)
{
    if (!cfg || nb_of_workers < 0 || nb_of_workers > JX_WORKERS_MAX)
        return JOB_EINVAL;
    int64_t m = 0;
    if (mode) {
        if (!strcmp(mode, "development"))
            m = JOB_MODE_DEVELOPMENT;
        else if (!strcmp(mode, "standalone"))
            m = JOB_MODE_STANDALONE;
        else
            return JOB_EINVAL;
        set_code(cfg, JX_KEY_MODE, m);
    }
    if (nb_of_workers > 0)
        set_code(cfg, JX_KEY_NB_OF_WORKERS, nb_of_workers);
    return JOB_OK;
}

int job_config_set(job_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value)
        return JOB_EINVAL;
    int k = jx_key_lookup(key);
    if (k < 0)
        return JOB_EINVAL;
    char msg[JX_MSG_MAX];
    int64_t v;
    int rc = jx_key_parse(k, value, &v, msg, sizeof(msg));
    if (rc == JOB_OK)
        set_code(cfg, k, v);
    return rc;
}

job_mode job_config_mode(const job_config *cfg)
{
    return (job_mode)jx_config_get(cfg, JX_KEY_MODE);
}

int job_config_nb_of_workers(const job_config *cfg)
{
    return (int)jx_config_get(cfg, JX_KEY_NB_OF_WORKERS);
}

int64_t job_config_job_timeout_ms(const job_config *cfg)
{
    return jx_config_get(cfg, JX_KEY_JOB_TIMEOUT);
}

bool job_config_capture_output(const job_config *cfg)
{
    return jx_config_get(cfg, JX_KEY_CAPTURE_OUTPUT) != 0;
}

int64_t job_config_kill_grace_ms(const job_config *cfg)
{
    return jx_config_get(cfg, JX_KEY_KILL_GRACE);
}

uint64_t job_config_max_output_bytes(const job_config *cfg)
{
    return (uint64_t)jx_config_get(cfg, JX_KEY_MAX_OUTPUT_BYTES);
}

uint64_t job_config_memory_limit(const job_config *cfg)
{
    return (uint64_t)jx_config_get(cfg, JX_KEY_MEMORY_LIMIT);
}

int64_t job_config_max_jobs_per_worker(const job_config *cfg)
{
    return jx_config_get(cfg, JX_KEY_MAX_JOBS_PER_WORKER);
}

const char *job_mode_name(job_mode mode)
{
    switch (mode) {
    case JOB_MODE_DEVELOPMENT:
        return "development";
    case JOB_MODE_STANDALONE:
        return "standalone";
    }
    return "?";
}
