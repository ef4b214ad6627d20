#include "ingest/syslog/syslog_input.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "ingest/syslog/ecs_writer.h"
#include "ingest/syslog/framing.h"
#include "ingest/syslog/syslog_parser.h"

namespace sluice::syslog {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// One read becomes one batch, cut at this size so that a connection sending
// tiny lines cannot make one batch (and the memory it holds while the pipeline
// is full) grow without bound.
constexpr size_t kBatchBytes = 1 << 20;
// A connection's first reads ask for 64 KiB; once a read fills what it asked
// for (a busy sender), 256 KiB: each read costs an epoll wait, a receive and an
// ioctl, and at 64 KiB (~260 messages) that overhead was paid ~4,000 times per
// million messages (bench/RESULTS.md, issue 3). Idle or slow connections keep
// the small buffer.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kBusyReadChunk = 256 * 1024;
// While more bytes wait in the socket, a batch gathers the ECS documents of
// several reads up to this size before it goes to the pipeline: every batch
// costs a queue hand-off, a worker wake-up and the sinks' bookkeeping, which
// at one 64 KiB read (~260 messages) per batch was a visible share of the
// syslog → Elasticsearch CPU (bench/RESULTS.md, issue 3).
constexpr size_t kGatherBytes = 256 * 1024;
// A gathering batch reserves this once and, past kGatherBytes, is cut when
// less than kDocumentRoom is left in it rather than grown: reads of 256 KiB
// (~575 KiB of documents) are spread over batches that fill what they reserved
// (the pipeline queue counts reserved bytes; a batch that fills half of a
// large reserve doubles the heap its backlog spans). The document of a
// ~250-byte line is ~550 bytes; a larger one than the room grows the arena.
constexpr size_t kGatherReserve = kGatherBytes + kGatherBytes / 4;
constexpr size_t kDocumentRoom = 8 * 1024;
// Events reserved per byte of arena reserved: the documents of the benchmark's
// ~245-byte lines average ~550 bytes; a batch of much shorter lines grows its
// event list once or twice.
constexpr size_t kReserveBytesPerEvent = 512;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IpString(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

}  // namespace

// Counters of one syslog input (the telemetry contract plus its own reasons).
struct SyslogCounters {
  SyslogCounters(MetricsRegistry* r, const std::string& id)
      : m(r, "syslog", id),
        parse_failures(m.Errors("parse_failure")),
        truncated(m.Errors("message_truncated")),
        too_many_connections(m.Errors("too_many_connections")),
        idle_closed(m.Errors("idle_timeout")),
        tls_failed(m.Errors("tls_handshake")),
        read_failed(m.Errors("read_failed")),
        udp_overflow(m.Discarded("udp_overflow")),
        connections(r->GetGauge("sluice_input_connections", "Open connections of an input.", {{"component", id}})) {}
  ComponentMetrics m;
  Counter* parse_failures;
  Counter* truncated;
  Counter* too_many_connections;
  Counter* idle_closed;
  Counter* tls_failed;
  Counter* read_failed;
  Counter* udp_overflow;
  Gauge* connections;
};

namespace {

// Parses one frame and appends its ECS event to the batch arena in place.
void AppendFrame(Batch* b, std::string_view frame, bool truncated, std::string_view ip, int64_t now_us,
                 const Rfc3164Clock& clock, bool keep_original, SyslogCounters* c) {
  SyslogMessage m;
  if (!ParseSyslog(frame, clock, &m)) c->parse_failures->Inc();
  if (truncated) c->truncated->Inc();
  EcsFrame f;
  f.raw = StripTrailer(frame);
  f.source_ip = ip;
  f.received_us = now_us;
  f.truncated = truncated;
  std::string& arena = b->arena();
  Event e;
  e.offset = static_cast<uint32_t>(arena.size());
  AppendEcsEvent(m, f, keep_original, &arena);
  e.length = static_cast<uint32_t>(arena.size() - e.offset);
  e.timestamp_ms = (m.has_timestamp ? m.timestamp_us : now_us) / 1000;
  e.flags |= kEventHasTimestamp;
  b->events().push_back(e);
}

// What on_space callbacks (run on pipeline threads) reach: nulled by Stop so a
// late callback does nothing.
struct Waker {
  std::mutex mu;
  asio::io_context* io = nullptr;
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Close() = 0;
  // Shutdown: the pending read ends (as an idle timeout ends it), what is
  // buffered is delivered, and the session closes without reading again.
  virtual void StopReading() = 0;
};

}  // namespace

class SyslogInput::Impl {
 public:
  Impl(std::shared_ptr<const SyslogInputConfig> cfg, MetricsRegistry* metrics)
      : cfg_(std::move(cfg)), counters_(metrics, cfg_->id) {}
  ~Impl() { Stop(); }

