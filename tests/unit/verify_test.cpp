// The sweep's verdict on a cell (nothing acknowledged lost, nothing
// unacknowledged counted), the figures its tables are made of, and the
// watcher's summary line that the sweep reads back.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/experiment.hpp"
#include "sweep/outputs.hpp"
#include "sweep/runner.hpp"
#include "sweep/watch.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab::sweep {
namespace {

using nlohmann::json;

// A clean rows cell: 100 stored, 100 acknowledged, 98 answers seen, 2 lost.
VerifyFacts good_facts() {
  VerifyFacts f;
  f.kind = VerifySpec::Kind::kRows;
  f.stored = 100;
  f.acknowledged = 100;
  f.ok_seen = 98;
  f.unknown_outcome = 2;
  f.integrity = "ok";
  f.server_exit = 0;
  f.stats_read = true;
  return f;
}

TEST(AcknowledgedFromSummary, ReadsTheCountPrintedAfterTheDrain) {
  EXPECT_EQ(acknowledged_from_summary("listening on 127.0.0.1:1234\n"
                                      "busylab: stopped: 5012 requests, 4990 writes acknowledged (4990 committed), 0 "
                                      "busy errors (0 BUSY_SNAPSHOT), 0 pool timeouts, 0 shed, WAL checkpointed\n"),
            4990u);
  EXPECT_EQ(acknowledged_from_summary("busylab: stopped (grace period ran out): 7 requests, 0 writes acknowledged (0 "
                                      "committed), 0 busy errors"),
            0u);
  EXPECT_FALSE(acknowledged_from_summary("listening on 127.0.0.1:1234\n").has_value());
  EXPECT_FALSE(acknowledged_from_summary("busylab: stopped: garbled").has_value());
}

// A workload cell: 1000 rows at start, 10 inserted, two counters, a bank of
// three accounts of 100 after two acknowledged transfers and one unanswered.
VerifyFacts workload_facts() {
  VerifyFacts f = good_facts();
  f.kind = VerifySpec::Kind::kWorkload;
  f.initial_rows = 1000;
  f.rows_inserted = 10;
  f.stored = 1010;
  f.ledger.inserts = 10;
  f.ledger.counters = {{"c1", 5}, {"c2", 3}};
  f.ledger.counters_unknown = {{"c2", 1}};
  f.counters = {{"c1", 5}, {"c2", 4}};  // c2's unanswered increment happened
  f.accounts = 3;
  f.initial_balance = 100;
  f.ledger.transfers.ok = 2;
  f.ledger.transfers.net = {{1, -30}, {2, 20}, {3, 10}};
  f.ledger.transfers.unknown = 1;
  f.ledger.transfers.unknown_abs = {{1, 5}, {3, 5}};
  f.balances = {{1, 65}, {2, 120}, {3, 115}};  // the unanswered 5 from 1 to 3 happened
  return f;
}

TEST(Verify, WorkloadPassesWhenRowsCountersAndBalancesAgree) {
  const auto v = verify(workload_facts());
  EXPECT_TRUE(v.ok) << v.detail;
  EXPECT_CONTAINS(v.detail, "rows 1010 = 1000 + 10 inserted");
  EXPECT_CONTAINS(v.detail, "2 counters match");
  EXPECT_CONTAINS(v.detail, "bank total kept, 3 balances match 2 transfers");
}

TEST(Verify, WorkloadNamesWhatDoesNotAgree) {
  {
    auto f = workload_facts();
    f.stored = 1009;  // an acknowledged insert lost
    const auto v = verify(f);
    EXPECT_FALSE(v.ok);
    EXPECT_CONTAINS(v.detail, "rows 1009 != 1000 at start + 10 inserts acknowledged");
  }
  {
    auto f = workload_facts();
    f.counters["c1"] = 4;  // an acknowledged increment lost
    const auto v = verify(f);
    EXPECT_FALSE(v.ok);
    EXPECT_CONTAINS(v.detail, "counter 'c1' = 4, 5 increments acknowledged");
  }
  {
    auto f = workload_facts();
    f.counters["c3"] = 1;  // a counter nobody was told about
    EXPECT_FALSE(verify(f).ok);
  }
  {
    auto f = workload_facts();
    f.balances = {{1, 70}, {2, 115}, {3, 115}};  // total kept, but 2 lost an acknowledged credit
    const auto v = verify(f);
    EXPECT_FALSE(v.ok);
    EXPECT_CONTAINS(v.detail, "account 2 holds 115, acknowledged transfers say 120");
    EXPECT_EQ(v.detail.find("account 1"), std::string::npos) << "70 is within 70 +- 5: " << v.detail;
  }
  {
    auto f = workload_facts();
    f.balances[2] = 121;  // money made
    const auto v = verify(f);
    EXPECT_FALSE(v.ok);
    EXPECT_CONTAINS(v.detail, "bank total 301 != 300");
  }
  {
    auto f = workload_facts();
    f.rows_inserted.reset();  // no summary line
    EXPECT_FALSE(verify(f).ok);
  }
}

TEST(RowsInsertedFromSummary, ReadsTheInsertsPrintedAfterTheDrain) {
  EXPECT_EQ(rows_inserted_from_summary("busylab: stopped: 12 requests, 9 writes acknowledged (9 committed, 4 rows "
                                       "inserted), 0 busy errors (0 BUSY_SNAPSHOT)\n"),
            4u);
  EXPECT_FALSE(rows_inserted_from_summary("busylab: stopped: 7 requests, 0 writes acknowledged (0 committed)"));
}

TEST(Verify, PassesWhenEverythingAdds) {
  auto v = verify(good_facts());
  EXPECT_TRUE(v.ok) << v.detail;
  EXPECT_CONTAINS(v.detail, "rows 100 = acknowledged 100");
  EXPECT_CONTAINS(v.detail, "2 answers lost in transit");

  auto f = good_facts();
  f.ok_seen = 100;
  f.unknown_outcome = 0;
  v = verify(f);
  EXPECT_TRUE(v.ok) << v.detail;
  EXPECT_NOT_CONTAINS(v.detail, "lost");

  f.kind = VerifySpec::Kind::kCounter;
  v = verify(f);
  EXPECT_TRUE(v.ok) << v.detail;
  EXPECT_CONTAINS(v.detail, "counter value 100");
}

TEST(Verify, StoredCountMustEqualAcknowledged) {
  for (const std::int64_t stored : {101, 99, -1}) {
    SCOPED_TRACE(stored);
    auto f = good_facts();
    f.stored = stored;
    const auto v = verify(f);
    EXPECT_FALSE(v.ok);
    EXPECT_CONTAINS(v.detail, "rows " + std::to_string(stored) + " != 100 writes the server acknowledged");
  }
  auto f = good_facts();
  f.kind = VerifySpec::Kind::kCounter;
  f.stored = 7;
  EXPECT_CONTAINS(verify(f).detail, "counter value 7 != 100");
}

TEST(Verify, CommitsOfUnknownOutcomeMayOrMayNotBeStored) {
  // PostgreSQL answered 2 writes "commit_outcome_unknown": 100 to 102 rows are right.
  for (const std::int64_t stored : {100, 101, 102}) {
    SCOPED_TRACE(stored);
    auto f = good_facts();
    f.server_unknown = 2;
    f.stored = stored;
    const auto v = verify(f);
    EXPECT_TRUE(v.ok) << v.detail;
    EXPECT_CONTAINS(v.detail, std::to_string(stored - 100) + " of 2 commits of unknown outcome");
  }
  for (const std::int64_t stored : {99, 103}) {
    SCOPED_TRACE(stored);
    auto f = good_facts();
    f.server_unknown = 2;
    f.stored = stored;
    const auto v = verify(f);
    EXPECT_FALSE(v.ok);
    EXPECT_CONTAINS(v.detail, "(+ up to 2 of unknown outcome)");
  }
}

TEST(Verify, WorkloadRowsAllowTheCommitsOfUnknownOutcome) {
  auto f = workload_facts();
  f.server_unknown = 1;
  f.stored = 1011;  // 1000 + 10 acknowledged + the unknown one, which did commit
  EXPECT_TRUE(verify(f).ok) << verify(f).detail;
  f.stored = 1012;
  const auto v = verify(f);
  EXPECT_FALSE(v.ok);
  EXPECT_CONTAINS(v.detail, "(+ up to 1 of unknown outcome)");
}

TEST(Verify, LoadGeneratorCannotSeeMoreThanTheServerAcknowledged) {
  auto f = good_facts();
  f.ok_seen = 101;
  const auto v = verify(f);
  EXPECT_FALSE(v.ok);
  EXPECT_CONTAINS(v.detail, "saw 101 2xx but the server acknowledged only 100");
}

TEST(Verify, ServerCannotAcknowledgeMoreThanSeenPlusUnanswered) {
  auto f = good_facts();
  f.unknown_outcome = 1;  // 98 + 1 < 100
  auto v = verify(f);
  EXPECT_FALSE(v.ok);
  EXPECT_CONTAINS(v.detail, "acknowledged 100 writes but the load generator saw 98 2xx and only 1 unanswered");
  f.unknown_outcome = 2;  // the boundary: 98 + 2 == 100
  v = verify(f);
  EXPECT_TRUE(v.ok) << v.detail;
}

TEST(Verify, IntegrityExitAndStatsAreRequired) {
  auto f = good_facts();
  f.integrity = "*** in database main ***\nPage 3 is never used";
  auto v = verify(f);
  EXPECT_FALSE(v.ok);
  EXPECT_CONTAINS(v.detail, "integrity_check: *** in database main");

  f = good_facts();
  f.server_exit = 1;
  v = verify(f);
  EXPECT_FALSE(v.ok);
  EXPECT_CONTAINS(v.detail, "server exit status 1");

  f = good_facts();
  f.server_exit = -1;  // never stopped
  EXPECT_FALSE(verify(f).ok);

  f = good_facts();
  f.stats_read = false;
  v = verify(f);
  EXPECT_FALSE(v.ok);
  EXPECT_CONTAINS(v.detail, "could not read the server's /stats");
}

TEST(Verify, KindNoneOnlyNeedsIntegrityAndExit) {
  VerifyFacts f;
  f.kind = VerifySpec::Kind::kNone;
  f.stored = 5;
  f.acknowledged = 1000;  // would fail a rows check
  f.ok_seen = 2000;
  f.integrity = "ok";
  f.server_exit = 0;
  f.stats_read = false;
  auto v = verify(f);
  EXPECT_TRUE(v.ok) << v.detail;
  f.integrity = "not checked";
  EXPECT_FALSE(verify(f).ok);
  f.integrity = "ok";
  f.server_exit = 137;
  EXPECT_FALSE(verify(f).ok);
}

// ---- metrics and the table --------------------------------------------------

Experiment table_experiment() {
  Experiment e;
  e.name = "unit";
  e.repetitions = 1;
  e.matrix = {MatrixAxis{"pool.strategy", "strategy", {"pool", "batched"}}};
  e.columns = {"strategy", "requests", "failures", "ok_per_s", "p99_ms", "busy_errors", "verified"};
  return e;
}

CellResult hand_built_result() {
  CellResult r;
  r.cell.values = {{"pool.strategy", "pool"}};
  r.load = json::parse(R"({
    "schema": "busylab-load/1",
    "requests": 100, "duration_s": 2.0, "requests_per_s": 50.0,
    "status": {"201": 90, "503": 10},
    "errors_total": 3,
    "latency_us": {"min": 100, "mean": 2000, "p50": 1500, "p90": 8000, "p99": 12500, "max": 20000}
  })");
  r.server = json::parse(R"({
    "writes": {"acknowledged": 90, "committed": 90},
    "database": {"busy_failures": 2, "busy_snapshot_failures": 1, "busy_sleeps": 4, "busy_sleep_ms": 30},
    "strategy": {"strategy": "pool",
                 "pool": {"checkout_timeouts": 1, "shed": 2, "checkout_wait_ms": {"p99": 1.5, "max": 3.0}}},
    "rows_after": 90
  })");
  r.verdict = {true, "rows 90 = acknowledged 90"};
  return r;
}

