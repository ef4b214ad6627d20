// RFC 6587 framing, detected per frame, fed in every possible chunking.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest/syslog/framing.h"

namespace sluice::syslog {
namespace {

struct Frame {
  std::string text;
  bool truncated;
  bool operator==(const Frame& o) const { return text == o.text && truncated == o.truncated; }
};
std::ostream& operator<<(std::ostream& os, const Frame& f) { return os << "{" << f.text << "," << f.truncated << "}"; }

// Feeds `stream` in chunks of `chunk` bytes, as a connection would (unconsumed
// bytes stay in front of the next read), then ends the stream.
std::vector<Frame> SplitAll(const std::string& stream, size_t max, size_t chunk) {
  FrameSplitter s(max);
  std::vector<Frame> out;
  auto on = [&](std::string_view f, bool t) {
    out.push_back({std::string(f), t});
    return true;
  };
  std::string buf;
  for (size_t i = 0; i < stream.size(); i += chunk) {
    buf.append(stream.substr(i, chunk));
    size_t used = s.Split(buf, on);
    buf.erase(0, used);
    EXPECT_LE(buf.size(), s.max_pending());
  }
  s.Finish(buf, on);
  return out;
}

void ExpectAllChunkings(const std::string& stream, size_t max, const std::vector<Frame>& want) {
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, stream.size() + 1}) {
    EXPECT_EQ(SplitAll(stream, max, chunk), want) << "chunk " << chunk;
  }
}

TEST(SyslogFraming, LfCrLfAndNulTrailers) {
  ExpectAllChunkings("<13>a\n<13>b\r\n<13>c", 1024, {{"<13>a", false}, {"<13>b\r", false}, {"<13>c", false}});
  ExpectAllChunkings(std::string("<13>a\0<13>b\0", 12), 1024, {{"<13>a", false}, {"<13>b", false}});
}

TEST(SyslogFraming, OctetCounting) {
  // logger --tcp --octet-count: no LF; rsyslog octet-counted SyslogProtocol23: LF inside the count.
  ExpectAllChunkings("5 <13>a6 <13>b\n12 <13>multi\nln", 1024,
                     {{"<13>a", false}, {"<13>b\n", false}, {"<13>multi\nln", false}});
}

TEST(SyslogFraming, DetectedPerFrame) {
  ExpectAllChunkings("<13>lf\n5 <13>x<13>lf2\n3 abc\n\n\n<13>end\n", 1024,
                     {{"<13>lf", false}, {"<13>x", false}, {"<13>lf2", false}, {"abc", false}, {"<13>end", false}});
}

TEST(SyslogFraming, InvalidCountFallsBackToLf) {
  ExpectAllChunkings("12x <13>a\n99999999999 b\n", 1024, {{"12x <13>a", false}, {"99999999999 b", false}});
  // A count above the frame limit (200000) is not trusted.
  ExpectAllChunkings("300000 <13>a\n", 1024, {{"300000 <13>a", false}});
}

TEST(SyslogFraming, OversizedOctetFrameTruncatedAndSkipped) {
  std::string body(100, 'x');
  ExpectAllChunkings("100 " + body + "5 <13>a", 10, {{std::string(10, 'x'), true}, {"<13>a", false}});
}

TEST(SyslogFraming, OversizedLineTruncatedAndDiscarded) {
  std::string body(100, 'y');
  ExpectAllChunkings("<13>" + body + "\n<13>b\n", 10, {{"<13>" + std::string(6, 'y'), true}, {"<13>b", false}});
  // A line of exactly max bytes is not truncated.
  ExpectAllChunkings("0123456789\n", 10, {{"0123456789", false}});
}

TEST(SyslogFraming, EndOfStreamDeliversPartialFrames) {
  EXPECT_EQ(SplitAll("10 <13>ab", 1024, 100), (std::vector<Frame>{{"<13>ab", true}}));
  EXPECT_EQ(SplitAll("<13>no newline", 1024, 3), (std::vector<Frame>{{"<13>no newline", false}}));
  EXPECT_EQ(SplitAll("\n\r\n", 1024, 1), (std::vector<Frame>{}));
}

TEST(SyslogFraming, StopsWhenAsked) {
  FrameSplitter s(100);
  std::string data = "<13>a\n<13>b\n<13>c\n";
  int calls = 0;
  size_t used = s.Split(data, [&](std::string_view, bool) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(used, 12u);
}

}  // namespace
}  // namespace sluice::syslog
