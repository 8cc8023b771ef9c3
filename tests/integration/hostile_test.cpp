// Malformed and oversized requests get the right status (or a closed
// connection), and the server keeps answering everyone else.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/db_stats.hpp"
#include "server/route.hpp"
#include "server/stats.hpp"
#include "strategy/strategy.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = test_config(dir_, StrategyKind::kPool, 2);
    config_.server.header_timeout_ms = 300;
    server_ = std::make_unique<TestServer>(config_);
  }
  void TearDown() override {
    ExpectHealthy();
    server_->stop();
  }
  // A fresh server on the same (still empty) database, with config_ as the test changed it.
  void Restart() {
    server_.reset();
    server_ = std::make_unique<TestServer>(config_);
  }
  void ExpectHealthy() {
    HttpClient client(server_->port());
    const auto r = client.request("GET", "/healthz");
    ASSERT_TRUE(r) << "server stopped answering";
    EXPECT_EQ(r->status, 200);
  }
  // Sends raw bytes and returns the answer's status, or 0 when the server
  // closed the connection without one.
  int raw_status(const std::string& bytes) {
    HttpClient client(server_->port());
    if (!client.send_raw(bytes)) return 0;
    const auto r = client.read_response(5s);
    return r ? r->status : 0;
  }

  TempDir dir_;
  Config config_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(Hostile, GarbageBytesGet400OrClose) {
  const int status = raw_status(std::string("\x16\x03\x01\x00\xa5garbage\r\n\r\n", 16));
  EXPECT_TRUE(status == 400 || status == 0) << status;
  EXPECT_EQ(raw_status("GET /control HTTP/9.9\r\n\r\n"), 400);
  EXPECT_EQ(raw_status("G@T /control HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(raw_status("POST /rows HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
            400);
}

TEST_F(Hostile, OversizedBodyGets413) {
  HttpClient client(server_->port());
  const std::string body(100 * 1024, 'a');
  const auto r = client.request("POST", "/rows", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->json()["error"], "body_too_large");
}

// A client that writes its whole (too large) body before reading, as curl
// and most libraries do: the server answers 413 after server.body_limit and
// stops parsing, then keeps reading and dropping the rest for a moment
// instead of closing on unread input, which would reset the connection and
// fail the client's write before it ever reads the 413.
TEST_F(Hostile, ClientStillSendingItsBodyReadsThe413) {
  HttpClient client(server_->port());
  const std::string body(8 * 1024 * 1024, 'a');
  const auto r = client.request("POST", "/rows", body, {}, 10s);
  ASSERT_TRUE(r) << "no answer: the connection was reset while the body was still being sent";
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->json()["error"], "body_too_large");
}

