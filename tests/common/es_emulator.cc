#include "common/es_emulator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <libdeflate.h>
#include <simdjson.h>

#include "common/json_util.h"
#include "common/strings.h"
#include "common/test_util.h"

namespace sluice::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct EsEmulator::Conn {
  int fd = -1;
  std::thread thread;
  std::atomic<bool> done{false};
  std::string tls_client_subject;
};

namespace {

std::string Base64(std::string_view in) {
  std::string out(beast::detail::base64::encoded_size(in.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), in.data(), in.size()));
  return out;
}

std::string ErrorBody(int status, std::string_view type, std::string_view reason) {
  std::string b = "{\"error\":{\"root_cause\":[{\"type\":";
  AppendJsonString(type, &b);
  b += ",\"reason\":";
  AppendJsonString(reason, &b);
  b += "}],\"type\":";
  AppendJsonString(type, &b);
  b += ",\"reason\":";
  AppendJsonString(reason, &b);
  StrAppend(&b, "},\"status\":", status, "}");
  return b;
}

std::string_view QueryParam(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view qs = target.substr(q + 1);
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view("true") : kv.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return {};
}

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool GunzipBody(const std::string& in, std::string* out) {
  if (in.size() < 18) return false;
  uint32_t isize;
  std::memcpy(&isize, in.data() + in.size() - 4, 4);
  size_t cap = std::max<size_t>(isize, 1024);
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  bool ok = false;
  for (int i = 0; i < 8; ++i) {
    out->resize(cap);
    size_t actual = 0;
    auto r = libdeflate_gzip_decompress(d, in.data(), in.size(), out->data(), out->size(), &actual);
    if (r == LIBDEFLATE_SUCCESS) {
      out->resize(actual);
      ok = true;
      break;
    }
    if (r != LIBDEFLATE_INSUFFICIENT_SPACE) break;
    cap *= 4;
  }
  libdeflate_free_decompressor(d);
  return ok;
}

const char kBanner[] = R"({
  "name" : "sluice-es-emulator",
  "cluster_name" : "emulator",
  "cluster_uuid" : "c2x1aWNlLWVtdWxhdG9y",
  "version" : {
    "number" : "8.13.4",
    "build_flavor" : "default",
    "build_type" : "emulator",
    "build_hash" : "0000000000000000000000000000000000000000",
    "build_date" : "2024-05-06T22:04:45.107454559Z",
    "build_snapshot" : false,
    "lucene_version" : "9.10.0",
    "minimum_wire_compatibility_version" : "7.17.0",
    "minimum_index_compatibility_version" : "7.0.0"
  },
  "tagline" : "You Know, for Search"
}
)";

}  // namespace

EsEmulator::EsEmulator(EsEmulatorOptions opts) : opts_(std::move(opts)) {}

EsEmulator::~EsEmulator() {
  Stop();
  delete static_cast<ssl::context*>(ssl_ctx_);
}

std::string EsEmulator::address() const { return StrCat("127.0.0.1:", port_); }
std::string EsEmulator::url() const { return StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_); }

absl::Status EsEmulator::Start() {
  std::string host = "127.0.0.1";
  int port = 0;
  size_t colon = opts_.listen.rfind(':');
  if (colon != std::string::npos) {
    host = opts_.listen.substr(0, colon);
    port = std::atoi(opts_.listen.c_str() + colon + 1);
  }
  if (!opts_.tls_certificate.empty() && !opts_.tls_key.empty()) {
    auto* ctx = new ssl::context(ssl::context::tls_server);
    ssl_ctx_ = ctx;
    beast::error_code ec;
    ctx->use_certificate_chain_file(opts_.tls_certificate, ec);
    if (!ec) ctx->use_private_key_file(opts_.tls_key, ssl::context::pem, ec);
    if (!ec && !opts_.tls_client_ca.empty()) {
      ctx->load_verify_file(opts_.tls_client_ca, ec);
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    }
    if (ec) return absl::InvalidArgumentError(StrCat("es emulator: TLS files: ", ec.message()));
    tls_ = true;
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return absl::InvalidArgumentError("es emulator: bad host");
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 128) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return absl::UnavailableError(StrCat("es emulator: bind ", opts_.listen, ": ", std::strerror(errno)));
  }
  socklen_t len = sizeof sa;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void EsEmulator::Stop() {
  if (stop_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stalled_flag_ = false;
  }
  stall_cv_.notify_all();
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::shared_ptr<Conn>> conns;
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    conns.swap(conns_);
    for (auto& c : conns) ::shutdown(c->fd, SHUT_RDWR);
  }
  for (auto& c : conns) {
    if (c->thread.joinable()) c->thread.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void EsEmulator::AcceptLoop() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    auto conn = std::make_shared<Conn>();
    conn->fd = fd;
    std::lock_guard<std::mutex> lock(conns_mu_);
    // Reap finished connections.
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->done.load()) {
        (*it)->thread.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
    conns_.push_back(conn);
    conn->thread = std::thread([this, conn] { ServeConnection(conn); });
  }
}

