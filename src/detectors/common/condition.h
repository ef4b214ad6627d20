#pragma once
// The `match:` condition of a rule, compiled once per rule set into a flat
// tree over extracted field indexes. Matching reads only Batch::field() values;
// it never touches the JSON.
//
//   log.level: FATAL                      equals (strings, numbers, true/false, null)
//   service.name: [mes-api, mes-core]     one of
//   http.response.status_code: {gte: 500} gt, gte, lt, lte (numbers and numeric strings)
//   url.path: {regex: "^/api/orders"}     RE2, unanchored (strings and number text)
//   order.id: {exists: true}              present and not null
//   any: [...] / all: [...] / not: {...}  combine condition maps
//
// A field of the wrong type never matches (a comparison on a non-numeric
// string, a regex on an object), it is not an error.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/config_reader.h"
#include "pipeline/batch.h"

namespace re2 {
class FilteredRE2;
class RE2;
}

namespace sluice {
class FieldRegistry;
}

namespace sluice::detectors {

class Condition {
 public:
  // Compiles `node` (a map of field → condition); registers every field path
  // it reads with `fields`. Errors go to `errors` with the node's line.
  // Returns nullptr on errors. A null/absent node matches every event.
  static std::unique_ptr<Condition> Compile(const YAML::Node& node, const std::string& file, FieldRegistry* fields,
                                            ConfigErrors* errors);
  ~Condition();

  // One event, walking the tree (the reference for ConditionSet, and what
  // detectors with conditions of their own use per event).
  bool Matches(const Batch& batch, size_t event) const { return nodes_.empty() || Eval(0, batch, event); }
  // Number of compiled nodes (for tests).
  size_t size() const { return nodes_.size(); }

 private:
  friend class ConditionSet;
  enum class Op : uint8_t { kAll, kAny, kNot, kEquals, kOneOf, kGt, kGte, kLt, kLte, kRegex, kExists, kNotExists };
  struct Literal {
    FieldKind kind;       // kString, kNumber, kTrue, kFalse, kNull
    std::string text;     // string content (unescaped) or number text
    double number = 0;    // when the text is numeric
    bool numeric = false;
  };
  struct Node {
    Op op;
    int field = -1;                    // leaf: field index
    std::vector<uint32_t> children;    // kAll / kAny / kNot
    std::vector<Literal> literals;     // kEquals (one) / kOneOf; kRegex: its literal alternatives, if it is only that
    double number = 0;                 // comparisons
    std::unique_ptr<re2::RE2> re;      // kRegex
    bool prefix = false;               // kRegex "^text": literals[0] must start the value
    // kRegex that is not only literals: the strings any match contains (the
    // prefilter's atoms), and the prefilter that runs RE2 only if they are found.
    std::vector<std::string> atoms;
    // The order to search them in: first the `required_atoms` the prefilter
    // cannot pass without (the longest first), then the others.
    std::vector<int> atom_order;
    size_t required_atoms = 0;
    std::unique_ptr<re2::FilteredRE2> prefilter;
  };

  Condition() = default;
  int CompileMap(const YAML::Node& node, const std::string& file, FieldRegistry* fields, ConfigErrors* errors);
  int CompileField(const std::string& path, const YAML::Node& value, const std::string& file, FieldRegistry* fields,
                   ConfigErrors* errors);
  int CompileList(Op op, const YAML::Node& value, const std::string& file, FieldRegistry* fields,
                  ConfigErrors* errors);
  bool Eval(uint32_t i, const Batch& batch, size_t event) const;
  // A leaf (not kAll/kAny/kNot) on field value `v`. `number`: the value's
  // number if the caller parsed it already (NaN: not a number), else nullptr.
  static bool EvalLeaf(const Node& n, const Batch& batch, const FieldValue& v, const double* number);
  static void LiteralAlternatives(const std::string& pattern, std::vector<Literal>* out, bool* prefix);
  static void AddPrefilter(Node* leaf);
  static bool LiteralEquals(const Literal& lit, const FieldValue& v, std::string_view text, const double* number);
  // A regex with prefilter atoms on an ASCII text: has_atom(i) tells whether
  // atom i is in the text (searched without ASCII case).
  template <typename HasAtom>
  static bool PrefilterMatch(const Node& n, std::string_view text, const HasAtom& has_atom);

