#include "sinks/elasticsearch/elasticsearch_sink.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <libdeflate.h>

#include "common/strings.h"
#include "common/timeutil.h"
#include "pipeline/dead_letter.h"

namespace sluice {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

libdeflate_compressor* Compressor(int level) {
  // One per thread and level: allocating one costs more than compressing a small body.
  thread_local std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> c{nullptr,
                                                                                          libdeflate_free_compressor};
  thread_local int c_level = -1;
  if (c_level != level) {
    c.reset(libdeflate_alloc_compressor(level));
    c_level = level;
  }
  return c.get();
}

constexpr size_t kMaxResponseBytes = 256u << 20;
// Beast reads max(512, free capacity) bytes per read_some: a flat_buffer left
// at its first 512 bytes read a 100 KB bulk response (4096 items with
// filter_path) 512 bytes at a time, ~200 recvmsg + epoll_wait per request
// (strace -c during run_beats.sh); 64 KiB of room makes it two.
constexpr size_t kResponseReadBytes = 64u << 10;
// Spare body buffers kept for reuse (a new one's pages are faulted in again):
// at most kBodyPoolMax, and their capacities at most a quarter of
// max_queue_bytes in all, so that a burst of large requests leaves no more
// idle memory behind than that (16 of batch_max_bytes' 10 MiB were 160 MiB).
constexpr size_t kBodyPoolMax = 16;

std::string Snippet(std::string_view body) {
  std::string s(body.substr(0, 300));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

struct ElasticsearchSink::PendingBatch {
  BatchPtr batch;
  std::atomic<uint32_t> remaining{0};
  uint64_t bytes = 0;
};

struct ElasticsearchSink::Conn {
  explicit Conn(asio::io_context& io) : resolver(io) {}
  size_t host = 0;
  tcp::resolver resolver;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  bool connected = false;
  bool busy = false;
  std::unique_ptr<BulkRequest> req;
  http::request<http::string_body> http_req;
  std::optional<http::response_parser<http::string_body>> parser;
  beast::flat_buffer buf;
  std::chrono::steady_clock::time_point started;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  template <class F>
  void with_stream(F&& f) {
    if (tls) f(*tls);
    else f(*plain);
  }
};

struct ElasticsearchSink::Io {
  asio::io_context io{1};
  asio::steady_timer tick{io};
  ssl::context ssl_ctx{ssl::context::tls_client};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::mutex pool_mu;
  std::vector<std::string> body_pool;
  size_t pool_bytes = 0;  // the pooled buffers' capacities

  // A spare buffer (empty, its capacity kept), or a new string.
  std::string Take() {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (body_pool.empty()) return {};
    std::string b = std::move(body_pool.back());
    body_pool.pop_back();
    pool_bytes -= b.capacity();
    b.clear();
    return b;
  }
  // Keeps `b` for reuse if the pool has room for it, else frees it.
  void Give(std::string b, size_t max_bytes) {
    if (b.capacity() == 0) return;
    std::lock_guard<std::mutex> lock(pool_mu);
    if (body_pool.size() >= kBodyPoolMax || pool_bytes + b.capacity() > max_bytes) return;
    pool_bytes += b.capacity();
    body_pool.push_back(std::move(b));
  }
};

ElasticsearchSink::ElasticsearchSink(std::shared_ptr<const EsSinkConfig> cfg, ComponentContext& ctx)
    : cfg_(std::move(cfg)),
      dlq_(ctx.dead_letters),
      encoder_(cfg_.get()),
      metrics_(ctx.metrics, "elasticsearch", cfg_->id),
      io_(std::make_unique<Io>()) {
  MetricsRegistry* reg = ctx.metrics;
  duplicates_ = reg->GetCounter("sluice_elasticsearch_duplicate_events_total",
                                "Events answered 409 (already indexed), counted as delivered.",
                                {{"component", cfg_->id}});
  latency_ = reg->GetHistogram("sluice_elasticsearch_bulk_latency_seconds", "Latency of _bulk requests.",
                               {{"component", cfg_->id}}, LatencyBuckets());
  reg->AddCallbackGauge("sluice_queue_bytes", "Bytes held in the queue.", {{"queue", cfg_->id}},
                        [this] { return static_cast<double>(queued_bytes()); });
  // Its bound too, so that the sum of the sluice_queue_max_bytes gauges is the
  // memory the queues may hold (sluice-capacity's report summed only the
  // pipeline's: "64 MiB" while the queues held up to 124 MiB).
  reg->AddCallbackGauge("sluice_queue_max_bytes", "Capacity of the queue in bytes.", {{"queue", cfg_->id}},
                        [this] { return static_cast<double>(cfg_->max_queue_bytes); });
  target_suffix_ = "/_bulk?filter_path=errors,items.*.error,items.*.status";
  hosts_.resize(cfg_->hosts.size());
  open_ = std::make_unique<BulkRequest>();
}

ElasticsearchSink::~ElasticsearchSink() {
  Stop(NowMs());
  conns_.clear();
}

size_t ElasticsearchSink::queued_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_bytes_;
}

size_t ElasticsearchSink::held_batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_batches_;
}

