// The group fields' hash memo (FieldHashMemo): its AVX2 look-up
// (RuleEngineOptions::simd) and its portable one against no memo at all
// (RuleEngineOptions::hash_memo = false): every detector must receive the
// same updates, with the same group hashes, in the same order, shard by shard
// (a recorder detector logs them verbatim). The group field's values come
// from pools of 1 to 100 values (the memo's 64 entries collide) of 0 to 40
// bytes (past the memo's 32), many differing in a single byte, of every kind;
// half the batches have their arena cut to its size after the parse, so that
// the last events' values end within 32 bytes of the allocation's end (the
// AVX2 look-up then copies them rather than loading 32 bytes).
//
// Its own binary: it registers a test detector type (see chunk_runs_test.cc).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>

#include "detectors/common/hash_lanes.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Pick;
using testing::RulesHarness;

// Every update as received, per shard, in order. A value run's key (a
// pointer) is replaced by its entries.
class UpdateLogDetector : public Detector {
 public:
  UpdateLogDetector(const RuleSpec* spec, const DetectorEnv& env, int kind, int field, int64_t bucket_ms,
                    std::vector<int> fingerprint)
      : Detector(spec, env) {
    key_fields_ = std::move(fingerprint);  // keyed: the engine combines these fields' hashes into `key`
    merge_ = kind == 1 ? Merge::kMax : kind == 0 ? Merge::kCount : Merge::kNo;  // runs: as sum and avg
    merge_bucket_ms_ = bucket_ms;
    value_runs_ = kind == 2;
    if (field >= 0) {
      value_source_ = ValueSource::kField;
      value_field_ = field;
    }
  }
  void Apply(size_t shard, const Update* u, size_t n, const Batch&, std::vector<SampleCandidate>*) override {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < n; ++i) {
      const Update& up = u[i];
      uint64_t value_bits;
      std::memcpy(&value_bits, &up.value, sizeof value_bits);
      std::string& out = log_[shard];
      StrAppend(&out, up.event, " ", up.count, " ", up.group, " ", up.ts, " ", value_bits, " ", up.ts_last);
      if (value_runs_ && up.count > 1) {
        const RunEntry* e = RunEntries(up);
        for (uint32_t k = 0; k < up.count; ++k) StrAppend(&out, " [", e[k].value, " ", e[k].ts, " ", e[k].event, "]");
      } else {
        StrAppend(&out, " ", up.key);
      }
      out += "\n";
      ++updates_;
    }
  }
  void Evaluate(int64_t, std::vector<GroupResult>*) override {}
  size_t groups() const override { return 0; }
  size_t state_bytes() const override { return 0; }
  const std::map<size_t, std::string>& log() const { return log_; }
  size_t updates() const { return updates_; }

 private:
  std::mutex mu_;
  std::map<size_t, std::string> log_;
  size_t updates_ = 0;
};

std::unique_ptr<Detector> NewUpdateLog(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  const std::string kind = cfg.Enum("merge", "count", {"count", "max", "runs"});
  const int field = kind == "count" ? -1 : OptionalField(cfg, "field", env.fields);
  std::vector<int> fingerprint;
  if (cfg.Has("fingerprint")) {
    for (const std::string& path : cfg.StringList("fingerprint")) fingerprint.push_back(env.fields->Register(path));
  }
  return std::make_unique<UpdateLogDetector>(spec, env, kind == "count" ? 0 : kind == "max" ? 1 : 2, field,
                                             RequiredDurationMs(cfg, "bucket"), std::move(fingerprint));
}
SLUICE_REGISTER_DETECTOR("memo_update_log", NewUpdateLog);

// A pool of `k` distinct values of field g: strings of 0 to 40 bytes (some
// differing in one byte only), and a few of another kind.
std::vector<std::string> ValuePool(std::mt19937_64& rng, size_t k) {
  std::vector<std::string> pool;
  const size_t lens[] = {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33, 40};
  while (pool.size() < k) {
    std::string v;
    switch (rng() % 16) {
      case 0:
        v = Pick(rng, {"", R"(,"g":12)", R"(,"g":true)", R"(,"g":null)", R"(,"g":{"a":1})", R"(,"g":"A\u0041")"});
        break;
      default: {
        std::string s(lens[rng() % std::size(lens)], 'a');
        for (char& c : s) c = static_cast<char>('a' + rng() % 3);
        v = StrCat(R"(,"g":")", s, R"(")");
      }
    }
    if (std::find(pool.begin(), pool.end(), v) == pool.end()) pool.push_back(v);
  }
  return pool;
}

