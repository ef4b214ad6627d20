#include "ingest/beats/beats_input.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "absl/status/statusor.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "ingest/beats/frame_decoder.h"

namespace sluice::beats {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;
using ErrorCode = boost::system::error_code;

// Up to 256 KiB per read: a Filebeat window of 2048 typical events is about
// 1.1 MB, so a window costs a few reads (and epoll wake-ups) instead of ~17
// at 64 KiB; the buffer still fits the core's L2 cache while the decoder
// copies the events out of it.
constexpr size_t kReadBytes = 256 << 10;

// Callbacks from pipeline threads (batch safe, queue has space) can outlive the
// input. They post to a connection's strand only while the gate is open; Stop()
// closes it before destroying the io_context, so nothing posts to a dead one.
struct Gate {
  std::mutex mu;
  bool stopped = false;
};

absl::StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsOptions& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  ErrorCode ec;
  ctx->use_certificate_chain_file(o.certificate, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("certificate \"", o.certificate, "\": ", ec.message()));
  ctx->use_private_key_file(o.key, ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("key \"", o.key, "\": ", ec.message()));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return absl::InvalidArgumentError(StrCat("key \"", o.key, "\" does not match certificate \"", o.certificate, "\""));
  }
  if (!o.client_ca.empty()) {
    ctx->load_verify_file(o.client_ca, ec);
    if (ec) return absl::InvalidArgumentError(StrCat("client_ca \"", o.client_ca, "\": ", ec.message()));
    // Tell clients which CAs we accept (they pick a certificate by it).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    }
  }
  switch (o.client_auth) {
    case ClientAuth::kNone: ctx->set_verify_mode(ssl::verify_none); break;
    case ClientAuth::kOptional: ctx->set_verify_mode(ssl::verify_peer); break;
    case ClientAuth::kRequired:
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      break;
  }
  return ctx;
}

void PutAck(char version, uint32_t seq, std::string* out) {
  char f[6] = {version, 'A', static_cast<char>(seq >> 24), static_cast<char>(seq >> 16), static_cast<char>(seq >> 8),
               static_cast<char>(seq)};
  out->append(f, sizeof f);
}

class Connection;

// Counts down to zero, then wakes Wait (Stop's wait for the connections'
// last ACK writes).
class Countdown {
 public:
  explicit Countdown(size_t n) : n_(n) {}
  void Done() {
    std::lock_guard<std::mutex> l(mu_);
    if (n_ > 0 && --n_ == 0) cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t n_;
};

}  // namespace

struct BeatsInput::Impl {
  Impl(BeatsInputConfig c, MetricsRegistry* m, std::shared_ptr<ssl::context> t)
      : cfg(std::move(c)),
        tls(std::move(t)),
        metrics(m, "beats", cfg.id),
        open_gauge(m->GetGauge("sluice_open_connections", "Open client connections.", {{"component", cfg.id}})),
        ack_latency(m->GetHistogram("sluice_beats_ack_latency_seconds",
                                    "Time from a window's last byte read to its ACK written.",
                                    {{"component", cfg.id}}, LatencyBuckets())),
        heartbeats(m->GetCounter("sluice_beats_heartbeats_total", "ACK 0 heartbeats sent while windows wait.",
                                 {{"component", cfg.id}})) {}

  void Accept();
  void OnAccept(const ErrorCode& ec, tcp::socket socket, Strand strand);
  void ConnectionClosed() {
    open.fetch_sub(1, std::memory_order_relaxed);
    open_gauge->Add(-1);
  }

  const BeatsInputConfig cfg;
  const std::shared_ptr<ssl::context> tls;
  ComponentMetrics metrics;
  Gauge* open_gauge;
  Histogram* ack_latency;
  Counter* heartbeats;
  RateLimitedLog log;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::atomic<int> open{0};
  // Shutdown (StopAccepting): open connections read no more.
  std::atomic<bool> draining{false};
  // Windows decoded and not yet taken by the receiver (held_batches()).
  std::atomic<int64_t> unpushed{0};
  // The connections, for Stop to let each write its last ACKs.
  std::mutex connections_mu;
  std::vector<std::weak_ptr<Connection>> connections;
  BatchReceiver* receiver = nullptr;

