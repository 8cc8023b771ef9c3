// Routing, row id parsing and counter name validation: pure functions.

#include "server/router.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace busylab {
namespace {

struct Case {
  const char* method;
  const char* target;
  Route route;
  const char* allow;
  const char* param;
};

TEST(Router, EveryRouteWithItsMethod) {
  const Case cases[] = {
      {"GET", "/control", Route::kControl, "GET, HEAD", ""},
      {"GET", "/healthz", Route::kHealthz, "GET, HEAD", ""},
      {"GET", "/stats", Route::kStats, "GET, HEAD", ""},
      {"GET", "/seed", Route::kSeed, "GET", ""},  // GET /seed writes: no HEAD
      {"POST", "/rows", Route::kRowsInsert, "POST", ""},
      {"GET", "/rows/count", Route::kRowsCount, "GET, HEAD", ""},
      {"GET", "/rows/42", Route::kRowsGet, "GET, HEAD, PUT", "42"},
      {"GET", "/rows/abc", Route::kRowsGet, "GET, HEAD, PUT", "abc"},  // the id is checked by the handler
      {"PUT", "/rows/42", Route::kRowsUpdate, "GET, HEAD, PUT", "42"},
      {"POST", "/transfer", Route::kTransfer, "POST", ""},
      {"GET", "/accounts/total", Route::kAccountsTotal, "GET, HEAD", ""},
      {"GET", "/accounts/7", Route::kAccountGet, "GET, HEAD", "7"},
      {"POST", "/counters/hits/increment", Route::kCounterIncrement, "POST", "hits"},
      {"POST", "/counters/a.b-c_d/increment", Route::kCounterIncrement, "POST", "a.b-c_d"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    const RouteMatch m = match_route(c.method, c.target);
    EXPECT_EQ(m.route, c.route);
    EXPECT_TRUE(m.path_found);
    EXPECT_TRUE(m.method_allowed);
    EXPECT_EQ(m.allow, c.allow);
    EXPECT_EQ(m.param, c.param);
  }
}

TEST(Router, QueryStringIsIgnored) {
  const RouteMatch stats = match_route("GET", "/stats?pretty=1");
  EXPECT_EQ(stats.route, Route::kStats);
  EXPECT_TRUE(stats.method_allowed);
  const RouteMatch row = match_route("GET", "/rows/7?x=/y");
  EXPECT_EQ(row.route, Route::kRowsGet);
  EXPECT_EQ(row.param, "7");
  const RouteMatch counter = match_route("POST", "/counters/c/increment?by=2");
  EXPECT_EQ(counter.route, Route::kCounterIncrement);
  EXPECT_EQ(counter.param, "c");
}

TEST(Router, HeadIsAllowedWhereGetIsAndDoesNotWrite) {
  for (const char* target : {"/healthz", "/stats", "/control", "/rows/count", "/rows/1", "/accounts/1"}) {
    SCOPED_TRACE(target);
    const RouteMatch m = match_route("HEAD", target);
    EXPECT_TRUE(m.path_found);
    EXPECT_TRUE(m.method_allowed);
    EXPECT_EQ(m.allow, std::string_view(target) == "/rows/1" ? "GET, HEAD, PUT" : "GET, HEAD");
  }
  const RouteMatch seed = match_route("HEAD", "/seed");
  EXPECT_TRUE(seed.path_found);
  EXPECT_FALSE(seed.method_allowed) << "GET /seed inserts a row, so HEAD must not run it";
  EXPECT_EQ(seed.allow, "GET");
  const RouteMatch post_only = match_route("HEAD", "/rows");
  EXPECT_TRUE(post_only.path_found);
  EXPECT_FALSE(post_only.method_allowed) << "HEAD is not POST";
  EXPECT_EQ(post_only.allow, "POST");
}

TEST(Router, WrongMethodIs405WithAllow) {
  const Case cases[] = {
      {"POST", "/stats", Route::kStats, "GET, HEAD", ""},
      {"DELETE", "/healthz", Route::kHealthz, "GET, HEAD", ""},
      {"PUT", "/control", Route::kControl, "GET, HEAD", ""},
      {"POST", "/seed", Route::kSeed, "GET", ""},
      {"GET", "/rows", Route::kRowsInsert, "POST", ""},
      {"PUT", "/rows", Route::kRowsInsert, "POST", ""},
      {"POST", "/rows/count", Route::kRowsCount, "GET, HEAD", ""},
      {"DELETE", "/rows/5", Route::kRowsGet, "GET, HEAD, PUT", "5"},
      {"GET", "/transfer", Route::kTransfer, "POST", ""},
      {"POST", "/accounts/total", Route::kAccountsTotal, "GET, HEAD", ""},
      {"PUT", "/accounts/3", Route::kAccountGet, "GET, HEAD", "3"},
      {"GET", "/counters/x/increment", Route::kCounterIncrement, "POST", "x"},
      {"HEAD", "/counters/x/increment", Route::kCounterIncrement, "POST", "x"},
      {"get", "/stats", Route::kStats, "GET, HEAD", ""},  // methods are case-sensitive
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    const RouteMatch m = match_route(c.method, c.target);
    EXPECT_TRUE(m.path_found);
    EXPECT_FALSE(m.method_allowed);
    EXPECT_EQ(m.route, c.route);
    EXPECT_EQ(m.allow, c.allow);
  }
}

TEST(Router, UnknownPathsAre404) {
  for (const char* target : {"/",
                             "",
                             "/nope",
                             "/Stats",
                             "/stats/",
                             "/statsx",
                             "/rows/",
                             "/rows/1/2",
                             "/row",
                             "/rowsx",
                             "/counters/increment",
                             "/counters//increment",
                             "/counters/a/b/increment",
                             "/counters/x",
                             "/counters/x/",
                             "/counters/x/incremen",
                             "/counters/x/increment/",
                             "healthz",
                             "//healthz",
                             "/healthz/../stats"}) {
    SCOPED_TRACE(std::string("target '") + target + "'");
    const RouteMatch m = match_route("GET", target);
    EXPECT_FALSE(m.path_found);
    EXPECT_FALSE(m.method_allowed);
    EXPECT_EQ(m.route, Route::kUnknown);
    EXPECT_TRUE(m.allow.empty());
    const RouteMatch post = match_route("POST", target);
    EXPECT_FALSE(post.path_found);
  }
}

// ---- row ids -------------------------------------------------------------------

TEST(ParseRowId, AcceptsPositiveDecimals) {
  std::int64_t id = 0;
  ASSERT_TRUE(parse_row_id("1", id));
  EXPECT_EQ(id, 1);
  ASSERT_TRUE(parse_row_id("42", id));
  EXPECT_EQ(id, 42);
  ASSERT_TRUE(parse_row_id("9223372036854775807", id));
  EXPECT_EQ(id, INT64_MAX);
  ASSERT_TRUE(parse_row_id("007", id));
  EXPECT_EQ(id, 7);
}

TEST(ParseRowId, RejectsEverythingElse) {
  for (const char* text : {"abc", "0", "-1", "9223372036854775808", "1e3", "", "+1", " 1", "1 ", "12a", "0x10", "1.0",
                           "00", "99999999999999999999", "18446744073709551616"}) {
    SCOPED_TRACE(std::string("'") + text + "'");
    std::int64_t id = -77;
    EXPECT_FALSE(parse_row_id(text, id));
    EXPECT_EQ(id, -77) << "a rejected id must leave the output alone";
  }
}

// ---- counter names -----------------------------------------------------------

TEST(CounterName, AcceptsTheAllowedAlphabet) {
  EXPECT_TRUE(valid_counter_name("a"));
  EXPECT_TRUE(valid_counter_name("Z"));
  EXPECT_TRUE(valid_counter_name("0"));
  EXPECT_TRUE(valid_counter_name("hits"));
  EXPECT_TRUE(valid_counter_name("A-z_0.9"));
  EXPECT_TRUE(valid_counter_name("..."));
  EXPECT_TRUE(valid_counter_name(std::string(kMaxCounterName, 'x')));
  EXPECT_EQ(kMaxCounterName, 64u);
}

TEST(CounterName, RejectsBadNames) {
  EXPECT_FALSE(valid_counter_name(""));
  EXPECT_FALSE(valid_counter_name(std::string(65, 'x')));
  EXPECT_FALSE(valid_counter_name("a/b"));
  EXPECT_FALSE(valid_counter_name("/"));
  EXPECT_FALSE(valid_counter_name("a b"));
  EXPECT_FALSE(valid_counter_name("a\n"));
  EXPECT_FALSE(valid_counter_name("a\tb"));
  EXPECT_FALSE(valid_counter_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_counter_name("\x01"));
  EXPECT_FALSE(valid_counter_name("\x7f"));
  EXPECT_FALSE(valid_counter_name("caf\xC3\xA9"));
  EXPECT_FALSE(valid_counter_name("%2F"));
  EXPECT_FALSE(valid_counter_name("a?b"));
  EXPECT_FALSE(valid_counter_name("a\\b"));
  EXPECT_FALSE(valid_counter_name("'; DROP TABLE counters; --"));
}

}  // namespace
}  // namespace busylab
