# Event parser fuzz target: the compact-form scanner against simdjson's
# On-Demand path on the same bytes (event_parser_fuzz.cc); ASan also sees the
# scanner's reads past an event, into the batch's padding.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(WARNING "event_parser_fuzz needs clang (-DCMAKE_CXX_COMPILER=clang++): skipped")
else()
  add_executable(event_parser_fuzz
    event_parser_fuzz.cc
    ${PROJECT_SOURCE_DIR}/src/pipeline/event_parser.cc
    ${PROJECT_SOURCE_DIR}/src/pipeline/batch.cc
    ${PROJECT_SOURCE_DIR}/src/common/json_util.cc
    ${PROJECT_SOURCE_DIR}/src/common/timeutil.cc)
  target_link_libraries(event_parser_fuzz PRIVATE simdjson::simdjson absl::time absl::strings)
  sluice_fuzz_smoke(event_parser_fuzz event_parser 2048)
endif()
