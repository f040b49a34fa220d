/* value.c - typed values as written after "key =": native TOML scalars,
 * Taipy's "text:type" strings, ENV[...] templates, and timedeltas. */
#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static const char *const vtype_names[] = {
    [JX_VT_INT] = "int",
    [JX_VT_FLOAT] = "float",
    [JX_VT_BOOL] = "bool",
    [JX_VT_STR] = "str",
    [JX_VT_TIMEDELTA] = "timedelta",
};

const char *jx_vtype_name(jx_vtype t)
{
    if ((unsigned)t < JX_ARRAY_SIZE(vtype_names))
        return vtype_names[t];
    return "?";
}

static int fail(char *msg, size_t size, const char *fmt, ...) JOB_PRINTF(3, 4);

static int fail(char *msg, size_t size, const char *fmt, ...)
{
    if (msg && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return JOB_EINVAL;
}

/* Messages quote the offending text; keep it short enough to read. */
#define QUOTE_MAX 64
#define QUOTE_FMT "\"%.*s%s\""
#define QUOTE_ARGS(p, n)                                                     \
    (int)((n) > QUOTE_MAX ? QUOTE_MAX : (n)), (p), ((n) > QUOTE_MAX ? "..." : "")

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Narrows [*p, *p + *n) to exclude leading and trailing blanks. */
static void trim(const char **p, size_t *n)
{
    while (*n && is_blank(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && is_blank((*p)[*n - 1]))
        (*n)--;
}

static bool is_digit_base(char c, int base)
{
    switch (base) {
    case 2:
        return c == '0' || c == '1';
    case 8:
        return c >= '0' && c <= '7';
    case 16:
        return isxdigit((unsigned char)c) != 0;
    default:
        return c >= '0' && c <= '9';
    }
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return (tolower((unsigned char)c) - 'a') + 10;
}

/* Checks TOML's digit-run rule: digits of `base`, '_' only between two
 * digits.  Returns the number of digits, or -1 when the run is invalid. */
static long digit_run(const char *p, size_t n, int base)
{
    long digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '_') {
            if (i == 0 || i + 1 == n || p[i - 1] == '_')
                return -1;
        } else if (is_digit_base(p[i], base)) {
            digits++;
        } else {
            return -1;
        }
    }
    return digits > 0 ? digits : -1;
}

int jx_parse_int(const char *text, size_t len, int64_t *out, char *msg,
                 size_t msgsize)
{
    const char *p = text;
    size_t n = len;
    trim(&p, &n);
    const char *all = p;
    size_t alln = n;
    bool neg = false;
    int base = 10;
    if (n && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
        n--;
    }
    if (n > 2 && p[0] == '0' && p[1] && strchr("xob", p[1]) && p == all) {
        base = p[1] == 'x' ? 16 : p[1] == 'o' ? 8 : 2;
        p += 2;
        n -= 2;
    }
    if (digit_run(p, n, base) < 0)
        return fail(msg, msgsize, QUOTE_FMT " is not an int",
                    QUOTE_ARGS(all, alln));
    /* Accumulate as a negative number so INT64_MIN fits. */
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '_')
            continue;
        if (__builtin_mul_overflow(v, base, &v) ||
            __builtin_sub_overflow(v, digit_value(p[i]), &v))
            return fail(msg, msgsize, QUOTE_FMT " is out of range for an int",
                        QUOTE_ARGS(all, alln));
    }
    if (!neg) {
        if (v == INT64_MIN)
            return fail(msg, msgsize, QUOTE_FMT " is out of range for an int",
                        QUOTE_ARGS(all, alln));
        v = -v;
    }
    *out = v;
    return JOB_OK;
}

int jx_parse_bool(const char *text, size_t len, bool *out, char *msg,
                  size_t msgsize)
{
    const char *p = text;
    size_t n = len;
    trim(&p, &n);
    if (n == 4 && !strncasecmp(p, "true", 4)) {
        *out = true;
        return JOB_OK;
    }
    if (n == 5 && !strncasecmp(p, "false", 5)) {
        *out = false;
        return JOB_OK;
    }
    return fail(msg, msgsize, QUOTE_FMT " is not a bool (true or false)",
                QUOTE_ARGS(p, n));
}

