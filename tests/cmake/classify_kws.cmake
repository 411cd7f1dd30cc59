# The shipped keyword-spotting model (models/kws_ast_moa) on the held-out test clips
# in samples/kws: each file is named <label>_<n>.wav and its top-1 label must be
# <label> with a softmax score of at least 0.5. A broken runtime or model (wrong
# fbank, patch order, adapters, weights) gives another label or a low score: the
# clips are from voices the model never heard, so only a working model gets them.
#   -DCLI=... -DMODEL=... -DSAMPLES=...
# RUNNER: the cross build's emulator, "|"-separated (empty in a native build).
string(REPLACE "|" ";" RUNNER "${RUNNER}")
file(GLOB wavs ${SAMPLES}/*.wav)
list(LENGTH wavs count)
if(count LESS 2)
  message(FATAL_ERROR "expected the sample WAVs in ${SAMPLES}")
endif()
execute_process(COMMAND ${RUNNER} ${CLI} ${MODEL} ${wavs} --json --top-k 1
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "rc=${rc}: ${err}")
endif()
string(REGEX MATCHALL "[^\n]+" lines "${out}")
list(LENGTH lines n)
if(NOT n EQUAL count)
  message(FATAL_ERROR "expected ${count} JSON lines: ${out}")
endif()
foreach(line IN LISTS lines)
  string(JSON file GET "${line}" file)
  string(JSON label GET "${line}" labels 0 label)
  string(JSON score GET "${line}" labels 0 score)
  get_filename_component(name "${file}" NAME_WE)
  string(REGEX REPLACE "_[0-9]+$" "" want "${name}")
  if(NOT label STREQUAL want OR score LESS 0.5)
    message(FATAL_ERROR "${file}: got '${label}' (${score}), want '${want}' with score >= 0.5")
  endif()
  message(STATUS "${name}: ${label} ${score}")
endforeach()
