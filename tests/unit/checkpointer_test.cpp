// The background checkpointer (database.checkpoint): the frames it copies,
// a RESTART/TRUNCATE checkpoint that waits for a reader and is counted
// incomplete when the reader outlasts busy_timeout_ms, a stop that ends such
// a wait at once, and (run under TSan by make test-tsan) checkpoints beside
// a writer.

#include "sqlite/checkpointer.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "engines/make_engine.hpp"
#include "sqlite/wal_file.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A database in WAL mode with busylab's schema, and options for a checkpointer on it.
DatabaseOptions wal_database(const testing::TempDir& dir, CheckpointMode mode, std::int64_t interval_ms,
                             std::int64_t busy_timeout_ms) {
  DatabaseOptions o;
  o.path = dir.file("ckpt.db");
  o.journal_mode = JournalMode::kWal;
  o.busy_timeout_ms = busy_timeout_ms;
  o.checkpoint.mode = mode;
  o.checkpoint.interval_ms = interval_ms;
  DbStats setup;
  make_engine(o, setup)->prepare();
  return o;
}

// A plain connection that writes, as another process would.
struct Writer {
  explicit Writer(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    unit::exec_sql(db, "PRAGMA wal_autocheckpoint=0");
  }
  ~Writer() { sqlite3_close(db); }
  void insert(int n) {
    for (int i = 0; i < n; ++i) unit::exec_sql(db, "INSERT INTO rows(payload) VALUES(hex(randomblob(1500)))");
  }
  sqlite3* db = nullptr;
};

constexpr std::int64_t kNever = 3'600'000;  // an interval that keeps the thread asleep for the test

TEST(Checkpointer, CountsTheFramesEachCheckpointCopies) {
  testing::TempDir dir;
  const DatabaseOptions o = wal_database(dir, CheckpointMode::kPassive, kNever, 1000);
  Writer w(o.path);
  w.insert(20);
  const WalState first = read_wal_state(o.path);
  ASSERT_TRUE(first.frames.has_value());
  const std::uint32_t pending = *first.frames - first.backfilled.value_or(0);
  ASSERT_GT(pending, 20u);
  DbStats stats;
  Checkpointer c(o, stats);
  c.checkpoint_once();
  EXPECT_EQ(stats.checkpoints.load(), 1u);
  EXPECT_EQ(stats.checkpoints_incomplete.load(), 0u);
  EXPECT_EQ(stats.checkpoint_errors.load(), 0u);
  EXPECT_EQ(stats.checkpoint_frames.load(), pending);
  EXPECT_EQ(stats.checkpoint_us.snapshot().count(), 1u);
  // Nothing new: nothing copied. Then new frames (the WAL restarts from its
  // beginning after a complete checkpoint): only those.
  c.checkpoint_once();
  EXPECT_EQ(stats.checkpoint_frames.load(), pending);
  w.insert(5);
  const WalState second = read_wal_state(o.path);
  ASSERT_LT(*second.frames, *first.frames) << "the WAL restarted";
  c.checkpoint_once();
  EXPECT_EQ(stats.checkpoint_frames.load(), pending + *second.frames);
  EXPECT_EQ(stats.checkpoints.load(), 3u);
}

TEST(Checkpointer, TruncateWaitsForAReaderAndIsIncompleteWhileItStays) {
  testing::TempDir dir;
  const DatabaseOptions o = wal_database(dir, CheckpointMode::kTruncate, kNever, 300);
  Writer w(o.path);
  w.insert(10);
  // A reader whose snapshot needs the WAL, then frames after its snapshot.
  Writer reader(o.path);
  unit::exec_sql(reader.db, "BEGIN; SELECT COUNT(*) FROM rows");
  w.insert(10);
  DbStats stats;
  Checkpointer c(o, stats);
  const auto start = steady_clock::now();
  c.checkpoint_once();
  EXPECT_GE(steady_clock::now() - start, milliseconds(250)) << "waited for the reader up to busy_timeout_ms";
  EXPECT_EQ(stats.checkpoints_incomplete.load(), 1u);
  EXPECT_GE(stats.checkpoint_wait_ms.load(), 250u);
  EXPECT_GT(read_wal_state(o.path).wal_bytes, 0u) << "not truncated while the reader stayed";
  unit::exec_sql(reader.db, "COMMIT");
  c.checkpoint_once();
  EXPECT_EQ(stats.checkpoints_incomplete.load(), 1u) << "the second one completed";
  EXPECT_EQ(read_wal_state(o.path).wal_bytes, 0u) << "truncated";
  EXPECT_EQ(testing::query_int(o.path, "SELECT COUNT(*) FROM rows"), 20);
}

