#pragma once
// GET /metrics: what /stats counts, in the Prometheus text exposition format
// (version 0.0.4). The counting stays where it is (sharded relaxed atomics,
// per-thread histograms); at each scrape a prometheus-cpp Collectable turns
// the current figures into metric families and prometheus-cpp's
// TextSerializer writes them. Every metric is listed in docs/http-api.md.

#include <string>
#include <string_view>

namespace busylab {

class ServerStats;
class Strategy;
struct DbStats;

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// The whole /metrics body.
std::string render_metrics(const ServerStats& server, const DbStats& db, const Strategy& strategy);

}  // namespace busylab
