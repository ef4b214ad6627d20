# The order-flow rule's cost per event at the simulator's event mix (issue 5):
# include(flow.cmake) from bench/CMakeLists.txt.
add_executable(flow_bench ${CMAKE_CURRENT_LIST_DIR}/flow_bench.cc)
sluice_link_core(flow_bench)
target_link_libraries(flow_bench PRIVATE benchmark::benchmark)
target_compile_definitions(flow_bench PRIVATE SLUICE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(flow_bench PRIVATE ${PROJECT_SOURCE_DIR})
