#include "tests/support/test_server.hpp"

#include <spdlog/spdlog.h>

namespace busylab::testing {

Config test_config(const TempDir& dir, StrategyKind strategy, int size) {
  Config c;
  c.server.port = 0;
  c.server.threads = 2;
  c.server.log_level = "warn";
  c.database.path = dir.file("test.db");
  c.pool.strategy = strategy;
  c.pool.size = size;
  return c;
}

TestServer::TestServer(Config config) {
  spdlog::set_level(spdlog::level::from_str(config.server.log_level));
  config.server.port = 0;
  server_ = std::make_unique<HttpServer>(std::move(config), /*handle_signals=*/false);
  port_ = server_->port();
  thread_ = std::thread([this] { summary_ = server_->run(); });
}

TestServer::~TestServer() {
  stop();
}

ShutdownSummary TestServer::stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
  return summary_.value_or(ShutdownSummary{});
}

}  // namespace busylab::testing
