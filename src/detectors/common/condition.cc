#include "detectors/common/condition.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <limits>
#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include "common/json_util.h"
#include "common/strings.h"
#include "pipeline/component.h"

namespace sluice::detectors {
namespace {

bool ParseNumber(std::string_view s, double* out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  // Plain integers (status codes, durations, offsets) without from_chars:
  // detectors_bench BM_ThirtyRulesObserve.
  if (e - b <= 15 && b < e) {
    const char* p = b;
    const bool neg = *p == '-';
    if (neg) ++p;
    if (p < e) {
      uint64_t v = 0;
      while (p < e && static_cast<unsigned>(*p - '0') < 10) v = v * 10 + static_cast<unsigned>(*p++ - '0');
      if (p == e) {
        *out = neg ? -static_cast<double>(v) : static_cast<double>(v);
        return true;
      }
    }
  }
  auto r = std::from_chars(b, e, *out);
  return r.ec == std::errc() && r.ptr == e;
}

// A plain (unquoted) YAML scalar keeps its YAML type; a quoted one is a string.
bool IsPlain(const YAML::Node& n) { return n.Tag() == "?" || n.Tag().empty(); }

// The number in the bytes of w selected by value_bytes (the high ones of the
// little-endian word, the others read as leading zeros), if every one of
// them is a digit: pairs, then fours, then eight, in a few multiplies
// instead of a loop per digit.
__attribute__((always_inline)) inline bool SwarDigits(uint64_t w, uint64_t value_bytes, uint64_t* out) {
  w &= value_bytes;
  const uint64_t zeros = 0x3030303030303030ull & value_bytes;
  // Bytes 0x30-0x3f, and still so after adding 6 (no byte can carry: each is at most 0x3f).
  constexpr uint64_t kHigh = 0xf0f0f0f0f0f0f0f0ull;
  if ((w & kHigh) != zeros || ((w + 0x0606060606060606ull) & kHigh & value_bytes) != zeros) return false;
  // The digits as 8 bytes 0-9, the first (most significant) in the low byte.
  uint64_t d = w & 0x0f0f0f0f0f0f0f0full;
  d = (d * 10 + (d >> 8)) & 0x00ff00ff00ff00ffull;
  d = (d * 100 + (d >> 16)) & 0x0000ffff0000ffffull;
  *out = (d * 10000 + (d >> 32)) & 0xffffffffull;
  return true;
}

// FieldNumber's answer for a value of 1 to 16 digits (true, *out set); false
// for anything else, which ParseNumber then decides. Inlined into the
// numeric columns' loop (ConditionSet::Eval).
__attribute__((always_inline)) inline bool DigitsNumber(const Batch& batch, const FieldValue& v, double* out) {
  const uint32_t n = v.span.len;
  // The 8 bytes that end with the value (in the arena: the value does not
  // start before its byte off + n - 8), the bytes before it cleared; every
  // one of the value's bytes must be a digit, else ParseNumber decides. Was a
  // quarter of the conditions' instructions with ParseNumber's loop
  // (detectors_bench BM_ThirtyRulesStream).
  const char* end = batch.arena().data() + v.span.off + n;
  uint64_t w, d;
  if (n - 1 < 8 && v.span.off + n >= 8) {
    std::memcpy(&w, end - 8, 8);
    if (!SwarDigits(w, ~uint64_t{0} << (8 * (8 - n)), &d)) return false;
    *out = static_cast<double>(d);
    return true;
  }
  // 9 to 16 digits: the last 8, then the ones before them. Filebeat's
  // log.offset, a byte offset in the file, has 9 and more past 100 MB: with
  // every line new (bench/run_rules_share.sh --distinct 2000000) ParseNumber's
  // loop took ~1% of sluice's samples. The value, below 10^16, converts to the
  // double from_chars gives (both round the exact integer to nearest).
  if (n - 9 < 8 && v.span.off + n >= 16) {
    uint64_t hi;
    std::memcpy(&w, end - 8, 8);
    if (!SwarDigits(w, ~uint64_t{0}, &d)) return false;
    std::memcpy(&w, end - 16, 8);
    if (!SwarDigits(w, ~uint64_t{0} << (8 * (16 - n)), &hi)) return false;
    *out = static_cast<double>(hi * 100000000u + d);
    return true;
  }
  return false;
}
}  // namespace

bool FieldNumber(const Batch& batch, const FieldValue& v, double* out) {
  if (v.kind != FieldKind::kNumber && v.kind != FieldKind::kString) return false;
  return DigitsNumber(batch, v, out) || ParseNumber(batch.View(v.span), out);
}

std::string FieldText(const Batch& batch, const FieldValue& v) {
  switch (v.kind) {
    case FieldKind::kString: {
      std::string_view s = batch.View(v.span);
      if (s.find('\\') == std::string_view::npos) return std::string(s);
      std::string out;
      if (!UnescapeJsonString(s, &out)) return std::string(s);
      return out;
    }
    case FieldKind::kNumber:
    case FieldKind::kComposite:
      return std::string(batch.View(v.span));
    case FieldKind::kTrue:
      return "true";
    case FieldKind::kFalse:
      return "false";
    case FieldKind::kNull:
      return "null";
    case FieldKind::kMissing:
      break;
  }
  return "";
}

Condition::~Condition() = default;

std::unique_ptr<Condition> Condition::Compile(const YAML::Node& node, const std::string& file, FieldRegistry* fields,
                                              ConfigErrors* errors) {
  std::unique_ptr<Condition> c(new Condition());
  // `match: {}` matches every event.
  if (!node.IsDefined() || node.IsNull() || (node.IsMap() && node.size() == 0)) return c;
  size_t before = errors->list().size();
  c->CompileMap(node, file, fields, errors);
  if (errors->list().size() != before) return nullptr;
  return c;
}

int Condition::CompileMap(const YAML::Node& node, const std::string& file, FieldRegistry* fields,
                          ConfigErrors* errors) {
  if (!node.IsMap() || node.size() == 0) {
    errors->Add(file, node.Mark(), "match: expected a map of field: condition");
    return -1;
  }
  int self = static_cast<int>(nodes_.size());
  nodes_.push_back(Node{Op::kAll});
  std::vector<uint32_t> kids;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    int child;
    if (key == "any") {
      child = CompileList(Op::kAny, kv.second, file, fields, errors);
    } else if (key == "all") {
      child = CompileList(Op::kAll, kv.second, file, fields, errors);
    } else if (key == "not") {
      int inner = CompileMap(kv.second, file, fields, errors);
      child = -1;
      if (inner >= 0) {
        child = static_cast<int>(nodes_.size());
        nodes_.push_back(Node{Op::kNot});
        nodes_[child].children.push_back(static_cast<uint32_t>(inner));
      }
    } else {
      if (key.empty()) {
        errors->Add(file, kv.first.Mark(), "match: empty field name");
        continue;
      }
      child = CompileField(key, kv.second, file, fields, errors);
    }
    if (child >= 0) kids.push_back(static_cast<uint32_t>(child));
  }
  nodes_[self].children = std::move(kids);
  return self;
}

int Condition::CompileList(Op op, const YAML::Node& value, const std::string& file, FieldRegistry* fields,
                           ConfigErrors* errors) {
  const char* name = op == Op::kAny ? "any" : "all";
  if (!value.IsSequence() || value.size() == 0) {
    errors->Add(file, value.Mark(), StrCat("match: ", name, ": expected a non-empty list of conditions"));
    return -1;
  }
  int self = static_cast<int>(nodes_.size());
  nodes_.push_back(Node{op});
  std::vector<uint32_t> kids;
  for (const auto& item : value) {
    int c = CompileMap(item, file, fields, errors);
    if (c >= 0) kids.push_back(static_cast<uint32_t>(c));
  }
  nodes_[self].children = std::move(kids);
  return self;
}

int Condition::CompileField(const std::string& path, const YAML::Node& value, const std::string& file,
                            FieldRegistry* fields, ConfigErrors* errors) {
  auto literal = [&](const YAML::Node& n, Literal* lit) -> bool {
    if (n.IsNull()) {
      lit->kind = FieldKind::kNull;
      return true;
    }
    if (!n.IsScalar()) {
      errors->Add(file, n.Mark(), StrCat("match: ", path, ": expected a value, a list of values or {operator: value}"));
      return false;
    }
    lit->text = n.Scalar();
    lit->kind = FieldKind::kString;
    lit->numeric = IsPlain(n) && ParseNumber(lit->text, &lit->number);
    if (lit->numeric) lit->kind = FieldKind::kNumber;
    return true;
  };
  Node leaf{Op::kEquals};
  leaf.field = fields->Register(path);
  if (value.IsScalar() || value.IsNull()) {
    Literal lit;
    if (!literal(value, &lit)) return -1;
    leaf.literals.push_back(std::move(lit));
  } else if (value.IsSequence()) {
    leaf.op = Op::kOneOf;
    if (value.size() == 0) {
      errors->Add(file, value.Mark(), StrCat("match: ", path, ": the list of values is empty"));
      return -1;
    }
    for (const auto& item : value) {
      Literal lit;
      if (!literal(item, &lit)) return -1;
      leaf.literals.push_back(std::move(lit));
    }
  } else if (value.IsMap()) {
    if (value.size() != 1) {
      // Several operators on one field ({gte: 500, lt: 600}): all must hold.
      int self = static_cast<int>(nodes_.size());
      nodes_.push_back(Node{Op::kAll});
      std::vector<uint32_t> kids;
      for (const auto& kv : value) {
        YAML::Node one(YAML::NodeType::Map);
        one[kv.first] = kv.second;
        int c = CompileField(path, one, file, fields, errors);
        if (c >= 0) kids.push_back(static_cast<uint32_t>(c));
      }
      if (value.size() == 0) errors->Add(file, value.Mark(), StrCat("match: ", path, ": empty condition"));
      nodes_[self].children = std::move(kids);
      return self;
    }
    const auto kv = *value.begin();
    const std::string op = kv.first.Scalar();
    const YAML::Node& arg = kv.second;
    if (op == "gt" || op == "gte" || op == "lt" || op == "lte") {
      leaf.op = op == "gt" ? Op::kGt : op == "gte" ? Op::kGte : op == "lt" ? Op::kLt : Op::kLte;
      if (!arg.IsScalar() || !ParseNumber(arg.Scalar(), &leaf.number)) {
        errors->Add(file, arg.Mark(), StrCat("match: ", path, ": ", op, ": expected a number"));
        return -1;
      }
    } else if (op == "regex") {
      leaf.op = Op::kRegex;
      if (!arg.IsScalar()) {
        errors->Add(file, arg.Mark(), StrCat("match: ", path, ": regex: expected a string"));
        return -1;
      }
      const std::string& pattern = arg.Scalar();
      RE2::Options o;
      o.set_log_errors(false);
      leaf.re = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), o);
      if (!leaf.re->ok()) {
        errors->Add(file, arg.Mark(), StrCat("match: ", path, ": bad regex \"", pattern, "\": ", leaf.re->error()));
        return -1;
      }
      LiteralAlternatives(pattern, &leaf.literals, &leaf.prefix);
      if (leaf.literals.empty()) {
        leaf.prefix = false;
        AddPrefilter(&leaf);
      }
    } else if (op == "exists") {
      bool b;
      if (!arg.IsScalar() || !YAML::convert<bool>::decode(arg, b)) {
        errors->Add(file, arg.Mark(), StrCat("match: ", path, ": exists: expected true or false"));
        return -1;
      }
      leaf.op = b ? Op::kExists : Op::kNotExists;
    } else if (op == "eq" || op == "in") {
      leaf.op = op == "eq" ? Op::kEquals : Op::kOneOf;
      if (op == "eq" ? !arg.IsScalar() : !arg.IsSequence()) {
        errors->Add(file, arg.Mark(), StrCat("match: ", path, ": ", op, op == "eq" ? ": expected a value" : ": expected a list"));
        return -1;
      }
      if (arg.IsScalar()) {
        Literal lit;
        if (!literal(arg, &lit)) return -1;
        leaf.literals.push_back(std::move(lit));
      } else {
        for (const auto& item : arg) {
          Literal lit;
          if (!literal(item, &lit)) return -1;
          leaf.literals.push_back(std::move(lit));
        }
      }
    } else {
      errors->Add(file, kv.first.Mark(),
                  StrCat("match: ", path, ": unknown operator \"", op, "\" (expected one of: eq, in, gt, gte, lt, lte, regex, exists)"));
      return -1;
    }
  } else {
    errors->Add(file, value.Mark(), StrCat("match: ", path, ": expected a value, a list of values or {operator: value}"));
    return -1;
  }
  int self = static_cast<int>(nodes_.size());
  nodes_.push_back(std::move(leaf));
  return self;
}

