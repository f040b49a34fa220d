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
# Reliability: faults from jobs and from the host, misuse, load.
jobexec_test(test_faults SOURCES test_faults.c LABELS fault TIMEOUT 300)
# jobexec run, through the real binary.
jobexec_test(test_cli_run SOURCES test_cli_run.c LABELS "cli;concurrency" TIMEOUT 300)
add_dependencies(test_cli_run jobexec_cli)
jobexec_test(test_host_faults SOURCES test_host_faults.c LABELS "fault;concurrency" TIMEOUT 300)
# Job graphs: dependencies, cascades, skipping, submissions.
jobexec_test(test_graph SOURCES test_graph.c LABELS "engine;concurrency" TIMEOUT 600)
jobexec_test(test_misuse SOURCES test_misuse.c LABELS fault TIMEOUT 300)
# The same faults without pidfds (kernels before 5.3, valgrind): a seccomp
# filter makes pidfd_open() fail with ENOSYS, under the sanitizers too.
foreach(t test_faults test_host_faults)
  add_test(NAME ${t}_nopidfd COMMAND ${t})
  set_tests_properties(${t}_nopidfd PROPERTIES LABELS fault TIMEOUT 300
    ENVIRONMENT "JX_FAULTS_NO_PIDFD=1;JOBEXEC_CONFIG_PATH=;CMOCKA_MESSAGE_OUTPUT=stdout")
endforeach()
set_tests_properties(test_host_faults_nopidfd PROPERTIES LABELS "fault;concurrency")
# Load: 16 submitting threads with cancels and waits at random, and a
# million queued jobs (JOBEXEC_LOAD_FULL=1 for the full sizes).
jobexec_test(test_load SOURCES test_load.c LABELS "load;concurrency" TIMEOUT 900)
# The soak run: tests/soak.sh MINUTES builds and runs this; no ctest.
add_executable(soak_jobexec soak.c)
target_compile_options(soak_jobexec PRIVATE ${JOBEXEC_WARNINGS})
target_compile_definitions(soak_jobexec PRIVATE _GNU_SOURCE)
target_include_directories(soak_jobexec PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(soak_jobexec PRIVATE jobexec_static)