TEST_F(Hostile, OversizedHeaderGets431) {
  HttpClient client(server_->port());
  const auto r = client.request("GET", "/control", "", {"X-Filler: " + std::string(16 * 1024, 'h')});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

TEST_F(Hostile, UnknownRouteAndWrongMethod) {
  HttpClient client(server_->port());
  EXPECT_EQ(client.request("GET", "/nope")->status, 404);
  const auto r = client.request("DELETE", "/rows/1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, PUT");  // GET reads the row, PUT updates it
  // The connection is still usable after errors that are the client's own.
  EXPECT_EQ(client.request("GET", "/control")->status, 200);
}

TEST_F(Hostile, BadJsonIdsAndNamesGet400) {
  HttpClient client(server_->port());
  EXPECT_EQ(client.request("POST", "/rows", "{not json")->status, 400);
  EXPECT_EQ(client.request("POST", "/rows", R"({"payload": 42})")->status, 400);
  EXPECT_EQ(client.request("POST", "/rows", R"(["payload"])")->status, 400);
  EXPECT_EQ(client.request("POST", "/rows", R"({"payload":"a","extra":1})")->status, 400);
  EXPECT_EQ(client.request("GET", "/rows/abc")->status, 400);
  EXPECT_EQ(client.request("GET", "/rows/99999999999999999999")->status, 400);
  EXPECT_EQ(client.request("GET", "/rows/-1")->status, 400);
  EXPECT_EQ(client.request("GET", "/rows/12345")->status, 404);
  EXPECT_EQ(client.request("POST", "/counters/" + std::string(65, 'n') + "/increment")->status, 400);
  EXPECT_EQ(client.request("POST", "/counters/a%00b/increment")->status, 400);
  EXPECT_EQ(client.request("POST", "/counters/ok-name_1.x/increment")->status, 200);
}

TEST_F(Hostile, SlowHeaderIsDisconnected) {
  HttpClient client(server_->port());
  ASSERT_TRUE(client.send_raw("GET /con"));
  // header_timeout_ms is 300: the server must hang up well before 5 s.
  EXPECT_TRUE(client.wait_closed(5s));
}

TEST_F(Hostile, PeerClosingMidBodyNeverReachesTheDatabase) {
  for (int i = 0; i < 20; ++i) {
    HttpClient client(server_->port());
    ASSERT_TRUE(client.send_raw("POST /rows HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"payload\":"));
    client.close();
  }
  // The server has taken every connection and closed it again...
  HttpServer& server = server_->server();
  const bool all_closed = wait_until([&] {
    nlohmann::json doc = server.stats().to_json();
    return doc["connections"]["accepted"].get<std::uint64_t>() >= 20u && server.stats().active_connections() == 0;
  });
  ASSERT_TRUE(all_closed) << server.stats().to_json().dump();
  // ...without an answer and without touching the database.
  EXPECT_EQ(server.stats().requests(), 0u);
  EXPECT_EQ(server.db_stats().writes_committed.load(), 0u);
  EXPECT_EQ(server.strategy().in_use(), 0u);
  HttpClient client(server_->port());
  const auto count = client.request("GET", "/rows/count");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->body, R"({"count":0})");
}

TEST_F(Hostile, PeerClosingWhileItsWriteIsInTheDatabaseLeavesNoLease) {
  // The writes wait for a write lock the test holds, so they are in the
  // database (both connections lent, each waiting for the lock; the other
  // writes queued for a connection) when their clients go away. Generous
  // timeouts: nothing gives up while the test holds the lock.
  config_.database.busy_timeout_ms = 60'000;
  config_.pool.checkout_timeout_ms = 60'000;
  Restart();
  HttpServer& server = server_->server();
  constexpr int kClients = 8;  // pool.size is 2
  OutsideWriteLock lock(config_.database.path);
  ASSERT_TRUE(lock.held());
  {
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(std::make_unique<HttpClient>(server_->port()));
      const std::string body = R"({"payload":"gone-)" + std::to_string(i) + "\"}";
      ASSERT_TRUE(clients.back()->send_raw(
          "POST /rows HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    }
    const bool all_in_database = wait_until([&] {
      nlohmann::json doc = server.strategy().stats_json();
      return server.db_stats().lock_waits.load() >= 2u && server.strategy().in_use() == 2 &&
             doc["pool"]["waiting"] == kClients - 2;
    });
    ASSERT_TRUE(all_in_database) << server.strategy().stats_json().dump()
                                 << " lock_waits=" << server.db_stats().lock_waits.load();
    // Every client goes away here, without reading, while its write is in the database.
  }
  lock.release();

  // Every write finishes, its answer finds no one, and every lease comes back.
  const bool settled = wait_until([&] {
    return server.stats().requests() >= static_cast<std::uint64_t>(kClients) && server.strategy().in_use() == 0 &&
           server.stats().active_connections() == 0;
  });
  ASSERT_TRUE(settled) << server.strategy().stats_json().dump() << " requests=" << server.stats().requests();
  EXPECT_EQ(server.strategy().in_use(), 0u);
  EXPECT_EQ(server.stats().count(Route::kRowsInsert, 201), static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(server.db_stats().writes_committed.load(), static_cast<std::uint64_t>(kClients));

  // The server still serves, reads and writes.
  HttpClient client(server_->port());
  const auto write = client.request("POST", "/rows", R"({"payload":"after"})");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 201);
  EXPECT_EQ(write->body, R"({"id":9})");
  const auto count = client.request("GET", "/rows/count");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->body, R"({"count":9})");
  EXPECT_EQ(server.strategy().in_use(), 0u);
}

}  // namespace
}  // namespace busylab::testing
