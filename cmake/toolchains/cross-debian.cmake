# Shared by the cross toolchain files: Debian's cross compiler for
# MOEASR_CROSS_TRIPLE, the target's libraries from the private sysroot of
# scripts/cross_sysroot.sh (.cross/<arch>/sysroot), and qemu-user to run the
# target's programs (tests, the demo) on the build machine: ctest runs every
# test through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${MOEASR_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MOEASR_CROSS_TRIPLE}-g++)
get_filename_component(_moeasr_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(MOEASR_CROSS_SYSROOT "${_moeasr_root}/.cross/${MOEASR_CROSS_ARCH}/sysroot" CACHE PATH
    "Target libraries (scripts/cross_sysroot.sh ${MOEASR_CROSS_ARCH})")
if(NOT EXISTS "${MOEASR_CROSS_SYSROOT}/usr/include/yaml-cpp")
  message(FATAL_ERROR "no target libraries in ${MOEASR_CROSS_SYSROOT}: run scripts/cross_sysroot.sh ${MOEASR_CROSS_ARCH}")
endif()
# The toolchain's own runtime (libc, libstdc++, libgomp) and the sysroot's libraries.
set(CMAKE_FIND_ROOT_PATH "${MOEASR_CROSS_SYSROOT}" "/usr/${MOEASR_CROSS_TRIPLE}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "${MOEASR_CROSS_SYSROOT}/usr/lib/${MOEASR_CROSS_TRIPLE}/pkgconfig:${MOEASR_CROSS_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${MOEASR_CROSS_SYSROOT}")
# The sysroot's shared libraries, found at run time through an RPATH (the
# libraries of the build tree are found the same way).
set(_moeasr_libdir "${MOEASR_CROSS_SYSROOT}/usr/lib/${MOEASR_CROSS_TRIPLE}")
set(CMAKE_BUILD_RPATH "${_moeasr_libdir}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_moeasr_libdir}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_moeasr_libdir}")
# qemu-user with the toolchain's runtime as the target's root; QEMU_CPU picks
# the emulated core (e.g. cortex-a53, cortex-a76, max; default: qemu's own).
find_program(MOEASR_QEMU qemu-${MOEASR_QEMU_ARCH} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${MOEASR_QEMU};-L;/usr/${MOEASR_CROSS_TRIPLE}")