absl::Status ElasticsearchSink::Start() {
  bool any_tls = std::any_of(cfg_->hosts.begin(), cfg_->hosts.end(), [](const EsHost& h) { return h.tls; });
  if (any_tls) {
    beast::error_code ec;
    auto& ctx = io_->ssl_ctx;
    if (cfg_->tls_verify) {
      ctx.set_verify_mode(ssl::verify_peer, ec);
      if (!cfg_->tls_ca.empty()) ctx.load_verify_file(cfg_->tls_ca, ec);
      else ctx.set_default_verify_paths(ec);
      if (ec) return absl::InvalidArgumentError(StrCat(cfg_->id, ": tls.ca ", cfg_->tls_ca, ": ", ec.message()));
    } else {
      ctx.set_verify_mode(ssl::verify_none, ec);
    }
    if (!cfg_->tls_certificate.empty()) {
      ctx.use_certificate_chain_file(cfg_->tls_certificate, ec);
      if (!ec) ctx.use_private_key_file(cfg_->tls_key, ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError(StrCat(cfg_->id, ": tls.certificate/key: ", ec.message()));
    }
  }
  for (int i = 0; i < cfg_->max_in_flight; ++i) {
    auto c = std::make_unique<Conn>(io_->io);
    c->host = static_cast<size_t>(i) % cfg_->hosts.size();
    conns_.push_back(std::move(c));
  }
  next_host_ = 0;
  io_->work.emplace(io_->io.get_executor());
  started_ = true;
  asio::post(io_->io, [this] { Tick(); });
  thread_ = std::thread([this] {
    AdviseThreadHeapForHugePages();  // response bodies, parser and Beast buffers (pipeline/batch.h)
    io_->io.run();
  });
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Submit side

void ElasticsearchSink::Submit(BatchPtr batch) {
  size_t valid = 0;
  uint64_t doc_bytes = 0;
  for (const Event& e : batch->events()) {
    if (e.flags & kEventInvalid) continue;
    ++valid;
    doc_bytes += batch->DocLength(e);
  }
  if (valid == 0) {
    batch->Release();
    return;
  }
  // What the batch holds here: its own memory and the request bodies encoded
  // from it (each document copied once, with an action line), which stay until
  // its events are delivered. Admitted on the documents' bytes; the action
  // lines are added once encoded (below). Counting the batches alone, a syslog
  // flood's peak RSS was ~1.5x the queues' bounds (bench/reports/syslog-tcp.md).
  const uint64_t bytes = batch->MemoryBytes() + doc_bytes;
  {
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] {
      return held_bytes_ == 0 || held_bytes_ + bytes <= cfg_->max_queue_bytes || stopping_.load();
    });
    held_bytes_ += bytes;
    ++held_batches_;
  }
  metrics_.received_events->Inc(valid);
  metrics_.received_bytes->Inc(doc_bytes);
  auto pb = std::make_shared<PendingBatch>();
  pb->batch = batch;
  pb->remaining.store(static_cast<uint32_t>(valid));
  pb->bytes = bytes;

  std::vector<std::unique_ptr<BulkRequest>> sealed;
  {
    std::lock_guard<std::mutex> lock(enc_mu_);
    uint64_t encoded = 0;  // bytes appended to request bodies
    const auto& events = batch->events();
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      if (e.flags & kEventInvalid) continue;
      const size_t need = batch->DocLength(e) + BulkEncoder::kActionLineEstimate;
      if (!open_->items.empty() &&
          (open_->items.size() >= cfg_->batch_max_events || open_->body.size() + need > cfg_->batch_max_bytes)) {
        SealLocked(&sealed);
      }
      if (open_->items.empty()) open_since_ms_ = SteadyMs();
      if (open_->batches.empty() || open_->batches.back() != pb) open_->batches.push_back(pb);
      const uint32_t slot = static_cast<uint32_t>(open_->batches.size() - 1);
      const size_t before = open_->body.size();
      const bool create = encoder_.Append(*batch, i, &open_->body);
      encoded += open_->body.size() - before;
      open_->items.push_back(Item{slot, static_cast<uint32_t>(i), create});
    }
    // Under enc_mu_: none of the batch's events can be delivered (and its
    // bytes taken off) before pb->bytes is whole.
    if (encoded > doc_bytes) {
      pb->bytes += encoded - doc_bytes;
      std::lock_guard<std::mutex> lock(mu_);
      held_bytes_ += encoded - doc_bytes;
    }
    last_append_ms_ = SteadyMs();
    if (cfg_->flush_interval_ms == 0 || open_->items.size() >= cfg_->batch_max_events || stopping_.load()) {
      SealLocked(&sealed);
    }
  }
  if (!sealed.empty()) {
    for (auto& r : sealed) Prepare(r.get());
    Enqueue(std::move(sealed));
  }
}

