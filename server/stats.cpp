#include "server/stats.hpp"

#include <nlohmann/json.hpp>

namespace busylab {

std::string_view to_string(Route r) {
  switch (r) {
    case Route::kControl:
      return "control";
    case Route::kHealthz:
      return "healthz";
    case Route::kStats:
      return "stats";
    case Route::kRowsInsert:
      return "rows_insert";
    case Route::kRowsCount:
      return "rows_count";
    case Route::kRowsGet:
      return "rows_get";
    case Route::kCounterIncrement:
      return "counter_increment";
    case Route::kSeed:
      return "seed";
    default:
      return "unknown";
  }
}

void ServerStats::record(Route route, int status) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (status < 0 || status >= kStatuses) status = 0;
  by_route_[static_cast<std::size_t>(route)][static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t ServerStats::count(Route route, int status) const {
  if (status < 0 || status >= kStatuses) return 0;
  return by_route_[static_cast<std::size_t>(route)][static_cast<std::size_t>(status)].load(std::memory_order_relaxed);
}

nlohmann::json ServerStats::to_json() const {
  nlohmann::json routes = nlohmann::json::object();
  for (std::size_t r = 0; r < kRoutes; ++r) {
    nlohmann::json statuses = nlohmann::json::object();
    for (int s = 0; s < kStatuses; ++s) {
      if (auto n = by_route_[r][static_cast<std::size_t>(s)].load(std::memory_order_relaxed)) {
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
