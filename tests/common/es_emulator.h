#pragma once
// An Elasticsearch `_bulk` emulator for tests and benchmarks (PROTOCOLS.md §3).
//
// HTTP/1.1 (optionally TLS) on 127.0.0.1, one thread per connection. It
// implements what a bulk client can observe: `POST /_bulk` and
// `/{index}/_bulk`, NDJSON bodies that must end with "\n", gzip request bodies,
// `filter_path=errors,items.*.error,items.*.status`, `http.max_content_length`
// (413), the `index` / `create` actions with auto ids, 409 on `create` with an
// existing `_id`, data streams that accept only `create`, and basic-auth / API
// key checks (401). Documents are stored per index so tests can read them back,
// and every request's headers are recorded.
//
// Faults are injected per test (FailNextItems, FailItemsMatching,
// FailNextRequests, SetResponseDelay, Stall/Release, DropNextConnections).
//
// `fast` mode (the benchmarks' local endpoint) answers success for every item
// with minimal parsing (it counts action lines) and stores nothing.
//
// Read-only endpoints: `GET /` (version banner), `GET /_stats` (counters as
// JSON), `GET /_count`, `GET /{index}/_count`, `GET /{index}/_doc/{id}`.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace sluice::testing {

struct EsEmulatorOptions {
  std::string listen = "127.0.0.1:0";
  bool fast = false;
  uint64_t max_content_length = 100ull << 20;  // http.max_content_length, checked after gzip decoding
  // Required credentials (empty: none). Either one is accepted when both are set.
  std::string username, password;
  std::string api_key;  // the base64 "id:key" value of `Authorization: ApiKey ...`
  // TLS when both are set (PEM files).
  std::string tls_certificate, tls_key;
  // With TLS: a CA file; clients must then present a certificate it signed
  // (xpack.security.http.ssl.client_authentication: required).
  std::string tls_client_ca;
  // Index names that are data streams (a trailing '*' makes a prefix).
  std::vector<std::string> data_streams;
};

// One action of a bulk request, as fault predicates see it.
struct EsItem {
  std::string action;  // "index" / "create" / ...
  std::string index;
  std::string id;      // empty: auto id
  std::string pipeline;
  std::string_view source;  // the document line (valid during the predicate call)
};

struct EsDocument {
  std::string index, id, source, pipeline;
  std::string action;
};

struct EsRequestRecord {
  std::string method, target;
  std::map<std::string, std::string> headers;  // lower-case names
  uint64_t body_bytes = 0;          // as received
  uint64_t decoded_body_bytes = 0;  // after gzip
  size_t items = 0;
  int status = 0;                   // 0: connection dropped
  std::string tls_client_subject;   // the verified client certificate's subject, if any
};

struct EsStats {
  uint64_t requests = 0;       // every HTTP request
  uint64_t bulk_requests = 0;  // answered bulk requests (any status)
  uint64_t items = 0;          // bulk items processed
  uint64_t items_ok = 0;       // items answered 2xx
  uint64_t body_bytes = 0;     // bulk bodies as received
  uint64_t decoded_bytes = 0;  // bulk bodies after gzip
  uint64_t tls_handshake_failures = 0;  // e.g. no or untrusted client certificate
};

class EsEmulator {
 public:
  explicit EsEmulator(EsEmulatorOptions opts = {});
  ~EsEmulator();
  EsEmulator(const EsEmulator&) = delete;
  EsEmulator& operator=(const EsEmulator&) = delete;

  absl::Status Start();
  void Stop();
  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  std::string url() const;      // "http://127.0.0.1:PORT" (https with TLS)

  // ---- Stored documents.
  size_t Count(std::string_view index = "") const;  // every index when empty
  std::optional<std::string> Get(std::string_view index, std::string_view id) const;
  std::vector<EsDocument> Documents(std::string_view index = "") const;  // in arrival order
  std::vector<std::string> Indices() const;
  void ClearDocuments();

