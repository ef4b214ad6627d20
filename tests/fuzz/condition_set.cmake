# Rule conditions fuzz target: ConditionSet (every rule's conditions at once,
# SIMD) against Condition::Matches on events the fuzzer writes
# (condition_set_fuzz.cc); ASan sees the value loads and needle searches that
# read past a value, within the batch's padding. The corpus is also replayed by
# condition_set_corpus_test in every build.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(WARNING "condition_set_fuzz needs clang (-DCMAKE_CXX_COMPILER=clang++): skipped")
else()
  add_executable(condition_set_fuzz
    condition_set_fuzz.cc
    ${PROJECT_SOURCE_DIR}/src/detectors/common/condition.cc
    ${SLUICE_TEST_PARSER_SOURCES})
  target_link_libraries(condition_set_fuzz PRIVATE ${RE2_LIB} yaml-cpp simdjson::simdjson absl::time absl::strings
                        absl::status absl::statusor absl::flat_hash_map absl::flat_hash_set absl::hash)
  sluice_fuzz_smoke(condition_set_fuzz condition_set 2048)
endif()