namespace {
// Substring search comparing the needle's first and last bytes 32 (AVX2) or
// 16 positions at a time (W. Muła, "SIMD-friendly algorithms for substring
// searching"): glibc's memmem was a quarter of BM_ThirtyRulesObserve; this is
// ~4x faster on log messages, where the first byte of a needle is common.
// kFold: bytes compare with bit 0x20 set on both sides (ASCII letters without
// case; a few other bytes pair up too, so it finds a superset: a prefilter).
template <bool kFold>
inline bool SameBytes(const char* a, const char* b, size_t k) {
  if constexpr (!kFold) return std::memcmp(a, b, k) == 0;
  for (size_t i = 0; i < k; ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

template <bool kFold>
bool FindBytes(std::string_view s, std::string_view needle) {
  const size_t n = s.size(), k = needle.size();
  if (k == 0) return true;
  if (n < k) return false;
  if (!kFold && k == 1) return std::memchr(s.data(), needle[0], n) != nullptr;
  const char* p = s.data();
  const size_t mid = k - std::min<size_t>(k, 2);  // bytes between the first and the last
  const char fold = kFold ? 0x20 : 0;
  const char c0 = static_cast<char>(needle[0] | fold), c1 = static_cast<char>(needle[k - 1] | fold);
  size_t i = 0;
#if defined(__AVX2__)
  const __m256i first = _mm256_set1_epi8(c0), last = _mm256_set1_epi8(c1), f32 = _mm256_set1_epi8(fold);
  for (; i + k - 1 + 32 <= n; i += 32) {
    const __m256i a = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)), f32);
    const __m256i b = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + k - 1)), f32);
    uint32_t mask = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last))));
    while (mask) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      if (SameBytes<kFold>(p + i + bit + 1, needle.data() + 1, mid)) return true;
      mask &= mask - 1;
    }
  }
#elif defined(__SSE2__)
  const __m128i first = _mm_set1_epi8(c0), last = _mm_set1_epi8(c1), f16 = _mm_set1_epi8(fold);
  for (; i + k - 1 + 16 <= n; i += 16) {
    const __m128i a = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), f16);
    const __m128i b = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + k - 1)), f16);
    unsigned mask =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
    while (mask) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      if (SameBytes<kFold>(p + i + bit + 1, needle.data() + 1, mid)) return true;
      mask &= mask - 1;
    }
  }
#endif
  for (; i + k <= n; ++i) {
    if ((p[i] | fold) == c0 && (p[i + k - 1] | fold) == c1 && SameBytes<kFold>(p + i + 1, needle.data() + 1, mid)) {
      return true;
    }
  }
  return false;
}

inline bool ContainsLiteral(std::string_view s, std::string_view needle) { return FindBytes<false>(s, needle); }

// memcmp(a, b, k) == 0 without a call for k <= 16 (two overlapping loads of
// 8 or 4 bytes): the equality leaves' strings (log.level, service.name) were
// ~5% of BM_ThirtyRulesObserve in memcmp.
__attribute__((always_inline)) inline bool SameShortBytes(const char* a, const char* b, size_t k) {
  auto load8 = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  auto load4 = [](const char* p) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
  };
  if (k >= 8 && k <= 16) return load8(a) == load8(b) && load8(a + k - 8) == load8(b + k - 8);
  if (k >= 4 && k < 8) return load4(a) == load4(b) && load4(a + k - 4) == load4(b + k - 4);
  if (k < 4) {
    for (size_t i = 0; i < k; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  return std::memcmp(a, b, k) == 0;
}

bool IsAscii(std::string_view s) {
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    any |= w;
  }
  for (; i < s.size(); ++i) any |= static_cast<unsigned char>(s[i]);
  return (any & 0x8080808080808080ull) == 0;
}
}  // namespace

// "abc", "a b|c=d": alternatives of plain text (no metacharacter), found with
// memmem instead of RE2. Anything else leaves *out empty.
void Condition::LiteralAlternatives(const std::string& pattern, std::vector<Literal>* out, bool* prefix) {
  std::vector<Literal> alts(1);
  // "^abc": only a prefix (RE2's ^ is the start of the text: not multi-line).
  *prefix = pattern.size() > 1 && pattern[0] == '^' && pattern.find('|') == std::string::npos;
  for (char c : std::string_view(pattern).substr(*prefix ? 1 : 0)) {
    if (c == '|') {
      alts.emplace_back();
      continue;
    }
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::strchr(" =_-/:,;'\"<>@#%&!~`", c) != nullptr;
    if (!plain || c == '\0') return;
    alts.back().text.push_back(c);
  }
  for (const Literal& a : alts) {
    if (a.text.empty()) return;  // an empty alternative matches everything: leave it to RE2
  }
  *out = std::move(alts);
}

void Condition::AddPrefilter(Node* leaf) {
  auto filter = std::make_unique<re2::FilteredRE2>(3);
  int id;
  if (filter->Add(leaf->re->pattern(), leaf->re->options(), &id) != RE2::NoError) return;
  std::vector<std::string> atoms;
  filter->Compile(&atoms);
  if (atoms.empty()) return;  // nothing required: RE2 runs on every text anyway
  // Only a regex that cannot match without one of its atoms is worth it (one
  // whose prefilter was pruned to "anything" would still run on every text).
  std::vector<int> potential;
  filter->AllPotentials({}, &potential);
  if (!potential.empty()) return;
  for (const std::string& a : atoms) {
    if (!IsAscii(a)) return;  // atoms are lowercased; only ASCII folding is checked here
  }
  // An atom is required if the prefilter fails with every other atom found
  // (it is monotone: fewer atoms never pass more). A text without it is
  // answered after one search (BM_ThirtyRulesObserve: `time` of the Timeouts
  // regex; `out` is not searched any more).
  std::vector<bool> required(atoms.size());
  for (size_t i = 0; i < atoms.size(); ++i) {
    std::vector<int> others;
    for (size_t j = 0; j < atoms.size(); ++j) {
      if (j != i) others.push_back(static_cast<int>(j));
    }
    potential.clear();
    filter->AllPotentials(others, &potential);
    required[i] = potential.empty();
    leaf->atom_order.push_back(static_cast<int>(i));
  }
  std::stable_sort(leaf->atom_order.begin(), leaf->atom_order.end(), [&](int a, int b) {
    if (required[a] != required[b]) return static_cast<bool>(required[a]);
    return atoms[a].size() > atoms[b].size();
  });
  leaf->required_atoms = static_cast<size_t>(std::count(required.begin(), required.end(), true));
  leaf->atoms = std::move(atoms);
  leaf->prefilter = std::move(filter);
}

bool Condition::LiteralEquals(const Literal& lit, const FieldValue& v, std::string_view text, const double* number) {
  switch (v.kind) {
    case FieldKind::kMissing:
    case FieldKind::kComposite:
      return false;
    case FieldKind::kNull:
      return lit.kind == FieldKind::kNull;
    case FieldKind::kTrue:
      return lit.kind != FieldKind::kNull && lit.text == "true";
    case FieldKind::kFalse:
      return lit.kind != FieldKind::kNull && lit.text == "false";
    case FieldKind::kNumber:
      if (lit.numeric) {
        if (number) return *number == lit.number;  // NaN (not a number) equals nothing
        double d;
        return ParseNumber(text, &d) && d == lit.number;
      }
      return lit.kind != FieldKind::kNull && text == lit.text;
    case FieldKind::kString:
      if (lit.kind == FieldKind::kNull) return false;
      if (!v.escaped) return text == lit.text;
      {
        std::string u;
        return UnescapeJsonString(text, &u) && u == lit.text;
      }
  }
  return false;
}

bool Condition::Eval(uint32_t i, const Batch& batch, size_t event) const {
  const Node& n = nodes_[i];
  switch (n.op) {
    case Op::kAll:
      for (uint32_t c : n.children) {
        if (!Eval(c, batch, event)) return false;
      }
      return true;
    case Op::kAny:
      for (uint32_t c : n.children) {
        if (Eval(c, batch, event)) return true;
      }
      return false;
    case Op::kNot:
      return !Eval(n.children[0], batch, event);
    default:
      return EvalLeaf(n, batch, batch.field(event, static_cast<size_t>(n.field)), nullptr);
  }
}

template <typename HasAtom>
bool Condition::PrefilterMatch(const Node& n, std::string_view text, const HasAtom& has_atom) {
  thread_local std::vector<int> found;
  found.clear();
  for (size_t o = 0; o < n.atom_order.size(); ++o) {
    const int a = n.atom_order[o];
    if (has_atom(a)) {
      found.push_back(a);
    } else if (o < n.required_atoms) {
      return false;
    }
  }
  if (found.empty()) return false;
  std::sort(found.begin(), found.end());
  return n.prefilter->FirstMatch(re2::StringPiece(text.data(), text.size()), found) >= 0;
}

bool Condition::EvalLeaf(const Node& n, const Batch& batch, const FieldValue& v, const double* number) {
  switch (n.op) {
    case Op::kExists:
      return v.kind != FieldKind::kMissing && v.kind != FieldKind::kNull;
    case Op::kNotExists:
      return v.kind == FieldKind::kMissing || v.kind == FieldKind::kNull;
    case Op::kEquals:
    case Op::kOneOf: {
      std::string_view text = batch.View(v.span);
      for (const Literal& lit : n.literals) {
        if (LiteralEquals(lit, v, text, number)) return true;
      }
      return false;
    }
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte: {
      double d;
      if (number) {
        d = *number;  // NaN: every comparison is false, as when FieldNumber fails
      } else if (!FieldNumber(batch, v, &d)) {
        return false;
      }
      return n.op == Op::kGt ? d > n.number : n.op == Op::kGte ? d >= n.number : n.op == Op::kLt ? d < n.number
                                                                                                : d <= n.number;
    }
    case Op::kRegex: {
      if (v.kind != FieldKind::kString && v.kind != FieldKind::kNumber) return false;
      std::string_view text = batch.View(v.span);
      std::string u;
      if (v.kind == FieldKind::kString && v.escaped) {
        if (!UnescapeJsonString(text, &u)) return false;
        text = u;
      }
      if (!n.literals.empty()) {
        // A regex that is only literal alternatives: a substring search beats
        // RE2's scan several times over (detectors_bench BM_ThirtyRulesObserve).
        if (n.prefix) return text.substr(0, n.literals[0].text.size()) == n.literals[0].text;
        for (const Literal& lit : n.literals) {
          if (ContainsLiteral(text, lit.text)) return true;
        }
        return false;
      }
      const re2::StringPiece piece(text.data(), text.size());
      if (n.prefilter && IsAscii(text)) {
        // RE2 runs only if the strings it requires are in the text (lowercase
        // atoms, searched without ASCII case; a text with other bytes could
        // match them through Unicode case folding, so it goes to RE2 directly).
        // Most log lines have none of them (BM_ThirtyRulesObserve: Timeouts).
        return PrefilterMatch(n, text, [&](int a) { return FindBytes<true>(text, n.atoms[static_cast<size_t>(a)]); });
      }
      return RE2::PartialMatch(piece, *n.re);
    }
    default:
      return false;
  }
}

