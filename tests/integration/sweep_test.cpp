// `busylab sweep` end to end: a tiny two-cell experiment runs a server per
// cell with an outside reader, verifies both, and writes every output (its
// report.html loaded in headless chromium); a bad experiment file is refused
// with exit status 2.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sweep/experiment.hpp"
#include "tests/support/browser.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/proc_fds.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = BUSYLAB_BINARY;

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path) << text;
  return path;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The <tr> element with this id, from its start tag to its end tag ("" when absent).
std::string table_row(const std::string& html, const std::string& id) {
  const auto start = html.find("<tr id=\"" + id + "\">");
  if (start == std::string::npos) return "";
  const auto end = html.find("</tr>", start);
  return end == std::string::npos ? "" : html.substr(start, end - start);
}

void write_base_config(const TempDir& dir) {
  write_file(dir, "base.json", R"({
    "database": {"journal_mode": "wal", "synchronous": "normal", "busy_timeout_ms": 5000, "transaction": "immediate"},
    "pool": {"strategy": "pool", "size": 2}
  })");
}

TEST(Sweep, TinyExperimentRunsVerifiesAndWritesOutputs) {
  TempDir dir;
  write_base_config(dir);
  const auto experiment = write_file(dir, "tiny.json", R"({
    "name": "tiny",
    "description": "two strategies, one second each, twice",
    "config": "base.json",
    "repetitions": 2,
    "matrix": [{"key": "pool.strategy", "label": "strategy", "values": ["pool", "batched"]}],
    "load": {"path": "/rows", "method": "POST", "duration": "1s", "connections": 8, "threads": 1},
    "reader": {"interval": "50ms", "busy_timeout_ms": 1000},
    "columns": ["strategy", "requests", "failures", "rows_after", "reader_reads", "verified"],
    "plots": [{"x": "strategy", "y": "requests_per_s"}]
  })");
  const std::filesystem::path out = dir.path() / "out";
  const auto r = run_command({kBinary, "sweep", experiment, "--out", out.string()}, dir.path().string(), 120s);
  ASSERT_EQ(r.status, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;

  // The table on stdout: the experiment's columns, one verified row per
  // point, each figure as its median and range over the two runs.
  EXPECT_NE(r.out.find("median (min-max) of 2 runs per point"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| strategy | requests | failures | rows_after | reader_reads | verified |"), std::string::npos)
      << r.out;
  int verified_rows = 0;
  for (const auto& line : lines_of(r.out)) {
    if (line.rfind("| pool |", 0) == 0 || line.rfind("| batched |", 0) == 0) {
      EXPECT_NE(line.find("| yes |"), std::string::npos) << line;
      EXPECT_NE(line.find(") | 0 (0-0) |"), std::string::npos) << "requests (range), no failures: " << line;
      ++verified_rows;
    }
  }
  EXPECT_EQ(verified_rows, 2) << r.out;
  EXPECT_NE(r.err.find("[1/4"), std::string::npos) << r.err;  // progress goes to stderr
  EXPECT_NE(r.err.find("2 points x 2 runs = 4 cells"), std::string::npos) << r.err;

  // results.json: everything, per cell.
  ASSERT_TRUE(std::filesystem::is_regular_file(out / "results.json"));
  const auto doc = nlohmann::json::parse(read_file(out / "results.json"), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc.value("schema", ""), "busylab-sweep/1");
  EXPECT_EQ(doc.value("experiment", ""), "tiny");
  ASSERT_TRUE(doc["cells"].is_array());
  ASSERT_EQ(doc["cells"].size(), 4u);
  const char* strategies[] = {"pool", "batched"};
  std::vector<int> run_orders;
  for (std::size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    const auto& cell = doc["cells"][i];
    EXPECT_EQ(cell["values"]["pool.strategy"], strategies[i / 2]);
    EXPECT_EQ(cell["point"], i / 2 + 1);
    EXPECT_EQ(cell["repetition"], i % 2 + 1);
    run_orders.push_back(cell.value("run_order", 0));
    // The settings read back from a connection, not only what was asked.
    EXPECT_EQ(cell["settings"].value("journal_mode", ""), "wal") << cell["settings"];
    EXPECT_EQ(cell["settings"].value("synchronous", ""), "normal") << cell["settings"];
    EXPECT_GT(cell.value("raw_commits_per_s", 0.0), 0) << "the day's raw WAL normal rate";
    EXPECT_GT(cell["metrics"].value("ok_vs_raw", 0.0), 0);
    // Every cell's time series: one row per second of its one-second run.
    char name[16];
    std::snprintf(name, sizeof name, "%03zu", i + 1);
    const auto series = lines_of(read_file(out / "cells" / name / "timeseries.csv"));
    ASSERT_EQ(series.size(), 2u) << "a header and one interval";
    EXPECT_EQ(series[0].rfind("t_s,requests_per_s,ok_per_s,failures,p50_ms,p99_ms,", 0), 0u) << series[0];
    EXPECT_EQ(series[1].rfind("1.000,", 0), 0u) << series[1];
    EXPECT_EQ(std::count(series[1].begin(), series[1].end(), ','), std::count(series[0].begin(), series[0].end(), ','));
    EXPECT_EQ(cell["verified"], true) << cell["verification"];
    EXPECT_TRUE(cell["error"].is_null()) << cell["error"];
    EXPECT_GT(cell["load"].value("requests", 0), 0);
    ASSERT_TRUE(cell["reader"].is_object()) << cell["reader"];
    EXPECT_GT(cell["reader"].value("reads", 0), 0);
    EXPECT_EQ(cell["reader"].value("failed", -1), 0);
    // What the database holds is what the server acknowledged.
    EXPECT_EQ(cell["facts"]["stored"], cell["facts"]["acknowledged"]);
    EXPECT_EQ(cell["facts"]["integrity"], "ok");
    EXPECT_EQ(cell["server"]["strategy"].value("strategy", ""), strategies[i / 2]);
  }
  // Each cell ran once, and no point's two runs back to back.
  std::vector<int> sorted = run_orders;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_NE(std::abs(run_orders[0] - run_orders[1]), 1) << "pool's runs back to back";
  EXPECT_NE(std::abs(run_orders[2] - run_orders[3]), 1) << "batched's runs back to back";

  // Points: each with its runs and every metric's median, range and n.
  ASSERT_EQ(doc["points"].size(), 2u);
  EXPECT_EQ(doc["points"][1]["runs"], nlohmann::json::array({3, 4}));
  const auto& requests = doc["points"][0]["metrics"]["requests"];
  EXPECT_EQ(requests["n"], 2);
  EXPECT_LE(requests["min"].get<double>(), requests["median"].get<double>());
  EXPECT_LE(requests["median"].get<double>(), requests["max"].get<double>());
  EXPECT_EQ(requests["min"], std::min(doc["cells"][0]["metrics"]["requests"], doc["cells"][1]["metrics"]["requests"]));

  const auto csv = lines_of(read_file(out / "results.csv"));
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0].rfind("cell,point,repetition,run_order,pool.strategy,", 0), 0u) << csv[0];
  EXPECT_EQ(csv[1].rfind("1,1,1,", 0), 0u) << csv[1];
  EXPECT_EQ(csv[4].rfind("4,2,2,", 0), 0u) << csv[4];

  const auto table = read_file(out / "table.md");
  EXPECT_NE(table.find("# tiny"), std::string::npos) << table;
  EXPECT_NE(table.find("| verified |"), std::string::npos) << table;
  EXPECT_NE(table.find("## Differences"), std::string::npos) << table;
  EXPECT_NE(table.find("## Calibration"), std::string::npos) << table;
  EXPECT_NE(table.find("## All runs"), std::string::npos) << table;

  for (const char* ext : {".svg", ".png"}) {
    const auto plot = out / (std::string("plot-1-requests_per_s") + ext);
    EXPECT_TRUE(std::filesystem::is_regular_file(plot)) << plot << "\n" << r.err;
    std::error_code ec;
    EXPECT_GT(std::filesystem::file_size(plot, ec), 0u) << plot;
  }
  // Each cell's logs stay; the bulky database does not.
  EXPECT_TRUE(std::filesystem::is_directory(out / "cells" / "001"));
  EXPECT_FALSE(std::filesystem::exists(out / "cells" / "001" / "busylab.db"));

  // What ran it, for the report and for running it again.
  const auto& meta = doc["meta"];
  EXPECT_EQ(meta.value("sqlite_version", ""), sqlite3_libversion()) << meta;
  EXPECT_EQ(meta.value("busylab_version", ""), BUSYLAB_VERSION) << meta;
  EXPECT_NE(meta.value("command", "").find(" sweep " + experiment + " --out "), std::string::npos) << meta;
  EXPECT_FALSE(meta.value("started_utc", "").empty()) << meta;
  EXPECT_TRUE(meta["seed"].is_number_unsigned()) << meta;
  // Provenance and the day's calibration, at the start and the end.
  for (const char* key : {"commit", "dirty", "build_type", "compiler", "cpu_model", "cores", "memory_mb", "kernel",
                          "filesystem", "sqlite_compile_options"})
    EXPECT_TRUE(meta.contains(key)) << key;
  EXPECT_EQ(meta["filesystem"].value("path", ""), std::filesystem::weakly_canonical(out).string());
  for (const char* when : {"start", "end"}) {
    const auto& c = meta["calibration"][when];
    EXPECT_GT(c.value("fdatasync_per_s", 0.0), 0) << when;
    for (const char* mode : {"wal_full", "wal_normal", "delete_full"})
      EXPECT_GT(c["sqlite_commits_per_s"].value(mode, 0.0), 0) << when << " " << mode;
  }
  EXPECT_TRUE(meta["calibration"]["largest_change"].is_number());
}

