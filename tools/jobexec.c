/* jobexec.c - the jobexec command: checks and shows configurations.  It
 * uses only the public API, as any host program would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobconfig.h>

#include "cli.h"

#define EXIT_USAGE 2

typedef struct subcommand subcommand;

struct subcommand {
    const char *name;
    const char *args;    /* shown after the name in usage lines */
    const char *summary; /* one line for the tool's help */
    const char *help;    /* the rest of the subcommand's --help */
    /* argv[0] is the subcommand's name. */
    int (*run)(const subcommand *sc, int argc, char **argv);
};

static int cmd_check(const subcommand *sc, int argc, char **argv);
static int cmd_config(const subcommand *sc, int argc, char **argv);
static int cmd_run(const subcommand *sc, int argc, char **argv);

static const subcommand subcommands[] = {
    {"check", "[FILE]", "report the problems of a configuration",
     "Loads FILE (and the file named by JOBEXEC_CONFIG_PATH) and prints one\n"
     "line per problem: LEVEL FILE:LINE: key = value: message.  Without\n"
     "FILE, only JOBEXEC_CONFIG_PATH is loaded, if set.\n"
     "Exits 0 when there is no ERROR, 1 when there is one.\n",
     cmd_check},
    {"config", "[FILE]", "print the resolved configuration",
     "Loads FILE (and the file named by JOBEXEC_CONFIG_PATH) and prints the\n"
     "resulting [JOB] section, with every layer and ENV[...] template\n"
     "applied, in the typed style that loads back to the same settings.\n"
     "Problems go to stderr.  Exits 1 when the configuration has an ERROR.\n",
     cmd_config},
    {"run", "[-c FILE] [-j N] [--mode MODE] [--timeout D] [--joblog FILE] ...",
     "run the lines of standard input as parallel jobs",
     "See 'jobexec run --help'.\n", cmd_run},
};

#define SUBCOMMAND_COUNT (sizeof(subcommands) / sizeof(subcommands[0]))

static void tool_usage(FILE *f)
{
    fprintf(f, "usage: jobexec [--help | --version] COMMAND [ARGS]\n\n"
               "commands:\n");
    for (size_t i = 0; i < SUBCOMMAND_COUNT; i++)
        fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\nRun 'jobexec COMMAND --help' for the options of a command.\n");
}

static void sub_usage(const subcommand *sc, FILE *f, bool full)
{
    fprintf(f, "usage: jobexec %s %s\n", sc->name, sc->args);
    if (full)
        fprintf(f, "\n%s", sc->help);
}

/* Reads the optional FILE argument shared by check and config.  Returns
 * -1 to go on, or an exit status. */
static int one_file_arg(const subcommand *sc, int argc, char **argv,
                        const char **file)
{
    *file = NULL;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            sub_usage(sc, stdout, true);
            return EXIT_SUCCESS;
        }
        if (!options_done && !strcmp(a, "--")) {
            options_done = true;
        } else if (!options_done && a[0] == '-' && a[1]) {
            fprintf(stderr, "jobexec %s: unknown option '%s'\n", sc->name, a);
            sub_usage(sc, stderr, false);
            return EXIT_USAGE;
        } else if (*file) {
            fprintf(stderr, "jobexec %s: too many arguments\n", sc->name);
            sub_usage(sc, stderr, false);
            return EXIT_USAGE;
        } else {
            *file = a;
        }
    }
    return -1;
}

static void print_issues(FILE *f, const job_issues *issues)
{
    char line[1024];
    for (size_t i = 0; i < job_issues_count(issues); i++) {
        if (job_issue_format(job_issues_get(issues, i), line, sizeof(line)) >= 0)
            fprintf(f, "%s\n", line);
    }
}

/* Loads FILE, or only JOBEXEC_CONFIG_PATH when there is none. */
static int load(job_config *cfg, const char *file, job_issues **issues)
{
    if (file)
        return job_config_load_file(cfg, file, issues);
    return job_config_load_env(cfg, issues);
}

static int failed(const char *what, int rc)
{
    fprintf(stderr, "jobexec: %s: %s\n", what, job_strerror(rc));
    return EXIT_FAILURE;
}

static int cmd_check(const subcommand *sc, int argc, char **argv)
{
    const char *file;
    int status = one_file_arg(sc, argc, argv, &file);
    if (status >= 0)
        return status;
    job_config *cfg;
    int rc = job_config_new(&cfg);
    if (rc != JOB_OK)
        return failed("check", rc);
    job_issues *issues = NULL;
    rc = load(cfg, file, &issues);
    if (rc == JOB_OK) {
        /* The checker repeats the warnings of the load: print its list. */
        job_issues_free(issues);
        issues = NULL;
        rc = job_config_check(cfg, &issues);
    }
    print_issues(stdout, issues);
    bool errors = job_issues_count_level(issues, JOB_ISSUE_ERROR) > 0;
    job_issues_free(issues);
    job_config_free(cfg);
    if (rc != JOB_OK && rc != JOB_ECONFIG && rc != JOB_EIO)
        return failed("check", rc);
    return errors || rc != JOB_OK ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int cmd_config(const subcommand *sc, int argc, char **argv)
{
    const char *file;
    int status = one_file_arg(sc, argc, argv, &file);
    if (status >= 0)
        return status;
    job_config *cfg;
    int rc = job_config_new(&cfg);
    if (rc != JOB_OK)
        return failed("config", rc);
    job_issues *issues = NULL;
    rc = load(cfg, file, &issues);
    print_issues(stderr, issues);
    job_issues_free(issues);
    char *text = NULL;
    if (rc == JOB_OK)
        rc = job_config_export(cfg, &text, NULL);
    job_config_free(cfg);
    if (rc == JOB_ECONFIG || rc == JOB_EIO)
        return EXIT_FAILURE;
    if (rc != JOB_OK)
        return failed("config", rc);
    fputs(text, stdout);
    free(text);
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_run(const subcommand *sc, int argc, char **argv)
{
    (void)sc;
    return jobexec_run(argc, argv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        tool_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        tool_usage(stdout);
        return EXIT_SUCCESS;
    }
    if (!strcmp(cmd, "--version")) {
        printf("jobexec %s\n", job_version());
        return EXIT_SUCCESS;
    }
    for (size_t i = 0; i < SUBCOMMAND_COUNT; i++)
        if (!strcmp(cmd, subcommands[i].name))
            return subcommands[i].run(&subcommands[i], argc - 1, argv + 1);
    fprintf(stderr, "jobexec: unknown command '%s'\n", cmd);
    tool_usage(stderr);
    return EXIT_USAGE;
}