void EsEmulator::ServeConnection(std::shared_ptr<Conn> conn) {
  asio::io_context io;
  tcp::socket sock(io);
  beast::error_code ec;
  sock.assign(tcp::v4(), conn->fd, ec);
  if (!ec) {
    sock.set_option(tcp::no_delay(true), ec);
    if (tls_) {
      ssl::stream<tcp::socket> stream(std::move(sock), *static_cast<ssl::context*>(ssl_ctx_));
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.tls_handshake_failures;
      } else {
        if (X509* peer = SSL_get_peer_certificate(stream.native_handle())) {
          char subject[256];
          X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof subject);
          conn->tls_client_subject = subject;
          X509_free(peer);
        }
        Serve(stream, conn);
      }
      stream.shutdown(ec);
      stream.next_layer().close(ec);
    } else {
      Serve(sock, conn);
      sock.close(ec);
    }
  }
  conn->done.store(true);
}

template <class Stream>
void EsEmulator::Serve(Stream& stream, std::shared_ptr<Conn> conn) {
  beast::flat_buffer buf;
  while (!stop_.load()) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    parser.header_limit(1 << 20);
    beast::error_code ec;
    http::read(stream, buf, parser, ec);
    if (ec) return;
    auto& req = parser.get();
    std::map<std::string, std::string> headers;
    for (const auto& f : req) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      headers[name] = std::string(f.value());
    }
    std::string body = std::move(req.body());
    Response r =
        Handle(std::string(req.method_string()), std::string(req.target()), headers, body, conn->tls_client_subject);
    if (r.drop) return;
    http::response<http::string_body> res(static_cast<http::status>(r.status), req.version());
    res.set(http::field::content_type, r.content_type);
    res.set("X-elastic-product", "Elasticsearch");
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(r.body);
    res.prepare_payload();
    http::write(stream, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

bool EsEmulator::Authorized(const std::map<std::string, std::string>& headers) const {
  if (opts_.username.empty() && opts_.api_key.empty()) return true;
  auto it = headers.find("authorization");
  if (it == headers.end()) return false;
  const std::string& v = it->second;
  if (!opts_.username.empty() && v == "Basic " + Base64(opts_.username + ":" + opts_.password)) return true;
  if (!opts_.api_key.empty() && v == "ApiKey " + opts_.api_key) return true;
  return false;
}

EsEmulator::Response EsEmulator::Handle(const std::string& method, const std::string& target,
                                        const std::map<std::string, std::string>& headers, std::string& body,
                                        const std::string& tls_client_subject) {
  std::string path = target.substr(0, target.find('?'));
  if (opts_.fast) {
    fast_requests_.fetch_add(1, std::memory_order_relaxed);
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.requests;
  }
  Response r;
  const bool bulk = path == "/_bulk" || (path.size() > 6 && path.compare(path.size() - 6, 6, "/_bulk") == 0);
  if (bulk && (method == "POST" || method == "PUT")) {
    EsRequestRecord rec;
    rec.method = method;
    rec.target = target;
    rec.headers = headers;
    rec.tls_client_subject = tls_client_subject;
    rec.body_bytes = body.size();
    r = HandleBulk(target, headers, body, &rec);
    rec.status = r.drop ? 0 : r.status;
    if (!opts_.fast) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(std::move(rec));
    }
    return r;
  }
  if (!Authorized(headers)) {
    r.status = 401;
    r.body = ErrorBody(401, "security_exception", "missing authentication credentials for REST request");
    return r;
  }
  if (method != "GET" && method != "HEAD") {
    r.status = 405;
    r.body = ErrorBody(405, "illegal_argument_exception", "method not allowed by the emulator");
    return r;
  }
  if (path == "/") {
    r.body = kBanner;
  } else if (path == "/_cat/health") {
    // rsyslog's omelasticsearch checks this (HEAD) before it sends.
    r.content_type = "text/plain";
    r.body = "1700000000 00:00:00 sluice-emulator green 1 1 0 0 0 0 0 0 - 100.0%\n";
  } else if (path == "/_stats") {
    r.body = StatsJson();
  } else if (path == "/_count" || (path.size() > 7 && path.compare(path.size() - 7, 7, "/_count") == 0)) {
    std::string index = path == "/_count" ? "" : path.substr(1, path.size() - 8);
    r.body = StrCat("{\"count\":", Count(index), "}");
  } else if (size_t p = path.find("/_doc/"); p != std::string::npos && p > 0) {
    std::string index = path.substr(1, p - 1);
    std::string id = PercentDecode(path.substr(p + 6));
    auto doc = Get(index, id);
    r.body = "{\"_index\":";
    AppendJsonString(index, &r.body);
    r.body += ",\"_id\":";
    AppendJsonString(id, &r.body);
    if (doc) {
      r.body += ",\"found\":true,\"_source\":" + *doc + "}";
    } else {
      r.status = 404;
      r.body += ",\"found\":false}";
    }
  } else {
    r.status = 404;
    r.body = ErrorBody(404, "index_not_found_exception", StrCat("no such index or endpoint [", path, "]"));
  }
  return r;
}

