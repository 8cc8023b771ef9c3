// What a sweep's repetitions add up to (sweep/summary): medians and ranges,
// the resolved / not resolved rule, the points table and what a plot
// compares; and the calibration's arithmetic (sweep/machine).

#include "sweep/summary.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/machine.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab::sweep {
namespace {

using nlohmann::json;

// ---- spread -----------------------------------------------------------------

TEST(Spread, MedianOfAnOddCountIsTheMiddleValue) {
  const Spread s = spread_of({30, 10, 20});
  EXPECT_EQ(s.n, 3u);
  EXPECT_DOUBLE_EQ(s.median, 20);
  EXPECT_DOUBLE_EQ(s.min, 10);
  EXPECT_DOUBLE_EQ(s.max, 30);
}

TEST(Spread, MedianOfAnEvenCountIsTheMeanOfTheMiddleTwo) {
  const Spread s = spread_of({4, 1, 100, 2});
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
}

TEST(Spread, NoValuesAndNonFiniteValuesCountAsNoRun) {
  EXPECT_EQ(spread_of({}).n, 0u);
  const Spread s = spread_of({std::numeric_limits<double>::quiet_NaN(), 5, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(s.n, 1u);
  EXPECT_DOUBLE_EQ(s.median, 5);
}

// ---- resolved or not ---------------------------------------------------------

Spread range(double lo, double median, double hi, std::size_t n = 3) {
  return {median, lo, hi, n};
}

TEST(Difference, RangesThatDoNotOverlapAreResolvedEitherWay) {
  EXPECT_EQ(compare(range(10, 11, 12), range(13, 14, 15)), Difference::kResolved);
  EXPECT_EQ(compare(range(13, 14, 15), range(10, 11, 12)), Difference::kResolved);
}

TEST(Difference, OverlappingOrTouchingRangesAreNotResolvedWhateverTheMedians) {
  // Medians 20% apart, but one run of the lower point beat one of the higher.
  EXPECT_EQ(compare(range(9, 10, 12.5), range(11, 12, 13)), Difference::kNotResolved);
  // One range inside the other.
  EXPECT_EQ(compare(range(5, 10, 30), range(11, 12, 13)), Difference::kNotResolved);
  // Sharing an end point is an overlap.
  EXPECT_EQ(compare(range(10, 11, 12), range(12, 13, 14)), Difference::kNotResolved);
  // Identical single values over several runs (0 failures each): not a difference.
  EXPECT_EQ(compare(range(0, 0, 0), range(0, 0, 0)), Difference::kNotResolved);
}

TEST(Difference, OneRunMeasuresNoSpreadAndResolvesNothing) {
  EXPECT_EQ(compare(range(10, 10, 10, 1), range(20, 20, 20, 3)), Difference::kNoSpread);
  EXPECT_EQ(compare(range(10, 10, 10, 3), range(20, 20, 20, 1)), Difference::kNoSpread);
  EXPECT_STREQ(to_string(Difference::kNoSpread), "not resolved (one run: no spread measured)");
}

// ---- text -------------------------------------------------------------------

TEST(SpreadText, MedianThenRangeInFewCharacters) {
  EXPECT_EQ(spread_text(range(19100, 20000, 21200)), "20.0k (19.1k-21.2k)");
  EXPECT_EQ(spread_text(range(3100, 3600, 4020)), "3.60k (3.10k-4.02k)");
  EXPECT_EQ(spread_text(range(0.31, 0.33, 0.35)), "0.33 (0.31-0.35)");
  EXPECT_EQ(spread_text(range(12.3, 12.5, 14)), "12.5 (12.3-14)");
  EXPECT_EQ(spread_text(range(0, 3, 4)), "3 (0-4)");
  EXPECT_EQ(spread_text(range(1.2e6, 1.46e6, 1.5e6)), "1.46M (1.20M-1.50M)");
  EXPECT_EQ(spread_text(range(7, 7, 7, 1)), "7");
  EXPECT_EQ(spread_text(Spread{}), "-");
}

// ---- points -----------------------------------------------------------------

Experiment strategies_by_clients() {
  Experiment e;
  e.name = "t";
  e.load.method = "POST";
  e.matrix.push_back({"pool.strategy", "strategy", {"pool", "batched"}});
  e.matrix.push_back({"load.connections", "clients", {64, 256}});
  e.columns = {"strategy", "clients", "requests_per_s", "failures", "verified"};
  return e;
}

// A run of point `point` (strategy, clients) with `rps` requests/s.
CellResult run(std::size_t point, const std::string& strategy, int clients, double rps, bool ok = true) {
  CellResult r;
  r.cell.point = point;
  r.cell.values = {{"pool.strategy", strategy}, {"load.connections", clients}};
  r.load = {{"requests_per_s", rps}, {"requests", rps}, {"errors_total", 0}, {"status", {{"201", rps}}}};
  r.verdict = {ok, ok ? "rows = acknowledged" : "rows 9 != 10 writes the server acknowledged"};
  return r;
}

std::vector<CellResult> four_points_three_runs() {
  // pool 64 and batched 64 overlap; at 256 batched is clearly ahead.
  return {run(0, "pool", 64, 100),     run(0, "pool", 64, 120),     run(0, "pool", 64, 110),
          run(1, "pool", 256, 90),     run(1, "pool", 256, 95),     run(1, "pool", 256, 92),
          run(2, "batched", 64, 115),  run(2, "batched", 64, 130),  run(2, "batched", 64, 125),
          run(3, "batched", 256, 300), run(3, "batched", 256, 320), run(3, "batched", 256, 310, false)};
}

TEST(Points, RunsOfAPointAreSummarizedTogetherInMatrixOrder) {
  const auto e = strategies_by_clients();
  auto results = four_points_three_runs();
  std::swap(results[0], results[11]);  // the order of results does not matter
  const auto points = summarize(e, results);
  ASSERT_EQ(points.size(), 4u);
  for (std::size_t p = 0; p < 4; ++p) {
    EXPECT_EQ(points[p].index, p);
    EXPECT_EQ(points[p].runs.size(), 3u);
  }
  const auto& rps = points[0].metrics.at("requests_per_s");
  EXPECT_DOUBLE_EQ(rps.median, 110);
  EXPECT_DOUBLE_EQ(rps.min, 100);
  EXPECT_DOUBLE_EQ(rps.max, 120);
  EXPECT_EQ(rps.n, 3u);
  EXPECT_EQ(points[3].verified, 2u);
  EXPECT_EQ(points[0].verified, 3u);
  // A figure no run has (a strategy without a writer) is absent, not zero.
  EXPECT_EQ(points[0].metrics.count("mean_batch"), 0u);
}

TEST(Points, TableShowsMedianAndRangeAndWhichRunsFailed) {
  const auto e = strategies_by_clients();
  const auto results = four_points_three_runs();
  const std::string table = points_table(e, results, summarize(e, results));
  EXPECT_CONTAINS(table, "| strategy | clients | requests_per_s | failures | verified |\n|---|---|---|---|---|\n");
  EXPECT_CONTAINS(table, "| pool | 64 | 110 (100-120) | 0 (0-0) | yes |\n");
  EXPECT_CONTAINS(table,
                  "| batched | 256 | 310 (300-320) | 0 (0-0) | NO: 1 of 3 runs: rows 9 != 10 writes the server "
                  "acknowledged |\n");
}

TEST(Points, JsonHasValuesRunsAndEveryMetricWithN) {
  const auto e = strategies_by_clients();
  const auto results = four_points_three_runs();
  const json j = points_json(summarize(e, results));
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[1]["index"], 2);
  EXPECT_EQ(j[1]["values"]["load.connections"], 256);
  EXPECT_EQ(j[1]["runs"], json::array({4, 5, 6}));  // 1-based, as cells' "index"
  EXPECT_EQ(j[1]["metrics"]["requests_per_s"], (json{{"median", 92.0}, {"min", 90.0}, {"max", 95.0}, {"n", 3}}));
}

TEST(Comparisons, SeriesAreRankedAtEachXAndEachNeighbourPairJudged) {
  const auto e = strategies_by_clients();
  const auto points = summarize(e, four_points_three_runs());
  const auto comparisons = compare_plot(e, points, PlotSpec{"clients", "strategy", "requests_per_s", "", {}});
  ASSERT_EQ(comparisons.size(), 2u);
  EXPECT_EQ(comparisons[0].group, "clients 64");
  ASSERT_EQ(comparisons[0].entries.size(), 2u);
  EXPECT_EQ(comparisons[0].entries[0].name, "batched");  // higher median first
  EXPECT_EQ(comparisons[0].between, std::vector<Difference>{Difference::kNotResolved});
  EXPECT_EQ(comparisons[1].entries[0].name, "batched");
  EXPECT_EQ(comparisons[1].between, std::vector<Difference>{Difference::kResolved});
  EXPECT_EQ(comparisons[1].text(), "clients 256: batched 310 (300-320) [resolved] > pool 92 (90-95)");
  EXPECT_EQ(comparisons[0].text(), "clients 64: batched 125 (115-130) [not resolved] ~ pool 110 (100-120)");
}

TEST(Comparisons, WithoutSeriesEachXIsJudgedAgainstTheNext) {
  auto e = strategies_by_clients();
  const auto points = summarize(e, four_points_three_runs());
  PlotSpec plot{"clients", "", "requests_per_s", "", {{"strategy", "pool"}}};
  const auto comparisons = compare_plot(e, points, plot);
  ASSERT_EQ(comparisons.size(), 1u);
  ASSERT_EQ(comparisons[0].entries.size(), 2u);
  EXPECT_EQ(comparisons[0].entries[0].name, "64");
  EXPECT_EQ(comparisons[0].between, std::vector<Difference>{Difference::kResolved});  // 100-120 vs 90-95
}

// ---- calibration --------------------------------------------------------------

TEST(Calibration, MeasuresEveryFigureInTheFolderAndLeavesNothingBehind) {
  testing::TempDir dir;
  const Calibration c = calibrate(dir.path(), std::chrono::milliseconds(100));
  EXPECT_GT(c.fdatasync_per_s, 0);
  EXPECT_GT(c.wal_full, 0);
  EXPECT_GT(c.wal_normal, 0);
  EXPECT_GT(c.delete_full, 0);
  EXPECT_FALSE(c.utc.empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  const Calibration back = Calibration::from_json(c.to_json());
  EXPECT_DOUBLE_EQ(back.wal_normal, c.wal_normal);
  EXPECT_EQ(c.to_json()["sqlite_commits_per_s"].size(), 3u);
}

TEST(Calibration, DriftNamesTheFigureThatChangedMost) {
  Calibration a, b;
  a.fdatasync_per_s = 1000;
  b.fdatasync_per_s = 1100;  // +10%
  a.wal_full = 400;
  b.wal_full = 280;  // -30%
  a.wal_normal = b.wal_normal = 5000;
  a.delete_full = b.delete_full = 100;
  const Drift d = drift(a, b);
  EXPECT_NEAR(d.largest, 0.30, 1e-9);
  EXPECT_EQ(d.figure, "sqlite_commits_per_s.wal_full");
  EXPECT_GT(d.largest, kDriftWarning);
  EXPECT_EQ(drift(a, a).largest, 0);
}

TEST(Calibration, SqliteCellsGetTheMeanRawRateOfTheirModeAndPostgresNone) {
  Calibration start, end;
  start.wal_full = 400;
  end.wal_full = 600;
  start.delete_full = end.delete_full = 100;
  std::vector<CellResult> results(4);
  results[0].server = {{"config", {{"database", {{"journal_mode", "wal"}, {"synchronous", "full"}}}}}};
  results[1].server = {{"config", {{"database", {{"journal_mode", "delete"}, {"synchronous", "full"}}}}}};
  results[2].server = {
      {"config", {{"database", {{"engine", "postgres"}, {"journal_mode", "wal"}, {"synchronous", "full"}}}}}};
  results[3].server = {{"config", {{"database", {{"journal_mode", "truncate"}, {"synchronous", "full"}}}}}};
  attach_calibration(results, start, end);
  ASSERT_TRUE(results[0].raw_commits_per_s.has_value());
  EXPECT_DOUBLE_EQ(*results[0].raw_commits_per_s, 500);
  EXPECT_DOUBLE_EQ(*results[1].raw_commits_per_s, 100);
  EXPECT_FALSE(results[2].raw_commits_per_s.has_value());
  EXPECT_FALSE(results[3].raw_commits_per_s.has_value());
}

TEST(Provenance, NamesTheBuildTheMachineAndSqlitesDurabilityDefaults) {
  testing::TempDir dir;
  const json p = provenance(dir.path());
  for (const char* key : {"commit", "dirty", "build_type", "compiler", "cpu_model", "cores", "memory_mb", "kernel",
                          "filesystem", "sqlite_compile_options"})
    EXPECT_TRUE(p.contains(key)) << key << " in " << p.dump();
  EXPECT_FALSE(p["filesystem"].value("type", "").empty());
  for (const char* option : {"DEFAULT_SYNCHRONOUS", "DEFAULT_WAL_SYNCHRONOUS", "DEFAULT_JOURNAL_SIZE_LIMIT",
                             "DEFAULT_WAL_AUTOCHECKPOINT", "THREADSAFE"})
    EXPECT_TRUE(p["sqlite_compile_options"][option].is_string()) << option;
  EXPECT_GT(p.value("memory_mb", 0), 0);
}

}  // namespace
}  // namespace busylab::sweep
