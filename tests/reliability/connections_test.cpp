// Many idle connections, running out of file descriptors, and clients that
// vanish in the middle of a write.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "server/stats.hpp"
#include "strategy/strategy.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

TEST(Connections, FiveThousandIdleConnectionsDoNotStopService) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < 12000 && limit.rlim_max >= 12000) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  // The test process holds the client ends and, in-process, the server ends.
  ASSERT_GE(limit.rlim_cur, 11000u) << "raise the hard descriptor limit (ulimit -Hn) to run this test";

  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 2);
  TestServer server(config);
  std::vector<std::unique_ptr<HttpClient>> idle;
  for (int i = 0; i < 5000; ++i) {
    idle.push_back(std::make_unique<HttpClient>(server.port()));
    ASSERT_TRUE(idle.back()->connect()) << "connection " << i;
  }
  // Meanwhile ordinary clients are served.
  HttpClient client(server.port());
  for (int i = 0; i < 20; ++i) {
    const auto r = client.request("POST", "/rows", "");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
  }
  // The server took every one of them: accepted connections are counted.
  EXPECT_TRUE(wait_until([&] { return server.server().stats().active_connections() >= 5000; }))
      << server.server().stats().active_connections();
  EXPECT_GE(server.server().stats().active_connections(), 5000);
  idle.clear();
  EXPECT_EQ(client.request("GET", "/healthz")->status, 200);
  std::printf("reliability: idle-connections connections=5000 served_meanwhile=20 healthy=yes\n");
}

TEST(Connections, OutOfDescriptorsBacksOffAndRecovers) {
  TempDir dir;
  const std::string port_file = dir.file("port");
  // The server gets a hard limit of 128 descriptors: it cannot raise it.
  ChildProcess server({"/usr/bin/prlimit", "--nofile=128:128", BUSYLAB_BINARY, "serve", "--set", "server.port=0",
                       "--set", "database.path=" + dir.file("fd.db"), "--set", "pool.size=2", "--port-file", port_file},
                      dir.path().string());
  const int port = read_port_file(port_file, 20s);
  ASSERT_GT(port, 0) << server.err();
  std::vector<std::unique_ptr<HttpClient>> hogs;
  for (int i = 0; i < 300; ++i) {
    hogs.push_back(std::make_unique<HttpClient>(static_cast<std::uint16_t>(port)));
    hogs.back()->connect();  // the kernel accepts into the backlog even when the server cannot
  }
  // The server has met the limit (it says so), and is still alive (no crash,
  // no exit) while it cannot accept.
  EXPECT_TRUE(wait_until([&] { return server.err().find("accept failed") != std::string::npos; })) << server.err();
  EXPECT_FALSE(server.wait(10ms).has_value()) << server.err();
  hogs.clear();
  // Once descriptors are free again it serves new clients (after its back-off).
  const bool served = wait_until([&] {
    HttpClient client(static_cast<std::uint16_t>(port));
    const auto r = client.request("GET", "/healthz", "", {}, 2s);
    return r && r->status == 200;
  });
  EXPECT_TRUE(served);
  server.signal(SIGTERM);
  const auto status = server.wait(20s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << server.err();
  const std::string err = server.err();
  EXPECT_NE(err.find("accept failed"), std::string::npos) << err;
  EXPECT_NE(err.find("ulimit -n"), std::string::npos) << err;
  std::printf("reliability: out-of-descriptors limit=128 hogs=300 logged=yes recovered=%s exit=%d\n",
              served ? "yes" : "no", *status);
}

TEST(Connections, ClientsVanishingMidWriteLoseNothingAndLeakNoLease) {
  for (auto kind :
       {StrategyKind::kPerRequest, StrategyKind::kPool, StrategyKind::kSingleWriter, StrategyKind::kBatched}) {
    TempDir dir;
    Config config = test_config(dir, kind, 2);
    TestServer server(config);
    for (int i = 0; i < 200; ++i) {
      HttpClient client(server.port());
      const std::string body = R"({"payload":"gone-)" + std::to_string(i) + "\"}";
      ASSERT_TRUE(client.send_raw("POST /rows HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                                  "\r\n\r\n" + body))
          << to_string(kind) << " client " << i;
      client.close();  // gone before the answer
    }
    // Let the server finish what it started: every request read and answered
    // (the answer finds no one), its lease returned, its connection closed.
    // Each client sent a whole request before closing, so each one reaches a
    // handler; until then in_use() can be 0 only because nothing has started.
    auto& stats = server.server().stats();
    const bool finished = wait_until([&] {
      return stats.requests() >= 200u && stats.active_connections() == 0 && server.server().strategy().in_use() == 0;
    });
    ASSERT_TRUE(finished) << to_string(kind) << ": requests=" << stats.requests()
                          << " open=" << stats.active_connections()
                          << " in_use=" << server.server().strategy().in_use();
    EXPECT_EQ(stats.requests(), 200u) << to_string(kind);
    EXPECT_EQ(server.server().strategy().in_use(), 0u) << to_string(kind);
    const auto summary = server.stop();
    const auto rows = query_int(config.database.path, "SELECT COUNT(*) FROM rows");
    // Each write either committed and was counted, or never happened.
    EXPECT_EQ(static_cast<std::uint64_t>(rows), summary.writes_committed) << to_string(kind);
    EXPECT_LE(rows, 200);
    EXPECT_EQ(integrity_check(config.database.path), "ok");
    std::printf("reliability: vanishing-clients strategy=%s requests=200 committed=%lld leased_after=0 integrity=ok\n",
                std::string(to_string(kind)).c_str(), static_cast<long long>(rows));
  }
}

}  // namespace
}  // namespace busylab::testing