EsEmulator::Response EsEmulator::HandleBulk(const std::string& target, const std::map<std::string, std::string>& headers,
                                            std::string& body, EsRequestRecord* rec) {
  Response r;
  if (!Authorized(headers)) {
    r.status = 401;
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\"");
    r.body = ErrorBody(401, "security_exception", "unable to authenticate user for REST request [/_bulk]");
    return r;
  }
  bool drop_after = false;
  int fail_status = 0;
  std::chrono::milliseconds delay{0};
  if (!opts_.fast) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stalled_flag_) {
      stalled_.fetch_add(1);
      stall_cv_.wait(lock, [&] { return !stalled_flag_ || stop_.load(); });
      stalled_.fetch_sub(1);
      if (stop_.load()) {
        r.drop = true;
        return r;
      }
    }
    if (drop_n_ > 0) {
      --drop_n_;
      if (!drop_process_first_) {
        r.drop = true;
        return r;
      }
      drop_after = true;
    }
    if (fail_requests_n_ > 0) {
      --fail_requests_n_;
      fail_status = fail_requests_status_;
    }
    delay = delay_;
  }
  if (fail_status != 0) {
    r.status = fail_status;
    std::string type = fail_status == 429   ? "es_rejected_execution_exception"
                       : fail_status == 413 ? "content_too_long_exception"
                       : fail_status >= 500 ? "unavailable_shards_exception"
                                            : "illegal_argument_exception";
    r.body = ErrorBody(fail_status, type, "injected by the emulator");
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.bulk_requests;
    return r;
  }
  if (body.size() > opts_.max_content_length) {
    r.status = 413;
    r.body = "";
    r.content_type = "text/plain";
    if (!opts_.fast) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.bulk_requests;
    }
    return r;
  }
  auto ce = headers.find("content-encoding");
  std::string decoded;
  const std::string* text = &body;
  if (ce != headers.end() && (ce->second == "gzip" || ce->second == "x-gzip")) {
    if (!GunzipBody(body, &decoded)) {
      r.status = 400;
      r.body = ErrorBody(400, "illegal_argument_exception", "the request body is not valid gzip");
      return r;
    }
    text = &decoded;
  }
  rec->decoded_body_bytes = text->size();
  if (text->size() > opts_.max_content_length) {
    r.status = 413;
    r.content_type = "text/plain";
    if (!opts_.fast) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.bulk_requests;
    }
    return r;
  }
  if (text->empty() || text->back() != '\n') {
    r.status = 400;
    r.body = ErrorBody(400, "illegal_argument_exception",
                       text->empty() ? "request body is required" : "The bulk request must be terminated by a newline [\\n]");
    return r;
  }
  size_t items = 0;
  if (opts_.fast) {
    r = FastBulk(*text, &items);
    fast_bytes_.fetch_add(body.size(), std::memory_order_relaxed);
    fast_decoded_.fetch_add(text->size(), std::memory_order_relaxed);
  } else {
    std::string path = target.substr(0, target.find('?'));
    std::string_view path_index;
    if (path != "/_bulk") path_index = std::string_view(path).substr(1, path.size() - 7);
    std::string_view fp = QueryParam(target, "filter_path");
    std::string filter = PercentDecode(fp);
    bool filtered = filter.find("items.*.status") != std::string::npos;
    std::string url_pipeline = PercentDecode(QueryParam(target, "pipeline"));
    r = ProcessBulk(path_index, url_pipeline, *text, filtered, &items);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.body_bytes += body.size();
    stats_.decoded_bytes += text->size();
  }
  rec->items = items;
  if (drop_after) r.drop = true;
  if (delay.count() > 0) {
    // Answer late, but stop promptly.
    std::unique_lock<std::mutex> lock(mu_);
    stall_cv_.wait_for(lock, delay, [&] { return stop_.load(); });
  }
  return r;
}