  absl::Status Start(BatchReceiver* receiver);
  void StopAccepting();
  size_t held_batches() const;
  void Stop();
  // StopAccepting was called: sessions deliver what they read and close.
  bool draining() const { return draining_.load(std::memory_order_acquire); }

  const SyslogInputConfig& cfg() const { return *cfg_; }
  SyslogCounters* counters() { return &counters_; }
  BatchReceiver* receiver() { return receiver_; }
  asio::io_context& io() { return io_; }
  std::shared_ptr<Waker> waker() { return waker_; }
  void Forget(SessionBase* s) {
    if (sessions_.erase(s)) open_sessions_.fetch_sub(1, std::memory_order_acq_rel);
  }
  std::string bound_address;

 private:
  absl::Status StartTcp();
  absl::Status StartUdp();
  void Accept();
  void UdpLoop();
  bool UdpPush(BatchPtr& batch);
  void CountUdpDrops();

  std::shared_ptr<const SyslogInputConfig> cfg_;
  SyslogCounters counters_;
  BatchReceiver* receiver_ = nullptr;
  RateLimitedLog warn_;
  bool stopped_ = false;
  std::atomic<bool> draining_{false};
  std::atomic<size_t> open_sessions_{0};  // sessions_.size(), readable from other threads
  std::atomic<bool> udp_running_{false};  // UdpLoop has not returned

  // TCP / TLS
  std::unique_ptr<asio::ssl::context> tls_;
  // Sessions by address: owned here, touched only on the io thread.
  std::unordered_map<SessionBase*, std::shared_ptr<SessionBase>> sessions_;
  std::shared_ptr<Waker> waker_ = std::make_shared<Waker>();
  std::thread io_thread_;

  // UDP
  int udp_fd_ = -1;
  int stop_fd_ = -1;
  std::thread udp_thread_;
  std::atomic<bool> udp_stop_{false};
  std::mutex udp_mu_;
  std::condition_variable udp_cv_;
  bool udp_space_ = false;
  uint32_t udp_drops_ = 0;  // kernel drop counter last seen

  // Declared last: destroyed first, with the handlers that hold sessions.
  asio::io_context io_{1};
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> accept_retry_;

  template <class Stream>
  friend class Session;
};

// One TCP or TLS connection. Runs only on the io thread.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(SyslogInput::Impl* in, Stream stream, std::string ip, std::string peer)
      : in_(in),
        stream_(std::move(stream)),
        timer_(in->io()),
        ip_(std::move(ip)),
        peer_(std::move(peer)),
        splitter_(in->cfg().max_message_bytes),
        clock_(in->cfg().tz),
        max_cap_(splitter_.max_pending() + kBusyReadChunk),
        connections_(in->counters()->connections) {
    connections_->Add(1);
  }
  ~Session() override { connections_->Add(-1); }