  std::unique_ptr<asio::io_context> io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<Strand> accept_strand;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;
  std::string bound;
  bool accepting = false;
};

namespace {

// One client connection. Everything but the constructor runs on `strand_`.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(BeatsInput::Impl* in, tcp::socket socket, Strand strand)
      : in_(in),
        strand_(std::move(strand)),
        socket_(std::move(socket)),
        timer_(strand_),
        decoder_(in->cfg.limits),
        buf_(new char[kReadBytes]) {
    ErrorCode ec;
    auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? "unknown" : StrCat(ep.address().to_string(), ":", ep.port());
    socket_.set_option(tcp::no_delay(true), ec);  // ACKs are tiny and latency-bound
    if (in_->tls) tls_ = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket_), *in_->tls);
  }

  ~Connection() {
    if (!closed_) in_->ConnectionClosed();
  }

  void Start() {
    last_read_ = last_write_ = Clock::now();
    if (tls_) {
      handshake_deadline_ = Clock::now() + std::chrono::milliseconds(in_->cfg.tls->handshake_timeout_ms);
      tls_->async_handshake(ssl::stream_base::server,
                            asio::bind_executor(strand_, [self = shared_from_this()](const ErrorCode& ec) {
                              self->OnHandshake(ec);
                            }));
    } else {
      handshaken_ = true;
      StartRead();
    }
    ArmTimer();
  }

  const Strand& strand() const { return strand_; }
  // Shutdown, after the outputs stopped: writes the ACKs of the windows that
  // became safe (their OnWindowSafe handlers were posted to this strand
  // before this one), then counts `done` down. Nothing is read any more.
  void FinishWrites(std::shared_ptr<Countdown> done) {
    if (closed_ || (!writing_ && out_pending_.empty())) {
      done->Done();
      return;
    }
    finish_ = std::move(done);
    Flush();
  }

 private:
  // A window read from the stream, from decoding until its ACK is written.
  struct Window {
    uint64_t id = 0;
    BatchPtr batch;  // until the pipeline takes it
    uint32_t ack_seq = 0;
    char version = '2';
    bool pushed = false;
    bool safe = false;
    Clock::time_point complete_time;
  };

  tcp::socket::lowest_layer_type& Lowest() { return tls_ ? tls_->lowest_layer() : socket_; }

  void OnHandshake(const ErrorCode& ec) {
    if (closed_) return;
    if (ec) {
      in_->metrics.Errors("tls_handshake")->Inc();
      in_->log.Warn(in_->cfg.id, "TLS handshake with ", peer_, " failed: ", ec.message());
      Close();
      return;
    }
    handshaken_ = true;
    last_read_ = Clock::now();
    StartRead();
    ArmTimer();
  }

  void StartRead() {
    if (reading_ || closed_ || blocked_ || eof_ || !handshaken_ || in_->draining.load(std::memory_order_acquire)) {
      return;
    }
    reading_ = true;
    auto h = asio::bind_executor(strand_, [self = shared_from_this()](const ErrorCode& ec, size_t n) {
      self->OnRead(ec, n);
    });
    if (tls_) {
      tls_->async_read_some(asio::buffer(buf_.get(), kReadBytes), std::move(h));
    } else {
      socket_.async_read_some(asio::buffer(buf_.get(), kReadBytes), std::move(h));
    }
  }

  void OnRead(const ErrorCode& ec, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        // The client is done sending. Windows it already sent still get their
        // ACKs (it may still read); close once they are written.
        eof_ = true;
        if (windows_.empty() && !writing_) Close();
        return;
      }
      if (ec != asio::error::operation_aborted) {
        SLUICE_LOG_DEBUG(in_->cfg.id, "read from ", peer_, " failed: ", ec.message());
      }
      Close();
      return;
    }
    if (in_->draining.load(std::memory_order_acquire)) {
      // Shutting down: these bytes are neither decoded nor ACKed (the client
      // sends them again after the restart), and nothing more is read. The
      // windows decoded before still get their ACKs.
      return;
    }
    last_read_ = Clock::now();
    in_->metrics.received_bytes->Inc(n);
    decoded_.clear();
    const uint64_t incomplete_before = decoder_.incomplete_windows();
    absl::Status s = decoder_.Feed(std::string_view(buf_.get(), n), &decoded_);
    if (!s.ok()) {
      // No error frame in the protocol: close. Windows decoded from this chunk
      // are dropped unACKed; the client sends them again on a new connection.
      in_->metrics.Errors(decoder_.error_reason())->Inc();
      in_->log.Warn(in_->cfg.id, "closing connection from ", peer_, ": ", MessageOf(s.message()));
      Close();
      return;
    }
    if (uint64_t cut = decoder_.incomplete_windows() - incomplete_before) {
      in_->metrics.Errors("incomplete_window")->Inc(cut);
      in_->log.Warn(in_->cfg.id, "client ", peer_,
                    " started a new window before sending all events of the previous one; ACKing what arrived");
    }
    const bool was_idle = windows_.empty();
    const int64_t now_ms = NowMs();
    for (DecodedWindow& d : decoded_) {
      Window w;
      w.id = next_id_++;
      w.batch = std::move(d.batch);
      w.ack_seq = d.ack_seq;
      w.version = d.version;
      w.complete_time = last_read_;
      w.batch->source = in_->cfg.id;
      w.batch->peer = peer_;
      w.batch->received_ms = now_ms;
      in_->metrics.received_events->Inc(w.batch->size());
      windows_.push_back(std::move(w));
      in_->unpushed.fetch_add(1, std::memory_order_relaxed);
    }
    decoded_.clear();
    PushWindows();
    MaybeAck();
    if (was_idle && !windows_.empty()) ArmTimer();  // from the idle deadline to the heartbeat one
    StartRead();
  }

  // Hands decoded windows to the pipeline, in order, until it refuses one.
  void PushWindows() {
    if (blocked_ || closed_) return;
    for (Window& w : windows_) {
      if (w.pushed) continue;
      if (w.batch->size() == 0) {
        // W 0: nothing to deliver; ACK 0 in its turn, like logstash-input-beats.
        w.pushed = w.safe = true;
        w.batch.reset();
        in_->unpushed.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      w.batch->SetOnSafe(OnSafeCallback(w.id));
      // Parsed here, on the thread that just wrote the window's bytes.
      in_->receiver->Prepare(w.batch.get());
      const size_t events = w.batch->size();
      const size_t bytes = w.batch->arena().size();
      if (!in_->receiver->TryPush(w.batch, OnSpaceCallback())) {
        // Backpressure: stop reading until the queue has room; heartbeats go on.
        blocked_ = true;
        return;
      }
      in_->metrics.sent_events->Inc(events);
      in_->metrics.sent_bytes->Inc(bytes);
      w.pushed = true;
      w.batch.reset();
      in_->unpushed.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  std::function<void()> OnSafeCallback(uint64_t id) {
    return [gate = in_->gate, weak = weak_from_this(), id] {
      std::lock_guard<std::mutex> lock(gate->mu);
      if (gate->stopped) return;
      if (auto c = weak.lock()) {
        asio::post(c->strand_, [c, id] { c->OnWindowSafe(id); });
      }
    };
  }

  std::function<void()> OnSpaceCallback() {
    return [gate = in_->gate, weak = weak_from_this()] {
      std::lock_guard<std::mutex> lock(gate->mu);
      if (gate->stopped) return;
      if (auto c = weak.lock()) {
        asio::post(c->strand_, [c] {
          c->blocked_ = false;
          c->PushWindows();
          c->MaybeAck();
          c->StartRead();
        });
      }
    };
  }

  void OnWindowSafe(uint64_t id) {
    if (closed_ || windows_.empty() || id < windows_.front().id) return;
    size_t i = static_cast<size_t>(id - windows_.front().id);
    if (i >= windows_.size()) return;
    windows_[i].safe = true;
    MaybeAck();
  }

  // ACKs the finished windows at the front: strictly in window order, because
  // the client matches ACKs to its outstanding windows first in, first out.
  void MaybeAck() {
    bool acked = false;
    while (!windows_.empty() && windows_.front().safe) {
      const Window& w = windows_.front();
      PutAck(w.version, w.ack_seq, &out_pending_);
      pending_ack_times_.push_back(w.complete_time);
      windows_.pop_front();
      acked = true;
    }
    if (!acked) return;
    Flush();
    if (windows_.empty()) ArmTimer();  // back to the idle deadline
  }

  void Flush() {
    if (writing_ || closed_ || out_pending_.empty()) return;
    writing_ = true;
    out_inflight_.swap(out_pending_);
    out_pending_.clear();
    inflight_ack_times_.swap(pending_ack_times_);
    pending_ack_times_.clear();
    last_write_ = Clock::now();
    auto h = asio::bind_executor(strand_, [self = shared_from_this()](const ErrorCode& ec, size_t) {
      self->OnWrite(ec);
    });
    if (tls_) {
      asio::async_write(*tls_, asio::buffer(out_inflight_), std::move(h));
    } else {
      asio::async_write(socket_, asio::buffer(out_inflight_), std::move(h));
    }
  }

  void OnWrite(const ErrorCode& ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
      SLUICE_LOG_DEBUG(in_->cfg.id, "write to ", peer_, " failed: ", ec.message());
      Close();
      return;
    }
    const auto now = Clock::now();
    for (auto t : inflight_ack_times_) {
      in_->ack_latency->Observe(std::chrono::duration<double>(now - t).count());
    }
    inflight_ack_times_.clear();
    Flush();
    if (eof_ && windows_.empty() && !writing_) Close();
    if (!writing_) FinishedWriting();
  }

  // One timer per connection. Its deadline depends on the state: the TLS
  // handshake deadline, else the next heartbeat while windows wait, else the
  // idle timeout.
  Clock::time_point Deadline() const {
    if (!handshaken_) return handshake_deadline_;
    if (!windows_.empty()) return last_write_ + std::chrono::milliseconds(in_->cfg.keepalive_interval_ms);
    if (in_->cfg.idle_timeout_ms > 0) return last_read_ + std::chrono::milliseconds(in_->cfg.idle_timeout_ms);
    return Clock::time_point::max();
  }

  void ArmTimer() {
    if (closed_) return;
    const Clock::time_point deadline = Deadline();
    if (timer_waiting_ && deadline == timer_deadline_) return;
    timer_deadline_ = deadline;
    timer_waiting_ = true;
    const uint64_t gen = ++timer_gen_;
    timer_.expires_at(deadline);  // cancels the previous wait; its handler sees a stale generation
    timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this(), gen](const ErrorCode&) {
      if (gen != self->timer_gen_) return;
      self->timer_waiting_ = false;
      self->OnTimer();
    }));
  }

  void OnTimer() {
    if (closed_) return;
    const auto now = Clock::now();
    if (!handshaken_) {
      if (now >= handshake_deadline_) {
        in_->metrics.Errors("tls_handshake_timeout")->Inc();
        in_->log.Warn(in_->cfg.id, "TLS handshake with ", peer_, " timed out");
        Close();
        return;
      }
    } else if (!windows_.empty()) {
      if (now >= last_write_ + std::chrono::milliseconds(in_->cfg.keepalive_interval_ms)) SendHeartbeat();
    } else if (in_->cfg.idle_timeout_ms > 0 &&
               now >= last_read_ + std::chrono::milliseconds(in_->cfg.idle_timeout_ms)) {
      SLUICE_LOG_DEBUG(in_->cfg.id, "closing idle connection from ", peer_);
      Close();
      return;
    }
    ArmTimer();
  }

  // `ACK 0`: "still working" for go-lumber clients (any value below N is), and
  // it re-arms their read deadline. v1 has no heartbeat.
  void SendHeartbeat() {
    last_write_ = Clock::now();
    if (writing_ || windows_.front().version != '2') return;
    PutAck('2', 0, &out_pending_);
    in_->heartbeats->Inc();
    Flush();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    ErrorCode ec;
    Lowest().close(ec);
    // Windows not ACKed yet are simply never ACKed: the client resends them.
    for (Window& w : windows_) {
      if (!w.pushed) in_->unpushed.fetch_sub(1, std::memory_order_relaxed);
      w.batch.reset();
    }
    windows_.clear();
    in_->ConnectionClosed();
    FinishedWriting();
  }

  void FinishedWriting() {
    if (auto f = std::move(finish_)) f->Done();
    finish_.reset();
  }

  BeatsInput::Impl* const in_;
  Strand strand_;
  tcp::socket socket_;                                // plain connections
  std::unique_ptr<ssl::stream<tcp::socket>> tls_;     // TLS connections (owns the socket)
  asio::steady_timer timer_;
  FrameDecoder decoder_;
  std::unique_ptr<char[]> buf_;
  std::string peer_;

  std::vector<DecodedWindow> decoded_;
  std::deque<Window> windows_;  // decoded, not yet ACKed, in order
  uint64_t next_id_ = 0;

  std::string out_pending_, out_inflight_;
  std::vector<Clock::time_point> pending_ack_times_, inflight_ack_times_;

  Clock::time_point last_read_, last_write_, handshake_deadline_, timer_deadline_;
  uint64_t timer_gen_ = 0;
  bool timer_waiting_ = false;
  bool handshaken_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool blocked_ = false;  // the pipeline refused a batch; waiting for on_space
  bool eof_ = false;
  bool closed_ = false;
  std::shared_ptr<Countdown> finish_;  // FinishWrites' countdown, once its writes are done
};

}  // namespace

