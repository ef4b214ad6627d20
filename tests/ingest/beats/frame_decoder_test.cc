#include "ingest/beats/frame_decoder.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "frames.h"

namespace sluice::beats {
namespace {

using namespace sluice::beats::testing;

// A window as plain values, to compare decodings.
struct Decoded {
  uint32_t ack = 0;
  uint32_t announced = 0;
  char version = 0;
  bool complete = false;
  std::vector<std::string> events;
  bool operator==(const Decoded&) const = default;
};

struct Result {
  std::vector<Decoded> windows;
  std::string error;  // reason, "" if none
  bool in_window = false;
};

void Collect(std::vector<DecodedWindow>& got, Result* r) {
  for (auto& w : got) {
    Decoded d{w.ack_seq, w.announced, w.version, w.complete, {}};
    for (const Event& e : w.batch->events()) d.events.emplace_back(w.batch->Raw(e));
    r->windows.push_back(std::move(d));
  }
  got.clear();
}

// Feeds `stream` in the given chunk boundaries (positions where a new chunk starts).
Result DecodeChunks(std::string_view stream, const std::vector<size_t>& cuts, FrameDecoderLimits limits = {}) {
  FrameDecoder dec(limits);
  Result r;
  std::vector<DecodedWindow> got;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    absl::Status s = dec.Feed(stream.substr(start, end - start), &got);
    Collect(got, &r);
    if (!s.ok()) {
      r.error = std::string(dec.error_reason());
      return r;
    }
    start = end;
  }
  r.in_window = dec.in_window();
  return r;
}

Result Decode(std::string_view stream, FrameDecoderLimits limits = {}) { return DecodeChunks(stream, {}, limits); }

TEST(FrameDecoderTest, JsonWindow) {
  Result r = Decode(Window(2) + Json(1, R"({"a":1})") + Json(2, R"({"b":2})"));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0], (Decoded{2, 2, '2', true, {R"({"a":1})", R"({"b":2})"}}));
  EXPECT_FALSE(r.in_window);
}

TEST(FrameDecoderTest, EmptyWindowIsCompleteWithAckZero) {
  Result r = Decode(Window(0));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0], (Decoded{0, 0, '2', true, {}}));
}

TEST(FrameDecoderTest, CompressedWindow) {
  Result r = Decode(JsonWindow({"{\"x\":1}", "{\"x\":2}", "{\"x\":3}"}, true));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0], (Decoded{3, 3, '2', true, {"{\"x\":1}", "{\"x\":2}", "{\"x\":3}"}}));
}

TEST(FrameDecoderTest, SeveralCompressedFramesMixedWithJson) {
  std::string s = Window(5) + Compressed(Json(1, "{\"n\":1}") + Json(2, "{\"n\":2}")) + Json(3, "{\"n\":3}") +
                  Compressed(Json(4, "{\"n\":4}")) + Compressed(Json(5, "{\"n\":5}"), 0);
  Result r = Decode(s);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].events,
            (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"}));
  EXPECT_EQ(r.windows[0].ack, 5u);
}

TEST(FrameDecoderTest, PipelinedWindowsInOneChunk) {
  Result r = Decode(JsonWindow({"{}", "[]"}, false) + JsonWindow({"{\"z\":0}"}, true) + Window(0) +
                    JsonWindow({"1", "2", "3"}, false));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 4u);
  EXPECT_EQ(r.windows[0].ack, 2u);
  EXPECT_EQ(r.windows[1].ack, 1u);
  EXPECT_EQ(r.windows[2].ack, 0u);
  EXPECT_EQ(r.windows[3].ack, 3u);
  EXPECT_EQ(r.windows[3].events, (std::vector<std::string>{"1", "2", "3"}));
}

