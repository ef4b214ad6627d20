// Microbenchmarks of the hot stages (google-benchmark). Each reports
// items/s = events/s on one core. Figures go to bench/RESULTS.md.
//
//   build/bench/micro_bench --benchmark_min_time=1

#include <benchmark/benchmark.h>
#include <libdeflate.h>

#include <string>
#include <vector>

#include "common/config_reader.h"
#include "common/timeutil.h"
#include "ingest/beats/frame_decoder.h"
#include "sinks/elasticsearch/bulk_encoder.h"
#include "sinks/elasticsearch/config.h"
#include "pipeline/batch.h"
#include "pipeline/event_parser.h"

namespace {

std::string FilebeatEvent(int n) {
  std::string e =
      "{\"@timestamp\":\"2026-11-21T05:30:59.285Z\",\"@metadata\":{\"beat\":\"filebeat\",\"type\":\"_doc\","
      "\"version\":\"8.15.0\"},\"log\":{\"offset\":" +
      std::to_string(n * 517) +
      ",\"file\":{\"path\":\"/var/log/shop/api.log\"},\"level\":\"INFO\"},\"input\":{\"type\":\"filestream\"},"
      "\"agent\":{\"type\":\"filebeat\",\"version\":\"8.15.0\",\"name\":\"shop-api-1\",\"id\":"
      "\"3b7f0d3c-6c1e-4c0e-9d55-2f8f9e1a7a10\"},\"ecs\":{\"version\":\"8.0.0\"},\"host\":{\"name\":\"shop-api-1\"},"
      "\"service\":{\"name\":\"shop-api\"},\"event\":{\"dataset\":\"shop.api\"},\"message\":\"INFO order " +
      std::to_string(100000 + n) + " status=created path=/api/orders method=POST took_ms=" + std::to_string(n % 250);
  while (e.size() < 498) e += " x";
  return e + "\"}";
}

sluice::BatchPtr MakeBatch(int n) {
  auto b = std::make_shared<sluice::Batch>();
  for (int i = 0; i < n; ++i) b->Append(FilebeatEvent(i));
  return b;
}

// The pipeline's per-event work: validate, find @metadata, @timestamp, and the
// fields that the ES index pattern and a typical rule set need.
void BM_EventParse(benchmark::State& state) {
  std::vector<std::string> fields;
  if (state.range(0) > 0) fields = {"event.dataset", "service.name", "log.level"};
  sluice::EventParser parser(fields);
  auto batch = MakeBatch(2048);
  for (auto _ : state) {
    parser.ParseBatch(batch.get());
    benchmark::DoNotOptimize(batch->events().data());
  }
  state.SetItemsProcessed(state.iterations() * batch->size());
  state.SetBytesProcessed(state.iterations() * batch->arena().size());
}
BENCHMARK(BM_EventParse)->Arg(0)->Arg(3);

// Inflating a zlib-compressed Lumberjack window (compression level 3, like Filebeat).
void BM_InflateWindow(benchmark::State& state) {
  std::string frames;
  for (int i = 0; i < 2048; ++i) {
    std::string ev = FilebeatEvent(i);
    frames += "2J________" + ev;
  }
  libdeflate_compressor* c = libdeflate_alloc_compressor(3);
  std::string z(libdeflate_zlib_compress_bound(c, frames.size()), '\0');
  z.resize(libdeflate_zlib_compress(c, frames.data(), frames.size(), z.data(), z.size()));
  libdeflate_free_compressor(c);
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  std::string out(frames.size(), '\0');
  for (auto _ : state) {
    size_t n = 0;
    libdeflate_zlib_decompress(d, z.data(), z.size(), out.data(), out.size(), &n);
    benchmark::DoNotOptimize(n);
  }
  libdeflate_free_decompressor(d);
  state.SetItemsProcessed(state.iterations() * 2048);
  state.SetBytesProcessed(state.iterations() * frames.size());
}
BENCHMARK(BM_InflateWindow);

std::string U32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
}

// Lumberjack frame decoding of plain windows (W + 2048 J frames) into batches,
// fed in 64 KiB reads like the socket does.
void BM_FrameDecode(benchmark::State& state) {
  std::string frames;
  for (int i = 0; i < 2048; ++i) {
    std::string ev = FilebeatEvent(i);
    frames += "2J" + U32(i + 1) + U32(ev.size()) + ev;
  }
  std::string stream = "2W" + U32(2048) + frames;
  sluice::beats::FrameDecoder dec(sluice::beats::FrameDecoderLimits{});
  std::vector<sluice::beats::DecodedWindow> out;
  for (auto _ : state) {
    for (size_t off = 0; off < stream.size(); off += 65536) {
      (void)dec.Feed(std::string_view(stream).substr(off, 65536), &out);
    }
    out.clear();
  }
  state.SetItemsProcessed(state.iterations() * 2048);
  state.SetBytesProcessed(state.iterations() * stream.size());
}
BENCHMARK(BM_FrameDecode);

// Bulk body encoding: action line + the document without @metadata. Index
// pattern: /0 a field reference and a date ("logs-%{[event][dataset]}-%{+yyyy.MM.dd}"),
// /1 a date only ("logs-%{+yyyy.MM.dd}", the syslog benchmark's), /2 a constant ("bench").
void BM_BulkEncode(benchmark::State& state) {
  static const char* const kIndex[] = {"logs-%{[event][dataset]}-%{+yyyy.MM.dd}", "logs-%{+yyyy.MM.dd}", "bench"};
  sluice::ConfigErrors errors;
  sluice::MetricsRegistry metrics;
  sluice::FieldRegistry fields;
  sluice::ComponentContext ctx;
  ctx.metrics = &metrics;
  ctx.fields = &fields;
  const std::string yaml =
      std::string("hosts: [\"http://127.0.0.1:9200\"]\nindex: \"") + kIndex[state.range(0)] + "\"\n";
  sluice::ConfigMap cfg(sluice::LoadYamlString(yaml, "bench.yml", &errors), "bench.yml", &errors);
  auto es = sluice::ParseEsSinkConfig(cfg, ctx);
  if (!es) {
    state.SkipWithError(errors.ToString().c_str());
    return;
  }
  auto batch = MakeBatch(2048);
  sluice::EventParser parser(fields.paths());
  parser.ParseBatch(batch.get());
  sluice::BulkEncoder enc(es.get());
  std::string body;
  for (auto _ : state) {
    body.clear();
    for (size_t i = 0; i < batch->size(); ++i) enc.Append(*batch, i, &body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * batch->size());
  state.SetBytesProcessed(state.iterations() * body.size());
}
BENCHMARK(BM_BulkEncode)->Arg(0)->Arg(1)->Arg(2);

void BM_ParseTimestamp(benchmark::State& state) {
  int64_t ms = 0;
  for (auto _ : state) {
    sluice::ParseRfc3339Ms("2026-11-21T05:30:59.285Z", &ms);
    benchmark::DoNotOptimize(ms);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTimestamp);

}  // namespace

BENCHMARK_MAIN();