void BeatsInput::Impl::Accept() {
  Strand strand = asio::make_strand(*io);
  acceptor->async_accept(strand, asio::bind_executor(*accept_strand, [this, strand](const ErrorCode& ec,
                                                                                     tcp::socket socket) mutable {
                           OnAccept(ec, std::move(socket), std::move(strand));
                         }));
}

void BeatsInput::Impl::OnAccept(const ErrorCode& ec, tcp::socket socket, Strand strand) {
  if (!accepting || !acceptor->is_open()) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // Typically out of file descriptors: back off instead of spinning.
    metrics.Errors("accept")->Inc();
    log.Warn(cfg.id, "accept on ", bound, " failed: ", ec.message());
    accept_retry->expires_after(std::chrono::milliseconds(100));
    accept_retry->async_wait(asio::bind_executor(*accept_strand, [this](const ErrorCode& e) {
      if (!e && accepting) Accept();
    }));
    return;
  }
  if (open.load(std::memory_order_relaxed) >= cfg.max_connections) {
    metrics.Errors("connection_limit")->Inc();
    ErrorCode e;
    auto ep = socket.remote_endpoint(e);
    log.Warn(cfg.id, "refusing connection from ", e ? std::string("unknown") : ep.address().to_string(), ": ",
             cfg.max_connections, " connections open (max_connections)");
    socket.close(e);
  } else {
    open.fetch_add(1, std::memory_order_relaxed);
    open_gauge->Add(1);
    auto c = std::make_shared<Connection>(this, std::move(socket), strand);
    {
      std::lock_guard<std::mutex> l(connections_mu);
      std::erase_if(connections, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
      connections.push_back(c);
    }
    asio::dispatch(strand, [c] { c->Start(); });
  }
  Accept();
}

