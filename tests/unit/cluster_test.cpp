// The shared board of a multi-process server, in one process: totals over
// the workers' live counters, strategy snapshots summed with their
// percentiles recomputed from merged histograms, and what a stopped worker
// still contributes.

#include "cluster/cluster.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/db_stats.hpp"
#include "server/stats.hpp"

namespace busylab {
namespace {

using nlohmann::json;

// A worker's snapshot as ClusterMember::publish writes it: a pool strategy
// whose wait histogram holds `waits_us`.
std::string pool_snapshot(std::uint64_t size, std::uint64_t checkouts, std::uint64_t max_waiting,
                          const std::vector<std::uint64_t>& waits_us) {
  Histogram wait;
  for (auto w : waits_us) wait.record(w);
  const json strategy = {{"strategy", "pool"},
                         {"pool",
                          {{"size", size},
                           {"in_use", 1},
                           {"checkouts", checkouts},
                           {"max_waiting_seen", max_waiting},
                           {"checkout_wait_ms", {{"p50", 123.0}, {"p99", 456.0}, {"max", 789.0}, {"mean", 1.0}}}}}};
  return json{{"strategy", strategy},
              {"histograms", json::array({{{"kind", "wait"}, {"pool", "main"}, {"data", wait.to_json()}}})},
              {"draining", false},
              {"final", false},
              {"forced", false}}
      .dump();
}

TEST(WorkerBoard, TotalsAddUpTheWorkersAndRecomputePercentiles) {
  WorkerBoard board(2);
  board.started(0, 100);
  board.started(1, 101);
  for (int w = 0; w < 2; ++w) {
    board.db_stats(w).writes_committed += 10 * (w + 1);
    board.server_stats(w).writes_acknowledged(10 * (w + 1));
    board.server_stats(w).record(Route::kRowsInsert, 201);
    board.db_stats(w).busy_sleeps += 3;
  }
  board.publish(0, pool_snapshot(2, 10, 4, {1000, 1000, 1000}), 1);
  board.publish(1, pool_snapshot(2, 20, 9, {1000, 50000}), 1);

  const ClusterTotals t = board.collect(/*include_stopped=*/false);
  EXPECT_EQ(t.server->acknowledged(), 30u);
  EXPECT_EQ(t.db->writes_committed.load(), 30u);
  EXPECT_EQ(t.server->count(Route::kRowsInsert, 201), 2u);
  EXPECT_EQ(t.db->busy_sleeps.load(), 6u);
  const json& pool = t.strategy["pool"];
  EXPECT_EQ(pool["size"], 4);
  EXPECT_EQ(pool["checkouts"], 30);
  EXPECT_EQ(pool["in_use"], 2);
  EXPECT_EQ(pool["max_waiting_seen"], 9);  // the larger, not the sum
  EXPECT_EQ(t.strategy["strategy"], "pool");
  // Five waits: four of 1 ms and one of 50 ms (within the histogram's 0.4%).
  EXPECT_NEAR(pool["checkout_wait_ms"]["p50"].get<double>(), 1.0, 0.01);
  EXPECT_NEAR(pool["checkout_wait_ms"]["max"].get<double>(), 50.0, 0.01);
  EXPECT_NEAR(pool["checkout_wait_ms"]["mean"].get<double>(), 10.8, 0.01);
  ASSERT_EQ(t.histograms.size(), 1u);
  EXPECT_EQ(t.histograms[0].data.count(), 5u);

  ASSERT_EQ(t.workers.size(), 2u);
  EXPECT_EQ(t.workers[1]["pid"], 101);
  EXPECT_EQ(t.workers[1]["writes"]["acknowledged"], 20);
  EXPECT_EQ(t.workers[1]["strategy"]["pool"]["checkouts"], 20);
  EXPECT_TRUE(t.workers[0]["running"].get<bool>());
  EXPECT_GE(t.workers[0]["snapshot_age_ms"].get<double>(), 0.0);
}

TEST(WorkerBoard, AStoppedWorkerKeepsItsCountersButNotItsPoolFigures) {
  WorkerBoard board(2);
  board.started(0, 100);
  board.started(1, 101);
  board.server_stats(0).connection_opened();
  board.server_stats(0).writes_acknowledged(7);
  board.db_stats(0).writes_committed += 7;
  board.publish(0, pool_snapshot(2, 7, 1, {10}), 1);
  board.publish(1, pool_snapshot(2, 3, 1, {10}), 1);
  board.stopped(0);

  const ClusterTotals live = board.collect(false);
  EXPECT_EQ(live.server->acknowledged(), 7u);        // counted when it was acknowledged
  EXPECT_EQ(live.server->active_connections(), 0);   // its connections died with it
  EXPECT_EQ(live.strategy["pool"]["checkouts"], 3);  // running workers only
  EXPECT_FALSE(live.workers[0]["running"].get<bool>());
  EXPECT_EQ(live.workers[0]["pid"], 0);

  const ClusterTotals all = board.collect(/*include_stopped=*/true);
  EXPECT_EQ(all.strategy["pool"]["checkouts"], 10);
}

TEST(WorkerBoard, AnsweredWaitsOnlyForReadyWorkersAndNeverGoesBack) {
  WorkerBoard board(3);
  for (int w = 0; w < 3; ++w) board.started(w, 100 + w);
  board.mark_ready(0);
  board.mark_ready(1);
  const auto generation = board.request_snapshots();
  EXPECT_FALSE(board.answered(generation, /*except=*/0));
  board.publish(1, "{}", generation);
  EXPECT_TRUE(board.answered(generation, 0));  // worker 2 is not ready: not waited for
  board.publish(1, "{}", generation - 1);      // a late answer to an older request
  EXPECT_TRUE(board.answered(generation, 0));
  EXPECT_EQ(board.starts(1), 1);
  board.started(1, 101);  // the worker itself, after the supervisor: one start
  EXPECT_EQ(board.starts(1), 1);
}

TEST(WorkerBoard, ATooLargeSnapshotIsReplacedByANote) {
  WorkerBoard board(1);
  board.started(0, 100);
  board.publish(0, std::string(2 << 20, 'x'), 1);
  const ClusterTotals t = board.collect(false);
  EXPECT_TRUE(t.workers[0]["strategy"].is_null());
  EXPECT_TRUE(t.strategy.empty());
}

}  // namespace
}  // namespace busylab
