// GET /dashboard in a real browser: Debian's chromium, headless, loads the
// page from a server under write load, runs its scripts (which poll /stats)
// and dumps the DOM; the page must show the server's strategy and a non-zero
// writes/s. scripts/bootstrap installs chromium.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "strategy/strategy.hpp"
#include "tests/support/browser.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

// Clients that POST /rows until stopped.
class WriteLoad {
 public:
  WriteLoad(std::uint16_t port, int clients) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, port] {
        HttpClient client(port);
        while (!stop_.load()) {
          if (auto r = client.request("POST", "/rows", R"({"payload":"dash"})"); r && r->status == 201) ++ok_;
        }
      });
    }
  }
  ~WriteLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  std::uint64_t ok() const { return ok_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> ok_{0};
  std::vector<std::thread> threads_;
};

// The text of the element with `id` in a dumped DOM ("" when absent).
std::string element_text(const std::string& dom, const std::string& id) {
  const std::regex pattern("id=\"" + id + "\"[^>]*>([^<]*)<");
  std::smatch m;
  return std::regex_search(dom, m, pattern) ? m[1].str() : std::string();
}

class Dashboard : public ::testing::TestWithParam<StrategyKind> {};

TEST_P(Dashboard, ChromiumShowsTheStrategyAndLiveWrites) {
  TempDir dir;
  TestServer server(test_config(dir, GetParam(), 2));
  WriteLoad load(server.port(), 4);
  // Chromium's virtual time runs the page's timers for 4 s; its fetches of
  // /stats go to the real server, whose clock the page uses for rates.
  const auto r = dump_dom(dir, "http://127.0.0.1:" + std::to_string(server.port()) + "/dashboard", 4000);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string& dom = r.out;
  EXPECT_EQ(element_text(dom, "strategy"), to_string(GetParam())) << dom.substr(0, 2000);
  EXPECT_EQ(element_text(dom, "status"), "live") << dom.substr(0, 2000);
  EXPECT_GE(std::stoi("0" + element_text(dom, "samples")), 2) << dom.substr(0, 2000);
  const std::string writes = element_text(dom, "writes-per-s");
  ASSERT_TRUE(std::regex_match(writes, std::regex(R"([0-9]+(\.[0-9]+)?)"))) << "writes/s: '" << writes << "'";
  EXPECT_GT(std::stod(writes), 0.0) << "the page saw no writes although " << load.ok() << " were acknowledged";
}

INSTANTIATE_TEST_SUITE_P(Strategies, Dashboard, ::testing::Values(StrategyKind::kPool, StrategyKind::kBatched),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace busylab::testing

namespace busylab::testing {
namespace {

// Several processes: the page says how many and shows a row per worker.
TEST(DashboardProcesses, ChromiumShowsEveryWorker) {
  TempDir dir;
  const std::string port_file = dir.file("port");
  const auto server = start_serve(dir, "pool.json", dir.file("d.db"), port_file, {"server.processes=2"});
  const int port = read_port_file(port_file, 60s);
  ASSERT_GT(port, 0) << server->err();
  WriteLoad load(static_cast<std::uint16_t>(port), 4);
  const auto r = dump_dom(dir, "http://127.0.0.1:" + std::to_string(port) + "/dashboard", 4000);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string& dom = r.out;
  EXPECT_EQ(element_text(dom, "processes"), "2") << dom.substr(0, 2000);
  EXPECT_EQ(element_text(dom, "strategy"), "pool");
  EXPECT_EQ(element_text(dom, "status"), "live");
  std::size_t rows = 0;
  for (auto at = dom.find("<tr class=\"worker\">"); at != std::string::npos;
       at = dom.find("<tr class=\"worker\">", at + 1))
    ++rows;
  EXPECT_EQ(rows, 2u) << dom.substr(dom.find("id=\"workers\"") == std::string::npos ? 0 : dom.find("id=\"workers\""),
                                    2000);
  server->signal(SIGTERM);
  EXPECT_TRUE(server->wait(60s));
}

}  // namespace
}  // namespace busylab::testing
