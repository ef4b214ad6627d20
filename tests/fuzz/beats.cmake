# Lumberjack frame decoder fuzz target (libFuzzer, needs clang:
# -DSLUICE_BUILD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++). The decoder and the
# little it needs are compiled into the target so they carry the fuzzer's
# coverage instrumentation; the rest of sluice_core is not needed. The corpus
# is also replayed by beats_corpus_replay_test in every build.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(WARNING "beats_frames_fuzz needs clang (-DCMAKE_CXX_COMPILER=clang++): skipped")
else()
  add_executable(beats_frames_fuzz
    beats_frames_fuzz.cc
    ${PROJECT_SOURCE_DIR}/src/ingest/beats/frame_decoder.cc
    ${PROJECT_SOURCE_DIR}/src/pipeline/batch.cc
    ${PROJECT_SOURCE_DIR}/src/common/json_util.cc)
  target_include_directories(beats_frames_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/src ${LIBDEFLATE_INCLUDE})
  target_compile_options(beats_frames_fuzz PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(beats_frames_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(beats_frames_fuzz PRIVATE ${LIBDEFLATE_LIB} absl::status absl::strings)
  # A bounded run over the checked-in corpus; new inputs go to a scratch corpus in the build dir.
  set(BEATS_FUZZ_WORK ${CMAKE_CURRENT_BINARY_DIR}/beats_frames_work)
  file(MAKE_DIRECTORY ${BEATS_FUZZ_WORK})
  add_test(NAME beats_frames_fuzz_smoke
    COMMAND beats_frames_fuzz -max_total_time=20 -timeout=10 -rss_limit_mb=2048
            ${BEATS_FUZZ_WORK} ${CMAKE_CURRENT_SOURCE_DIR}/corpus/beats_frames)
  set_tests_properties(beats_frames_fuzz_smoke PROPERTIES TIMEOUT 120 LABELS fuzz)
endif()
