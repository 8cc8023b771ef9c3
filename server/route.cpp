#include "server/route.hpp"

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
    case Route::kMetrics:
      return "metrics";
    case Route::kDashboard:
      return "dashboard";
    case Route::kRowsUpdate:
      return "rows_update";
    case Route::kTransfer:
      return "transfer";
    case Route::kAccountGet:
      return "account_get";
    case Route::kAccountsTotal:
      return "accounts_total";
    default:
      return "unknown";
  }
}

}  // namespace busylab
