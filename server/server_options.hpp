#pragma once
// Listener and HTTP settings (`server.*`) and the whole config file.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/database_options.hpp"
#include "pool/pool_options.hpp"

namespace busylab {

class ConfigObject;

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 8080;                          // 0 picks a free port
  int threads = 0;                          // io threads per process; 0 = cores / processes (at least 1)
  int processes = 1;                        // worker processes on one port and one database
  std::int64_t header_timeout_ms = 10'000;  // whole request header must arrive within this
  std::int64_t idle_timeout_ms = 30'000;    // keep-alive connection with no request
  std::int64_t body_timeout_ms = 30'000;    // request body must arrive within this
  std::int64_t write_timeout_ms = 30'000;   // response must be taken by the client within this
  std::int64_t body_limit = 64 * 1024;      // bytes; larger bodies get 413
  std::int64_t header_limit = 8 * 1024;     // bytes; larger headers get 431
  std::int64_t shutdown_grace_ms = 10'000;  // in-flight requests get this long after SIGTERM
  std::string log_level = "info";

  static ServerOptions from_config(ConfigObject& object);
  nlohmann::json to_json() const;
  /// io threads each process runs: `threads`, or when 0 the number of
  /// cores shared out among the processes (at least 1 each).
  int effective_threads() const;
  /// The largest server.processes accepted: 16 per core.
  static int max_processes();
};

struct Config {
  ServerOptions server;
  DatabaseOptions database;
  PoolOptions pool;

  nlohmann::json to_json() const;
};

/// Validates a whole config document; `origin` prefixes error messages.
Config config_from_json(const nlohmann::json& doc, std::string_view origin);

/// Reads `file` (defaults only when empty), then applies the `key=value`
/// overrides and validates again. Throws ConfigError with a message naming
/// the file or the --set override.
Config load_config(const std::optional<std::filesystem::path>& file, const std::vector<std::string>& overrides);

}  // namespace busylab