TEST(Checkpointer, StopEndsAWaitForAReaderAtOnce) {
  testing::TempDir dir;
  // A busy timeout of a minute: without the stop cutting the wait, the
  // destructor would take that long.
  const DatabaseOptions o = wal_database(dir, CheckpointMode::kRestart, 10, 60'000);
  Writer w(o.path);
  w.insert(5);
  Writer reader(o.path);
  unit::exec_sql(reader.db, "BEGIN; SELECT COUNT(*) FROM rows");
  w.insert(5);
  DbStats stats;
  auto c = std::make_unique<Checkpointer>(o, stats);
  std::this_thread::sleep_for(milliseconds(300));  // the first checkpoint is waiting for the reader
  EXPECT_EQ(stats.checkpoints.load(), 0u) << "still waiting";
  const auto start = steady_clock::now();
  c->stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(2000));
  EXPECT_EQ(stats.checkpoints.load(), 1u);
  EXPECT_EQ(stats.checkpoints_incomplete.load(), 1u);
  c.reset();  // a second stop: nothing to do
  unit::exec_sql(reader.db, "COMMIT");
}

TEST(Checkpointer, RunsBesideAWriterWithoutLosingARow) {
  testing::TempDir dir;
  const DatabaseOptions o = wal_database(dir, CheckpointMode::kPassive, 1, 5000);
  DbStats stats;
  Checkpointer c(o, stats);
  std::thread writer([&] {
    Writer w(o.path);
    w.insert(300);
  });
  writer.join();
  // Let it see the last frames, then stop.
  for (int i = 0; i < 200 && stats.checkpoint_frames.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(5));
  c.stop();
  EXPECT_GT(stats.checkpoints.load(), 0u);
  EXPECT_GT(stats.checkpoint_frames.load(), 0u);
  EXPECT_EQ(stats.checkpoint_errors.load(), 0u);
  EXPECT_EQ(testing::query_int(o.path, "SELECT COUNT(*) FROM rows"), 300);
  EXPECT_EQ(testing::integrity_check(o.path), "ok");
}

TEST(Checkpointer, TheEngineStartsOneOnlyForABackgroundPolicyInWal) {
  testing::TempDir dir;
  DatabaseOptions o = wal_database(dir, CheckpointMode::kTruncate, 50, 1000);
  DbStats stats;
  auto engine = make_engine(o, stats);
  EXPECT_NE(engine->start_maintenance(), nullptr);
  std::map<std::string, std::string> settings;
  for (const auto& [name, value] : engine->settings()) settings[name] = value;
  EXPECT_EQ(settings["checkpoint"], "truncate every 50 ms");
  EXPECT_EQ(settings["wal_autocheckpoint"], "0") << "the checkpointer takes over from commits";
  o.checkpoint.mode = CheckpointMode::kAuto;
  auto automatic = make_engine(o, stats);
  EXPECT_EQ(automatic->start_maintenance(), nullptr);
  settings.clear();
  for (const auto& [name, value] : automatic->settings()) settings[name] = value;
  EXPECT_EQ(settings["checkpoint"], "auto");
  EXPECT_EQ(settings["wal_autocheckpoint"], "1000");
}

}  // namespace
}  // namespace busylab
