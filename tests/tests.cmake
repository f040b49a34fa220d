# The list of tests.  One cmocka program per module.
# Configuration: typed values, layers, loading, export, the CLI.
jobexec_test(test_value SOURCES test_value.c LABELS config)
jobexec_test(test_config SOURCES test_config.c LABELS config)
jobexec_test(test_loader SOURCES test_loader.c LABELS config)
jobexec_test(test_issues SOURCES test_issues.c LABELS config)
jobexec_test(test_checker SOURCES test_checker.c LABELS config)
jobexec_test(test_export SOURCES test_export.c LABELS config)
jobexec_test(test_cli_config SOURCES test_cli_config.c LABELS cli)
add_dependencies(test_cli_config jobexec_cli)
# The engine: function jobs and command jobs in both modes.
jobexec_test(test_engine SOURCES test_engine.c LABELS "engine;concurrency" TIMEOUT 300)
jobexec_test(test_command SOURCES test_command.c LABELS "engine;concurrency" TIMEOUT 300)
# jobexec run, through the real binary.
jobexec_test(test_cli_run SOURCES test_cli_run.c LABELS "cli;concurrency" TIMEOUT 300)
add_dependencies(test_cli_run jobexec_cli)
# Job graphs: dependencies, cascades, skipping, submissions.
jobexec_test(test_graph SOURCES test_graph.c LABELS "engine;concurrency" TIMEOUT 600)
