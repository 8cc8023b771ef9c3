// The io-thread guard: SQLite use on a thread marked as an io thread is
// counted, use elsewhere is not.

#include "common/thread_role.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "engine/db_stats.hpp"
#include "sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab {
namespace {

TEST(ThreadRole, ScopeMarksOnlyTheCallingThread) {
  EXPECT_FALSE(thread_role::is_io_thread());
  {
    thread_role::IoThreadScope io;
    EXPECT_TRUE(thread_role::is_io_thread());
    bool other = true;
    std::thread([&] { other = thread_role::is_io_thread(); }).join();
    EXPECT_FALSE(other);
  }
  EXPECT_FALSE(thread_role::is_io_thread());
}

TEST(ThreadRole, SqliteOnAnIoThreadIsCounted) {
  testing::TempDir dir;
  DatabaseOptions options;
  options.path = dir.file("guard.db");
  DbStats stats;
  {
    Database db(options, &stats);
    db.exec("CREATE TABLE t(x)");
  }
  EXPECT_EQ(stats.io_thread_violations.load(), 0u);
  {
    thread_role::IoThreadScope io;
    Database db(options, &stats);
    db.exec("INSERT INTO t VALUES(1)");
  }
  // The open, its pragmas and the insert: every call is counted.
  EXPECT_GE(stats.io_thread_violations.load(), 2u);
}

}  // namespace
}  // namespace busylab
