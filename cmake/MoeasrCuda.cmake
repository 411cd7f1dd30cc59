# MOEASR_WITH_CUDA = OFF (default) | ON | AUTO.
# ON insists on the CUDA backend, AUTO turns it on when nvcc is found; a CPU
# build (the default) never needs CUDA, nor does its installed package.
set(MOEASR_CUDA_ENABLED OFF)
set(MOEASR_PC_CUDA_LIBS "")
if(MOEASR_WITH_CUDA STREQUAL "AUTO" OR MOEASR_WITH_CUDA)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(_moeasr_nvcc nvcc HINTS /usr/local/cuda/bin ENV CUDA_HOME PATH_SUFFIXES bin)
    if(_moeasr_nvcc)
      set(CMAKE_CUDA_COMPILER ${_moeasr_nvcc})
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Hopper (H100/H200) at least; add older archs with -DCMAKE_CUDA_ARCHITECTURES=...
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    if(NOT DEFINED CMAKE_CUDA_RUNTIME_LIBRARY)
      # cuBLAS links the shared runtime anyway: one copy of it in the process
      # (CMake's default, Static, would link cudart_static beside it).
      set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(MOEASR_CUDA_ENABLED ON)
    # moeasr.pc: a static link needs cuBLAS and the CUDA runtime too.
    set(MOEASR_PC_CUDA_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -lcublas -lcudart")
  elseif(MOEASR_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "MOEASR_WITH_CUDA=ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "nvcc not found: building without the CUDA backend")
  endif()
endif()