// Each window's arena is reserved from the previous window's event size, with
// room to spare: windows a few percent larger than the one before are not
// reallocated (a string that outgrows its capacity doubles it, copying
// everything so far), and windows of any size still decode exactly.
TEST(FrameDecoderTest, ArenaReservedFromThePreviousWindowWithRoomToSpare) {
  FrameDecoder dec(FrameDecoderLimits{});
  std::vector<DecodedWindow> got;
  std::mt19937 rng(3);
  const size_t sizes[] = {500, 500, 520, 500, 530, 480, 4000, 100, 101};
  for (size_t round = 0; round < std::size(sizes); ++round) {
    const size_t bytes = sizes[round];
    std::vector<std::string> events;
    for (int i = 0; i < 300; ++i) {
      std::string e = "{\"m\":\"" + std::string(bytes - 8 + rng() % 3, static_cast<char>('a' + i % 26)) + "\"}";
      events.push_back(std::move(e));
    }
    ASSERT_TRUE(dec.Feed(JsonWindow(events, false), &got).ok());
    ASSERT_EQ(got.size(), 1u);
    const Batch& b = *got[0].batch;
    ASSERT_EQ(b.size(), events.size());
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(b.Raw(b.events()[i]), events[i]);
    if (round > 0 && bytes * 100 >= sizes[round - 1] * 95 && bytes * 100 <= sizes[round - 1] * 105) {
      // Reserved once, never doubled (a doubled arena holds twice what the previous window needed).
      EXPECT_LT(b.arena().capacity(), b.arena().size() * 3 / 2) << "round " << round;
      EXPECT_GE(b.arena().capacity(), b.arena().size());
    }
    got.clear();
  }
}

TEST(FrameDecoderTest, ZeroLengthJsonFrameIsAnEmptyEvent) {
  Result r = Decode(Window(1) + Json(1, ""));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].events, (std::vector<std::string>{""}));
}

TEST(FrameDecoderTest, AckIsHighestSeqButNeverAboveAnnouncedCount) {
  Result r = Decode(Window(2) + Json(7, "{}") + Json(5, "{}") + Window(2) + Json(1, "{}") + Json(0, "{}"));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 2u);
  EXPECT_EQ(r.windows[0].ack, 2u);
  EXPECT_EQ(r.windows[1].ack, 1u);
}

TEST(FrameDecoderTest, NewWindowBeforeCompletionForwardsWhatArrived) {
  FrameDecoder dec({});
  std::vector<DecodedWindow> got;
  ASSERT_TRUE(dec.Feed(Window(3) + Json(1, "{\"a\":1}") + Window(1) + Json(1, "{\"b\":1}"), &got).ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].complete);
  EXPECT_EQ(got[0].ack_seq, 1u);
  EXPECT_EQ(got[0].batch->size(), 1u);
  EXPECT_TRUE(got[1].complete);
  EXPECT_EQ(dec.incomplete_windows(), 1u);
}

TEST(FrameDecoderTest, V1DataFramesBecomeJsonObjects) {
  std::string s = Window(2, '1') + Data(1, {{"line", "say \"hi\"\n"}, {"host", "h1"}}) + Data(2, {});
  Result r = Decode(s);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].version, '1');
  EXPECT_EQ(r.windows[0].events, (std::vector<std::string>{R"({"line":"say \"hi\"\n","host":"h1"})", "{}"}));
}

TEST(FrameDecoderTest, V1DataFramesInsideCompressedFrame) {
  std::string s = Window(1, '1') + Compressed(Data(1, {{"k", ""}, {"", "v"}}));
  Result r = Decode(s);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].events, (std::vector<std::string>{R"({"k":"","":"v"})"}));
}

// Every frame type in one stream, including frames split inside C payloads,
// decoded with every possible cut into two chunks, and one byte at a time.
TEST(FrameDecoderTest, SplitAtEveryByteBoundaryDecodesIdentically) {
  std::string s = JsonWindow({R"({"message":"one"})", R"({"message":"two"})"}, false) +
                  JsonWindow({R"({"message":"three"})", R"({"message":"four"})", "{}"}, true) +
                  Window(3) + Json(1, "{\"p\":1}") + Compressed(Json(2, "{\"p\":2}") + Json(3, "{\"p\":3}")) +
                  Window(0) + Window(2, '1') + Data(1, {{"line", "v1"}, {"offset", "7"}}) + Data(2, {{"a", "b"}}) +
                  Window(1) + Json(1, "");
  Result whole = Decode(s);
  ASSERT_EQ(whole.error, "");
  ASSERT_EQ(whole.windows.size(), 6u);
  for (size_t cut = 1; cut < s.size(); ++cut) {
    Result r = DecodeChunks(s, {cut});
    ASSERT_EQ(r.error, "") << "cut at " << cut;
    ASSERT_EQ(r.windows, whole.windows) << "cut at " << cut;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < s.size(); ++i) every.push_back(i);
  Result bytewise = DecodeChunks(s, every);
  ASSERT_EQ(bytewise.error, "");
  EXPECT_EQ(bytewise.windows, whole.windows);
}

