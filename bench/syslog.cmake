# Syslog input throughput (see bench/syslog_bench.cc and bench/RESULTS-syslog.md).
add_executable(syslog_bench ${CMAKE_CURRENT_LIST_DIR}/syslog_bench.cc)
sluice_link_core(syslog_bench)
