#pragma once
// GET /metrics: what /stats counts, in the Prometheus text exposition format
// (version 0.0.4). The counting stays where it is (sharded relaxed atomics,
// per-thread histograms); at each scrape a prometheus-cpp Collectable turns
// the current figures into metric families and prometheus-cpp's
// TextSerializer writes them. Every metric is listed in docs/http-api.md.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "strategy/strategy.hpp"

namespace busylab {

class ServerStats;
struct DbStats;

/// What one exposition is made of: the server's counters, the strategy's
/// figures (a stats_json() document) and histograms, and with several
/// worker processes the `workers` array of /stats (null otherwise).
struct MetricsSource {
  const ServerStats& server;
  const DbStats& db;
  nlohmann::json strategy;
  std::vector<StrategyHistogram> histograms;
  nlohmann::json workers;
};

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// The whole /metrics body.
std::string render_metrics(const MetricsSource& source);
std::string render_metrics(const ServerStats& server, const DbStats& db, const Strategy& strategy);

}  // namespace busylab
