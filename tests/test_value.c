/* test_value.c - typed values: native TOML scalars, "text:type" strings,
 * ENV[...] templates and timedeltas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config_internal.h"

static char msg[JX_MSG_MAX];

/* Parses text, expecting success, and returns the value (caller clears). */
static jx_value ok(const char *text)
{
    jx_value v;
    int rc = jx_value_parse(text, &v, msg, sizeof(msg));
    if (rc != JOB_OK)
        fail_msg("parsing <%s> failed: %s", text, msg);
    return v;
}

/* Parses text, expecting JOB_EINVAL with a message containing `part`. */
static void bad(const char *text, const char *part)
{
    jx_value v;
    int rc = jx_value_parse(text, &v, msg, sizeof(msg));
    if (rc != JOB_EINVAL)
        fail_msg("parsing <%s> gave %d, expected JOB_EINVAL", text, rc);
    if (!strstr(msg, part))
        fail_msg("message for <%s> is <%s>, expected it to contain <%s>",
                 text, msg, part);
    assert_null(v.s);
}

static void expect_int(const char *text, int64_t want, bool explicit_type)
{
    jx_value v = ok(text);
    assert_int_equal(v.type, JX_VT_INT);
    assert_int_equal(v.i, want);
    assert_int_equal(v.explicit_type, explicit_type);
    jx_value_clear(&v);
}

static void expect_str(const char *text, const char *want, bool explicit_type)
{
    jx_value v = ok(text);
    assert_int_equal(v.type, JX_VT_STR);
    assert_string_equal(v.s, want);
    assert_int_equal(v.explicit_type, explicit_type);
    jx_value_clear(&v);
}

static void expect_bool(const char *text, bool want)
{
    jx_value v = ok(text);
    assert_int_equal(v.type, JX_VT_BOOL);
    assert_int_equal(v.i, want);
    jx_value_clear(&v);
}

static void expect_td(const char *text, int64_t want_ms)
{
    jx_value v = ok(text);
    assert_int_equal(v.type, JX_VT_TIMEDELTA);
    assert_int_equal(v.i, want_ms);
    jx_value_clear(&v);
}

static void test_native_ints(void **state)
{
    (void)state;
    expect_int("8", 8, true);
    expect_int("-2", -2, true);
    expect_int("+17", 17, true);
    expect_int("1_000", 1000, true);
    expect_int("0x1F", 31, true);
    expect_int("0o17", 15, true);
    expect_int("0b101", 5, true);
    expect_int("9223372036854775807", INT64_MAX, true);
    expect_int("-9223372036854775808", INT64_MIN, true);
    bad("9223372036854775808", "out of range");
    bad("-9223372036854775809", "out of range");
    bad("99999999999999999999999", "out of range");
    bad("1__000", "is not an int");
    bad("1000_", "is not an int");
}

static void test_native_bools_floats(void **state)
{
    (void)state;
    expect_bool("true", true);
    expect_bool("false", false);
    jx_value v = ok("1.5");
    assert_int_equal(v.type, JX_VT_FLOAT);
    assert_true(v.f == 1.5);
    jx_value_clear(&v);
    v = ok("-2e3");
    assert_int_equal(v.type, JX_VT_FLOAT);
    assert_true(v.f == -2000.0);
    jx_value_clear(&v);
    v = ok("1_000.25");
    assert_true(v.f == 1000.25);
    jx_value_clear(&v);
    /* Python's spelling is not TOML's: it stays a word. */
    expect_str("True", "True", false);
}

static void test_strings(void **state)
{
    (void)state;
    expect_str("\"standalone\"", "standalone", false);
    expect_str("'standalone'", "standalone", false);
    expect_str("standalone", "standalone", false);
    expect_str("\"\"", "", false);
    expect_str("\"a\\tb\\\"c\\\\\"", "a\tb\"c\\", false);
    expect_str("\"\\u00e9\\U0001F600\"", "\xC3\xA9\xF0\x9F\x98\x80", false);
    /* Single quotes are literal. */
    expect_str("'C:\\path'", "C:\\path", false);
    /* ':' followed by something that is not a word is part of the text. */
    expect_str("\"12:30\"", "12:30", false);
    expect_str("\"http://example.com\"", "http://example.com", false);
    expect_str("\"a:b:str\"", "a:b", true);
    expect_str("\"x:str\"", "x", true);
    bad("\"abc", "unterminated string");
    bad("'abc", "unterminated string");
    bad("\"abc\" x", "unexpected text after the closing");
    bad("\"\\q\"", "invalid escape");
    bad("\"\\u00\"", "invalid \\u escape");
    bad("\"\\u0000\"", "invalid \\u escape");
    bad("\"\\uD800\"", "invalid \\u escape");
    bad("", "missing value");
    bad("   ", "missing value");
}

