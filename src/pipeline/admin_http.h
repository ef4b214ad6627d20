#pragma once
// A small HTTP server: the self-monitoring endpoint (`http.listen`: /metrics,
// /healthz, POST /-/reload) and test receivers. One thread, keep-alive
// HTTP/1.1 on Boost.Beast.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace sluice {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using AdminHandler =
    std::function<AdminResponse(const std::string& method, const std::string& target, const std::string& body)>;

class AdminHttpServer {
 public:
  AdminHttpServer(std::string listen, AdminHandler handler);
  ~AdminHttpServer();
  absl::Status Start();
  void Stop();
  std::string bound_address() const { return bound_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string listen_, bound_;
  AdminHandler handler_;
  std::thread thread_;
};

// Splits "host:port" (or "[v6]:port") into its parts.
absl::Status SplitHostPort(const std::string& listen, std::string* host, unsigned short* port);

}  // namespace sluice
