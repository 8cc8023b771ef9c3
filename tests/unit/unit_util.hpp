#pragma once
// Small helpers shared by the unit tests (a header, so the unit glob does not
// compile it on its own).

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <exception>
#include <string>
#include <string_view>

namespace busylab::unit {

inline ::testing::AssertionResult assert_contains(const char* haystack_expr, const char* needle_expr,
                                                  std::string_view haystack, std::string_view needle) {
  if (haystack.find(needle) != std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystack_expr << " does not contain " << needle_expr << "\n  text:   \""
                                       << haystack << "\"\n  wanted: \"" << needle << "\"";
}

inline ::testing::AssertionResult assert_not_contains(const char* haystack_expr, const char* needle_expr,
                                                      std::string_view haystack, std::string_view needle) {
  if (haystack.find(needle) == std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystack_expr << " contains " << needle_expr << "\n  text:   \"" << haystack
                                       << "\"\n  unwanted: \"" << needle << "\"";
}

/// The message of the exception of type E that `fn` throws; records a test
/// failure (and returns "") when it throws nothing or something else.
template <class E, class Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an exception, nothing was thrown";
  return {};
}

/// Runs SQL on a raw SQLite connection (the tests' own, not busylab's);
/// a failure is a test failure with SQLite's message.
inline void exec_sql(sqlite3* db, const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error ? error : "");
  sqlite3_free(error);
}

}  // namespace busylab::unit

#define EXPECT_CONTAINS(haystack, needle) EXPECT_PRED_FORMAT2(::busylab::unit::assert_contains, haystack, needle)
#define EXPECT_NOT_CONTAINS(haystack, needle) \
  EXPECT_PRED_FORMAT2(::busylab::unit::assert_not_contains, haystack, needle)
