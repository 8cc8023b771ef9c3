#pragma once
// How requests get a connection (`pool.*`).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

namespace busylab {

class ConfigObject;

enum class StrategyKind { kPerRequest, kPool, kSingleWriter, kBatched };
std::string_view to_string(StrategyKind k);

struct PoolOptions {
  StrategyKind strategy = StrategyKind::kPool;
  /// Connections (pool), concurrent fresh connections (per_request), or
  /// reader connections (single_writer, batched).
  int size = 4;
  /// Longest wait for a connection before 503 pool_timeout.
  std::int64_t checkout_timeout_ms = 5000;
  /// DBConnection-style shedding; 0 disables it. Both must be set together.
  std::int64_t queue_target_ms = 0;
  std::int64_t queue_interval_ms = 0;
  /// Most requests allowed to wait for a connection; beyond it: 503 overloaded.
  int max_waiters = 4096;
  /// Most writes one batched transaction commits together.
  int max_batch = 64;

  static PoolOptions from_config(ConfigObject& object);
  nlohmann::json to_json() const;
};

}  // namespace busylab
