// A cell's time series: the WAL read from its files (size, frames, completed
// checkpoints) and the CSV that puts the client's intervals beside the
// server's samples; the experiment's "slo" and "interval" keys.

#include "sweep/timeseries.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "common/config_reader.hpp"
#include "sweep/experiment.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab::sweep {
namespace {

TEST(WalState, CountsFramesBackfillAndCompletedCheckpoints) {
  testing::TempDir dir;
  const std::string path = dir.file("t.db");
  EXPECT_EQ(read_wal_state(path).wal_bytes, 0u) << "no WAL yet";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  unit::exec_sql(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(x)");
  for (int i = 0; i < 10; ++i) unit::exec_sql(db, "INSERT INTO t VALUES(randomblob(100))");
  const WalState before = read_wal_state(path);
  ASSERT_TRUE(before.restarts.has_value());
  ASSERT_TRUE(before.frames.has_value());
  EXPECT_GE(*before.frames, 11u);  // one frame per commit at least
  EXPECT_EQ(before.backfilled.value_or(99), 0u);
  EXPECT_GT(before.wal_bytes, 0u);

  // A checkpoint copies every frame; the next write restarts the WAL.
  for (int round = 1; round <= 3; ++round) {
    unit::exec_sql(db, "PRAGMA wal_checkpoint(PASSIVE)");
    EXPECT_EQ(read_wal_state(path).backfilled, read_wal_state(path).frames);
    unit::exec_sql(db, "INSERT INTO t VALUES(1)");
    const WalState after = read_wal_state(path);
    EXPECT_EQ(*after.restarts - *before.restarts, static_cast<std::uint32_t>(round));
    EXPECT_EQ(after.frames.value_or(0), 1u) << "the WAL starts again from its first frame";
  }
  sqlite3_close(db);
}

TEST(WalState, RestartsCountTheIncrementsAndARandomSaltAsOne) {
  EXPECT_EQ(wal_restarts_between(5, 5), 0u);
  EXPECT_EQ(wal_restarts_between(5, 7), 2u);
  EXPECT_EQ(wal_restarts_between(0xFFFFFFFFu, 1), 2u) << "salt-1 wraps";
  EXPECT_EQ(wal_restarts_between(5, 3'000'000'000u), 1u) << "a salt drawn anew after the file was emptied";
  // Samples: no WAL yet, 10, 11, an emptied WAL (no header), a new random salt.
  std::vector<ServerSample> samples(5);
  samples[1].wal.restarts = 10;
  samples[2].wal.restarts = 11;
  samples[2].wal.frames = 3;
  samples[3].wal.frames = 0;
  samples[4].wal.restarts = 2'000'000'000u;
  const auto so_far = wal_restarts_so_far(samples);
  ASSERT_EQ(so_far.size(), 5u);
  EXPECT_FALSE(so_far[0].has_value());
  EXPECT_EQ(so_far[1], 0u);
  EXPECT_EQ(so_far[2], 1u);
  EXPECT_EQ(so_far[3], 1u);
  EXPECT_EQ(so_far[4], 2u);
}

TEST(TimeseriesCsv, OneRowPerIntervalWithTheServerSampleTakenAtItsEnd) {
  std::vector<loadgen::IntervalSample> client(3);
  for (int i = 0; i < 3; ++i) {
    client[i].t_s = i + 1.0;
    client[i].length_s = 1.0;
    client[i].requests = 100 * (i + 1);
    client[i].per_s = 100.0 * (i + 1);
    client[i].ok_per_s = 90.0 * (i + 1);
    client[i].failures = 10 * (i + 1);
    if (i != 1) client[i].p99_ms = 5.0 + i;  // interval 2 had no answers
  }
  std::vector<ServerSample> server(4);
  for (int k = 0; k < 4; ++k) {
    server[k].t_s = k + 0.01;
    server[k].stats_read = k != 2;  // the sample at 2 s could not read /stats
    server[k].pool_waiting = 7 * k;
    server[k].busy_sleeps = 10 * k * k;
    server[k].wal.wal_bytes = 1000 * k;
    server[k].wal.frames = 10 * k;
    server[k].wal.backfilled = 5 * k;
    server[k].wal.restarts = 41 + k;
    server[k].checkpoint_frames = 100 * k;
    server[k].checkpoint_ms = 1.5 * k;
  }
  const std::string csv = timeseries_csv(client, server);
  std::istringstream in(csv);
  std::string header, row1, row2, row3, extra;
  std::getline(in, header);
  std::getline(in, row1);
  std::getline(in, row2);
  std::getline(in, row3);
  EXPECT_FALSE(std::getline(in, extra)) << csv;
  for (const char* column : {"t_s", "ok_per_s", "p99_ms", "failures", "wal_bytes", "checkpoints", "pool_waiting",
                             "checkpoint_frames", "checkpoint_ms"})
    EXPECT_CONTAINS(header, column);
  // t_s, per_s, ok_per_s, failures, p50, p99, max, dropped, waiting, in_use,
  // queued, busy_waits (since the sample before), busy_wait_ms, wal_bytes,
  // frames, backfilled, checkpoints (since the first sample), the
  // checkpointer's frames and ms (since the sample before).
  EXPECT_EQ(row1, "1.000,100.0,90.0,10,,5.000,,0,7,0,0,10,0,1000,10,5,1,100,1.5");
  EXPECT_EQ(row2, "2.000,200.0,180.0,20,,,,0,,,,,,2000,20,10,2,,") << "no /stats at 2 s; no answers in interval 2";
  EXPECT_EQ(row3, "3.000,300.0,270.0,30,,7.000,,0,21,0,0,,,3000,30,15,3,,")
      << "the busy waits need the sample before it, which had no /stats";
}

TEST(Experiment, SloAndIntervalKeys) {
  testing::TempDir dir;
  std::ofstream(dir.file("base.json")) << R"({"database": {"path": "x.db"}})";
  nlohmann::json doc = {{"name", "t"},
                        {"config", "base.json"},
                        {"interval", "250ms"},
                        {"slo", {{"p99_ms", 50}, {"max_failure_rate", 0.001}}},
                        {"columns", {"ok_per_s"}}};
  const Experiment e = Experiment::from_json(doc, dir.path() / "exp.json");
  ASSERT_TRUE(e.slo.has_value());
  EXPECT_EQ(e.slo->p99_ms, 50);
  EXPECT_EQ(e.interval, std::chrono::milliseconds(250));
  EXPECT_EQ(e.columns.back(), "slo") << "an SLO's verdict is shown even when the columns do not name it";
  doc["slo"] = {{"p99", 50}};
  const auto msg = unit::error_message<ConfigError>([&] { Experiment::from_json(doc, dir.path() / "exp.json"); });
  EXPECT_CONTAINS(msg, "slo");
  EXPECT_CONTAINS(msg, "p99_ms");
}

}  // namespace
}  // namespace busylab::sweep
