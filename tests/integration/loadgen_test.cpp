// busylab load against a small in-test server whose answers the test
// controls: exact counts, per-status counts, --close, timeouts, a server
// dying mid-run, open-loop rate, and the command's exit codes; workload files
// against that server and against a real busylab server (the ledger checked
// against the database).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "loadgen/load_runner.hpp"
#include "loadgen/schedule.hpp"
#include "loadgen/workload.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/mini_http_server.hpp"
#include "tests/support/sqlite_probe.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;
using loadgen::ErrorClass;

loadgen::LoadOptions options_for(std::uint16_t port, const std::string& path = "/") {
  loadgen::LoadOptions o;
  o.url = loadgen::parse_url("http://127.0.0.1:" + std::to_string(port) + path);
  o.connections = 8;
  o.threads = 2;
  return o;
}

std::uint64_t errors(const loadgen::Report& r, ErrorClass e) {
  return r.tally.errors[static_cast<std::size_t>(e)];
}

TEST(Loadgen, ExactRequestCount) {
  MiniHttpServer server([](std::uint64_t) { return MiniReply{}; });
  auto o = options_for(server.port());
  o.requests = 1234;
  const auto r = loadgen::run_load(o);
  EXPECT_EQ(r.tally.responses, 1234u);
  EXPECT_EQ(r.tally.status.at(200), 1234u);
  EXPECT_EQ(r.tally.error_total(), 0u);
  EXPECT_EQ(server.requests(), 1234u);
  EXPECT_EQ(r.tally.latency_us.count(), 1234u);
  // Keep-alive: one connection per slot, never more (plus the probe that
  // checks the target is up before the run).
  EXPECT_EQ(r.tally.connects, 8u);
  EXPECT_EQ(server.connections(), 8u + 1);
  EXPECT_EQ(r.tally.reconnects, 0u);
}

TEST(Loadgen, CountsEveryStatusSeen) {
  MiniHttpServer server([](std::uint64_t n) { return MiniReply{n % 4 == 0 ? 503 : 200}; });
  auto o = options_for(server.port());
  o.requests = 800;
  const auto r = loadgen::run_load(o);
  EXPECT_EQ(r.tally.status.at(200) + r.tally.status.at(503), 800u);
  EXPECT_EQ(r.tally.status.at(503), 200u);
}

TEST(Loadgen, CloseOpensOneConnectionPerRequest) {
  MiniHttpServer server([](std::uint64_t) { return MiniReply{}; });
  auto o = options_for(server.port());
  o.requests = 300;
  o.close = true;
  const auto r = loadgen::run_load(o);
  EXPECT_EQ(r.tally.responses, 300u);
  EXPECT_EQ(server.connections(), 300u + 1);  // and the probe
  EXPECT_EQ(r.tally.connects, 300u);
  EXPECT_EQ(r.tally.reconnects, 0u);  // asked for, not a reconnect
}

TEST(Loadgen, ServerClosingConnectionsIsReconnectedAndCounted) {
  MiniHttpServer server([](std::uint64_t n) { return MiniReply{200, 0ms, n % 10 == 9}; });
  auto o = options_for(server.port());
  o.connections = 2;
  o.threads = 1;
  o.requests = 200;
  const auto r = loadgen::run_load(o);
  EXPECT_EQ(r.tally.responses, 200u);
  EXPECT_EQ(r.tally.error_total(), 0u);
  EXPECT_GE(r.tally.reconnects, 15u);
  EXPECT_EQ(r.tally.connects + 1, server.connections());  // and the probe
}

TEST(Loadgen, TimeoutsAreTheirOwnErrorClass) {
  MiniHttpServer server([](std::uint64_t n) {
    MiniReply reply;
    reply.silent = n % 5 == 0;
    return reply;
  });
  auto o = options_for(server.port());
  o.connections = 4;
  o.requests = 40;
  o.timeout = 200ms;
  const auto r = loadgen::run_load(o);
  EXPECT_GT(errors(r, ErrorClass::kTimeout), 0u);
  EXPECT_EQ(r.tally.responses + r.tally.error_total(), 40u);
  EXPECT_EQ(errors(r, ErrorClass::kTimeout), r.tally.error_total());
  // Each timed-out connection was replaced.
  EXPECT_GE(r.tally.reconnects, errors(r, ErrorClass::kTimeout) - 4);
}

