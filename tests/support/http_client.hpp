#pragma once
// A small blocking HTTP/1.1 client over a plain socket, for tests: keep-alive
// requests, raw bytes for malformed input, and bounded waits so a broken
// server fails a test instead of hanging it. One client per thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace busylab::testing {

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends a request and reads the answer. Reconnects first when the server
  /// closed the previous connection. Returns nullopt when no complete answer
  /// arrived (closed, reset, or `timeout`).
  std::optional<Response> request(std::string_view method, std::string_view target, std::string_view body = {},
                                  const std::vector<std::string>& extra_headers = {},
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Opens the connection (if not open). False when it cannot connect.
  bool connect();
  /// Writes raw bytes. False when the write failed.
  bool send_raw(std::string_view bytes);
  /// Reads one response. nullopt on close, reset, timeout or garbage.
  std::optional<Response> read_response(std::chrono::milliseconds timeout);
  /// True when the server closes the connection within `timeout` (reads and
  /// discards anything it sends first).
  bool wait_closed(std::chrono::milliseconds timeout);
  void close();
  bool is_open() const { return fd_ >= 0; }

 private:
  // Reads more bytes into buffer_; false on EOF, error or deadline.
  bool fill(std::chrono::steady_clock::time_point deadline);

  std::uint16_t port_;
  std::string host_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace busylab::testing
