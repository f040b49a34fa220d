# cmake -DEXAMPLE=program "-DEXPECT=regex@@regex..." -P run_example.cmake
# Runs an example, shows its output, and fails unless it exits 0 and its
# output matches every regular expression of EXPECT.
string(REPLACE "@@" ";" EXPECT "${EXPECT}")
execute_process(COMMAND ${EXAMPLE} RESULT_VARIABLE rc
  OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "${EXAMPLE} exited with ${rc}")
endif()
foreach(re IN LISTS EXPECT)
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "the output of ${EXAMPLE} does not match: ${re}")
  endif()
endforeach()