// Random batches of events with field g from a fresh pool each.
struct Stream {
  std::mt19937_64 rng;
  int64_t t = kT0;
  explicit Stream(uint64_t seed) : rng(seed) {}
  std::vector<std::string> Batch() {
    static const size_t kPools[] = {1, 3, 4, 12, 13, 16, 20, 31, 32, 33, 48, 100};
    const std::vector<std::string> pool = ValuePool(rng, kPools[rng() % std::size(kPools)]);
    std::vector<std::string> evs;
    const int n = 1 + static_cast<int>(rng() % (rng() % 2 ? 8 : 1100));
    const bool ordered = rng() % 5 != 0;
    const int64_t step = std::vector<int64_t>{0, 1, 4, 30}[rng() % 4];
    for (int k = 0; k < n; ++k) {
      t += static_cast<int64_t>(rng() % static_cast<uint64_t>(step + 1));
      int64_t ts = t;
      if (!ordered && rng() % 40 == 0) ts -= static_cast<int64_t>(rng() % 3000);
      std::string members = StrCat(R"("service":{"name":"svc-)", rng() % 3, R"("},"log":{"level":")",
                                   Pick(rng, {"ERROR", "WARN", "INFO"}), R"("},"n":)", rng() % 1000,
                                   pool[rng() % pool.size()]);
      // A long run of one value now and then.
      if (rng() % 50 == 0) members += R"(,"h":"h)" + std::to_string(rng() % 16) + "\"";
      evs.push_back(Ev(ts, members));
    }
    return evs;
  }
};

// Rules R0 .. R{nrules-1} of engines h[1] and h[2] received the updates of
// h[0]'s, shard by shard; `updates` counts h[0]'s.
void ExpectSameUpdates(RulesHarness (&h)[3], size_t nrules, const std::string& yaml, size_t* updates) {
  for (size_t i = 0; i < nrules; ++i) {
    const std::string name = StrCat("R", i);
    const auto* a = dynamic_cast<UpdateLogDetector*>(h[0].engine->detector(name));
    for (int k : {1, 2}) {
      const auto* b = dynamic_cast<UpdateLogDetector*>(h[k].engine->detector(name));
      ASSERT_EQ(a->log().size(), b->log().size()) << name << "\n" << yaml;
      for (const auto& [shard, text] : a->log()) {
        auto it = b->log().find(shard);
        ASSERT_TRUE(it != b->log().end()) << name;
        ASSERT_EQ(it->second, text) << name << " shard " << shard << " engine " << k << "\n" << yaml;
      }
    }
    *updates += a->updates();
  }
}

TEST(HashMemoTest, SameUpdatesWideAndPortableAsWithoutMemo) {
  size_t updates = 0, cut = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    const int nrules = 2 + static_cast<int>(rng() % 5);
    std::string yaml = "rules:\n";
    for (int i = 0; i < nrules; ++i) {
      StrAppend(&yaml, "  - name: R", i, "\n    type: memo_update_log\n    match: ",
                Pick(rng, {"{log.level: ERROR}", "{service.name: {exists: true}}", "{n: {gte: 10}}"}),
                "\n    group_by: ", Pick(rng, {"[g]", "[g]", "[g, service.name]", "[service.name, g]", "[h]"}),
                "\n    bucket: ", Pick(rng, {"1s", "10s", "1m"}), "\n");
      yaml += Pick(rng, {"", "    merge: max\n    field: n\n", "    merge: runs\n    field: n\n"});
    }
    RulesHarness h[3];
    ASSERT_TRUE(h[0].Load(yaml, {.allowed_lateness_ms = 0, .hash_memo = false}).ok()) << h[0].errors.ToString()
                                                                                      << yaml;
    ASSERT_TRUE(h[1].Load(yaml, {.allowed_lateness_ms = 0, .simd = true}).ok()) << yaml;
    ASSERT_TRUE(h[2].Load(yaml, {.allowed_lateness_ms = 0, .simd = false}).ok()) << yaml;
    Stream s(seed * 7919);
    for (int b = 0; b < 16; ++b) {
      const std::vector<std::string> evs = s.Batch();
      const bool shrink = rng() % 2;
      for (RulesHarness& x : h) {
        auto batch = x.MakeBatch(evs);
        if (shrink) {
          batch->arena().shrink_to_fit();
          cut += batch->arena().capacity() < batch->arena().size() + 32;
        }
        x.engine->Observe(*batch);
      }
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameUpdates(h, static_cast<size_t>(nrules), yaml, &updates)) << "seed " << seed;
  }
  EXPECT_GT(updates, 20000u);
  EXPECT_GT(cut, 100u);  // the copying path did run
}