static void test_typed_suffix(void **state)
{
    (void)state;
    expect_int("\"8:int\"", 8, true);
    expect_int("'-2:int'", -2, true);
    expect_int("\" 8 :int\"", 8, true);
    expect_int("8:int", 8, true); /* a bare word may carry a type too */
    jx_value v = ok("\"1.5:float\"");
    assert_int_equal(v.type, JX_VT_FLOAT);
    assert_true(v.f == 1.5);
    jx_value_clear(&v);
    v = ok("\"3:float\"");
    assert_true(v.f == 3.0);
    jx_value_clear(&v);
    expect_bool("\"true:bool\"", true);
    expect_bool("\"True:bool\"", true);
    expect_bool("\"FALSE:bool\"", false);
    expect_td("\"1d2h3m4s:timedelta\"", ((24 + 2) * 60 + 3) * 60000 + 4000);
    bad("\"8:integer\"", "unknown type \"integer\"");
    bad("\"8:INT\"", "unknown type \"INT\"");
    bad("\"x:b\"", "unknown type \"b\"");
    bad("\"8x:int\"", "\"8x\" is not an int");
    bad("\":int\"", "\"\" is not an int");
    bad("\"yes:bool\"", "\"yes\" is not a bool");
    bad("\"1.2.3:float\"", "\"1.2.3\" is not a float");
    bad("\"99999999999999999999:int\"", "out of range");
    bad("\"5x:timedelta\"", "unknown unit \"x\"");
}

static void test_env_templates(void **state)
{
    (void)state;
    setenv("JX_TEST_WORKERS", "12", 1);
    setenv("JX_TEST_MODE", "standalone", 1);
    setenv("JX_TEST_FLAG", "TRUE", 1);
    setenv("JX_TEST_TD", "90s", 1);
    setenv("JX_TEST_TYPED", "8:int", 1);
    unsetenv("JX_TEST_MISSING");
    expect_int("\"ENV[JX_TEST_WORKERS]:int\"", 12, true);
    expect_str("\"ENV[JX_TEST_WORKERS]\"", "12", false);
    expect_str("\"ENV[JX_TEST_MODE]\"", "standalone", false);
    expect_str("\"ENV[JX_TEST_MODE]:str\"", "standalone", true);
    expect_bool("\"ENV[JX_TEST_FLAG]:bool\"", true);
    expect_td("'ENV[JX_TEST_TD]:timedelta'", 90000);
    /* The variable's text is taken as it is, not read for a suffix. */
    expect_str("\"ENV[JX_TEST_TYPED]\"", "8:int", false);
    /* The template must be the whole value. */
    expect_str("\"x ENV[JX_TEST_MODE]\"", "x ENV[JX_TEST_MODE]", false);
    expect_str("\"ENV[JX_TEST_MODE]x\"", "ENV[JX_TEST_MODE]x", false);
    bad("\"ENV[JX_TEST_MISSING]\"",
        "environment variable JX_TEST_MISSING is not set");
    bad("\"ENV[JX_TEST_MISSING]:int\"", "JX_TEST_MISSING");
    bad("\"ENV[]\"", "invalid environment variable name");
    bad("\"ENV[1X]\"", "invalid environment variable name");
    bad("\"ENV[JX_TEST_MODE]:int\"", "\"standalone\" is not an int");
    bad("\"ENV[JX_TEST_WORKERS]:integer\"", "unknown type");
}

static void td_ok(const char *text, int64_t want)
{
    int64_t ms = -1;
    if (job_parse_timedelta(text, &ms) != JOB_OK)
        fail_msg("job_parse_timedelta(\"%s\") failed", text);
    if (ms != want)
        fail_msg("job_parse_timedelta(\"%s\") = %lld, expected %lld", text,
                 (long long)ms, (long long)want);
}

