#include "simulator/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/json_util.h"
#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice::simulator {
namespace {

enum Service : uint8_t { kShopApi, kCrmApi, kMesApi, kMesCore, kStorage, kRabbit, kShopDb, kMesDb, kServices };
const char* const kServiceNames[kServices] = {"shop-api", "crm-api", "mes-api", "mes-core",
                                              "storage-3d", "rabbitmq", "shop-db", "mes-db"};
const char* const kHosts[kServices] = {"shop-api-1", "crm-api-1", "mes-api-1", "mes-core-1",
                                       "storage-3d-1", "rabbitmq-1", "shop-db-1", "mes-db-1"};

uint8_t ServiceIndex(const std::string& name) {
  for (uint8_t i = 0; i < kServices; ++i) {
    if (name == kServiceNames[i]) return i;
  }
  return kServices;
}

// A nested JSON object written by hand, members in call order.
class Json {
 public:
  Json() { s_.push_back('{'); }
  Json& Key(std::string_view k) {
    if (!first_.back()) s_.push_back(',');
    first_.back() = false;
    AppendJsonString(k, &s_);
    s_.push_back(':');
    return *this;
  }
  Json& Str(std::string_view k, std::string_view v) {
    Key(k);
    AppendJsonString(v, &s_);
    return *this;
  }
  Json& Num(std::string_view k, int64_t v) {
    Key(k);
    s_ += std::to_string(v);
    return *this;
  }
  Json& Real(std::string_view k, double v) {
    Key(k);
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    s_ += b;
    return *this;
  }
  Json& Open(std::string_view k) {
    Key(k);
    s_.push_back('{');
    first_.push_back(true);
    return *this;
  }
  Json& Close() {
    s_.push_back('}');
    first_.pop_back();
    return *this;
  }
  std::string Done() {
    s_.push_back('}');
    return std::move(s_);
  }

 private:
  std::string s_;
  std::vector<bool> first_{true};
};

// The members every Filebeat event has; the caller adds its own and calls Done().
Json BeatsEvent(int64_t ts, uint8_t svc, const char* level, const char* action, std::string_view message,
                int64_t duration_ns = -1) {
  Json j;
  j.Str("@timestamp", FormatRfc3339Ms(ts));
  j.Open("@metadata").Str("beat", "filebeat").Str("type", "_doc").Str("version", "8.15.0").Close();
  j.Open("agent").Str("type", "filebeat").Str("version", "8.15.0").Str("name", kHosts[svc]).Close();
  j.Open("host").Str("name", kHosts[svc]).Close();
  j.Open("ecs").Str("version", "8.0.0").Close();
  j.Open("input").Str("type", "filestream").Close();
  j.Open("service").Str("name", kServiceNames[svc]).Close();
  j.Open("log").Str("level", level).Open("file").Str("path", StrCat("/var/log/", kServiceNames[svc], "/app.log"))
      .Close().Close();
  j.Str("message", message);
  j.Open("event").Str("action", action).Str("dataset", StrCat(kServiceNames[svc], ".log"));
  if (duration_ns >= 0) j.Num("duration", duration_ns);
  j.Close();
  return j;
}

// RFC 5424, facility local0.
std::string SyslogLine(int64_t ts, uint8_t svc, int severity, const char* app, int pid, const char* msgid,
                       const std::string& sd, std::string_view msg) {
  return StrCat("<", 16 * 8 + severity, ">1 ", FormatRfc3339Ms(ts), " ", kHosts[svc], " ", app, " ", pid, " ",
                msgid, " ", sd.empty() ? std::string("-") : sd, " ", msg);
}

const char* const kShopPaths[] = {"/api/products", "/api/products/search", "/api/cart", "/api/cart/items",
                                  "/api/materials", "/api/account", "/api/orders", "/api/quotes"};
const char* const kCrmPaths[] = {"/api/customers", "/api/customers/search", "/api/tickets", "/api/leads"};
const char* const kMesPaths[] = {"/api/jobs", "/api/printers", "/api/calculations", "/api/queue"};

Scenario ResolveStart(Scenario sc) {
  if (sc.start_ms == 0) sc.start_ms = (NowMs() - sc.duration_ms) / 1000 * 1000;
  return sc;
}

}  // namespace