// Fingerprint keys computed 4 at a time (RuleEngineOptions::hash_lanes,
// AVX-512; KeyChainLanes) against one per match: the same updates with the
// same keys, bit for bit (keys are saved in the rules' state). Keys of one,
// two or three fields (hashed with and without the memo), rules matching
// every event, half of them or a few (below an eighth of a chunk the keys
// are computed per match), grouped or not.
TEST(HashMemoTest, HashLanesSameUpdatesAsOneAtATime) {
  if (!CpuHasHashLanes()) GTEST_SKIP() << "no AVX-512 DQ+VL on this CPU";
  size_t updates = 0, keyed = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    const int nrules = 2 + static_cast<int>(rng() % 4);
    std::string yaml = "rules:\n";
    for (int i = 0; i < nrules; ++i) {
      StrAppend(&yaml, "  - name: R", i, "\n    type: memo_update_log\n    match: ",
                Pick(rng, {"{n: {gte: 0}}", "{n: {gte: 500}}", "{n: {gte: 990}}", "{service.name: {exists: true}}"}),
                "\n    group_by: ", Pick(rng, {"[]", "[service.name]", "[g]"}), "\n    bucket: 1s\n    merge: ",
                Pick(rng, {"count", "runs"}), "\n");
      if (rng() % 4) {
        StrAppend(&yaml, "    fingerprint: ", Pick(rng, {"[g]", "[n]", "[g, n]", "[service.name, g, n]"}), "\n");
        ++keyed;
      }
      if (yaml.find("merge: runs\n", yaml.rfind("  - name:")) != std::string::npos) yaml += "    field: n\n";
    }
    RulesHarness h[3];
    ASSERT_TRUE(h[0].Load(yaml, {.allowed_lateness_ms = 0, .hash_memo = false, .simd = true}).ok())
        << h[0].errors.ToString() << yaml;
    ASSERT_TRUE(h[1].Load(yaml, {.allowed_lateness_ms = 0, .hash_memo = false, .simd = true, .hash_lanes = false})
                    .ok());
    ASSERT_TRUE(h[2].Load(yaml, {.allowed_lateness_ms = 0, .simd = true}).ok());
    Stream s(seed * 104729);
    for (int b = 0; b < 12; ++b) {
      const std::vector<std::string> evs = s.Batch();
      for (RulesHarness& x : h) {
        auto batch = x.MakeBatch(evs);
        batch->arena().shrink_to_fit();
        x.engine->Observe(*batch);
      }
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameUpdates(h, static_cast<size_t>(nrules), yaml, &updates)) << "seed " << seed;
  }
  EXPECT_GT(updates, 20000u);
  EXPECT_GT(keyed, 40u);
}

// A slot whose values are mostly an earlier slot's in the same event (b and
// a here, as host.name and agent.name in Filebeat's events) takes that
// slot's hashes for each value of the same kind and bytes (SlotPairs,
// KnownSame in rule_engine.cc). Against no memo at all: b equal to a in all,
// most, some or none of a batch's events (so that the pair is made and
// unmade), and where they differ: in the last byte only, in length (31, 32,
// 33 bytes), in kind only (the string "12" and the number 12 have the same
// bytes), beyond 32 bytes, or one missing.
std::string PairValue(std::mt19937_64& rng) {
  static const char* kFixed[] = {"12", "\"12\"", "true", "\"true\"", "null", "\"null\"", "1.5", "\"1.5\"", "{\"x\":1}",
                                 "\"A\\u0041\"", "\"AA\"", "\"\""};
  if (rng() % 3 == 0) return kFixed[rng() % std::size(kFixed)];
  const size_t lens[] = {1, 2, 7, 8, 9, 16, 31, 32, 33, 40};
  std::string v(lens[rng() % std::size(lens)], 'a');
  for (char& c : v) c = static_cast<char>('a' + rng() % 2);
  return StrCat("\"", v, "\"");
}

