// `busylab watch` as a user (or a sweep) runs it: reads the row count from
// another process, reports a locked or missing database as a failed read
// instead of crashing, never creates the file, and stops cleanly on SIGTERM.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = BUSYLAB_BINARY;

// A connection of the test's own; the database uses a rollback journal so
// that BEGIN EXCLUSIVE keeps readers out.
class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open " + path);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      throw std::runtime_error(sql + ": " + message);
    }
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string make_database(const TempDir& dir, int rows) {
  const std::string path = dir.file("watched.db");
  Db db(path);
  db.exec("PRAGMA journal_mode=delete");
  db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT)");
  for (int i = 0; i < rows; ++i) db.exec("INSERT INTO rows (value) VALUES ('x')");
  return path;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) found.push_back(line);
  }
  return found;
}

TEST(Watch, CountsRowsAndStopsAfterCount) {
  TempDir dir;
  const auto db = make_database(dir, 5);
  const auto r = run_command({kBinary, "watch", db, "--count", "3", "--interval", "20ms", "--timeout", "100"},
                             dir.path().string());
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const auto polls = lines_with(r.out, " read=");
  ASSERT_EQ(polls.size(), 3u) << r.out;
  for (const auto& line : polls) {
    EXPECT_NE(line.find("rows=5 "), std::string::npos) << line;
    EXPECT_NE(line.find("read=ok"), std::string::npos) << line;
  }
  EXPECT_NE(r.out.find("watch summary: reads=3 waited=0 waited_ms=0 failed=0"), std::string::npos) << r.out;
}

// PRAGMA wal_checkpoint(TRUNCATE)'s first column: 1 when a reader kept it
// from finishing.
int checkpoint_blocked(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  int blocked = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW)
    blocked = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return blocked;
}

TEST(Watch, HoldReadKeepsACheckpointFromFinishingUntilItEnds) {
  TempDir dir;
  const auto path = make_database(dir, 3);
  Db writer(path);
  writer.exec("PRAGMA journal_mode=wal");
  writer.exec("INSERT INTO rows (value) VALUES ('y')");
  ASSERT_EQ(checkpoint_blocked(path), 0) << "nobody reads: the checkpoint finishes";
  ChildProcess watch({kBinary, "watch", path, "--count", "1", "--hold-read", "3s"}, dir.path().string());
  // Once the watcher holds its snapshot, a write after it cannot be
  // checkpointed past it: TRUNCATE reports a reader in the way.
  bool blocked = false;
  EXPECT_TRUE(wait_until([&] {
    writer.exec("INSERT INTO rows (value) VALUES ('z')");
    blocked = checkpoint_blocked(path) == 1;
    return blocked;
  })) << "the held read never blocked a checkpoint";
  const auto status = watch.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << watch.err();
  EXPECT_NE(watch.out().find("held=3000ms"), std::string::npos) << watch.out();
  EXPECT_EQ(checkpoint_blocked(path), 0) << "the hold is over: the checkpoint finishes again";
}

TEST(Watch, LockedDatabaseIsAFailedReadNotACrash) {
  TempDir dir;
  const auto path = make_database(dir, 5);
  {
    Db holder(path);
    holder.exec("BEGIN EXCLUSIVE");
    const auto r = run_command({kBinary, "watch", path, "--count", "2", "--interval", "20ms", "--timeout", "100"},
                               dir.path().string());
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    const auto failed = lines_with(r.out, "read=failed");
    ASSERT_GE(failed.size(), 1u) << r.out;
    EXPECT_NE(failed[0].find("SQLITE_BUSY"), std::string::npos) << failed[0];
    EXPECT_NE(failed[0].find("rows=-1"), std::string::npos) << failed[0];
    EXPECT_TRUE(lines_with(r.out, "read=ok").empty()) << r.out;
    EXPECT_NE(r.out.find("watch summary: reads=0 waited=0 waited_ms=0 failed=2"), std::string::npos) << r.out;
    holder.exec("ROLLBACK");
  }
  // The lock released, the same file reads fine.
  const auto r = run_command({kBinary, "watch", path, "--count", "1", "--timeout", "100"}, dir.path().string());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(lines_with(r.out, "rows=5 ").size(), 1u) << r.out;
  EXPECT_NE(r.out.find("watch summary: reads=1 waited=0 waited_ms=0 failed=0"), std::string::npos) << r.out;
}

TEST(Watch, MissingDatabaseIsAFailedReadAndIsNotCreated) {
  TempDir dir;
  const std::string missing = dir.file("missing.db");
  const auto r = run_command({kBinary, "watch", missing, "--count", "2", "--interval", "10ms"}, dir.path().string());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(lines_with(r.out, "read=failed").size(), 2u) << r.out;
  EXPECT_NE(r.out.find("failed=2"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST(Watch, BadArgumentsExit2) {
  TempDir dir;
  auto r = run_command({kBinary, "watch", dir.file("x.db"), "--interval", "soon"}, dir.path().string());
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--interval"), std::string::npos) << r.err;
  r = run_command({kBinary, "watch", dir.file("x.db"), "--count", "0"}, dir.path().string());
  EXPECT_EQ(r.status, 2) << r.out << r.err;
}

TEST(Watch, SigtermStopsAnOpenEndedWatch) {
  TempDir dir;
  const auto db = make_database(dir, 2);
  ChildProcess watch({kBinary, "watch", db, "--interval", "20ms", "--timeout", "100"}, dir.path().string());
  // Wait for a few polls, so the signal arrives while it is looping.
  ASSERT_TRUE(wait_until([&] { return lines_with(watch.out(), "read=ok").size() >= 2; })) << watch.out() << watch.err();
  watch.signal(SIGTERM);
  const auto status = watch.wait(10s);
  ASSERT_TRUE(status) << "watch did not stop after SIGTERM";
  EXPECT_EQ(*status, 0) << watch.err();
  const std::string out = watch.out();
  const auto summary = lines_with(out, "watch summary: ");
  ASSERT_EQ(summary.size(), 1u) << out;
  EXPECT_NE(summary[0].find("failed=0"), std::string::npos) << summary[0];
  // The summary is the last line.
  EXPECT_EQ(out.substr(out.rfind('\n', out.size() - 2) + 1), summary[0] + "\n");
}

}  // namespace
}  // namespace busylab::testing
