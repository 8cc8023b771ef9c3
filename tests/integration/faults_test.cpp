// Database faults while serving: each gets a clear JSON error and the server
// keeps running.

#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

TEST(Faults, FullDatabaseGives507AndDeletesNothing) {
  for (auto kind : {StrategyKind::kPerRequest, StrategyKind::kPool, StrategyKind::kSingleWriter}) {
    TempDir dir;
    Config config = test_config(dir, kind, 2);
    config.database.max_size_mb = 1;  // enforced as PRAGMA max_page_count
    config.server.body_limit = 4 * 1024 * 1024;
    TestServer server(config);
    HttpClient client(server.port());
    for (int i = 0; i < 20; ++i) ASSERT_EQ(client.request("POST", "/rows", R"({"payload":"small"})")->status, 201);

    const auto full = client.request("POST", "/rows", R"({"payload":")" + std::string(2 * 1024 * 1024, 'x') + "\"}");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->status, 507) << to_string(kind);
    EXPECT_EQ(full->json()["error"], "database_full");
    EXPECT_EQ(full->json()["code"], "SQLITE_FULL");

    // Small writes still fit, reads still work, nothing was deleted to make room.
    EXPECT_EQ(client.request("POST", "/rows", R"({"payload":"after"})")->status, 201);
    EXPECT_EQ(client.request("GET", "/rows/count")->json()["count"], 21);
    EXPECT_EQ(client.request("GET", "/healthz")->status, 200);
    client.close();
    server.stop();
    EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), 21);
    EXPECT_EQ(integrity_check(config.database.path), "ok");
  }
}

}  // namespace
}  // namespace busylab::testing