BeatsInput::BeatsInput(BeatsInputConfig cfg, MetricsRegistry* metrics, std::shared_ptr<void> tls_context)
    : impl_(std::make_unique<Impl>(std::move(cfg), metrics, std::static_pointer_cast<ssl::context>(tls_context))) {}

BeatsInput::~BeatsInput() { Stop(); }

std::string_view BeatsInput::name() const { return impl_->cfg.id; }

std::string BeatsInput::bound_address() const { return impl_->bound; }

absl::Status BeatsInput::Start(BatchReceiver* receiver) {
  Impl& m = *impl_;
  m.receiver = receiver;
  m.io = std::make_unique<asio::io_context>(m.cfg.threads);
  m.accept_strand.emplace(asio::make_strand(*m.io));
  m.acceptor = std::make_unique<tcp::acceptor>(*m.io);
  m.accept_retry = std::make_unique<asio::steady_timer>(*m.accept_strand);
  ErrorCode ec;
  auto addr = asio::ip::make_address(m.cfg.host, ec);
  if (ec) return absl::InvalidArgumentError(StrCat(m.cfg.id, ": bad listen address \"", m.cfg.host, "\""));
  tcp::endpoint ep(addr, m.cfg.port);
  m.acceptor->open(ep.protocol(), ec);
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(StrCat(m.cfg.id, ": cannot listen on ", m.cfg.listen, ": ", ec.message()));
  auto local = m.acceptor->local_endpoint(ec);
  m.bound = StrCat(local.address().to_string(), ":", local.port());
  m.accepting = true;
  m.Accept();
  m.work.emplace(m.io->get_executor());
  for (int i = 0; i < m.cfg.threads; ++i) {
    m.threads.emplace_back([io = m.io.get()] {
      AdviseThreadHeapForHugePages();  // the windows' arenas are allocated here (pipeline/batch.h)
      io->run();
    });
  }
  return absl::OkStatus();
}