void ElasticsearchSink::SealLocked(std::vector<std::unique_ptr<BulkRequest>>* sealed) {
  if (open_->items.empty()) return;
  open_->raw_bytes = open_->body.size();
  sealed->push_back(std::move(open_));
  open_ = std::make_unique<BulkRequest>();
  open_->body = io_->Take();
}

void ElasticsearchSink::Prepare(BulkRequest* r) {
  r->raw_bytes = r->body.size();
  r->gzip = false;
  if (cfg_->compression_level <= 0) return;
  libdeflate_compressor* c = Compressor(cfg_->compression_level);
  std::string out = io_->Take();
  out.resize(libdeflate_gzip_compress_bound(c, r->body.size()));
  size_t n = libdeflate_gzip_compress(c, r->body.data(), r->body.size(), out.data(), out.size());
  if (n == 0) return;  // cannot happen with the bound; send uncompressed
  out.resize(n);
  std::swap(out, r->body);
  r->gzip = true;
  ReturnBody(std::move(out));
}

void ElasticsearchSink::Enqueue(std::vector<std::unique_ptr<BulkRequest>> reqs, bool front) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : reqs) {
      if (front) ready_.push_front(std::move(r));
      else ready_.push_back(std::move(r));
    }
  }
  if (started_) asio::post(io_->io, [this] { Dispatch(); });
}

// ---------------------------------------------------------------- I/O thread

void ElasticsearchSink::Tick() {
  std::vector<std::unique_ptr<BulkRequest>> sealed;
  if (enc_mu_.try_lock()) {  // busy encoders seal by size themselves
    const int64_t now = SteadyMs();
    if (!open_->items.empty() &&
        (stopping_.load() || now - open_since_ms_ >= cfg_->flush_interval_ms ||
         (cfg_->flush_idle_ms > 0 && now - last_append_ms_ >= cfg_->flush_idle_ms))) {
      SealLocked(&sealed);
    }
    enc_mu_.unlock();
  }
  if (!sealed.empty()) {
    for (auto& r : sealed) Prepare(r.get());
    Enqueue(std::move(sealed));
  }
  Dispatch();
  int64_t tick_ms = cfg_->flush_interval_ms / 4;
  if (cfg_->flush_idle_ms > 0) tick_ms = std::min(tick_ms, cfg_->flush_idle_ms / 2);
  tick_ms = std::clamp<int64_t>(tick_ms, 5, 50);
  io_->tick.expires_after(std::chrono::milliseconds(tick_ms));
  io_->tick.async_wait([this](beast::error_code ec) {
    if (!ec) Tick();
  });
}