namespace {
// What makes two leaves the same predicate: operator, field and operand.
std::string LeafKey(uint8_t op, int field, double number, const std::string& pattern,
                    const std::vector<std::pair<FieldKind, std::string>>& literals) {
  std::string k;
  k.push_back(static_cast<char>(op));
  k.append(reinterpret_cast<const char*>(&field), sizeof field);
  k.append(reinterpret_cast<const char*>(&number), sizeof number);
  k.append(std::to_string(pattern.size())).push_back(':');
  k += pattern;
  for (const auto& [kind, text] : literals) {
    k.push_back(static_cast<char>(kind));
    k.append(std::to_string(text.size())).push_back(':');
    k += text;
  }
  return k;
}

// How far ahead (events) SearchGroup asks for the texts it will search: a
// chunk's events (~135 KB per 256 events of bench/lumberjack_loadgen.cc) are
// out of L1 by the time the conditions read them, and each message missed it
// on the search's first load (16 ahead: no better). The shorter per-event
// loops (ParseColumn, EvalIndex, EvalPred) got slower with it: out-of-order
// execution already overlaps their loads, and the prefetch's row load and
// bound check cost more (bench/RESULTS.md, 2026-11-22 conditions-12).
constexpr uint32_t kValueAhead = 8;

// The first kLines cache lines of the value of field f of event `event`, if
// the batch has that event (2 for the texts searched: ~80 bytes).
template <int kLines = 1>
__attribute__((always_inline)) inline void PrefetchValue(const Batch& batch, size_t event, size_t f) {
  if (event >= batch.size()) return;
  const char* p = batch.arena().data() + batch.field(event, f).span.off;
  for (int k = 0; k < kLines; ++k) __builtin_prefetch(p + 64 * k, 0, 3);
}

inline ConditionSet::Mask FirstBits(uint32_t m) {
  ConditionSet::Mask r{};
  for (size_t w = 0; w < ConditionSet::kWords; ++w) {
    const uint32_t lo = static_cast<uint32_t>(w * 64);
    r.w[w] = m >= lo + 64 ? ~uint64_t{0} : m > lo ? (uint64_t{1} << (m - lo)) - 1 : 0;
  }
  return r;
}

// Bit j of the result: cmp(col[j]) for the 64 events of word w.
template <typename Cmp>
uint64_t CompareWord(const double* col, const Cmp& cmp) {
  uint64_t r = 0;
  for (int b = 0; b < 64; ++b) r |= static_cast<uint64_t>(cmp(col[b])) << b;
  return r;
}

#if defined(__AVX2__)
// CompareWord 4 numbers at a time (kPredicate: _CMP_GT_OQ etc., ordered, so
// that NaN compares false as in the scalar comparisons): the five comparisons
// of bench/rules/thirty-rules.yml took ~7 instructions per event each.
template <int kPredicate>
uint64_t CompareWordSimd(const double* col, double x) {
  const __m256d xs = _mm256_set1_pd(x);
  uint64_t r = 0;
  for (int b = 0; b < 64; b += 4) {
    const __m256d c = _mm256_cmp_pd(_mm256_loadu_pd(col + b), xs, kPredicate);
    r |= static_cast<uint64_t>(static_cast<unsigned>(_mm256_movemask_pd(c))) << b;
  }
  return r;
}
#endif

// A numeric column's values: as FieldNumber, NaN where it finds no number.
// kSimd: numbers of 1 to 15 digits 4 at a time (AVX2) — the digits' bytes
// gathered a value at a time (one word, or two past 8 digits), checked and
// summed in vector lanes, the rest (other kinds, longer numbers, anything
// else) as FieldNumber. The two
// columns of bench/rules/thirty-rules.yml (status codes, durations) took ~70
// instructions per value through DigitsNumber, most of the conditions' own.
template <bool kSimd>
void ParseColumn(const Batch& batch, uint32_t base, size_t f, uint32_t m, double* col) {
  const FieldValue* row = &batch.field(base, f);
  const size_t stride = batch.field_count();
  uint32_t j = 0;
#if defined(__AVX2__)
  if constexpr (kSimd) {
    const char* arena = batch.arena().data();
    static const char kZeros[8] = {};
    const __m256i zero_char = _mm256_set1_epi8('0');
    const __m256i nine = _mm256_set1_epi8(9);
    const __m256i tens = _mm256_set1_epi16(0x010a);          // bytes 10, 1: first digit × 10 + second
    const __m256i hundreds = _mm256_set1_epi32(0x00010064);  // 16-bit 100, 1
    const __m256i ten_thousand = _mm256_set1_epi64x(10000);
    const __m256i exponent = _mm256_set1_epi64x(0x4330000000000000ll);  // 2^52: its mantissa holds the value
    const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
    const __m256i ones = _mm256_set1_epi64x(-1), seven = _mm256_set1_epi64x(7), eight = _mm256_set1_epi64x(8);
    const __m256i zero_chars = _mm256_set1_epi64x(0x3030303030303030ll);
    // Four lanes' words (the 8 bytes that end with each value) and sizes (1
    // to 8): the lanes whose value bytes are all digits (bits), and their
    // values (below 10^8) in *value.
    auto lanes = [&](const uint64_t* words, const uint64_t* sizes, __m256i* value) {
      const __m256i w = _mm256_set_epi64x(static_cast<int64_t>(words[3]), static_cast<int64_t>(words[2]),
                                          static_cast<int64_t>(words[1]), static_cast<int64_t>(words[0]));
      const __m256i n = _mm256_set_epi64x(static_cast<int64_t>(sizes[3]), static_cast<int64_t>(sizes[2]),
                                          static_cast<int64_t>(sizes[1]), static_cast<int64_t>(sizes[0]));
      // ~0 << 8 * ((8 - n) & 7): the value's bytes, the high n (all 8 for n = 8).
      const __m256i value_bytes =
          _mm256_sllv_epi64(ones, _mm256_slli_epi64(_mm256_and_si256(_mm256_sub_epi64(eight, n), seven), 3));
      const __m256i d = _mm256_sub_epi8(
          _mm256_or_si256(_mm256_and_si256(w, value_bytes), _mm256_andnot_si256(value_bytes, zero_chars)), zero_char);
      const __m256i pairs = _mm256_maddubs_epi16(d, tens);         // 0-99 per 16 bits
      const __m256i quads = _mm256_madd_epi16(pairs, hundreds);    // 0-9999 per 32 bits
      *value = _mm256_add_epi64(_mm256_mul_epu32(quads, ten_thousand), _mm256_srli_epi64(quads, 32));
      // The lanes whose every byte is 0-9 (unsigned: a byte below '0' wraps above 9).
      return static_cast<unsigned>(
          _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_max_epu8(d, nine), nine))));
    };
    const __m256i hundred_million = _mm256_set1_epi64x(100000000);
    for (; j + 4 <= m; j += 4) {
      uint64_t words[4], sizes[4];
      unsigned fast = 0;
      const FieldValue* first = row + static_cast<size_t>(j) * stride;
      for (uint32_t k = 0; k < 4; ++k) {
        const FieldValue& v = first[k * stride];
        // The value's size and kind in one word (its bytes 4 to 11: len,
        // kind, escaped, padding): kind kNumber and 1 to 8 bytes in one
        // subtraction and comparison.
        static_assert(offsetof(FieldValue, span) == 0 && offsetof(Span, len) == 4 &&
                      offsetof(FieldValue, kind) == 8 && sizeof(FieldValue) >= 12);
        uint64_t size_kind;
        std::memcpy(&size_kind, reinterpret_cast<const char*>(&v) + offsetof(Span, len), 8);
        size_kind &= 0xff'ffff'ffffull;  // kind << 32 | len
        constexpr uint64_t kOneDigit = uint64_t{static_cast<uint8_t>(FieldKind::kNumber)} << 32 | 1;
        const uint32_t n = static_cast<uint32_t>(size_kind), end = v.span.off + n;
        // As DigitsNumber: the 8 bytes that end with the value; the bytes
        // before it are made '0' below (leading zeros), so that all 8 must be
        // digits. Another value reads zeros (its lane is answered below).
        const bool ok = (size_kind - kOneDigit < 8) & (end >= 8);
        const char* at = ok ? arena + end - 8 : kZeros;
        std::memcpy(&words[k], at, 8);
        sizes[k] = n;
        fast |= static_cast<unsigned>(ok) << k;
      }
      // The four words put into the vector in registers: stored to memory and
      // loaded back as one vector, the load could not take them from the four
      // stores and waited for them to reach the cache (a quarter of
      // ConditionSet::Eval's samples on the instruction after that load,
      // bench/run_rules_profile.sh). The bytes before each value made '0'
      // there, 4 lanes at a time (one at a time: ~9 instructions per value,
      // of ParseColumn's ~35 in callgrind of detectors_bench
      // BM_ThirtyRulesConditions).
      __m256i value;
      const unsigned digits = lanes(words, sizes, &value);
      _mm256_storeu_pd(col + j, _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(value, exponent)), two52));
      unsigned rest = ~(fast & digits) & 15;
      if (rest) {
        // Numbers of 9 to 15 digits, 4 at a time too: the 8 bytes that end
        // with the value and the (1 to 7) before them, each word as above,
        // the first × 10^8 + the second (below 10^15 < 2^52, exact). Filebeat's
        // log.offset, a byte offset in the file, has 9 digits and more past
        // 100 MB: with every line new (bench/run_rules_share.sh --distinct
        // 2000000) FieldNumber, called for each, took ~1% of sluice's samples.
        uint64_t low[4], high[4], high_sizes[4];
        unsigned longs = 0;
        for (uint32_t k = 0; k < 4; ++k) {
          const FieldValue& v = first[k * stride];
          const uint32_t n = v.span.len, end = v.span.off + n;
          const bool ok = ((rest >> k) & 1) & (v.kind == FieldKind::kNumber) & (n - 9 < 7) & (end >= 16);
          std::memcpy(&low[k], ok ? arena + end - 8 : kZeros, 8);
          std::memcpy(&high[k], ok ? arena + end - 16 : kZeros, 8);
          high_sizes[k] = ok ? n - 8 : 8;
          longs |= static_cast<unsigned>(ok) << k;
        }
        if (longs) {
          __m256i lo, hi;
          const uint64_t eights[4] = {8, 8, 8, 8};
          const unsigned good = longs & lanes(low, eights, &lo) & lanes(high, high_sizes, &hi);
          alignas(32) double values[4];
          _mm256_store_pd(values, _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(
                                                    _mm256_add_epi64(_mm256_mul_epu32(hi, hundred_million), lo),
                                                    exponent)),
                                                two52));
          for (unsigned g = good; g; g &= g - 1) {
            const uint32_t k = static_cast<uint32_t>(__builtin_ctz(g));
            col[j + k] = values[k];
          }
          rest &= ~good;
        }
      }
      for (; rest; rest &= rest - 1) {
        const uint32_t k = static_cast<uint32_t>(__builtin_ctz(rest));
        double x;
        col[j + k] = FieldNumber(batch, row[(j + k) * stride], &x) ? x : std::numeric_limits<double>::quiet_NaN();
      }
    }
  }
#endif
  for (; j < m; ++j) {
    double x;
    const FieldValue& v = row[j * stride];
    col[j] = (v.kind == FieldKind::kNumber && DigitsNumber(batch, v, &x)) || FieldNumber(batch, v, &x)
                 ? x
                 : std::numeric_limits<double>::quiet_NaN();
  }
}

// The kinds that hold for `exists: true`: present and not null.
constexpr unsigned kPresentKinds = 1u << static_cast<unsigned>(FieldKind::kString) |
                                   1u << static_cast<unsigned>(FieldKind::kNumber) |
                                   1u << static_cast<unsigned>(FieldKind::kTrue) |
                                   1u << static_cast<unsigned>(FieldKind::kFalse) |
                                   1u << static_cast<unsigned>(FieldKind::kComposite);

#if defined(__AVX2__)
// Bit k (k < count) set if rows[k * stride] is of one of the kinds of
// `wanted` (bits, kPresentKinds for `exists`): the kinds of 8 rows gathered at
// a time (each 32-bit load starts at the row's kind and stays in its
// FieldValue), lanes past count not loaded. The six `exists` leaves of
// bench/rules/thirty-rules.yml took ~9 instructions per event each one row
// at a time.
uint64_t KindBitsSimd(const FieldValue* rows, size_t stride, uint32_t count, unsigned wanted) {
  static_assert(offsetof(FieldValue, kind) + 4 <= sizeof(FieldValue));
  const char* kinds = reinterpret_cast<const char*>(rows) + offsetof(FieldValue, kind);
  const size_t row_bytes = stride * sizeof(FieldValue);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i offsets = _mm256_mullo_epi32(lane, _mm256_set1_epi32(static_cast<int>(row_bytes)));
  const __m256i present = _mm256_set1_epi32(static_cast<int>(wanted));
  const __m256i low_byte = _mm256_set1_epi32(0xff);
  uint64_t r = 0;
  for (uint32_t k = 0; k < count; k += 8) {
    const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count - k)), lane);
    const __m256i words = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(),
                                                      reinterpret_cast<const int*>(kinds + k * row_bytes), offsets,
                                                      live, 1);
    // wanted >> kind, its bit 0 moved to the sign bit (a lane not loaded: kind 0, kMissing, never wanted).
    const __m256i bit = _mm256_slli_epi32(_mm256_srlv_epi32(present, _mm256_and_si256(words, low_byte)), 31);
    r |= static_cast<uint64_t>(static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(bit)))) << k;
  }
  return r;
}
#endif
}  // namespace

int ConditionSet::ColumnOf(int field) {
  const size_t f = static_cast<size_t>(field);
  if (f >= column_of_.size()) column_of_.resize(f + 1, -1);
  if (column_of_[f] < 0) {
    column_of_[f] = static_cast<int>(columns_.size());
    columns_.push_back(field);
  }
  return column_of_[f];
}

