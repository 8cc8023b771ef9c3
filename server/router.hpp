#pragma once
// Maps a method and a request target to a route, with the path parameter
// (row id or counter name) still as text. Pure functions, no I/O.

#include <string>
#include <string_view>

#include "server/route.hpp"

namespace busylab {

struct RouteMatch {
  Route route = Route::kUnknown;
  bool path_found = false;      // false: 404
  bool method_allowed = false;  // false with path_found: 405
  std::string_view allow;       // methods allowed on the path, for the Allow header
  std::string param;            // {id} or {name}
};

RouteMatch match_route(std::string_view method, std::string_view target);

/// Parses a row id: decimal digits only, 1..INT64_MAX. False otherwise.
bool parse_row_id(std::string_view text, std::int64_t& out);

/// A counter name: 1-64 characters of [A-Za-z0-9_.-].
inline constexpr std::size_t kMaxCounterName = 64;
bool valid_counter_name(std::string_view name);

}  // namespace busylab