  // ---- Recorded requests and counters.
  std::vector<EsRequestRecord> Requests() const;  // bulk requests only, in order
  EsStats stats() const;
  std::string StatsJson() const;

  // ---- Faults (each setter adds to / replaces the current plan).
  // The next `n` items (in arrival order, counting all requests) fail with `status`.
  void FailNextItems(int n, int status, std::string error_type = "");
  // Items for which `pred` is true fail with `status`, at most `times` times (-1: always).
  void FailItemsMatching(std::function<bool(const EsItem&)> pred, int status, std::string error_type = "",
                         int times = -1);
  // The next `n` bulk requests are answered with `status` as a whole (nothing stored).
  void FailNextRequests(int n, int status);
  // Every bulk answer is delayed by `d` (the request is processed first).
  void SetResponseDelay(std::chrono::milliseconds d);
  // Bulk requests get no answer (and are not processed) until Release().
  void Stall();
  void Release();
  // The next `n` bulk requests are read, then the connection is closed without an
  // answer. `process_first`: the documents are stored before the close.
  void DropNextConnections(int n, bool process_first = false);
  void ClearFaults();
  // Requests currently waiting in a stall.
  int stalled_requests() const { return stalled_.load(); }

 private:
  struct Conn;
  struct ItemFault {
    std::function<bool(const EsItem&)> pred;
    int status;
    std::string type;
    int times;
  };
  struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    bool drop = false;  // close without answering
  };
  void AcceptLoop();
  void ServeConnection(std::shared_ptr<Conn> conn);
  template <class Stream>
  void Serve(Stream& stream, std::shared_ptr<Conn> conn);
  Response Handle(const std::string& method, const std::string& target,
                  const std::map<std::string, std::string>& headers, std::string& body, const std::string& tls_client_subject);
  Response HandleBulk(const std::string& target, const std::map<std::string, std::string>& headers,
                      std::string& body, EsRequestRecord* rec);
  Response ProcessBulk(std::string_view path_index, std::string_view url_pipeline, const std::string& body,
                       bool filtered, size_t* items);
  Response FastBulk(const std::string& body, size_t* items);
  bool IsDataStream(std::string_view index) const;
  bool Authorized(const std::map<std::string, std::string>& headers) const;

  EsEmulatorOptions opts_;
  int listen_fd_ = -1;
  int port_ = 0;
  bool tls_ = false;
  void* ssl_ctx_ = nullptr;  // boost::asio::ssl::context*
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;

  mutable std::mutex conns_mu_;
  std::vector<std::shared_ptr<Conn>> conns_;

  mutable std::mutex mu_;
  std::condition_variable stall_cv_;
  bool stalled_flag_ = false;
  std::atomic<int> stalled_{0};
  std::vector<EsDocument> docs_;
  std::map<std::string, std::map<std::string, size_t, std::less<>>, std::less<>> by_id_;  // index -> id -> docs_ pos
  std::vector<EsRequestRecord> requests_;
  EsStats stats_;
  uint64_t next_auto_id_ = 0;
  int fail_items_n_ = 0, fail_items_status_ = 0;
  std::string fail_items_type_;
  std::vector<ItemFault> item_faults_;
  int fail_requests_n_ = 0, fail_requests_status_ = 0;
  int drop_n_ = 0;
  bool drop_process_first_ = false;
  std::chrono::milliseconds delay_{0};
  // fast mode counters without the lock
  std::atomic<uint64_t> fast_requests_{0}, fast_items_{0}, fast_bytes_{0}, fast_decoded_{0};
};

// Builds a test CA and a server certificate for 127.0.0.1/localhost in `dir`
// with the openssl CLI: dir/ca.pem, dir/server.pem, dir/server.key,
// dir/client.pem, dir/client.key. Returns false if openssl failed.
bool MakeTestCertificates(const std::string& dir);

}  // namespace sluice::testing
