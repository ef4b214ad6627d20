#pragma once
// Real peers that several tests start: Alertmanager (Debian
// prometheus-alertmanager) on loopback, and a webhook receiver for it.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "common/test_util.h"
#include "pipeline/admin_http.h"

namespace sluice::testing {

class Webhook {
 public:
  Webhook()
      : server_("127.0.0.1:0", [this](const std::string& m, const std::string& t, const std::string& body) {
          std::lock_guard<std::mutex> lock(mu_);
          bodies_.push_back(body);
          return AdminResponse{200, "text/plain", "ok"};
        }) {
    EXPECT_TRUE(server_.Start().ok());
  }
  std::string address() const { return server_.bound_address(); }
  std::string All() {
    std::lock_guard<std::mutex> lock(mu_);
    return StrJoin(bodies_, "\n");
  }

 private:
  std::mutex mu_;
  std::vector<std::string> bodies_;
  AdminHttpServer server_;
};

class RealAlertmanager {
 public:
  RealAlertmanager(const TempDir& dir, const std::string& webhook, int port) : dir_(dir), port_(port) {
    WriteFile(dir.File("am.yml"), StrCat(R"(route:
  receiver: hook
  group_by: ['alertname', 'service_name']
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://)", webhook, R"(/hook
        send_resolved: true
)"));
    Start();
  }
  void Start() {
    proc_ = std::make_unique<Subprocess>(
        std::vector<std::string>{"prometheus-alertmanager", "--config.file=" + dir_.File("am.yml"),
                                 "--storage.path=" + dir_.File("am-data"),
                                 StrCat("--web.listen-address=127.0.0.1:", port_), "--cluster.listen-address="},
        dir_.File("am.log"));
    ASSERT_TRUE(WaitFor([&] {
      std::string b;
      return HttpRequest(address(), "GET", "/-/ready", &b) == 200;
    })) << ReadFile(dir_.File("am.log"));
  }
  void Stop() { proc_.reset(); }
  std::string address() const { return StrCat("127.0.0.1:", port_); }
  std::string Alerts() {
    std::string b;
    HttpRequest(address(), "GET", "/api/v2/alerts", &b);
    return b;
  }

 private:
  const TempDir& dir_;
  int port_;
  std::unique_ptr<Subprocess> proc_;
};

}  // namespace sluice::testing
