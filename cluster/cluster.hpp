#pragma once
// Several worker processes behind one port and one database
// (server.processes > 1): the memory they share, and how whichever worker a
// GET /stats or /metrics reaches answers for all of them.
//
// The supervisor maps one region (MAP_SHARED | MAP_ANONYMOUS) before it
// forks the workers. Each worker has a slot in it that holds:
//  - its ServerStats and DbStats, which the worker counts into directly:
//    every worker's request, write and failure counters are live and exact
//    for any reader, and stay there when the worker dies;
//  - a snapshot of its strategy's figures (pools, writer, histograms), which
//    live in the worker's own heap: the worker copies them into the slot, as
//    JSON, whenever another worker asks (a counter in shared memory that
//    doubles as a futex word), under a robust process-shared mutex.
// Totals read every worker's acknowledgements before any worker's commits,
// so acknowledged <= committed holds in every answer (server/stats.hpp).

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/worker_link.hpp"
#include "strategy/strategy.hpp"

namespace busylab {

class ServerStats;
struct DbStats;
struct Config;
struct WorkerSlot;
struct BoardHeader;

/// Figures added up over the workers.
struct ClusterTotals {
  std::unique_ptr<ServerStats> server;
  std::unique_ptr<DbStats> db;
  nlohmann::json strategy;                           // a stats_json() document over every worker
  std::vector<StrategyHistogram> histograms;         // merged by kind and pool
  nlohmann::json workers = nlohmann::json::array();  // one /stats-like document per worker
  bool any_forced = false;                           // a worker's drain ran out of time
  ClusterTotals();
  ~ClusterTotals();
  ClusterTotals(ClusterTotals&&) noexcept;
};

/// The shared region. Created by the supervisor before the first fork;
/// every process holds the same mapping.
class WorkerBoard {
 public:
  /// Throws std::runtime_error when the region cannot be mapped.
  explicit WorkerBoard(int workers);
  ~WorkerBoard();
  WorkerBoard(const WorkerBoard&) = delete;
  WorkerBoard& operator=(const WorkerBoard&) = delete;

  int size() const { return workers_; }
  ServerStats& server_stats(int worker) const;
  DbStats& db_stats(int worker) const;

  // ---- supervisor --------------------------------------------------------
  /// Worker `worker` runs as `pid` from now on (a new start of it). Both
  /// the supervisor and the new process call it; the first call counts.
  void started(int worker, int pid);
  /// Its process is gone: not running, no connection open.
  void stopped(int worker);
  bool ready(int worker) const;
  int starts(int worker) const;

  // ---- workers -----------------------------------------------------------
  void mark_ready(int worker);
  /// The worker stopped serving (its last snapshot is published).
  void stopped_serving(int worker);
  /// Copies `snapshot` (JSON text) into the worker's slot as its answer to
  /// request `generation`. Too large a snapshot is replaced by an error note.
  void publish(int worker, const std::string& snapshot, std::uint32_t generation);
  /// Asks every worker for a fresh snapshot; returns the request's generation.
  std::uint32_t request_snapshots();
  /// True once every running worker (other than `except`) answered `generation`.
  bool answered(std::uint32_t generation, int except) const;
  /// Blocks until a new request (or `timeout_ms`, or wake()); returns the latest generation.
  std::uint32_t wait_for_request(std::uint32_t seen, int timeout_ms) const;

  /// Totals and per-worker documents. `include_stopped` counts the strategy
  /// figures of workers that are not running (the exit summary); otherwise
  /// those come from running workers only.
  ClusterTotals collect(bool include_stopped) const;
  /// Seconds since the board was created.
  double uptime_s() const;

 private:
  WorkerSlot& slot(int worker) const;
  int workers_ = 0;
  std::size_t bytes_ = 0;
  void* region_ = nullptr;
  BoardHeader* header_ = nullptr;
  WorkerSlot* slots_ = nullptr;
};

/// A worker's side of the board: publishes its strategy's figures when asked
/// (on its own thread, so that busy io threads do not delay the answer), and
/// builds /stats and /metrics for all workers.
class ClusterMember final : public WorkerLink {
 public:
  ClusterMember(WorkerBoard& board, int worker);
  ~ClusterMember();
  ClusterMember(const ClusterMember&) = delete;
  ClusterMember& operator=(const ClusterMember&) = delete;

  int worker() const { return worker_; }
  ServerStats& server_stats() const override { return board_.server_stats(worker_); }
  DbStats& db_stats() const override { return board_.db_stats(worker_); }

  /// Starts publishing `strategy`'s figures; call once it exists.
  void attach(const Strategy& strategy, const std::atomic<bool>& draining) override;
  /// Stops the publishing thread and publishes a last snapshot (`forced`:
  /// the drain ran out of time). Call after the strategy closed, before it
  /// is destroyed. Idempotent.
  void detach(bool forced) override;

  /// Asks every worker for fresh figures and waits for them (at most 250 ms:
  /// a worker that does not answer in time is shown with its last snapshot
  /// and that snapshot's age).
  boost::asio::awaitable<void> refresh() override;
  /// The /stats document over all workers.
  nlohmann::json stats_document(const Config& config) const override;
  /// The /metrics text over all workers.
  std::string metrics_text() const override;

 private:
  void publish(std::uint32_t generation, bool final, bool forced);
  void publisher_loop();
  void stop_publisher();

  WorkerBoard& board_;
  const int worker_;
  const Strategy* strategy_ = nullptr;
  const std::atomic<bool>* draining_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::thread publisher_;
};

}  // namespace busylab