  void Start() {
    ArmTimer();
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      Read();
    } else {
      auto self = this->shared_from_this();
      stream_.async_handshake(asio::ssl::stream_base::server, [self](const error_code& ec) {
        if (ec) {
          if (!self->closed_ && !self->in_->draining()) {  // not the shutdown's cancel
            self->in_->counters()->tls_failed->Inc();
            self->in_warn().Warn(self->in_->cfg().id, "TLS handshake with ", self->peer_, " failed: ", ec.message());
          }
          self->Close();
          return;
        }
        self->Read();
      });
    }
  }

  void StopReading() override {
    if (closed_ || paused_) return;  // a paused session finishes in Process once resumed
    error_code ec;
    stream_.lowest_layer().cancel(ec);
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    auto self = this->shared_from_this();  // Forget may drop the last other reference
    timer_.cancel();
    error_code ec;
    stream_.lowest_layer().close(ec);
    in_->Forget(this);
  }

 private:
  RateLimitedLog& in_warn() {
    static RateLimitedLog log;
    return log;
  }

  void ArmTimer() {
    if (in_->cfg().idle_timeout_ms <= 0 || closed_) return;
    timer_.expires_after(std::chrono::milliseconds(in_->cfg().idle_timeout_ms));
    auto weak = this->weak_from_this();
    timer_.async_wait([weak](const error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_ || self->paused_) return;
      if (self->timer_.expiry() > std::chrono::steady_clock::now()) return;  // re-armed meanwhile
      self->in_->counters()->idle_closed->Inc();
      // Cancelling the read ends the stream through OnRead, which delivers
      // what is buffered before closing.
      error_code cec;
      self->stream_.lowest_layer().cancel(cec);
    });
  }

  void Read() {
    if (closed_) return;
    if (!buf_) {
      cap_ = chunk_;
      buf_.reset(new char[cap_]);
    }
    // Room for a full read chunk, growing up to what a maximal frame needs.
    if ((cap_ - end_ < chunk_ / 4 || cap_ < chunk_) && cap_ < max_cap_) {
      size_t ncap = std::min(max_cap_, std::max(cap_ * 2, chunk_));
      std::unique_ptr<char[]> nb(new char[ncap]);
      std::memcpy(nb.get(), buf_.get(), end_);
      buf_ = std::move(nb);
      cap_ = ncap;
    }
    auto self = this->shared_from_this();
    asked_ = std::min(chunk_, cap_ - end_);
    stream_.async_read_some(asio::buffer(buf_.get() + end_, asked_),
                            [self](const error_code& ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      if (ec != asio::error::eof && ec != asio::error::operation_aborted && ec != asio::ssl::error::stream_truncated &&
          ec != asio::error::connection_reset) {
        in_->counters()->read_failed->Inc();
        in_warn().Warn(in_->cfg().id, "read from ", peer_, " failed: ", ec.message());
      }
      eof_ = true;
    } else {
      end_ += n;
      full_read_ = n == asked_;
      if (full_read_) chunk_ = kBusyReadChunk;
      in_->counters()->m.received_bytes->Inc(n);
      ArmTimer();
    }
    Process();
  }

  // Frames what is buffered into the batch, hands batches to the pipeline,
  // then reads again (or closes at end of stream). Stops, keeping its place,
  // when the pipeline refuses a batch; Resume continues.
  void Process() {
    // Shutting down: what is buffered is the end of the stream (a frame cut
    // short is delivered as at any end of stream), then the session closes.
    if (in_->draining()) eof_ = true;
    for (;;) {
      if (BatchFull() && !Push()) return;
      if (begin_ == end_ && !eof_) break;
      const int64_t now_us = NowUs();
      clock_.SetNow(now_us);
      auto on_frame = [&](std::string_view frame, bool truncated) {
        if (!batch_) NewBatch(now_us);
        AppendFrame(batch_.get(), frame, truncated, ip_, now_us, clock_, in_->cfg().keep_original, in_->counters());
        return !BatchFull();
      };
      begin_ += splitter_.Split(std::string_view(buf_.get() + begin_, end_ - begin_), on_frame);
      if (BatchFull()) continue;
      if (eof_) {
        splitter_.Finish(std::string_view(buf_.get() + begin_, end_ - begin_), on_frame);
        begin_ = end_;
        if (!Push()) return;
        Close();
        return;
      }
      break;
    }
    if (batch_ && batch_->arena().size() < kGatherBytes && BytesWaiting()) {
      if (batch_->arena().capacity() < kGatherReserve) batch_->arena().reserve(kGatherReserve);
    } else if (!Push()) {
      return;
    }
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    Read();
  }

  bool BatchFull() const {
    if (!batch_) return false;
    const std::string& a = batch_->arena();
    return a.size() >= kBatchBytes || (a.size() >= kGatherBytes && a.capacity() - a.size() < kDocumentRoom);
  }

  // More bytes already wait in the socket (not counting TLS's own buffer):
  // the next read completes at once.
  bool BytesWaiting() {
    if (eof_ || closed_) return false;
    error_code ec;
    const size_t n = stream_.lowest_layer().available(ec);
    return !ec && n > 0;
  }

  // The arena and the event list are reserved once for what the batch will
  // likely hold: growing them copied each batch's documents and events about
  // once more (the gather's late reserve, the vector's doublings). A read that
  // filled its buffer means more bytes wait: the batch will gather.
  void NewBatch(int64_t now_us) {
    batch_ = std::make_shared<Batch>();
    const size_t arena = full_read_ ? kGatherReserve : std::min((end_ - begin_) * 4 + 1024, kGatherReserve);
    batch_->arena().reserve(arena);
    batch_->events().reserve(arena / kReserveBytesPerEvent);
    batch_->source = in_->cfg().id;
    batch_->peer = peer_;
    batch_->received_ms = now_us / 1000;
    batch_->trusted_json = true;
  }

  // Hands the batch to the pipeline. False: refused, the session pauses until
  // the pipeline has room (on_space), then Resume retries.
  bool Push() {
    if (!batch_ || batch_->events().empty()) return true;
    const size_t n = batch_->size();
    auto waker = in_->waker();
    auto weak = this->weak_from_this();
    if (in_->receiver()->TryPush(batch_, [waker, weak] {
          std::lock_guard<std::mutex> lock(waker->mu);
          if (!waker->io) return;
          asio::post(*waker->io, [weak] {
            if (auto self = weak.lock()) self->Resume();
          });
        })) {
      in_->counters()->m.received_events->Inc(n);
      in_->counters()->m.sent_events->Inc(n);
      batch_.reset();
      return true;
    }
    paused_ = true;
    timer_.cancel();  // a full pipeline is not the client's idleness
    return false;
  }

  void Resume() {
    if (closed_ || !paused_) return;
    paused_ = false;
    ArmTimer();
    Process();
  }

  SyslogInput::Impl* in_;
  Stream stream_;
  asio::steady_timer timer_;
  std::string ip_, peer_;
  FrameSplitter splitter_;
  Rfc3164Clock clock_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0, begin_ = 0, end_ = 0;
  const size_t max_cap_;
  BatchPtr batch_;
  size_t chunk_ = kReadChunk;  // bytes a read asks for
  size_t asked_ = 0;         // bytes the pending read asked for
  bool full_read_ = false;   // the last read filled what it asked for
  bool eof_ = false, closed_ = false, paused_ = false;
  Gauge* connections_;
};

