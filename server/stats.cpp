#include "server/stats.hpp"

#include <nlohmann/json.hpp>

namespace busylab {

namespace {
std::atomic<unsigned> next_shard{0};
}

ServerStats::Shard& ServerStats::shard() {
  // A thread keeps the shard it first drew, whichever ServerStats it counts into.
  thread_local const unsigned index = next_shard.fetch_add(1, std::memory_order_relaxed);
  return shards_[index % kShards];
}

template <class Get>
std::uint64_t ServerStats::sum(Get get) const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += get(s).load(std::memory_order_relaxed);
  return n;
}

void ServerStats::record(Route route, int status) {
  Shard& s = shard();
  s.requests.fetch_add(1, std::memory_order_relaxed);
  if (status < 0 || status >= kStatuses) status = 0;
  s.by_route[static_cast<std::size_t>(route)][static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t ServerStats::requests() const {
  return sum([](const Shard& s) -> const std::atomic<std::uint64_t>& { return s.requests; });
}

std::uint64_t ServerStats::acknowledged() const {
  return sum([](const Shard& s) -> const std::atomic<std::uint64_t>& { return s.writes_acknowledged; });
}

std::uint64_t ServerStats::count(Route route, int status) const {
  if (status < 0 || status >= kStatuses) return 0;
  return sum([&](const Shard& s) -> const std::atomic<std::uint64_t>& {
    return s.by_route[static_cast<std::size_t>(route)][static_cast<std::size_t>(status)];
  });
}

nlohmann::json ServerStats::to_json() const {
  nlohmann::json routes = nlohmann::json::object();
  for (std::size_t r = 0; r < kRoutes; ++r) {
    nlohmann::json statuses = nlohmann::json::object();
    for (int s = 0; s < kStatuses; ++s) {
      if (auto n = count(static_cast<Route>(r), s)) {
        statuses[std::to_string(s)] = n;
      }
    }
    if (!statuses.empty()) routes[std::string(to_string(static_cast<Route>(r)))] = statuses;
  }
  return {{"total", requests()},
          {"by_route", routes},
          {"writes_acknowledged", acknowledged()},
          {"connections",
           {{"active", active_connections()},
            {"accepted", accepted_.load(std::memory_order_relaxed)},
            {"accept_errors", accept_errors_.load(std::memory_order_relaxed)}}}};
}

}  // namespace busylab
