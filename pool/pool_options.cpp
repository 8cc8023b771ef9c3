#include "pool/pool_options.hpp"

#include <nlohmann/json.hpp>

#include "common/config_reader.hpp"

namespace busylab {

std::string_view to_string(StrategyKind k) {
  switch (k) {
    case StrategyKind::kPerRequest:
      return "per_request";
    case StrategyKind::kPool:
      return "pool";
    case StrategyKind::kSingleWriter:
      return "single_writer";
    case StrategyKind::kBatched:
      return "batched";
  }
  return "?";
}

PoolOptions PoolOptions::from_config(ConfigObject& o) {
  PoolOptions p;
  o.read_enum("strategy", p.strategy,
              {{"per_request", StrategyKind::kPerRequest},
               {"pool", StrategyKind::kPool},
               {"single_writer", StrategyKind::kSingleWriter},
               {"batched", StrategyKind::kBatched}});
  o.read("size", p.size, 1, 1024);
  o.read("checkout_timeout_ms", p.checkout_timeout_ms, 1, 3'600'000);
  o.read("queue_target_ms", p.queue_target_ms, 0, 3'600'000);
  o.read("queue_interval_ms", p.queue_interval_ms, 0, 3'600'000);
  if ((p.queue_target_ms == 0) != (p.queue_interval_ms == 0)) {
    o.fail(p.queue_target_ms == 0 ? "queue_target_ms" : "queue_interval_ms",
           "queue_target_ms and queue_interval_ms enable shedding together; set both or neither");
  }
  o.read("max_waiters", p.max_waiters, 1, 1'000'000);
  o.read("max_batch", p.max_batch, 1, 100'000);
  o.finish();
  return p;
}

nlohmann::json PoolOptions::to_json() const {
  return {{"strategy", to_string(strategy)},
          {"size", size},
          {"checkout_timeout_ms", checkout_timeout_ms},
          {"queue_target_ms", queue_target_ms},
          {"queue_interval_ms", queue_interval_ms},
          {"max_waiters", max_waiters},
          {"max_batch", max_batch}};
}

}  // namespace busylab
