// Microbenchmarks of the rules engine (google-benchmark): items/s = events
// observed per second on one core, for one rule of each detector type, with
// the batch parsed beforehand (the pipeline parses once for every consumer).
//
//   build/bench/detectors_bench --benchmark_min_time=1
//   build/bench/detectors_bench --benchmark_filter='Thirty|Parse'   # bench/RESULTS.md, 30 rules

#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen_event.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "detectors/common/condition.h"
#include "detectors/rule_engine.h"
#include "pipeline/component.h"
#include "pipeline/event_parser.h"

namespace {
using namespace sluice;

constexpr int64_t kT0 = 1'800'000'000'000;

struct Setup {
  MetricsRegistry metrics;
  FieldRegistry fields;
  ComponentContext ctx;
  std::unique_ptr<detectors::RuleEngine> engine;
  std::shared_ptr<Batch> batch;

  Setup(const std::string& rule, int groups) {
    ctx.metrics = &metrics;
    ctx.fields = &fields;
    std::string path = StrCat("/tmp/sluice-detectors-bench-", getpid(), ".yml");
    std::ofstream(path) << "rules:\n" << rule;
    engine = std::make_unique<detectors::RuleEngine>(detectors::RuleEngineOptions{.base_dir = "/"});
    ConfigErrors errors;
    if (!engine->Load({path}, ctx, &errors).ok()) std::abort();
    std::remove(path.c_str());
    batch = std::make_shared<Batch>();
    for (int i = 0; i < 1024; ++i) {
      batch->Append(StrCat("{\"@timestamp\":\"", FormatRfc3339Ms(kT0 + i), "\",\"log\":{\"level\":\"",
                           i % 4 == 0 ? "INFO" : "ERROR", "\"},\"service\":{\"name\":\"svc-", i % groups,
                           "\"},\"file\":{\"size\":", 1000 + i % 97, "},\"model\":{\"sha256\":\"m", i % 997,
                           "\"},\"message\":\"something happened\"}"));
    }
    EventParser parser(fields.paths());
    parser.ParseBatch(batch.get());
  }
};

void Run(benchmark::State& state, const std::string& rule) {
  Setup s(rule, static_cast<int>(state.range(0)));
  for (auto _ : state) s.engine->Observe(*s.batch);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(s.batch->size()));
}

void BM_Threshold(benchmark::State& state) {
  Run(state, "  - {name: T, type: threshold, match: {log.level: [WARN, ERROR]}, group_by: [service.name], "
             "window: 5m, above: 100}\n");
}
void BM_Frequency(benchmark::State& state) {
  Run(state, "  - {name: F, type: frequency, match: {log.level: ERROR}, group_by: [service.name], window: 5m, "
             "baseline: 1h, spike_factor: 3}\n");
}
void BM_PayloadSize(benchmark::State& state) {
  Run(state, "  - {name: P, type: payload_size, match: {log.level: ERROR}, group_by: [service.name], "
             "field: file.size, factor: 5}\n");
}
void BM_Duplicate(benchmark::State& state) {
  Run(state, "  - {name: D, type: duplicate, match: {log.level: ERROR}, fingerprint: [model.sha256], "
             "window: 10m}\n");
}
// A duplicate rule at its cap (max_groups_per_rule 100,000: 25,000 per shard)
// with a new fingerprint for every event: 163,840 fingerprints in 160
// batches, replayed, so that each is gone by the time it comes again and
// every event evicts one (GroupTable at its cap; a new shipped line per event
// in DuplicateShipping once its window holds more than the cap).
void BM_DuplicateAtCap(benchmark::State& state) {
  MetricsRegistry metrics;
  FieldRegistry fields;
  ComponentContext ctx;
  ctx.metrics = &metrics;
  ctx.fields = &fields;
  std::string path = StrCat("/tmp/sluice-detectors-bench-", getpid(), ".yml");
  std::ofstream(path) << "rules:\n  - {name: D, type: duplicate, match: {model.sha256: {exists: true}}, "
                         "fingerprint: [model.sha256], window: 1h}\n";
  detectors::RuleEngine engine(detectors::RuleEngineOptions{.base_dir = "/"});
  ConfigErrors errors;
  if (!engine.Load({path}, ctx, &errors).ok()) std::abort();
  std::remove(path.c_str());
  EventParser parser(fields.paths());
  std::vector<std::shared_ptr<Batch>> batches;
  for (int b = 0; b < 160; ++b) {
    auto batch = std::make_shared<Batch>();
    for (int i = 0; i < 1024; ++i) {
      batch->Append(StrCat("{\"@timestamp\":\"", FormatRfc3339Ms(kT0 + i), "\",\"model\":{\"sha256\":\"m",
                           b * 1024 + i, "\"}}"));
    }
    parser.ParseBatch(batch.get());
    batches.push_back(batch);
  }
  for (const auto& b : batches) engine.Observe(*b);  // fills the table
  size_t i = 0;
  for (auto _ : state) engine.Observe(*batches[i++ % batches.size()]);
  state.SetItemsProcessed(state.iterations() * 1024);
}
// Condition matching alone: a regex and a comparison that never select the event.
void BM_ConditionOnly(benchmark::State& state) {
  Run(state, "  - {name: C, type: threshold, match: {any: [{service.name: {regex: \"^nomatch\"}}, "
             "{file.size: {gt: 1e9}}]}, window: 5m, above: 1}\n");
}

