// What the order-flow rule costs per event at the simulator's event mix
// (issue 5), without the noise of an end-to-end run: the shop's Beats events
// (ShopGenerator, a quiet day from 08:00, 6 simulated hours) parsed once into
// batches of 1024, then RuleEngine::Observe on one core with
//   0: the rule pack without rules/shop/orders.yml
//   1: the whole pack
//   2: the flow rule alone
// and the parse each configuration's fields cost (BM_ShopParse: 0 no fields,
// 1 the pack's without the flow's, 2 the whole pack's). items/s = events.
//
//   build/bench/flow_bench --benchmark_min_time=1       # bench/RESULTS.md, "Order flow cost"

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/strings.h"
#include "detectors/rule_engine.h"
#include "pipeline/component.h"
#include "pipeline/event_parser.h"
#include "simulator/generator.h"
#include "simulator/scenario.h"

namespace {
using namespace sluice;

std::vector<std::string> RuleFiles(int config) {
  std::vector<std::string> files;
  if (config != 2) {
    for (const char* f : {"calculations", "traffic", "queue_and_databases", "levels"}) {
      files.push_back(StrCat("rules/shop/", f, ".yml"));
    }
  }
  if (config != 0) files.push_back("rules/shop/orders.yml");
  return files;
}

// The Beats events of the shop, generated once.
const std::vector<std::string>& ShopEvents() {
  static const std::vector<std::string> events = [] {
    auto sc = simulator::ParseScenario(
        "name: bench\nstart: 2026-11-23T08:00:00Z\nduration: 6h\norders_per_hour: 600\nrequests_per_second: 30\n",
        "bench");
    if (!sc.ok()) std::abort();
    simulator::ShopGenerator gen(*sc, 1);
    std::vector<simulator::SimEvent> sim;
    std::vector<std::string> truth;
    gen.GenerateUntil(gen.end_ms(), &sim, &truth);
    std::vector<std::string> out;
    for (auto& e : sim) {
      if (e.channel == simulator::SimEvent::kBeats) out.push_back(std::move(e.text));
    }
    return out;
  }();
  return events;
}

struct Shop {
  MetricsRegistry metrics;
  FieldRegistry fields;
  ComponentContext ctx;
  std::unique_ptr<detectors::RuleEngine> engine;
  std::vector<std::shared_ptr<Batch>> batches;
  size_t events = 0;

  explicit Shop(int config) {
    ctx.metrics = &metrics;
    ctx.fields = &fields;
    engine = std::make_unique<detectors::RuleEngine>(detectors::RuleEngineOptions{.base_dir = SLUICE_SOURCE_DIR});
    ConfigErrors errors;
    if (config >= 0 && !engine->Load(RuleFiles(config), ctx, &errors).ok()) std::abort();
    EventParser parser(fields.paths());
    const auto& all = ShopEvents();
    for (size_t i = 0; i < all.size(); i += 1024) {
      auto batch = std::make_shared<Batch>();
      for (size_t j = i; j < std::min(all.size(), i + 1024); ++j) batch->Append(all[j]);
      parser.ParseBatch(batch.get());
      events += batch->size();
      batches.push_back(batch);
    }
  }
};

// Every batch once per iteration, in time order (the flows move on; a second
// pass finds them done and skips their events).
void BM_ShopObserve(benchmark::State& state) {
  Shop s(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const auto& b : s.batches) s.engine->Observe(*b);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(s.events));
}

void BM_ShopParse(benchmark::State& state) {
  Shop s(static_cast<int>(state.range(0)) - 1);  // -1: no rules
  EventParser parser(s.fields.paths());
  for (auto _ : state) {
    for (const auto& b : s.batches) parser.ParseBatch(b.get());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(s.events));
}

BENCHMARK(BM_ShopObserve)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ShopParse)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
