#pragma once
// Runs a busylab HttpServer on its own thread, on port 0, for in-process
// integration tests.

#include <cstdint>
#include <memory>
#include <optional>
#include <thread>

#include "server/http_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab::testing {

/// A config for tests: database in `dir`, port 0, 2 io threads, quiet logs.
Config test_config(const TempDir& dir, StrategyKind strategy, int size = 4);

class TestServer {
 public:
  explicit TestServer(Config config);
  ~TestServer();

  std::uint16_t port() const { return port_; }
  HttpServer& server() { return *server_; }
  /// Graceful stop; waits for run() to return and gives its summary.
  ShutdownSummary stop();

 private:
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::optional<ShutdownSummary> summary_;
};

}  // namespace busylab::testing