TEST(Loadgen, ServerDyingMidRunGivesErrorsNotAHang) {
  MiniHttpServer server([](std::uint64_t) { return MiniReply{200, 1ms}; });
  auto o = options_for(server.port());
  o.duration = 1500ms;
  std::thread killer([&] {
    // Mid-run: once it has answered some requests, whenever that is.
    wait_until([&] { return server.requests() >= 50; });
    server.stop();
  });
  const auto started = std::chrono::steady_clock::now();
  const auto r = loadgen::run_load(o);
  killer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_GT(r.tally.responses, 0u);
  EXPECT_GT(r.tally.error_total(), 0u);
  EXPECT_GT(errors(r, ErrorClass::kConnect), 0u);
}

TEST(Loadgen, OpenLoopKeepsTheRateAndMeasuresFromDueTime) {
  // Every 50th answer stalls 100 ms: with coordinated omission corrected,
  // requests due during the stall on that connection show the wait.
  MiniHttpServer server([](std::uint64_t n) { return MiniReply{200, n % 50 == 49 ? 100ms : 0ms}; });
  auto o = options_for(server.port());
  o.connections = 4;
  o.rate = 400;
  o.duration = 1s;
  const auto r = loadgen::run_load(o);
  // 400 requests are due in one second (one more at the very end at most).
  EXPECT_GE(r.tally.responses + r.tally.error_total(), 395u);
  EXPECT_LE(r.tally.responses + r.tally.error_total(), 402u);
  EXPECT_GE(r.tally.latency_us.max(), 100'000u);
  // A stall of 100 ms at 100 requests/s per connection delays the next ~10.
  EXPECT_GT(r.tally.late_sends, 0u);
  EXPECT_GE(r.tally.latency_us.percentile(0.99), 10'000u);
  const auto j = r.to_json();
  EXPECT_EQ(j["open_loop"]["target_rate"], 400.0);
  // --rate sends late rather than dropping: every open-loop report has the field.
  EXPECT_EQ(r.tally.dropped, 0u);
  EXPECT_EQ(j["open_loop"]["dropped"], 0);
}

TEST(Loadgen, WarmupIsNotCounted) {
  MiniHttpServer server([](std::uint64_t) { return MiniReply{}; });
  auto o = options_for(server.port());
  o.warmup = 300ms;
  o.requests = 100;
  const auto r = loadgen::run_load(o);
  EXPECT_EQ(r.tally.responses, 100u);
  EXPECT_GT(server.requests(), 100u);
}

TEST(Loadgen, UnreachableTargetThrows) {
  std::uint16_t port = 0;
  {
    MiniHttpServer server([](std::uint64_t) { return MiniReply{}; });
    port = server.port();
  }
  auto o = options_for(port);
  o.requests = 10;
  EXPECT_THROW(loadgen::run_load(o), loadgen::LoadTargetError);
}

// A listening socket that never accepts, with a backlog of 1. Linux queues
// backlog + 1 connections and then drops the SYNs of further ones, so their
// connects neither succeed nor fail: the kernel retries for two minutes.
class NeverAccepts {
 public:
  NeverAccepts() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ok_ = listener_ >= 0 && bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
          listen(listener_, 1) == 0 && getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin_port);
  }
  ~NeverAccepts() {
    for (int fd : fillers_) close(fd);
    if (listener_ >= 0) close(listener_);
  }
  NeverAccepts(const NeverAccepts&) = delete;
  NeverAccepts& operator=(const NeverAccepts&) = delete;

  /// Takes one place in the accept queue with a completed connection.
  bool fill_one() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    fillers_.push_back(fd);
    return fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  bool ok() const { return ok_; }
  std::uint16_t port() const { return port_; }

 private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  bool ok_ = false;
  std::vector<int> fillers_;
};