void BeatsInput::StopAccepting() {
  Impl& m = *impl_;
  m.draining.store(true, std::memory_order_release);
  if (!m.acceptor || !m.accepting) return;
  std::promise<void> done;
  asio::post(*m.accept_strand, [&m, &done] {
    m.accepting = false;
    ErrorCode ec;
    m.acceptor->close(ec);
    m.accept_retry->cancel();
    done.set_value();
  });
  if (!m.threads.empty()) done.get_future().wait();
}

size_t BeatsInput::held_batches() const {
  return static_cast<size_t>(std::max<int64_t>(0, impl_->unpushed.load(std::memory_order_relaxed)));
}

void BeatsInput::Stop() {
  Impl& m = *impl_;
  if (!m.io) return;
  StopAccepting();
  // The ACKs of the windows the outputs delivered are written before the
  // connections close (as Logstash's beats input drains): a window whose
  // events the detectors counted and the output stored, left unACKed, would
  // come again after a restart and be counted twice. Bounded: a client that
  // reads nothing does not hold the shutdown.
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> l(m.connections_mu);
    for (auto& w : m.connections) {
      if (auto c = w.lock()) open.push_back(std::move(c));
    }
  }
  if (!open.empty() && !m.threads.empty()) {
    auto done = std::make_shared<Countdown>(open.size());
    for (auto& c : open) asio::post(c->strand(), [c, done] { c->FinishWrites(done); });
    done->Wait(std::chrono::seconds(2));
  }
  open.clear();
  {
    std::lock_guard<std::mutex> lock(m.gate->mu);
    m.gate->stopped = true;
  }
  m.work.reset();
  m.io->stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  // Destroying the io_context destroys the pending handlers, which own the
  // connections: their sockets close here. Their windows are never ACKed.
  m.accept_retry.reset();
  m.acceptor.reset();
  m.accept_strand.reset();
  m.io.reset();
}

namespace {

std::unique_ptr<Input> MakeBeatsInput(ConfigMap& cfg, ComponentContext& ctx) {
  std::optional<BeatsInputConfig> c = ReadBeatsInputConfig(cfg);
  if (!c) return nullptr;
  std::shared_ptr<ssl::context> tls;
  if (c->tls) {
    // Loading the certificate and key here reports a bad PEM or a mismatched
    // key at `sluice check` time, with the line of `tls:`.
    absl::StatusOr<std::shared_ptr<ssl::context>> t = MakeTlsContext(*c->tls);
    if (!t.ok()) {
      cfg.Error("tls", MessageOf(t.status().message()));
      return nullptr;
    }
    tls = *std::move(t);
  }
  return std::make_unique<BeatsInput>(std::move(*c), ctx.metrics, std::move(tls));
}

}  // namespace

SLUICE_REGISTER_INPUT("beats", MakeBeatsInput);

}  // namespace sluice::beats
