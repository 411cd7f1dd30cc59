# cmake --install: header, shared + static libraries, a CMake package
# (find_package(moeasr) -> moeasr::moeasr, moeasr::moeasr_static) and moeasr.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(FILES ${PROJECT_SOURCE_DIR}/include/moeasr/moeasr.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/moeasr)
install(TARGETS moeasr_shared moeasr_static EXPORT moeasrTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT moeasrTargets NAMESPACE moeasr:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/moeasr)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/moeasrConfig.cmake.in
  ${PROJECT_BINARY_DIR}/moeasrConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/moeasr)
# Same major version, as the shared library's SONAME (libmoeasr.so.0) says:
# the C API only grows, and structs of an older size keep their defaults
# (moeasr.h), so a project asking for 0.1 builds against 0.2.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/moeasrConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/moeasrConfig.cmake ${PROJECT_BINARY_DIR}/moeasrConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/moeasr)

configure_file(${PROJECT_SOURCE_DIR}/cmake/moeasr.pc.in ${PROJECT_BINARY_DIR}/moeasr.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/moeasr.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