// Everything a decoding leaves behind, arenas byte for byte (so event offsets too).
struct Exact {
  std::vector<std::string> arenas;
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> events;  // offset, length
  std::vector<std::pair<uint32_t, uint32_t>> acks;                 // ack_seq, announced
  std::string error;
  bool in_window = false;
  bool operator==(const Exact&) const = default;
};

Exact DecodeExact(std::string_view stream, const std::vector<size_t>& chunk_sizes, const FrameDecoderLimits& limits) {
  FrameDecoder dec(limits);
  Exact r;
  std::vector<DecodedWindow> got;
  size_t off = 0;
  for (size_t k = 0; off < stream.size(); ++k) {
    const size_t n = std::min(chunk_sizes[k % chunk_sizes.size()], stream.size() - off);
    absl::Status s = dec.Feed(stream.substr(off, n), &got);
    for (auto& w : got) {
      r.arenas.push_back(w.batch->arena());
      r.events.emplace_back();
      for (const Event& e : w.batch->events()) r.events.back().emplace_back(e.offset, e.length);
      r.acks.emplace_back(w.ack_seq, w.announced);
    }
    got.clear();
    if (!s.ok()) {
      r.error = std::string(dec.error_reason());
      return r;
    }
    off += n;
  }
  r.in_window = dec.in_window();
  return r;
}

// The whole-J-frame path (taken when a chunk holds whole frames) against the
// byte-wise one (fed one byte at a time, it never is): random streams of
// windows, J frames, some compressed or v1, some over a limit, with too many
// events or cut short, fed whole, in random chunks and byte by byte.
TEST(FrameDecoderTest, WholeJsonFramesDecodeAsByteWise) {
  std::mt19937 rng(20261121);
  auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  FrameDecoderLimits limits;
  limits.max_window_size = 6;
  limits.max_frame_bytes = 48;
  limits.max_window_bytes = 160;
  int errors = 0, clean = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string stream;
    const int windows = 1 + static_cast<int>(pick(4));
    for (int w = 0; w < windows; ++w) {
      uint32_t announced = pick(7);
      if (pick(40) == 0) announced = 7;  // over max_window_size
      const bool v1 = pick(10) == 0;
      stream += Window(announced, v1 ? '1' : '2');
      uint32_t events = announced;
      if (pick(12) == 0) events += 1;                        // one more than announced
      if (pick(12) == 0 && events > 0) events -= 1;          // cut short by the next window
      std::string frames;
      for (uint32_t e = 0; e < events; ++e) {
        const uint32_t len = pick(30) == 0 ? 49 + pick(8) : pick(40);  // sometimes over max_frame_bytes
        std::string payload(len, 'a');
        for (auto& ch : payload) ch = static_cast<char>('a' + pick(26));
        const uint32_t seq = pick(8) == 0 ? pick(10) : e + 1;
        if (v1 && pick(2) == 0) {
          frames += Data(seq, {{"k", payload.substr(0, len / 3)}});
        } else {
          frames += std::string(pick(50) == 0 ? "3J" : "2J") + U32(seq) + U32(len) + payload;
        }
      }
      stream += pick(5) == 0 ? Compressed(frames) : frames;
    }
    if (pick(6) == 0) stream.resize(stream.size() - pick(static_cast<uint32_t>(stream.size())));  // cut short
    std::vector<size_t> bytewise{1};
    const Exact want = DecodeExact(stream, bytewise, limits);
    (want.error.empty() ? clean : errors)++;
    ASSERT_EQ(DecodeExact(stream, {stream.size() + 1}, limits), want) << "round " << round << ", whole";
    std::vector<size_t> chunks;
    for (int k = 0; k < 8; ++k) chunks.push_back(1 + pick(pick(2) == 0 ? 16 : 200));
    ASSERT_EQ(DecodeExact(stream, chunks, limits), want) << "round " << round << ", random chunks";
  }
  // Both kinds of stream were generated.
  EXPECT_GT(errors, 300);
  EXPECT_GT(clean, 300);
}

TEST(FrameDecoderTest, PartialWindowIsNotEmitted) {
  Result r = Decode(Window(2) + Json(1, "{}") + "2J" + U32(2));
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.windows.empty());
  EXPECT_TRUE(r.in_window);
}

TEST(FrameDecoderTest, LargeCompressedFrameGrowsTheInflateBuffer) {
  // Highly compressible: inflates far beyond the first buffer guess (8x the compressed size).
  std::vector<std::string> events;
  for (int i = 0; i < 2000; ++i) events.push_back("{\"message\":\"" + std::string(1000, 'a') + "\"}");
  Result r = Decode(JsonWindow(events, true));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].events, events);
}

