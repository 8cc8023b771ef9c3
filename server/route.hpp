#pragma once
// The routes busylab serves. The router produces one, the statistics count by
// it; neither depends on the other.

#include <cstdint>
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
  kMetrics,
  kDashboard,
  kRowsUpdate,
  kTransfer,
  kAccountGet,
  kAccountsTotal,
  kUnknown,  // no route matched, or the request could not be parsed
  kCount_,
};

/// The route's name in /stats ("rows_insert", ...).
std::string_view to_string(Route r);

}  // namespace busylab
