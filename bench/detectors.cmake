# Rules engine microbenchmarks: include(detectors.cmake) from bench/CMakeLists.txt.
add_executable(detectors_bench ${CMAKE_CURRENT_LIST_DIR}/detectors_bench.cc)
sluice_link_core(detectors_bench)
target_link_libraries(detectors_bench PRIVATE benchmark::benchmark)
target_compile_definitions(detectors_bench PRIVATE SLUICE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(detectors_bench PRIVATE ${PROJECT_SOURCE_DIR})
