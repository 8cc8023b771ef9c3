// GET /metrics: Prometheus text exposition that a real parser accepts
// (`promtool check metrics`, from Debian's prometheus package, installed by
// scripts/bootstrap), with figures that move as requests are served.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "strategy/strategy.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

// Sample lines of an exposition: "name{labels}" -> value.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// What promtool says of the exposition: its exit status and output.
RunResult promtool_check(const TempDir& dir, const std::string& text) {
  const std::string file = dir.file("metrics.txt");
  std::ofstream(file) << text;
  return run_command({"/bin/sh", "-c", "promtool check metrics < '" + file + "'"}, dir.path().string());
}

class Metrics : public ::testing::TestWithParam<StrategyKind> {};

TEST_P(Metrics, PromtoolAcceptsTheExpositionAndFiguresMove) {
  ASSERT_EQ(std::system("command -v promtool >/dev/null"), 0)
      << "promtool is missing: scripts/bootstrap installs Debian's prometheus package";
  TempDir dir;
  TestServer server(test_config(dir, GetParam(), 2));
  HttpClient client(server.port());

  auto first = client.request("GET", "/metrics");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  auto r = promtool_check(dir, first->body);
  EXPECT_EQ(r.status, 0) << r.out << r.err << "\n" << first->body;

  for (int i = 0; i < 7; ++i) ASSERT_EQ(client.request("POST", "/rows", R"({"payload":"m"})")->status, 201);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(client.request("GET", "/rows/count")->status, 200);
  ASSERT_EQ(client.request("GET", "/rows/abc")->status, 400);

  const auto second = client.request("GET", "/metrics");
  ASSERT_TRUE(second);
  r = promtool_check(dir, second->body);
  EXPECT_EQ(r.status, 0) << r.out << r.err << "\n" << second->body;
  const auto m = samples(second->body);
  const auto at = [&](const std::string& key) {
    const auto it = m.find(key);
    EXPECT_NE(it, m.end()) << key << " missing from\n" << second->body;
    return it == m.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(at(R"(busylab_http_requests_total{route="rows_insert",code="201"})"), 7);
  EXPECT_EQ(at(R"(busylab_http_requests_total{route="rows_count",code="200"})"), 3);
  EXPECT_EQ(at(R"(busylab_http_requests_total{route="rows_get",code="400"})"), 1);
  // The first scrape was answered, and counted, before this one.
  EXPECT_EQ(at(R"(busylab_http_requests_total{route="metrics",code="200"})"), 1);
  EXPECT_EQ(at(R"(busylab_http_request_duration_seconds_count{route="rows_insert"})"), 7);
  EXPECT_EQ(at(R"(busylab_http_request_duration_seconds_bucket{route="rows_insert",le="+Inf"})"), 7);
  EXPECT_GT(at(R"(busylab_http_request_duration_seconds_sum{route="rows_insert"})"), 0);
  EXPECT_EQ(at("busylab_sqlite_writes_committed_total"), 7);
  EXPECT_EQ(at("busylab_http_writes_acknowledged_total"), 7);
  EXPECT_GE(at("busylab_sqlite_commits_total"), 1);
  EXPECT_EQ(at(R"(busylab_sqlite_failures_total{code="BUSY"})"), 0);
  EXPECT_GE(at("busylab_http_connections_open"), 1);

  const bool writer = GetParam() == StrategyKind::kSingleWriter || GetParam() == StrategyKind::kBatched;
  const std::string pool = writer ? "readers" : "main";
  EXPECT_EQ(at(R"(busylab_pool_max_connections{pool=")" + pool + R"("})"), 2);
  EXPECT_EQ(at(R"(busylab_pool_connections{pool=")" + pool + R"(",state="used"})"), 0);
  EXPECT_EQ(at(R"(busylab_pool_connections{pool=")" + pool + R"(",state="idle"})"), 2);
  EXPECT_EQ(at(R"(busylab_pool_pending_requests{pool=")" + pool + R"("})"), 0);
  // Reads (and, without a writer, writes) waited for and held a connection.
  EXPECT_EQ(at(R"(busylab_pool_wait_seconds_count{pool=")" + pool + R"("})"), writer ? 3 : 10);
  EXPECT_EQ(at(R"(busylab_pool_use_seconds_count{pool=")" + pool + R"("})"), writer ? 3 : 10);
  if (writer) {
    EXPECT_EQ(at(R"(busylab_pool_wait_seconds_count{pool="writer"})"), 7);
    EXPECT_EQ(at("busylab_writer_batch_size_sum"), 7);
    EXPECT_EQ(at("busylab_writer_queue_length"), 0);
    EXPECT_EQ(at(R"(busylab_pool_max_connections{pool="writer"})"), 1);
  }

  // No label carries a request's id or path: the series are bounded.
  EXPECT_EQ(second->body.find("abc"), std::string::npos);
}

// database.checkpoint: a server with a background checkpointer counts its
// checkpoints in /stats and /metrics, and the WAL it truncates stays small.
TEST(MetricsCheckpointer, BackgroundCheckpointsAreCountedInStatsAndMetrics) {
  TempDir dir;
  Config config = test_config(dir, StrategyKind::kBatched, 2);
  config.database.checkpoint.mode = CheckpointMode::kTruncate;
  config.database.checkpoint.interval_ms = 20;
  TestServer server(config);
  HttpClient client(server.port());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(client.request("POST", "/rows", R"({"payload":"c"})")->status, 201);
  nlohmann::json checkpointer;
  for (int i = 0; i < 200; ++i) {
    checkpointer = nlohmann::json::parse(client.request("GET", "/stats")->body)["database"]["checkpointer"];
    if (checkpointer["frames"].get<std::uint64_t>() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(checkpointer["checkpoints"].get<std::uint64_t>(), 0u) << checkpointer;
  EXPECT_GT(checkpointer["frames"].get<std::uint64_t>(), 0u) << checkpointer;
  EXPECT_EQ(checkpointer["errors"], 0) << checkpointer;
  const auto metrics = client.request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  const auto m = samples(metrics->body);
  ASSERT_TRUE(m.count("busylab_checkpoints_total")) << metrics->body;
  EXPECT_GT(m.at("busylab_checkpoints_total"), 0);
  EXPECT_GT(m.at("busylab_checkpoint_frames_total"), 0);
  EXPECT_GT(m.at("busylab_checkpoint_duration_seconds_count"), 0);
  const auto summary = server.stop();
  EXPECT_EQ(summary.writes_acknowledged, 50u);
  EXPECT_TRUE(summary.checkpointed);
}

INSTANTIATE_TEST_SUITE_P(Strategies, Metrics,
                         ::testing::Values(StrategyKind::kPerRequest, StrategyKind::kPool, StrategyKind::kSingleWriter,
                                           StrategyKind::kBatched),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(MetricsHttp, OnlyGetAndTheDashboardIsHtml) {
  TempDir dir;
  TestServer server(test_config(dir, StrategyKind::kPool, 2));
  HttpClient client(server.port());
  const auto post = client.request("POST", "/metrics");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET, HEAD");
  const auto page = client.request("GET", "/dashboard");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<title>busylab dashboard</title>"), std::string::npos);
  // Self-contained: nothing is fetched from elsewhere.
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);
}

}  // namespace
}  // namespace busylab::testing

namespace busylab::testing {
namespace {

// With several processes, whichever worker answers gives the totals and a
// series per worker. Runs under the sanitizers too (the io threads, the
// publisher thread and the shared board meet here).
TEST(MetricsProcesses, TotalsAndEveryWorkersSeriesWhicheverWorkerAnswers) {
  ASSERT_EQ(std::system("command -v promtool >/dev/null"), 0)
      << "promtool is missing: scripts/bootstrap installs Debian's prometheus package";
  TempDir dir;
  const std::string port_file = dir.file("port");
  const auto server = start_serve(dir, "batched.json", dir.file("m.db"), port_file, {"server.processes=3"});
  const int port = read_port_file(port_file, std::chrono::seconds(60));
  ASSERT_GT(port, 0) << server->err();
  // A new connection per request: the kernel spreads them over the workers.
  constexpr int kWrites = 30;
  for (int i = 0; i < kWrites; ++i) {
    HttpClient client(static_cast<std::uint16_t>(port));
    ASSERT_EQ(client.request("POST", "/rows", R"({"payload":"p"})")->status, 201);
  }
  std::set<int> answered_by;
  for (int i = 0; i < 12; ++i) {
    HttpClient client(static_cast<std::uint16_t>(port));
    const auto metrics = client.request("GET", "/metrics");
    ASSERT_TRUE(metrics);
    ASSERT_EQ(metrics->status, 200);
    const auto r = promtool_check(dir, metrics->body);
    EXPECT_EQ(r.status, 0) << r.out << r.err << "\n" << metrics->body;
    const auto m = samples(metrics->body);
    EXPECT_EQ(m.at("busylab_http_writes_acknowledged_total"), kWrites);
    EXPECT_EQ(m.at("busylab_sqlite_writes_committed_total"), kWrites);
    EXPECT_EQ(m.at("busylab_writer_batch_size_sum"), kWrites);
    EXPECT_EQ(m.at(R"(busylab_pool_max_connections{pool="writer"})"), 3);  // one writer per process
    double per_worker = 0;
    for (int w = 0; w < 3; ++w) {
      const std::string label = "{worker=\"" + std::to_string(w) + "\"}";
      EXPECT_EQ(m.at("busylab_worker_up" + label), 1);
      EXPECT_EQ(m.at("busylab_worker_starts_total" + label), 1);
      per_worker += m.at("busylab_worker_writes_acknowledged_total" + label);
    }
    EXPECT_EQ(per_worker, kWrites);

    HttpClient again(static_cast<std::uint16_t>(port));
    const auto stats = again.request("GET", "/stats");
    ASSERT_TRUE(stats);
    const auto doc = nlohmann::json::parse(stats->body);
    answered_by.insert(doc["answered_by"].get<int>());
    EXPECT_EQ(doc["processes"], 3);
    EXPECT_EQ(doc["writes"]["acknowledged"], kWrites);
    EXPECT_TRUE(doc["strategy"]["writer"]["batch_size"]["p99"].is_number());  // recomputed from the merged histogram
    for (const auto& w : doc["workers"]) EXPECT_LT(w["snapshot_age_ms"].get<double>(), 1000) << w;
  }
  // 24 fresh connections over 3 workers: more than one of them answered.
  EXPECT_GT(answered_by.size(), 1u);
  server->signal(SIGTERM);
  EXPECT_EQ(server->wait(std::chrono::seconds(60)), 0) << server->err();
  EXPECT_NE(server->out().find(std::to_string(kWrites) + " writes acknowledged (" + std::to_string(kWrites) +
                               " committed, " + std::to_string(kWrites) + " rows inserted)"),
            std::string::npos)
      << server->out();
}

}  // namespace
}  // namespace busylab::testing
