// Read-modify-write increments under contention: immediate transactions
// serialize them; deferred ones fail with BUSY / BUSY_SNAPSHOT, reported as
// 503, and in both cases the final value equals the acknowledged increments.

#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/load.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

Tally increments(std::uint16_t port) {
  return hammer(port, 16, 25, [](int, int) { return RequestSpec{"POST", "/counters/hits/increment", ""}; });
}

TEST(Counters, ImmediateTransactionsLoseNothing) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 8);
  config.database.transaction = TransactionMode::kImmediate;
  TestServer server(config);
  const Tally tally = increments(server.port());
  EXPECT_EQ(tally.count(200), tally.total()) << (tally.error_bodies.empty() ? "" : tally.error_bodies[0]);
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT value FROM counters WHERE name = 'hits'"), tally.count(200));
}

TEST(Counters, DeferredTransactionsFailAsBusyButLoseNothing) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 8);
  config.database.transaction = TransactionMode::kDeferred;
  TestServer server(config);
  const Tally tally = increments(server.port());

  EXPECT_EQ(tally.count(200) + tally.count(503), tally.total());
  // Eight connections reading then writing the same row: upgrades collide.
  EXPECT_GT(tally.count(503), 0) << "expected deferred upgrades to fail under contention";
  for (const auto& body : tally.error_bodies) {
    EXPECT_NE(body.find("\"error\":\"database_busy\""), std::string::npos) << body;
    EXPECT_NE(body.find("SQLITE_BUSY"), std::string::npos) << body;
  }
  HttpClient client(server.port());
  const auto stats = client.request("GET", "/stats")->json();
  const int busy = stats["database"]["busy_failures"].get<int>();
  const int snapshot = stats["database"]["busy_snapshot_failures"].get<int>();
  EXPECT_EQ(busy + snapshot, tally.count(503));
  client.close();
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT value FROM counters WHERE name = 'hits'"), tally.count(200));
}

TEST(Counters, EveryStrategyKeepsTheCountExact) {
  for (auto kind : {StrategyKind::kPerRequest, StrategyKind::kSingleWriter, StrategyKind::kBatched}) {
    TempDir dir;
    Config config = test_config(dir, kind, 4);
    TestServer server(config);
    const Tally tally = increments(server.port());
    EXPECT_EQ(tally.count(200), tally.total()) << to_string(kind);
    server.stop();
    EXPECT_EQ(query_int(config.database.path, "SELECT value FROM counters WHERE name = 'hits'"), tally.count(200))
        << to_string(kind);
  }
}

}  // namespace
}  // namespace busylab::testing
