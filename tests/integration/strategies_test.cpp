// For every strategy: concurrent writes through HTTP end with exactly as many
// rows as 2xx answers, and the server's own count of acknowledged writes agrees.

#include <gtest/gtest.h>

#include <string>

#include "strategy/strategy.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/load.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

class StrategyTest : public ::testing::TestWithParam<StrategyKind> {};

TEST_P(StrategyTest, RowCountEqualsAcknowledgedWrites) {
  TempDir dir;
  Config config = test_config(dir, GetParam(), 4);
  TestServer server(config);

  constexpr int kClients = 24, kPerClient = 20;
  const Tally tally = hammer(server.port(), kClients, kPerClient, [](int c, int i) {
    return RequestSpec{"POST", "/rows", R"({"payload":"c)" + std::to_string(c) + "-" + std::to_string(i) + "\"}"};
  });
  EXPECT_EQ(tally.total(), kClients * kPerClient);
  // busy_timeout 5000 and a 5 s checkout timeout: nobody should fail here.
  EXPECT_EQ(tally.count(201), kClients * kPerClient)
      << "first error: " << (tally.error_bodies.empty() ? "" : tally.error_bodies[0]);

  HttpClient client(server.port());
  const auto count = client.request("GET", "/rows/count");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->json()["count"], tally.count(201));
  client.close();

  const ShutdownSummary summary = server.stop();
  EXPECT_EQ(summary.writes_acknowledged, static_cast<std::uint64_t>(tally.successes()));
  EXPECT_EQ(summary.writes_committed, static_cast<std::uint64_t>(tally.successes()));
  EXPECT_TRUE(summary.checkpointed) << summary.checkpoint_error;
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), tally.successes());
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(DISTINCT payload) FROM rows"), tally.successes());
  EXPECT_EQ(integrity_check(config.database.path), "ok");
}

TEST_P(StrategyTest, ReadsAndWritesMixedAndPoolReturnsToIdle) {
  TempDir dir;
  Config config = test_config(dir, GetParam(), 2);
  TestServer server(config);

  constexpr int kClients = 12, kPerClient = 30;
  // Request kind (c + i) % 4: POST /rows (201), GET /rows/count (200),
  // GET /seed (200), POST /counters/mixed/increment (200).
  int posts = 0, counts = 0, seeds = 0, increments = 0;
  for (int c = 0; c < kClients; ++c) {
    for (int i = 0; i < kPerClient; ++i) {
      const int kind = (c + i) % 4;
      posts += kind == 0;
      counts += kind == 1;
      seeds += kind == 2;
      increments += kind == 3;
    }
  }
  const Tally tally = hammer(server.port(), kClients, kPerClient, [](int c, int i) {
    switch ((c + i) % 4) {
      case 0:
        return RequestSpec{"POST", "/rows", ""};
      case 1:
        return RequestSpec{"GET", "/rows/count", ""};
      case 2:
        return RequestSpec{"GET", "/seed", ""};
      default:
        return RequestSpec{"POST", "/counters/mixed/increment", ""};
    }
  });
  // Every request is answered with its route's success status, nothing else
  // (busy_timeout 5000 and a 5 s checkout timeout: nobody should fail here).
  const std::string first_error = tally.error_bodies.empty() ? "" : tally.error_bodies[0];
  EXPECT_EQ(tally.total(), kClients * kPerClient);
  EXPECT_EQ(tally.count(201), posts) << "first error: " << first_error;
  EXPECT_EQ(tally.count(200), counts + seeds + increments) << "first error: " << first_error;
  EXPECT_EQ(tally.by_status.size(), 2u) << "first error: " << first_error;
  EXPECT_EQ(server.server().strategy().in_use(), 0u);

  HttpClient client(server.port());
  const auto stats = client.request("GET", "/stats");
  ASSERT_TRUE(stats);
  const auto doc = stats->json();
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["strategy"]["strategy"], std::string(to_string(GetParam())));
  EXPECT_EQ(doc["writes"]["acknowledged"], doc["writes"]["committed"]);
  EXPECT_EQ(doc["config"]["pool"]["size"], 2);
  // Every SQLite call ran on a database thread, none on an io thread.
  EXPECT_EQ(doc["database"]["io_thread_violations"], 0);
  client.close();
  server.stop();

  const auto counter = query_int(config.database.path, "SELECT value FROM counters WHERE name = 'mixed'");
  const auto rows = query_int(config.database.path, "SELECT COUNT(*) FROM rows");
  // POST /rows and /seed each add one row; increments add to the counter.
  EXPECT_EQ(rows, posts + seeds);
  EXPECT_EQ(counter, increments);
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, StrategyTest,
                         ::testing::Values(StrategyKind::kPerRequest, StrategyKind::kPool, StrategyKind::kSingleWriter,
                                           StrategyKind::kBatched),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace busylab::testing
