// libFuzzer target for the rule conditions evaluated together (see
// condition_set_check.h).
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DSLUICE_BUILD_FUZZ=ON
//   cmake --build build-fuzz --target condition_set_fuzz -j2
//   build-fuzz/tests/fuzz/condition_set_fuzz -max_total_time=60 /tmp/work-corpus tests/fuzz/corpus/condition_set

#include <cstdio>
#include <cstdlib>

#include "condition_set_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string diff = sluice::detectors::fuzz::CheckOneInput(data, size);
  if (!diff.empty()) {
    std::fprintf(stderr, "%s\n", diff.c_str());
    std::abort();
  }
  return 0;
}
