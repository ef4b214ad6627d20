#pragma once
// The rule engine's fingerprint keys 4 at a time (AVX-512 DQ + VL: 64-bit
// lanes with a 64-bit multiply), the same values as the scalar chain bit for
// bit: keys are saved in the rules' state and must not depend on the path
// that computed them (tests/detectors/hash_lanes_test.cc).
//
// Why: a duplicate rule's key is three Mix64 after the field hashes, a
// chain of six 64-bit multiplies per match. In the 30-rule bench
// (DuplicateShipping: every event) PushMatches with the scalar chain took
// 0.97-1.03% of sluice's samples, PushMatches and the lanes 0.78-0.86%
// (bench/RESULTS.md, "keys in lanes"). Hashing log.offset's digits 8 at a
// time the same way (HashBytes in lanes) cost more than it saved: gathering
// the lanes' words from the values took longer than the multiplies.

#include <cstddef>
#include <cstdint>

namespace sluice::detectors {

// Whether this CPU runs KeyChainLanes (AVX-512 F, DQ and VL), and the build
// has it (x86-64 with AVX2 code).
bool CpuHasHashLanes();

// out[j] = Mix64(Combine(...Combine(start[j], cols[0][j])..., cols[n-1][j]) ^ tweak)
// for j < m, where Combine(h, f) = Mix64(h ^ f) + 0x9e3779b97f4a7c15
// (start: nullptr for `seed` in every lane). Reads and writes m rounded up
// to 4 entries of every array.
void KeyChainLanes(const uint64_t* start, uint64_t seed, const uint64_t* const* cols, size_t n, uint64_t tweak,
                   size_t m, uint64_t* out);

}  // namespace sluice::detectors