/* strtod obeys LC_NUMERIC, which belongs to the host; parse floats in the
 * C locale whatever the host chose. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* Float syntax: sign, digits with '_', optional fraction and exponent, or
 * inf / nan.  Returns true when [p, p+n) is one. */
static bool float_syntax(const char *p, size_t n, bool need_point)
{
    if (n && (*p == '+' || *p == '-')) {
        p++;
        n--;
    }
    if ((n == 3 && !strncmp(p, "inf", 3)) || (n == 3 && !strncmp(p, "nan", 3)))
        return true;
    size_t i = 0;
    while (i < n && p[i] != '.' && p[i] != 'e' && p[i] != 'E')
        i++;
    if (digit_run(p, i, 10) < 0)
        return false;
    bool point = false;
    if (i < n && p[i] == '.') {
        size_t j = ++i;
        while (i < n && p[i] != 'e' && p[i] != 'E')
            i++;
        if (digit_run(p + j, i - j, 10) < 0)
            return false;
        point = true;
    }
    if (i < n) {
        i++; /* the 'e' */
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (digit_run(p + i, n - i, 10) < 0)
            return false;
        point = true;
    }
    return point || !need_point;
}

static int parse_float(const char *text, size_t len, bool need_point,
                       double *out, char *msg, size_t msgsize)
{
    const char *p = text;
    size_t n = len;
    trim(&p, &n);
    if (!float_syntax(p, n, need_point))
        return fail(msg, msgsize, QUOTE_FMT " is not a float",
                    QUOTE_ARGS(p, n));
    /* Copy without the '_' separators that strtod does not know.  The
     * syntax check bounds the text to what a float can spell, but a long
     * run of digits is still valid, so size the copy by the input. */
    char small[64];
    char *buf = n < sizeof(small) ? small : jx_malloc(n + 1);
    if (!buf)
        return JOB_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != '_')
            buf[k++] = p[i];
    buf[k] = '\0';
    pthread_once(&c_locale_once, make_c_locale);
    double v = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != small)
        jx_free(buf);
    *out = v;
    return JOB_OK;
}

/* ---- timedeltas ---------------------------------------------------------- */

static const struct {
    const char *unit;
    int64_t ms;
} td_units[] = {
    /* "ms" before "m" so that the longer unit is matched first. */
    {"d", 86400000}, {"h", 3600000}, {"ms", 1}, {"m", 60000}, {"s", 1000},
};

/* Units rank from largest to smallest, to check their order. */
static int td_rank(int64_t unit_ms)
{
    switch (unit_ms) {
    case 86400000:
        return 0;
    case 3600000:
        return 1;
    case 60000:
        return 2;
    case 1000:
        return 3;
    default:
        return 4;
    }
}