// --quick runs each point once and says so wherever figures are shown; the
// run order replays from the seed.
TEST(Sweep, QuickRunsOncePerPointAndSaysSoAndTheSeedReplaysTheOrder) {
  TempDir dir;
  write_base_config(dir);
  const auto experiment = write_file(dir, "q.json", R"({
    "name": "q",
    "config": "base.json",
    "repetitions": 3,
    "matrix": [{"key": "pool.size", "label": "size", "values": [1, 2, 3, 4]}],
    "load": {"path": "/rows", "method": "POST", "duration": "300ms", "connections": 4, "threads": 1},
    "quick": {"duration": "200ms"},
    "plots": [{"x": "size", "y": "ok_per_s"}]
  })");
  const std::filesystem::path out = dir.path() / "out";
  const auto r = run_command({kBinary, "sweep", experiment, "--quick", "--seed", "1234", "--out", out.string()},
                             dir.path().string(), 120s);
  ASSERT_EQ(r.status, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  EXPECT_NE(r.out.find("quick: one run per point, no spread measured"), std::string::npos) << r.out;
  const auto doc = nlohmann::json::parse(read_file(out / "results.json"), nullptr, false);
  ASSERT_EQ(doc["cells"].size(), 4u);
  EXPECT_EQ(doc["meta"]["seed"], 1234);
  EXPECT_EQ(doc["meta"]["runs_per_point"], 1);
  const auto order = busylab::sweep::run_order(4, 1, 1234);
  for (std::size_t position = 0; position < order.size(); ++position)
    EXPECT_EQ(doc["cells"][order[position]]["run_order"], position + 1) << "position " << position;
  const auto table = read_file(out / "table.md");
  EXPECT_NE(table.find("Each point ran once"), std::string::npos) << table;
  EXPECT_NE(table.find("not resolved (one run: no spread measured)"), std::string::npos) << table;
  EXPECT_NE(read_file(out / "report.html").find("id=\"runs-note\""), std::string::npos);
}

