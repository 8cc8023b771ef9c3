#pragma once
// Request and connection counters for /stats and the shutdown summary.
// Thread-safe: lock-free atomics, recorded by every io thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

namespace busylab {

enum class Route : std::uint8_t {
  kControl,
  kHealthz,
  kStats,
  kRowsInsert,
  kRowsCount,
  kRowsGet,
  kCounterIncrement,
  kSeed,
  kUnknown,  // no route matched, or the request could not be parsed
  kCount_,
};

std::string_view to_string(Route r);

class ServerStats {
 public:
  void record(Route route, int status);
  void writes_acknowledged(std::uint64_t n = 1) { writes_acknowledged_.fetch_add(n, std::memory_order_relaxed); }
  void connection_opened() {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    active_.fetch_add(1, std::memory_order_relaxed);
  }
  void connection_closed() { active_.fetch_sub(1, std::memory_order_relaxed); }
  void accept_error() { accept_errors_.fetch_add(1, std::memory_order_relaxed); }

  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  std::uint64_t acknowledged() const { return writes_acknowledged_.load(std::memory_order_relaxed); }
  std::int64_t active_connections() const { return active_.load(std::memory_order_relaxed); }
  std::uint64_t count(Route route, int status) const;

  /// {"total", "by_route": {route: {status: n}}, "connections": {...}, "writes_acknowledged"}
  nlohmann::json to_json() const;

 private:
  static constexpr int kStatuses = 600;
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kCount_);
  std::array<std::array<std::atomic<std::uint64_t>, kStatuses>, kRoutes> by_route_{};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> writes_acknowledged_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::int64_t> active_{0};
  std::atomic<std::uint64_t> accept_errors_{0};
};

}  // namespace busylab