// A value with the same bytes of another kind, or "" (none).
std::string OtherKind(const std::string& v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    const std::string in = v.substr(1, v.size() - 2);
    if (in == "12" || in == "true" || in == "null" || in == "1.5") return in;
    return "";
  }
  return v == "12" || v == "true" || v == "null" || v == "1.5" ? StrCat("\"", v, "\"") : "";
}

TEST(HashMemoTest, EqualSlotsTakeTheEarlierSlotsHashesOnlyForTheSameKindAndBytes) {
  size_t updates = 0, kinds = 0, unequal = 0;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    std::mt19937_64 rng(seed);
    std::string yaml = "rules:\n";
    const char* lists[] = {"[a]", "[b]", "[a, b]", "[b, c]", "[c]"};
    for (size_t i = 0; i < std::size(lists); ++i) {
      StrAppend(&yaml, "  - name: R", i, "\n    type: memo_update_log\n    match: {n: {gte: ", rng() % 3,
                "}}\n    group_by: ", lists[i], "\n    bucket: ", Pick(rng, {"1s", "10s"}), "\n");
      yaml += Pick(rng, {"", "    merge: max\n    field: n\n", "    merge: runs\n    field: n\n"});
    }
    RulesHarness h[3];
    ASSERT_TRUE(h[0].Load(yaml, {.allowed_lateness_ms = 0, .hash_memo = false}).ok()) << h[0].errors.ToString();
    ASSERT_TRUE(h[1].Load(yaml, {.allowed_lateness_ms = 0, .simd = true}).ok());
    ASSERT_TRUE(h[2].Load(yaml, {.allowed_lateness_ms = 0, .simd = false}).ok());
    int64_t t = kT0;
    for (int b = 0; b < 12; ++b) {
      // How often b is a's value: always, mostly, sometimes, never.
      const uint64_t equal_pct = std::vector<uint64_t>{100, 90, 60, 20, 0}[rng() % 5];
      const int n = 1 + static_cast<int>(rng() % (rng() % 4 ? 1100 : 40));
      std::vector<std::string> evs;
      for (int k = 0; k < n; ++k) {
        t += static_cast<int64_t>(rng() % 5);
        const std::string a = PairValue(rng);
        std::string bv = a;
        if (rng() % 100 >= equal_pct) {
          const std::string other = OtherKind(a);
          if (!other.empty() && rng() % 2) {
            bv = other;
            ++kinds;
          } else if (rng() % 4 == 0 && a.size() > 2 && a.front() == '"') {
            bv = a;  // the last byte changed
            bv[bv.size() - 2] = bv[bv.size() - 2] == 'a' ? 'b' : 'a';
          } else {
            bv = PairValue(rng);
          }
          unequal += bv != a;
        }
        std::string members = StrCat(R"("n":)", rng() % 4);
        if (rng() % 50) StrAppend(&members, R"(,"a":)", a);
        if (rng() % 50) StrAppend(&members, R"(,"b":)", bv);
        StrAppend(&members, R"(,"c":)", rng() % 2 ? bv : PairValue(rng));
        evs.push_back(Ev(t, members));
      }
      const bool shrink = rng() % 2;
      for (RulesHarness& x : h) {
        auto batch = x.MakeBatch(evs);
        if (shrink) batch->arena().shrink_to_fit();
        x.engine->Observe(*batch);
      }
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameUpdates(h, std::size(lists), yaml, &updates)) << "seed " << seed;
  }
  EXPECT_GT(updates, 50000u);
  EXPECT_GT(kinds, 1000u);  // same bytes, another kind
  EXPECT_GT(unequal, 20000u);
}

}  // namespace
}  // namespace sluice::detectors