absl::Status SyslogInput::Impl::Start(BatchReceiver* receiver) {
  receiver_ = receiver;
  waker_->io = &io_;
  absl::Status s = cfg_->protocol == "udp" ? StartUdp() : StartTcp();
  if (!s.ok()) return s;
  if (cfg_->protocol != "udp") {
    io_thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
  }
  return absl::OkStatus();
}

absl::Status SyslogInput::Impl::StartTcp() {
  error_code ec;
  auto addr = asio::ip::make_address(cfg_->host, ec);
  if (ec) return absl::InvalidArgumentError(StrCat(cfg_->id, ": listen address \"", cfg_->host, "\": ", ec.message()));
  tcp::endpoint ep(addr, cfg_->port);
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  accept_retry_ = std::make_unique<asio::steady_timer>(io_);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(StrCat(cfg_->id, ": cannot listen on ", cfg_->listen, ": ", ec.message()));
  auto local = acceptor_->local_endpoint();
  bound_address = local.address().is_v6() ? StrCat("[", local.address().to_string(), "]:", local.port())
                                          : StrCat(local.address().to_string(), ":", local.port());

  if (cfg_->tls.enabled) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                      ec);
    if (!ec) tls_->use_certificate_chain_file(cfg_->tls.certificate, ec);
    if (ec) return absl::InvalidArgumentError(StrCat(cfg_->id, ": tls certificate ", cfg_->tls.certificate, ": ", ec.message()));
    tls_->use_private_key_file(cfg_->tls.key, asio::ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError(StrCat(cfg_->id, ": tls key ", cfg_->tls.key, ": ", ec.message()));
    if (!cfg_->tls.client_ca.empty()) {
      tls_->load_verify_file(cfg_->tls.client_ca, ec);
      if (ec) return absl::InvalidArgumentError(StrCat(cfg_->id, ": tls client_ca ", cfg_->tls.client_ca, ": ", ec.message()));
    }
    int mode = asio::ssl::verify_none;
    if (cfg_->tls.client_auth == "optional") mode = asio::ssl::verify_peer;
    if (cfg_->tls.client_auth == "required") mode = asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert;
    tls_->set_verify_mode(mode, ec);
  }
  Accept();
  return absl::OkStatus();
}

