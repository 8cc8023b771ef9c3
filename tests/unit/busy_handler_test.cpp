// The busy handler's sleep schedule (pure), and a real lock held by a second
// connection on a temporary database file.

#include "sqlite/busy_handler.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/db_stats.hpp"
#include "sqlite/database.hpp"
#include "sqlite/operation.hpp"
#include "sqlite/sqlite_error.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab {
namespace {

using Delays = std::vector<std::int64_t>;

// Every delay the schedule gives until it says "give up" (at most `limit` calls).
Delays schedule(BusyRetry retry, std::int64_t interval_ms, std::int64_t timeout_ms, int limit = 10'000) {
  Delays out;
  for (int count = 0; count < limit; ++count) {
    const std::int64_t d = busy_delay_ms(retry, interval_ms, timeout_ms, count);
    if (d <= 0) break;
    out.push_back(d);
  }
  return out;
}

std::int64_t total(const Delays& d) {
  std::int64_t sum = 0;
  for (auto v : d) sum += v;
  return sum;
}

// ---- the schedule ---------------------------------------------------------------

TEST(BusyDelay, DefaultScheduleMatchesSqlite) {
  const Delays expected{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  for (int count = 0; count < static_cast<int>(expected.size()); ++count) {
    EXPECT_EQ(busy_delay_ms(BusyRetry::kBackoff, 1, 1'000'000, count), expected[count]) << "count " << count;
  }
  // After the table: 100 ms for every further retry.
  for (int count = 12; count < 40; ++count) {
    EXPECT_EQ(busy_delay_ms(BusyRetry::kBackoff, 1, 1'000'000, count), 100) << "count " << count;
  }
}

TEST(BusyDelay, DefaultScheduleIsCappedAtTheTimeout) {
  EXPECT_EQ(schedule(BusyRetry::kBackoff, 1, 100), (Delays{1, 2, 5, 10, 15, 20, 25, 22}));
  EXPECT_EQ(schedule(BusyRetry::kBackoff, 1, 1), (Delays{1}));
  EXPECT_EQ(schedule(BusyRetry::kBackoff, 1, 3), (Delays{1, 2}));
  EXPECT_EQ(schedule(BusyRetry::kBackoff, 1, 4), (Delays{1, 2, 1}));
  EXPECT_EQ(schedule(BusyRetry::kBackoff, 1, 228), (Delays{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50}));
  EXPECT_EQ(schedule(BusyRetry::kBackoff, 1, 250), (Delays{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 22}));
  EXPECT_EQ(schedule(BusyRetry::kBackoff, 1, 500), (Delays{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100, 100, 72}));
}

TEST(BusyDelay, TotalSleepEqualsTheTimeout) {
  for (std::int64_t timeout : {1, 2, 7, 8, 9, 50, 99, 100, 101, 227, 228, 229, 1000, 5000, 12'345}) {
    const Delays d = schedule(BusyRetry::kBackoff, 1, timeout);
    EXPECT_EQ(total(d), timeout) << "timeout " << timeout;
    for (auto v : d) EXPECT_GT(v, 0);
    // Once the schedule gave up it stays given up.
    const int next = static_cast<int>(d.size());
    EXPECT_EQ(busy_delay_ms(BusyRetry::kBackoff, 1, timeout, next), 0);
    EXPECT_EQ(busy_delay_ms(BusyRetry::kBackoff, 1, timeout, next + 1), 0);
  }
}

TEST(BusyDelay, ZeroTimeoutNeverSleeps) {
  for (int count = 0; count < 20; ++count) {
    EXPECT_EQ(busy_delay_ms(BusyRetry::kBackoff, 1, 0, count), 0);
    EXPECT_EQ(busy_delay_ms(BusyRetry::kFixed, 5, 0, count), 0);
  }
  EXPECT_EQ(busy_delay_ms(BusyRetry::kBackoff, 1, -5, 0), 0);
}

TEST(BusyDelay, NegativeCountGivesUp) {
  EXPECT_EQ(busy_delay_ms(BusyRetry::kBackoff, 1, 5000, -1), 0);
}

TEST(BusyDelay, FixedSchedule) {
  EXPECT_EQ(schedule(BusyRetry::kFixed, 1, 3), (Delays{1, 1, 1}));
  EXPECT_EQ(schedule(BusyRetry::kFixed, 5, 12), (Delays{5, 5, 2}));
  EXPECT_EQ(schedule(BusyRetry::kFixed, 10, 50), (Delays{10, 10, 10, 10, 10}));
  EXPECT_EQ(schedule(BusyRetry::kFixed, 100, 30), (Delays{30}));
  for (std::int64_t timeout : {1, 17, 100, 1000}) {
    EXPECT_EQ(total(schedule(BusyRetry::kFixed, 3, timeout)), timeout) << timeout;
  }
}

// ---- a real lock ------------------------------------------------------------------

DatabaseOptions db_options(const std::string& path, std::int64_t busy_timeout_ms) {
  DatabaseOptions o;
  o.path = path;
  o.journal_mode = JournalMode::kWal;
  o.synchronous = Synchronous::kNormal;
  o.busy_timeout_ms = busy_timeout_ms;
  return o;
}

int primary_code_of_begin(Database& db) {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (const SqliteError& e) {
    return e.primary();
  }
  db.exec("ROLLBACK");
  return SQLITE_OK;
}

class BusyLock : public ::testing::Test {
 protected:
  void SetUp() override {
    holder_ = std::make_unique<Database>(db_options(dir_.file("lock.db"), 5000), &holder_stats_);
    create_schema(*holder_);
  }

  busylab::testing::TempDir dir_;
  DbStats holder_stats_;
  std::unique_ptr<Database> holder_;
};

TEST_F(BusyLock, WaitsTheWholeTimeoutThenFailsWithBusy) {
  DbStats stats;
  Database second(db_options(dir_.file("lock.db"), 100), &stats);
  ASSERT_EQ(stats.busy_handler_calls.load(), 0u);

  holder_->exec("BEGIN IMMEDIATE");
  holder_->exec("INSERT INTO rows(payload) VALUES('held')");
  second.busy().reset();
  int primary = 0;
  int extended = 0;
  try {
    second.exec("BEGIN IMMEDIATE");
    ADD_FAILURE() << "BEGIN IMMEDIATE succeeded while another connection holds the write lock";
    second.exec("ROLLBACK");
  } catch (const SqliteError& e) {
    primary = e.primary();
    extended = e.code();
  }
  EXPECT_EQ(primary, SQLITE_BUSY) << sqlite_code_name(extended);
  EXPECT_FALSE(second.in_transaction());
  // The schedule capped at 100 ms: 1+2+5+10+15+20+25+22.
  EXPECT_EQ(second.busy().waited_ms(), 100);
  EXPECT_EQ(stats.busy_sleeps.load(), 8u);
  EXPECT_EQ(stats.busy_sleep_ms.load(), 100u);
  EXPECT_EQ(stats.busy_handler_calls.load(), 9u) << "eight sleeps and the call that gave up";
  EXPECT_EQ(stats.busy_gave_up.load(), 1u);
  EXPECT_EQ(holder_stats_.busy_handler_calls.load(), 0u) << "the holder never waited";

  holder_->exec("COMMIT");
  // The lock is free now: the same connection gets it without waiting.
  second.busy().reset();
  EXPECT_EQ(primary_code_of_begin(second), SQLITE_OK);
  EXPECT_EQ(second.busy().waited_ms(), 0);
}

// SQLite's busy timeout applies per lock attempt: two statements that each
// meet the lock each wait the whole timeout, and the handler counts both
// attempts and the sum of their waits for the request.
TEST_F(BusyLock, EachLockAttemptWaitsTheTimeoutAgain) {
  DbStats stats;
  Database second(db_options(dir_.file("lock.db"), 30), &stats);
  holder_->exec("BEGIN IMMEDIATE");
  second.busy().reset();
  EXPECT_EQ(primary_code_of_begin(second), SQLITE_BUSY);
  EXPECT_EQ(primary_code_of_begin(second), SQLITE_BUSY);
  holder_->exec("ROLLBACK");
  EXPECT_EQ(second.busy().lock_waits(), 2);
  EXPECT_EQ(second.busy().waited_ms(), 60);
  EXPECT_EQ(stats.lock_waits.load(), 2u);
  EXPECT_EQ(stats.busy_gave_up.load(), 2u);
  stats.record_request_wait(second.busy().waited_ms(), second.busy().lock_waits());
  EXPECT_EQ(stats.requests_waited.load(), 1u);
  EXPECT_EQ(stats.requests_waited_several.load(), 1u);
  EXPECT_EQ(stats.request_wait_ms.snapshot().max(), 60u);
}

TEST_F(BusyLock, ZeroTimeoutFailsAtOnceWithoutSleeping) {
  DbStats stats;
  Database second(db_options(dir_.file("lock.db"), 0), &stats);
  holder_->exec("BEGIN IMMEDIATE");
  EXPECT_EQ(primary_code_of_begin(second), SQLITE_BUSY);
  EXPECT_EQ(second.busy().waited_ms(), 0);
  EXPECT_EQ(stats.busy_sleeps.load(), 0u);
  EXPECT_EQ(stats.busy_sleep_ms.load(), 0u);
  EXPECT_EQ(stats.busy_gave_up.load(), 0u) << "no timeout configured, so nothing to give up on";
  holder_->exec("ROLLBACK");
}

TEST_F(BusyLock, FixedRetryWaitsItsIntervals) {
  DbStats stats;
  DatabaseOptions o = db_options(dir_.file("lock.db"), 50);
  o.busy_retry = BusyRetry::kFixed;
  o.busy_retry_interval_ms = 10;
  Database second(o, &stats);
  holder_->exec("BEGIN IMMEDIATE");
  second.busy().reset();
  EXPECT_EQ(primary_code_of_begin(second), SQLITE_BUSY);
  EXPECT_EQ(second.busy().waited_ms(), 50);
  EXPECT_EQ(stats.busy_sleeps.load(), 5u);
  EXPECT_EQ(stats.busy_sleep_ms.load(), 50u);
  holder_->exec("ROLLBACK");
}

TEST_F(BusyLock, WriteInsideRunOperationReportsBusyAndTheWait) {
  DbStats stats;
  Database second(db_options(dir_.file("lock.db"), 100), &stats);
  holder_->exec("BEGIN IMMEDIATE");
  const OpOutcome out = run_operation(second, ops::insert_row("x"), TransactionMode::kImmediate);
  holder_->exec("ROLLBACK");
  EXPECT_EQ(out.errc, Errc::kBusy);
  EXPECT_EQ(out.sqlite_code & 0xff, SQLITE_BUSY);
  EXPECT_EQ(out.waited_ms, 100);
  EXPECT_EQ(stats.busy_failures.load(), 1u);
  EXPECT_FALSE(second.in_transaction());
}

TEST_F(BusyLock, WaiterSucceedsWhenTheLockIsReleasedInTime) {
  DbStats stats;
  Database second(db_options(dir_.file("lock.db"), 30'000), &stats);
  holder_->exec("BEGIN IMMEDIATE");
  // The holder commits only once the second connection has started waiting,
  // so the wait is certain, whatever the scheduling.
  std::thread releaser([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (stats.busy_handler_calls.load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    holder_->exec("COMMIT");
  });
  second.busy().reset();
  int primary = SQLITE_OK;
  try {
    second.exec("BEGIN IMMEDIATE");
    second.exec("INSERT INTO rows(payload) VALUES('after wait')");
    second.exec("COMMIT");
  } catch (const SqliteError& e) {
    primary = e.primary();
  }
  releaser.join();
  EXPECT_EQ(primary, SQLITE_OK);
  EXPECT_GE(stats.busy_sleeps.load(), 1u);
  EXPECT_GT(second.busy().waited_ms(), 0);
  EXPECT_EQ(static_cast<std::int64_t>(stats.busy_sleep_ms.load()), second.busy().waited_ms());
  EXPECT_EQ(stats.busy_gave_up.load(), 0u);
  EXPECT_EQ(second.query_int("SELECT COUNT(*) FROM rows WHERE payload = 'after wait'"), 1);
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

// Connections opened at start-up wait for a lock held elsewhere even when
// busy_timeout_ms is 0 (a worker process starting beside busy ones); a
// request's own connection does not.
TEST(DatabaseOpen, StartupConnectionsWaitForAHeldLockEvenWithBusyTimeoutZero) {
  testing::TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("startup.db");
  o.journal_mode = JournalMode::kDelete;
  o.busy_timeout_ms = 0;
  DbStats stats;
  Database holder(o, &stats);
  holder.exec("CREATE TABLE t(x)");
  holder.exec("BEGIN EXCLUSIVE");
  holder.exec("INSERT INTO t VALUES (1)");
  EXPECT_THROW(Database(o, &stats), SqliteError);  // a request's connection fails at once
  const auto sleeps_before = stats.busy_sleeps.load();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    holder.exec("COMMIT");
  });
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Database> started;
  EXPECT_NO_THROW(started =
                      std::make_unique<Database>(o, &stats, Database::Mode::kReadWrite, Database::kStartupPatienceMs));
  release.join();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  EXPECT_GT(stats.busy_sleeps.load(), sleeps_before);
  // Once open, the configured busy timeout applies again: a held lock fails at once.
  holder.exec("BEGIN EXCLUSIVE");
  ASSERT_TRUE(started);
  EXPECT_THROW(started->exec("INSERT INTO t VALUES (2)"), SqliteError);
  holder.exec("COMMIT");
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

// Once the shutdown gives up on running work (abandon_lock_waits), a
// statement that is running, not waiting for a lock, is interrupted too:
// SQLITE_INTERRUPT, classified as shutting_down, counted as cut off.
TEST(AbandonedWork, ARunningStatementIsInterrupted) {
  testing::TempDir dir;
  DatabaseOptions o;
  o.path = dir.file("interrupt.db");
  DbStats stats;
  Database db(o, &stats);
  std::thread abandon([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stats.abandon_lock_waits.store(true);
  });
  const auto start = std::chrono::steady_clock::now();
  int code = 0;
  try {
    // Counts forever: only an interrupt ends it.
    Statement s(db.handle(), "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c");
    s.step();
  } catch (const SqliteError& e) {
    code = e.code();
    EXPECT_EQ(e.errc(), Errc::kShuttingDown) << e.what();
  }
  abandon.join();
  EXPECT_EQ(code, SQLITE_INTERRUPT);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_GE(stats.busy_abandoned.load(), 1u);
}

}  // namespace
}  // namespace busylab
