#pragma once
// Turns a parsed HTTP request into a database operation and its outcome into
// a status and JSON body, following the error contract in docs/http-api.md.
// Knows nothing of sockets or Beast: the session gives it plain strings.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "engine/operation.hpp"
#include "server/server_options.hpp"
#include "server/stats.hpp"

namespace busylab {

class Strategy;
class WorkerLink;
struct DbStats;

struct HttpRequest {
  std::string_view method;
  std::string_view target;
  std::string_view body;
};

struct HttpResponse {
  int status = 200;
  std::string body;               // JSON text, unless content_type says otherwise
  std::string_view content_type;  // empty: application/json
  int retry_after_s = 0;          // > 0 adds Retry-After
  std::string_view allow;         // non-empty adds Allow (405)
  Route route = Route::kUnknown;
};

/// A JSON error body {"error": error, "detail": detail}.
HttpResponse error_response(int status, std::string_view error, std::string_view detail);

class Handlers {
 public:
  /// With `cluster` (server.processes > 1), /stats and /metrics answer for
  /// every worker process, not only this one.
  Handlers(const Config& config, Strategy& strategy, ServerStats& stats, DbStats& db_stats,
           const std::atomic<bool>& draining, WorkerLink* cluster = nullptr)
      : config_(config),
        strategy_(strategy),
        stats_(stats),
        db_stats_(db_stats),
        draining_(draining),
        cluster_(cluster) {}

  /// Handles one request. Never throws: an unexpected exception becomes a
  /// 500 and is logged. Records the route and status in the stats.
  /// Thread-safe (many sessions call it at once).
  boost::asio::awaitable<HttpResponse> handle(HttpRequest request);

  /// The /stats document.
  std::string stats_body() const;
  /// The /metrics text (Prometheus exposition format 0.0.4).
  std::string metrics_body() const;

 private:
  boost::asio::awaitable<HttpResponse> dispatch(const HttpRequest& request);
  /// Runs `op` through the strategy, again after a lock or serialization
  /// conflict as database.retry allows (a conflict is always rolled back:
  /// nothing of the failed try is in the database).
  boost::asio::awaitable<OpOutcome> execute(Operation op);

  const Config& config_;
  Strategy& strategy_;
  ServerStats& stats_;
  DbStats& db_stats_;
  const std::atomic<bool>& draining_;
  WorkerLink* cluster_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace busylab