int jx_parse_timedelta(const char *text, size_t len, int64_t *ms_out,
                       char *msg, size_t msgsize)
{
    const char *p = text;
    size_t n = len;
    trim(&p, &n);
    const char *all = p;
    size_t alln = n;
    if (n == 0)
        return fail(msg, msgsize, "empty timedelta");
    if (*p == '-')
        return fail(msg, msgsize,
                    "timedelta " QUOTE_FMT " is negative; it must be >= 0",
                    QUOTE_ARGS(all, alln));
    int64_t total = 0;
    int last_rank = -1;
    size_t i = 0;
    bool first = true;
    while (i < n) {
        /* The number: digits, then an optional fraction. */
        size_t start = i;
        int64_t whole = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (__builtin_mul_overflow(whole, 10, &whole) ||
                __builtin_add_overflow(whole, p[i] - '0', &whole))
                return fail(msg, msgsize, "timedelta " QUOTE_FMT
                            " is out of range", QUOTE_ARGS(all, alln));
            i++;
        }
        bool had_digits = i > start;
        /* Keep up to 9 fraction digits; smaller parts are below a
         * millisecond for every unit. */
        int64_t frac = 0, frac_scale = 1;
        if (i < n && p[i] == '.') {
            i++;
            size_t fstart = i;
            while (i < n && p[i] >= '0' && p[i] <= '9') {
                if (frac_scale < 1000000000) {
                    frac = frac * 10 + (p[i] - '0');
                    frac_scale *= 10;
                }
                i++;
            }
            if (i == fstart)
                had_digits = false;
        }
        if (!had_digits)
            return fail(msg, msgsize,
                        "invalid timedelta " QUOTE_FMT
                        ": expected a number such as 90, 1.5s or 1d2h3m4s",
                        QUOTE_ARGS(all, alln));
        while (i < n && is_blank(p[i]))
            i++;
        int64_t unit = 0;
        size_t ulen = 0;
        for (size_t u = 0; u < JX_ARRAY_SIZE(td_units); u++) {
            size_t l = strlen(td_units[u].unit);
            if (n - i >= l && !strncmp(p + i, td_units[u].unit, l) &&
                (n - i == l || !isalpha((unsigned char)p[i + l]))) {
                unit = td_units[u].ms;
                ulen = l;
                break;
            }
        }
        if (!unit) {
            if (i == n && first) {
                unit = 1000; /* a bare number is seconds */
            } else if (i == n) {
                return fail(msg, msgsize,
                            "invalid timedelta " QUOTE_FMT
                            ": a unit (d, h, m, s or ms) must follow each "
                            "number",
                            QUOTE_ARGS(all, alln));
            } else {
                size_t e = i;
                while (e < n && isalpha((unsigned char)p[e]))
                    e++;
                if (e == i)
                    e = i + 1;
                return fail(msg, msgsize,
                            "invalid timedelta " QUOTE_FMT ": unknown unit "
                            QUOTE_FMT " (use d, h, m, s or ms)",
                            QUOTE_ARGS(all, alln), QUOTE_ARGS(p + i, e - i));
            }
        }
        i += ulen;
        int rank = td_rank(unit);
        if (rank <= last_rank)
            return fail(msg, msgsize,
                        "invalid timedelta " QUOTE_FMT
                        ": write each unit once, largest first (d, h, m, s, ms)",
                        QUOTE_ARGS(all, alln));
        last_rank = rank;
        int64_t part;
        /* frac < 1e9 and unit <= 8.64e7, so this product fits. */
        int64_t frac_ms = (frac * unit + frac_scale / 2) / frac_scale;
        if (__builtin_mul_overflow(whole, unit, &part) ||
            __builtin_add_overflow(part, frac_ms, &part) ||
            __builtin_add_overflow(total, part, &total))
            return fail(msg, msgsize, "timedelta " QUOTE_FMT " is out of range",
                        QUOTE_ARGS(all, alln));
        while (i < n && is_blank(p[i]))
            i++;
        first = false;
    }
    *ms_out = total;
    return JOB_OK;
}

int job_parse_timedelta(const char *text, int64_t *ms_out)
{
    if (!text || !ms_out)
        return JOB_EINVAL;
    int64_t ms;
    int rc = jx_parse_timedelta(text, strlen(text), &ms, NULL, 0);
    if (rc == JOB_OK)
        *ms_out = ms;
    return rc;
}

int jx_format_timedelta(int64_t ms, char *buf, size_t size)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } parts[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"},
    };
    if (ms <= 0)
        return snprintf(buf, size, "0s");
    size_t len = 0;
    for (size_t i = 0; i < JX_ARRAY_SIZE(parts); i++) {
        int64_t q = ms / parts[i].ms;
        ms %= parts[i].ms;
        if (!q)
            continue;
        int w = snprintf(buf + (len < size ? len : size),
                         len < size ? size - len : 0, "%lld%s", (long long)q,
                         parts[i].unit);
        if (w < 0)
            return w;
        len += (size_t)w;
    }
    return (int)len;
}

/* ---- strings ------------------------------------------------------------- */