TEST(LoadCli, ConnectsThatNeverCompleteAreConnectErrorsAndTheRunEndsOnTime) {
  TempDir dir;
  NeverAccepts target;
  ASSERT_TRUE(target.ok());
  // One place is left, for the probe connection; every connection of the run
  // then waits on a dropped SYN.
  ASSERT_TRUE(target.fill_one());
  const auto started = std::chrono::steady_clock::now();
  const auto r = run_command({BUSYLAB_BINARY, "load", "http://127.0.0.1:" + std::to_string(target.port()) + "/", "-c",
                              "32", "-d", "2s", "--timeout", "500ms", "--json", "-"},
                             dir.path().string(), 60s);
  const auto took = std::chrono::steady_clock::now() - started;
  // The probe reached the target, but no connection of the run was ever
  // established: "could not be reached", with the report printed.
  ASSERT_EQ(r.status, 1) << r.err;
  // Duration + timeout + a second at the very most, with room for a loaded
  // machine; without connect deadlines it lasted until the kernel gave up.
  EXPECT_LT(took, 20s);
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["requests"], 0);
  // 32 connections, each timing out every 500 ms for 2 s.
  EXPECT_GE(j["errors"]["connect"].get<int>(), 32) << r.out;
  EXPECT_EQ(j["errors"]["timeout"], 0) << "no request was ever sent";
  EXPECT_EQ(j["connections_opened"], 0) << r.out;
  EXPECT_EQ(j["reached"], false) << r.out;
}

