/* cli.h - the subcommands of the jobexec tool that live in files of their
 * own. */
#ifndef JOBEXEC_CLI_H
#define JOBEXEC_CLI_H

/* `jobexec run`: argv[0] is "run".  Returns the exit status. */
int jobexec_run(int argc, char **argv);

#endif