void SyslogInput::Impl::Accept() {
  acceptor_->async_accept([this](const error_code& ec, tcp::socket sock) {
    if (!acceptor_->is_open()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      warn_.Warn(cfg_->id, "accept failed: ", ec.message());
      // Out of file descriptors and the like: try again shortly instead of spinning.
      accept_retry_->expires_after(std::chrono::milliseconds(100));
      accept_retry_->async_wait([this](const error_code& e) {
        if (!e) Accept();
      });
      return;
    }
    error_code pec;
    auto remote = sock.remote_endpoint(pec);
    std::string ip = pec ? std::string() : IpString(remote.address());
    std::string peer = pec ? std::string("?") : StrCat(ip, ":", remote.port());
    if (static_cast<int64_t>(sessions_.size()) >= cfg_->max_connections) {
      counters_.too_many_connections->Inc();
      warn_.Warn(cfg_->id, "refusing connection from ", peer, ": max_connections (", cfg_->max_connections,
                 ") reached");
      error_code cec;
      sock.close(cec);
    } else {
      sock.set_option(tcp::no_delay(true), pec);
      std::shared_ptr<SessionBase> s;
      if (tls_) {
        auto ts = std::make_shared<Session<asio::ssl::stream<tcp::socket>>>(
            this, asio::ssl::stream<tcp::socket>(std::move(sock), *tls_), std::move(ip), std::move(peer));
        sessions_[ts.get()] = ts;
        open_sessions_.fetch_add(1, std::memory_order_acq_rel);
        ts->Start();
      } else {
        auto ps = std::make_shared<Session<tcp::socket>>(this, std::move(sock), std::move(ip), std::move(peer));
        sessions_[ps.get()] = ps;
        open_sessions_.fetch_add(1, std::memory_order_acq_rel);
        ps->Start();
      }
    }
    Accept();
  });
}

