// What a sweep writes for people to read: axis and column words with units,
// when a plot gets a logarithmic y axis (and what it then leaves out), plot
// titles that say what they plot (the shipped experiments' too), and
// report.html escaping every text it shows.

#include "sweep/outputs.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

#ifndef BUSYLAB_SOURCE_DIR
#error "BUSYLAB_SOURCE_DIR must be defined by the build (tests/CMakeLists.txt)"
#endif

namespace busylab::sweep {
namespace {

using nlohmann::json;

Experiment experiment(const std::string& method, const std::string& path) {
  Experiment e;
  e.name = "t";
  e.load.method = method;
  e.load.path = path;
  return e;
}

using testing::read_file;

// The data lines of a gnuplot .dat file (not comments, not blank).
std::vector<std::string> data_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

// ---- metric_label -----------------------------------------------------------

TEST(MetricLabel, SuccessfulRequestsOfAWriteLoadAreWrites) {
  EXPECT_EQ(metric_label(experiment("POST", "/rows"), "ok_per_s"), "writes/s");
  EXPECT_EQ(metric_label(experiment("PUT", "/rows"), "ok_per_s"), "writes/s");
  EXPECT_EQ(metric_label(experiment("GET", "/rows"), "ok_per_s"), "successful requests/s");
  // The seed's request writes although it is a GET.
  EXPECT_EQ(metric_label(experiment("GET", "/seed"), "ok_per_s"), "writes/s");
  // A matrix that also runs reads: not every 2xx is a write.
  Experiment mixed = experiment("POST", "/rows");
  mixed.matrix.push_back({"load.method", "method", {"POST", "GET"}});
  EXPECT_EQ(metric_label(mixed, "ok_per_s"), "successful requests/s");
  // Whatever the load, requests/s counts every answer.
  EXPECT_EQ(metric_label(experiment("POST", "/rows"), "requests_per_s"), "requests/s (any status)");
}

TEST(MetricLabel, WordsWithUnits) {
  const Experiment e = experiment("POST", "/rows");
  EXPECT_EQ(metric_label(e, "p50_ms"), "p50 latency (ms)");
  EXPECT_EQ(metric_label(e, "p90_ms"), "p90 latency (ms)");
  EXPECT_EQ(metric_label(e, "p99_ms"), "p99 latency (ms)");
  EXPECT_EQ(metric_label(e, "max_ms"), "max latency (ms)");
  EXPECT_EQ(metric_label(e, "mean_ms"), "mean latency (ms)");
  EXPECT_EQ(metric_label(e, "failures"), "failed requests");
  EXPECT_EQ(metric_label(e, "busy_waits"), "busy-handler sleeps");
  EXPECT_EQ(metric_label(e, "busy_wait_ms"), "time slept in the busy handler (ms)");
  EXPECT_EQ(metric_label(e, "checkout_p99_ms"), "p99 wait for a connection (ms)");
  EXPECT_EQ(metric_label(e, "mean_batch"), "writes per transaction");
}

TEST(MetricLabel, EveryMetricHasItsOwnWords) {
  const Experiment e = experiment("POST", "/rows");
  std::set<std::string> seen;
  for (const auto& m : known_metrics()) {
    SCOPED_TRACE(m);
    const std::string label = metric_label(e, m);
    EXPECT_FALSE(label.empty());
    if (m != "verified") {
      EXPECT_NE(label, m) << "no words for a metric";
    }
    EXPECT_TRUE(seen.insert(label).second) << "two metrics share the words '" << label << "'";
  }
}

TEST(MetricLabel, AxesGetWordsByKeyWhateverTheirLabel) {
  Experiment e = experiment("POST", "/rows");
  e.matrix.push_back({"load.connections", "clients", {100, 1000}});
  e.matrix.push_back({"database.busy_timeout_ms", "timeout_ms", {0, 5000}});
  e.matrix.push_back({"pool.size", "pool.size", {1, 2}});
  EXPECT_EQ(metric_label(e, "clients"), "clients (connections)");
  EXPECT_EQ(metric_label(e, "load.connections"), "clients (connections)");
  EXPECT_EQ(metric_label(e, "timeout_ms"), "busy timeout (ms)");
  EXPECT_EQ(metric_label(e, "pool.size"), "pool size");
  // No words known: the name itself.
  EXPECT_EQ(metric_label(e, "something_else"), "something_else");
}

// ---- wants_log_scale --------------------------------------------------------

TEST(LogScale, OnlyWhenAllValuesArePositiveAndSpanMoreThanTenTimes) {
  EXPECT_FALSE(wants_log_scale({}));
  EXPECT_FALSE(wants_log_scale({5}));
  EXPECT_FALSE(wants_log_scale({1, 5, 9}));
  EXPECT_FALSE(wants_log_scale({1, 10}));  // exactly 10x: linear
  EXPECT_TRUE(wants_log_scale({1, 10.5}));
  EXPECT_TRUE(wants_log_scale({0.5, 6}));
  EXPECT_TRUE(wants_log_scale({3, 25262, 223}));
  // A value <= 0 cannot be drawn on a log axis, and a 0 is often the
  // finding: the plot stays linear.
  EXPECT_FALSE(wants_log_scale({0, 0, 5}));
  EXPECT_FALSE(wants_log_scale({-100, 2, 3}));
  EXPECT_FALSE(wants_log_scale({0, 5, 100}));
}

// ---- plot titles --------------------------------------------------------------

TEST(PlotTitle, SaysWhatItPlotsUnlessTheExperimentNamesIt) {
  Experiment e = experiment("POST", "/rows");
  e.matrix.push_back({"database.synchronous", "synchronous", {"normal", "full"}});
  e.matrix.push_back({"load.connections", "clients", {64, 256}});
  PlotSpec plot{"clients", "", "ok_per_s", "", {}};
  EXPECT_EQ(plot_title(e, plot), "writes/s by clients (connections)");
  plot.where.emplace_back("synchronous", "full");
  EXPECT_EQ(plot_title(e, plot), "writes/s by clients (connections), synchronous full");
  plot.title = "my own";
  EXPECT_EQ(plot_title(e, plot), "my own");
}

// A title names what the plot shows: it begins with the words of its metric
// (a title of "writes/s" over requests/s of any status fails here).
TEST(PlotTitle, ShippedExperimentsTitleTheMetricTheyPlot) {
  const std::filesystem::path folder = std::filesystem::path(BUSYLAB_SOURCE_DIR) / "experiments";
  int plots = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    const Experiment e = Experiment::load_file(entry.path());
    for (const auto& plot : e.plots) {
      SCOPED_TRACE(entry.path().filename().string() + ": " + plot.title);
      const std::string words = metric_label(e, plot.y);
      EXPECT_EQ(plot_title(e, plot).rfind(words, 0), 0u) << "plots " << plot.y << " (" << words << ")";
      ++plots;
    }
  }
  EXPECT_GE(plots, 1);
}

// ---- write_outputs ----------------------------------------------------------

// An experiment over three client counts, plotting requests/s.
Experiment three_cells() {
  Experiment e = experiment("POST", "/rows");
  e.matrix.push_back({"load.connections", "clients", {1, 2, 3}});
  e.columns = {"clients", "requests_per_s", "verified"};
  e.plots.push_back({"clients", "", "requests_per_s", "", {}});
  return e;
}

std::vector<CellResult> results_with(const std::vector<double>& requests_per_s) {
  std::vector<CellResult> results;
  for (std::size_t i = 0; i < requests_per_s.size(); ++i) {
    CellResult r;
    r.cell.index = i;
    r.cell.point = i;
    r.cell.values = {{"load.connections", static_cast<int>(i + 1)}};
    r.load = {{"requests_per_s", requests_per_s[i]}};
    r.verdict = {true, "rows 1 = acknowledged 1"};
    results.push_back(r);
  }
  return results;
}

TEST(WriteOutputs, WideRangePlotsOnALogAxis) {
  testing::TempDir dir;
  const Experiment e = three_cells();
  write_outputs(e, results_with({2, 5, 500}), dir.path(), json::object());
  const std::string script = read_file(dir.path() / "plot-1-requests_per_s.gp");
  EXPECT_CONTAINS(script, "set logscale y");
  EXPECT_NOT_CONTAINS(script, "set yrange [0:");  // log of 0
  EXPECT_CONTAINS(script, "set ylabel \"requests/s (any status), log scale\"");
  EXPECT_CONTAINS(script, "set xlabel \"clients (connections)\"");
  const auto lines = data_lines(read_file(dir.path() / "plot-1-requests_per_s.dat"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "1 \"2\" 5 5 5");  // median, min, max of one run
  EXPECT_EQ(lines[2], "2 \"3\" 500 500 500");
}

TEST(WriteOutputs, WideRangeWithAZeroStaysLinearAndKeepsTheZero) {
  testing::TempDir dir;
  const Experiment e = three_cells();
  write_outputs(e, results_with({0, 5, 500}), dir.path(), json::object());
  const std::string script = read_file(dir.path() / "plot-1-requests_per_s.gp");
  EXPECT_NOT_CONTAINS(script, "logscale");
  EXPECT_CONTAINS(script, "set yrange [0:*]");
  const auto lines = data_lines(read_file(dir.path() / "plot-1-requests_per_s.dat"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "0 \"1\" 0 0 0");
}

TEST(WriteOutputs, NarrowRangePlotsOnALinearAxisFromZero) {
  testing::TempDir dir;
  const Experiment e = three_cells();
  write_outputs(e, results_with({0, 5, 40}), dir.path(), json::object());
  const std::string script = read_file(dir.path() / "plot-1-requests_per_s.gp");
  EXPECT_NOT_CONTAINS(script, "logscale");
  EXPECT_CONTAINS(script, "set yrange [0:*]");
  EXPECT_CONTAINS(script, "set title \"t: requests/s (any status) by clients (connections)\"");
  const auto lines = data_lines(read_file(dir.path() / "plot-1-requests_per_s.dat"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "0 \"1\" 0 0 0");
  EXPECT_NOT_CONTAINS(read_file(dir.path() / "report.html"), "not drawn");
}

// ---- report.html ------------------------------------------------------------

TEST(Report, EscapesEveryTextAndShowsFailedCellsInRed) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");

  testing::TempDir dir;
  Experiment e = experiment("POST", "/rows");
  e.name = "x<&>";
  e.description = "<script>alert(1)</script>";
  e.matrix.push_back({"pool.strategy", "strategy<", {"a<b", "c"}});
  e.columns = {"strategy<", "verified"};
  std::vector<CellResult> results(2);
  results[0].cell.index = 0;
  results[0].cell.values = {{"pool.strategy", "a<b"}};
  results[0].verdict = {true, "rows 3 = acknowledged 3"};
  results[1].cell.index = 1;
  results[1].cell.point = 1;
  results[1].cell.values = {{"pool.strategy", "c"}};
  results[1].verdict = {false, "rows 1 != 2 <lost>"};
  const json meta = {{"sqlite_version", "3.99.0"}, {"command", "busylab sweep 'a&b.json'"}, {"cores", 2}};
  const auto files = write_outputs(e, results, dir.path(), meta);
  EXPECT_NE(std::find(files.written.begin(), files.written.end(), dir.path() / "report.html"), files.written.end());

  const std::string html = read_file(dir.path() / "report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NOT_CONTAINS(html, "<script");  // nothing of the text runs or parses as markup
  EXPECT_NOT_CONTAINS(html, "<lost>");
  EXPECT_NOT_CONTAINS(html, "a<b");
  EXPECT_CONTAINS(html, "<h1 id=\"experiment\">x&lt;&amp;&gt;</h1>");
  EXPECT_CONTAINS(html, "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_CONTAINS(html, ">strategy&lt;</th>");
  EXPECT_CONTAINS(html, "busylab sweep &#39;a&amp;b.json&#39;");
  EXPECT_CONTAINS(html, "<th>SQLite</th><td>3.99.0</td>");
  EXPECT_CONTAINS(html, "1 of 2 cells verified");
  // Each cell's verdict; the failed one and its reason marked red.
  EXPECT_CONTAINS(html,
                  "<tr id=\"cell-1\"><td class=\"num\">1</td><td>a&lt;b</td><td class=\"num\">1</td>"
                  "<td class=\"yes\">yes</td>");
  EXPECT_CONTAINS(html,
                  "<tr id=\"cell-2\"><td class=\"num\">2</td><td>c</td><td class=\"num\">1</td><td class=\"no\">NO</td>"
                  "<td class=\"detail no\">rows 1 != 2 &lt;lost&gt;</td></tr>");
  // The point that did not verify is red in the results table, with its reason.
  EXPECT_CONTAINS(html, "<td class=\"no\">NO: 1 of 1 runs: rows 1 != 2 &lt;lost&gt;</td>");
  EXPECT_CONTAINS(html, ".no, .problem { color: #c00000;");
  // No network resources: the page opens from the file system alone.
  EXPECT_NOT_CONTAINS(html, "http://");
  EXPECT_NOT_CONTAINS(html, "https://");
}

}  // namespace
}  // namespace busylab::sweep
