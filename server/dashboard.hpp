#pragma once
// GET /dashboard: server/dashboard.html (HTML, CSS and JavaScript in one
// file, no external resources) compiled into the binary by
// server/embed_html.cmake. The page polls /stats and draws live charts.

#include <string_view>

namespace busylab {

/// The page's text.
std::string_view dashboard_html();

}  // namespace busylab
