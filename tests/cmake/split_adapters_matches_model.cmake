# tools/split_adapters.py turns a model with adapters into a base model and an
# adapter set; moeasr-decode on the base with --adapters must print exactly
# what it prints for the original model (same JSON apart from timings), in full
# attention and in chunked streaming.   -DPYTHON=... -DCLI=... -DSOURCE_DIR=... -DWORK=...
# RUNNER: the cross build's emulator, "|"-separated (empty in a native build).
string(REPLACE "|" ";" RUNNER "${RUNNER}")
file(REMOVE_RECURSE ${WORK})
set(data ${SOURCE_DIR}/tests/data)
set(model ${data}/soft_moe/models/soft_moa)
execute_process(COMMAND ${PYTHON} ${SOURCE_DIR}/tools/split_adapters.py --model ${model} --base ${WORK}/base
                        --adapters ${WORK}/set
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "split_adapters.py failed: ${err}")
endif()
foreach(chunk -1 4)
  execute_process(COMMAND ${RUNNER} ${CLI} --model ${model} --wav ${data}/audio/hello.wav --chunk-size ${chunk}
                  OUTPUT_VARIABLE whole RESULT_VARIABLE rc1 ERROR_VARIABLE err1)
  execute_process(COMMAND ${RUNNER} ${CLI} --model ${WORK}/base --adapters ${WORK}/set --wav ${data}/audio/hello.wav
                          --chunk-size ${chunk}
                  OUTPUT_VARIABLE split RESULT_VARIABLE rc2 ERROR_VARIABLE err2)
  execute_process(COMMAND ${RUNNER} ${CLI} --model ${WORK}/base --wav ${data}/audio/hello.wav --chunk-size ${chunk}
                  OUTPUT_VARIABLE plain RESULT_VARIABLE rc3 ERROR_VARIABLE err3)
  if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0 OR NOT rc3 EQUAL 0)
    message(FATAL_ERROR "moeasr-decode failed (${rc1}, ${rc2}, ${rc3}): ${err1}${err2}${err3}")
  endif()
  foreach(var whole split plain)
    string(JSON ${var} REMOVE "${${var}}" decode_seconds)
  endforeach()
  if(NOT whole STREQUAL split)
    message(FATAL_ERROR "chunk ${chunk}: base + adapter set differs from the model:\n${whole}\n${split}")
  endif()
  if(plain STREQUAL split)
    message(FATAL_ERROR "chunk ${chunk}: the base without adapters decodes identically: adapters not applied?")
  endif()
  message(STATUS "chunk ${chunk}: identical results")
endforeach()
file(REMOVE_RECURSE ${WORK})