// The 30-rule set of the Beats end-to-end benchmark over the load generator's
// events (bench/rules/thirty-rules.yml, bench/RESULTS.md), and the parse the
// pipeline does for every batch with and without those rules' fields: the
// rules' share of the per-event cost.
struct ThirtyRules {
  MetricsRegistry metrics;
  FieldRegistry fields;
  ComponentContext ctx;
  std::unique_ptr<detectors::RuleEngine> engine;
  std::vector<std::shared_ptr<Batch>> batches;

  explicit ThirtyRules(bool load_rules) {
    ctx.metrics = &metrics;
    ctx.fields = &fields;
    engine = std::make_unique<detectors::RuleEngine>(detectors::RuleEngineOptions{.base_dir = SLUICE_SOURCE_DIR});
    ConfigErrors errors;
    if (load_rules && !engine->Load({"bench/rules/thirty-rules.yml"}, ctx, &errors).ok()) std::abort();
    EventParser parser(fields.paths());
    for (uint64_t b = 0; b < 16; ++b) {
      auto batch = std::make_shared<Batch>();
      for (uint64_t i = 0; i < 2048; ++i) batch->Append(bench::MakeEvent(b * 2048 + i, 500));
      parser.ParseBatch(batch.get());
      batches.push_back(batch);
    }
  }
};

