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

// ---- timelines in report.html ------------------------------------------------

// The text between `from` and the next `to` after it ("" when absent).
std::string between(const std::string& text, const std::string& from, const std::string& to) {
  const auto start = text.find(from);
  if (start == std::string::npos) return "";
  const auto end = text.find(to, start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

const char* const kSeriesHeader =
    "t_s,requests_per_s,ok_per_s,failures,p50_ms,p99_ms,max_ms,dropped,pool_waiting,pool_in_use,writer_queued,"
    "busy_waits,busy_wait_ms,wal_bytes,wal_frames,wal_backfilled,checkpoints\n";

// Two points of a one-axis matrix: "sqlite/pool" ran 3 times with a WAL,
// "postgres/pool" twice without one; each cell with its timeseries.csv
// where the runner puts it (cells/NNN/).
struct TimelineSweep {
  Experiment e = experiment("POST", "/rows");
  std::vector<CellResult> results;

  explicit TimelineSweep(const std::filesystem::path& dir) {
    e.name = "tl";
    e.repetitions = 3;
    e.matrix.push_back({"setup",
                        "setup",
                        {json::array({"sqlite", "pool"}), json::array({"postgres", "pool"})},
                        {"database.engine", "pool.strategy"}});
    e.columns = {"setup", "ok_per_s", "verified"};
    for (std::size_t i = 0; i < 5; ++i) {
      CellResult r;
      r.cell.index = i;
      r.cell.point = i < 3 ? 0 : 1;
      r.cell.repetition = static_cast<int>(i < 3 ? i : i - 3);
      r.cell.values = {{"setup", i < 3 ? "sqlite/pool" : "postgres/pool"}};
      r.load = {{"requests_per_s", 100.0}, {"duration_s", 2.0}};
      r.verdict = {true, "rows = acknowledged"};
      results.push_back(r);
      char name[8];
      std::snprintf(name, sizeof name, "%03zu", i + 1);
      std::filesystem::create_directories(dir / "cells" / name);
      std::ofstream csv(dir / "cells" / name / "timeseries.csv");
      csv << kSeriesHeader;
      for (int t = 1; t <= 4; ++t) {
        const std::string wal = i < 3 ? std::to_string(1048576 * t) + ",10,5,0" : ",,,";
        // An interval without answers has no latency figures.
        const std::string p99 = t == 3 ? "" : std::to_string(5 + t + static_cast<int>(i));
        csv << t * 0.5 << ",100.0," << 90 + i << ".0,0,1.0," << p99 << ",9.0,0,0,1,0,0,0," << wal << "\n";
      }
    }
  }
};

TEST(Timelines, ReportDrawsEveryRunOfEachNamedPointAsItsOwnLine) {
  testing::TempDir dir;
  TimelineSweep sweep(dir.path());
  sweep.e.timelines = {0, 1};
  const auto files = write_outputs(sweep.e, sweep.results, dir.path(), json::object());
  const std::string html = read_file(dir.path() / "report.html");

  EXPECT_CONTAINS(html, "<h2 id=\"timelines\">Timelines</h2>");
  const std::string first = between(html, "<section class=\"timeline\" id=\"timeline-1\">", "</section>");
  const std::string second = between(html, "<section class=\"timeline\" id=\"timeline-2\">", "</section>");
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  EXPECT_CONTAINS(first, "<h3>setup sqlite/pool</h3>");
  EXPECT_CONTAINS(first, "3 runs (cells 1, 2, 3)");
  EXPECT_CONTAINS(second, "<h3>setup postgres/pool</h3>");
  EXPECT_CONTAINS(second, "2 runs (cells 4, 5)");

  // Three charts for the point with a WAL, each with one line per run, named by its repetition and cell.
  for (const std::string metric : {"ok_per_s", "p99_ms", "wal_bytes"}) {
    SCOPED_TRACE(metric);
    const std::string chart = between(first, "<figure id=\"timeline-1-" + metric + "\">", "</figure>");
    ASSERT_FALSE(chart.empty());
    EXPECT_CONTAINS(chart, "<svg");
    EXPECT_NOT_CONTAINS(chart, "Not drawn");
    EXPECT_EQ(count(chart, "id=\"t1-" + metric + "-gnuplot_plot_"), 3u) << "one line per run";
    for (const char* run : {"rep 1 (cell 1)", "rep 2 (cell 2)", "rep 3 (cell 3)"}) EXPECT_CONTAINS(chart, run);
  }
  EXPECT_CONTAINS(between(first, "<figure id=\"timeline-1-ok_per_s\">", "</figure>"),
                  "<figcaption>writes/s</figcaption>");
  EXPECT_CONTAINS(between(first, "<figure id=\"timeline-1-wal_bytes\">", "</figure>"),
                  "<figcaption>WAL size (MiB)</figcaption>");

  // No WAL figures at all (PostgreSQL): no WAL chart, and a note says why.
  EXPECT_EQ(count(second, "<figure "), 2u);
  EXPECT_NOT_CONTAINS(second, "timeline-2-wal_bytes");
  EXPECT_EQ(count(between(second, "<figure id=\"timeline-2-p99_ms\">", "</figure>"), "id=\"t2-p99_ms-gnuplot_plot_"),
            2u);
  EXPECT_CONTAINS(second, "no WAL chart");

  // The charts' ids stay unique on the page: every inlined SVG's are prefixed.
  EXPECT_NOT_CONTAINS(html, "id=\"gnuplot_plot_");

  // The files beside the other plots, in the list of what was written, and in results.json.
  for (const char* name : {"timeline-1-ok_per_s.svg", "timeline-1-p99_ms.png", "timeline-1-wal_bytes.svg",
                           "timeline-2-ok_per_s.png", "timeline-2-p99_ms.svg"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(std::filesystem::exists(dir.path() / name));
    EXPECT_NE(std::find(files.written.begin(), files.written.end(), dir.path() / name), files.written.end());
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "timeline-2-wal_bytes.svg"));
  EXPECT_TRUE(files.plot_problem.empty()) << files.plot_problem;
  const json doc = json::parse(read_file(dir.path() / "results.json"));
  ASSERT_EQ(doc["timelines"].size(), 2u);
  EXPECT_EQ(doc["timelines"][0]["name"], "sqlite/pool");
  EXPECT_EQ(doc["timelines"][0]["runs"], json::array({1, 2, 3}));
  EXPECT_EQ(doc["timelines"][1]["charts"], json::array({"timeline-2-ok_per_s.svg", "timeline-2-p99_ms.svg"}));

  // The data: one block per run, every interval, a missing latency as NaN (a gap, not a 0).
  const std::string script = read_file(dir.path() / "timeline-1.gp");
  EXPECT_EQ(count(script, "title \"rep "), 2u * 3u * 3u) << "SVG and PNG, three charts, three runs";
  const auto lines = data_lines(read_file(dir.path() / "timeline-1.dat"));
  ASSERT_EQ(lines.size(), 12u);
  EXPECT_EQ(lines[0], "0.5 90 6 1048576");
  EXPECT_EQ(lines[2], "1.5 90 NaN 3145728");
  EXPECT_EQ(lines[11], "2 92 11 4194304");
}

TEST(Timelines, OnlyTheNamedPointsAndNoSectionWithoutThem) {
  testing::TempDir dir;
  TimelineSweep sweep(dir.path());
  sweep.e.timelines = {1};
  write_outputs(sweep.e, sweep.results, dir.path(), json::object());
  std::string html = read_file(dir.path() / "report.html");
  EXPECT_CONTAINS(html, "<section class=\"timeline\" id=\"timeline-1\">\n<h3>setup postgres/pool</h3>");
  EXPECT_NOT_CONTAINS(html, "id=\"timeline-2\"");

  testing::TempDir other;
  TimelineSweep none(other.path());
  write_outputs(none.e, none.results, other.path(), json::object());
  html = read_file(other.path() / "report.html");
  EXPECT_NOT_CONTAINS(html, "Timelines");
  EXPECT_FALSE(std::filesystem::exists(other.path() / "timeline-1.gp"));
  EXPECT_FALSE(json::parse(read_file(other.path() / "results.json")).contains("timelines"));
}

TEST(Timelines, CapacityStepsAreLaidEndToEndAndAMissingSeriesIsNoted) {
  testing::TempDir dir;
  TimelineSweep sweep(dir.path());
  sweep.e.timelines = {0};
  // Cell 1 searched capacity: each step's rows start again from t_s 0, after its rate.
  {
    std::ofstream csv(dir.path() / "cells" / "001" / "timeseries.csv");
    csv << "rate," << kSeriesHeader;
    csv << "1000,0.5,1000,1000,0,1,2,3,0,0,0,0,0,0,4096,1,0,0\n";
    csv << "1000,1.0,1000,1000,0,1,2,3,0,0,0,0,0,0,8192,2,0,0\n";
    csv << "2000,0.5,2000,2000,0,1,4,5,0,0,0,0,0,0,8192,2,0,0\n";
    csv << "2000,1.0,2000,2000,0,1,4,5,0,0,0,0,0,0,4096,1,1,1\n";
  }
  // Cell 2 never got to run its load.
  std::filesystem::remove(dir.path() / "cells" / "002" / "timeseries.csv");
  write_outputs(sweep.e, sweep.results, dir.path(), json::object());

  const auto lines = data_lines(read_file(dir.path() / "timeline-1.dat"));
  ASSERT_EQ(lines.size(), 8u);  // cells 1 and 3
  EXPECT_EQ(lines[0], "0.5 1000 2 4096");
  EXPECT_EQ(lines[1], "1 1000 2 8192");
  EXPECT_EQ(lines[2], "1.5 2000 4 8192");
  EXPECT_EQ(lines[3], "2 2000 4 4096");
  const std::string html = read_file(dir.path() / "report.html");
  EXPECT_CONTAINS(html, "2 runs (cells 1, 3)");
  EXPECT_CONTAINS(html, "Note: rep 2 (cell 2) has no time series");
  EXPECT_EQ(count(between(html, "<figure id=\"timeline-1-ok_per_s\">", "</figure>"), "id=\"t1-ok_per_s-gnuplot_plot_"),
            2u);
}

}  // namespace
}  // namespace busylab::sweep
