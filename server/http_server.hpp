#pragma once
// The busylab HTTP service: an io_context run by server.threads threads, a
// listener, one coroutine per connection (Beast, HTTP/1.1 keep-alive), the
// handlers, and the connection strategy behind them. Beast stays inside
// http_server.cpp; this header only shows what main() and tests need.

#include <cstdint>
#include <memory>
#include <string>

#include "server/server_options.hpp"

namespace busylab {

class Strategy;
class ServerStats;
class WorkerLink;
struct DbStats;

/// What makes a worker process of a multi-process server
/// (server.processes > 1, see cluster/supervisor.hpp) different: it accepts
/// on a listening socket the supervisor opened, counts into its slot of the
/// shared memory and answers /stats and /metrics for every worker, leaves
/// the schema and the final checkpoint to the supervisor, and does not cut
/// its drain short on a second signal (the supervisor decides that).
struct WorkerSetup {
  int listen_fd = -1;
  WorkerLink* cluster = nullptr;
};

/// Figures printed when the server stops.
struct ShutdownSummary {
  std::uint64_t requests = 0;
  std::uint64_t writes_acknowledged = 0;
  std::uint64_t writes_committed = 0;
  std::uint64_t rows_inserted = 0;  // acknowledged inserts (POST /rows 201, GET /seed 200)
  std::uint64_t busy_errors = 0;
  std::uint64_t busy_snapshot_errors = 0;
  std::uint64_t pool_timeouts = 0;
  std::uint64_t shed = 0;
  bool forced = false;  // grace period ran out with requests in flight
  int processes = 1;    // worker processes (server.processes)
  int restarts = 0;     // workers restarted after dying
  bool wal = false;     // journal_mode wal: a checkpoint was attempted
  bool checkpointed = true;
  std::string checkpoint_error;
  std::uint64_t lock_waits_cut = 0;  // lock waits given up when the grace period ran out

  std::string line() const;
};

class HttpServer {
 public:
  /// With `handle_signals`, first takes over SIGINT and SIGTERM (before
  /// anything else, so that a signal sent as soon as the port is bound or
  /// announced is never handled by the default action); a signal that
  /// arrives before run() is kept and begins the graceful shutdown as soon
  /// as run() starts. Then prepares the database (schema, journal mode),
  /// opens the strategy's connections and binds the listening socket. Throws
  /// DatabaseError when the database cannot be opened or is not a database,
  /// and boost::system::system_error when the address cannot be bound.
  /// In-process users (tests) pass false and stop the server with stop().
  explicit HttpServer(Config config, bool handle_signals = false, const WorkerSetup* worker = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound address and port (the real port when server.port is 0).
  std::string address() const;
  std::uint16_t port() const;

  /// Serves until stop() or, when constructed with `handle_signals`,
  /// SIGINT/SIGTERM (including one received between construction and this
  /// call); then drains (bounded by server.shutdown_grace_ms), closes the
  /// strategy and checkpoints the WAL. A second signal while draining exits
  /// the process at once with status 1. Blocks; call once.
  ShutdownSummary run();

  /// Begins the graceful shutdown. Thread-safe; idempotent.
  void stop();

  const Config& config() const;
  ServerStats& stats();
  DbStats& db_stats();
  Strategy& strategy();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace busylab
