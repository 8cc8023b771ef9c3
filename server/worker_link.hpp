#pragma once
// What the HTTP server needs from the other worker processes when it is one
// of several (server.processes > 1): counters that live in shared memory,
// and /stats and /metrics answered for all of them. Implemented by
// cluster/cluster.hpp's ClusterMember; server/ knows only this interface, so
// that cluster/ (the supervisor, the shared board) sits above server/ and
// every include runs one way.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace busylab {

class ServerStats;
struct DbStats;
struct Config;
class Strategy;

class WorkerLink {
 public:
  virtual ~WorkerLink() = default;

  /// This worker's counters, in memory every worker can read.
  virtual ServerStats& server_stats() const = 0;
  virtual DbStats& db_stats() const = 0;

  /// Starts publishing `strategy`'s figures for the other workers; call
  /// once it exists.
  virtual void attach(const Strategy& strategy, const std::atomic<bool>& draining) = 0;
  /// Stops publishing and publishes a last snapshot (`forced`: the drain ran
  /// out of time). Call after the strategy closed. Idempotent.
  virtual void detach(bool forced) = 0;

  /// Asks every worker for fresh figures and waits for them (bounded).
  virtual boost::asio::awaitable<void> refresh() = 0;
  /// The /stats document over all workers.
  virtual nlohmann::json stats_document(const Config& config) const = 0;
  /// The /metrics text over all workers.
  virtual std::string metrics_text() const = 0;
};

}  // namespace busylab