/* Appends the UTF-8 form of code point cp to out. */
static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Decodes the quoted string that starts at text[0] (a ' or a ") into a new
 * string.  Double quotes take TOML's escapes; single quotes are literal.
 * Nothing but blanks may follow the closing quote.
 */
static int unquote(const char *text, char **out, size_t *outlen, char *msg,
                   size_t msgsize)
{
    char q = text[0];
    size_t n = strlen(text);
    /* Escapes only shrink the text, except \u and \U, whose 6 and 10
     * characters give at most 4 bytes: the input length bounds the output. */
    char *s = jx_malloc(n + 1);
    if (!s)
        return JOB_ENOMEM;
    size_t k = 0, i = 1;
    for (;;) {
        if (i >= n) {
            jx_free(s);
            return fail(msg, msgsize,
                        "unterminated string: the closing %c is missing", q);
        }
        char c = text[i];
        if (c == q) {
            i++;
            break;
        }
        if (q == '"' && c == '\\') {
            char e = i + 1 < n ? text[i + 1] : '\0';
            const char *simple = strchr("btnfr\"\\", e);
            if (e && simple) {
                static const char map[] = "\b\t\n\f\r\"\\";
                s[k++] = map[simple - "btnfr\"\\"];
                i += 2;
                continue;
            }
            if (e == 'u' || e == 'U') {
                size_t digits = e == 'u' ? 4 : 8;
                uint32_t cp = 0;
                size_t j;
                for (j = 0; j < digits; j++) {
                    char h = i + 2 + j < n ? text[i + 2 + j] : '\0';
                    if (!isxdigit((unsigned char)h))
                        break;
                    cp = cp * 16 + (uint32_t)digit_value(h);
                }
                if (j == digits && cp != 0 && cp <= 0x10FFFF &&
                    !(cp >= 0xD800 && cp <= 0xDFFF)) {
                    k += put_utf8(s + k, cp);
                    i += 2 + digits;
                    continue;
                }
                jx_free(s);
                return fail(msg, msgsize,
                            "invalid \\%c escape: expected %zu hex digits "
                            "naming a Unicode scalar value other than 0",
                            e, digits);
            }
            jx_free(s);
            return fail(msg, msgsize,
                        "invalid escape \"\\%c\" in a double-quoted string "
                        "(use single quotes for literal backslashes)",
                        e ? e : ' ');
        }
        s[k++] = c;
        i++;
    }
    while (i < n && is_blank(text[i]))
        i++;
    if (i < n) {
        jx_free(s);
        return fail(msg, msgsize, "unexpected text after the closing %c", q);
    }
    s[k] = '\0';
    *out = s;
    *outlen = k;
    return JOB_OK;
}

/* The known ":type" suffixes. */
static int suffix_type(const char *p, size_t n)
{
    for (size_t t = 0; t < JX_ARRAY_SIZE(vtype_names); t++)
        if (strlen(vtype_names[t]) == n && !strncmp(p, vtype_names[t], n))
            return (int)t;
    return -1;
}

static bool all_letters(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)p[i]))
            return false;
    return n > 0;
}

