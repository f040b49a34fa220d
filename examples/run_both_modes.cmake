# cmake -DEXAMPLE=program "-DEXPECT=regex@@regex..." -P run_both_modes.cmake
# Runs an example in development and in standalone mode, and fails unless
# both exit 0, print exactly the same, and match every regular expression.
string(REPLACE "@@" ";" EXPECT "${EXPECT}")
foreach(mode development standalone)
  execute_process(COMMAND ${EXAMPLE} ${mode} RESULT_VARIABLE rc
    OUTPUT_VARIABLE out_${mode} ERROR_VARIABLE err)
  message("${mode}:\n${out_${mode}}${err}")
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${EXAMPLE} ${mode} exited with ${rc}")
  endif()
endforeach()
if(NOT out_development STREQUAL out_standalone)
  message(FATAL_ERROR "the two modes print different output")
endif()
foreach(re IN LISTS EXPECT)
  if(NOT out_development MATCHES "${re}")
    message(FATAL_ERROR "the output of ${EXAMPLE} does not match: ${re}")
  endif()
endforeach()