absl::Status SyslogInput::Impl::StartUdp() {
  error_code ec;
  auto addr = asio::ip::make_address(cfg_->host, ec);
  if (ec) return absl::InvalidArgumentError(StrCat(cfg_->id, ": listen address \"", cfg_->host, "\": ", ec.message()));
  asio::ip::udp::endpoint ep(addr, cfg_->port);
  udp_fd_ = ::socket(addr.is_v6() ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (udp_fd_ < 0) return absl::UnavailableError(StrCat(cfg_->id, ": socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(udp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int want = static_cast<int>(std::min<uint64_t>(cfg_->receive_buffer_bytes, 1u << 30));
  if (::setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
    ::setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  }
  int got = 0;
  socklen_t gl = sizeof got;
  ::getsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &got, &gl);
  if (got / 2 < want) {
    SLUICE_LOG_WARN(cfg_->id, "UDP receive buffer is ", got / 2, " bytes, not the ", want,
                    " asked for (raise net.core.rmem_max)");
  }
  if (::bind(udp_fd_, ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
    std::string err = std::strerror(errno);
    ::close(udp_fd_);
    udp_fd_ = -1;
    return absl::UnavailableError(StrCat(cfg_->id, ": cannot listen on udp ", cfg_->listen, ": ", err));
  }
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  ::getsockname(udp_fd_, reinterpret_cast<sockaddr*>(&ss), &sl);
  asio::ip::udp::endpoint local;
  std::memcpy(local.data(), &ss, sl);
  local.resize(sl);
  bound_address = local.address().is_v6() ? StrCat("[", local.address().to_string(), "]:", local.port())
                                          : StrCat(local.address().to_string(), ":", local.port());
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  udp_running_.store(true, std::memory_order_release);
  udp_thread_ = std::thread([this] { UdpLoop(); });
  return absl::OkStatus();
}

// Datagrams the kernel dropped because the receive buffer was full. SO_MEMINFO
// reads the socket's drop counter directly; SO_RXQ_OVFL would only report it
// with the next datagram received, missing the drops after the last one.
void SyslogInput::Impl::CountUdpDrops() {
  uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (::getsockopt(udp_fd_, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 || len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return;
  }
  const uint32_t drops = info[SK_MEMINFO_DROPS];
  if (drops != udp_drops_) counters_.udp_overflow->Inc(static_cast<uint32_t>(drops - udp_drops_));
  udp_drops_ = drops;
}

bool SyslogInput::Impl::UdpPush(BatchPtr& batch) {
  const size_t n = batch->size();
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(udp_mu_);
      udp_space_ = false;
    }
    if (receiver_->TryPush(batch, [this] {
          std::lock_guard<std::mutex> lock(udp_mu_);
          udp_space_ = true;
          udp_cv_.notify_all();
        })) {
      counters_.m.received_events->Inc(n);
      counters_.m.sent_events->Inc(n);
      return true;
    }
    // The pipeline is full: stop reading. The kernel buffer absorbs what it
    // can and the rest is dropped by the kernel, and counted (CountUdpDrops).
    {
      std::unique_lock<std::mutex> lock(udp_mu_);
      udp_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return udp_space_ || udp_stop_.load(); });
      if (udp_stop_.load()) return false;
    }
    CountUdpDrops();
  }
}

void SyslogInput::Impl::UdpLoop() {
  constexpr int kDatagrams = 64;
  const size_t max = cfg_->max_message_bytes;
  const size_t slot = std::min<size_t>(max, 65535) + 1;  // +1 to see that a datagram is longer than max
  std::vector<char> data(kDatagrams * slot);
  std::vector<mmsghdr> msgs(kDatagrams);
  std::vector<iovec> iovs(kDatagrams);
  std::vector<sockaddr_storage> addrs(kDatagrams);
  Rfc3164Clock clock(cfg_->tz);
  sockaddr_storage last_addr{};
  socklen_t last_len = 0;
  std::string ip;

  while (!udp_stop_.load() && !draining()) {
    pollfd pfd[2] = {{udp_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int ready = ::poll(pfd, 2, 1000);
    CountUdpDrops();
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[1].revents) break;
    if (ready == 0) continue;
    BatchPtr batch;
    const int64_t now_us = NowUs();
    clock.SetNow(now_us);
    for (;;) {
      for (int i = 0; i < kDatagrams; ++i) {
        iovs[i] = {data.data() + i * slot, slot};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        msgs[i].msg_len = 0;
      }
      int n = ::recvmmsg(udp_fd_, msgs.data(), kDatagrams, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      if (!batch) {
        batch = std::make_shared<Batch>();
        batch->source = cfg_->id;
        batch->received_ms = now_us / 1000;
        batch->trusted_json = true;
      }
      for (int i = 0; i < n; ++i) {
        msghdr& h = msgs[i].msg_hdr;
        if (h.msg_namelen != last_len || std::memcmp(&last_addr, &addrs[i], h.msg_namelen) != 0) {
          last_len = h.msg_namelen;
          std::memcpy(&last_addr, &addrs[i], h.msg_namelen);
          asio::ip::udp::endpoint from;
          std::memcpy(from.data(), &addrs[i], std::min<size_t>(h.msg_namelen, sizeof(sockaddr_storage)));
          from.resize(h.msg_namelen);
          ip = IpString(from.address());
        }
        size_t len = msgs[i].msg_len;
        counters_.m.received_bytes->Inc(len);
        bool truncated = (h.msg_flags & MSG_TRUNC) || len > max;
        if (len > max) len = max;
        AppendFrame(batch.get(), std::string_view(data.data() + i * slot, len), truncated, ip, now_us, clock,
                    cfg_->keep_original, &counters_);
      }
      if (n < kDatagrams || batch->arena().size() >= kBatchBytes) break;
    }
    if (batch && !batch->events().empty() && !UdpPush(batch)) break;
  }
  CountUdpDrops();
  udp_running_.store(false, std::memory_order_release);
}

// Shutdown's first step: no new connections, and the open ones stop reading
// and deliver what they read, as Logstash's and Vector's TCP inputs drain.
// Reading on during the drain only lost more: what was read after the
// pipeline's queue closed was refused, and syslog has no ACK to make the
// sender send it again. What the senders wrote that was not read yet stays in
// the kernel and is lost when the connection closes (README: shutdown).
// UDP stops receiving after the batch at hand.
void SyslogInput::Impl::StopAccepting() {
  draining_.store(true, std::memory_order_release);
  if (acceptor_) {
    asio::post(io_, [this] {
      error_code ec;
      if (acceptor_->is_open()) acceptor_->close(ec);
      accept_retry_->cancel();
      // No copy of the list, as Stop's: the reads' handlers run later, and
      // only they close a session (Close leaves sessions_ through Forget).
      for (auto& [p, s] : sessions_) s->StopReading();
    });
  }
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);  // wakes UdpLoop's poll
  }
}