size_t ConditionSet::Add(const Condition& c) {
  const uint32_t first = static_cast<uint32_t>(nodes_.size());
  uint32_t root;
  if (c.nodes_.empty()) {
    root = first;
    nodes_.push_back(TreeNode{Op::kAll});  // no children: holds for every event
  } else {
    root = AddNode(c, 0);
  }
  roots_.push_back(root);
  // Where each costly leaf of this condition matters: its `all` ancestors'
  // other children hold and its `any` ancestors' other children do not.
  for (uint32_t u = first; u < nodes_.size(); ++u) {
    if (nodes_[u].pred < 0 || !preds_[static_cast<size_t>(nodes_[u].pred)].costly) continue;
    std::vector<std::pair<uint32_t, bool>> guard;
    for (uint32_t child = u; nodes_[child].parent >= 0;) {
      const uint32_t parent = static_cast<uint32_t>(nodes_[child].parent);
      const TreeNode& pn = nodes_[parent];
      if (pn.op == Op::kAll || pn.op == Op::kAny) {
        for (uint32_t k = pn.first_kid; k < pn.first_kid + pn.kids; ++k) {
          if (kids_[k] != child && !nodes_[kids_[k]].costly) guard.emplace_back(kids_[k], pn.op == Op::kAny);
        }
      }
      child = parent;
    }
    costly_uses_.push_back(u);
    guards_.push_back(std::move(guard));
  }
  BuildNeedleGroups();
  BuildEqualityIndexes();
  plain_preds_.clear();
  costly_preds_.clear();
  for (uint32_t p = 0; p < preds_.size(); ++p) {
    if (preds_[p].costly) {
      costly_preds_.push_back(p);
    } else if (!preds_[p].indexed) {
      plain_preds_.push_back(p);
    }
  }
  return roots_.size() - 1;
}

namespace {
// The nibbles of the bytes that a bucket of needle windows accepts at each
// of the window's 3 positions (BuildNeedleGroups' tables, as bit sets).
struct NibbleSets {
  uint16_t lo[3] = {}, hi[3] = {};
  // How many byte triples the tables accept (0: an empty bucket).
  uint64_t Triples() const {
    uint64_t t = 1;
    for (int pos = 0; pos < 3; ++pos) t *= static_cast<uint64_t>(__builtin_popcount(lo[pos]) * __builtin_popcount(hi[pos]));
    return t;
  }
  NibbleSets Merged(const NibbleSets& o) const {
    NibbleSets r;
    for (int pos = 0; pos < 3; ++pos) {
      r.lo[pos] = lo[pos] | o.lo[pos];
      r.hi[pos] = hi[pos] | o.hi[pos];
    }
    return r;
  }
};

// A needle's window (its last 3 bytes; of 2 bytes, any third), with ASCII
// case if it folds.
NibbleSets WindowNibbles(const std::string& needle, bool fold) {
  NibbleSets s;
  const size_t width = std::min<size_t>(3, needle.size());
  for (size_t pos = 0; pos < 3; ++pos) {
    if (pos >= width) {
      s.lo[pos] = s.hi[pos] = 0xffff;
      continue;
    }
    const uint8_t c = static_cast<uint8_t>(needle[needle.size() - width + pos]);
    for (uint8_t x : {fold ? static_cast<uint8_t>(c | 0x20) : c, fold ? static_cast<uint8_t>((c | 0x20) ^ 0x20) : c}) {
      s.lo[pos] |= static_cast<uint16_t>(1u << (x & 15));
      s.hi[pos] |= static_cast<uint16_t>(1u << (x >> 4));
    }
  }
  return s;
}
}  // namespace

void ConditionSet::BuildNeedleGroups() {
  groups_.clear();
  for (Pred& p : preds_) {
    p.group = -1;
    p.needles.clear();
    p.needle_bits = 0;
    p.required_needles = 0;
    p.literal_needles = false;
  }
  // Regexes that are substring searches, by field.
  std::vector<std::vector<uint32_t>> by_field;
  for (uint32_t pi = 0; pi < preds_.size(); ++pi) {
    const Node& n = *preds_[pi].node;
    if (n.op != Op::kRegex || !preds_[pi].costly) continue;
    bool ok = false;
    if (!n.literals.empty()) {
      ok = !n.prefix;
      for (const Literal& l : n.literals) ok &= l.text.size() >= 2;
    } else if (n.prefilter) {
      ok = true;
      for (const std::string& a : n.atoms) ok &= a.size() >= 2;
    }
    if (!ok) continue;
    const size_t f = static_cast<size_t>(n.field);
    if (f >= by_field.size()) by_field.resize(f + 1);
    by_field[f].push_back(pi);
  }
  for (size_t f = 0; f < by_field.size(); ++f) {
    if (by_field[f].size() < 2) continue;  // one regex: its own search is as good
    NeedleGroup g;
    g.field = static_cast<int>(f);
    size_t distinct = 0;  // needles
    NibbleSets sets[8];   // of each bucket's windows
    for (uint32_t pi : by_field[f]) {
      const Node& n = *preds_[pi].node;
      std::vector<std::pair<std::string, bool>> mine;
      for (const Literal& l : n.literals) mine.emplace_back(l.text, false);
      if (n.literals.empty()) {
        for (const std::string& a : n.atoms) mine.emplace_back(a, true);
      }
      // A new needle goes to the bucket where it adds the fewest byte triples
      // that the bucket's nibble tables accept but none of its windows is
      // (needle k is in bucket k % 8: the index is chosen; unused indexes are
      // empty strings): with more than 8 needles, k % 8 put OutOfMemory's
      // "ory" and OOMKilled's "led" together, which accept the "ord" of every
      // "order" (detectors_bench BM_ThirtyRulesStream).
      std::vector<int> idx;
      bool full = false;
      for (const auto& [text, fold] : mine) {
        size_t k = 0;
        while (k < g.needles.size() && !(g.needles[k] == text && g.fold[k] == fold)) ++k;
        if (k == g.needles.size()) {
          if (distinct == 64) {
            full = true;
            break;
          }
          NibbleSets mine_sets = WindowNibbles(text, fold);
          size_t best = 8;
          uint64_t best_cost = 0;
          for (size_t b = 0; b < 8; ++b) {
            size_t free = b;
            while (free < 64 && free < g.needles.size() && !g.needles[free].empty()) free += 8;
            if (free >= 64) continue;  // 8 needles in it already
            const uint64_t before = sets[b].Triples();
            const uint64_t cost = sets[b].Merged(mine_sets).Triples() - before;
            if (best == 8 || cost < best_cost) {
              best = b;
              best_cost = cost;
              k = free;
            }
          }
          sets[best] = sets[best].Merged(mine_sets);
          if (k >= g.needles.size()) {
            g.needles.resize(k + 1);
            g.fold.resize(k + 1);
          }
          g.needles[k] = text;
          g.fold[k] = fold;
          ++distinct;
        }
        idx.push_back(static_cast<int>(k));
      }
      if (full) break;  // the rest keep their own searches
      g.preds.push_back(pi);
      uint64_t bits = 0;
      for (int k : idx) bits |= uint64_t{1} << k;  // k < 64 here
      g.pred_needles.push_back(bits);
      preds_[pi].needles = std::move(idx);
      preds_[pi].needle_bits = bits;
      // The needles of the atoms the prefilter cannot pass without (see
      // EvalGroupedWord); a regex of literals has none.
      preds_[pi].literal_needles = !n.literals.empty();
      preds_[pi].required_needles = 0;
      for (size_t o = 0; o < n.required_atoms && n.literals.empty(); ++o) {
        preds_[pi].required_needles |= uint64_t{1} << preds_[pi].needles[static_cast<size_t>(n.atom_order[o])];
      }
    }
    if (g.preds.size() < 2) {
      for (uint32_t pi : g.preds) {
        preds_[pi].needles.clear();
        preds_[pi].needle_bits = 0;
      }
      continue;
    }
    for (size_t k = 0; k < g.needles.size(); ++k) {
      const std::string& nd = g.needles[k];
      if (nd.empty()) {  // unused
        g.head.push_back(0);
        g.head_mask.push_back(0);
        g.size.push_back(0);
        g.fold_bits.push_back(0);
        g.window.push_back(0);
        continue;
      }
      uint64_t head = 0, mask = 0;
      for (size_t t = 0; t < std::min<size_t>(8, nd.size()); ++t) {
        const uint8_t c = static_cast<uint8_t>(nd[t]) | (g.fold[k] ? 0x20 : 0);
        head |= uint64_t{c} << (8 * t);
        mask |= uint64_t{0xff} << (8 * t);
      }
      g.head.push_back(head);
      g.head_mask.push_back(mask);
      g.size.push_back(static_cast<uint32_t>(nd.size()));
      g.fold_bits.push_back(g.fold[k] ? 0x2020202020202020ull : 0);
      const uint8_t bucket = static_cast<uint8_t>(1u << (k % 8));
      g.bucket[k % 8] |= uint64_t{1} << k;
      // The window: the needle's last 3 bytes (the first two of a status=failed
      // are those of every status=created: one candidate per message in
      // detectors_bench BM_ThirtyRulesStream, as the "de" of every "order"
      // was for "declined").
      const size_t width = std::min<size_t>(3, nd.size());
      g.window.push_back(static_cast<uint32_t>(nd.size() - width));
      if (width < 3) g.short_buckets |= bucket;
      for (size_t pos = 0; pos < 3; ++pos) {
        uint8_t* lo = pos == 0 ? g.lo0 : pos == 1 ? g.lo1 : g.lo2;
        uint8_t* hi = pos == 0 ? g.hi0 : pos == 1 ? g.hi1 : g.hi2;
        uint8_t* by = pos == 0 ? g.byte0 : pos == 1 ? g.byte1 : g.byte2;
        if (pos == width) {  // a window of 2: any third byte
          for (size_t x = 0; x < 32; ++x) {
            lo[x] |= bucket;
            hi[x] |= bucket;
          }
          for (size_t x = 0; x < 128; ++x) by[x] |= bucket;
          continue;
        }
        const uint8_t c = static_cast<uint8_t>(nd[g.window.back() + pos]);
        // As FindBytes<true>: x matches c if (x | 0x20) == (c | 0x20).
        const uint8_t alts[2] = {g.fold[k] ? static_cast<uint8_t>(c | 0x20) : c,
                                 g.fold[k] ? static_cast<uint8_t>((c | 0x20) ^ 0x20) : c};
        for (uint8_t x : alts) {
          lo[x & 15] |= bucket;
          lo[16 + (x & 15)] |= bucket;
          hi[x >> 4] |= bucket;
          hi[16 + (x >> 4)] |= bucket;
          by[x & 127] |= bucket;
        }
      }
    }
    for (uint32_t pi : g.preds) preds_[pi].group = static_cast<int>(groups_.size());
    groups_.push_back(std::move(g));
  }
}

// The needles of `cands` (bits) whose windows start at i in text p[0, n),
// added to *found. Not inlined: a candidate is rare (BuildNeedleGroups), and
// one copy of this per caller cost the unit's other functions their inlining.
__attribute__((noinline)) void ConditionSet::VerifyWindow(const NeedleGroup& g, const uint8_t* p, size_t n,
                                                          size_t i, uint64_t cands, uint64_t* found) {
  for (; cands; cands &= cands - 1) {
    const size_t k = static_cast<size_t>(__builtin_ctzll(cands));
    const size_t d = g.window[k];
    const size_t size = g.size[k];
    if (i < d || i - d + size > n) continue;
    const size_t at = i - d;  // where the needle would start
    size_t t = 0;             // bytes known to be equal
    if (at + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + at, 8);
      if (((w | g.fold_bits[k]) & g.head_mask[k]) != g.head[k]) continue;
      t = std::min<size_t>(8, size);
      if (t == size) {
        *found |= uint64_t{1} << k;
        continue;
      }
    }
    const std::string& needle = g.needles[k];
    bool same = true;
    if (g.fold[k]) {
      for (; t < size && same; ++t) same = (p[at + t] | 0x20) == (static_cast<uint8_t>(needle[t]) | 0x20);
    } else {
      for (; t < size && same; ++t) same = p[at + t] == static_cast<uint8_t>(needle[t]);
    }
    if (same) *found |= uint64_t{1} << k;
  }
}

