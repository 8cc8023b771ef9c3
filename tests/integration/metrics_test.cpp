// GET /metrics: Prometheus text exposition that a real parser accepts
// (`promtool check metrics`, from Debian's prometheus package, installed by
// scripts/bootstrap), with figures that move as requests are served.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "strategy/strategy.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
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