// --- malformed input -----------------------------------------------------

TEST(FrameDecoderTest, BadVersionByte) {
  EXPECT_EQ(Decode("3W" + U32(1)).error, reason::kBadVersion);
  EXPECT_EQ(Decode(std::string("\x00W", 2) + U32(1)).error, reason::kBadVersion);
  // Also inside a compressed frame.
  EXPECT_EQ(Decode(Window(1) + Compressed("xJ" + U32(1) + U32(2) + "{}")).error, reason::kBadVersion);
}

TEST(FrameDecoderTest, UnknownFrameType) {
  EXPECT_EQ(Decode("2X" + U32(1)).error, reason::kUnknownFrameType);
  EXPECT_EQ(Decode(Ack(1)).error, reason::kUnknownFrameType);  // servers do not receive ACKs
  // HTTP or a TLS ClientHello on a plain beats port.
  EXPECT_EQ(Decode("GET / HTTP/1.1\r\n\r\n").error, reason::kBadVersion);
  EXPECT_EQ(Decode("\x16\x03\x01\x02\x00").error, reason::kBadVersion);
}

TEST(FrameDecoderTest, JsonFrameOverLimit) {
  FrameDecoderLimits l;
  l.max_frame_bytes = 10;
  EXPECT_EQ(Decode(Window(1) + Json(1, "{\"a\":\"0123456789\"}"), l).error, reason::kFrameTooLarge);
  EXPECT_EQ(Decode(Window(1) + Json(1, "{\"a\":1}"), l).error, "");
  // The length alone triggers it, before any payload byte arrives.
  EXPECT_EQ(Decode(Window(1) + "2J" + U32(1) + U32(0xFFFFFFFF)).error, reason::kFrameTooLarge);
}

TEST(FrameDecoderTest, CompressedFrameOverLimit) {
  FrameDecoderLimits l;
  l.max_frame_bytes = 16;
  std::string big;
  for (int i = 0; i < 50; ++i) big += Json(i + 1, "{\"i\":" + std::to_string(i * 7919) + "}");
  EXPECT_EQ(Decode(Window(50) + Compressed(big), l).error, reason::kFrameTooLarge);
}

TEST(FrameDecoderTest, WindowCountOverLimit) {
  FrameDecoderLimits l;
  l.max_window_size = 2;
  EXPECT_EQ(Decode(Window(3), l).error, reason::kWindowTooLarge);
  EXPECT_EQ(Decode(Window(2), l).error, "");
  EXPECT_EQ(Decode(Window(0xFFFFFFFF)).error, reason::kWindowTooLarge);
}

TEST(FrameDecoderTest, WindowBytesOverLimit) {
  FrameDecoderLimits l;
  l.max_window_bytes = 20;
  EXPECT_EQ(Decode(Window(3) + Json(1, "{\"a\":\"0123\"}") + Json(2, "{\"a\":\"4567\"}"), l).error,
            reason::kWindowBytesTooLarge);
  EXPECT_EQ(Decode(Window(1, '1') + Data(1, {{"k", std::string(30, 'v')}}), l).error, reason::kWindowBytesTooLarge);
}

TEST(FrameDecoderTest, TruncatedZlib) {
  std::string z = Zlib(Json(1, "{\"message\":\"hello hello hello\"}"));
  EXPECT_EQ(Decode(Window(1) + CompressedRaw(z.substr(0, z.size() - 6))).error, reason::kCorruptZlib);
  EXPECT_EQ(Decode(Window(1) + CompressedRaw(z.substr(0, 2))).error, reason::kCorruptZlib);
}

TEST(FrameDecoderTest, CorruptZlib) {
  EXPECT_EQ(Decode(Window(1) + CompressedRaw("this is not zlib at all")).error, reason::kCorruptZlib);
  std::string z = Zlib(Json(1, "{\"message\":\"hello\"}"));
  z[z.size() - 1] ^= 0x55;  // Adler-32 mismatch
  EXPECT_EQ(Decode(Window(1) + CompressedRaw(z)).error, reason::kCorruptZlib);
  EXPECT_EQ(Decode(Window(1) + CompressedRaw("")).error, reason::kCorruptZlib);
}