// An experiment with "postgres": the sweep starts its own PostgreSQL with
// scripts/postgres, runs SQLite and PostgreSQL cells side by side, verifies
// both (PostgreSQL by count and uniqueness), and stops and removes the
// cluster afterwards.
TEST(Sweep, PostgresCellsRunAgainstAClusterTheSweepStartsAndStops) {
  TempDir dir;
  write_base_config(dir);
  const auto experiment = write_file(dir, "pg.json",
                                     R"({
    "name": "pg",
    "config": "base.json",
    "postgres": {"script": ")" + std::string(BUSYLAB_SOURCE_DIR) +
                                         R"(/scripts/postgres"},
    "repetitions": 1,
    "matrix": [{"keys": ["database.engine", "pool.strategy"], "label": "setup",
                "values": [["sqlite", "pool"], ["postgres", "pool"], ["postgres", "batched"]]}],
    "load": {"path": "/rows", "method": "POST", "duration": "1s", "connections": 8, "threads": 1},
    "columns": ["setup", "requests", "rows_after", "verified"]
  })");
  const std::filesystem::path out = dir.path() / "out";
  const auto r = run_command({kBinary, "sweep", experiment, "--out", out.string()}, dir.path().string(), 180s);
  ASSERT_EQ(r.status, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  EXPECT_NE(r.err.find("PostgreSQL: postgresql://postgres@127.0.0.1:"), std::string::npos) << r.err;

  const auto doc = nlohmann::json::parse(read_file(out / "results.json"), nullptr, false);
  ASSERT_EQ(doc["cells"].size(), 3u) << doc.dump();
  const char* setups[] = {"sqlite/pool", "postgres/pool", "postgres/batched"};
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const auto& cell = doc["cells"][i];
    EXPECT_EQ(cell["values"]["setup"], setups[i]);
    EXPECT_EQ(cell["verified"], true) << cell["verification"] << " " << cell["error"];
    EXPECT_EQ(cell["facts"]["integrity"], "ok");
    EXPECT_GT(cell["facts"]["stored"].get<long long>(), 0);
    EXPECT_EQ(cell["facts"]["stored"], cell["facts"]["acknowledged"]);
    EXPECT_EQ(cell["server"]["config"]["database"]["engine"], i == 0 ? "sqlite" : "postgres");
  }
  // The server's durability settings, read back per cell and once in meta.
  EXPECT_EQ(doc["cells"][1]["settings"].value("fsync", ""), "on") << doc["cells"][1]["settings"];
  EXPECT_FALSE(doc["meta"]["postgres"].value("server_version", "").empty()) << doc["meta"];
  for (const char* key : {"synchronous_commit", "wal_writer_delay", "shared_buffers", "max_connections"})
    EXPECT_TRUE(doc["meta"]["postgres"].contains(key)) << key;
  // Each PostgreSQL cell started empty: its rows are its own writes only.
  EXPECT_EQ(doc["cells"][2]["server"]["rows_after"], doc["cells"][2]["facts"]["acknowledged"]);

  // The cluster is gone: its folder removed and no server left listening.
  const std::string url = r.err.substr(r.err.find("postgresql://"),
                                       r.err.find('\n', r.err.find("postgresql://")) - r.err.find("postgresql://"));
  const std::string folder =
      r.err.substr(r.err.find("starting PostgreSQL in ") + 23, r.err.find(" (", r.err.find("starting PostgreSQL in ")) -
                                                                   r.err.find("starting PostgreSQL in ") - 23);
  EXPECT_FALSE(std::filesystem::exists(folder)) << folder;
  EXPECT_NE(run_command({"/usr/bin/pg_isready", "-d", url}, dir.path().string(), 30s).status, 0) << url;
}

