#include "sinks/elasticsearch/config.h"

#include <boost/beast/core/detail/base64.hpp>

#include "absl/strings/numbers.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

void AppendMaybeLower(std::string_view s, bool lowercase, std::string* out) {
  if (!lowercase) {
    out->append(s);
    return;
  }
  size_t at = out->size();
  out->append(s);
  for (size_t i = at; i < out->size(); ++i) (*out)[i] = Lower((*out)[i]);
}

void Append2(int v, std::string* out) {
  out->push_back(static_cast<char>('0' + v / 10 % 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

// "[event][dataset]" -> "event.dataset"; "event.dataset" stays.
absl::StatusOr<std::string> FieldPath(std::string_view ref) {
  if (ref.empty()) return absl::InvalidArgumentError("empty field reference %{}");
  if (ref.front() != '[') return std::string(ref);
  std::string path;
  while (!ref.empty()) {
    if (ref.front() != '[') return absl::InvalidArgumentError(StrCat("bad field reference \"", ref, "\""));
    size_t close = ref.find(']');
    if (close == std::string_view::npos || close == 1) {
      return absl::InvalidArgumentError(StrCat("bad field reference \"", ref, "\""));
    }
    if (!path.empty()) path.push_back('.');
    path.append(ref.substr(1, close - 1));
    ref.remove_prefix(close + 1);
  }
  return path;
}

std::string Base64(std::string_view in) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::encoded_size(in.size()), '\0');
  out.resize(b64::encode(out.data(), in.data(), in.size()));
  return out;
}

}  // namespace

absl::Status EventTemplate::CompileDate(std::string_view fmt, Part* part) {
  if (fmt.empty()) return absl::InvalidArgumentError("empty date format %{+}");
  size_t i = 0;
  while (i < fmt.size()) {
    char c = fmt[i];
    if (c == '\'') {  // quoted literal
      size_t close = fmt.find('\'', i + 1);
      if (close == std::string_view::npos) return absl::InvalidArgumentError("unterminated quote in date format");
      DatePart d{DateToken::kLiteral, ""};
      AppendJsonEscaped(fmt.substr(i + 1, close - i - 1), &d.literal);
      part->date.push_back(std::move(d));
      i = close + 1;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      DatePart d{DateToken::kLiteral, ""};
      AppendJsonEscaped(fmt.substr(i, 1), &d.literal);
      part->date.push_back(std::move(d));
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < fmt.size() && fmt[i + n] == c) ++n;
    DateToken t;
    if ((c == 'y' || c == 'Y') && n == 4) t = DateToken::kYear4;
    else if ((c == 'y' || c == 'Y') && n == 2) t = DateToken::kYear2;
    else if (c == 'x' && n == 4) t = DateToken::kWeekYear4;
    else if (c == 'w' && n == 2) t = DateToken::kWeek2;
    else if (c == 'M' && n == 2) t = DateToken::kMonth2;
    else if (c == 'd' && n == 2) t = DateToken::kDay2;
    else if (c == 'H' && n == 2) t = DateToken::kHour2;
    else if (c == 'm' && n == 2) t = DateToken::kMinute2;
    else if (c == 's' && n == 2) t = DateToken::kSecond2;
    else if (c == 'S' && n == 3) t = DateToken::kMilli3;
    else {
      return absl::InvalidArgumentError(StrCat("unsupported date pattern \"", fmt.substr(i, n), "\" in %{+", fmt,
                                               "} (supported: yyyy YYYY yy xxxx ww MM dd HH mm ss SSS)"));
    }
    part->date.push_back(DatePart{t, ""});
    i += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<EventTemplate> EventTemplate::Compile(std::string_view text, FieldRegistry* fields) {
  EventTemplate t;
  t.text_ = std::string(text);
  size_t i = 0;
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    Part p{PartKind::kLiteral, "", -1, {}};
    AppendJsonEscaped(literal, &p.text);
    t.parts_.push_back(std::move(p));
    literal.clear();
  };
  while (i < text.size()) {
    if (text[i] == '%' && i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(StrCat("unterminated reference \"", text.substr(i), "\" (missing '}')"));
      }
      std::string_view ref = text.substr(i + 2, close - i - 2);
      flush_literal();
      Part p{PartKind::kField, "", -1, {}};
      AppendJsonEscaped(text.substr(i, close - i + 1), &p.text);
      if (!ref.empty() && ref.front() == '+') {
        p.kind = PartKind::kDate;
        if (auto s = CompileDate(ref.substr(1), &p); !s.ok()) return s;
      } else {
        auto path = FieldPath(ref);
        if (!path.ok()) return path.status();
        if (path->rfind("@metadata.", 0) == 0) {
          std::string_view key = std::string_view(*path).substr(10);
          if (key == "_id") p.kind = PartKind::kMetaId;
          else if (key == "pipeline") p.kind = PartKind::kMetaPipeline;
          else if (key == "op_type") p.kind = PartKind::kMetaOpType;
          else if (key == "index") p.kind = PartKind::kMetaIndex;
          else {
            return absl::InvalidArgumentError(StrCat("%{", ref, "}: only [@metadata][_id], [pipeline], [op_type] and ",
                                                     "[index] can be referenced"));
          }
        } else if (*path == "@timestamp") {
          return absl::InvalidArgumentError("%{@timestamp}: use a date format such as %{+yyyy.MM.dd}");
        } else {
          if (!fields) return absl::InvalidArgumentError("field references are not allowed here");
          p.field = fields->Register(*path);
        }
      }
      t.parts_.push_back(std::move(p));
      i = close + 1;
      continue;
    }
    literal.push_back(text[i]);
    ++i;
  }
  flush_literal();
  return t;
}

