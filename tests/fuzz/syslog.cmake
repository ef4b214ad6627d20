# Syslog parser fuzz target (libFuzzer, needs clang: -DSLUICE_BUILD_FUZZ=ON
# -DCMAKE_CXX_COMPILER=clang++). The parser sources are compiled into the
# target so they carry the fuzzer's coverage instrumentation.
set(SYSLOG_SRC ${PROJECT_SOURCE_DIR}/src/ingest/syslog)
add_executable(syslog_fuzz syslog_fuzz.cc
  ${SYSLOG_SRC}/ecs_writer.cc ${SYSLOG_SRC}/framing.cc ${SYSLOG_SRC}/rfc3164.cc ${SYSLOG_SRC}/rfc5424.cc ${SYSLOG_SRC}/syslog_parser.cc
  ${PROJECT_SOURCE_DIR}/src/common/json_util.cc ${PROJECT_SOURCE_DIR}/src/common/timeutil.cc)
target_include_directories(syslog_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(syslog_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_options(syslog_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(syslog_fuzz PRIVATE simdjson::simdjson absl::time)
# A bounded run over the checked-in corpus, as CI does for every parser; new
# inputs go to a scratch corpus in the build dir, never into the source tree.
set(SYSLOG_FUZZ_WORK ${CMAKE_CURRENT_BINARY_DIR}/syslog_work)
file(MAKE_DIRECTORY ${SYSLOG_FUZZ_WORK})
add_test(NAME syslog_fuzz_smoke
  COMMAND syslog_fuzz -max_total_time=20 -timeout=10 -rss_limit_mb=1024
          ${SYSLOG_FUZZ_WORK} ${CMAKE_CURRENT_SOURCE_DIR}/corpus/syslog)
set_tests_properties(syslog_fuzz_smoke PROPERTIES TIMEOUT 120 LABELS fuzz)