std::unique_ptr<ElasticsearchSink::BulkRequest> ElasticsearchSink::NextRequest() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!retry_.empty()) {
    const int64_t now = SteadyMs();
    size_t best = retry_.size();
    for (size_t i = 0; i < retry_.size(); ++i) {
      if (retry_[i]->not_before_ms <= now && (best == retry_.size() || retry_[i]->not_before_ms < retry_[best]->not_before_ms)) {
        best = i;
      }
    }
    if (best < retry_.size()) {
      auto r = std::move(retry_[best]);
      retry_.erase(retry_.begin() + static_cast<ptrdiff_t>(best));
      return r;
    }
  }
  if (ready_.empty()) return nullptr;
  auto r = std::move(ready_.front());
  ready_.pop_front();
  return r;
}

void ElasticsearchSink::Dispatch() {
  for (auto& cp : conns_) {
    Conn* c = cp.get();
    if (c->busy) continue;
    auto r = NextRequest();
    if (!r) return;
    c->busy = true;
    c->req = std::move(r);
    if (c->connected) Send(c);
    else Connect(c);
  }
}

size_t ElasticsearchSink::PickHost(size_t previous) {
  const size_t n = cfg_->hosts.size();
  const int64_t now = SteadyMs();
  // The previous host if it is healthy, else the next healthy one, else the one that comes back first.
  if (hosts_[previous].down_until_ms <= now) return previous;
  size_t best = previous;
  for (size_t k = 1; k <= n; ++k) {
    size_t h = (previous + k) % n;
    if (hosts_[h].down_until_ms <= now) return h;
    if (hosts_[h].down_until_ms < hosts_[best].down_until_ms) best = h;
  }
  return best;
}

void ElasticsearchSink::Connect(Conn* c) {
  c->host = PickHost(c->host);
  const EsHost& h = cfg_->hosts[c->host];
  c->plain.reset();
  c->tls.reset();
  c->buf.clear();
  c->buf.reserve(kResponseReadBytes);
  if (h.tls) c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_->io, io_->ssl_ctx);
  else c->plain = std::make_unique<beast::tcp_stream>(io_->io);
  c->started = std::chrono::steady_clock::now();
  c->resolver.async_resolve(h.host, h.port, [this, c](beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return OnTransportError(c, StrCat("resolve: ", ec.message()), false);
    c->lowest().expires_after(std::chrono::milliseconds(cfg_->timeout_ms));
    c->lowest().async_connect(results, [this, c](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return OnTransportError(c, StrCat("connect: ", ec.message()), ec == beast::error::timeout);
      beast::error_code ignored;
      c->lowest().socket().set_option(tcp::no_delay(true), ignored);
      if (!c->tls) {
        c->connected = true;
        return Send(c);
      }
      const std::string& host = cfg_->hosts[c->host].host;
      if (!SSL_set_tlsext_host_name(c->tls->native_handle(), host.c_str())) {
        return OnTransportError(c, "TLS: cannot set SNI", false);
      }
      if (cfg_->tls_verify) c->tls->set_verify_callback(ssl::host_name_verification(host));
      c->tls->async_handshake(ssl::stream_base::client, [this, c](beast::error_code ec) {
        if (ec) return OnTransportError(c, StrCat("TLS handshake: ", ec.message()), ec == beast::error::timeout);
        c->connected = true;
        Send(c);
      });
    });
  });
}

void ElasticsearchSink::Send(Conn* c) {
  BulkRequest& r = *c->req;
  const EsHost& h = cfg_->hosts[c->host];
  c->http_req = {};
  c->http_req.method(http::verb::post);
  c->http_req.target(h.path_prefix + target_suffix_);
  c->http_req.version(11);
  c->http_req.set(http::field::host, h.host + ":" + h.port);
  c->http_req.set(http::field::user_agent, "sluice/" SLUICE_VERSION);
  c->http_req.set(http::field::content_type, "application/json");
  if (!cfg_->authorization.empty()) c->http_req.set(http::field::authorization, cfg_->authorization);
  if (r.gzip) c->http_req.set(http::field::content_encoding, "gzip");
  c->http_req.set("X-Elastic-Event-Count", std::to_string(r.items.size()));
  c->http_req.set("X-Elastic-Uncompressed-Request-Length", std::to_string(r.raw_bytes));
  c->http_req.keep_alive(true);
  c->http_req.body() = std::move(r.body);
  c->http_req.prepare_payload();
  c->started = std::chrono::steady_clock::now();
  c->lowest().expires_after(std::chrono::milliseconds(cfg_->timeout_ms));
  c->with_stream([this, c](auto& stream) {
    http::async_write(stream, c->http_req, [this, c, &stream](beast::error_code ec, size_t) {
      if (ec) {
        c->req->body = std::move(c->http_req.body());
        return OnTransportError(c, StrCat("write: ", ec.message()), ec == beast::error::timeout);
      }
      c->parser.emplace();
      c->parser->body_limit(kMaxResponseBytes);
      c->lowest().expires_after(std::chrono::milliseconds(cfg_->timeout_ms));
      http::async_read(stream, c->buf, *c->parser, [this, c](beast::error_code ec, size_t) {
        c->req->body = std::move(c->http_req.body());
        if (ec) return OnTransportError(c, StrCat("read: ", ec.message()), ec == beast::error::timeout);
        auto& res = c->parser->get();
        const int status = static_cast<int>(res.result_int());
        const bool keep = res.keep_alive();
        std::string body = std::move(res.body());
        c->parser.reset();
        if (!keep) CloseConn(c);
        OnResponse(c, status, &body);
      });
    });
  });
}