TEST(Metric, FiguresFromTheLoadReport) {
  const auto e = table_experiment();
  const auto r = hand_built_result();
  EXPECT_EQ(metric(e, r, "strategy"), "pool");
  EXPECT_EQ(metric(e, r, "pool.strategy"), "pool");
  EXPECT_EQ(metric(e, r, "requests"), 100);
  EXPECT_DOUBLE_EQ(metric(e, r, "ok").get<double>(), 90);
  EXPECT_DOUBLE_EQ(metric(e, r, "failures").get<double>(), 13);  // 10 non-2xx + 3 errors
  EXPECT_DOUBLE_EQ(metric(e, r, "ok_per_s").get<double>(), 45);
  EXPECT_DOUBLE_EQ(metric(e, r, "rejected_503").get<double>(), 10);
  EXPECT_DOUBLE_EQ(metric(e, r, "p50_ms").get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(metric(e, r, "p99_ms").get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(metric(e, r, "max_ms").get<double>(), 20);
  EXPECT_EQ(metric(e, r, "errors"), 3);
}

TEST(Metric, FiguresFromTheServerStats) {
  const auto e = table_experiment();
  const auto r = hand_built_result();
  EXPECT_EQ(metric(e, r, "acknowledged"), 90);
  EXPECT_EQ(metric(e, r, "rows_after"), 90);
  EXPECT_TRUE(metric(e, r, "counter_after").is_null());
  EXPECT_DOUBLE_EQ(metric(e, r, "busy_errors").get<double>(), 3);
  EXPECT_DOUBLE_EQ(metric(e, r, "busy_waits").get<double>(), 4);
  EXPECT_DOUBLE_EQ(metric(e, r, "checkout_p99_ms").get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(metric(e, r, "pool_timeouts").get<double>(), 1);
  EXPECT_DOUBLE_EQ(metric(e, r, "shed").get<double>(), 2);
  EXPECT_TRUE(metric(e, r, "batches").is_null());  // no writer: not a batched run
  EXPECT_TRUE(metric(e, r, "reader_reads").is_null());
  EXPECT_TRUE(metric(e, r, "no_such_metric").is_null());
}

TEST(Metric, ReaderAndVerdict) {
  const auto e = table_experiment();
  auto r = hand_built_result();
  EXPECT_EQ(metric(e, r, "verified"), "yes");
  r.verdict = {false, "rows 89 != 90 writes the server acknowledged"};
  EXPECT_EQ(metric(e, r, "verified"), "NO: rows 89 != 90 writes the server acknowledged");
  r.reader = WatchSummary{7, 2, 40, 1, 0};
  EXPECT_EQ(metric(e, r, "reader_reads"), 7);
  EXPECT_EQ(metric(e, r, "reader_waits"), 2);
  EXPECT_EQ(metric(e, r, "reader_failed"), 1);
}

TEST(Metric, CellThatNeverRanHasNoLoadFigures) {
  const auto e = table_experiment();
  CellResult r;
  r.cell.values = {{"pool.strategy", "batched"}};
  r.verdict = {false, "not run: server did not start"};
  EXPECT_EQ(metric(e, r, "strategy"), "batched");
  EXPECT_TRUE(metric(e, r, "requests").is_null());
  EXPECT_TRUE(metric(e, r, "p99_ms").is_null());
  EXPECT_TRUE(metric(e, r, "busy_errors").is_null());
}

TEST(MarkdownTable, ColumnsAsHeaderOneRowPerCell) {
  const auto e = table_experiment();
  auto good = hand_built_result();
  CellResult bad;
  bad.cell.values = {{"pool.strategy", "batched"}};
  bad.verdict = {false, "not run: server did not start"};
  const std::string table = markdown_table(e, {good, bad});
  const std::string expected =
      "| strategy | requests | failures | ok_per_s | p99_ms | busy_errors | verified |\n"
      "|---|---|---|---|---|---|---|\n"
      "| pool | 100 | 13 | 45 | 12.50 | 3 | yes |\n"
      "| batched | - | - | - | - | - | NO: not run: server did not start |\n";
  EXPECT_EQ(table, expected);
}

TEST(MarkdownTable, MultiLineOrPipeTextStaysInItsRow) {
  // A server's stderr or an integrity report spans lines; a row must not.
  auto e = table_experiment();
  e.columns = {"strategy", "verified"};
  CellResult r;
  r.cell.values = {{"pool.strategy", "a|b"}};
  r.verdict = {false, "not run: server did not start: busylab serve: bad\nsecond line\n"};
  const std::string table = markdown_table(e, {r});
  EXPECT_EQ(table,
            "| strategy | verified |\n|---|---|\n"
            "| a\\|b | NO: not run: server did not start: busylab serve: bad second line |\n");
}

TEST(MarkdownTable, RepetitionColumnWhenRepeated) {
  auto e = table_experiment();
  e.columns = {"strategy", "verified"};
  e.repetitions = 2;
  auto first = hand_built_result();
  auto second = hand_built_result();
  second.cell.repetition = 1;
  const std::string table = markdown_table(e, {first, second});
  EXPECT_CONTAINS(table, "| strategy | verified | rep |\n|---|---|---|\n");
  EXPECT_CONTAINS(table, "| pool | yes | 1 |\n| pool | yes | 2 |\n");
}

// ---- the watcher's summary line ---------------------------------------------

TEST(WatchSummaryLine, ParsesBack) {
  const WatchSummary s{12, 3, 457, 2, 1};
  const std::string line = s.line();
  EXPECT_EQ(line, "watch summary: reads=12 waited=3 waited_ms=457 failed=2 size_warnings=1");
  // As the sweep sees it: the last line of the watcher's stdout.
  const auto parsed = WatchSummary::parse("2024-01-01T00:00:00.000Z rows=5 read=ok\n" + line + "\n");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->reads, 12u);
  EXPECT_EQ(parsed->waited, 3u);
  EXPECT_EQ(parsed->waited_ms, 457u);
  EXPECT_EQ(parsed->failed, 2u);
  EXPECT_EQ(parsed->size_warnings, 1u);
  EXPECT_EQ(parsed->line(), line);
  EXPECT_FALSE(WatchSummary::parse("rows=5 read=ok\n").has_value());
  EXPECT_FALSE(WatchSummary::parse("").has_value());
}

}  // namespace
}  // namespace busylab::sweep
