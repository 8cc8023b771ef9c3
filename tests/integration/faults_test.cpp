// Database faults while serving: each gets a clear JSON error and the server
// keeps running.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

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

TEST(Faults, AnotherProcessHoldingTheLockGives503ThenRecovery) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 2);
  config.database.journal_mode = JournalMode::kDelete;
  config.database.busy_timeout_ms = 200;
  TestServer server(config);
  HttpClient client(server.port());
  ASSERT_EQ(client.request("POST", "/rows", "")->status, 201);

  // The sqlite3 shell in another process holds an exclusive lock until the
  // test creates the file `release`. It prints `1` once the lock is held.
  const std::string release = dir.file("release");
  ChildProcess holder(
      {"/bin/bash", "-c",
       "(echo '.timeout 5000'; echo 'BEGIN EXCLUSIVE; SELECT 1;'; "
       "while [ ! -e '" +
           release + "' ]; do sleep 0.01; done; echo 'ROLLBACK;') | sqlite3 '" + config.database.path + "'"},
      dir.path().string());
  ASSERT_TRUE(wait_until([&] { return holder.out().find('1') != std::string::npos; }))
      << "the other process never took the lock: " << holder.err();

  const auto r = client.request("POST", "/rows", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->json()["error"], "database_busy");
  EXPECT_EQ(r->json()["waited_ms"], 200);
  EXPECT_EQ(r->header("retry-after"), "1");

  std::ofstream(release).put('\n');
  ASSERT_TRUE(holder.wait(std::chrono::seconds(60)).has_value());
  EXPECT_EQ(holder.wait(0ms), 0) << holder.err();
  // The lock is gone: writes succeed again.
  EXPECT_EQ(client.request("POST", "/rows", "")->status, 201);
  EXPECT_EQ(client.request("GET", "/healthz")->status, 200);
}

// Makes a file immutable (chattr +i) for the object's lifetime: even root
// cannot open it for writing then, which is how a read-only database looks
// to a server that runs as root.
class ImmutableFile {
 public:
  explicit ImmutableFile(std::string path) : path_(std::move(path)) {
    ok_ = std::system(("chattr +i '" + path_ + "' 2>/dev/null").c_str()) == 0;
  }
  ~ImmutableFile() {
    if (ok_) std::system(("chattr -i '" + path_ + "'").c_str());
  }
  bool ok() const { return ok_; }

 private:
  std::string path_;
  bool ok_ = false;
};

TEST(Faults, ReadOnlyDatabaseRefusesWritesAndServesReads) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 2);
  config.database.journal_mode = JournalMode::kDelete;  // WAL would need to write the -shm file to read
  {
    TestServer writer(config);
    HttpClient client(writer.port());
    for (int i = 0; i < 3; ++i) ASSERT_EQ(client.request("POST", "/rows", "")->status, 201);
  }
  ImmutableFile immutable(config.database.path);
  if (!immutable.ok()) GTEST_SKIP() << "chattr +i is not permitted here (needs root and a file system with the flag)";

  TestServer server(config);
  HttpClient client(server.port());
  const auto refused = client.request("POST", "/rows", R"({"payload":"x"})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->json()["error"], "database_readonly");
  EXPECT_NE(refused->json()["detail"].get<std::string>().find("read-only"), std::string::npos) << refused->body;
  const auto count = client.request("GET", "/rows/count");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->status, 200);
  EXPECT_EQ(count->json()["count"], 3);
  EXPECT_EQ(client.request("GET", "/healthz")->status, 200);
}

}  // namespace
}  // namespace busylab::testing
