# Lumberjack frame decoder fuzz target. The corpus is also replayed by
# beats_corpus_replay_test in every build.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(WARNING "beats_frames_fuzz needs clang (-DCMAKE_CXX_COMPILER=clang++): skipped")
else()
  add_executable(beats_frames_fuzz
    beats_frames_fuzz.cc
    ${PROJECT_SOURCE_DIR}/src/ingest/beats/frame_decoder.cc
    ${PROJECT_SOURCE_DIR}/src/pipeline/batch.cc
    ${PROJECT_SOURCE_DIR}/src/common/json_util.cc)
  target_include_directories(beats_frames_fuzz PRIVATE ${LIBDEFLATE_INCLUDE})
  target_link_libraries(beats_frames_fuzz PRIVATE ${LIBDEFLATE_LIB} absl::status absl::strings)
  sluice_fuzz_smoke(beats_frames_fuzz beats_frames 2048)
endif()
