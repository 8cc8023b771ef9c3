#include "server/router.hpp"

#include <charconv>
#include <cstdint>

namespace busylab {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

RouteMatch found(Route route, std::string_view method, std::string_view allowed, std::string param = {}) {
  RouteMatch m;
  m.route = route;
  m.path_found = true;
  // HEAD is a GET without the body, so it is offered only where GET does not
  // write (GET /seed inserts a row).
  const bool head_ok = allowed == "GET" && route != Route::kSeed;
  m.allow = head_ok ? std::string_view("GET, HEAD") : allowed;
  m.method_allowed = method == allowed || (head_ok && method == "HEAD");
  m.param = std::move(param);
  return m;
}

}  // namespace

RouteMatch match_route(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/control") return found(Route::kControl, method, "GET");
  if (path == "/healthz") return found(Route::kHealthz, method, "GET");
  if (path == "/stats") return found(Route::kStats, method, "GET");
  if (path == "/seed") return found(Route::kSeed, method, "GET");
  if (path == "/metrics") return found(Route::kMetrics, method, "GET");
  if (path == "/dashboard") return found(Route::kDashboard, method, "GET");
  if (path == "/rows") return found(Route::kRowsInsert, method, "POST");
  if (path == "/rows/count") return found(Route::kRowsCount, method, "GET");
  if (starts_with(path, "/rows/")) {
    const auto rest = path.substr(6);
    if (!rest.empty() && rest.find('/') == std::string_view::npos) {
      // One path, two routes: GET (and HEAD) reads the row, PUT updates it.
      RouteMatch m = method == "PUT" ? found(Route::kRowsUpdate, method, "PUT", std::string(rest))
                                     : found(Route::kRowsGet, method, "GET", std::string(rest));
      m.allow = "GET, HEAD, PUT";
      return m;
    }
  }
  if (path == "/transfer") return found(Route::kTransfer, method, "POST");
  if (path == "/accounts/total") return found(Route::kAccountsTotal, method, "GET");
  if (starts_with(path, "/accounts/")) {
    const auto rest = path.substr(10);
    if (!rest.empty() && rest.find('/') == std::string_view::npos)
      return found(Route::kAccountGet, method, "GET", std::string(rest));
  }
  constexpr std::string_view kCounters = "/counters/";
  constexpr std::string_view kIncrement = "/increment";
  if (starts_with(path, kCounters) && path.size() > kCounters.size() + kIncrement.size() &&
      path.substr(path.size() - kIncrement.size()) == kIncrement) {
    const auto name = path.substr(kCounters.size(), path.size() - kCounters.size() - kIncrement.size());
    // The name is checked by the handler (400), but a path like
    // /counters/a/b/increment is simply not a counter route.
    if (name.find('/') == std::string_view::npos)
      return found(Route::kCounterIncrement, method, "POST", std::string(name));
  }
  return RouteMatch{};
}

bool parse_row_id(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return false;
  out = value;
  return true;
}

bool valid_counter_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxCounterName) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace busylab