// Inlined into SearchGroup, its only caller: the group's tables and
// constants are set up once per chunk rather than once per text (a third of
// the pass's instructions in detectors_bench BM_ThirtyRulesStream).
template <bool kSimd>
__attribute__((always_inline)) inline uint64_t ConditionSet::FindNeedles(const NeedleGroup& g, std::string_view text,
                                                                         uint64_t wanted, bool* ascii) const {
  const size_t n = text.size();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  uint64_t found = 0;
  // The window of some needle of `buckets` starts at i: which needles of
  // those buckets (and of `wanted`) are there.
  auto verify = [&](size_t i, uint8_t buckets) __attribute__((always_inline)) {
    uint64_t cands = 0;
    for (; buckets; buckets &= static_cast<uint8_t>(buckets - 1)) cands |= g.bucket[__builtin_ctz(buckets)];
    cands &= wanted & ~found;
    if (cands) VerifyWindow(g, p, n, i, cands, &found);
  };
  if (n < 2) {
    *ascii = IsAscii(text);
    return 0;
  }
  if constexpr (!kSimd) {
    return FindNeedlesPortable(g, text, wanted, ascii);
  } else {
#if defined(__AVX2__)
    // The buckets of the wanted needles only: needle k is in bucket k % 8
    // (BuildNeedleGroups), so bit b of the bytes of `wanted` or-ed together.
    uint64_t folded = wanted;
    folded |= folded >> 32;
    folded |= folded >> 16;
    folded |= folded >> 8;
    const uint8_t keep = static_cast<uint8_t>(folded);
    if (keep == 0) {
      *ascii = IsAscii(text);
      return 0;
    }
    // The first position's low nibble table with only the kept buckets: the
    // others' bits never get through the and-ing of the six.
    const __m256i lo0 = _mm256_and_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(g.lo0)),
                                         _mm256_set1_epi8(static_cast<char>(keep)));
    const __m256i hi0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(g.hi0));
    const __m256i lo1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(g.lo1));
    const __m256i hi1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(g.hi1));
    const __m256i lo2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(g.lo2));
    const __m256i hi2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(g.hi2));
    const __m256i nib = _mm256_set1_epi8(0x0f);
    // Every byte read, or-ed: the text is ASCII if no byte has its top bit set
    // (the blocks cover the text, the padding is zeros). Was a second pass over
    // the text per prefilter regex (IsAscii; detectors_bench BM_ThirtyRulesStream).
    __m256i bytes = _mm256_setzero_si256();
    // Bit b: the window of some kept bucket starts at q + b; bk[b]: those buckets.
    auto candidates = [&](const uint8_t* q, uint8_t* bk) __attribute__((always_inline)) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 1));
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 2));
      bytes = _mm256_or_si256(bytes, _mm256_or_si256(a, c));
      __m256i m = _mm256_and_si256(_mm256_shuffle_epi8(lo0, _mm256_and_si256(a, nib)),
                                   _mm256_shuffle_epi8(hi0, _mm256_and_si256(_mm256_srli_epi16(a, 4), nib)));
      m = _mm256_and_si256(m, _mm256_shuffle_epi8(lo1, _mm256_and_si256(b, nib)));
      m = _mm256_and_si256(m, _mm256_shuffle_epi8(hi1, _mm256_and_si256(_mm256_srli_epi16(b, 4), nib)));
      m = _mm256_and_si256(m, _mm256_shuffle_epi8(lo2, _mm256_and_si256(c, nib)));
      m = _mm256_and_si256(m, _mm256_shuffle_epi8(hi2, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(bk), m);
      return ~static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, _mm256_setzero_si256())));
    };
    // Window starts 0 .. n-3, 32 at a time (each block reads 34 bytes), a
    // stretch of blocks at a time: their candidates first (no call in that
    // loop), then their verification. The last block ends at the text's end,
    // overlapping the one before (the starts already seen masked off); a text
    // under 34 bytes is read from a zero-padded copy, where n - 2 is a start
    // too (only windows of two bytes fit it, any third byte being theirs);
    // else n - 2 is looked at alone.
    constexpr size_t kStretch = 16;  // blocks
    uint32_t cand[kStretch];
    size_t start[kStretch];
    alignas(32) uint8_t bk[32 * kStretch];
    if (n < 34) {
      alignas(32) uint8_t pad[64] = {};
      std::memcpy(pad, p, n);
      for (uint32_t c = candidates(pad, bk) & static_cast<uint32_t>((uint64_t{1} << (n - 1)) - 1); c; c &= c - 1) {
        const size_t b = static_cast<size_t>(__builtin_ctz(c));
        verify(b, bk[b]);
      }
      *ascii = _mm256_movemask_epi8(bytes) == 0;
      return found;
    }
    size_t i = 0;  // the first start not seen
    while (i + 2 < n) {
      size_t blocks = 0;
      uint32_t any = 0;  // some block has a candidate
      for (; blocks < kStretch && i + 34 <= n; i += 32, ++blocks) {
        start[blocks] = i;
        cand[blocks] = candidates(p + i, bk + 32 * blocks);
        any |= cand[blocks];
      }
      if (blocks < kStretch && i + 34 > n && i + 2 < n) {
        const size_t from = n - 34;  // < i
        start[blocks] = from;
        cand[blocks] = candidates(p + from, bk + 32 * blocks) & ~((uint32_t{1} << (i - from)) - 1);
        any |= cand[blocks];
        ++blocks;
        i = n - 2;
      }
      // Most texts have no candidate at all (the bench's messages: none):
      // the blocks are not gone over again (a third of the pass's own
      // instructions in detectors_bench BM_ThirtyRulesStream).
      if (any == 0) continue;
      for (size_t k = 0; k < blocks; ++k) {
        for (uint32_t c = cand[k]; c; c &= c - 1) {
          const size_t b = static_cast<size_t>(__builtin_ctz(c));
          verify(start[k] + b, bk[32 * k + b]);
        }
      }
    }
    if (g.short_buckets & keep) {
      // Windows of two bytes at n - 2.
      const uint8_t x = p[n - 2], y = p[n - 1];
      const uint8_t b = g.lo0[x & 15] & g.hi0[x >> 4] & g.lo1[y & 15] & g.hi1[y >> 4] & g.short_buckets & keep;
      if (b) verify(n - 2, b);
    }
    *ascii = _mm256_movemask_epi8(bytes) == 0;
    return found;
#else
    return FindNeedlesPortable(g, text, wanted, ascii);
#endif
  }
}

// FindNeedles one position at a time (no AVX2, or ConditionSet::set_portable).
__attribute__((noinline)) uint64_t ConditionSet::FindNeedlesPortable(const NeedleGroup& g, std::string_view text,
                                                                     uint64_t wanted, bool* ascii) {
  const size_t n = text.size();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  uint64_t found = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    // The buckets whose windows fit the bytes at i (at n - 2 only windows of two bytes can).
    const uint8_t x = p[i], y = p[i + 1];
    uint8_t buckets = g.lo0[x & 15] & g.hi0[x >> 4] & g.lo1[y & 15] & g.hi1[y >> 4];
    if (i + 2 < n) {
      const uint8_t z = p[i + 2];
      buckets &= g.lo2[z & 15] & g.hi2[z >> 4];
    } else {
      buckets &= g.short_buckets;
    }
    uint64_t cands = 0;
    for (; buckets; buckets &= static_cast<uint8_t>(buckets - 1)) cands |= g.bucket[__builtin_ctz(buckets)];
    cands &= wanted & ~found;
    if (cands) VerifyWindow(g, p, n, i, cands, &found);
  }
  *ascii = IsAscii(text);
  return found;
}

#if defined(__AVX2__)
bool ConditionSet::CpuHasVbmi() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi");
  return has;
}

// FindNeedles 64 window starts at a time: each window byte's buckets looked
// up by its low 7 bits in a 128-byte table (one vpermt2b) instead of by
// nibbles in two 16-byte tables (two shuffles, a shift and two ands per byte:
// the AVX2 block was ~25 instructions per 32 starts, SearchGroup ~2.4% of
// sluice's samples in bench/run_rules_profile.sh). The loads stop at the
// text's end (masked: the bytes past it read as 0, as the AVX2 code's padded
// copy), so the last block is not a copy or an overlap; start n - 2 is one of
// the block's (its third byte 0: windows of 2 bytes, the verification
// rejects a longer needle there).
// (A text of 2 bytes or more, with some bucket kept: SearchGroupVbmi
// answers the others.) The group's byte tables in registers: those of the
// window's second and third bytes, and of its first limited to the buckets
// `keep` (-1: none yet).
struct ConditionSet::VbmiTables {
  __m512i t0a, t0b, t1a, t1b, t2a, t2b;
  int keep = -1;
};

__attribute__((target("avx512f,avx512bw,avx512vbmi,bmi2"), always_inline)) inline uint64_t
ConditionSet::FindNeedlesVbmi(const NeedleGroup& g, const VbmiTables& t, std::string_view text, uint64_t wanted,
                              bool* ascii) {
  const size_t n = text.size();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  uint64_t found = 0;
  const __m512i t0a = t.t0a, t0b = t.t0b, t1a = t.t1a, t1b = t.t1b, t2a = t.t2a, t2b = t.t2b;
  __m512i bytes = _mm512_setzero_si512();
  alignas(64) uint8_t bk[64];
  for (size_t i = 0; i + 1 < n; i += 64) {
    const size_t left = n - i;
    __m512i a, b, c;
    uint64_t starts;  // the block's starts before n - 1
    if (left >= 66) {
      // A whole block (the first of the bench's ~83-byte messages): plain
      // loads, without the three masks of the last block.
      a = _mm512_loadu_si512(p + i);
      b = _mm512_loadu_si512(p + i + 1);
      c = _mm512_loadu_si512(p + i + 2);
      starts = ~uint64_t{0};
    } else {
      // Bytes i .. n - 1 of the block's 66 (bzhi: all 64 when 64 or more).
      a = _mm512_maskz_loadu_epi8(_bzhi_u64(~uint64_t{0}, static_cast<unsigned>(left)), p + i);
      b = _mm512_maskz_loadu_epi8(_bzhi_u64(~uint64_t{0}, static_cast<unsigned>(left - 1)), p + i + 1);
      c = _mm512_maskz_loadu_epi8(_bzhi_u64(~uint64_t{0}, static_cast<unsigned>(left - 2)), p + i + 2);
      starts = _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(left - 1));  // starts i .. n - 2
    }
    bytes = _mm512_or_si512(bytes, _mm512_or_si512(a, c));
    const __m512i m = _mm512_and_si512(
        _mm512_and_si512(_mm512_permutex2var_epi8(t0a, a, t0b), _mm512_permutex2var_epi8(t1a, b, t1b)),
        _mm512_permutex2var_epi8(t2a, c, t2b));
    uint64_t cand = _mm512_test_epi8_mask(m, m) & starts;
    if (cand == 0) continue;
    _mm512_store_si512(bk, m);
    for (; cand; cand &= cand - 1) {
      const size_t k = static_cast<size_t>(__builtin_ctzll(cand));
      uint64_t cands = 0;
      for (uint8_t bu = bk[k]; bu; bu &= static_cast<uint8_t>(bu - 1)) cands |= g.bucket[__builtin_ctz(bu)];
      cands &= wanted & ~found;
      if (cands) VerifyWindow(g, p, n, i + k, cands, &found);
    }
  }
  *ascii = _mm512_movepi8_mask(bytes) == 0;
  return found;
}
#else
bool ConditionSet::CpuHasVbmi() { return false; }
#endif

// EvalLeaf's kRegex for a grouped regex, for the events of one word whose
// text was searched, from the needles found in them: a literal regex holds
// where one of its needles was found; one with prefilter atoms runs the
// prefilter with the atoms found (RE2 directly on a text not only ASCII).
// Called per word rather than per event: 7 regexes on `message` in
// detectors_bench BM_ThirtyRulesStream.
uint64_t ConditionSet::EvalGroupedWord(const Pred& p, const Batch& batch, uint32_t base, uint32_t lo,
                                       uint64_t searched, uint64_t ascii, const uint64_t* found) const {
  // The Pred's own members until a text needs RE2 (its Node is elsewhere on
  // the heap, out of the caches at each chunk: see Pred).
  uint64_t r = 0;
  if (p.literal_needles) {
#if defined(__AVX2__)
    if (!portable_) {
      // 4 events at a time (found past the searched ones is left over from
      // other chunks: masked off).
      const __m256i bits = _mm256_set1_epi64x(static_cast<int64_t>(p.needle_bits));
      const __m256i zero = _mm256_setzero_si256();
      uint64_t none = 0;  // events none of whose needles was found
      for (int b = 0; b < 64; b += 4) {
        const __m256i x = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(found + lo + b)), bits);
        none |= static_cast<uint64_t>(static_cast<unsigned>(
                    _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(x, zero)))))
                << b;
      }
      return ~none & searched;
    }
#endif
    for (uint64_t bits = searched; bits; bits &= bits - 1) {
      const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
      r |= static_cast<uint64_t>((found[lo + b] & p.needle_bits) != 0) << b;
    }
    return r;
  }
  // The needles of the atoms the prefilter cannot pass without: a text
  // without one of them (or without any atom) fails before PrefilterMatch.
  const uint64_t required = p.required_needles;
  // The ASCII texts that have them and some needle of the regex, all 64 at
  // once: the others fail without being looked at one by one (the Timeouts
  // regex's "time" in detectors_bench BM_ThirtyRulesStream: in no message).
  uint64_t maybe = 0;
