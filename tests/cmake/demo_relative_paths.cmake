# scripts/demo.sh MODEL_DIR FILE names both from the caller's directory (it
# changes to the repository root to run): run from a scratch directory with
# relative paths, it decodes the file there.   -DSOURCE_DIR=... -DCLI=... -DWORK=...
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/model)
file(COPY ${SOURCE_DIR}/tests/data/models/moe_ln/ DESTINATION ${WORK}/model)
file(COPY ${SOURCE_DIR}/tests/data/audio/hello.wav DESTINATION ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} -E env MOEASR_DEMO_BINARY=${CLI} MOEASR_DEMO_JSON=1
                        bash ${SOURCE_DIR}/scripts/demo.sh model hello.wav
                WORKING_DIRECTORY ${WORK} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "demo.sh with relative paths failed (rc=${rc}):\n${err}")
endif()
string(JSON key GET "${out}" key)
if(NOT key STREQUAL "hello" OR NOT err MATCHES "with ${WORK}/model")
  message(FATAL_ERROR "demo.sh decoded something else:\n${out}\n${err}")
endif()
file(REMOVE_RECURSE ${WORK})