EsEmulator::Response EsEmulator::FastBulk(const std::string& body, size_t* items) {
  // Action lines are every other line for index/create (no parsing needed).
  size_t lines = std::count(body.begin(), body.end(), '\n');
  size_t n = lines / 2;
  *items = n;
  fast_items_.fetch_add(n, std::memory_order_relaxed);
  Response r;
  r.body.reserve(32 + n * 25);
  r.body = "{\"errors\":false,\"items\":[";
  for (size_t i = 0; i < n; ++i) {
    if (i) r.body.push_back(',');
    r.body += "{\"create\":{\"status\":201}}";
  }
  r.body += "]}";
  return r;
}

bool EsEmulator::IsDataStream(std::string_view index) const {
  for (const auto& ds : opts_.data_streams) {
    if (!ds.empty() && ds.back() == '*') {
      if (index.substr(0, ds.size() - 1) == std::string_view(ds).substr(0, ds.size() - 1)) return true;
    } else if (index == ds) {
      return true;
    }
  }
  return false;
}

EsEmulator::Response EsEmulator::ProcessBulk(std::string_view path_index, std::string_view url_pipeline,
                                             const std::string& body, bool filtered, size_t* items) {
  simdjson::dom::parser parser;
  std::string out;
  bool errors = false;
  size_t n = 0;
  std::vector<std::string> item_json;
  size_t pos = 0;
  auto next_line = [&](std::string_view* line) {
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string::npos) nl = body.size();
      std::string_view l(body.data() + pos, nl - pos);
      pos = nl + 1;
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (l.empty()) continue;
      *line = l;
      return true;
    }
    return false;
  };
  std::string_view line;
  std::unique_lock<std::mutex> lock(mu_);
  while (next_line(&line)) {
    simdjson::dom::object action_obj;
    if (parser.parse(line.data(), line.size()).get(action_obj) != simdjson::SUCCESS || action_obj.size() != 1) {
      Response r;
      r.status = 400;
      r.body = ErrorBody(400, "x_content_parse_exception", StrCat("Malformed action/metadata line [", n + 1, "]"));
      return r;
    }
    EsItem item;
    auto field = *action_obj.begin();
    item.action = std::string(field.key);
    simdjson::dom::object meta;
    if (field.value.get(meta) != simdjson::SUCCESS) {
      Response r;
      r.status = 400;
      r.body = ErrorBody(400, "illegal_argument_exception", "Malformed action/metadata line");
      return r;
    }
    std::string_view sv;
    if (meta["_index"].get(sv) == simdjson::SUCCESS) item.index = std::string(sv); else item.index = std::string(path_index);
    if (meta["_id"].get(sv) == simdjson::SUCCESS) item.id = std::string(sv);
    if (meta["pipeline"].get(sv) == simdjson::SUCCESS) item.pipeline = std::string(sv); else item.pipeline = std::string(url_pipeline);
    bool has_source = item.action != "delete";
    std::string_view source;
    if (has_source && !next_line(&source)) {
      Response r;
      r.status = 400;
      r.body = ErrorBody(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]");
      return r;
    }
    item.source = source;
    ++n;
    ++stats_.items;
    int status = 0;
    std::string etype, ereason;
    // Injected faults first.
    if (fail_items_n_ > 0) {
      --fail_items_n_;
      status = fail_items_status_;
      etype = fail_items_type_;
    } else {
      for (auto& f : item_faults_) {
        if (f.times == 0) continue;
        if (f.pred(item)) {
          if (f.times > 0) --f.times;
          status = f.status;
          etype = f.type;
          break;
        }
      }
    }
    if (status != 0) {
      if (etype.empty()) {
        etype = status == 429 ? "es_rejected_execution_exception"
                : status == 409 ? "version_conflict_engine_exception"
                : status >= 500 ? "unavailable_shards_exception"
                : status == 404 ? "index_not_found_exception"
                                : "document_parsing_exception";
      }
      ereason = "injected by the emulator";
    } else if (item.index.empty()) {
      status = 400;
      etype = "action_request_validation_exception";
      ereason = "Validation Failed: 1: index is missing;";
    } else if (item.action != "index" && item.action != "create") {
      status = 400;
      etype = "illegal_argument_exception";
      ereason = StrCat("the emulator does not support the action [", item.action, "]");
    } else if (IsDataStream(item.index) && item.action != "create") {
      status = 400;
      etype = "illegal_argument_exception";
      ereason = StrCat("only write ops with an op_type of create are allowed in data streams");
    } else {
      simdjson::dom::object doc;
      if (parser.parse(source.data(), source.size()).get(doc) != simdjson::SUCCESS) {
        status = 400;
        etype = "document_parsing_exception";
        ereason = "[1:1] failed to parse: the document is not a JSON object";
      } else {
        if (item.id.empty()) {
          uint64_t k = ++next_auto_id_;
          item.id = StrCat("emu", k);
        }
        auto& ids = by_id_[item.index];
        auto it = ids.find(item.id);
        if (it != ids.end() && item.action == "create") {
          status = 409;
          etype = "version_conflict_engine_exception";
          ereason = StrCat("[", item.id, "]: version conflict, document already exists (current version [1])");
        } else {
          EsDocument d{item.index, item.id, std::string(source), item.pipeline, item.action};
          if (it != ids.end()) {
            docs_[it->second] = std::move(d);
            status = 200;
          } else {
            ids.emplace(item.id, docs_.size());
            docs_.push_back(std::move(d));
            status = 201;
          }
        }
      }
    }
    std::string j = "{";
    AppendJsonString(item.action, &j);
    j += ":{";
    if (!filtered) {
      j += "\"_index\":";
      AppendJsonString(item.index, &j);
      j += ",\"_id\":";
      AppendJsonString(item.id, &j);
      if (status < 300) j += StrCat(",\"_version\":1,\"result\":\"", status == 201 ? "created" : "updated", "\"");
      j += ",";
    }
    StrAppend(&j, "\"status\":", status);
    if (status >= 300) {
      errors = true;
      j += ",\"error\":{\"type\":";
      AppendJsonString(etype, &j);
      j += ",\"reason\":";
      AppendJsonString(ereason, &j);
      j += ",\"index\":";
      AppendJsonString(item.index, &j);
      j += "}";
    } else {
      ++stats_.items_ok;
    }
    j += "}}";
    item_json.push_back(std::move(j));
  }
  ++stats_.bulk_requests;
  lock.unlock();
  *items = n;
  Response r;
  r.body = filtered ? "{" : "{\"took\":1,";
  StrAppend(&r.body, "\"errors\":", errors, ",\"items\":[", StrJoin(item_json, ","), "]}");
  return r;
}