#if defined(__AVX2__)
  if (!portable_) {
    const __m256i req = _mm256_set1_epi64x(static_cast<int64_t>(required));
    const __m256i bits = _mm256_set1_epi64x(static_cast<int64_t>(p.needle_bits));
    const __m256i zero = _mm256_setzero_si256();
    for (int b = 0; b < 64; b += 4) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(found + lo + b));
      const __m256i has = _mm256_andnot_si256(_mm256_cmpeq_epi64(_mm256_and_si256(x, bits), zero),
                                              _mm256_cmpeq_epi64(_mm256_and_si256(x, req), req));
      maybe |= static_cast<uint64_t>(static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(has)))) << b;
    }
  } else
#endif
  {
    for (uint64_t bits = searched & ascii; bits; bits &= bits - 1) {
      const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
      const uint64_t in_text = found[lo + b];
      maybe |= static_cast<uint64_t>((in_text & required) == required && (in_text & p.needle_bits) != 0) << b;
    }
  }
  const size_t f = static_cast<size_t>(p.field);
  for (uint64_t bits = (maybe & searched & ascii) | (searched & ~ascii); bits; bits &= bits - 1) {
    const Node& n = *p.node;
    const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
    const uint32_t j = lo + b;
    const std::string_view text = batch.View(batch.field(base + j, f).span);
    bool hit;
    if ((ascii >> b) & 1) {
      const uint64_t in_text = found[j];
      hit = (in_text & required) == required && (in_text & p.needle_bits) != 0 &&
            Condition::PrefilterMatch(
                n, text, [&](int a) { return ((in_text >> p.needles[static_cast<size_t>(a)]) & 1) != 0; });
    } else {
      hit = RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *n.re);
    }
    r |= static_cast<uint64_t>(hit) << b;
  }
  return r;
}

uint32_t ConditionSet::AddNode(const Condition& c, uint32_t i) {
  const Node& n = c.nodes_[i];
  TreeNode t{n.op};
  if (n.op == Op::kAll || n.op == Op::kAny || n.op == Op::kNot) {
    std::vector<uint32_t> ks;
    for (uint32_t child : n.children) ks.push_back(AddNode(c, child));
    t.first_kid = static_cast<uint32_t>(kids_.size());
    t.kids = static_cast<uint32_t>(ks.size());
    for (uint32_t k : ks) {
      kids_.push_back(k);
      t.costly |= nodes_[k].costly;
    }
    const uint32_t self = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(t);
    for (uint32_t k : ks) nodes_[k].parent = static_cast<int>(self);
    return self;
  }
  std::vector<std::pair<FieldKind, std::string>> lits;
  bool numeric_literal = false;
  for (const auto& l : n.literals) {
    lits.emplace_back(l.numeric ? FieldKind::kComposite : l.kind, l.text);  // numeric literals compare as numbers
    numeric_literal |= l.numeric;
  }
  const std::string key =
      LeafKey(static_cast<uint8_t>(n.op), n.field, n.number, n.re ? n.re->pattern() : std::string(), lits);
  size_t p = 0;
  while (p < pred_keys_.size() && pred_keys_[p] != key) ++p;
  if (p == preds_.size()) {
    Pred pred;
    pred.node = &n;
    pred.op = n.op;
    pred.field = n.field;
    pred.number = n.number;
    pred.costly = n.op == Op::kRegex;
    if (n.op == Op::kEquals || n.op == Op::kOneOf) {
      pred.equality = true;
      pred.numbers_only = true;
      for (const auto& l : n.literals) {
        if (l.kind == FieldKind::kNull) continue;
        pred.texts.push_back(l.text);
        if (l.numeric) {
          pred.numbers.push_back(l.number);
        } else {
          pred.numbers_only = false;
        }
      }
    }
    const bool comparison = n.op == Op::kGt || n.op == Op::kGte || n.op == Op::kLt || n.op == Op::kLte;
    if (comparison || ((n.op == Op::kEquals || n.op == Op::kOneOf) && numeric_literal)) {
      pred.column = ColumnOf(n.field);
    }
    const std::string* one = n.op == Op::kRegex && n.prefix && !n.literals.empty() ? &n.literals[0].text
                             : pred.equality && pred.texts.size() == 1               ? &pred.texts[0]
                                                                                     : nullptr;
    if (one && one->size() <= sizeof pred.short_text) {
      pred.short_prefix = n.op == Op::kRegex;
      pred.short_equals = !pred.short_prefix;
      pred.short_size = static_cast<uint32_t>(one->size());
      std::memcpy(pred.short_text, one->data(), one->size());
    }
    preds_.push_back(std::move(pred));
    pred_keys_.push_back(key);
  }
  t.pred = static_cast<int>(p);
  t.costly = preds_[p].costly;
  const uint32_t self = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(t);
  preds_[p].uses.push_back(self);
  return self;
}

// Not inlined into EvalPred where AVX2 is compiled in (there: tests only).
__attribute__((noinline)) uint64_t ConditionSet::ComparePortable(Op op, const double* col, double x) {
  switch (op) {
    case Op::kGt:
      return CompareWord(col, [x](double d) { return d > x; });
    case Op::kGte:
      return CompareWord(col, [x](double d) { return d >= x; });
    case Op::kLt:
      return CompareWord(col, [x](double d) { return d < x; });
    default:
      return CompareWord(col, [x](double d) { return d <= x; });
  }
}

void ConditionSet::EvalPred(const Pred& p, const Batch& batch, uint32_t base, const Mask& where, const Scratch& s,
                            Mask* out) const {
  // p's own members only: p.node (its Condition's Node) for the general
  // cases, not at every call (see Pred).
  const Op op = p.op;
  const size_t f = static_cast<size_t>(p.field);
  const double* col = p.column >= 0 ? s.numbers.data() + static_cast<size_t>(p.column) * kChunk : nullptr;
  const double x = p.number;
  const size_t stride = batch.field_count();
  for (size_t w = 0; w < kWords; ++w) {
    uint64_t bits = where.w[w];
    uint64_t r = 0;
    if (bits == 0) {
      out->w[w] = 0;
      continue;
    }
    const uint32_t lo = static_cast<uint32_t>(w * 64);
    if (p.group >= 0) {
      // The texts searched by the group's pass, from what it found; the
      // others (escaped strings, other kinds) as EvalLeaf.
      const size_t g = static_cast<size_t>(p.group);
      const uint64_t searched = bits & s.searched[g].w[w];
      r = EvalGroupedWord(p, batch, base, lo, searched, s.ascii[g].w[w], s.found.data() + g * kChunk);
      for (uint64_t t = bits & ~searched; t; t &= t - 1) {
        const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(t));
        r |= static_cast<uint64_t>(Condition::EvalLeaf(*p.node, batch, batch.field(base + lo + b, f), nullptr)) << b;
      }
      out->w[w] = r;
      continue;
    }
    // The word's events from its first to its last wanted one, a row of
    // fields apart (the bits in between not wanted are masked off below):
    // without a count of trailing zeros and a multiply per event.
    const uint32_t from = static_cast<uint32_t>(__builtin_ctzll(bits));
    const uint32_t count = 64 - static_cast<uint32_t>(__builtin_clzll(bits)) - from;
    const FieldValue* row = &batch.field(base + lo + from, f);
    switch (op) {
      // Comparisons read the parsed numbers (NaN compares false), the whole word at once.
#if defined(__AVX2__)
      case Op::kGt:
        r = portable_ ? ComparePortable(op, col + lo, x) : CompareWordSimd<_CMP_GT_OQ>(col + lo, x);
        break;
      case Op::kGte:
        r = portable_ ? ComparePortable(op, col + lo, x) : CompareWordSimd<_CMP_GE_OQ>(col + lo, x);
        break;
      case Op::kLt:
        r = portable_ ? ComparePortable(op, col + lo, x) : CompareWordSimd<_CMP_LT_OQ>(col + lo, x);
        break;
      case Op::kLte:
        r = portable_ ? ComparePortable(op, col + lo, x) : CompareWordSimd<_CMP_LE_OQ>(col + lo, x);
        break;
#else
      case Op::kGt:
      case Op::kGte:
      case Op::kLt:
      case Op::kLte:
        r = ComparePortable(op, col + lo, x);
        break;
#endif
      case Op::kExists:
      case Op::kNotExists:
        // Present and not null; the kind only, never the bytes (6 leaves
        // over every event in bench/rules/thirty-rules.yml).
#if defined(__AVX2__)
        if (!portable_) {
          r = KindBitsSimd(row, stride, count, kPresentKinds) << from;
          if (op == Op::kNotExists) r = ~r;
          break;
        }
#endif
        for (uint32_t k = 0; k < count; ++k) {
          r |= static_cast<uint64_t>((kPresentKinds >> static_cast<unsigned>(row[k * stride].kind)) & 1) << (from + k);
        }
        if (op == Op::kNotExists) r = ~r;
        break;
      default:
        if (p.short_prefix) {
          // A "^literal" regex on bytes that need no unescaping, as EvalLeaf's
          // prefix comparison without its call and string copies (log.file.path
          // ^/var/log/ on every event in detectors_bench BM_ThirtyRulesStream).
          const char* lit = p.short_text;
          const size_t size = p.short_size;
          for (uint32_t k = 0; k < count; ++k) {
            const FieldValue& v = row[k * stride];
            bool hit;
            if ((v.kind == FieldKind::kString && !v.escaped) || v.kind == FieldKind::kNumber) {
              hit = v.span.len >= size && SameShortBytes(batch.arena().data() + v.span.off, lit, size);
            } else {
              hit = Condition::EvalLeaf(*p.node, batch, v, nullptr);
            }
            r |= static_cast<uint64_t>(hit) << (from + k);
          }
          break;
        }
        if (p.short_equals) {
          // One string (input.type: filestream): its length first, then its
          // bytes, without EvalEvent's call and loop; other kinds as before.
          const char* t = p.short_text;
          const size_t size = p.short_size;
          for (uint32_t k = 0; k < count; ++k) {
            const FieldValue& v = row[k * stride];
            bool hit;
            if (v.kind == FieldKind::kString && !v.escaped) {
              hit = v.span.len == size && SameShortBytes(batch.arena().data() + v.span.off, t, size);
            } else {
              hit = EvalEvent(p, batch, v, lo + from + k, s, col);
            }
            r |= static_cast<uint64_t>(hit) << (from + k);
          }
          break;
        }
        while (bits) {
          const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
          bits &= bits - 1;
          const uint32_t j = lo + b;
          r |= static_cast<uint64_t>(EvalEvent(p, batch, batch.field(base + j, f), j, s, col)) << b;
        }
        break;
    }
    out->w[w] = r & where.w[w];
  }
}

bool ConditionSet::EvalEvent(const Pred& p, const Batch& batch, const FieldValue& v, uint32_t j, const Scratch& s,
                             const double* col) const {
  if (p.equality && v.kind == FieldKind::kString && !v.escaped) {
    // As LiteralEquals for these kinds, without its dispatch per literal
    // (log.level, service.name: detectors_bench BM_ThirtyRulesObserve).
    const std::string_view text = batch.View(v.span);
    bool hit = false;
    for (const std::string& t : p.texts) hit |= text.size() == t.size() && SameShortBytes(text.data(), t.data(), t.size());
    return hit;
  }
  if (p.equality && p.numbers_only && v.kind == FieldKind::kNumber && col) {
    bool hit = false;
    for (double d : p.numbers) hit |= col[j] == d;
    return hit;
  }
  return Condition::EvalLeaf(*p.node, batch, v, col ? col + j : nullptr);
}

__attribute__((always_inline)) inline uint64_t ConditionSet::EqualityHash(std::string_view text) {
  // The first and the last 8 (or 4) bytes and the length: the strings of a
  // field's equality leaves are short names, and the table's keys are compared
  // in full anyway.
  const size_t k = text.size();
  const char* t = text.data();
  uint64_t a = 0, b = 0;
  if (k >= 8) {
    std::memcpy(&a, t, 8);
    std::memcpy(&b, t + k - 8, 8);
  } else if (k >= 4) {
    uint32_t x, y;
    std::memcpy(&x, t, 4);
    std::memcpy(&y, t + k - 4, 4);
    a = x;
    b = y;
  } else {
    for (size_t i = 0; i < k; ++i) a |= uint64_t{static_cast<uint8_t>(t[i])} << (8 * i);
  }
  const uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ ((b + k) * 0xc2b2ae3d27d4eb4full);
  return h ^ (h >> 29);
}

