# moeasr-classify on the soft_moa fixture: the JSON top-2 of hello.wav is the
# reference's ("left" 0.867790, "on" 0.793240: tests/data/ast/soft_moa.golden,
# to 1e-4); text output; a missing file is reported and gives exit 1 while the
# others are classified; bad flags are usage errors (exit 2).
#   -DCLI=... -DDATA=...
# RUNNER: the cross build's emulator, "|"-separated (empty in a native build).
string(REPLACE "|" ";" RUNNER "${RUNNER}")
execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa ${DATA}/audio/hello.wav --json --top-k 2
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "rc=${rc}: ${err}")
endif()
string(JSON n LENGTH "${out}" labels)
string(JSON first GET "${out}" labels 0 label)
string(JSON first_score GET "${out}" labels 0 score)
string(JSON second GET "${out}" labels 1 label)
string(JSON second_score GET "${out}" labels 1 score)
if(NOT n EQUAL 2 OR NOT first STREQUAL "left" OR NOT second STREQUAL "on")
  message(FATAL_ERROR "unexpected labels: ${out}")
endif()
foreach(pair "${first_score};0.867790" "${second_score};0.793240")
  list(GET pair 0 got)
  list(GET pair 1 want)
  string(SUBSTRING "${got}" 0 6 got4)
  string(SUBSTRING "${want}" 0 6 want4)
  if(NOT got4 STREQUAL want4)
    message(FATAL_ERROR "score ${got} is not ${want} to 1e-4: ${out}")
  endif()
endforeach()

execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa ${DATA}/audio/hello.wav ${DATA}/audio/nope.wav
                        ${DATA}/audio/hello_8k.wav --top-k 1
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(REGEX MATCHALL "[^\n]+" lines "${out}")
list(LENGTH lines n)
if(NOT rc EQUAL 1 OR NOT n EQUAL 2 OR NOT err MATCHES "nope.wav" OR NOT err MATCHES "1 of 3 files failed")
  message(FATAL_ERROR "missing file: rc=${rc} out=${out} err=${err}")
endif()
if(NOT out MATCHES "hello.wav\tleft\t0.8677")
  message(FATAL_ERROR "text output: ${out}")
endif()

execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa ${DATA}/audio/hello.wav --top-k 0
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--top-k must be >= 1")
  message(FATAL_ERROR "bad --top-k: rc=${rc} ${err}")
endif()
execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "no WAV: rc=${rc} ${err}")
endif()
execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/models/moe_ln ${DATA}/audio/hello.wav
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "classifier.yaml")
  message(FATAL_ERROR "an ASR model directory: rc=${rc} ${err}")
endif()
# Multi-channel files: refused with a message naming --channel, which then
# works (channel 0 of hello_stereo.wav is hello.wav; the mix's exactness is
# checked by tests/cli/decode_cli_test.py and the WAV reader tests).
execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa ${DATA}/audio/hello_stereo.wav --json --top-k 2
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "2 channels; choose one \\(channel option\\) or mix them")
  message(FATAL_ERROR "stereo without --channel: rc=${rc} ${err}")
endif()
execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa ${DATA}/audio/hello.wav --json --top-k 2
                OUTPUT_VARIABLE mono RESULT_VARIABLE rc)
execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa ${DATA}/audio/hello_stereo.wav --json --top-k 2
                        --channel 0
                OUTPUT_VARIABLE picked RESULT_VARIABLE rc ERROR_VARIABLE err)
string(JSON mono_labels GET "${mono}" labels)
string(JSON picked_labels GET "${picked}" labels)
if(NOT rc EQUAL 0 OR NOT mono_labels STREQUAL picked_labels)
  message(FATAL_ERROR "--channel 0: rc=${rc} ${err}\n${picked}\nvs mono ${mono}")
endif()
execute_process(COMMAND ${RUNNER} ${CLI} ${DATA}/ast/soft_moa ${DATA}/audio/hello_stereo.wav --json --top-k 2
                        --channel mix
                OUTPUT_VARIABLE mixed RESULT_VARIABLE rc ERROR_VARIABLE err)
string(JSON n ERROR_VARIABLE bad LENGTH "${mixed}" labels)
if(NOT rc EQUAL 0 OR NOT n EQUAL 2)
  message(FATAL_ERROR "--channel mix: rc=${rc} ${err} ${mixed}")
endif()
execute_process(COMMAND ${RUNNER} ${CLI} --version OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "^moeasr-classify [0-9]+\\.[0-9]+\\.[0-9]+\n$")
  message(FATAL_ERROR "--version: rc=${rc} ${out}")
endif()
