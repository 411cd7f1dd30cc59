# Cross build for 64-bit ARM (Debian arm64): see cross-debian.cmake and
# scripts/cross_test.sh aarch64.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(MOEASR_CROSS_TRIPLE aarch64-linux-gnu)
set(MOEASR_CROSS_ARCH arm64)
set(MOEASR_QEMU_ARCH aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