ShopGenerator::ShopGenerator(Scenario scenario, uint64_t seed)
    : sc_(ResolveStart(std::move(scenario))),
      rng_(seed),
      spawned_until_(sc_.start_ms - ((sc_.start_ms % 1000) + 1000) % 1000),
      emitted_until_(sc_.start_ms) {
  for (int i = 0; i < 200; ++i) sessions_.push_back(Hex(16));
}

std::string ShopGenerator::Hex(int n) {
  static const char* d = "0123456789abcdef";
  std::string s(static_cast<size_t>(n), '0');
  uint64_t bits = 0;
  for (int i = 0; i < n; ++i) {
    if (i % 16 == 0) bits = rng_();
    s[static_cast<size_t>(i)] = d[bits & 15];
    bits >>= 4;
  }
  return s;
}

double ShopGenerator::Shape(int64_t t) const {
  // Busiest at 14:00 UTC, quiet at night (10% of the peak).
  double h = static_cast<double>(((t % 86'400'000) + 86'400'000) % 86'400'000) / 3'600'000.0;
  return 0.1 + 0.9 * std::exp(-(h - 14) * (h - 14) / (2 * 3.5 * 3.5));
}

bool ShopGenerator::Silenced(uint8_t service, int64_t ts) const {
  for (const Fault& f : sc_.faults) {
    if (f.type != FaultType::kSilent || ServiceIndex(f.service) != service) continue;
    int64_t from = sc_.start_ms + f.at_ms;
    if (ts >= from && ts < from + f.duration_ms) return true;
  }
  return false;
}

void ShopGenerator::Push(int64_t ts, uint8_t service, SimEvent::Channel ch, std::string text) {
  queue_.push(Pending{ts, seq_++, service, ch, std::move(text)});
}

std::string ShopGenerator::TruthRecord(const Fault& f, int64_t start, int64_t end, const std::string& key,
                                       const std::string& extra_json) {
  ++stats_.truth_records;
  std::string s = StrCat("{\"scenario\":");
  AppendJsonString(sc_.name, &s);
  s += ",\"fault\":\"";
  s += FaultTypeName(f.type);
  s += "\",\"start\":\"";
  s += FormatRfc3339Ms(start);
  s += "\",\"end\":";
  if (end > 0) {
    s += '"';
    s += FormatRfc3339Ms(end);
    s += '"';
  } else {
    s += "null";
  }
  s += ",\"key\":";
  AppendJsonString(key, &s);
  s += ",\"expected_alert\":";
  AppendJsonString(f.expected_alert, &s);
  s += ",\"side_effect_alerts\":[";
  for (size_t i = 0; i < f.side_effect_alerts.size(); ++i) {
    if (i > 0) s += ',';
    AppendJsonString(f.side_effect_alerts[i], &s);
  }
  s += "]";
  s += ",\"scenario_line\":" + std::to_string(f.line);
  s += extra_json;
  s += "}";
  return s;
}

void ShopGenerator::StartFault(const Fault& f, std::vector<std::string>* truth) {
  ++stats_.faults_started;
  const int64_t t = sc_.start_ms + f.at_ms;
  const int64_t end = f.duration_ms > 0 ? t + f.duration_ms : 0;
  switch (f.type) {
    case FaultType::kLostOrders:
      lost_so_far_ = 0;
      truth->push_back(TruthRecord(f, t, end, "", StrCat(",\"stage\":\"", f.stage, "\"")));
      break;
    case FaultType::kDuplicateCalculation:
      duplicate_fault_ = &f;
      duplicate_left_ = f.count;
      break;
    case FaultType::kOversizeModel:
      oversize_fault_ = &f;
      oversize_left_ = 1;
      break;
    case FaultType::kFailedCalculations:
      failed_fault_ = &f;
      failed_left_ = f.count;
      break;
    case FaultType::kRequestStorm:
    case FaultType::kSilent:
    case FaultType::kFatalBurst: {
      std::string extra = StrCat(",\"service\":\"", f.service, "\"");
      truth->push_back(TruthRecord(f, t, end, f.service, extra));
      break;
    }
  }
}