void ElasticsearchSink::CloseConn(Conn* c) {
  beast::error_code ignored;
  if (c->plain) c->plain->socket().close(ignored);
  if (c->tls) beast::get_lowest_layer(*c->tls).socket().close(ignored);
  c->connected = false;
}

void ElasticsearchSink::OnTransportError(Conn* c, const std::string& what, bool timeout) {
  CloseConn(c);
  Host& h = hosts_[c->host];
  ++h.failures;
  h.down_until_ms = SteadyMs() + Backoff(h.failures);
  metrics_.Errors(timeout ? "timeout" : "connection")->Inc();
  StatusCounter(0)->Inc();
  warn_log_.Warn(cfg_->id, cfg_->hosts[c->host].url, ": ", what, "; retrying ", c->req->items.size(), " events");
  auto r = std::move(c->req);
  c->busy = false;
  const size_t previous = c->host;
  c->host = PickHost((previous + 1) % cfg_->hosts.size());  // fail over
  ScheduleRetry(std::move(r), timeout ? "timeout" : "connection");
  Dispatch();
}

void ElasticsearchSink::OnResponse(Conn* c, int status, std::string* body) {
  auto r = std::move(c->req);
  c->busy = false;
  latency_->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - c->started).count());
  StatusCounter(status)->Inc();
  Host& host = hosts_[c->host];
  host.failures = 0;
  host.down_until_ms = 0;

  if (status >= 200 && status < 300) {
    bool errors = false;
    absl::Status s = response_parser_.Parse(body, &errors, &item_results_);
    if (!s.ok()) {
      metrics_.Errors("bad_response")->Inc();
      warn_log_.Warn(cfg_->id, MessageOf(s.message()), ": ", Snippet(*body));
      ScheduleRetry(std::move(r), "bad_response");
      return Dispatch();
    }
    metrics_.sent_bytes->Inc(r->raw_bytes);
    if (!errors) {
      metrics_.sent_events->Inc(r->items.size());
      ResolveAll(r.get());
    } else {
      if (item_results_.size() != r->items.size()) {
        metrics_.Errors("item_count_mismatch")->Inc();
        warn_log_.Warn(cfg_->id, "bulk response has ", item_results_.size(), " items for ", r->items.size(),
                       " actions; retrying the unanswered ones");
      }
      std::vector<uint32_t> retry;
      uint64_t delivered = 0;
      for (uint32_t i = 0; i < r->items.size(); ++i) {
        const Item& it = r->items[i];
        if (i >= item_results_.size()) {
          retry.push_back(i);
          continue;
        }
        const BulkItemResult& res = item_results_[i];
        if (res.status >= 200 && res.status < 300) {
          ++delivered;
          Resolve(r.get(), it);
        } else if (res.status == 409) {
          // create of an _id that exists: delivered before (a retry or a replay).
          duplicates_->Inc();
          ++delivered;
          Resolve(r.get(), it);
        } else if (res.status == 429 || res.status >= 500 || res.status < 200) {
          metrics_.Errors(StrCat("item_", res.status))->Inc();
          retry.push_back(i);
        } else {
          metrics_.Errors(StrCat("item_", res.status))->Inc();
          std::string reason = StrCat("elasticsearch rejected the event: status ", res.status, " ", res.error);
          if (!DeadLetter(r.get(), it, reason)) retry.push_back(i);
        }
      }
      metrics_.sent_events->Inc(delivered);
      if (!retry.empty()) {
        auto sub = Subset(*r, retry);
        sub->attempt = r->attempt;
        ScheduleRetry(std::move(sub), "item");
      }
    }
    ReturnBody(std::move(r->body));
    return Dispatch();
  }
  if (status == 413 || status == 400) {
    SplitOrDeadLetter(std::move(r), status, *body);
    return Dispatch();
  }
  metrics_.Errors(StrCat("http_", status))->Inc();
  if (status == 401 || status == 403) {
    auth_log_.Warn(cfg_->id, "ERROR: ", cfg_->hosts[c->host].url, " answered HTTP ", status,
                   " (check username/password/api_key and the user's privileges); retrying, nothing is dropped: ",
                   Snippet(*body));
  } else {
    warn_log_.Warn(cfg_->id, cfg_->hosts[c->host].url, " answered HTTP ", status, "; retrying ", r->items.size(),
                   " events: ", Snippet(*body));
  }
  ScheduleRetry(std::move(r), "http");
  Dispatch();
}

