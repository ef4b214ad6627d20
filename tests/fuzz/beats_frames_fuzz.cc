// libFuzzer target for the Lumberjack frame decoder (see beats_frames_check.h).
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DSLUICE_BUILD_FUZZ=ON
//   cmake --build build-fuzz --target beats_frames_fuzz -j2
//   build-fuzz/tests/fuzz/beats_frames_fuzz -max_total_time=60 /tmp/work-corpus tests/fuzz/corpus/beats_frames

#include <cstdlib>

#include "beats_frames_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!sluice::beats::fuzz::CheckOneInput(data, size)) std::abort();
  return 0;
}