void EventTemplate::AppendDate(const Part& p, int64_t ms, std::string* out) {
  int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  int64_t in_day = ms - days * 86'400'000;
  int y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  for (const DatePart& dp : p.date) {
    switch (dp.token) {
      case DateToken::kLiteral: out->append(dp.literal); break;
      case DateToken::kYear4: {
        char buf[8];
        auto r = std::to_chars(buf, buf + sizeof buf, y);
        for (int pad = 4 - static_cast<int>(r.ptr - buf); pad > 0; --pad) out->push_back('0');
        out->append(buf, r.ptr);
        break;
      }
      case DateToken::kYear2: Append2(((y % 100) + 100) % 100, out); break;
      case DateToken::kWeekYear4:
      case DateToken::kWeek2: {
        // ISO 8601 week: the week with the year's first Thursday is week 1.
        int64_t wd = ((days % 7) + 7 + 3) % 7;  // 0 = Monday (1970-01-01 was a Thursday)
        int64_t thursday = days - wd + 3;
        int ty;
        unsigned tm, td;
        CivilFromDays(thursday, &ty, &tm, &td);
        if (dp.token == DateToken::kWeekYear4) {
          char buf[8];
          auto r = std::to_chars(buf, buf + sizeof buf, ty);
          out->append(buf, r.ptr);
        } else {
          int64_t week = (thursday - DaysFromCivil(ty, 1, 1)) / 7 + 1;
          Append2(static_cast<int>(week), out);
        }
        break;
      }
      case DateToken::kMonth2: Append2(static_cast<int>(m), out); break;
      case DateToken::kDay2: Append2(static_cast<int>(d), out); break;
      case DateToken::kHour2: Append2(static_cast<int>(in_day / 3'600'000), out); break;
      case DateToken::kMinute2: Append2(static_cast<int>(in_day / 60'000 % 60), out); break;
      case DateToken::kSecond2: Append2(static_cast<int>(in_day / 1000 % 60), out); break;
      case DateToken::kMilli3: {
        int v = static_cast<int>(in_day % 1000);
        out->push_back(static_cast<char>('0' + v / 100));
        Append2(v % 100, out);
        break;
      }
    }
  }
}

bool EventTemplate::DayOnly() const {
  for (const Part& p : parts_) {
    if (p.kind == PartKind::kLiteral) continue;
    if (p.kind != PartKind::kDate) return false;
    for (const DatePart& d : p.date) {
      if (d.token == DateToken::kHour2 || d.token == DateToken::kMinute2 || d.token == DateToken::kSecond2 ||
          d.token == DateToken::kMilli3) {
        return false;
      }
    }
  }
  return true;
}

void EventTemplate::AppendJson(const Batch& b, size_t i, bool lowercase, std::string* out) const {
  const Event& e = b.events()[i];
  for (const Part& p : parts_) {
    Span s;
    switch (p.kind) {
      case PartKind::kLiteral: AppendMaybeLower(p.text, lowercase, out); continue;
      case PartKind::kDate: AppendDate(p, e.timestamp_ms, out); continue;
      case PartKind::kMetaId: s = e.meta_id; break;
      case PartKind::kMetaPipeline: s = e.meta_pipeline; break;
      case PartKind::kMetaOpType: s = e.meta_op_type; break;
      case PartKind::kMetaIndex: s = e.meta_index; break;
      case PartKind::kField: {
        if (static_cast<size_t>(p.field) < b.field_count()) {
          const FieldValue& v = b.field(i, p.field);
          if (v.kind == FieldKind::kString || v.kind == FieldKind::kNumber) {
            AppendMaybeLower(b.View(v.span), lowercase, out);
            continue;
          }
          if (v.kind == FieldKind::kTrue || v.kind == FieldKind::kFalse) {
            out->append(v.kind == FieldKind::kTrue ? "true" : "false");
            continue;
          }
        }
        break;
      }
    }
    if (s.empty()) {
      AppendMaybeLower(p.text, lowercase, out);  // missing: the reference text, like Logstash
    } else {
      AppendMaybeLower(b.View(s), lowercase, out);
    }
  }
}

std::string EventTemplate::Render(const Batch& b, size_t i, bool lowercase) const {
  std::string out;
  AppendJson(b, i, lowercase, &out);
  return out;
}

namespace {

bool ParseHost(const std::string& url, EsHost* h, std::string* why) {
  std::string_view u = url;
  if (u.rfind("http://", 0) == 0) {
    u.remove_prefix(7);
  } else if (u.rfind("https://", 0) == 0) {
    h->tls = true;
    u.remove_prefix(8);
  } else {
    *why = "must start with http:// or https://";
    return false;
  }
  size_t slash = u.find('/');
  std::string_view hostport = u.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = u.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    h->path_prefix = std::string(prefix);
  }
  if (hostport.find('@') != std::string_view::npos) {
    *why = "credentials in the URL are not supported; use username/password or api_key";
    return false;
  }
  size_t colon = hostport.rfind(':');
  if (hostport.empty() || colon == 0) {
    *why = "has no host name";
    return false;
  }
  if (hostport.front() == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      *why = "has an unterminated IPv6 address";
      return false;
    }
    h->host = std::string(hostport.substr(1, close - 1));
    colon = hostport.find(':', close);
  } else {
    h->host = std::string(hostport.substr(0, colon));
  }
  if (colon == std::string_view::npos) {
    h->port = "9200";
  } else {
    std::string_view p = hostport.substr(colon + 1);
    uint32_t port;
    if (!absl::SimpleAtoi(absl::string_view(p.data(), p.size()), &port) || port == 0 || port > 65535) {
      *why = "has no valid port (expected http(s)://host:port)";
      return false;
    }
    h->port = std::string(p);
  }
  h->url = url;
  return true;
}

}  // namespace