// Inlined into EvalIndex, its only caller (3 look-ups per event in
// detectors_bench BM_ThirtyRulesStream).
__attribute__((always_inline)) inline uint64_t ConditionSet::LookUp(const EqualityIndex& x, std::string_view text) {
  const size_t mask = x.slots.size() - 1;
  for (size_t i = EqualityHash(text) & mask;; i = (i + 1) & mask) {
    const EqualityIndex::Slot& slot = x.slots[i];
    if (slot.preds == 0) return 0;
    if (slot.size == text.size() && SameShortBytes(x.bytes.data() + slot.offset, text.data(), text.size())) {
      return slot.preds;
    }
  }
}

__attribute__((always_inline)) inline void ConditionSet::ShortKey(const char* t, size_t k, uint64_t* a,
                                                                    uint64_t* b) {
  // As EqualityHash's words: for 8 to 16 bytes the first and the last 8
  // (overlapping), for 4 to 7 the first and the last 4, below 4 the bytes.
  if (k >= 8) {
    std::memcpy(a, t, 8);
    std::memcpy(b, t + k - 8, 8);
  } else if (k >= 4) {
    uint32_t x, y;
    std::memcpy(&x, t, 4);
    std::memcpy(&y, t + k - 4, 4);
    *a = x;
    *b = y;
  } else {
    uint64_t w = 0;
    for (size_t i = 0; i < k; ++i) w |= uint64_t{static_cast<uint8_t>(t[i])} << (8 * i);
    *a = w;
    *b = 0;
  }
}

__attribute__((always_inline)) inline size_t ConditionSet::ShortSlotOf(uint64_t a, uint64_t b, size_t k,
                                                                       uint64_t mul, unsigned shift) {
  const uint64_t x = a ^ ((b << 29) | (b >> 35)) ^ (uint64_t{k} << 58);
  return static_cast<size_t>((x * mul) >> shift);
}

void ConditionSet::BuildShortSlots(EqualityIndex* x, const std::vector<std::pair<std::string, uint64_t>>& keys) {
  x->short_slots.clear();
  std::vector<std::pair<std::string, uint64_t>> shorts;
  for (const auto& kv : keys) {
    if (kv.first.size() <= 16) shorts.push_back(kv);
  }
  // Tables of 2 to 16 times as many slots as strings (at most 1024 slots),
  // 64 multipliers each (fixed: the same table every time).
  size_t size = 8;
  while (size < 2 * shorts.size()) size *= 2;
  uint64_t seed = 0x5105e1ceull;
  for (; size <= 1024 && size <= 16 * std::max<size_t>(shorts.size(), 8); size *= 2) {
    const unsigned shift = 64 - static_cast<unsigned>(__builtin_ctzll(size));
    for (int attempt = 0; attempt < 64; ++attempt) {
      // splitmix64's steps: well-spread odd multipliers.
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t mul = seed;
      mul = (mul ^ (mul >> 30)) * 0xbf58476d1ce4e5b9ull;
      mul = (mul ^ (mul >> 27)) * 0x94d049bb133111ebull;
      mul = (mul ^ (mul >> 31)) | 1;
      std::vector<EqualityIndex::ShortSlot> slots(size);
      bool ok = true;
      for (const auto& [t, bits] : shorts) {
        EqualityIndex::ShortSlot e;
        ShortKey(t.data(), t.size(), &e.a, &e.b);
        e.size = t.size();
        e.preds = bits;
        EqualityIndex::ShortSlot& slot = slots[ShortSlotOf(e.a, e.b, t.size(), mul, shift)];
        if (slot.size <= 16) {
          ok = false;
          break;
        }
        slot = e;
      }
      if (!ok) continue;
      x->short_slots = std::move(slots);
      x->short_mul = mul;
      x->short_shift = shift;
      return;
    }
  }
}

void ConditionSet::BuildEqualityIndexes() {
  indexes_.clear();
  for (Pred& p : preds_) p.indexed = false;
  std::vector<std::vector<uint32_t>> by_field;
  for (uint32_t pi = 0; pi < preds_.size(); ++pi) {
    if (!preds_[pi].equality || preds_[pi].costly) continue;
    const size_t f = static_cast<size_t>(preds_[pi].node->field);
    if (f >= by_field.size()) by_field.resize(f + 1);
    if (by_field[f].size() < 64) by_field[f].push_back(pi);
  }
  for (size_t f = 0; f < by_field.size(); ++f) {
    // Below three leaves, comparing each is as quick as hashing once.
    if (by_field[f].size() < 3) continue;
    EqualityIndex x;
    x.field = static_cast<int>(f);
    x.preds = by_field[f];
    std::vector<std::pair<std::string, uint64_t>> keys;  // string → leaves
    for (size_t k = 0; k < x.preds.size(); ++k) {
      const Pred& p = preds_[x.preds[k]];
      for (const std::string& t : p.texts) {
        auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& e) { return e.first == t; });
        if (it == keys.end()) it = keys.insert(keys.end(), {t, 0});
        it->second |= uint64_t{1} << k;
      }
      if (!p.numbers_only || p.column < 0) continue;
      x.numbers_only |= uint64_t{1} << k;
      for (double d : p.numbers) {
        auto it = std::find_if(x.numbers.begin(), x.numbers.end(), [&](const auto& e) { return e.first == d; });
        if (it == x.numbers.end()) it = x.numbers.insert(x.numbers.end(), {d, 0});
        it->second |= uint64_t{1} << k;
      }
    }
    size_t size = 4;
    while (size < 2 * keys.size()) size *= 2;
    x.slots.resize(size);
    for (const auto& [t, bits] : keys) {
      size_t i = EqualityHash(t) & (size - 1);
      while (x.slots[i].preds != 0) i = (i + 1) & (size - 1);
      x.slots[i] = {bits, static_cast<uint32_t>(x.bytes.size()), static_cast<uint32_t>(t.size())};
      x.bytes += t;
    }
    BuildShortSlots(&x, keys);
    for (uint32_t pi : x.preds) preds_[pi].indexed = true;
    indexes_.push_back(std::move(x));
  }
}

void ConditionSet::EvalIndex(const EqualityIndex& x, const Batch& batch, uint32_t base, uint32_t m,
                             Scratch* s) const {
  Mask* out = s->preds.data();
  for (uint32_t pi : x.preds) out[pi] = Mask{};
  if (m == 0) return;
  const size_t stride = batch.field_count();
  const FieldValue* row = &batch.field(base, static_cast<size_t>(x.field));
  const char* arena = batch.arena().data();
  double last_number = std::numeric_limits<double>::quiet_NaN();
  uint64_t last_leaves = 0;  // the numbers_only leaves last_number satisfies
  // The numbers_only leaves' column: every one of them has it (the same field).
  const double* numbers =
      x.numbers_only ? s->numbers.data() + static_cast<size_t>(preds_[x.preds[static_cast<size_t>(
                                               __builtin_ctzll(x.numbers_only))]].column) * kChunk
                     : nullptr;
  const EqualityIndex::ShortSlot* short_table = x.short_slots.empty() ? nullptr : x.short_slots.data();
  const uint64_t short_mul = x.short_mul;
  const unsigned short_shift = x.short_shift;
  const uint64_t all_leaves = ~uint64_t{0} >> (64 - x.preds.size());
  const bool numbers_answer = numbers && x.numbers_only == all_leaves;
#if defined(__AVX2__)
  const bool simd_numbers = numbers_answer && !portable_;
#else
  const bool simd_numbers = false;
#endif
  // Up to 8 leaves: each event's leaves as a byte, turned into the leaves'
  // masks 32 events at a time afterwards (AVX2), rather than a bit set in a
  // leaf's mask per leaf the event satisfies, branching on how many. (With
  // simd_numbers the few events left are put in the masks directly.)
  const bool bytes = x.preds.size() <= 8 && !simd_numbers;
  alignas(32) uint8_t found[kChunk];
  auto put = [&](uint32_t j, uint64_t hits) __attribute__((always_inline)) {
    if (bytes) {
      found[j] = static_cast<uint8_t>(hits);
    } else {
      for (; hits; hits &= hits - 1) {
        out[x.preds[static_cast<size_t>(__builtin_ctzll(hits))]].w[j / 64] |= uint64_t{1} << (j % 64);
      }
    }
  };
  // First the values answered by one short slot (service.name, log.level:
  // all of them in bench/rules/thirty-rules.yml) or, when every leaf holds
  // only numbers, by the numbers (status codes), in a loop of their own; the
  // others (`rest`) after. With every case in one loop its counter and
  // pointers lived on the stack (EvalIndex 2.0% of BM_ThirtyRulesWorker/1's
  // samples).
  auto numbers_of = [&](double d) __attribute__((always_inline)) {
    // The leaves the last number satisfied, again for an equal number
    // (status codes: most are 200; NaN never equals, so it is looked up).
    if (!(d == last_number)) {
      last_number = d;
      last_leaves = 0;
      for (const auto& [number, leaves] : x.numbers) last_leaves |= number == d ? leaves : 0;
    }
    return last_leaves;
  };
  Mask rest{};
#if defined(__AVX2__)
  if (simd_numbers) {
    // Every leaf holds only numbers (status codes: 503, 404, [500, 502,
    // 503, 504] in bench/rules/thirty-rules.yml): a number's leaves are
    // those of the distinct numbers its column value equals, compared 4
    // values at a time for each of them, the events' kinds gathered 8 at a
    // time; the other events (strings, other kinds) go to `rest`. One event
    // at a time, a row load, a branch on its kind and one on whether the
    // number changed was ~20 instructions per event (callgrind of
    // bench/run_beats_ir.sh).
    for (size_t w = 0; w < kWords && w * 64 < m; ++w) {
      const uint32_t lo = static_cast<uint32_t>(w * 64), count = std::min<uint32_t>(64, m - lo);
      const uint64_t live = count == 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1;
      const uint64_t is_number =
          KindBitsSimd(row + static_cast<size_t>(lo) * stride, stride, count, 1u << static_cast<unsigned>(FieldKind::kNumber));
      rest.w[w] = live & ~is_number;
      for (const auto& [number, leaves] : x.numbers) {
        const uint64_t eq = CompareWordSimd<_CMP_EQ_OQ>(numbers + lo, number) & is_number;
        for (uint64_t l = eq ? leaves : 0; l; l &= l - 1) out[x.preds[static_cast<size_t>(__builtin_ctzll(l))]].w[w] |= eq;
      }
    }
  }
#endif
  const bool string_loop = bytes && !numbers_answer && short_table;
  if (string_loop) {
    // The same for string leaves only, up to 8 of them (service.name,
    // log.level), in a loop of its own: in the one above, its counter, the
    // table's multiplier and shift and the choices between the cases were
    // reloaded from the stack at every event (EvalIndex ~46 instructions per
    // event and index in callgrind of detectors_bench BM_ThirtyRulesConditions).
    for (uint32_t j = 0; j < m; ++j) {
      const FieldValue& v = row[j * stride];
      uint64_t hits = 0;
      if (v.kind == FieldKind::kString && !v.escaped && v.span.len <= 16) {
        uint64_t a, b;
        ShortKey(arena + v.span.off, v.span.len, &a, &b);
        const EqualityIndex::ShortSlot& e = short_table[ShortSlotOf(a, b, v.span.len, short_mul, short_shift)];
        hits = e.preds & (uint64_t{0} - static_cast<uint64_t>((e.a == a) & (e.b == b) & (e.size == v.span.len)));
      } else {
        rest.w[j / 64] |= uint64_t{1} << (j % 64);
      }
      found[j] = static_cast<uint8_t>(hits);
    }
  }
  // Every other index: one event at a time, each kind on its own path.
  const uint32_t general_events = simd_numbers || string_loop ? 0 : m;
  for (uint32_t j = 0; j < general_events; ++j) {
    const FieldValue& v = row[j * stride];
    if (v.kind == FieldKind::kString && !v.escaped && v.span.len <= 16 && short_table) {
      // Its slot holds the one string of its size and words that it can
      // equal (or none): three comparisons, no branch on their outcome.
      uint64_t a, b;
      ShortKey(arena + v.span.off, v.span.len, &a, &b);
      const EqualityIndex::ShortSlot& e = short_table[ShortSlotOf(a, b, v.span.len, short_mul, short_shift)];
      put(j, e.preds & (uint64_t{0} - static_cast<uint64_t>((e.a == a) & (e.b == b) & (e.size == v.span.len))));
    } else if (v.kind == FieldKind::kNumber && numbers_answer) {
      put(j, numbers_of(numbers[j]));
    } else {
      if (bytes) found[j] = 0;
      rest.w[j / 64] |= uint64_t{1} << (j % 64);
    }
  }
  for (size_t w = 0; w < kWords; ++w) {
    for (uint64_t bits = rest.w[w]; bits; bits &= bits - 1) {
      const uint32_t j = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(__builtin_ctzll(bits));
      const FieldValue& v = row[j * stride];
      uint64_t hits = 0;
      if (v.kind == FieldKind::kString && !v.escaped) {
        hits = LookUp(x, batch.View(v.span));
      } else if (v.kind != FieldKind::kMissing && v.kind != FieldKind::kComposite) {
        uint64_t left = all_leaves;  // leaves still to answer
        if (v.kind == FieldKind::kNumber && numbers) {
          hits = numbers_of(numbers[j]);
          left &= ~x.numbers_only;
        }
        // True/false/null, escaped strings, numbers for the other leaves: each leaf as EvalPred would.
        for (; left; left &= left - 1) {
          const size_t k = static_cast<size_t>(__builtin_ctzll(left));
          const Pred& p = preds_[x.preds[k]];
          const double* col = p.column >= 0 ? s->numbers.data() + static_cast<size_t>(p.column) * kChunk : nullptr;
          hits |= static_cast<uint64_t>(EvalEvent(p, batch, v, j, *s, col)) << k;
        }
      }
      put(j, hits);
    }
  }
  if (!bytes) return;
  std::fill(found + m, found + kChunk, uint8_t{0});
  for (size_t k = 0; k < x.preds.size(); ++k) {
    Mask& o = out[x.preds[k]];
#if defined(__AVX2__)
    if (!portable_) {
      // Bit k of each byte moved to its top bit (a 16-bit shift: the low
      // byte's bits that cross into the high byte never reach its top bit).
      const int shift = 7 - static_cast<int>(k);
      for (size_t w = 0; w < kWords; ++w) {
        const __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(found + 64 * w));
        const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(found + 64 * w + 32));
        const uint32_t l = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_sll_epi16(lo, _mm_cvtsi32_si128(shift))));
        const uint32_t h = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_sll_epi16(hi, _mm_cvtsi32_si128(shift))));
        o.w[w] = uint64_t{l} | uint64_t{h} << 32;
      }
      continue;
    }
