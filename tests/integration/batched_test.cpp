// Group commit: one failing request inside a batch does not fail the others,
// and a batch whose COMMIT fails acknowledges nothing.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/load.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

TEST(Batched, OversizedWriteFailsAloneInsideItsSavepoint) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kBatched, 2);
  config.database.max_size_mb = 1;
  config.server.body_limit = 4 * 1024 * 1024;
  TestServer server(config);

  const std::string big = R"({"payload":")" + std::string(1536 * 1024, 'x') + "\"}";
  int big_status = 0;
  std::thread big_writer([&] {
    HttpClient client(server.port());
    for (int i = 0; i < 3; ++i) {
      const auto r = client.request("POST", "/rows", big);
      big_status = r ? r->status : -1;
      if (big_status != 507) break;
    }
  });
  const Tally small = hammer(server.port(), 16, 20, [](int c, int i) {
    return RequestSpec{"POST", "/rows", R"({"payload":"s)" + std::to_string(c * 100 + i) + "\"}"};
  });
  big_writer.join();

  EXPECT_EQ(big_status, 507);
  EXPECT_EQ(small.count(201), small.total());
  HttpClient client(server.port());
  const auto stats = client.request("GET", "/stats")->json();
  EXPECT_GE(stats["strategy"]["writer"]["batches"].get<int>(), 1);
  EXPECT_EQ(stats["database"]["full_failures"].get<int>(), 3);
  client.close();
  server.stop();
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), small.count(201));
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows WHERE length(payload) > 1000"), 0);
}

TEST(Batched, FailedCommitAcknowledgesNothing) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kBatched, 2);
  // Rollback journal: COMMIT needs every reader gone, so a reader outside
  // the server makes it fail after busy_timeout.
  config.database.journal_mode = JournalMode::kDelete;
  config.database.busy_timeout_ms = 100;
  TestServer server(config);

  sqlite3* reader = nullptr;
  sqlite3_open(config.database.path.c_str(), &reader);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT COUNT(*) FROM rows;", nullptr, nullptr, nullptr), SQLITE_OK);

  const Tally held = hammer(server.port(), 8, 3, [](int, int) { return RequestSpec{"POST", "/rows", ""}; });
  EXPECT_EQ(held.successes(), 0);
  EXPECT_EQ(held.count(503), held.total());

  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);

  const Tally free = hammer(server.port(), 4, 5, [](int, int) { return RequestSpec{"POST", "/rows", ""}; });
  EXPECT_EQ(free.count(201), free.total());
  const auto summary = server.stop();
  EXPECT_EQ(summary.writes_acknowledged, static_cast<std::uint64_t>(free.count(201)));
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), free.count(201));
}

}  // namespace
}  // namespace busylab::testing
