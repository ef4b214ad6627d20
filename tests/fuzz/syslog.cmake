# Syslog parser fuzz target: framing, RFC 5424 / RFC 3164 parsing, the ECS writer.
set(SYSLOG_SRC ${PROJECT_SOURCE_DIR}/src/ingest/syslog)
add_executable(syslog_fuzz syslog_fuzz.cc
  ${SYSLOG_SRC}/ecs_writer.cc ${SYSLOG_SRC}/framing.cc ${SYSLOG_SRC}/rfc3164.cc ${SYSLOG_SRC}/rfc5424.cc ${SYSLOG_SRC}/syslog_parser.cc
  ${PROJECT_SOURCE_DIR}/src/common/json_util.cc ${PROJECT_SOURCE_DIR}/src/common/timeutil.cc)
target_link_libraries(syslog_fuzz PRIVATE simdjson::simdjson absl::time)
sluice_fuzz_smoke(syslog_fuzz syslog 1024)