// report.html: the experiment, the machine, the table, the plot and every
// cell's verdict on one page that a browser opens from the file system.
TEST(Sweep, ReportShowsTheRunAndRendersInChromium) {
  TempDir dir;
  write_base_config(dir);
  const auto experiment = write_file(dir, "tiny.json", R"({
    "name": "tiny-report",
    "description": "two strategies, one second each",
    "config": "base.json",
    "repetitions": 2,
    "matrix": [{"key": "pool.strategy", "label": "strategy", "values": ["pool", "batched"]}],
    "load": {"path": "/rows", "method": "POST", "duration": "1s", "connections": 8, "threads": 1},
    "columns": ["strategy", "ok_per_s", "failures", "verified"],
    "plots": [{"x": "strategy", "y": "ok_per_s"}]
  })");
  const std::filesystem::path out = std::filesystem::absolute(dir.path() / "out");
  const auto r = run_command({kBinary, "sweep", experiment, "--out", out.string()}, dir.path().string(), 120s);
  ASSERT_EQ(r.status, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;

  const auto report_path = out / "report.html";
  ASSERT_TRUE(std::filesystem::is_regular_file(report_path));
  const std::string html = read_file(report_path);
  EXPECT_NE(html.find("<h1 id=\"experiment\">tiny-report</h1>"), std::string::npos);
  EXPECT_NE(html.find("two strategies, one second each"), std::string::npos);
  for (const char* column : {"strategy", "ok_per_s", "failures", "verified"})
    EXPECT_NE(html.find(std::string(">") + column + "</th>"), std::string::npos) << column;
  // The plot inline, without the SVG file's XML prolog.
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  EXPECT_NE(html.find(std::string("<th>SQLite</th><td>") + sqlite3_libversion() + "</td>"), std::string::npos);
  const char* strategies[] = {"pool", "batched"};
  for (int i = 0; i < 4; ++i) {
    const std::string row = table_row(html, "cell-" + std::to_string(i + 1));
    EXPECT_NE(row.find(std::string("<td>") + strategies[i / 2] + "</td>"), std::string::npos) << row;
    EXPECT_NE(row.find("<td class=\"yes\">yes</td>"), std::string::npos) << row;
  }
  // One row per point with median (range), and what the plot compares.
  for (int i = 0; i < 2; ++i) {
    const std::string row = table_row(html, "point-" + std::to_string(i + 1));
    EXPECT_NE(row.find(std::string("<td>") + strategies[i] + "</td>"), std::string::npos) << row;
    EXPECT_NE(row.find("-"), std::string::npos) << row;
    EXPECT_NE(row.find(")</td>"), std::string::npos) << "a range: " << row;
  }
  EXPECT_NE(html.find("<ul class=\"differences\">"), std::string::npos);
  EXPECT_NE(html.find("<table class=\"meta\" id=\"calibration\">"), std::string::npos);

  // A browser parses it as HTML and shows the same: the name, each cell's
  // verdict, and the plot as SVG.
  const auto browser = dump_dom(dir, "file://" + report_path.string());
  ASSERT_EQ(browser.status, 0) << browser.err;
  const std::string& dom = browser.out;
  EXPECT_NE(dom.find("<h1 id=\"experiment\">tiny-report</h1>"), std::string::npos) << dom.substr(0, 2000);
  EXPECT_NE(dom.find("<svg"), std::string::npos);
  for (int i = 0; i < 2; ++i) {
    const std::string row = table_row(dom, "cell-" + std::to_string(2 * i + 1));
    EXPECT_NE(row.find(strategies[i]), std::string::npos) << row;
    EXPECT_NE(row.find(">yes</td>"), std::string::npos) << row;
    EXPECT_NE(row.find(" = acknowledged "), std::string::npos) << row;
  }
}

