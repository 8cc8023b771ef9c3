// Malformed and oversized requests get the right status (or a closed
// connection), and the server keeps answering everyone else.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "strategy/strategy.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

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
  EXPECT_EQ(r->header("allow"), "GET, HEAD");
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

TEST_F(Hostile, PeerClosingMidRequestLeavesNoLease) {
  for (int i = 0; i < 20; ++i) {
    HttpClient client(server_->port());
    client.send_raw("POST /rows HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"payload\":");
    client.close();
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(server_->server().strategy().in_use(), 0u);
}

}  // namespace
}  // namespace busylab::testing
