// The writer behind single_writer and batched, with an outside connection
// holding the write lock (as another process would): a batch waits for the
// lock once, a queued write is answered by its timer while the writer is
// stuck, and nothing answered with an error is committed.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "strategy/strategy.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/load.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

// Polls GET /stats until `done(stats)` (or the patience runs out); returns
// the last document.
template <class Pred>
nlohmann::json wait_for_stats(std::uint16_t port, Pred done) {
  HttpClient client(port);
  nlohmann::json stats;
  wait_until([&] {
    auto r = client.request("GET", "/stats");
    if (r) stats = r->json();
    return r && done(stats);
  });
  return stats;
}

// Today's bug: with database.transaction = deferred, each job of a batch met
// the lock on its own and waited the whole busy timeout, one after another.
TEST(Writer, BatchBehindAnOutsideLockWaitsOnceAndFailsEveryJobAtOnce) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kBatched, 2);
  config.database.transaction = TransactionMode::kDeferred;
  config.database.busy_timeout_ms = 300;
  TestServer server(config);
  OutsideWriteLock lock(config.database.path);
  ASSERT_TRUE(lock.held());

  const Tally held = hammer(server.port(), 10, 1, [](int c, int) {
    return RequestSpec{"POST", "/rows", R"({"payload":"w)" + std::to_string(c) + "\"}"};
  });
  EXPECT_EQ(held.count(503), 10);

  HttpClient client(server.port());
  const auto stats = client.request("GET", "/stats")->json();
  const auto batches = stats["strategy"]["writer"]["batches"].get<std::uint64_t>();
  EXPECT_GE(batches, 1u);
  // One lock attempt per batch, each ending at the busy timeout; not one per job.
  EXPECT_EQ(stats["database"]["lock_waits"].get<std::uint64_t>(), batches);
  EXPECT_EQ(stats["database"]["busy_gave_up"].get<std::uint64_t>(), batches);
  EXPECT_EQ(stats["database"]["busy_wait_per_request"]["requests_waited"].get<int>(), 10);
  EXPECT_EQ(stats["database"]["busy_wait_per_request"]["waited_several_times"].get<int>(), 0);

  lock.release();
  const auto after = client.request("POST", "/rows", R"({"payload":"after"})");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 201);
  client.close();
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), 1);
}

class WriterQueue : public ::testing::TestWithParam<StrategyKind> {};

// Today's bug: a write queued behind a writer stuck in a long busy wait was
// answered only when the writer took its next batch (after the busy wait),
// not when pool.checkout_timeout_ms ran out.
TEST_P(WriterQueue, QueuedWriteTimesOutWhileTheWriterIsStuck) {
  TempDir dir;
  Config config = test_config(dir, GetParam(), 2);
  config.database.busy_timeout_ms = 20000;
  config.pool.checkout_timeout_ms = 300;
  TestServer server(config);
  OutsideWriteLock lock(config.database.path);
  ASSERT_TRUE(lock.held());

  // The first write reaches the writer, which then waits for the lock.
  std::atomic<bool> first_answered{false};
  std::optional<Response> first;
  std::thread first_client([&] {
    HttpClient c(server.port());
    first = c.request("POST", "/rows", R"({"payload":"first"})");
    first_answered = true;
  });
  const auto stuck = wait_for_stats(server.port(), [](const nlohmann::json& s) {
    return s["strategy"]["writer"]["in_batch"].get<int>() == 1 && s["database"]["busy_sleeps"].get<int>() > 0;
  });
  ASSERT_EQ(stuck["strategy"]["writer"]["in_batch"].get<int>(), 1);

  // The second waits in the queue and is answered by the timer.
  HttpClient second_client(server.port());
  const auto second = second_client.request("POST", "/rows", R"({"payload":"second"})");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  EXPECT_EQ(second->json()["error"], "pool_timeout");
  EXPECT_FALSE(first_answered.load()) << "the queued write was answered only after the writer's busy wait ended";

  // The lock goes away; the first write, still waiting, commits.
  lock.release();
  first_client.join();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 201);
  second_client.close();
  const auto summary = server.stop();
  EXPECT_EQ(summary.pool_timeouts, 1u);
  EXPECT_EQ(summary.writes_acknowledged, 1u);
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), 1);
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows WHERE payload = 'second'"), 0);
}

// The writer reports itself idle before any answer of its batch goes out: a
// client that has its answer never sees the strategy still in use.
TEST_P(WriterQueue, InUseNeverCountsABatchWhoseAnswersWentOut) {
  TempDir dir;
  Config config = test_config(dir, GetParam(), 2);
  TestServer server(config);
  HttpClient client(server.port());
  int busy_after_answer = 0;
  for (int i = 0; i < 300; ++i) {
    const auto r = client.request("POST", "/rows", R"({"payload":"x"})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201);
    if (server.server().strategy().in_use() != 0) ++busy_after_answer;
  }
  EXPECT_EQ(busy_after_answer, 0);
}

INSTANTIATE_TEST_SUITE_P(Strategies, WriterQueue,
                         ::testing::Values(StrategyKind::kSingleWriter, StrategyKind::kBatched),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace busylab::testing
