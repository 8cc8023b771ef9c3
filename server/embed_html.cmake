# Writes OUTPUT, a C++ file defining busylab::dashboard_html(), from INPUT
# (server/dashboard.html) as one raw string literal. Run at build time, so
# editing the page needs no other change.
file(READ "${INPUT}" content)
string(FIND "${content}" ")DASHBOARD_HTML" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )DASHBOARD_HTML")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from server/dashboard.html by server/embed_html.cmake: do not edit.
#include \"server/dashboard.hpp\"

namespace busylab {

std::string_view dashboard_html() {
  static constexpr std::string_view kPage = R\"DASHBOARD_HTML(${content})DASHBOARD_HTML\";
  return kPage;
}

}  // namespace busylab
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