  std::vector<Node> nodes_;
};

// The conditions of every rule of a rule set, evaluated together over up to
// kChunk events at a time (RuleEngine::Observe), with the same answers as
// Condition::Matches (tests/detectors/condition_set_test.cc checks that on
// random rule sets and events):
//  * each distinct leaf (field, operator, operand) is evaluated once per
//    event however many rules use it, into a bit mask over the chunk; the
//    rules' any/all/not trees then combine masks, 64 events per operation;
//  * a field that numeric leaves read is parsed into a number once per event;
//  * a regex is evaluated only for the events where its value can change
//    some rule's answer (the other leaves of its rules, evaluated first,
//    decide the rest);
//  * the equality leaves on one field (service.name, event.action: the shop
//    pack has ~30 of them on two fields) look the field's string up once per
//    event in a table of their values, which gives the leaves it satisfies,
//    instead of each leaf comparing it (EqualityIndex).
// detectors_bench BM_ThirtyRulesObserve.
class ConditionSet {
 public:
  // 512, not 256: the per-chunk work of every rule (its masks, runs, the
  // loops over rules and fields) spread over twice the events; the rules'
  // share of sluice's samples 0.2307 -> 0.2279 with every event new, 0.1939
  // -> 0.1895 on the default stream; 1024 was worse again (bench/RESULTS.md,
  // "chunks of 512 events").
  static constexpr uint32_t kChunk = 512;
  static constexpr size_t kWords = kChunk / 64;
  struct Mask {
    uint64_t w[kWords];
  };
  // Per-thread working memory of Eval (and where its results live).
  struct Scratch {
    std::vector<Mask> preds, nodes;
    std::vector<double> numbers;  // [numeric column * kChunk + event in chunk]
    std::vector<uint64_t> found;  // [needle group * kChunk + event in chunk]: needles in the text
    // [needle group]: the events whose text was searched (found is theirs),
    // and of those the ones whose text is only ASCII.
    std::vector<Mask> searched, ascii;
  };

  ConditionSet() = default;
  ConditionSet(ConditionSet&&) = default;
  ConditionSet& operator=(ConditionSet&&) = default;
  // Adds a condition (it must outlive the set). Returns its index.
  size_t Add(const Condition& c);
  // Also parses `field` into a numeric column at every Eval (numbers(field)
  // non-null), for a caller that reads the field's numbers itself (a rule's
  // `field:` value) even where no leaf compares it.
  void AddNumbers(int field) { ColumnOf(field); }
  size_t size() const { return roots_.size(); }
  // Distinct leaves over all the conditions (for tests).
  size_t leaf_count() const { return preds_.size(); }
  // Leaves answered through an equality index (for tests).
  size_t indexed_leaf_count() const {
    size_t n = 0;
    for (const EqualityIndex& x : indexes_) n += x.preds.size();
    return n;
  }

  // Equality indexes with a table of their short strings (for tests).
  size_t short_table_count() const {
    size_t n = 0;
    for (const EqualityIndex& x : indexes_) n += !x.short_slots.empty();
    return n;
  }

  // Tests: the portable code (no AVX2) even where AVX2 is compiled in, to
  // compare the two.
  void set_portable(bool on) { portable_ = on; }
  // Whether the needle search takes its AVX-512 VBMI path (64 positions at a
  // time, a byte table per window position) where the CPU has it; tests turn
  // it off to compare it with the AVX2 path. vbmi(): the path is taken.
  void set_vbmi(bool on) { vbmi_ = on && CpuHasVbmi(); }
  bool vbmi() const { return vbmi_; }
  static bool CpuHasVbmi();

