/* test_cli_config.c - the jobexec command's check and config subcommands,
 * run as a separate program: output lines and exit codes. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobconfig.h"

#define DATA JOBEXEC_TEST_DATA "/"
#define EXAMPLES JOBEXEC_TEST_DATA "/../../examples/"

static char tmpdir[] = "/tmp/jx_cli_XXXXXX";

typedef struct result {
    int status; /* exit code */
    char out[16384];
    char err[16384];
} result;

static int group_setup(void **state)
{
    (void)state;
    unsetenv("JOBEXEC_CONFIG_PATH");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs the CLI with args (NULL-terminated), JOBEXEC_CONFIG_PATH set to
 * env_path (NULL: unset), and collects both outputs. */
static void run(result *r, const char *env_path, ...)
{
    const char *argv[16] = {JOBEXEC_CLI};
    va_list ap;
    va_start(ap, env_path);
    int argc = 1;
    while ((argv[argc] = va_arg(ap, const char *)) != NULL)
        argc++;
    va_end(ap);
    char out[300], err[300];
    snprintf(out, sizeof(out), "%s/out", tmpdir);
    snprintf(err, sizeof(err), "%s/err", tmpdir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(127);
        if (env_path)
            setenv("JOBEXEC_CONFIG_PATH", env_path, 1);
        else
            unsetenv("JOBEXEC_CONFIG_PATH");
        execv(JOBEXEC_CLI, (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    r->status = WEXITSTATUS(st);
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
}

static result r;

static void test_help_and_version(void **state)
{
    (void)state;
    run(&r, NULL, "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: jobexec"));
    assert_non_null(strstr(r.out, "\n  check "));
    assert_non_null(strstr(r.out, "\n  config "));
    assert_string_equal(r.err, "");
    run(&r, NULL, "-h", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: jobexec"));
    run(&r, NULL, "--version", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "jobexec " JOBEXEC_VERSION_STRING "\n");
    run(&r, NULL, "check", "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: jobexec check [FILE]"));
    run(&r, NULL, "config", "-h", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: jobexec config [FILE]"));
}

static void test_bad_usage(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {NULL},
        {"frobnicate", NULL},
        {"--bogus", NULL},
        {"check", "--bogus", NULL},
        {"check", "a.toml", "b.toml"},
        {"config", "-x", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(&r, NULL, cases[i][0], cases[i][0] ? cases[i][1] : NULL,
            cases[i][0] && cases[i][1] ? cases[i][2] : NULL, NULL);
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "usage: jobexec"));
    }
}

static void test_check(void **state)
{
    (void)state;
    run(&r, NULL, "check", DATA "valid.toml", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");

    run(&r, NULL, "check", DATA "warnings.toml", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(
        r.out,
        "WARNING " DATA "warnings.toml:4: nb_workers = 2: unknown key in "
        "[JOB], ignored; did you mean nb_of_workers?\n"
        "WARNING " DATA "warnings.toml:6: nb_of_workers = 3: duplicate key "
        "(first set on line 5); the last one is used\n");

    run(&r, NULL, "check", DATA "errors.toml", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(
        r.out,
        "ERROR " DATA "errors.toml:3: mode = \"cluster\": unknown mode "
        "\"cluster\": expected \"development\" or \"standalone\"\n"
        "ERROR " DATA "errors.toml:4: nb_of_workers = \"0:int\": must be at "
        "least 1\n"
        "WARNING " DATA "errors.toml:5: nb_workers = 4: unknown key in [JOB], "
        "ignored; did you mean nb_of_workers?\n");

    run(&r, NULL, "check", DATA "missing.toml", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "ERROR " DATA "missing.toml: cannot read the "
                               "file: No such file or directory\n");

    /* The env layer's problems are reported too. */
    run(&r, DATA "errors.toml", "check", DATA "valid.toml", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "ERROR " DATA "errors.toml:4: "));

    /* Without FILE, only the env layer; with neither, nothing to say. */
    run(&r, DATA "warnings.toml", "check", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "WARNING " DATA "warnings.toml:4: "));
    run(&r, NULL, "check", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
}

static void test_config(void **state)
{
    (void)state;
    static const char valid_export[] = "[JOB]\n"
                                       "mode = \"standalone\"\n"
                                       "nb_of_workers = \"2:int\"\n"
                                       "job_timeout = \"1m30s:timedelta\"\n"
                                       "capture_output = \"True:bool\"\n"
                                       "kill_grace = \"5s:timedelta\"\n"
                                       "max_output_bytes = \"1048576:int\"\n"
                                       "memory_limit = \"0:int\"\n"
                                       "max_jobs_per_worker = \"1:int\"\n";
    run(&r, NULL, "config", DATA "valid.toml", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, valid_export);
    assert_string_equal(r.err, "");

    run(&r, DATA "valid.toml", "config", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, valid_export);

    run(&r, NULL, "config", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "mode = \"development\"\n"));

    /* Warnings go to stderr, keeping stdout loadable. */
    run(&r, NULL, "config", DATA "warnings.toml", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "nb_of_workers = \"3:int\"\n"));
    assert_non_null(strstr(r.err, "WARNING " DATA "warnings.toml:4: "));

    run(&r, NULL, "config", DATA "errors.toml", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "ERROR " DATA "errors.toml:3: mode = "));
    assert_non_null(strstr(r.err, "ERROR " DATA "errors.toml:4: "));

    run(&r, NULL, "config", DATA "missing.toml", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "cannot read the file"));

    /* Templates are resolved in what is printed. */
    char path[300];
    snprintf(path, sizeof(path), "%s/env.toml", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[JOB]\nnb_of_workers = \"ENV[JX_CLI_WORKERS]:int\"\n", f);
    fclose(f);
    setenv("JX_CLI_WORKERS", "3", 1);
    run(&r, NULL, "config", path, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "nb_of_workers = \"3:int\"\n"));
    unsetenv("JX_CLI_WORKERS");
    run(&r, NULL, "config", path, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "environment variable JX_CLI_WORKERS is not "
                                  "set"));

    /* What config prints, config reads back the same. */
    run(&r, NULL, "config", DATA "valid.toml", NULL);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(r.out, f);
    fclose(f);
    run(&r, NULL, "config", path, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, valid_export);
}

static void test_examples(void **state)
{
    (void)state;
    /* The example files stay valid. */
    setenv("JOBEXEC_WORKERS", "6", 1);
    run(&r, NULL, "check", EXAMPLES "config-typed.toml", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    run(&r, NULL, "config", EXAMPLES "config-typed.toml", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "nb_of_workers = \"6:int\"\n"));
    assert_non_null(strstr(r.out, "kill_grace = \"2s500ms:timedelta\"\n"));
    unsetenv("JOBEXEC_WORKERS");
    run(&r, NULL, "check", EXAMPLES "config.toml", NULL);
    assert_int_equal(r.status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_examples),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
