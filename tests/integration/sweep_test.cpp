// `busylab sweep` end to end: a tiny two-cell experiment runs a server per
// cell with an outside reader, verifies both, and writes every output; a bad
// experiment file is refused with exit status 2.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = BUSYLAB_BINARY;

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path) << text;
  return path;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
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
    "description": "two strategies, one second each",
    "config": "base.json",
    "matrix": [{"key": "pool.strategy", "label": "strategy", "values": ["pool", "batched"]}],
    "load": {"path": "/rows", "method": "POST", "duration": "1s", "connections": 8, "threads": 1},
    "reader": {"interval": "50ms", "busy_timeout_ms": 1000},
    "columns": ["strategy", "requests", "failures", "rows_after", "reader_reads", "verified"],
    "plots": [{"x": "strategy", "y": "requests_per_s"}]
  })");
  const std::filesystem::path out = dir.path() / "out";
  const auto r = run_command({kBinary, "sweep", experiment, "--out", out.string()}, dir.path().string(), 120s);
  ASSERT_EQ(r.status, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;

  // The table on stdout: the experiment's columns, one verified row per cell.
  EXPECT_NE(r.out.find("| strategy | requests | failures | rows_after | reader_reads | verified |"), std::string::npos)
      << r.out;
  int verified_rows = 0;
  for (const auto& line : lines_of(r.out)) {
    if (line.rfind("| pool |", 0) == 0 || line.rfind("| batched |", 0) == 0) {
      EXPECT_NE(line.find("| yes |"), std::string::npos) << line;
      ++verified_rows;
    }
  }
  EXPECT_EQ(verified_rows, 2) << r.out;
  EXPECT_NE(r.err.find("[1/2"), std::string::npos) << r.err;  // progress goes to stderr

  // results.json: everything, per cell.
  ASSERT_TRUE(std::filesystem::is_regular_file(out / "results.json"));
  const auto doc = nlohmann::json::parse(read_file(out / "results.json"), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc.value("schema", ""), "busylab-sweep/1");
  EXPECT_EQ(doc.value("experiment", ""), "tiny");
  ASSERT_TRUE(doc["cells"].is_array());
  ASSERT_EQ(doc["cells"].size(), 2u);
  const char* strategies[] = {"pool", "batched"};
  for (std::size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const auto& cell = doc["cells"][i];
    EXPECT_EQ(cell["values"]["pool.strategy"], strategies[i]);
    EXPECT_EQ(cell["verified"], true) << cell["verification"];
    EXPECT_TRUE(cell["error"].is_null()) << cell["error"];
    EXPECT_GT(cell["load"].value("requests", 0), 0);
    ASSERT_TRUE(cell["reader"].is_object()) << cell["reader"];
    EXPECT_GT(cell["reader"].value("reads", 0), 0);
    EXPECT_EQ(cell["reader"].value("failed", -1), 0);
    // What the database holds is what the server acknowledged.
    EXPECT_EQ(cell["facts"]["stored"], cell["facts"]["acknowledged"]);
    EXPECT_EQ(cell["facts"]["integrity"], "ok");
    EXPECT_EQ(cell["server"]["strategy"].value("strategy", ""), strategies[i]);
  }

  const auto csv = lines_of(read_file(out / "results.csv"));
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0].rfind("cell,repetition,pool.strategy,", 0), 0u) << csv[0];
  EXPECT_EQ(csv[1].rfind("1,1,pool,", 0), 0u) << csv[1];
  EXPECT_EQ(csv[2].rfind("2,1,batched,", 0), 0u) << csv[2];

  const auto table = read_file(out / "table.md");
  EXPECT_NE(table.find("# tiny"), std::string::npos) << table;
  EXPECT_NE(table.find("| verified |"), std::string::npos) << table;

  for (const char* ext : {".svg", ".png"}) {
    const auto plot = out / (std::string("plot-1-requests_per_s") + ext);
    EXPECT_TRUE(std::filesystem::is_regular_file(plot)) << plot << "\n" << r.err;
    std::error_code ec;
    EXPECT_GT(std::filesystem::file_size(plot, ec), 0u) << plot;
  }
  // Each cell's logs stay; the bulky database does not.
  EXPECT_TRUE(std::filesystem::is_directory(out / "cells" / "001"));
  EXPECT_FALSE(std::filesystem::exists(out / "cells" / "001" / "busylab.db"));
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
