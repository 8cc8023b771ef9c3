// Lock contention from a writer outside the server: with busy_timeout 0 the
// server answers 503 database_busy; with 5000 ms the same load succeeds.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/load.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

// Another process's writer, simulated with its own connection: it takes the
// write lock for `hold`, lets go for `gap`, again and again.
class CompetingWriter {
 public:
  CompetingWriter(const std::string& path, std::chrono::milliseconds hold, std::chrono::milliseconds gap) {
    sqlite3_open(path.c_str(), &db_);
    sqlite3_busy_timeout(db_, 10000);
    thread_ = std::thread([this, hold, gap] {
      while (!stop_.load()) {
        if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK) {
          ++holds_;
          std::this_thread::sleep_for(hold);
          sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
        }
        std::this_thread::sleep_for(gap);
      }
    });
  }
  ~CompetingWriter() {
    stop_ = true;
    thread_.join();
    sqlite3_close(db_);
  }
  int holds() const { return holds_.load(); }

 private:
  sqlite3* db_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int> holds_{0};
  std::thread thread_;
};

Tally write_load(std::uint16_t port) {
  return hammer(port, 8, 15, [](int, int) { return RequestSpec{"POST", "/rows", ""}; });
}

TEST(Busy, PerRequestWithZeroTimeoutReportsBusy) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPerRequest, 8);
  config.database.busy_timeout_ms = 0;
  TestServer server(config);
  Tally tally;
  {
    CompetingWriter competitor(config.database.path, std::chrono::milliseconds(20), std::chrono::milliseconds(20));
    tally = write_load(server.port());
    EXPECT_GT(competitor.holds(), 0);
  }
  EXPECT_GT(tally.count(503), 0) << "expected lock failures with busy_timeout 0";
  EXPECT_EQ(tally.count(503) + tally.count(201), tally.total());
  for (const auto& body : tally.error_bodies) {
    EXPECT_NE(body.find("\"error\":\"database_busy\""), std::string::npos) << body;
    EXPECT_NE(body.find("SQLITE_BUSY"), std::string::npos) << body;
  }
  const auto summary = server.stop();
  EXPECT_EQ(summary.busy_errors + summary.busy_snapshot_errors, static_cast<std::uint64_t>(tally.count(503)));
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), tally.count(201));
}

TEST(Busy, PerRequestWithLongTimeoutWaitsInstead) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPerRequest, 8);
  config.database.busy_timeout_ms = 5000;
  TestServer server(config);
  Tally tally;
  {
    CompetingWriter competitor(config.database.path, std::chrono::milliseconds(20), std::chrono::milliseconds(20));
    tally = write_load(server.port());
  }
  EXPECT_EQ(tally.count(201), tally.total()) << (tally.error_bodies.empty() ? "" : tally.error_bodies[0]);
  HttpClient client(server.port());
  const auto stats = client.request("GET", "/stats");
  ASSERT_TRUE(stats);
  // The waits happened; they just never became errors.
  EXPECT_GT(stats->json()["database"]["busy_sleeps"].get<int>(), 0);
  EXPECT_EQ(stats->json()["database"]["busy_failures"].get<int>(), 0);
  client.close();
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), tally.count(201));
}

TEST(Busy, HeldLockGives503WithRetryAfterThenRecovers) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 2);
  config.database.busy_timeout_ms = 50;
  TestServer server(config);

  sqlite3* holder = nullptr;
  sqlite3_open(config.database.path.c_str(), &holder);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);

  HttpClient client(server.port());
  const auto refused = client.request("POST", "/rows", R"({"payload":"x"})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("retry-after"), "1");
  const auto body = refused->json();
  EXPECT_EQ(body["error"], "database_busy");
  EXPECT_EQ(body["code"], "SQLITE_BUSY");
  EXPECT_EQ(body["waited_ms"], 50);

  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);

  const auto accepted = client.request("POST", "/rows", R"({"payload":"y"})");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 201);
  EXPECT_EQ(client.request("GET", "/healthz")->status, 200);
  client.close();
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), 1);
}

}  // namespace
}  // namespace busylab::testing