size_t EsEmulator::Count(std::string_view index) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (index.empty()) return docs_.size();
  auto it = by_id_.find(index);
  return it == by_id_.end() ? 0 : it->second.size();
}

std::optional<std::string> EsEmulator::Get(std::string_view index, std::string_view id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(index);
  if (it == by_id_.end()) return std::nullopt;
  auto d = it->second.find(id);
  if (d == it->second.end()) return std::nullopt;
  return docs_[d->second].source;
}

std::vector<EsDocument> EsEmulator::Documents(std::string_view index) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<EsDocument> out;
  for (const auto& d : docs_) {
    if (index.empty() || d.index == index) out.push_back(d);
  }
  return out;
}

std::vector<std::string> EsEmulator::Indices() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : by_id_) out.push_back(k);
  return out;
}

void EsEmulator::ClearDocuments() {
  std::lock_guard<std::mutex> lock(mu_);
  docs_.clear();
  by_id_.clear();
}

std::vector<EsRequestRecord> EsEmulator::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

EsStats EsEmulator::stats() const {
  if (opts_.fast) {
    EsStats s;
    s.requests = s.bulk_requests = fast_requests_.load();
    s.items = s.items_ok = fast_items_.load();
    s.body_bytes = fast_bytes_.load();
    s.decoded_bytes = fast_decoded_.load();
    return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::string EsEmulator::StatsJson() const {
  EsStats s = stats();
  return StrCat("{\"requests\":", s.requests, ",\"bulk_requests\":", s.bulk_requests, ",\"items\":", s.items,
                ",\"items_ok\":", s.items_ok, ",\"body_bytes\":", s.body_bytes, ",\"decoded_bytes\":", s.decoded_bytes,
                ",\"documents\":", opts_.fast ? 0 : Count(), "}");
}

void EsEmulator::FailNextItems(int n, int status, std::string error_type) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_items_n_ = n;
  fail_items_status_ = status;
  fail_items_type_ = std::move(error_type);
}

void EsEmulator::FailItemsMatching(std::function<bool(const EsItem&)> pred, int status, std::string error_type,
                                   int times) {
  std::lock_guard<std::mutex> lock(mu_);
  item_faults_.push_back(ItemFault{std::move(pred), status, std::move(error_type), times});
}

void EsEmulator::FailNextRequests(int n, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_requests_n_ = n;
  fail_requests_status_ = status;
}

void EsEmulator::SetResponseDelay(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  delay_ = d;
}

void EsEmulator::Stall() {
  std::lock_guard<std::mutex> lock(mu_);
  stalled_flag_ = true;
}

void EsEmulator::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stalled_flag_ = false;
  }
  stall_cv_.notify_all();
}