// ---------------------------------------------------------------- delivery bookkeeping

void ElasticsearchSink::ReturnBody(std::string body) { io_->Give(std::move(body), cfg_->max_queue_bytes / 4); }

size_t ElasticsearchSink::pooled_body_bytes() const {
  std::lock_guard<std::mutex> lock(io_->pool_mu);
  return io_->pool_bytes;
}

void ElasticsearchSink::Resolve(BulkRequest* r, const Item& it) { Resolve(r, it.slot, 1); }

void ElasticsearchSink::ResolveAll(BulkRequest* r) {
  // Items of one batch lie in runs (Submit appends a batch's events together):
  // one atomic step per run, not per event.
  const std::vector<Item>& items = r->items;
  for (size_t i = 0; i < items.size();) {
    size_t j = i + 1;
    while (j < items.size() && items[j].slot == items[i].slot) ++j;
    Resolve(r, items[i].slot, static_cast<uint32_t>(j - i));
    i = j;
  }
}

void ElasticsearchSink::Resolve(BulkRequest* r, uint32_t slot, uint32_t events) {
  PendingBatch* pb = r->batches[slot].get();
  if (pb->remaining.fetch_sub(events, std::memory_order_acq_rel) != events) return;
  BatchPtr b = std::move(pb->batch);
  b->Release();
  b.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_bytes_ -= pb->bytes;
    --held_batches_;
  }
  space_cv_.notify_all();
  done_cv_.notify_all();
}

int64_t ElasticsearchSink::Backoff(int attempt) {
  double d = static_cast<double>(cfg_->retry_initial_interval_ms);
  for (int i = 1; i < attempt && d < static_cast<double>(cfg_->retry_max_interval_ms); ++i) d *= 2;
  d = std::min(d, static_cast<double>(cfg_->retry_max_interval_ms));
  // Full jitter on the upper half: spreads retries of many senders.
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return static_cast<int64_t>(d * jitter(rng_));
}

void ElasticsearchSink::ScheduleRetry(std::unique_ptr<BulkRequest> r, std::string_view reason) {
  ++r->attempt;
  r->not_before_ms = SteadyMs() + Backoff(r->attempt);
  metrics_.retried_events->Inc(r->items.size());
  std::lock_guard<std::mutex> lock(mu_);
  retry_.push_back(std::move(r));
}

std::unique_ptr<ElasticsearchSink::BulkRequest> ElasticsearchSink::Subset(const BulkRequest& r,
                                                                           const std::vector<uint32_t>& which) {
  auto out = std::make_unique<BulkRequest>();
  out->attempt = r.attempt;
  std::vector<int> remap(r.batches.size(), -1);
  for (uint32_t i : which) {
    const Item& it = r.items[i];
    if (remap[it.slot] < 0) {
      remap[it.slot] = static_cast<int>(out->batches.size());
      out->batches.push_back(r.batches[it.slot]);
    }
    const PendingBatch& pb = *r.batches[it.slot];
    // Re-encoded from the batch (deterministic): the sent body may be gzipped.
    const bool create = encoder_.Append(*pb.batch, it.event, &out->body);
    out->items.push_back(Item{static_cast<uint32_t>(remap[it.slot]), it.event, create});
  }
  Prepare(out.get());
  return out;
}