TEST(LoadCli, ExitCodesAndJsonOnStdout) {
  TempDir dir;
  const std::string bin = BUSYLAB_BINARY;
  MiniHttpServer server([](std::uint64_t n) { return MiniReply{n % 2 ? 201 : 200}; });
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/rows";

  auto r = run_command({bin, "load", url, "-n", "100", "-c", "4", "-m", "POST", "-b", "{}", "--json", "-"},
                       dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "stdout must be only JSON: " << r.out;
  EXPECT_EQ(j["requests"], 100);
  EXPECT_EQ(j["status"]["200"], 50);
  EXPECT_EQ(j["status"]["201"], 50);

  r = run_command({bin, "load", url, "-n", "20", "--json", dir.file("report.json")}, dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Requests/sec"), std::string::npos) << r.out;
  std::ifstream saved(dir.file("report.json"));
  EXPECT_EQ(nlohmann::json::parse(saved)["requests"], 20);

  r = run_command({bin, "load", "https://127.0.0.1/"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("https is not supported"), std::string::npos) << r.err;
  r = run_command({bin, "load", url, "-n", "0"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  r = run_command({bin, "load", url, "-c", "-3"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  r = run_command({bin, "load", url, "--bogus"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  r = run_command({bin, "load", "not a url"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  r = run_command({bin, "load", "http://127.0.0.1:1/", "-n", "5"}, dir.path().string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
}

std::shared_ptr<const loadgen::Workload> workload_of(const std::string& text) {
  return std::make_shared<const loadgen::Workload>(
      loadgen::parse_workload(nlohmann::json::parse(text), "test workload"));
}

std::uint64_t two_xx(const loadgen::Tally& t) {
  std::uint64_t n = 0;
  for (auto [code, count] : t.status) n += code >= 200 && code < 300 ? count : 0;
  return n;
}

TEST(LoadWorkload, KindsAddUpAndFollowTheWeights) {
  // Every 7th answer is a 503; the server closes the connection after every 50th.
  MiniHttpServer server([](std::uint64_t n) { return MiniReply{n % 7 == 3 ? 503 : 200, 0ms, n % 50 == 49}; });
  auto o = options_for(server.port(), "/this/path/is/ignored");
  o.requests = 4000;
  o.seed = 1;
  o.workload = workload_of(R"({"name": "mix",
      "vars": {"id": {"distribution": "zipfian", "min": 1, "max": 1000}},
      "requests": [{"name": "read", "weight": 60, "method": "GET", "path": "/rows/{id}"},
                   {"name": "insert", "weight": 30, "method": "POST", "path": "/rows",
                    "body": "{\"payload\":\"{payload:20}\"}"},
                   {"name": "delete", "weight": 10, "method": "DELETE", "path": "/rows/{id}"}]})");
  const auto r = loadgen::run_load(o);
  ASSERT_EQ(r.kinds.size(), 3u);
  EXPECT_EQ(r.tally.responses, 4000u);
  EXPECT_EQ(r.tally.error_total(), 0u);
  EXPECT_EQ(server.requests(), 4000u);
  std::uint64_t sum = 0, latency_count = 0;
  std::map<int, std::uint64_t> status;
  for (const auto& k : r.kinds) {
    sum += k.tally.responses;
    latency_count += k.tally.latency_us.count();
    for (auto [code, n] : k.tally.status) status[code] += n;
  }
  EXPECT_EQ(sum, r.tally.responses);
  EXPECT_EQ(latency_count, r.tally.latency_us.count());
  EXPECT_EQ(status, r.tally.status);
  // Shares within 0.04 of the weights: 5 standard deviations at 4000 draws.
  const double weights[] = {0.6, 0.3, 0.1};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(static_cast<double>(r.kinds[i].tally.responses) / 4000.0, weights[i], 0.04) << r.kinds[i].name;
  }
  // The ledger: every 2xx answer to POST /rows is an insert, nothing else is.
  EXPECT_EQ(r.ledger.inserts, two_xx(r.kinds[1].tally));
  EXPECT_LT(r.ledger.inserts, r.kinds[1].tally.responses) << "some inserts got 503";
  EXPECT_EQ(r.ledger.inserts_unknown, 0u);
  EXPECT_TRUE(r.ledger.counters.empty());
  EXPECT_EQ(r.options.seed, 1u);

  const auto j = r.to_json();
  EXPECT_EQ(j["workload"]["name"], "mix");
  EXPECT_EQ(j["workload"]["seed"], 1);
  EXPECT_EQ(j["kinds"]["insert"]["requests"], r.kinds[1].tally.responses);
  EXPECT_EQ(j["ledger"]["inserts"], r.ledger.inserts);
  EXPECT_EQ(j["target"]["url"], "http://127.0.0.1:" + std::to_string(server.port()));
}

TEST(LoadWorkload, OpenLoopAndWarmup) {
  MiniHttpServer server([](std::uint64_t) { return MiniReply{201}; });
  auto o = options_for(server.port());
  o.rate = 500;
  o.duration = 600ms;
  o.warmup = 200ms;
  o.workload = workload_of(R"({"vars": {"n": {"distribution": "sequential", "min": 1, "max": 3}},
      "requests": [{"name": "insert", "weight": 1, "method": "POST", "path": "/rows"},
                   {"name": "bump", "weight": 1, "method": "POST", "path": "/counters/c{n}/increment"}]})");
  const auto r = loadgen::run_load(o);
  ASSERT_TRUE(r.options.seed.has_value()) << "a random seed is chosen and reported";
  // 300 requests are due in the measured 600 ms, 100 in the warm-up.
  EXPECT_NEAR(static_cast<double>(r.tally.responses), 300, 10);
  EXPECT_EQ(r.kinds[0].tally.responses + r.kinds[1].tally.responses, r.tally.responses);
  // The ledger counts the warm-up's requests too: all of them reached the server.
  std::uint64_t increments = 0;
  for (const auto& [name, n] : r.ledger.counters) {
    EXPECT_TRUE(name == "c1" || name == "c2" || name == "c3") << name;
    increments += n;
  }
  EXPECT_EQ(r.ledger.inserts + increments, server.requests());
  EXPECT_GT(r.ledger.inserts, r.kinds[0].tally.responses);
}

TEST(LoadWorkload, LedgerMatchesTheDatabase) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kPool, 4);
  TestServer server(config);
  auto o = options_for(server.port());
  o.requests = 600;
  o.warmup = 100ms;
  // "mark" names a counter after the id that `latest` drew, so the ledger
  // shows which ids were drawn: the newest acknowledged, read from the
  // answers to POST /rows.
  o.workload = workload_of(R"({
      "vars": {"c": {"distribution": "uniform", "min": 1, "max": 5},
               "id": {"distribution": "latest", "min": 1, "max": 1}},
      "requests": [{"name": "insert", "weight": 2, "method": "POST", "path": "/rows",
                    "body": "{\"payload\":\"{payload:10}\"}"},
                   {"name": "bump", "weight": 1, "method": "POST", "path": "/counters/c{c}/increment"},
                   {"name": "mark", "weight": 1, "method": "POST", "path": "/counters/seen{id}/increment"},
                   {"name": "read", "weight": 1, "method": "GET", "path": "/rows/{id}"}]})");
  const auto r = loadgen::run_load(o);
  EXPECT_EQ(r.tally.error_total(), 0u);
  ASSERT_EQ(r.kinds.size(), 4u);
  // Reads of the newest acknowledged ids find their rows (only the very
  // first, before any insert was acknowledged, may ask for row 1 too early).
  const auto& reads = r.kinds[3].tally;
  EXPECT_GT(reads.responses, 0u);
  EXPECT_GE(reads.status.count(200) ? reads.status.at(200) : 0, reads.responses * 9 / 10);
  server.stop();
  EXPECT_EQ(r.ledger.inserts_unknown, 0u);
  EXPECT_TRUE(r.ledger.counters_unknown.empty());
  EXPECT_EQ(query_int(config.database.path, "SELECT COUNT(*) FROM rows"), static_cast<std::int64_t>(r.ledger.inserts));
  EXPECT_GT(r.ledger.inserts, two_xx(r.kinds[0].tally)) << "warm-up inserts are in the ledger";
  std::uint64_t increments = 0, bumped = 0, marked_ids = 0;
  for (const auto& [name, n] : r.ledger.counters) {
    EXPECT_EQ(query_int(config.database.path, "SELECT value FROM counters WHERE name = '" + name + "'"),
              static_cast<std::int64_t>(n))
        << name;
    increments += n;
    if (name.rfind("c", 0) == 0) ++bumped;
    if (name.rfind("seen", 0) == 0) ++marked_ids;
  }
  EXPECT_EQ(query_int(config.database.path, "SELECT COALESCE(SUM(value), 0) FROM counters"),
            static_cast<std::int64_t>(increments));
  EXPECT_EQ(bumped, 5u);
  // Without the newest id from the answers every mark would be seen1 (max 1).
  const auto marks = two_xx(r.kinds[2].tally);
  const auto first = r.ledger.counters.count("seen1") ? r.ledger.counters.at("seen1") : 0;
  EXPECT_LT(first, marks / 10 + 5);
  EXPECT_GT(marked_ids, 10u);
}

TEST(LoadWorkload, PlainRunsKeepALedgerToo) {
  MiniHttpServer server([](std::uint64_t n) { return MiniReply{n % 4 == 0 ? 503 : 201}; });
  auto o = options_for(server.port(), "/rows");
  o.method = "POST";
  o.requests = 400;
  const auto r = loadgen::run_load(o);
  EXPECT_EQ(r.ledger.inserts, 300u);
  EXPECT_EQ(r.ledger.inserts, two_xx(r.tally));
  EXPECT_TRUE(r.kinds.empty());
  EXPECT_TRUE(r.to_json()["kinds"].is_null());
}

TEST(LoadCli, WorkloadFileSeedAndConflicts) {
  TempDir dir;
  const std::string bin = BUSYLAB_BINARY;
  MiniHttpServer server([](std::uint64_t) { return MiniReply{200}; });
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string file = dir.file("w.json");
  {
    std::ofstream out(file);
    out << R"({"name": "two", "vars": {"id": {"distribution": "uniform", "min": 1, "max": 9}},
               "requests": [{"name": "a", "weight": 1, "method": "GET", "path": "/a/{id}"},
                            {"name": "b", "weight": 1, "method": "PUT", "path": "/b/{id}", "body": "{}"}]})";
  }
  auto r = run_command({bin, "load", url, "--workload", file, "-n", "100", "-c", "4", "--seed", "77", "--json", "-"},
                       dir.path().string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["workload"]["seed"], 77);
  EXPECT_EQ(j["workload"]["file"], file);
  EXPECT_EQ(j["workload"]["name"], "two");
  EXPECT_EQ(j["kinds"]["a"]["requests"].get<int>() + j["kinds"]["b"]["requests"].get<int>(), 100);

  r = run_command({bin, "load", url, "--workload", file, "-n", "50"}, dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("workload two (2 kinds, seed "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Kinds:"), std::string::npos) << r.out;

  r = run_command({bin, "load", url, "--workload", file, "-m", "GET"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--method conflicts with --workload"), std::string::npos) << r.err;
  r = run_command({bin, "load", url, "--workload", file, "-b", "x"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("conflict with --workload"), std::string::npos) << r.err;
  r = run_command({bin, "load", url, "--seed", "3", "-n", "5"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--seed applies only with --workload"), std::string::npos) << r.err;

  {
    std::ofstream out(file);
    out << R"({"requests": [{"name": "a", "weight": 0, "method": "GET", "path": "/a"}]})";
  }
  r = run_command({bin, "load", url, "--workload", file}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(file + ": requests[0].weight: must be a positive number"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
}

TEST(LoadSeries, IntervalsCoverTheRunAndAddUp) {
  // Every 4th answer is a 503.
  MiniHttpServer server([](std::uint64_t n) { return MiniReply{n % 4 == 0 ? 503 : 200, 1ms}; });
  auto o = options_for(server.port());
  o.duration = 1s;
  o.interval = 200ms;
  std::vector<loadgen::IntervalSample> live;
  const auto r = loadgen::run_load(o, {}, [&](const loadgen::IntervalSample& s) { live.push_back(s); });
  // 1 s in intervals of 200 ms; the answers still in flight at the end count in the last.
  ASSERT_EQ(r.series.size(), 5u);
  std::uint64_t requests = 0, ok = 0, failures = 0, unavailable = 0;
  for (std::size_t i = 0; i < r.series.size(); ++i) {
    const auto& s = r.series[i];
    EXPECT_NEAR(s.t_s, 0.2 * static_cast<double>(i + 1), 1e-9);
    EXPECT_NEAR(s.length_s, 0.2, 1e-9);
    EXPECT_GT(s.requests, 0u) << i;
    EXPECT_NEAR(s.per_s, static_cast<double>(s.requests) / 0.2, 1e-6);
    ASSERT_TRUE(s.p50_ms && s.p99_ms && s.max_ms) << i;
    EXPECT_GE(*s.p50_ms, 1.0);  // the server waits 1 ms before answering
    EXPECT_LE(*s.p50_ms, *s.p99_ms);
    EXPECT_LE(*s.p99_ms, *s.max_ms);
    EXPECT_FALSE(s.target_rate);  // closed loop
    requests += s.requests;
    ok += s.ok;
    failures += s.failures;
    unavailable += s.failures_by_cause.count("503") ? s.failures_by_cause.at("503") : 0;
  }
  EXPECT_EQ(requests, r.tally.responses);
  EXPECT_EQ(ok, r.tally.status.at(200));
  EXPECT_EQ(unavailable, r.tally.status.at(503));
  EXPECT_EQ(failures, r.tally.status.at(503) + r.tally.error_total());
  // The lines shown while running: one per interval, in order.
  ASSERT_EQ(live.size(), r.series.size());
  for (std::size_t i = 0; i < live.size(); ++i) EXPECT_NEAR(live[i].t_s, r.series[i].t_s, 1e-9);
  EXPECT_EQ(live.back().requests, r.series.back().requests);  // the last one once the run has ended
}

TEST(LoadStages, SlowServerDropsWhatCannotBeSentOnTime) {
  // A request every 20 ms per connection, each answered after 50 ms: a
  // connection sends one, drops the two due while it waits, sends the next.
  MiniHttpServer server([](std::uint64_t) { return MiniReply{200, 50ms}; });
  auto o = options_for(server.port());
  o.connections = 4;
  o.threads = 1;
  o.stages = loadgen::parse_stages("1s:200");
  o.interval = 250ms;
  const auto r = loadgen::run_load(o);
  ASSERT_TRUE(r.scheduled);
  EXPECT_EQ(*r.scheduled, 200u);
  EXPECT_GE(r.tally.dropped, 100u);
  EXPECT_LE(r.tally.responses, 100u);
  EXPECT_GT(r.tally.responses, 40u);
  // Every request due was sent or dropped, and what was sent was answered.
  EXPECT_EQ(r.tally.responses + r.tally.error_total() + r.tally.dropped, 200u);
  EXPECT_EQ(server.requests(), r.tally.responses);
  EXPECT_GE(r.tally.latency_us.percentile(0.5), 50'000u);
  std::uint64_t dropped = 0;
  for (const auto& s : r.series) {
    dropped += s.dropped;
    ASSERT_TRUE(s.target_rate);
    EXPECT_NEAR(*s.target_rate, 200, 1e-6);
  }
  EXPECT_EQ(dropped, r.tally.dropped);
  const auto j = r.to_json();
  EXPECT_EQ(j["open_loop"]["dropped"], r.tally.dropped);
  EXPECT_EQ(j["open_loop"]["scheduled"], 200);
}

TEST(LoadStages, FastServerKeepsTheRampingSchedule) {
  // 80/s for 1 s, then 80 -> 160/s over 1 s: 80 + 120 = 200 requests, at
  // least 25 ms apart on each of the 4 connections.
  MiniHttpServer server([](std::uint64_t) { return MiniReply{}; });
  auto o = options_for(server.port());
  o.connections = 4;
  o.threads = 1;
  o.stages = loadgen::parse_stages("1s:80,1s:160");
  o.interval = 500ms;
  const auto r = loadgen::run_load(o);
  ASSERT_TRUE(r.scheduled);
  EXPECT_EQ(*r.scheduled, 200u);
  EXPECT_EQ(r.tally.dropped, 0u);
  EXPECT_EQ(r.tally.responses, 200u);
  EXPECT_EQ(server.requests(), 200u);
  EXPECT_NEAR(r.duration_s, 2.0, 0.1);
  // Per interval: the schedule's mean rate, and about that many answers.
  ASSERT_EQ(r.series.size(), 4u);
  const double targets[] = {80, 80, 100, 140};
  for (std::size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(r.series[i].target_rate);
    EXPECT_NEAR(*r.series[i].target_rate, targets[i], 1e-6) << i;
    EXPECT_NEAR(static_cast<double>(r.series[i].requests), targets[i] / 2, 3) << i;
    EXPECT_EQ(r.series[i].dropped, 0u);
  }
}

TEST(LoadCli, SloExitStatusAndVerdict) {
  TempDir dir;
  const std::string bin = BUSYLAB_BINARY;
  MiniHttpServer server([](std::uint64_t) { return MiniReply{200, 50ms}; });
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";

  auto r =
      run_command({bin, "load", url, "-c", "4", "-d", "1s", "--slo", "p99_ms=10", "--json", "-"}, dir.path().string());
  EXPECT_EQ(r.status, 3) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["slo"]["pass"], false);
  EXPECT_EQ(j["slo"]["reason"].get<std::string>().rfind("p99 ", 0), 0u) << j["slo"];
  ASSERT_EQ(j["slo"]["checks"].size(), 1u);
  EXPECT_EQ(j["slo"]["checks"][0]["name"], "p99_ms");
  EXPECT_GE(j["slo"]["checks"][0]["value"].get<double>(), 50.0);

  r = run_command({bin, "load", url, "-c", "4", "-d", "1s", "--slo", "p99_ms=500,max_failure_rate=0", "--json", "-"},
                  dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["slo"]["pass"], true);
  EXPECT_TRUE(j["slo"]["reason"].is_null());
  EXPECT_EQ(j["slo"]["checks"].size(), 2u);

  // The text report says it too.
  r = run_command({bin, "load", url, "-c", "2", "-n", "10", "--slo", "p99_ms=10"}, dir.path().string());
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.out.find("SLO: FAIL: p99 "), std::string::npos) << r.out;

  r = run_command({bin, "load", url, "-n", "5", "--slo", "p99=10"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("did you mean 'p99_ms'?"), std::string::npos) << r.err;
  r = run_command({bin, "load", url, "-n", "5", "--slo", "p99_ms=ten"}, dir.path().string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is not a number"), std::string::npos) << r.err;
}

TEST(LoadCli, IntervalLinesStagesAndConflicts) {
  TempDir dir;
  const std::string bin = BUSYLAB_BINARY;
  MiniHttpServer server([](std::uint64_t) { return MiniReply{}; });
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";

  auto r =
      run_command({bin, "load", url, "-c", "4", "-d", "1s", "--interval", "200ms", "--json", "-"}, dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_EQ(j["series"].size(), 5u);
  std::uint64_t requests = 0;
  for (const auto& s : j["series"]) requests += s["requests"].get<std::uint64_t>();
  EXPECT_EQ(requests, j["requests"].get<std::uint64_t>());
  EXPECT_EQ(j["target"]["interval_s"], 0.2);
  // One line per interval on stderr, whether it is a terminal or not.
  std::size_t lines = 0;
  for (std::size_t at = r.err.find("/s ok "); at != std::string::npos; at = r.err.find("/s ok ", at + 1)) ++lines;
  EXPECT_EQ(lines, 5u) << r.err;

  r = run_command({bin, "load", url, "-c", "4", "-d", "1s", "--interval", "500ms"}, dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Series (every 0.5s"), std::string::npos) << r.out;

  // 500 ms at 100/s, then 100 -> 200/s over 500 ms: 50 + 75 requests.
  const auto before = server.requests();
  r = run_command({bin, "load", url, "-c", "4", "--stages", "500ms:100,500ms:200", "--json", "-"}, dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["open_loop"]["scheduled"], 125);
  EXPECT_EQ(j["open_loop"]["dropped"], 0);
  EXPECT_EQ(j["requests"], 125);
  EXPECT_EQ(server.requests() - before, 125u);
  EXPECT_EQ(j["target"]["stages"].size(), 2u);
  EXPECT_EQ(j["target"]["duration_s"], 1.0);
  EXPECT_TRUE(j["series"].is_null());

  // --start-rate 0: 0 -> 100/s over 1 s, 50 requests.
  r = run_command({bin, "load", url, "-c", "2", "--stages", "1s:100", "--start-rate", "0", "--json", "-"},
                  dir.path().string());
  EXPECT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["open_loop"]["scheduled"], 50);
  EXPECT_EQ(j["target"]["start_rate"], 0.0);

  const auto refused = [&](std::vector<std::string> args, const std::string& message) {
    args.insert(args.begin(), {bin, "load", url});
    const auto result = run_command(args, dir.path().string());
    EXPECT_EQ(result.status, 2) << message;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  };
  const auto sent = server.requests();
  refused({"--stages", "1s:100", "-d", "2s"}, "--stages conflicts with --duration");
  refused({"--stages", "1s:100", "-r", "10"}, "--stages conflicts with --rate");
  refused({"--start-rate", "5"}, "--start-rate applies only with --stages");
  refused({"--stages", "1s"}, "DURATION:TARGET");
  refused({"--stages", "1s:0"}, "no request");
  refused({"--interval", "100us", "-n", "5"}, "--interval must be at least 1ms");
  refused({"--interval", "soon", "-n", "5"}, "--interval: 'soon' is not a duration");
  EXPECT_EQ(server.requests(), sent);  // bad arguments send nothing
}

}  // namespace
}  // namespace busylab::testing