void EsEmulator::DropNextConnections(int n, bool process_first) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_n_ = n;
  drop_process_first_ = process_first;
}

void EsEmulator::ClearFaults() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    fail_items_n_ = 0;
    item_faults_.clear();
    fail_requests_n_ = 0;
    drop_n_ = 0;
    delay_ = std::chrono::milliseconds(0);
    stalled_flag_ = false;
  }
  stall_cv_.notify_all();
}

bool MakeTestCertificates(const std::string& dir) {
  auto run = [](std::vector<std::string> argv) {
    std::string out;
    return RunCommand(argv, &out) == 0;
  };
  WriteFile(dir + "/server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n");
  return run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sluice test CA",
              "-keyout", dir + "/ca.key", "-out", dir + "/ca.pem"}) &&
         run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
              dir + "/server.key", "-out", dir + "/server.csr"}) &&
         run({"openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
              "-CAcreateserial", "-days", "2", "-extfile", dir + "/server.ext", "-out", dir + "/server.pem"}) &&
         run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=sluice client", "-keyout",
              dir + "/client.key", "-out", dir + "/client.csr"}) &&
         run({"openssl", "x509", "-req", "-in", dir + "/client.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
              "-CAcreateserial", "-days", "2", "-out", dir + "/client.pem"});
}

}  // namespace sluice::testing