void ElasticsearchSink::SplitOrDeadLetter(std::unique_ptr<BulkRequest> r, int status, std::string_view detail) {
  metrics_.Errors(StrCat("http_", status))->Inc();
  const size_t n = r->items.size();
  if (n > 1) {
    // Beats' SplitRetry: halves until the request fits (413) or the bad event is alone (400).
    std::vector<uint32_t> first, second;
    for (uint32_t i = 0; i < n; ++i) (i < n / 2 ? first : second).push_back(i);
    std::vector<std::unique_ptr<BulkRequest>> halves;
    halves.push_back(Subset(*r, first));
    halves.push_back(Subset(*r, second));
    metrics_.retried_events->Inc(n);
    warn_log_.Warn(cfg_->id, "bulk request of ", n, " events (", r->raw_bytes, " bytes) answered HTTP ", status,
                   "; splitting it in two");
    std::vector<std::unique_ptr<BulkRequest>> front;
    front.push_back(std::move(halves[1]));
    front.push_back(std::move(halves[0]));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& h : front) ready_.push_front(std::move(h));  // first half ends up first
    }
    return;
  }
  std::string reason =
      status == 413
          ? StrCat("elasticsearch rejected the event with HTTP 413: alone it is still too large (", r->raw_bytes,
                   " bytes of bulk body; see http.max_content_length)")
          : StrCat("elasticsearch rejected a bulk request holding only this event with HTTP ", status, ": ",
                   Snippet(detail));
  if (!DeadLetter(r.get(), r->items[0], reason)) ScheduleRetry(std::move(r), "dlq");
}

bool ElasticsearchSink::DeadLetter(BulkRequest* r, const Item& it, std::string_view reason) {
  const PendingBatch& pb = *r->batches[it.slot];
  const Batch& b = *pb.batch;
  absl::Status s = dlq_ ? dlq_->Write(cfg_->id, reason, b.Raw(b.events()[it.event]), b.peer)
                        : absl::FailedPreconditionError("no dead-letter queue");
  if (!s.ok()) {
    metrics_.Errors("dlq_write_failed")->Inc();
    warn_log_.Warn(cfg_->id, "dead-letter write failed (", MessageOf(s.message()), "); the event is retried");
    return false;
  }
  metrics_.dead_lettered_events->Inc();
  Resolve(r, it);
  return true;
}

Counter* ElasticsearchSink::StatusCounter(int status) {
  auto it = status_counters_.find(status);
  if (it != status_counters_.end()) return it->second;
  Counter* c = metrics_.registry()->GetCounter(
      "sluice_elasticsearch_bulk_requests_total", "Bulk requests by HTTP status (\"error\": no answer).",
      {{"component", cfg_->id}, {"status", status == 0 ? std::string("error") : std::to_string(status)}});
  status_counters_.emplace(status, c);
  return c;
}

// ---------------------------------------------------------------- shutdown

void ElasticsearchSink::Stop(int64_t deadline_ms) {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  space_cv_.notify_all();
  if (!started_) return;
  std::vector<std::unique_ptr<BulkRequest>> sealed;
  {
    std::lock_guard<std::mutex> lock(enc_mu_);
    SealLocked(&sealed);
  }
  for (auto& r : sealed) Prepare(r.get());
  Enqueue(std::move(sealed));
  size_t left;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (held_batches_ > 0) {
      int64_t remaining = deadline_ms - NowMs();
      if (remaining <= 0) break;
      done_cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(remaining, 100)));
    }
    left = held_batches_;
  }
  if (left > 0) {
    SLUICE_LOG_WARN(cfg_->id, left, " batches were not delivered before the shutdown deadline; they stay un-ACKed ",
                    "(the senders will resend them)");
  }
  io_->io.stop();
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------- registration

namespace {
std::unique_ptr<Sink> MakeElasticsearchSink(ConfigMap& cfg, ComponentContext& ctx) {
  auto c = ParseEsSinkConfig(cfg, ctx);
  if (!c) return nullptr;
  return std::make_unique<ElasticsearchSink>(std::move(c), ctx);
}
}  // namespace

SLUICE_REGISTER_SINK("elasticsearch", MakeElasticsearchSink);

}  // namespace sluice