TEST(FrameDecoderTest, InflatedSizeOverLimit) {
  FrameDecoderLimits l;
  l.max_inflated_bytes = 100 << 10;
  std::string frames = Json(1, "{\"m\":\"" + std::string(200 << 10, 'x') + "\"}");
  EXPECT_EQ(Decode(Window(1) + Compressed(frames), l).error, reason::kInflatedTooLarge);
  l.max_inflated_bytes = 300 << 10;
  EXPECT_EQ(Decode(Window(1) + Compressed(frames), l).error, "");
}

TEST(FrameDecoderTest, IncompleteFrameInsideCompressedPayload) {
  std::string j = Json(1, "{\"a\":1}");
  EXPECT_EQ(Decode(Window(1) + Compressed(j.substr(0, j.size() - 1))).error, reason::kTruncatedCompressedFrame);
  EXPECT_EQ(Decode(Window(1) + Compressed(j.substr(0, 5))).error, reason::kTruncatedCompressedFrame);
  EXPECT_EQ(Decode(Window(1) + Compressed("2")).error, reason::kTruncatedCompressedFrame);
}

TEST(FrameDecoderTest, FirstFrameNotWindow) {
  EXPECT_EQ(Decode(Json(1, "{}")).error, reason::kFrameOutsideWindow);
  EXPECT_EQ(Decode(Compressed(Json(1, "{}"))).error, reason::kFrameOutsideWindow);
  EXPECT_EQ(Decode(Data(1, {})).error, reason::kFrameOutsideWindow);
}

TEST(FrameDecoderTest, MoreEventsThanAnnounced) {
  EXPECT_EQ(Decode(Window(1) + Json(1, "{}") + Json(2, "{}")).error, reason::kFrameOutsideWindow);
  EXPECT_EQ(Decode(Window(1) + Compressed(Json(1, "{}") + Json(2, "{}"))).error, reason::kFrameOutsideWindow);
}

TEST(FrameDecoderTest, WindowOrCompressedFrameInsideCompressedFrame) {
  EXPECT_EQ(Decode(Window(1) + Compressed(Window(1) + Json(1, "{}"))).error, reason::kUnexpectedFrameInCompressed);
  EXPECT_EQ(Decode(Window(1) + Compressed(Compressed(Json(1, "{}")))).error, reason::kUnexpectedFrameInCompressed);
}

TEST(FrameDecoderTest, WindowsBeforeAnErrorInTheSameChunkAreReturned) {
  Result r = Decode(JsonWindow({"{}"}, false) + "2Q");
  EXPECT_EQ(r.error, reason::kUnknownFrameType);
  EXPECT_EQ(r.windows.size(), 1u);
}

}  // namespace
}  // namespace sluice::beats

namespace sluice::beats {
namespace {

// Not a regression test (timing on shared CI machines is noise): run with
// --gtest_also_run_disabled_tests --gtest_filter=*Throughput* to measure.
TEST(FrameDecoderBench, DISABLED_Throughput) {
  using namespace sluice::beats::testing;
  std::vector<std::string> events;
  for (int i = 0; i < 2048; ++i) {
    events.push_back(
        "{\"@timestamp\":\"2026-11-21T05:30:00.000Z\",\"@metadata\":{\"beat\":\"filebeat\",\"type\":\"_doc\","
        "\"version\":\"8.15.0\"},\"message\":\"2026-11-21 05:30:00,123 INFO [mes] calculation stage " +
        std::to_string(i) + " finished for order 4711\",\"log\":{\"file\":{\"path\":\"/var/log/mes/calc.log\"},"
        "\"offset\":" + std::to_string(i * 97) + "},\"host\":{\"name\":\"mes-01\"}}");
  }
  for (bool compress : {false, true}) {
    std::string window = JsonWindow(events, compress);
    std::string stream;
    for (int i = 0; i < 50; ++i) stream += window;
    FrameDecoder dec({});
    std::vector<DecodedWindow> out;
    auto c0 = std::clock();
    size_t n = 0;
    for (int rep = 0; rep < 10; ++rep) {
      for (size_t off = 0; off < stream.size(); off += 65536) {
        ASSERT_TRUE(dec.Feed(std::string_view(stream).substr(off, 65536), &out).ok());
        for (auto& w : out) n += w.batch->size();
        out.clear();
      }
    }
    double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
    std::printf("%s: %zu events, %.0f events/CPU-s, %.0f MB/s wire\n", compress ? "zlib" : "plain", n, n / cpu,
                10.0 * stream.size() / cpu / 1e6);
  }
}

}  // namespace
}  // namespace sluice::beats
