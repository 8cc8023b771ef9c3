#pragma once
// Request and connection counters for /stats and the shutdown summary.
// Thread-safe: lock-free atomics, recorded by every io thread into its own
// shard.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "server/route.hpp"

namespace busylab {

class ServerStats {
 public:
  /// Upper bounds of the request-duration buckets, in seconds (Prometheus
  /// style; a last, unbounded bucket follows).
  static constexpr std::array<double, 16> kDurationBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

  /// Cumulative request-duration buckets of one route, or of all of them.
  struct Durations {
    std::array<std::uint64_t, kDurationBounds.size()> cumulative{};  // requests <= each bound
    std::uint64_t count = 0;                                         // all requests (the +Inf bucket)
    double sum_seconds = 0;
  };

  void record(Route route, int status, std::chrono::nanoseconds duration = {});
  // Release: a reader that sees an acknowledgement (acquire) also sees the
  // commit that preceded it, so acknowledged <= committed in any snapshot
  // that reads acknowledgements first.
  void writes_acknowledged(std::uint64_t n = 1) { shard().writes_acknowledged.fetch_add(n, std::memory_order_release); }
  void connection_opened() {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    active_.fetch_add(1, std::memory_order_relaxed);
  }
  void connection_closed() { active_.fetch_sub(1, std::memory_order_relaxed); }
  void accept_error() { accept_errors_.fetch_add(1, std::memory_order_relaxed); }
  /// The process that held this object's connections is gone: none is open.
  void connections_lost() { active_.store(0, std::memory_order_relaxed); }
  /// Adds every figure `other` holds now (totals over worker processes).
  /// Reads other's acknowledgements with acquire (see writes_acknowledged).
  void add(const ServerStats& other);

  std::uint64_t requests() const;
  std::uint64_t acknowledged() const;
  std::int64_t active_connections() const { return active_.load(std::memory_order_relaxed); }
  std::uint64_t count(Route route, int status) const;
  /// The route's durations; Route::kCount_ for all routes together.
  Durations durations(Route route) const;

  /// {"total", "by_route": {route: {status: n}}, "connections": {...}, "writes_acknowledged",
  ///  "duration_seconds": {"le": [...], "cumulative": [...], "count", "sum"}}
  nlohmann::json to_json() const;

 private:
  static constexpr int kStatuses = 600;
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kCount_);
  static constexpr std::size_t kShards = 8;
  // Each io thread counts into its own shard (its own cache lines), so
  // threads do not fight over one counter; readers add the shards up.
  struct alignas(64) Shard {
    std::array<std::array<std::atomic<std::uint64_t>, kStatuses>, kRoutes> by_route{};
    // Per route: requests per duration bucket (not cumulative; the last is
    // above every bound) and the total time in microseconds.
    std::array<std::array<std::atomic<std::uint64_t>, kDurationBounds.size() + 1>, kRoutes> duration_buckets{};
    std::array<std::atomic<std::uint64_t>, kRoutes> duration_us{};
    alignas(64) std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> writes_acknowledged{0};
  };
  Shard& shard();
  template <class Get>
  std::uint64_t sum(Get get) const;

  std::array<Shard, kShards> shards_{};
  alignas(64) std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::int64_t> active_{0};
  std::atomic<std::uint64_t> accept_errors_{0};
};

/// Inserts answered 2xx: POST /rows (201) and GET /seed (200).
inline std::uint64_t rows_inserted(const ServerStats& stats) {
  return stats.count(Route::kRowsInsert, 201) + stats.count(Route::kSeed, 200);
}

}  // namespace busylab