// Until they are done, sessions may still push what they read (a paused one
// once the pipeline has room), and so may the UDP thread: App::Shutdown
// waits for them before the pipeline drains.
size_t SyslogInput::Impl::held_batches() const {
  if (!draining()) return 0;
  return open_sessions_.load(std::memory_order_acquire) + (udp_running_.load(std::memory_order_acquire) ? 1 : 0);
}

void SyslogInput::Impl::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(waker_->mu);
    waker_->io = nullptr;
  }
  if (io_thread_.joinable()) {
    asio::post(io_, [this] {
      error_code ec;
      if (acceptor_ && acceptor_->is_open()) acceptor_->close(ec);
      if (accept_retry_) accept_retry_->cancel();
      std::vector<std::shared_ptr<SessionBase>> all;
      for (auto& [p, s] : sessions_) all.push_back(s);
      for (auto& s : all) s->Close();
      sessions_.clear();
      io_.stop();
    });
    io_thread_.join();
  }
  if (udp_thread_.joinable()) {
    udp_stop_.store(true);
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    {
      std::lock_guard<std::mutex> lock(udp_mu_);
      udp_cv_.notify_all();
    }
    udp_thread_.join();
  }
  if (udp_fd_ >= 0) ::close(udp_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  udp_fd_ = stop_fd_ = -1;
}

SyslogInput::SyslogInput(std::shared_ptr<const SyslogInputConfig> cfg, MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>(std::move(cfg), metrics)) {}
SyslogInput::~SyslogInput() = default;
std::string_view SyslogInput::name() const { return impl_->cfg().id; }
absl::Status SyslogInput::Start(BatchReceiver* receiver) { return impl_->Start(receiver); }
void SyslogInput::StopAccepting() { impl_->StopAccepting(); }
size_t SyslogInput::held_batches() const { return impl_->held_batches(); }
void SyslogInput::Stop() { impl_->Stop(); }
std::string SyslogInput::bound_address() const { return impl_->bound_address; }

namespace {
std::unique_ptr<Input> MakeSyslogInput(ConfigMap& cfg, ComponentContext& ctx) {
  auto c = ReadSyslogInputConfig(cfg);
  if (!c) return nullptr;
  return std::make_unique<SyslogInput>(std::move(c), ctx.metrics);
}
}  // namespace

SLUICE_REGISTER_INPUT("syslog", MakeSyslogInput);

}  // namespace sluice::syslog