// The server and the outside reader that a sweep starts hold /dev/null and
// their log files as stdin/stdout/stderr, and beyond that only what they open
// themselves: no descriptor of theirs refers to an object the sweep or this
// test has open, such as the sweep's sockets or the pipe this test holds
// without close-on-exec while the sweep starts (fork and exec without
// closing handed it on, through the sweep, to both children). What a child
// opens itself is not listed: SQLite, the loader and sanitizer runtimes open
// files of their own for a moment.
TEST(Sweep, ChildrenInheritNoDescriptors) {
  TempDir dir;
  write_base_config(dir);
  const auto experiment = write_file(dir, "one.json", R"({
    "name": "one",
    "config": "base.json",
    "repetitions": 1,
    "load": {"path": "/rows", "method": "POST", "duration": "3s", "connections": 4, "threads": 1},
    "reader": {"interval": "50ms", "busy_timeout_ms": 1000}
  })");
  int leak[2] = {-1, -1};
  ASSERT_EQ(pipe(leak), 0);
  ChildProcess sweep({kBinary, "sweep", experiment, "--out", (dir.path() / "out").string()}, dir.path().string());

  // Both children exist and run busylab (exec done) while the cell's load runs.
  pid_t server = 0, reader = 0;
  ASSERT_TRUE(wait_until([&] {
    for (pid_t child : children_of(sweep.pid())) {
      const std::string cmd = command_line(child);
      if (cmd.find(" serve ") != std::string::npos) server = child;
      if (cmd.find(" watch ") != std::string::npos) reader = child;
    }
    return server != 0 && reader != 0;
  })) << sweep.err();

  // What the sweep and this test have open; a child must share none of it.
  std::map<std::pair<dev_t, ino_t>, std::string> foreign;
  for (pid_t pid : {sweep.pid(), getpid()}) {
    for (const auto& f : open_fds(pid)) {
      // Every eventfd and epoll instance shows the same anonymous inode.
      if (f.target.rfind("anon_inode:", 0) != 0 && f.target != "/dev/null") foreign[{f.dev, f.ino}] = f.target;
    }
  }
  for (const auto& [name, pid] : {std::pair{"server", server}, std::pair{"reader", reader}}) {
    SCOPED_TRACE(name);
    const auto fds = open_fds(pid);
    ASSERT_GE(fds.size(), 3u) << "the child is gone: " << sweep.err();
    EXPECT_EQ(fds[0].target, "/dev/null");
    for (const auto& f : fds) {
      if (f.fd < 3) continue;
      EXPECT_EQ(foreign.count({f.dev, f.ino}), 0u)
          << "fd " << f.fd << " -> " << f.target << " is shared with the sweep or the test";
    }
  }
  const auto status = sweep.wait(120s);
  close(leak[0]);
  close(leak[1]);
  ASSERT_TRUE(status) << "sweep still running";
  EXPECT_EQ(*status, 0) << sweep.out() << sweep.err();
}

TEST(Sweep, BadExperimentExits2WithTheMessage) {
  TempDir dir;
  write_base_config(dir);
  const auto experiment = write_file(dir, "bad.json", R"({"name": "bad", "config": "base.json", "repetiions": 2})");
  const std::filesystem::path out = dir.path() / "out";
  auto r = run_command({kBinary, "sweep", experiment, "--out", out.string()}, dir.path().string(), 30s);
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("busylab sweep: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'repetitions'?"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));  // nothing was run

  r = run_command({kBinary, "sweep", dir.file("missing.json")}, dir.path().string(), 30s);
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace busylab::testing
