/* test_cli_run.c - `jobexec run` through the real binary: grouping, order,
 * the joblog, exit statuses, the worker limit, and cleanup after a timeout
 * and after SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc_util.h"

struct result {
    int status; /* exit status, or 128 + signal */
    char out[65536];
    char err[65536];
};

static char tmpdir[] = "/tmp/jobexec-cli-run-XXXXXX";

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/jobexec-cli-run-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void slurp(const char *file, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
}

/* Starts `jobexec run ARGS...` with `input` on stdin; output to files.
 * Returns its pid. */
static pid_t start(const char *input, const char *const *args)
{
    char in[512], out[512], err[512];
    path(in, sizeof(in), "stdin");
    path(out, sizeof(out), "stdout");
    path(err, sizeof(err), "stderr");
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs(input, f);
    fclose(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int i = open(in, O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
            e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 ||
            dup2(e, 2) < 0)
            _exit(99);
        const char *argv[32] = {JOBEXEC_CLI, "run"};
        int n = 2;
        for (; args && *args && n < 31; args++)
            argv[n++] = *args;
        argv[n] = NULL;
        execv(JOBEXEC_CLI, (char *const *)argv);
        _exit(98);
    }
    return pid;
}

static void finish(pid_t pid, struct result *r)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char out[512], err[512];
    path(out, sizeof(out), "stdout");
    path(err, sizeof(err), "stderr");
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
}

static struct result *run(const char *input, const char *const *args)
{
    static struct result r;
    finish(start(input, args), &r);
    return &r;
}

/* Waits (without sleeping) until `file` holds at least `lines` lines. */
static void await_lines(const char *file, int lines)
{
    for (;;) {
        char buf[4096];
        slurp(file, buf, sizeof(buf));
        int n = 0;
        for (char *p = buf; *p; p++)
            n += *p == '\n';
        if (n >= lines)
            return;
        sched_yield();
    }
}


static void test_grouped_output(void **state)
{
    (void)state;
    const char *args[] = {"-j", "2", NULL};
    struct result *r = run("for i in 1 2 3 4 5; do echo A$i; done\n"
                           "\n   \n"
                           "for i in 1 2 3 4 5; do echo B$i; echo E$i >&2; done\n",
                           args);
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "A1\nA2\nA3\nA4\nA5\n"));
    assert_non_null(strstr(r->out, "B1\nB2\nB3\nB4\nB5\n"));
    assert_int_equal(strlen(r->out), 30);
    assert_string_equal(r->err, "E1\nE2\nE3\nE4\nE5\n");
}

static void test_order(void **state)
{
    (void)state;
    char gate[512], input[4096];
    path(gate, sizeof(gate), "gate");
    /* The first line finishes last: it waits until the second's process
     * is gone, reaped by jobexec. */
    snprintf(input, sizeof(input),
             "while [ ! -s %s ]; do :; done; "
             "while kill -0 $(cat %s) 2>/dev/null; do :; done; echo first\n"
             "echo second; echo $$ > %s.tmp; mv %s.tmp %s\n",
             gate, gate, gate, gate, gate);
    const char *args[] = {"-j", "2", NULL};
    struct result *r = run(input, args);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "second\nfirst\n");
    unlink(gate);
    const char *keep[] = {"-j", "2", "--keep-order", NULL};
    r = run(input, keep);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "first\nsecond\n");
}

static void test_joblog(void **state)
{
    (void)state;
    char log[512];
    path(log, sizeof(log), "joblog.tsv");
    const char *args[] = {"-j", "2", "--keep-order", "--joblog", log, NULL};
    struct result *r = run("echo hello\n\nexit 3\nkill -9 $$\n", args);
    assert_int_equal(r->status, 2);
    char text[8192];
    slurp(log, text, sizeof(text));
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    assert_string_equal(line, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\t"
                              "Exitval\tSignal\tCommand");
    struct {
        int seq, exitval, sig;
        const char *cmd;
        long receive;
    } want[] = {{1, 0, 0, "echo hello", 6}, {2, 3, 0, "exit 3", 0},
                {3, 0, 9, "kill -9 $$", 0}};
    for (int i = 0; i < 3; i++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        int seq, exitval, sig;
        long long st_s, st_ms;
        double runtime;
        long send, receive;
        char host[8], cmd[128];
        int n = sscanf(line, "%d\t%7[^\t]\t%lld.%3lld\t%lf\t%ld\t%ld\t%d\t%d\t%127[^\n]",
                       &seq, host, &st_s, &st_ms, &runtime, &send, &receive,
                       &exitval, &sig, cmd);
        assert_int_equal(n, 10);
        assert_int_equal(seq, want[i].seq);
        assert_string_equal(host, ":");
        assert_true(st_s > 1600000000);
        assert_true(runtime >= 0.0);
        /* Starttime has milliseconds, JobRuntime three decimals. */
        char *tab1 = strchr(line, '\t'), *tab2 = strchr(tab1 + 1, '\t');
        char *dot = strchr(tab2 + 1, '.');
        assert_int_equal(strchr(dot, '\t') - dot, 4);
        char *tab4 = strchr(strchr(tab2 + 1, '\t') + 1, '\t');
        char *rdot = strchr(strchr(tab2 + 1, '\t') + 1, '.');
        assert_int_equal(tab4 - rdot, 4);
        assert_int_equal(send, 0);
        assert_int_equal(receive, want[i].receive);
        assert_int_equal(exitval, want[i].exitval);
        assert_int_equal(sig, want[i].sig);
        assert_string_equal(cmd, want[i].cmd);
    }
    assert_null(strtok_r(NULL, "\n", &save));
}

