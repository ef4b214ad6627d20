#pragma once
// Builders of Lumberjack frames for the tests (PROTOCOLS.md §1.1).

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::beats::testing {

inline std::string U32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

inline std::string Window(uint32_t n, char version = '2') { return std::string{version, 'W'} + U32(n); }

inline std::string Json(uint32_t seq, std::string_view payload) {
  return std::string("2J") + U32(seq) + U32(static_cast<uint32_t>(payload.size())) + std::string(payload);
}

inline std::string Ack(uint32_t seq, char version = '2') { return std::string{version, 'A'} + U32(seq); }

inline std::string Zlib(std::string_view data, int level = 6) {
  uLongf n = compressBound(data.size());
  std::string out(n, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(data.data()), data.size(),
            level);
  out.resize(n);
  return out;
}

// A C frame whose payload is `compressed` as is (for corrupt/truncated tests).
inline std::string CompressedRaw(std::string_view compressed) {
  return std::string("2C") + U32(static_cast<uint32_t>(compressed.size())) + std::string(compressed);
}

inline std::string Compressed(std::string_view frames, int level = 6) { return CompressedRaw(Zlib(frames, level)); }

// A v1 data frame.
inline std::string Data(uint32_t seq, const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string s = std::string("1D") + U32(seq) + U32(static_cast<uint32_t>(kv.size()));
  for (const auto& [k, v] : kv) {
    s += U32(static_cast<uint32_t>(k.size())) + k + U32(static_cast<uint32_t>(v.size())) + v;
  }
  return s;
}

// A window of `events` as J frames (seq 1..N), optionally wrapped in one C frame like Filebeat does.
inline std::string JsonWindow(const std::vector<std::string>& events, bool compress) {
  std::string frames;
  for (size_t i = 0; i < events.size(); ++i) frames += Json(static_cast<uint32_t>(i + 1), events[i]);
  return Window(static_cast<uint32_t>(events.size())) + (compress ? Compressed(frames) : frames);
}

}  // namespace sluice::beats::testing