std::shared_ptr<const EsSinkConfig> ParseEsSinkConfig(ConfigMap& cfg, ComponentContext& ctx) {
  auto c = std::make_shared<EsSinkConfig>();
  const size_t errors_before = cfg.errors()->list().size();
  c->id = ReadComponentId(cfg, "elasticsearch");

  std::vector<std::string> hosts = cfg.StringList("hosts");
  if (hosts.empty()) hosts.push_back("http://127.0.0.1:9200");
  for (const auto& url : hosts) {
    EsHost h;
    std::string why;
    if (!ParseHost(url, &h, &why)) {
      cfg.Error("hosts", StrCat("\"", url, "\" ", why));
      continue;
    }
    c->hosts.push_back(std::move(h));
  }

  c->data_stream = cfg.Bool("data_stream", false);
  std::string action = cfg.Enum("action", c->data_stream ? "create" : "index", {"index", "create"});
  c->action_create = action == "create";
  if (c->data_stream && !c->action_create) {
    cfg.Error("action", "data streams accept only `create` (remove `action` or set it to create)");
  }
  std::string index = cfg.String("index", c->data_stream ? "logs-generic-default" : "sluice-%{+yyyy.MM.dd}");
  if (auto t = EventTemplate::Compile(index, ctx.fields); t.ok()) {
    c->index = std::move(*t);
  } else {
    cfg.Error("index", StrCat("bad index pattern \"", index, "\": ", MessageOf(t.status().message())));
  }
  if (index.empty()) cfg.Error("index", "must not be empty");
  c->auto_document_id =
      cfg.Enum("document_id", ctx.persisted_queue ? "auto" : "none", {"auto", "none"}) == "auto";
  if (c->auto_document_id) {
    c->agent_id_field = ctx.fields->Register("agent.id");
    c->file_path_field = ctx.fields->Register("log.file.path");
    c->offset_field = ctx.fields->Register("log.offset");
  }
  std::string pipeline = cfg.String("pipeline", "");
  if (auto t = EventTemplate::Compile(pipeline, ctx.fields); t.ok()) {
    c->pipeline = std::move(*t);
  } else {
    cfg.Error("pipeline", StrCat("bad pipeline pattern \"", pipeline, "\": ", MessageOf(t.status().message())));
  }

  c->max_in_flight = static_cast<int>(cfg.Int("max_in_flight", c->max_in_flight, 1, 256));
  c->batch_max_events = static_cast<size_t>(cfg.Int("batch_max_events", static_cast<int64_t>(c->batch_max_events), 1, 1 << 20));
  c->batch_max_bytes = cfg.Bytes("batch_max_bytes", c->batch_max_bytes, 1024);
  if (cfg.Has("flush_interval") && cfg.Has("flush_interval_ms")) {
    cfg.Error("flush_interval_ms", "set either flush_interval or flush_interval_ms, not both");
  }
  c->flush_interval_ms = cfg.DurationMs("flush_interval", c->flush_interval_ms);
  c->flush_interval_ms = cfg.Int("flush_interval_ms", c->flush_interval_ms, 0, 3'600'000);
  c->flush_idle_ms = cfg.DurationMs("flush_idle", c->flush_idle_ms);
  c->compression_level = static_cast<int>(cfg.Int("compression_level", c->compression_level, 0, 9));
  c->max_queue_bytes = cfg.Bytes("max_queue_bytes", c->max_queue_bytes, 1024);
  c->timeout_ms = cfg.DurationMs("timeout", c->timeout_ms, 1);
  c->retry_initial_interval_ms = cfg.DurationMs("retry_initial_interval", c->retry_initial_interval_ms, 1);
  c->retry_max_interval_ms = cfg.DurationMs("retry_max_interval", c->retry_max_interval_ms, 1);
  if (c->retry_max_interval_ms < c->retry_initial_interval_ms) {
    cfg.Error("retry_max_interval", "must be at least retry_initial_interval");
  }

  std::string user = cfg.String("username", "");
  std::string password = cfg.String("password", "");
  std::string api_key = cfg.String("api_key", "");
  if (!user.empty() && !api_key.empty()) cfg.Error("api_key", "set either username/password or api_key, not both");
  if (user.empty() && !password.empty()) cfg.Error("password", "needs username");
  if (!api_key.empty()) {
    // "id:key" (as Logstash and Beats take it) is encoded; an already encoded key is sent as is.
    c->authorization = StrCat("ApiKey ", api_key.find(':') != std::string::npos ? Base64(api_key) : api_key);
  } else if (!user.empty()) {
    c->authorization = StrCat("Basic ", Base64(StrCat(user, ":", password)));
  }

  if (auto tls = cfg.Map("tls")) {
    c->tls_ca = tls->String("ca", "");
    c->tls_verify = tls->Bool("verify", true);
    c->tls_certificate = tls->String("certificate", "");
    c->tls_key = tls->String("key", "");
    if (c->tls_certificate.empty() != c->tls_key.empty()) tls->Error("key", "certificate and key go together");
    tls->Finish();
  }
  cfg.Finish();
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  return c;
}

}  // namespace sluice