  // Evaluates every condition on events [base, base + m) of `batch`, m <= kChunk.
  void Eval(const Batch& batch, uint32_t base, uint32_t m, Scratch* s) const;
  // Condition k's result of the last Eval: bit j set if event base + j matches
  // (bits at and past m are not meaningful).
  const Mask& result(const Scratch& s, size_t k) const { return s.nodes[roots_[k]]; }
  // The numbers of `field` parsed by the last Eval (NaN: none, as FieldNumber
  // false), or nullptr if no leaf reads that field as a number.
  const double* numbers(const Scratch& s, int field) const {
    if (field < 0 || static_cast<size_t>(field) >= column_of_.size() || column_of_[field] < 0) return nullptr;
    return s.numbers.data() + static_cast<size_t>(column_of_[field]) * kChunk;
  }

 private:
  using Node = Condition::Node;
  using Op = Condition::Op;
  using Literal = Condition::Literal;
  struct Pred {
    // What EvalPred reads at every call, first and copied out of the Node:
    // the Node lives in its Condition, elsewhere on the heap, and was out of
    // the caches at each chunk (15% of EvalPred's samples on the load of
    // n.field, perf annotate of bench/run_beats.sh with the 30 rules); the
    // Preds' first lines are read by Eval's loop over them anyway.
    Op op = Op::kAll;
    bool costly = false;    // regex: evaluated last, only where needed
    bool indexed = false;   // evaluated through an EqualityIndex
    // `short_text` holds the one string the leaf compares (<= 16 bytes):
    // kRegex "^literal" (its prefix) or kEquals/kOneOf of one string.
    bool short_prefix = false, short_equals = false;
    int field = -1;
    int column = -1;        // numeric column of its field, if the leaf reads numbers
    int group = -1;         // see `needles` below
    double number = 0;      // comparisons
    uint32_t short_size = 0;
    char short_text[16] = {};
    const Node* node = nullptr;
    std::vector<uint32_t> uses;  // its leaf nodes in nodes_
    // kEquals/kOneOf without the generic path for the common cases: an
    // unescaped string equals one of `texts` (every literal but null), a
    // number one of `numbers` (when every non-null literal is numeric).
    bool equality = false, numbers_only = false;
    std::vector<std::string> texts;
    std::vector<double> numbers;
    // kRegex of literal alternatives or with prefilter atoms, in a needle
    // group (`group`): its literals' (or atoms') needles, in order.
    std::vector<int> needles;
    uint64_t needle_bits = 0;  // the same as bits
    // Of those, the needles of the atoms the prefilter cannot pass without;
    // literal_needles: the regex is its literals (it holds where one is found).
    uint64_t required_needles = 0;
    bool literal_needles = false;
  };
  // The substring regexes on one text field (literal alternatives, prefilter
  // atoms), found in one pass over the text instead of one search per needle
  // (Teddy: the last three bytes of every needle, its "window", or both of a
  // needle of two, looked up by nibble, 32 positions at a time, in 8 buckets;
  // a position whose bytes fit a bucket is verified against its needles). Up
  // to 64 needles of at least 2 bytes.
  struct NeedleGroup {
    int field = -1;
    std::vector<uint32_t> preds;
    std::vector<uint64_t> pred_needles;  // parallel to preds: each one's needles (bits)
    std::vector<std::string> needles;  // needle k in bucket k % 8; "" unused
    std::vector<bool> fold;  // ASCII case ignored (prefilter atoms, as FindBytes<true>)
    // Each needle's first 8 bytes (fewer: `mask`), with 0x20 set in every
    // byte if it folds: one 64-bit comparison rejects most candidates.
    std::vector<uint64_t> head, head_mask;
    // Per needle, for the candidates' first check without the strings and
    // the vector<bool>: its length, and 0x20 in every byte if it folds.
    std::vector<uint32_t> size;
    std::vector<uint64_t> fold_bits;
    // Per needle: where its window starts in it (its size - 3, or 0 for a
    // needle of 2 bytes, whose window's third byte is any).
    std::vector<uint32_t> window;
    uint8_t short_buckets = 0;  // buckets with a needle of 2 bytes
    uint64_t bucket[8] = {};  // needles of each bucket
    // The buckets of a window's bytes 0, 1 and 2 by low and high nibble (16 entries, twice).
    alignas(32) uint8_t lo0[32] = {}, hi0[32] = {}, lo1[32] = {}, hi1[32] = {}, lo2[32] = {}, hi2[32] = {};
    // The same by the byte's low 7 bits (FindNeedlesVbmi: one lookup per
    // byte; a byte of 128 or more is looked up as byte - 128, a candidate
    // that the verification decides).
    alignas(64) uint8_t byte0[128] = {}, byte1[128] = {}, byte2[128] = {};
  };
  void BuildNeedleGroups();
  // The needles of `wanted` (bits) in `text`; *ascii: whether every byte of
  // the text is ASCII (found in the same pass, for the prefilter regexes).
  // kSimd: 32 positions at a time (AVX2), else one.
  template <bool kSimd>
  uint64_t FindNeedles(const NeedleGroup& g, std::string_view text, uint64_t wanted, bool* ascii) const;
  static uint64_t FindNeedlesPortable(const NeedleGroup& g, std::string_view text, uint64_t wanted, bool* ascii);
  // FindNeedles 64 positions at a time (AVX-512 VBMI; only where CpuHasVbmi),
  // with the group's byte tables loaded by its caller (SearchGroupVbmi).
  struct VbmiTables;
  static uint64_t FindNeedlesVbmi(const NeedleGroup& g, const VbmiTables& t, std::string_view text,
                                  uint64_t wanted, bool* ascii);
  // The needles SearchGroup looks for in word w's texts: `everywhere` in all
  // of them, extra[b] more in event b's (only if it returns true).
  static bool WordNeedles(const NeedleGroup& g, const Mask* need, const Mask& where, size_t w,
                          uint64_t* everywhere, uint64_t* extra);
  // The events where some regex of group g is needed: its texts to search.
  static Mask GroupWhere(const NeedleGroup& g, const Mask* need);
  static void VerifyWindow(const NeedleGroup& g, const uint8_t* p, size_t n, size_t i, uint64_t cands,
                           uint64_t* found);
  // Needle group gi's pass over the texts of the chunk's events where one of
  // its regexes is needed (`need`: per leaf), into s->found, searched, ascii.
  // kMode: 0 portable, 1 AVX2; SearchGroupVbmi: AVX-512 VBMI (compiled for it).
  template <int kMode>
  void SearchGroup(size_t gi, const Batch& batch, uint32_t base, const Mask* need, Scratch* s) const;
  void SearchGroupVbmi(size_t gi, const Batch& batch, uint32_t base, const Mask* need, Scratch* s) const;
  // A grouped regex on the texts of `searched` (unescaped strings and
  // numbers) from the needles found in them.
  uint64_t EvalGroupedWord(const Pred& p, const Batch& batch, uint32_t base, uint32_t lo, uint64_t searched,
                           uint64_t ascii, const uint64_t* found) const;
  // A node of a condition tree, in post-order (children first), all conditions in one array.
  struct TreeNode {
    Op op;
    bool costly = false;  // some leaf below is costly
    int pred = -1;        // leaf: index in preds_
    int parent = -1;
    uint32_t first_kid = 0, kids = 0;  // in kids_
  };
  // The equality leaves (kEquals/kOneOf) on one field, up to 64: a table of
  // every string they compare with → the leaves that string satisfies (bits
  // over `preds`), open addressing. An unescaped string value is looked up
  // once; a missing or composite value satisfies none; a number is compared
  // with the distinct numbers of the leaves that hold only numbers, and goes
  // to each other leaf as before, as do true/false/null and escaped strings.
  struct EqualityIndex {
    int field = -1;
    std::vector<uint32_t> preds;
    uint64_t numbers_only = 0;  // leaves (bits) that hold only numbers (and null)
    std::vector<std::pair<double, uint64_t>> numbers;  // a number → the numbers_only leaves it satisfies
    struct Slot {
      uint64_t preds = 0;  // 0: empty slot
      uint32_t offset = 0, size = 0;  // the string, in `bytes`
    };
    std::vector<Slot> slots;  // a power of two, at most half full
    std::string bytes;
    // The strings of up to 16 bytes again, each in a slot of its own (a
    // multiplier tried until no two collide): a value of up to 16 bytes is
    // answered by one slot's three words (ShortKey), without a probe loop or
    // a byte comparison. Empty when no multiplier was found (LookUp answers).
    struct ShortSlot {
      uint64_t a = 0, b = 0;
      uint64_t size = ~uint64_t{0};  // past 16: an empty slot, which no value fits
      uint64_t preds = 0;
    };
    std::vector<ShortSlot> short_slots;  // a power of two
    uint64_t short_mul = 0;
    unsigned short_shift = 64;
  };
  void BuildEqualityIndexes();
  // The numeric column of `field`, added if it has none.
  int ColumnOf(int field);
  static uint64_t EqualityHash(std::string_view text);
  static uint64_t LookUp(const EqualityIndex& x, std::string_view text);
  // A string of at most 16 bytes as two words that hold every byte (with its
  // size: equal keys, equal strings), and their slot in short_slots.
  static void ShortKey(const char* t, size_t k, uint64_t* a, uint64_t* b);
  static size_t ShortSlotOf(uint64_t a, uint64_t b, size_t k, uint64_t mul, unsigned shift);
  static void BuildShortSlots(EqualityIndex* x, const std::vector<std::pair<std::string, uint64_t>>& keys);
  void EvalIndex(const EqualityIndex& x, const Batch& batch, uint32_t base, uint32_t m, Scratch* s) const;
  // One event's value of a leaf other than a comparison or exists (EvalPred's
  // general case); `col`: the numbers of its field, if it has a column.
  bool EvalEvent(const Pred& p, const Batch& batch, const FieldValue& v, uint32_t j, const Scratch& s,
                 const double* col) const;
  uint32_t AddNode(const Condition& c, uint32_t i);
  // A comparison leaf's bits over one word of its numbers, one at a time.
  static uint64_t ComparePortable(Op op, const double* col, double x);
  void EvalPred(const Pred& p, const Batch& batch, uint32_t base, const Mask& where, const Scratch& s, Mask* out) const;
  void Combine(const TreeNode& t, Scratch* s, Mask* out) const;

