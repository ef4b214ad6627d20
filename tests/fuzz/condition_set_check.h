#pragma once
// The property the condition-set fuzzer checks, shared with the gtest that
// replays the checked-in corpus (tests/detectors/condition_set_corpus_test.cc).
//
// The conditions of every rule, evaluated together 256 events at a time
// (ConditionSet: SIMD loads of values within the batch's arena, needle
// searches 64 positions at a time, equality tables, numbers parsed once),
// must give each event the answer of Condition::Matches, the reference that
// walks one rule's tree for one event; and must read nothing outside the
// batch (ASan and UBSan in the fuzz build). The events are the input's bytes
// as the pipeline has them: parsed by EventParser into a batch whose arena
// ends with the parser's padding.
//
// Input layout: byte 0 picks how many events the batch holds (1..299, so that
// the second chunk and every word of a chunk's masks are reached), the rest
// is up to 64 events separated by '\n', repeated in turn to that count.
// Answers are compared on the three paths: AVX-512 VBMI needle search where
// the CPU has it, AVX2, and the portable code.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_reader.h"
#include "detectors/common/condition.h"
#include "fuzz_events.h"
#include "pipeline/batch.h"
#include "pipeline/component.h"
#include "pipeline/event_parser.h"

namespace sluice::detectors::fuzz {

// The 30-rule bench set's conditions, the shop pack's kinds, and one of each
// leaf the compiler treats apart: numbers against strings and booleans,
// null, long and short equality strings, anchored and case-folding regexes,
// literal alternatives, regexes RE2 must run (prefilter atoms), non-ASCII
// needles, a needle of one byte, nested any/all/not.
inline const char* const kConditions[] = {
    "{http.response.status_code: {gte: 500}}",
    "{http.response.status_code: 503}",
    "{http.response.status_code: {gte: 400, lt: 500}}",
    "{service.name: shop-web, http.response.status_code: {in: [500, 502, 503, 504]}}",
    "{log.level: ERROR}",
    "{service.name: payments, log.level: {in: [ERROR, FATAL]}}",
    "{log.level: [WARN, ERROR]}",
    "{service.name: {exists: true}}",
    "{host.name: {exists: false}}",
    "{message: {regex: 'method=POST'}, event.duration_ms: {gt: 240}}",
    "{message: {regex: 'status=failed'}}",
    "{service.name: payments, message: {regex: 'declined|insufficient funds'}}",
    "{message: {regex: '(?i)time(d)? ?out'}}",
    "{message: {regex: 'OutOfMemory|OOMKilled'}}",
    "{any: [{message: {regex: 'Exception'}}, {message: {regex: 'Traceback'}}]}",
    "{log.file.path: {regex: '^/var/log/'}}",
    "{not: {input.type: filestream}}",
    "{all: [{log.offset: {exists: true}}, {not: {log.level: INFO}}]}",
    "{message: {regex: '^INFO order [0-9]+ '}}",
    "{message: {regex: 'ünï|naïve'}}",
    "{message: {regex: 'x$'}}",
    "{message: {regex: 'a'}}",
    "{message: {regex: '(?i)EXCEPTION'}}",
    "{http.response.status_code: '503'}",
    "{http.response.status_code: {regex: '^5'}}",
    "{http.response.status_code: {lte: 200.5}}",
    "{event.duration_ms: {lt: 0}}",
    "{order.id: 12345}",
    "{flag: true}",
    "{flag: null}",
    "{service.name: [shop-api, payments, inventory, shop-web, a-service-name-of-more-than-sixteen-bytes]}",
    "{labels.stage: {regex: '^(price|slice)$'}}",
    "{any: [{labels.stage: quote}, {all: [{order.id: {exists: true}}, {not: {order.status: [new, paid]}}]}]}",
    "{file.size: {gt: 1.0e8}}",
    "{}",
};

struct CheckedRules {
  FieldRegistry fields;
  ConfigErrors errors;
  std::vector<std::unique_ptr<Condition>> conds;
  // The same conditions three times: VBMI (where the CPU has it), AVX2, portable.
  ConditionSet sets[3];

  CheckedRules() {
    for (const char* text : kConditions) {
      YAML::Node n = LoadYamlString(text, "fuzz.yml", &errors);
      conds.push_back(Condition::Compile(n, "fuzz.yml", &fields, &errors));
      if (!conds.back()) std::abort();  // the list above must compile
    }
    for (ConditionSet& s : sets) {
      for (const auto& c : conds) s.Add(*c);
    }
    sets[0].set_vbmi(true);
    sets[1].set_vbmi(false);
    sets[2].set_portable(true);
  }
};

// "" when every answer agrees, else what differed.
inline std::string CheckOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return "";
  static CheckedRules* rules = new CheckedRules();  // for the process's life, as libFuzzer runs it
  static EventParser* parser = new EventParser(rules->fields.paths());
  const size_t count = 1 + size_t{data[0]} * 300 / 256;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string_view> events = sluice::fuzz::SplitEvents(in, 64);
  Batch batch;
  for (size_t i = 0; i < count; ++i) batch.Append(events[i % events.size()]);
  parser->ParseBatch(&batch);

  ConditionSet::Scratch scratch;
  const uint32_t n = static_cast<uint32_t>(batch.size());
  for (size_t path = 0; path < 3; ++path) {
    const ConditionSet& set = rules->sets[path];
    for (uint32_t base = 0; base < n; base += ConditionSet::kChunk) {
      const uint32_t m = std::min(ConditionSet::kChunk, n - base);
      set.Eval(batch, base, m, &scratch);
      for (size_t k = 0; k < rules->conds.size(); ++k) {
        const ConditionSet::Mask& got = set.result(scratch, k);
        for (uint32_t j = 0; j < m; ++j) {
          // Invalid events never reach a rule (RuleEngine::Observe's valid mask).
          if (batch.events()[base + j].flags & kEventInvalid) continue;
          const bool want = rules->conds[k]->Matches(batch, base + j);
          const bool bit = (got.w[j / 64] >> (j % 64)) & 1;
          if (bit != want) {
            return std::string("path ") + (path == 0 ? "vbmi" : path == 1 ? "avx2" : "portable") + ", condition " +
                   kConditions[k] + ": set says " + (bit ? "match" : "no match") + ", Matches says " +
                   (want ? "match" : "no match") + " for event " + std::to_string(base + j) + ": " +
                   std::string(batch.Raw(batch.events()[base + j]));
          }
        }
      }
    }
  }
  return "";
}

}  // namespace sluice::detectors::fuzz
