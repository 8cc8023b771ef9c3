#pragma once
// Request and connection counters for /stats and the shutdown summary.
// Thread-safe: lock-free atomics, recorded by every io thread into its own
// shard.

#include <array>
#include <atomic>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "server/route.hpp"

namespace busylab {

class ServerStats {
 public:
  void record(Route route, int status);
  void writes_acknowledged(std::uint64_t n = 1) { shard().writes_acknowledged.fetch_add(n, std::memory_order_relaxed); }
  void connection_opened() {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    active_.fetch_add(1, std::memory_order_relaxed);
  }
  void connection_closed() { active_.fetch_sub(1, std::memory_order_relaxed); }
  void accept_error() { accept_errors_.fetch_add(1, std::memory_order_relaxed); }

  std::uint64_t requests() const;
  std::uint64_t acknowledged() const;
  std::int64_t active_connections() const { return active_.load(std::memory_order_relaxed); }
  std::uint64_t count(Route route, int status) const;

  /// {"total", "by_route": {route: {status: n}}, "connections": {...}, "writes_acknowledged"}
  nlohmann::json to_json() const;

 private:
  static constexpr int kStatuses = 600;
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kCount_);
  static constexpr std::size_t kShards = 8;
  // Each io thread counts into its own shard (its own cache lines), so
  // threads do not fight over one counter; readers add the shards up.
  struct alignas(64) Shard {
    std::array<std::array<std::atomic<std::uint64_t>, kStatuses>, kRoutes> by_route{};
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

}  // namespace busylab
