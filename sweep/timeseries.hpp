#pragma once
// A cell's time series (cells/NNN/timeseries.csv): what the clients saw in
// each interval (the load generator's series, loadgen/series.hpp) beside
// what the server and the database were doing then, sampled by the sweep
// while the load runs: the server's /stats (pool, writer queue, busy waits)
// and, for SQLite, the WAL read from its files (sqlite/wal_file.hpp).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/report.hpp"
#include "sqlite/wal_file.hpp"

namespace busylab::sweep {

/// One server-side sample.
struct ServerSample {
  double t_s = 0;  // seconds since the measured start
  bool stats_read = false;
  double pool_waiting = 0, pool_in_use = 0;  // the pool (readers for the writer strategies)
  double writer_queued = 0, writer_in_batch = 0;
  double busy_sleeps = 0, busy_sleep_ms = 0;        // totals so far
  double checkpoint_frames = 0, checkpoint_ms = 0;  // the background checkpointer's totals so far
  WalState wal;
};

/// Samples /stats and the WAL every `interval` on its own thread from
/// start() until stop(). `wal_path` empty: no WAL columns (PostgreSQL).
class ServerSampler {
 public:
  ServerSampler(std::uint16_t port, std::filesystem::path db, std::chrono::nanoseconds interval);
  ~ServerSampler();
  ServerSampler(const ServerSampler&) = delete;
  ServerSampler& operator=(const ServerSampler&) = delete;

  /// `origin`: the measured start (t_s 0); samples at origin + k * interval.
  void start(std::chrono::steady_clock::time_point origin);
  void stop();
  const std::vector<ServerSample>& samples() const { return samples_; }

 private:
  void run();
  std::uint16_t port_;
  std::filesystem::path db_;
  std::chrono::nanoseconds interval_;
  std::chrono::steady_clock::time_point origin_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<ServerSample> samples_;
};

/// For each sample, the WAL restarts counted since the first sample that
/// read a WAL header (wal_restarts_between over consecutive readings), or
/// none before it.
std::vector<std::optional<std::uint64_t>> wal_restarts_so_far(const std::vector<ServerSample>& samples);

/// The CSV: one row per client interval, with the server sample taken at
/// (or just after) its end. Columns: t_s, requests_per_s, ok_per_s,
/// failures, p50_ms, p99_ms, max_ms, dropped, pool_waiting, pool_in_use,
/// writer_queued, busy_waits, busy_wait_ms (both in that interval), wal_bytes,
/// wal_frames, wal_backfilled, checkpoints (completed since the measured
/// start), checkpoint_frames, checkpoint_ms (the background checkpointer's
/// frames copied and time spent in that interval; 0 under "auto"). Empty fields where a figure does not exist (no
/// answers in an interval; no WAL).
std::string timeseries_csv(const std::vector<loadgen::IntervalSample>& client, const std::vector<ServerSample>& server);

}  // namespace busylab::sweep