static bool env_name_ok(const char *p, size_t n)
{
    if (n == 0 || isdigit((unsigned char)p[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '_')
            return false;
    return true;
}

/* Converts `len` bytes of text to `type`; for JX_VT_STR it copies them. */
static int convert_text(const char *text, size_t len, int type,
                        jx_value *out, char *msg, size_t msgsize)
{
    int rc;
    bool b = false;
    out->type = (jx_vtype)type;
    switch (type) {
    case JX_VT_INT:
        return jx_parse_int(text, len, &out->i, msg, msgsize);
    case JX_VT_FLOAT:
        return parse_float(text, len, false, &out->f, msg, msgsize);
    case JX_VT_BOOL:
        rc = jx_parse_bool(text, len, &b, msg, msgsize);
        out->i = b;
        return rc;
    case JX_VT_TIMEDELTA:
        return jx_parse_timedelta(text, len, &out->i, msg, msgsize);
    default:
        out->s = jx_strndup(text, len);
        return out->s ? JOB_OK : JOB_ENOMEM;
    }
}

/*
 * The inside of a string (or a bare word): an optional ":type" suffix and
 * an optional ENV[VAR] template that must be the whole rest.
 */
static int parse_typed(const char *body, size_t len, jx_value *out,
                       char *msg, size_t msgsize)
{
    int type = -1;
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
        if (body[i - 1] == ':') {
            colon = body + i - 1;
            break;
        }
    if (colon) {
        const char *suf = colon + 1;
        size_t suflen = len - (size_t)(suf - body);
        type = suffix_type(suf, suflen);
        if (type >= 0)
            len = (size_t)(colon - body);
        else if (all_letters(suf, suflen))
            return fail(msg, msgsize,
                        "unknown type " QUOTE_FMT
                        " (known: int, float, bool, str, timedelta)",
                        QUOTE_ARGS(suf, suflen));
    }
    out->explicit_type = type >= 0;
    const char *text = body;
    if (len >= 5 && !strncmp(body, "ENV[", 4) && body[len - 1] == ']') {
        const char *name = body + 4;
        size_t nlen = len - 5;
        if (!env_name_ok(name, nlen))
            return fail(msg, msgsize,
                        "invalid environment variable name " QUOTE_FMT
                        " in ENV[...]: use letters, digits and _",
                        QUOTE_ARGS(name, nlen));
        char vname[256];
        if (nlen >= sizeof(vname))
            return fail(msg, msgsize,
                        "environment variable name " QUOTE_FMT " is too long",
                        QUOTE_ARGS(name, nlen));
        memcpy(vname, name, nlen);
        vname[nlen] = '\0';
        text = getenv(vname);
        if (!text)
            return fail(msg, msgsize, "environment variable %s is not set",
                        vname);
        len = strlen(text);
    }
    return convert_text(text, len, type >= 0 ? type : JX_VT_STR, out, msg,
                        msgsize);
}

/* An optional sign then digits and '_': what a reader takes for a number. */
static bool looks_like_int(const char *p, size_t n)
{
    size_t i = 0;
    if (n && (*p == '+' || *p == '-'))
        i++;
    if (i == n || p[i] == '_')
        return false;
    for (; i < n; i++)
        if (!(p[i] >= '0' && p[i] <= '9') && p[i] != '_')
            return false;
    return true;
}

void jx_value_clear(jx_value *v)
{
    if (v) {
        jx_free(v->s);
        memset(v, 0, sizeof(*v));
    }
}

int jx_value_parse(const char *text, jx_value *out, char *msg, size_t msgsize)
{
    memset(out, 0, sizeof(*out));
    if (msg && msgsize)
        msg[0] = '\0';
    size_t n = strlen(text);
    const char *p = text;
    trim(&p, &n);
    if (n == 0)
        return fail(msg, msgsize, "missing value");
    int rc;
    if (*p == '"' || *p == '\'') {
        char *s = NULL;
        size_t slen = 0;
        rc = unquote(p, &s, &slen, msg, msgsize);
        if (rc != JOB_OK)
            return rc;
        rc = parse_typed(s, slen, out, msg, msgsize);
        jx_free(s);
    } else if ((n == 4 && !strncmp(p, "true", 4)) ||
               (n == 5 && !strncmp(p, "false", 5))) {
        out->type = JX_VT_BOOL;
        out->explicit_type = true;
        out->i = *p == 't';
        return JOB_OK;
    } else if (jx_parse_int(p, n, &out->i, NULL, 0) == JOB_OK) {
        out->type = JX_VT_INT;
        out->explicit_type = true;
        return JOB_OK;
    } else if (float_syntax(p, n, true)) {
        out->type = JX_VT_FLOAT;
        out->explicit_type = true;
        return parse_float(p, n, true, &out->f, msg, msgsize);
    } else if (looks_like_int(p, n)) {
        /* Spelled as an integer but does not parse: it overflows, or its
         * '_' are misplaced.  Say so rather than take it as a word. */
        return jx_parse_int(p, n, &out->i, msg, msgsize);
    } else {
        /* A bare word is a string; it may carry a type or a template. */
        rc = parse_typed(p, n, out, msg, msgsize);
    }
    if (rc != JOB_OK)
        jx_value_clear(out);
    return rc;
}