void ShopGenerator::SpawnRequest(int64_t t, uint8_t svc, const std::string& session, const std::string& ip) {
  std::uniform_real_distribution<double> u(0, 1);
  const char* path;
  if (svc == kShopApi) {
    path = kShopPaths[rng_() % std::size(kShopPaths)];
  } else if (svc == kCrmApi) {
    path = kCrmPaths[rng_() % std::size(kCrmPaths)];
  } else {
    path = kMesPaths[rng_() % std::size(kMesPaths)];
  }
  const bool write = u(rng_) < 0.15;
  double r = u(rng_);
  int status = r < 0.93 ? (write ? 201 : 200) : r < 0.985 ? 404 : r < 0.995 ? 401 : 500;
  int64_t dur_ms = static_cast<int64_t>(std::exp(std::normal_distribution<double>(3.3, 0.7)(rng_)));  // ~27 ms
  int64_t bytes = status >= 400 ? 120 : 300 + static_cast<int64_t>(rng_() % 20'000);
  const char* level = status >= 500 ? "WARN" : "INFO";
  std::string method = write ? (u(rng_) < 0.7 ? "POST" : "PUT") : "GET";
  std::string msg = StrCat(method, " ", path, " ", status, " ", dur_ms, "ms");
  Json j = BeatsEvent(t + dur_ms, svc, level, "http-request", msg, dur_ms * 1'000'000);
  j.Open("url").Str("path", path).Close();
  j.Open("http").Open("request").Str("method", method).Close()
      .Open("response").Num("status_code", status).Num("bytes", bytes).Close().Close();
  j.Open("session").Str("id", session).Close();
  j.Open("client").Str("ip", ip).Close();
  j.Open("trace").Str("id", Hex(32)).Close();
  Push(t + dur_ms, svc, SimEvent::kBeats, j.Done());
}

void ShopGenerator::SpawnInfraNoise(int64_t sec) {
  std::uniform_real_distribution<double> u(0, 1);
  const double shape = Shape(sec);
  auto at = [&] { return sec + static_cast<int64_t>(rng_() % 1000); };
  // PostgreSQL and RabbitMQ chatter over syslog.
  for (uint8_t db : {kShopDb, kMesDb}) {
    if (u(rng_) < 0.2 * shape) {
      int64_t t = at();
      Push(t, db, SimEvent::kSyslog,
           SyslogLine(t, db, 6, "postgres", 2000 + static_cast<int>(rng_() % 500), "-", "",
                      StrCat("LOG:  connection authorized: user=", db == kShopDb ? "shop" : "mes", " database=",
                             db == kShopDb ? "shop" : "mes")));
    }
    if (u(rng_) < 0.01 + 0.02 * shape) {
      int64_t t = at();
      int64_t ms = 1000 + static_cast<int64_t>(rng_() % 4000);
      Push(t, db, SimEvent::kSyslog,
           SyslogLine(t, db, 4, "postgres", 2000 + static_cast<int>(rng_() % 500), "slow-query", "",
                      StrCat("LOG:  duration: ", ms, ".", rng_() % 1000,
                             " ms  statement: SELECT * FROM orders o JOIN order_items i ON i.order_id = o.id "
                             "WHERE o.status = 'pricing'")));
    }
    if (u(rng_) < 0.0005) {
      int64_t t = at();
      Push(t, db, SimEvent::kSyslog,
           SyslogLine(t, db, 3, "postgres", 2000 + static_cast<int>(rng_() % 500), "deadlock", "",
                      "ERROR:  deadlock detected DETAIL:  Process 2291 waits for ShareLock on transaction 88123; "
                      "blocked by process 2304."));
    }
  }
  if (u(rng_) < 0.05 * shape) {
    int64_t t = at();
    Push(t, kRabbit, SimEvent::kSyslog,
         SyslogLine(t, kRabbit, 6, "rabbitmq", 812, "connection", "",
                    StrCat("accepting AMQP connection <0.", rng_() % 9000, ".0> (10.0.3.", rng_() % 250,
                           ":", 40000 + rng_() % 20000, " -> 10.0.2.5:5672)")));
  }
  // TRACE from the calculation workers.
  if (u(rng_) < 0.5 * shape) {
    int64_t t = at();
    Json j = BeatsEvent(t, kMesCore, "TRACE", "debug", StrCat("worker ", rng_() % 8, " polling queue mes.calculations"));
    Push(t, kMesCore, SimEvent::kBeats, j.Done());
  }
}

void ShopGenerator::SpawnOrder(int64_t t0, std::vector<std::string>* truth) {
  ++stats_.orders;
  std::uniform_real_distribution<double> u(0, 1);
  char idbuf[32];
  std::snprintf(idbuf, sizeof idbuf, "ORD-%08llu", static_cast<unsigned long long>(next_order_++));
  const std::string order = idbuf;
  const std::string trace = Hex(32);
  const std::string session = sessions_[rng_() % sessions_.size()];
  const std::string sha = Hex(64);
  // Model sizes: log-normal, median ~6 MB, cut at 3.5 deviations (~200 MB):
  // an untruncated draw reached 1.09 GB once (5.2 deviations), which is the
  // oversize_model fault's job, and was scored as an unexplained alert.
  double log_size;
  do {
    log_size = std::normal_distribution<double>(15.6, 1.0)(rng_);
  } while (std::abs(log_size - 15.6) > 3.5);
  uint64_t size = static_cast<uint64_t>(std::exp(log_size));
  const Fault* oversize = nullptr;
  if (oversize_left_ > 0) {
    --oversize_left_;
    oversize = oversize_fault_;
    size = oversize->size_bytes;
  }
  const Fault* dup = nullptr;
  if (duplicate_left_ > 0) {
    --duplicate_left_;
    dup = duplicate_fault_;
  }
  const Fault* fail = nullptr;
  if (failed_left_ > 0) {
    --failed_left_;
    fail = failed_fault_;
  }
  // Lost: the current lost_orders window decides where this order stops.
  int lost_after = -1;
  const Fault* lost = nullptr;
  for (const Fault& f : sc_.faults) {
    if (f.type != FaultType::kLostOrders) continue;
    int64_t from = sc_.start_ms + f.at_ms;
    if (t0 < from || t0 >= from + f.duration_ms) continue;
    if (f.count > 0 && lost_so_far_ >= f.count) continue;
    if (u(rng_) >= f.fraction) continue;
    lost = &f;
    ++lost_so_far_;
    const auto& st = OrderStages();
    lost_after = static_cast<int>(std::find(st.begin(), st.end(), f.stage) - st.begin());
  }

  auto add_order = [&](Json& j, const char* status = nullptr) {
    j.Open("order").Str("id", order);
    if (status) j.Str("status", status);
    j.Close().Open("trace").Str("id", trace).Close();
  };
  auto stage_ok = [&](int stage) { return lost_after < 0 || stage <= lost_after; };
  std::vector<int64_t> stage_at(OrderStages().size(), 0);
  int64_t t = t0;

  // 0 created: the Shop API takes the order and writes it to the Shop DB.
  {
    int64_t dur = 40 + static_cast<int64_t>(rng_() % 120);
    Json a = BeatsEvent(t + dur, kShopApi, "INFO", "http-request", StrCat("POST /api/orders 201 ", dur, "ms"),
                        dur * 1'000'000);
    a.Open("url").Str("path", "/api/orders").Close();
    a.Open("http").Open("request").Str("method", "POST").Close()
        .Open("response").Num("status_code", 201).Num("bytes", 412).Close().Close();
    a.Open("session").Str("id", session).Close();
    a.Open("client").Str("ip", StrCat("203.0.113.", rng_() % 250)).Close();
    add_order(a);
    Push(t + dur, kShopApi, SimEvent::kBeats, a.Done());
    t += 15;
    Json d = BeatsEvent(t, kShopDb, "INFO", "order-created", StrCat("order ", order, " created (status new)"));
    add_order(d, "new");
    Push(t, kShopDb, SimEvent::kBeats, d.Done());
    Push(t, kShopDb, SimEvent::kSyslog,
         SyslogLine(t, kShopDb, 6, "postgres", 2211, "order-created", StrCat("[order@32473 id=\"", order, "\"]"),
                    StrCat("LOG:  duration: 2.", rng_() % 900, " ms  statement: INSERT INTO orders (id, status) "
                           "VALUES ('", order, "', 'new')")));
    stage_at[0] = t;
  }
  // 1 published to RabbitMQ.
  if (stage_ok(1)) {
    t += 30 + static_cast<int64_t>(rng_() % 270);
    Json j = BeatsEvent(t, kRabbit, "INFO", "published", StrCat("message for order ", order, " published to orders"));
    j.Open("rabbitmq").Str("exchange", "orders").Str("queue", "mes.calculations").Close();
    add_order(j);
    Push(t, kRabbit, SimEvent::kBeats, j.Done());
    stage_at[1] = t;
  }
  // 2 delivered to the MES, which requests the calculation.
  if (stage_ok(2)) {
    t += 50 + static_cast<int64_t>(std::exponential_distribution<double>(1.0 / 800)(rng_));
    Json j = BeatsEvent(t, kRabbit, "INFO", "delivered", StrCat("message for order ", order, " delivered to mes-api"));
    j.Open("rabbitmq").Str("exchange", "orders").Str("queue", "mes.calculations").Close();
    add_order(j);
    Push(t, kRabbit, SimEvent::kBeats, j.Done());
    stage_at[2] = t;
  }
  if (stage_ok(3)) {
    int repeats = dup ? static_cast<int>(dup->repeats) : 1;
    for (int r = 0; r < repeats; ++r) {
      int64_t tr = t + 5 + r * (500 + static_cast<int64_t>(rng_() % 2500));
      Json j = BeatsEvent(tr, kMesApi, "INFO", "calculation-requested",
                          StrCat("calculation requested for order ", order, " model ", sha.substr(0, 12)));
      j.Open("file").Num("size", static_cast<int64_t>(size)).Str("name", StrCat(order, ".stl")).Close();
      j.Open("model").Str("sha256", sha).Close();
      add_order(j);
      Push(tr, kMesApi, SimEvent::kBeats, j.Done());
    }
    if (dup) {
      truth->push_back(TruthRecord(*dup, t + 5, 0, order,
                                   StrCat(",\"model_sha256\":\"", sha, "\",\"repeats\":", dup->repeats)));
    }
    if (oversize) {
      truth->push_back(TruthRecord(*oversize, t + 5, 0, order, StrCat(",\"file_size\":", size)));
    }
    // 3 model stored: uploads at ~80 MB/s.
    t += 20 + static_cast<int64_t>(std::min<uint64_t>(size / 80'000, 600'000));
    Json s = BeatsEvent(t, kStorage, "INFO", "model-stored", StrCat("stored ", sha.substr(0, 12), " (", size, " bytes)"));
    s.Open("file").Num("size", static_cast<int64_t>(size)).Close();
    s.Open("model").Str("sha256", sha).Close();
    add_order(s);
    Push(t, kStorage, SimEvent::kBeats, s.Done());
    stage_at[3] = t;
  }
  // 4 calculated: three stages, time growing with the model's size.
  if (stage_ok(4)) {
    const double mb = static_cast<double>(std::min<uint64_t>(size, uint64_t{4} << 30)) / 1e6;
    t += 100 + static_cast<int64_t>(rng_() % 400);
    Json rd = BeatsEvent(t, kStorage, "INFO", "model-read", StrCat("read ", sha.substr(0, 12)));
    rd.Open("file").Num("size", static_cast<int64_t>(size)).Close();
    rd.Open("model").Str("sha256", sha).Close();
    add_order(rd);
    Push(t, kStorage, SimEvent::kBeats, rd.Done());
    const int64_t started = t;
    const int stages = fail ? 2 : 3;
    for (int st = 1; st <= stages; ++st) {
      t += 500 + static_cast<int64_t>(mb * (200 + static_cast<double>(rng_() % 400)));
      t = std::min(t, started + 8 * 60'000);  // the workers time out big models
      Json tr = BeatsEvent(t - 1, kMesCore, "TRACE", "debug", StrCat("order ", order, " stage ", st, ": mesh ok"));
      add_order(tr);
      Push(t - 1, kMesCore, SimEvent::kBeats, tr.Done());
      Json j = BeatsEvent(t, kMesCore, "INFO", "calculation-stage",
                          StrCat("order ", order, " calculation stage ", st, "/3 finished"));
      j.Open("calculation").Num("stage", st).Close();
      add_order(j);
      Push(t, kMesCore, SimEvent::kBeats, j.Done());
    }
    if (fail) {
      t += 200;
      Json j = BeatsEvent(t, kMesCore, "WARN", "calculation-failed",
                          StrCat("calculation for order ", order, " failed: non-manifold mesh"),
                          (t - started) * 1'000'000);
      add_order(j);
      Push(t, kMesCore, SimEvent::kBeats, j.Done());
      Json dl = BeatsEvent(t + 10, kRabbit, "WARN", "dead-lettered",
                           StrCat("message for order ", order, " dead-lettered (rejected)"));
      dl.Open("rabbitmq").Str("exchange", "orders.dlx").Str("queue", "mes.calculations").Close();
      add_order(dl);
      Push(t + 10, kRabbit, SimEvent::kBeats, dl.Done());
      truth->push_back(TruthRecord(*fail, t, 0, order, ",\"stage\":\"calculation_failed\""));
      return;
    }
    Json j = BeatsEvent(t, kMesCore, "INFO", "calculation-completed",
                        StrCat("order ", order, " priced in ", t - started, "ms"), (t - started) * 1'000'000);
    j.Real("price_eur", 5 + mb * 0.8);
    add_order(j);
    Push(t, kMesCore, SimEvent::kBeats, j.Done());
    stage_at[4] = t;
    Json ack = BeatsEvent(t + 5, kRabbit, "INFO", "acked", StrCat("message for order ", order, " acked"));
    ack.Open("rabbitmq").Str("exchange", "orders").Str("queue", "mes.calculations").Close();
    add_order(ack);
    Push(t + 5, kRabbit, SimEvent::kBeats, ack.Done());
  }
  // 5 status changed in the MES DB.
  if (stage_ok(5)) {
    t += 20 + static_cast<int64_t>(rng_() % 80);
    Json j = BeatsEvent(t, kMesDb, "INFO", "order-status-changed", StrCat("order ", order, " status priced"));
    add_order(j, "priced");
    Push(t, kMesDb, SimEvent::kBeats, j.Done());
    Push(t, kMesDb, SimEvent::kSyslog,
         SyslogLine(t, kMesDb, 6, "postgres", 3120, "order-status", StrCat("[order@32473 id=\"", order, "\"]"),
                    StrCat("LOG:  duration: 1.", rng_() % 900, " ms  statement: UPDATE orders SET status = 'priced' "
                           "WHERE id = '", order, "'")));
    stage_at[5] = t;
    ++stats_.orders_completed;
    // The customer looks at the price.
    Json g = BeatsEvent(t + 2000, kShopApi, "INFO", "http-request", StrCat("GET /api/orders/", order, " 200 12ms"),
                        12'000'000);
    g.Open("url").Str("path", StrCat("/api/orders/", order)).Close();
    g.Open("http").Open("request").Str("method", "GET").Close()
        .Open("response").Num("status_code", 200).Num("bytes", 988).Close().Close();
    g.Open("session").Str("id", session).Close();
    add_order(g);
    Push(t + 2000, kShopApi, SimEvent::kBeats, g.Done());
  }
  if (lost) {
    const auto& st = OrderStages();
    truth->push_back(TruthRecord(*lost, stage_at[static_cast<size_t>(lost_after)], 0, order,
                                 StrCat(",\"stage\":\"", st[static_cast<size_t>(lost_after)],
                                        "\",\"expected_stage\":\"", st[static_cast<size_t>(lost_after) + 1], "\"")));
  }
}

void ShopGenerator::SpawnSecond(int64_t s, std::vector<std::string>* truth) {
  while (next_fault_ < sc_.faults.size() && sc_.start_ms + sc_.faults[next_fault_].at_ms < s + 1000) {
    StartFault(sc_.faults[next_fault_++], truth);
  }
  const double shape = Shape(s);
  std::uniform_real_distribution<double> u(0, 1);
  // Orders.
  int orders = std::poisson_distribution<int>(sc_.orders_per_hour * shape / 3600.0)(rng_);
  for (int i = 0; i < orders; ++i) SpawnOrder(s + static_cast<int64_t>(rng_() % 1000), truth);
  // Background API traffic: 60% shop, 20% CRM, 20% MES.
  int requests = std::poisson_distribution<int>(sc_.requests_per_second * shape)(rng_);
  for (int i = 0; i < requests; ++i) {
    double r = u(rng_);
    uint8_t svc = r < 0.6 ? kShopApi : r < 0.8 ? kCrmApi : kMesApi;
    size_t who = rng_() % sessions_.size();
    SpawnRequest(s + static_cast<int64_t>(rng_() % 1000), svc, sessions_[who], StrCat("198.51.100.", who % 250));
  }
  SpawnInfraNoise(s);
  // Faults with a rate over their window.
  for (const Fault& f : sc_.faults) {
    int64_t from = sc_.start_ms + f.at_ms;
    if (s + 1000 <= from || s >= from + f.duration_ms) continue;
    uint8_t svc = ServiceIndex(f.service);
    if (f.type == FaultType::kRequestStorm) {
      // One client hammering one endpoint.
      int n = std::poisson_distribution<int>(f.rate)(rng_);
      for (int i = 0; i < n; ++i) {
        SpawnRequest(std::max(from, s + static_cast<int64_t>(rng_() % 1000)), svc == kServices ? uint8_t{kShopApi} : svc,
                     "storm00000000000", "192.0.2.66");
      }
    } else if (f.type == FaultType::kFatalBurst) {
      double per_s = static_cast<double>(f.count) * 1000.0 / static_cast<double>(f.duration_ms);
      int n = std::poisson_distribution<int>(per_s)(rng_);
      for (int i = 0; i < n; ++i) {
        int64_t t = std::max(from, s + static_cast<int64_t>(rng_() % 1000));
        Json j = BeatsEvent(t, svc, "FATAL", "worker-crashed",
                            "unhandled exception in calculation worker: std::bad_alloc; worker restarting");
        Push(t, svc, SimEvent::kBeats, j.Done());
      }
    }
  }
}

void ShopGenerator::GenerateUntil(int64_t until_ms, std::vector<SimEvent>* events, std::vector<std::string>* truth) {
  until_ms = std::min(until_ms, end_ms());
  while (spawned_until_ < until_ms) {
    SpawnSecond(spawned_until_, truth);
    spawned_until_ += 1000;
  }
  while (!queue_.empty() && queue_.top().ts < until_ms) {
    Pending p = std::move(const_cast<Pending&>(queue_.top()));
    queue_.pop();
    if (p.ts < sc_.start_ms) continue;
    if (Silenced(p.service, p.ts)) {
      ++stats_.suppressed_events;
      continue;
    }
    (p.channel == SimEvent::kBeats ? stats_.beats_events : stats_.syslog_events)++;
    events->push_back(SimEvent{p.ts, p.channel, std::move(p.text)});
  }
  emitted_until_ = std::max(emitted_until_, until_ms);
}

}  // namespace sluice::simulator