  std::vector<Pred> preds_;
  // The leaves EvalPred answers for every event (neither costly nor
  // indexed), and the costly ones: Eval goes over these lists, not over
  // every Pred's flags (each Pred's first line was a miss at every chunk in
  // Eval's loop, 2.3% of its samples, for the 18 of 30 leaves it skipped).
  std::vector<uint32_t> plain_preds_, costly_preds_;
  std::vector<std::string> pred_keys_;  // what makes two leaves the same (parallel to preds_)
  std::vector<TreeNode> nodes_;
  std::vector<uint32_t> kids_;
  std::vector<uint32_t> roots_;
  std::vector<int> columns_;    // field index of each numeric column
  std::vector<int> column_of_;  // field index → numeric column, -1: none
  // For each use of a costly leaf (parallel to costly_uses_): the nodes whose
  // masks decide where it matters, and whether they count negated (an `any`
  // sibling that holds makes the leaf irrelevant; an `all` sibling that fails does too).
  std::vector<uint32_t> costly_uses_;
  std::vector<std::vector<std::pair<uint32_t, bool>>> guards_;
  std::vector<NeedleGroup> groups_;
  std::vector<EqualityIndex> indexes_;
  bool portable_ = false;
  bool vbmi_ = CpuHasVbmi();
};

// The numeric value of a field (numbers, and strings holding a number). False if none.
bool FieldNumber(const Batch& batch, const FieldValue& v, double* out);
// The unescaped string form of a field value ("" when missing): strings
// unescaped, numbers as text, true/false/null as words.
std::string FieldText(const Batch& batch, const FieldValue& v);

}  // namespace sluice::detectors