static void td_bad(const char *text, const char *part)
{
    int64_t ms = 12345;
    assert_int_equal(job_parse_timedelta(text, &ms), JOB_EINVAL);
    assert_int_equal(ms, 12345);
    assert_int_equal(jx_parse_timedelta(text, strlen(text), &ms, msg,
                                        sizeof(msg)),
                     JOB_EINVAL);
    if (!strstr(msg, part))
        fail_msg("message for <%s> is <%s>, expected <%s>", text, msg, part);
}

static void test_timedelta(void **state)
{
    (void)state;
    td_ok("90", 90000);
    td_ok("1.5", 1500);
    td_ok("0", 0);
    td_ok("1.5s", 1500);
    td_ok("2m", 120000);
    td_ok("250ms", 250);
    td_ok("1d2h3m4s", 93784000);
    td_ok("1d 2h", 93600000);
    td_ok("1h30m", 5400000);
    td_ok("0.5d", 43200000);
    td_ok("1m0.25s", 60250);
    td_ok("2s500ms", 2500);
    td_ok("0.0004s", 0);  /* below a millisecond, rounded */
    td_ok("0.0005s", 1);
    td_ok(" 5s ", 5000);
    td_ok("106751991167d", INT64_C(106751991167) * 86400000);
    td_bad("", "empty timedelta");
    td_bad("-5s", "negative");
    td_bad("5x", "unknown unit \"x\"");
    td_bad("5min", "unknown unit \"min\"");
    td_bad("1s2m", "largest first");
    td_bad("1s1s", "largest first");
    td_bad("1m5", "a unit (d, h, m, s or ms) must follow each number");
    td_bad("s", "expected a number");
    td_bad("1.s", "expected a number");
    td_bad("106751991168d", "out of range");
    td_bad("99999999999999999999s", "out of range");
    assert_int_equal(job_parse_timedelta(NULL, NULL), JOB_EINVAL);
    int64_t ms;
    assert_int_equal(job_parse_timedelta(NULL, &ms), JOB_EINVAL);
}

static void test_format_timedelta(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "0s"},        {1, "1ms"},         {1500, "1s500ms"},
        {90000, "1m30s"}, {93784005, "1d2h3m4s5ms"}, {86400000, "1d"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = jx_format_timedelta(cases[i].ms, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(n, (int)strlen(cases[i].text));
        int64_t back;
        assert_int_equal(job_parse_timedelta(buf, &back), JOB_OK);
        assert_int_equal(back, cases[i].ms);
    }
    /* Truncated output still reports the full length. */
    assert_int_equal(jx_format_timedelta(93784005, buf, 4), 11);
    assert_string_equal(buf, "1d2");
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(jx_vtype_name(JX_VT_INT), "int");
    assert_string_equal(jx_vtype_name(JX_VT_TIMEDELTA), "timedelta");
    assert_string_equal(jx_vtype_name((jx_vtype)99), "?");
}

static void test_out_of_memory(void **state)
{
    (void)state;
    /* Every allocation a parse makes, made to fail in turn. */
    const char *texts[] = {"\"8:int\"", "standalone", "\"a\\u00e9b:str\"",
                           ("1_000.000_000_000_000_000_000_000_000_000_000_000_"
                            "000_000_000_000_000_000_000_000_000_1")};
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        bool succeeded = false;
        for (long n = 0; n < 10 && !succeeded; n++) {
            jx_value v;
            jx_alloc_fail_after(n, 0);
            int rc = jx_value_parse(texts[t], &v, msg, sizeof(msg));
            jx_alloc_fail_after(-1, 0);
            if (rc == JOB_OK) {
                succeeded = true;
                jx_value_clear(&v);
            } else {
                assert_int_equal(rc, JOB_ENOMEM);
            }
        }
        assert_true(succeeded);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_ints),
        cmocka_unit_test(test_native_bools_floats),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_typed_suffix),
        cmocka_unit_test(test_env_templates),
        cmocka_unit_test(test_timedelta),
        cmocka_unit_test(test_format_timedelta),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