void BM_ThirtyRulesObserve(benchmark::State& state) {
  ThirtyRules s(true);
  size_t i = 0;
  for (auto _ : state) s.engine->Observe(*s.batches[i++ % s.batches.size()]);
  state.SetItemsProcessed(state.iterations() * 2048);
}
// The same with event time moving on as in a stream: each replay of the 16
// batches (32,768 events, 1 ms apart) is shifted 65,536 ms later, so buckets
// advance and close (BM_ThirtyRulesObserve replays the same times: its buckets
// grow without end). Twice the replay's span, so that DuplicateShipping's
// fingerprints (log.offset repeats every replay) are more than its 1m window
// apart and count as new, as in the stream they model. The shift (2048
// additions per batch) is inside the timing, ~0.1% of it.
void BM_ThirtyRulesStream(benchmark::State& state) {
  ThirtyRules s(true);
  size_t i = 0;
  const int64_t span = 2 * static_cast<int64_t>(s.batches.size()) * 2048;
  for (auto _ : state) {
    Batch& b = *s.batches[i++ % s.batches.size()];
    if (i > s.batches.size()) {
      for (Event& e : b.events()) e.timestamp_ms += span;
    }
    s.engine->Observe(b);
  }
  state.SetItemsProcessed(state.iterations() * 2048);
}
void BM_ParseBatch(benchmark::State& state) {
  ThirtyRules s(state.range(0) != 0);
  EventParser parser(s.fields.paths());
  size_t i = 0;
  for (auto _ : state) parser.ParseBatch(s.batches[i++ % s.batches.size()].get());
  state.SetItemsProcessed(state.iterations() * 2048);
}
// What a pipeline worker does per batch: parse, then (with the rules) Observe,
// with the batch in whatever cache state the parse left it (BM_ThirtyRulesObserve
// reads 16 batches, 17 MB, that the parse touched long before). The rules'
// cost per event is /1 minus /0.
void BM_ThirtyRulesWorker(benchmark::State& state) {
  const bool rules = state.range(0) != 0;
  ThirtyRules s(rules);
  EventParser parser(s.fields.paths());
  size_t i = 0;
  for (auto _ : state) {
    Batch& b = *s.batches[i++ % s.batches.size()];
    parser.ParseBatch(&b);
    if (rules) s.engine->Observe(b);
  }
  state.SetItemsProcessed(state.iterations() * 2048);
}
BENCHMARK(BM_ThirtyRulesObserve);
BENCHMARK(BM_ThirtyRulesStream);
// BM_ParseBatch/1's parse with shapes off (/0/x) and on (/1/x) over the load
// generator's events (/x/0), and over events of 8 shapes in turn that differ
// only before their last member (/x/1: more shapes than the parser keeps,
// each miss found late, its worst case).
void BM_ParseBatchShapes(benchmark::State& state) {
  ThirtyRules s(true);
  if (state.range(1) != 0) {
    for (auto& batch : s.batches) {
      auto b = std::make_shared<Batch>();
      for (size_t i = 0; i < batch->size(); ++i) {
        std::string e(batch->View(Span{batch->events()[i].offset, batch->events()[i].length}));
        e.insert(e.find("\"message\""), StrCat("\"x", i % 8, "\":0,"));
        b->Append(e);
      }
      batch = b;
    }
  }
  EventParser parser(s.fields.paths());
  parser.set_shapes(state.range(0) != 0);
  size_t i = 0;
  for (auto _ : state) parser.ParseBatch(s.batches[i++ % s.batches.size()].get());
  state.SetItemsProcessed(state.iterations() * 2048);
}
// The 30 rules' conditions alone (ConditionSet::Eval over 256-event chunks,
// as RuleEngine::Observe calls it) over the load generator's events, the
// batches small enough (4 x 2048 events) to stay in the caches: the
// conditions' instructions without the engine's memory stalls.
void BM_ThirtyRulesConditions(benchmark::State& state) {
  FieldRegistry fields;
  ConfigErrors errors;
  const YAML::Node file = LoadYamlFile(StrCat(SLUICE_SOURCE_DIR, "/bench/rules/thirty-rules.yml"), &errors);
  std::vector<std::unique_ptr<detectors::Condition>> conds;
  detectors::ConditionSet set;
  for (const auto& rule : file["rules"]) {
    conds.push_back(detectors::Condition::Compile(rule["match"], "thirty-rules.yml", &fields, &errors));
    if (!conds.back()) std::abort();
    set.Add(*conds.back());
  }
  EventParser parser(fields.paths());
  std::vector<std::shared_ptr<Batch>> batches;
  for (uint64_t b = 0; b < 4; ++b) {
    auto batch = std::make_shared<Batch>();
    for (uint64_t i = 0; i < 2048; ++i) batch->Append(bench::MakeEvent(b * 2048 + i, 500));
    parser.ParseBatch(batch.get());
    batches.push_back(batch);
  }
  detectors::ConditionSet::Scratch scratch;
  size_t i = 0;
  for (auto _ : state) {
    const Batch& b = *batches[i++ % batches.size()];
    for (uint32_t base = 0; base < 2048; base += detectors::ConditionSet::kChunk) {
      set.Eval(b, base, detectors::ConditionSet::kChunk, &scratch);
    }
    benchmark::DoNotOptimize(set.result(scratch, 0));
  }
  state.SetItemsProcessed(state.iterations() * 2048);
}
BENCHMARK(BM_ThirtyRulesConditions);
BENCHMARK(BM_ParseBatch)->Arg(0)->Arg(1);
BENCHMARK(BM_ParseBatchShapes)->Args({0, 0})->Args({1, 0})->Args({0, 1})->Args({1, 1});
BENCHMARK(BM_ThirtyRulesWorker)->Arg(0)->Arg(1);

BENCHMARK(BM_Threshold)->Arg(10)->Arg(10000);
BENCHMARK(BM_Frequency)->Arg(10)->Arg(10000);
BENCHMARK(BM_PayloadSize)->Arg(10)->Arg(10000);
BENCHMARK(BM_Duplicate)->Arg(10);
BENCHMARK(BM_DuplicateAtCap);
BENCHMARK(BM_ConditionOnly)->Arg(10);

}  // namespace

BENCHMARK_MAIN();
