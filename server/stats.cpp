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

void ServerStats::record(Route route, int status, std::chrono::nanoseconds duration) {
  Shard& s = shard();
  const auto r = static_cast<std::size_t>(route);
  s.requests.fetch_add(1, std::memory_order_relaxed);
  if (status < 0 || status >= kStatuses) status = 0;
  s.by_route[r][static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(duration).count();
  std::size_t bucket = 0;
  while (bucket < kDurationBounds.size() && seconds > kDurationBounds[bucket]) ++bucket;
  s.duration_buckets[r][bucket].fetch_add(1, std::memory_order_relaxed);
  s.duration_us[r].fetch_add(
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(duration).count()),
      std::memory_order_relaxed);
}

ServerStats::Durations ServerStats::durations(Route route) const {
  Durations d;
  std::array<std::uint64_t, kDurationBounds.size() + 1> per_bucket{};
  std::uint64_t us = 0;
  for (std::size_t r = 0; r < kRoutes; ++r) {
    if (route != Route::kCount_ && r != static_cast<std::size_t>(route)) continue;
    for (const auto& s : shards_) {
      for (std::size_t b = 0; b < per_bucket.size(); ++b)
        per_bucket[b] += s.duration_buckets[r][b].load(std::memory_order_relaxed);
      us += s.duration_us[r].load(std::memory_order_relaxed);
    }
  }
  std::uint64_t running = 0;
  for (std::size_t b = 0; b < kDurationBounds.size(); ++b) {
    running += per_bucket[b];
    d.cumulative[b] = running;
  }
  d.count = running + per_bucket.back();
  d.sum_seconds = static_cast<double>(us) / 1e6;
  return d;
}

void ServerStats::add(const ServerStats& other) {
  auto plus = [](std::atomic<std::uint64_t>& to, const std::atomic<std::uint64_t>& from,
                 std::memory_order order = std::memory_order_relaxed) {
    if (const auto n = from.load(order)) to.fetch_add(n, std::memory_order_relaxed);
  };
  for (std::size_t i = 0; i < kShards; ++i) {
    Shard& to = shards_[i];
    const Shard& from = other.shards_[i];
    plus(to.writes_acknowledged, from.writes_acknowledged, std::memory_order_acquire);
    plus(to.requests, from.requests);
    for (std::size_t r = 0; r < kRoutes; ++r) {
      for (std::size_t st = 0; st < static_cast<std::size_t>(kStatuses); ++st)
        plus(to.by_route[r][st], from.by_route[r][st]);
      for (std::size_t b = 0; b < to.duration_buckets[r].size(); ++b)
        plus(to.duration_buckets[r][b], from.duration_buckets[r][b]);
      plus(to.duration_us[r], from.duration_us[r]);
    }
  }
  plus(accepted_, other.accepted_);
  active_.fetch_add(other.active_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  plus(accept_errors_, other.accept_errors_);
}

std::uint64_t ServerStats::requests() const {
  return sum([](const Shard& s) -> const std::atomic<std::uint64_t>& { return s.requests; });
}

std::uint64_t ServerStats::acknowledged() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s.writes_acknowledged.load(std::memory_order_acquire);
  return n;
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
  const Durations all = durations(Route::kCount_);
  return {{"total", requests()},
          {"duration_seconds",
           {{"le", kDurationBounds}, {"cumulative", all.cumulative}, {"count", all.count}, {"sum", all.sum_seconds}}},
          {"by_route", routes},
          {"writes_acknowledged", acknowledged()},
          {"connections",
           {{"active", active_connections()},
            {"accepted", accepted_.load(std::memory_order_relaxed)},
            {"accept_errors", accept_errors_.load(std::memory_order_relaxed)}}}};
}

}  // namespace busylab
