# Warnings for moeasr's own targets (not for third-party headers).
function(moeasr_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
      $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>)
  endif()
endfunction()