static void test_exit_statuses(void **state)
{
    (void)state;
    const char *j2[] = {"-j", "2", NULL};
    assert_int_equal(run("true\ntrue\n", j2)->status, 0);
    assert_int_equal(run("false\ntrue\nexit 4\nfalse\n", j2)->status, 3);
    char many[4096] = "";
    for (int i = 0; i < 150; i++)
        strcat(many, "false\n");
    assert_int_equal(run(many, j2)->status, 101);
    const char *dev[] = {"--mode", "development", NULL};
    assert_int_equal(run("false\necho x\n", dev)->status, 1);
    const char *bad_j[] = {"-j", "0", NULL};
    struct result *r = run("true\n", bad_j);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->err, "-j"));
    const char *bad_opt[] = {"--no-such-option", NULL};
    assert_int_equal(run("true\n", bad_opt)->status, 2);
    const char *bad_to[] = {"--timeout", "soon", NULL};
    assert_int_equal(run("true\n", bad_to)->status, 2);
    const char *missing[] = {"-c", "/nonexistent/config.toml", NULL};
    r = run("true\n", missing);
    assert_int_equal(r->status, 255);
    assert_non_null(strstr(r->err, "/nonexistent/config.toml"));
    char cfg[512];
    path(cfg, sizeof(cfg), "bad.toml");
    FILE *f = fopen(cfg, "w");
    fputs("[JOB]\nnb_of_workers = \"0:int\"\n", f);
    fclose(f);
    const char *badcfg[] = {"-c", cfg, NULL};
    r = run("true\n", badcfg);
    assert_int_equal(r->status, 255);
    assert_non_null(strstr(r->err, "nb_of_workers"));
}

static void test_worker_limit(void **state)
{
    (void)state;
    char log[512], gate[512], input[12288] = "";
    path(log, sizeof(log), "starts");
    path(gate, sizeof(gate), "go");
    for (int i = 0; i < 5; i++) {
        char line[2048];
        snprintf(line, sizeof(line),
                 "echo s >> %s; while [ ! -e %s ]; do :; done; echo e >> %s\n",
                 log, gate, log);
        strcat(input, line);
    }
    const char *args[] = {"-j", "2", NULL};
    pid_t pid = start(input, args);
    await_lines(log, 2); /* two jobs hold both workers */
    int fd = open(gate, O_WRONLY | O_CREAT, 0600);
    close(fd);
    struct result r;
    finish(pid, &r);
    assert_int_equal(r.status, 0);
    char text[4096];
    slurp(log, text, sizeof(text));
    int running = 0, most = 0, starts = 0;
    for (char *p = text; *p; p++) {
        if (*p == 's') {
            running++;
            starts++;
        } else if (*p == 'e') {
            running--;
        }
        if (running > most)
            most = running;
    }
    assert_int_equal(starts, 5);
    assert_int_equal(most, 2);
}

static void test_timeout_cleanup(void **state)
{
    (void)state;
    char pidfile[512], input[1024];
    path(pidfile, sizeof(pidfile), "bgpid");
    snprintf(input, sizeof(input), "sleep 300 & echo $! > %s; wait\n", pidfile);
    const char *args[] = {"-j", "2", "--timeout", "0.3s", NULL};
    struct result *r = run(input, args);
    assert_int_equal(r->status, 1);
    assert_non_null(strstr(r->err, "timed out"));
    char buf[64];
    slurp(pidfile, buf, sizeof(buf));
    pid_t bg = (pid_t)atoi(buf);
    assert_true(bg > 1);
    assert_true(process_ends(bg));
}

static void test_sigterm_cleanup(void **state)
{
    (void)state;
    char pidfile[512], log[512], input[2048];
    path(pidfile, sizeof(pidfile), "bgpid");
    path(log, sizeof(log), "joblog");
    snprintf(input, sizeof(input),
             "sleep 300 & echo $! > %s.tmp; mv %s.tmp %s; wait\n"
             "sleep 301\nsleep 302\n",
             pidfile, pidfile, pidfile);
    const char *args[] = {"-j", "2", "--joblog", log, NULL};
    pid_t pid = start(input, args);
    char buf[64] = "";
    while (!buf[0]) {
        slurp(pidfile, buf, sizeof(buf));
        sched_yield();
    }
    pid_t bg = (pid_t)atoi(buf);
    assert_int_equal(kill(pid, SIGTERM), 0);
    struct result r;
    finish(pid, &r);
    assert_int_equal(r.status, 143);
    assert_true(process_ends(bg));
    /* Every job has its joblog line: two killed, one never started. */
    char text[4096];
    slurp(log, text, sizeof(text));
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
}

static void test_help(void **state)
{
    (void)state;
    const char *args[] = {"--help", NULL};
    struct result *r = run("", args);
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "usage: jobexec run"));
    assert_non_null(strstr(r->out, "--joblog"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grouped_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_joblog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
