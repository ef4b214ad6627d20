#include "pipeline/admin_http.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/numbers.h"
#include "common/strings.h"
#include "common/log.h"

namespace sluice {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

absl::Status SplitHostPort(const std::string& listen, std::string* host, unsigned short* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError(StrCat("\"", listen, "\" is not host:port"));
  std::string h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  uint32_t p;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &p) || p > 65535) {
    return absl::InvalidArgumentError(StrCat("\"", listen, "\" has no valid port"));
  }
  *host = h.empty() ? "0.0.0.0" : h;
  *port = static_cast<unsigned short>(p);
  return absl::OkStatus();
}

namespace {
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket s, AdminHandler* h) : stream_(std::move(s)), handler_(h) {}
  void Run() { Read(); }

 private:
  void Read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      self->Respond();
    });
  }
  void Respond() {
    AdminResponse r = (*handler_)(std::string(req_.method_string()), std::string(req_.target()), req_.body());
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), req_.version());
    res->set(http::field::server, "sluice");
    res->set(http::field::content_type, r.content_type);
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(r.body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->Read();
    });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  AdminHandler* handler_;
};
}  // namespace

struct AdminHttpServer::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  AdminHandler* handler = nullptr;
  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
      } else {
        std::make_shared<Session>(std::move(s), handler)->Run();
      }
      Accept();
    });
  }
};

AdminHttpServer::AdminHttpServer(std::string listen, AdminHandler handler)
    : impl_(std::make_unique<Impl>()), listen_(std::move(listen)), handler_(std::move(handler)) {
  impl_->handler = &handler_;
}

AdminHttpServer::~AdminHttpServer() { Stop(); }

absl::Status AdminHttpServer::Start() {
  std::string host;
  unsigned short port;
  if (auto s = SplitHostPort(listen_, &host, &port); !s.ok()) return s;
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("http.listen: bad address \"", host, "\""));
  tcp::endpoint ep(addr, port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(StrCat("http.listen ", listen_, ": ", ec.message()));
  auto local = impl_->acceptor.local_endpoint();
  bound_ = StrCat(local.address().to_string(), ":", local.port());
  impl_->Accept();
  thread_ = std::thread([this] { impl_->io.run(); });
  return absl::OkStatus();
}

void AdminHttpServer::Stop() {
  if (!thread_.joinable()) return;
  impl_->io.stop();
  thread_.join();
}

}  // namespace sluice