#endif
    for (uint32_t j = 0; j < m; ++j) o.w[j / 64] |= static_cast<uint64_t>((found[j] >> k) & 1) << (j % 64);
  }
}

void ConditionSet::Combine(const TreeNode& t, Scratch* s, Mask* out) const {
  if (t.pred >= 0) {
    *out = s->preds[static_cast<size_t>(t.pred)];
    return;
  }
  Mask r;
  for (size_t w = 0; w < kWords; ++w) r.w[w] = t.op == Op::kAny ? 0 : ~uint64_t{0};
  for (uint32_t k = t.first_kid; k < t.first_kid + t.kids; ++k) {
    const Mask& c = s->nodes[kids_[k]];
    for (size_t w = 0; w < kWords; ++w) {
      if (t.op == Op::kAny) {
        r.w[w] |= c.w[w];
      } else if (t.op == Op::kAll) {
        r.w[w] &= c.w[w];
      } else {
        r.w[w] = ~c.w[w];  // kNot: one child
      }
    }
  }
  *out = r;
}

bool ConditionSet::WordNeedles(const NeedleGroup& g, const Mask* need, const Mask& where, size_t w,
                               uint64_t* everywhere, uint64_t* extra) {
  bool extras = false;
  *everywhere = 0;
  for (size_t k = 0; k < g.preds.size(); ++k) {
    const uint64_t nw = need[g.preds[k]].w[w] & where.w[w];
    if (nw == where.w[w]) {
      *everywhere |= g.pred_needles[k];
    } else if (nw != 0) {
      if (!extras) {
        std::fill(extra, extra + 64, uint64_t{0});
        extras = true;
      }
      for (uint64_t bits = nw; bits; bits &= bits - 1) extra[__builtin_ctzll(bits)] |= g.pred_needles[k];
    }
  }
  return extras;
}

ConditionSet::Mask ConditionSet::GroupWhere(const NeedleGroup& g, const Mask* need) {
  Mask where{};
  for (uint32_t p : g.preds) {
    for (size_t w = 0; w < kWords; ++w) where.w[w] |= need[p].w[w];
  }
  return where;
}

template <int kMode>
void ConditionSet::SearchGroup(size_t gi, const Batch& batch, uint32_t base, const Mask* need, Scratch* s) const {
  const NeedleGroup& g = groups_[gi];
  const Mask where = GroupWhere(g, need);
  uint64_t* found = s->found.data() + gi * kChunk;
  Mask& searched = s->searched[gi];
  Mask& ascii = s->ascii[gi];
  searched = Mask{};
  ascii = Mask{};
  for (size_t w = 0; w < kWords; ++w) {
    // Only the needles of the regexes needed for each event (method=POST
    // of a rule that also wants a long duration: not on most events): those
    // of the regexes needed at every event of the word, and of each other
    // regex where it is needed (2 of the 7 on `message` in
    // detectors_bench BM_ThirtyRulesStream).
    // The other regexes' needles are added to the events where they are
    // needed, going over those events' bits (few: the guards' rules are
    // narrow) rather than testing each regex at every event.
    if (where.w[w] == 0) continue;
    uint64_t everywhere, extra[64];
    const bool extras = WordNeedles(g, need, where, w, &everywhere, extra);
    for (uint64_t bits = where.w[w]; bits; bits &= bits - 1) {
      const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
      const uint32_t j = static_cast<uint32_t>(w * 64) + b;
      PrefetchValue<2>(batch, base + j + kValueAhead, static_cast<size_t>(g.field));
      const FieldValue& v = batch.field(base + j, static_cast<size_t>(g.field));
      if ((v.kind == FieldKind::kString && !v.escaped) || v.kind == FieldKind::kNumber) {
        const uint64_t wanted = extras ? everywhere | extra[b] : everywhere;
        bool only_ascii;
        found[j] = FindNeedles<kMode == 1>(g, batch.View(v.span), wanted, &only_ascii);
        searched.w[w] |= uint64_t{1} << b;
        ascii.w[w] |= static_cast<uint64_t>(only_ascii) << b;
      }
    }
  }
}

// SearchGroup with FindNeedlesVbmi, compiled for AVX-512 (flatten:
// FindNeedlesVbmi inlined into its loop over the texts), the byte tables
// loaded once per chunk (and the first window byte's again only where the
// buckets wanted change), the row, the arena and the batch's size once, and
// searched/ascii kept in registers per word: as SearchGroup<2>, each text
// reloaded the six tables and a dozen values spilled around the search
// (the texts' fixed cost was 44% of SearchGroupVbmi's samples, the blocks
// 56%, perf annotate of bench/run_beats.sh with the 30 rules).
#if defined(__AVX2__)
__attribute__((target("avx512f,avx512bw,avx512vbmi,bmi2"), flatten)) void ConditionSet::SearchGroupVbmi(
    size_t gi, const Batch& batch, uint32_t base, const Mask* need, Scratch* s) const {
  const NeedleGroup& g = groups_[gi];
  const Mask where = GroupWhere(g, need);
  uint64_t* found = s->found.data() + gi * kChunk;
  Mask& searched = s->searched[gi];
  Mask& ascii = s->ascii[gi];
  const size_t events = batch.size(), stride = batch.field_count();
  if (base >= events) {  // no event (m = 0)
    searched = ascii = Mask{};
    return;
  }
  const FieldValue* row = &batch.field(0, static_cast<size_t>(g.field)) + static_cast<size_t>(base) * stride;
  const char* arena = batch.arena().data();
  VbmiTables t;
  t.t0a = t.t0b = _mm512_setzero_si512();
  t.t1a = _mm512_load_si512(g.byte1);
  t.t1b = _mm512_load_si512(g.byte1 + 64);
  t.t2a = _mm512_load_si512(g.byte2);
  t.t2b = _mm512_load_si512(g.byte2 + 64);
  for (size_t w = 0; w < kWords; ++w) {
    searched.w[w] = ascii.w[w] = 0;
    if (where.w[w] == 0) continue;
    uint64_t everywhere, extra[64];
    const bool extras = WordNeedles(g, need, where, w, &everywhere, extra);
    uint64_t searched_w = 0, ascii_w = 0;
    for (uint64_t bits = where.w[w]; bits; bits &= bits - 1) {
      const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
      const uint32_t j = static_cast<uint32_t>(w * 64) + b;
      if (base + j + kValueAhead < events) {  // as PrefetchValue<2>
        const char* ahead = arena + row[(j + kValueAhead) * stride].span.off;
        __builtin_prefetch(ahead, 0, 3);
        __builtin_prefetch(ahead + 64, 0, 3);
      }
      const FieldValue& v = row[j * stride];
      if ((v.kind != FieldKind::kString || v.escaped) && v.kind != FieldKind::kNumber) continue;
      const uint64_t wanted = extras ? everywhere | extra[b] : everywhere;
      const std::string_view text(arena + v.span.off, v.span.len);
      uint64_t folded = wanted;  // the wanted needles' buckets, as FindNeedles
      folded |= folded >> 32;
      folded |= folded >> 16;
      folded |= folded >> 8;
      const uint8_t keep = static_cast<uint8_t>(folded);
      bool only_ascii;
      if (text.size() < 2 || keep == 0) {
        only_ascii = IsAscii(text);
        found[j] = 0;
      } else {
        if (keep != t.keep) {
          const __m512i keeps = _mm512_set1_epi8(static_cast<char>(keep));
          t.t0a = _mm512_and_si512(_mm512_load_si512(g.byte0), keeps);
          t.t0b = _mm512_and_si512(_mm512_load_si512(g.byte0 + 64), keeps);
          t.keep = keep;
        }
        found[j] = FindNeedlesVbmi(g, t, text, wanted, &only_ascii);
      }
      searched_w |= uint64_t{1} << b;
      ascii_w |= static_cast<uint64_t>(only_ascii) << b;
    }
    searched.w[w] = searched_w;
    ascii.w[w] = ascii_w;
  }
}
#else
void ConditionSet::SearchGroupVbmi(size_t gi, const Batch& batch, uint32_t base, const Mask* need,
                                   Scratch* s) const {
  SearchGroup<0>(gi, batch, base, need, s);
}
#endif

void ConditionSet::Eval(const Batch& batch, uint32_t base, uint32_t m, Scratch* s) const {
  s->preds.resize(preds_.size());
  s->nodes.resize(nodes_.size());
  s->numbers.resize(columns_.size() * kChunk);
  // Numbers once per field and event (the padding past m reads as NaN).
  for (size_t c = 0; c < columns_.size(); ++c) {
    double* col = s->numbers.data() + c * kChunk;
    const size_t f = static_cast<size_t>(columns_[c]);
    if (m > 0) {
      if (portable_) {
        ParseColumn<false>(batch, base, f, m, col);
      } else {
        ParseColumn<true>(batch, base, f, m, col);
      }
    }
    std::fill(col + m, col + kChunk, std::numeric_limits<double>::quiet_NaN());
  }
  const Mask all = FirstBits(m);
  for (const EqualityIndex& x : indexes_) EvalIndex(x, batch, base, m, s);
  for (uint32_t p : plain_preds_) EvalPred(preds_[p], batch, base, all, *s, &s->preds[p]);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].costly) Combine(nodes_[i], s, &s->nodes[i]);
  }
  if (!costly_uses_.empty()) {
    // A costly leaf is evaluated only where some rule's answer depends on it.
    Mask* need = s->preds.data();  // costly leaves' slots hold where they are needed, then their values
    for (uint32_t p : costly_preds_) need[p] = Mask{};
    for (size_t u = 0; u < costly_uses_.size(); ++u) {
      Mask g = all;
      for (const auto& [node, negate] : guards_[u]) {
        const Mask& v = s->nodes[node];
        for (size_t w = 0; w < kWords; ++w) g.w[w] &= negate ? ~v.w[w] : v.w[w];
      }
      Mask& nd = need[static_cast<size_t>(nodes_[costly_uses_[u]].pred)];
      for (size_t w = 0; w < kWords; ++w) nd.w[w] |= g.w[w];
    }
    // Each needle group's texts are scanned once, where any of its regexes is needed.
    s->found.resize(groups_.size() * kChunk);
    s->searched.resize(groups_.size());
    s->ascii.resize(groups_.size());
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
#if defined(__AVX2__)
      if (!portable_) {
        if (vbmi_) {
          SearchGroupVbmi(gi, batch, base, need, s);
        } else {
          SearchGroup<1>(gi, batch, base, need, s);
        }
        continue;
      }
#endif
      SearchGroup<0>(gi, batch, base, need, s);
    }
    for (uint32_t p : costly_preds_) {
      const Mask where = need[p];
      EvalPred(preds_[p], batch, base, where, *s, &s->preds[p]);
    }
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].costly) Combine(nodes_[i], s, &s->nodes[i]);
    }
  }
}

}  // namespace sluice::detectors
