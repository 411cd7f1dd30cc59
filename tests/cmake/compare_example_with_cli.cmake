# The C example (streaming 100 ms pieces through the C API) must print the same
# final text as moeasr-decode on the same file.
#   -DEXAMPLE=... -DCLI=... -DMODEL=... -DWAV=...
# RUNNER: the cross build's emulator, "|"-separated (empty in a native build).
string(REPLACE "|" ";" RUNNER "${RUNNER}")
execute_process(COMMAND ${RUNNER} ${CLI} --model ${MODEL} --wav ${WAV} OUTPUT_VARIABLE cli_out RESULT_VARIABLE cli_rc)
if(NOT cli_rc EQUAL 0)
  message(FATAL_ERROR "moeasr-decode failed (${cli_rc})")
endif()
string(JSON cli_text GET "${cli_out}" text)
execute_process(COMMAND ${RUNNER} ${EXAMPLE} ${MODEL} ${WAV} OUTPUT_VARIABLE example_out ERROR_QUIET RESULT_VARIABLE ex_rc)
if(NOT ex_rc EQUAL 0)
  message(FATAL_ERROR "example failed (${ex_rc})")
endif()
string(STRIP "${example_out}" example_text)
if(NOT example_text STREQUAL cli_text)
  message(FATAL_ERROR "texts differ:\n  moeasr-decode: '${cli_text}'\n  example:       '${example_text}'")
endif()
message(STATUS "same text: '${cli_text}'")
