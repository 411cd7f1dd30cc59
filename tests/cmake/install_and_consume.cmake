# cmake --install into a scratch prefix, then build a consumer project with
# find_package(moeasr) (shared and static) and with pkg-config, and run it.
#   -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK=... -DMODEL=... -DWAV=...
#   [-DCONSUMER_C_FLAGS=... -DCONSUMER_CXX_FLAGS=... -DCONSUMER_LINKER_FLAGS=...]: the
#   build's own flags, so a sanitizer build's library links into a sanitizer consumer.
file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed")
endif()
foreach(f include/moeasr/moeasr.h lib/libmoeasr.a lib/cmake/moeasr/moeasrConfig.cmake lib/pkgconfig/moeasr.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install_consumer -B ${WORK}/consumer
                        -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
                        "-DCMAKE_C_FLAGS=${CONSUMER_C_FLAGS}" "-DCMAKE_CXX_FLAGS=${CONSUMER_CXX_FLAGS}"
                        "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_LINKER_FLAGS}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed:\n${out}\n${err}")
endif()
foreach(exe consumer_shared consumer_static)
  execute_process(COMMAND ${WORK}/consumer/${exe} ${MODEL} ${WAV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${exe} failed (${rc})")
  endif()
  message(STATUS "${exe}: ${out}")
endforeach()
file(REMOVE_RECURSE ${WORK})
