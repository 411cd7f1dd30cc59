# tools/convert_wenet.py --dtype int8|bf16 must produce exactly the weights the
# runtime makes itself for compute_type int8|bfloat16: decoding the converted
# model equals decoding the float32 model with --compute-type (same JSON apart
# from timings). And the converter refuses what the runtime's loader refuses:
# a train.yaml setting the loader rejects fails the conversion with the
# loader's message and leaves no model behind (native builds: the converter
# runs moeasr-decode --check itself).   -DPYTHON=... -DCLI=... -DSOURCE_DIR=... -DWORK=...
# RUNNER: the cross build's emulator, "|"-separated (empty in a native build).
string(REPLACE "|" ";" RUNNER "${RUNNER}")
file(REMOVE_RECURSE ${WORK})
if(RUNNER)
  set(runtime_check --no-runtime-check)  # an emulated binary cannot be run by the converter
else()
  set(runtime_check --runtime ${CLI})
endif()
set(data ${SOURCE_DIR}/tests/data)
set(ckpt ${data}/checkpoints/moe_ln)
foreach(pair "int8;int8" "bf16;bfloat16")
  list(GET pair 0 dtype)
  list(GET pair 1 compute)
  execute_process(COMMAND ${PYTHON} ${SOURCE_DIR}/tools/convert_wenet.py --checkpoint ${ckpt}/final.pt
                          --config ${ckpt}/train.yaml --units ${ckpt}/units.txt --out ${WORK}/${dtype} --dtype ${dtype}
                          ${runtime_check}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "convert_wenet.py --dtype ${dtype} failed: ${err}")
  endif()
  execute_process(COMMAND ${RUNNER} ${CLI} --model ${WORK}/${dtype} --wav ${data}/audio/hello.wav --chunk-size 4
                  OUTPUT_VARIABLE converted RESULT_VARIABLE rc1)
  execute_process(COMMAND ${RUNNER} ${CLI} --model ${data}/models/moe_ln --compute-type ${compute} --wav ${data}/audio/hello.wav
                          --chunk-size 4
                  OUTPUT_VARIABLE at_load RESULT_VARIABLE rc2)
  if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
    message(FATAL_ERROR "moeasr-decode failed (${rc1}, ${rc2})")
  endif()
  foreach(var converted at_load)
    string(JSON ${var} REMOVE "${${var}}" decode_seconds)
  endforeach()
  if(NOT converted STREQUAL at_load)
    message(FATAL_ERROR "${dtype}: converted model and compute_type ${compute} differ:\n${converted}\n${at_load}")
  endif()
  message(STATUS "${dtype}: identical results")
endforeach()
if(NOT RUNNER)
  file(READ ${ckpt}/train.yaml config)
  string(REPLACE "encoder_conf:\n" "encoder_conf:\n  layer_norm_type: rms_norm\n" config "${config}")
  file(WRITE ${WORK}/rms/train.yaml "${config}")
  execute_process(COMMAND ${PYTHON} ${SOURCE_DIR}/tools/convert_wenet.py --checkpoint ${ckpt}/final.pt
                          --config ${WORK}/rms/train.yaml --units ${ckpt}/units.txt --out ${WORK}/rms/out
                          --runtime ${CLI}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "cannot load the converted model: .*layer_norm_type" OR
     EXISTS ${WORK}/rms/out/model.safetensors)
    message(FATAL_ERROR "a train.yaml the loader refuses converted (rc=${rc}): ${err}")
  endif()
  message(STATUS "refused as the loader refuses: ${err}")
endif()
file(REMOVE_RECURSE ${WORK})
