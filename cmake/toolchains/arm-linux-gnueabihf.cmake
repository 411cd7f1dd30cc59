# Cross build for 32-bit ARM with NEON (Debian armhf: ARMv7-A, VFPv3-D16 by
# default; NEON and VFPv4's FMA are asked for here, as on every Cortex-A7/A9/
# A15/A53 in 32-bit mode): see cross-debian.cmake and scripts/cross_test.sh armhf.
set(CMAKE_SYSTEM_PROCESSOR armv7-a)
set(MOEASR_CROSS_TRIPLE arm-linux-gnueabihf)
set(MOEASR_CROSS_ARCH armhf)
set(MOEASR_QEMU_ARCH arm)
set(CMAKE_C_FLAGS_INIT "-mfpu=neon-vfpv4 -mfp16-format=ieee")
set(CMAKE_CXX_FLAGS_INIT "-mfpu=neon-vfpv4 -mfp16-format=ieee")
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
