// Experiment files (`busylab sweep`): every class of mistake is rejected with
// a message naming the file and the key, the shipped experiments load, and
// cells() expands the matrix the way the runner relies on.

#include "sweep/experiment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/config_reader.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

#ifndef BUSYLAB_SOURCE_DIR
#error "BUSYLAB_SOURCE_DIR must be defined by the build (tests/CMakeLists.txt)"
#endif

namespace busylab::sweep {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A folder with a valid base config; experiments are written next to it.
class ExperimentDir {
 public:
  ExperimentDir() {
    std::ofstream(dir_.file("base.json"))
        << R"({"database": {"path": "x.db", "busy_timeout_ms": 100}, "pool": {"strategy": "pool", "size": 2}})";
  }
  std::filesystem::path file(const std::string& name) const { return dir_.path() / name; }
  void write(const std::string& name, const std::string& text) const { std::ofstream(file(name)) << text; }

  // A minimal valid experiment with `patch` merged over it (null removes a key).
  json doc(const json& patch = json::object()) const {
    json d = {{"name", "t"}, {"config", "base.json"}, {"load", {{"duration", "1s"}}}};
    d.merge_patch(patch);
    return d;
  }
  Experiment parse(const json& patch = json::object()) const {
    return Experiment::from_json(doc(patch), file("exp.json"));
  }
  // The ConfigError message for `patch` (a test failure when nothing is thrown).
  std::string error(const json& patch) const {
    return unit::error_message<ConfigError>([&] { parse(patch); });
  }

 private:
  testing::TempDir dir_;
};

json axis(const std::string& key, json values) {
  return {{"key", key}, {"values", std::move(values)}};
}

// ---- validation -------------------------------------------------------------

TEST(Experiment, MinimalDocumentLoads) {
  ExperimentDir d;
  const Experiment e = d.parse();
  EXPECT_EQ(e.name, "t");
  EXPECT_EQ(e.base_config, d.file("base.json"));
  EXPECT_EQ(e.load.duration, 1s);
  EXPECT_EQ(e.repetitions, 3);  // a finding needs a spread
  EXPECT_EQ(e.verify.kind, VerifySpec::Kind::kRows);
  EXPECT_TRUE(e.matrix.empty());
  EXPECT_FALSE(e.reader.has_value());
}

TEST(Experiment, NameIsRequiredAndPlain) {
  ExperimentDir d;
  auto msg = d.error({{"name", nullptr}});
  EXPECT_CONTAINS(msg, "exp.json");
  EXPECT_CONTAINS(msg, "name: is required");
  msg = d.error({{"name", "a/b"}});
  EXPECT_CONTAINS(msg, "name: must not contain '/'");
}

TEST(Experiment, ConfigIsRequiredAndMustExist) {
  ExperimentDir d;
  EXPECT_CONTAINS(d.error({{"config", nullptr}}), "config: is required");
  const auto msg = d.error({{"config", "nope.json"}});
  EXPECT_CONTAINS(msg, "config: ");
  EXPECT_CONTAINS(msg, "nope.json' is not a readable file");
}

TEST(Experiment, UnknownTopLevelKeySuggestsTheKnownOne) {
  ExperimentDir d;
  const auto msg = d.error({{"repetiions", 3}});
  EXPECT_CONTAINS(msg, "unknown key 'repetiions'");
  EXPECT_CONTAINS(msg, "did you mean 'repetitions'?");
}

TEST(Experiment, MatrixMustBeAnArrayOfAxesWithValues) {
  ExperimentDir d;
  EXPECT_CONTAINS(d.error({{"matrix", {{"pool.size", json::array({1, 2})}}}}), "matrix: expected an array");
  EXPECT_CONTAINS(d.error({{"matrix", json::array({{{"key", "pool.size"}}})}}),
                  "matrix[0].values: expected a non-empty array");
  EXPECT_CONTAINS(d.error({{"matrix", json::array({axis("pool.size", json::array())})}}),
                  "matrix[0].values: expected a non-empty array");
}

TEST(Experiment, UnknownLoadKeyInMatrixSuggests) {
  ExperimentDir d;
  const auto msg = d.error({{"matrix", json::array({axis("load.conections", {1, 2})})}});
  EXPECT_CONTAINS(msg, "matrix[0]: unknown load key 'load.conections'");
  EXPECT_CONTAINS(msg, "did you mean 'load.connections'?");
  // A bad load value is named too.
  EXPECT_CONTAINS(d.error({{"matrix", json::array({axis("load.connections", {4, 0})})}}),
                  "matrix[0]: load.connections: expected an integer from 1 to 100000, got number 0");
}

TEST(Experiment, MatrixServerKeyMustBeAConfigKey) {
  ExperimentDir d;
  const auto msg = d.error({{"matrix", json::array({axis("pool.size", {2}), axis("database.busy_timeot_ms", {10})})}});
  EXPECT_CONTAINS(msg, "matrix[1]");
  EXPECT_CONTAINS(msg, "unknown key 'database.busy_timeot_ms'");
  EXPECT_CONTAINS(msg, "did you mean 'database.busy_timeout_ms'?");
}

TEST(Experiment, MatrixValueOutOfRangeIsNamed) {
  ExperimentDir d;
  const auto msg = d.error({{"matrix", json::array({axis("pool.size", {4, 0})})}});
  EXPECT_CONTAINS(msg, "matrix[0] value 0");
  EXPECT_CONTAINS(msg, "pool.size");
  EXPECT_CONTAINS(msg, "out of range");
}

TEST(Experiment, AxisKeyTwiceIsRejected) {
  ExperimentDir d;
  EXPECT_CONTAINS(d.error({{"matrix", json::array({axis("pool.size", {1}), axis("pool.size", {2})})}}),
                  "key 'pool.size' appears twice");
}

TEST(Experiment, UnknownColumnSuggests) {
  ExperimentDir d;
  const auto msg = d.error({{"columns", {"p99_ms", "requests_per_sec"}}});
  EXPECT_CONTAINS(msg, "columns[1]: unknown column 'requests_per_sec'");
  EXPECT_CONTAINS(msg, "did you mean 'requests_per_s'?");
}

TEST(Experiment, PlotAxesMustBeMatrixKeys) {
  ExperimentDir d;
  const json matrix = json::array({axis("pool.size", {1, 2})});
  auto msg = d.error({{"matrix", matrix}, {"plots", json::array({{{"x", "clients"}, {"y", "p99_ms"}}})}});
  EXPECT_CONTAINS(msg, "plots[0].x: 'clients' is not a matrix key or label");
  msg = d.error(
      {{"matrix", matrix}, {"plots", json::array({{{"x", "pool.size"}, {"series", "nope"}, {"y", "p99_ms"}}})}});
  EXPECT_CONTAINS(msg, "plots[0].series: 'nope' is not a matrix key or label");
  msg = d.error({{"matrix", matrix}, {"plots", json::array({{{"x", "pool.size"}, {"y", "p99ms"}}})}});
  EXPECT_CONTAINS(msg, "plots[0].y: unknown column 'p99ms'");
  // The same plot with a real metric is fine.
  EXPECT_NO_THROW(d.parse({{"matrix", matrix}, {"plots", json::array({{{"x", "pool.size"}, {"y", "p99_ms"}}})}}));
}

TEST(Experiment, VerifyKinds) {
  ExperimentDir d;
  EXPECT_EQ(d.parse({{"verify", "none"}}).verify.kind, VerifySpec::Kind::kNone);
  const Experiment c = d.parse({{"verify", "counter:hits"}});
  EXPECT_EQ(c.verify.kind, VerifySpec::Kind::kCounter);
  EXPECT_EQ(c.verify.counter, "hits");
  for (const char* bad : {"rowz", "counter:", "all"}) {
    const auto msg = d.error({{"verify", bad}});
    EXPECT_CONTAINS(msg, "verify: expected \"rows\", \"counter:NAME\", \"workload\" or \"none\"");
    EXPECT_CONTAINS(msg, std::string("got '") + bad + "'");
  }
}

TEST(Experiment, WorkloadFilesAreLoadedBeforeTheFirstCell) {
  ExperimentDir d;
  d.write("mix.json", R"({"name": "mix", "vars": {"id": {"distribution": "uniform", "min": 1, "max": 9}},
                          "requests": [{"name": "read", "weight": 1, "method": "GET", "path": "/rows/{id}"}]})");
  d.write("broken.json", R"({"name": "broken", "requests": [{"name": "read", "weight": 1, "method": "GET",
                          "path": "/rows/{idd}"}], "vars": {"id": {"distribution": "uniform", "min": 1, "max": 9}}})");
  const Experiment e = d.parse({{"load", {{"workload", "mix.json"}}}, {"verify", "workload"}});
  EXPECT_EQ(e.verify.kind, VerifySpec::Kind::kWorkload);
  EXPECT_EQ(e.workload_file(e.load), d.file("mix.json"));
  // A bad file, in the load or as a matrix value, stops the experiment with the loader's message.
  const auto msg = d.error({{"load", {{"workload", "broken.json"}}}});
  EXPECT_CONTAINS(msg, "load.workload");
  EXPECT_CONTAINS(msg, "idd");
  const auto axis_msg = d.error({{"matrix", json::array({axis("load.workload", {"mix.json", "missing.json"})})}});
  EXPECT_CONTAINS(axis_msg, "missing.json");
  const Experiment m = d.parse({{"matrix", json::array({axis("load.workload", {"mix.json"})})}});
  EXPECT_EQ(m.cells(false)[0].load.workload, "mix.json");
}

TEST(Experiment, BadDurationIsNamed) {
  ExperimentDir d;
  const auto msg = d.error({{"load", {{"duration", "abc"}}}});
  EXPECT_CONTAINS(msg, "load.duration: 'abc' is not a duration");
  EXPECT_CONTAINS(d.error({{"load", {{"conections", 4}}}}), "did you mean 'load.connections'?");
}

TEST(Experiment, LoadFileNamesTheFile) {
  ExperimentDir d;
  const auto path = d.file("broken.json");
  std::ofstream(path) << "{\n  \"name\": \"x\",\n  \"config\": \"base.json\"\n  \"repetitions\": 2\n}\n";
  EXPECT_CONTAINS(unit::error_message<ConfigError>([&] { Experiment::load_file(path); }), "broken.json:4:");
  EXPECT_CONTAINS(unit::error_message<ConfigError>([&] { Experiment::load_file(d.file("missing.json")); }),
                  "missing.json");
}

TEST(Experiment, ConfigIsRelativeToTheExperimentFile) {
  ExperimentDir d;
  std::filesystem::create_directories(d.file("exps"));
  const auto path = d.file("exps/e.json");
  std::ofstream(path) << d.doc({{"config", "../base.json"}}).dump();
  const Experiment e = Experiment::load_file(path);
  EXPECT_EQ(e.file, path);
  EXPECT_TRUE(std::filesystem::equivalent(e.base_config, d.file("base.json")));
}

TEST(Experiment, ShippedExperimentsLoad) {
  const std::filesystem::path folder = std::filesystem::path(BUSYLAB_SOURCE_DIR) / "experiments";
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    try {
      const Experiment e = Experiment::load_file(entry.path());
      EXPECT_FALSE(e.name.empty());
      EXPECT_FALSE(e.cells(false).empty());
      EXPECT_FALSE(e.columns.empty());
    } catch (const ConfigError& err) {
      ADD_FAILURE() << err.what();
    }
    ++loaded;
  }
  EXPECT_GE(loaded, 1);
}

// ---- cells ------------------------------------------------------------------

TEST(ExperimentCells, CartesianProductFirstAxisOutermost) {
  ExperimentDir d;
  const Experiment e =
      d.parse({{"set", {{"database.journal_mode", "delete"}}},
               {"repetitions", 1},
               {"load", {{"connections", 10}}},
               {"matrix", json::array({axis("pool.strategy", {"pool", "batched"}),
                                       {{"key", "load.connections"}, {"label", "clients"}, {"values", {3, 5, 7}}}})}});
  const auto cells = e.cells(false);
  ASSERT_EQ(cells.size(), 6u);
  const std::vector<std::pair<std::string, int>> expected = {{"pool", 3},    {"pool", 5},    {"pool", 7},
                                                             {"batched", 3}, {"batched", 5}, {"batched", 7}};
  for (std::size_t i = 0; i < cells.size(); ++i) {
    SCOPED_TRACE(i);
    const Cell& c = cells[i];
    EXPECT_EQ(c.index, i);
    EXPECT_EQ(c.repetition, 0);
    ASSERT_EQ(c.values.size(), 2u);
    EXPECT_EQ(c.values[0].first, "pool.strategy");
    EXPECT_EQ(c.values[0].second, expected[i].first);
    EXPECT_EQ(c.values[1].first, "load.connections");
    EXPECT_EQ(c.values[1].second, expected[i].second);
    // load.* goes to the load, the rest to the server (after the "set" entries).
    EXPECT_EQ(c.load.connections, expected[i].second);
    EXPECT_EQ(c.load.duration, 1s);
    const std::vector<std::string> overrides = {"database.journal_mode=\"delete\"",
                                                "pool.strategy=\"" + expected[i].first + "\""};
    EXPECT_EQ(c.server_overrides, overrides);
  }
  EXPECT_EQ(cells[4].describe(), "strategy=batched connections=5");
}

TEST(ExperimentCells, RepetitionsAreInnermost) {
  ExperimentDir d;
  const Experiment e = d.parse({{"repetitions", 3}, {"matrix", json::array({axis("pool.size", {1, 2})})}});
  const auto cells = e.cells(false);
  ASSERT_EQ(cells.size(), 6u);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    EXPECT_EQ(cells[i].index, i);
    EXPECT_EQ(cells[i].point, i / 3);
    EXPECT_EQ(cells[i].repetition, static_cast<int>(i % 3));
    EXPECT_EQ(cells[i].values.at(0).second, i < 3 ? 1 : 2);
    EXPECT_EQ(cells[i].server_overrides, std::vector<std::string>{i < 3 ? "pool.size=1" : "pool.size=2"});
  }
  EXPECT_EQ(cells[5].describe(), "size=2 rep=3");
}

TEST(ExperimentCells, NoMatrixGivesOneCellPerRepetition) {
  ExperimentDir d;
  EXPECT_EQ(d.parse().cells(false).size(), 3u);
  EXPECT_EQ(d.parse({{"repetitions", 2}}).cells(false).size(), 2u);
  EXPECT_EQ(d.parse().points(), 1u);
}

TEST(ExperimentCells, QuickRunsEachPointOnce) {
  ExperimentDir d;
  const Experiment e = d.parse({{"repetitions", 5}, {"matrix", json::array({axis("pool.size", {1, 2, 4})})}});
  EXPECT_EQ(e.cells(false).size(), 15u);
  const auto quick = e.cells(true);
  ASSERT_EQ(quick.size(), 3u);
  for (std::size_t i = 0; i < quick.size(); ++i) {
    EXPECT_EQ(quick[i].point, i);
    EXPECT_EQ(quick[i].repetition, 0);
  }
  EXPECT_EQ(e.runs_per_point(true), 1);
  EXPECT_EQ(e.runs_per_point(false), 5);
}

TEST(ExperimentCells, ReaderAxisTurnsTheOutsideReaderOnAndOff) {
  ExperimentDir d;
  const Experiment e = d.parse({{"repetitions", 1},
                                {"reader", {{"interval", "100ms"}}},
                                {"matrix", json::array({axis("reader", {true, false})})}});
  const auto cells = e.cells(false);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_TRUE(cells[0].reader);
  EXPECT_FALSE(cells[1].reader);
  EXPECT_TRUE(cells[0].server_overrides.empty());  // not a server key
  EXPECT_CONTAINS(d.error({{"matrix", json::array({axis("reader", {true, false})})}}),
                  "a \"reader\" axis needs the experiment's \"reader\" settings");
  EXPECT_CONTAINS(d.error({{"reader", {{"interval", "100ms"}}}, {"matrix", json::array({axis("reader", {1})})}}),
                  "reader: expected true (the outside reader runs) or false, got number 1");
}

// ---- run order --------------------------------------------------------------

TEST(RunOrder, EveryCellOnceInRoundsWithNoPointBackToBack) {
  for (std::uint64_t seed : {0u, 1u, 7u, 12345u}) {
    for (std::size_t points : {2u, 3u, 5u, 24u}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", points " + std::to_string(points));
      const int reps = 4;
      const auto order = run_order(points, reps, seed);
      ASSERT_EQ(order.size(), points * reps);
      std::vector<int> seen(points * reps, 0);
      for (std::size_t i = 0; i < order.size(); ++i) {
        ASSERT_LT(order[i], points * reps);
        ++seen[order[i]];
        // Round r holds repetition r of every point: drift spreads evenly.
        EXPECT_EQ(order[i] % reps, i / points) << "position " << i;
        if (i > 0) {
          EXPECT_NE(order[i] / reps, order[i - 1] / reps) << "point " << order[i] / reps << " back to back";
        }
      }
      for (int n : seen) EXPECT_EQ(n, 1);
    }
  }
}

TEST(RunOrder, TheSameSeedReplaysTheSameOrderAndAnotherShuffles) {
  EXPECT_EQ(run_order(24, 3, 42), run_order(24, 3, 42));
  EXPECT_NE(run_order(24, 3, 42), run_order(24, 3, 43));
  // Not the matrix order: a shuffle, not a block per point.
  std::vector<std::size_t> in_order;
  for (std::size_t p = 0; p < 24; ++p) in_order.push_back(p * 3);
  const auto order = run_order(24, 3, 42);
  EXPECT_NE(std::vector<std::size_t>(order.begin(), order.begin() + 24), in_order);
}

TEST(RunOrder, OnePointRunsItsRepetitionsInOrder) {
  EXPECT_EQ(run_order(1, 3, 9), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(run_order(4, 1, 9).size(), 4u);
}

TEST(ExperimentCells, QuickShortensAndCapsConnections) {
  ExperimentDir d;
  const Experiment e =
      d.parse({{"load", {{"duration", "30s"}, {"warmup", "5s"}}},
               {"repetitions", 1},
               {"quick", {{"duration", "2s"}, {"max_connections", 50}}},
               {"matrix", json::array({axis("load.connections", {10, 500}), axis("load.duration", {"1s", "1m"})})}});
  const auto full = e.cells(false);
  const auto quick = e.cells(true);
  ASSERT_EQ(full.size(), 4u);
  ASSERT_EQ(quick.size(), 4u);
  EXPECT_EQ(full[1].load.duration, 1min);
  EXPECT_EQ(full[2].load.connections, 500);
  EXPECT_EQ(full[0].load.warmup, 5s);
  const std::vector<std::pair<int, std::chrono::nanoseconds>> expected = {{10, 1s}, {10, 2s}, {50, 1s}, {50, 2s}};
  for (std::size_t i = 0; i < quick.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(quick[i].load.connections, expected[i].first);
    EXPECT_EQ(quick[i].load.duration, expected[i].second);
    EXPECT_EQ(quick[i].load.warmup, 200ms);
  }
}

}  // namespace
}  // namespace busylab::sweep

namespace busylab::sweep {
namespace {

// ---- keys set together ------------------------------------------------------

json together(json values) {
  return {{"keys", {"server.processes", "pool.size"}}, {"label", "split"}, {"values", std::move(values)}};
}

TEST(ExperimentKeysTogether, EachValueSetsEveryKeyAndShowsJoined) {
  ExperimentDir d;
  const Experiment e = d.parse({{"repetitions", 1}, {"matrix", json::array({together({{1, 8}, {4, 2}})})}});
  const auto cells = e.cells(false);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].values, (std::vector<std::pair<std::string, json>>{{"split", "1x8"}}));
  EXPECT_EQ(cells[1].values, (std::vector<std::pair<std::string, json>>{{"split", "4x2"}}));
  EXPECT_EQ(cells[1].server_overrides, (std::vector<std::string>{"server.processes=4", "pool.size=2"}));
  EXPECT_EQ(e.columns.front(), "split");
}

TEST(ExperimentKeysTogether, BadShapesAndValuesAreNamed) {
  ExperimentDir d;
  EXPECT_CONTAINS(d.error({{"matrix", json::array({together({{1, 8}, {2}})})}}),
                  "matrix[0] value [2]: expected an array of 2 values, one per key");
  EXPECT_CONTAINS(d.error({{"matrix", json::array({together({{0, 8}})})}}), "matrix[0] value [0,8]: ");
  EXPECT_CONTAINS(d.error({{"matrix", json::array({together({{0, 8}})})}}), "server.processes");
  json no_label = together({{1, 8}});
  no_label.erase("label");
  EXPECT_CONTAINS(d.error({{"matrix", json::array({no_label})}}), "matrix[0].label: is required with \"keys\"");
  json both = together({{1, 8}});
  both["key"] = "pool.size";
  EXPECT_CONTAINS(d.error({{"matrix", json::array({both})}}), "give \"key\" or \"keys\", not both");
  json load_key = together({{1, 8}});
  load_key["keys"] = {"server.processes", "load.connections"};
  EXPECT_CONTAINS(d.error({{"matrix", json::array({load_key})}}), "only server keys can be set together");
}

TEST(ExperimentKeysTogether, WordsJoinWithASlash) {
  ExperimentDir d;
  json engines = {{"keys", {"database.engine", "pool.strategy"}},
                  {"label", "setup"},
                  {"values", json::array({json::array({"sqlite", "pool"}), json::array({"postgres", "batched"})})}};
  const Experiment e =
      d.parse({{"repetitions", 1}, {"postgres", {{"script", "base.json"}}}, {"matrix", json::array({engines})}});
  const auto cells = e.cells(false);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[1].values, (std::vector<std::pair<std::string, json>>{{"setup", "postgres/batched"}}));
}

// ---- timelines ----------------------------------------------------------------

TEST(ExperimentTimelines, NamesPointsAsTheTablesShowThem) {
  ExperimentDir d;
  // One axis of keys set together: a point's name is its joined value.
  const Experiment e =
      d.parse({{"matrix", json::array({together({{1, 8}, {2, 4}, {4, 2}})})}, {"timelines", {"4x2", "1x8", "4x2"}}});
  EXPECT_EQ(e.timelines, (std::vector<std::size_t>{2, 0})) << "in the order named, each once";
  EXPECT_EQ(point_name(e.cells(false)[3].values), "2x4");
  // Without the key, no timelines.
  EXPECT_TRUE(d.parse({{"matrix", json::array({together({{1, 8}})})}}).timelines.empty());
}

TEST(ExperimentTimelines, SeveralAxesJoinWithACommaOrMatchAnObject) {
  ExperimentDir d;
  const json matrix = json::array({axis("database.synchronous", {"normal", "full"}), axis("pool.size", {1, 2, 4})});
  // Points in matrix order: normal/1 normal/2 normal/4 full/1 full/2 full/4.
  EXPECT_EQ(d.parse({{"matrix", matrix}, {"timelines", {"full, 2"}}}).timelines, (std::vector<std::size_t>{4}));
  // An object selects every point whose values match, by axis key or label.
  EXPECT_EQ(d.parse({{"matrix", matrix}, {"timelines", json::array({{{"pool.size", 4}}})}}).timelines,
            (std::vector<std::size_t>{2, 5}));
  json labelled = matrix;
  labelled[0]["label"] = "sync";
  EXPECT_EQ(
      d.parse({{"matrix", labelled}, {"timelines", json::array({{{"sync", "normal"}, {"pool.size", 1}}})}}).timelines,
      (std::vector<std::size_t>{0}));
}

TEST(ExperimentTimelines, AnUnknownPointIsRejectedBeforeAnyCellRuns) {
  ExperimentDir d;
  const json matrix = json::array({together({{1, 8}, {2, 4}})});
  auto msg = d.error({{"matrix", matrix}, {"timelines", {"1x8", "2x5"}}});
  EXPECT_CONTAINS(msg, "exp.json: timelines[1]: unknown point '2x5'");
  EXPECT_CONTAINS(msg, "did you mean '2x4'?");
  // Nothing near: the points are listed.
  msg = d.error({{"matrix", matrix}, {"timelines", {"sqlite/normal"}}});
  EXPECT_CONTAINS(msg, "timelines[0]: unknown point 'sqlite/normal'; the points are '1x8', '2x4'");
  // Objects: the axis and its value must exist, and some point must have them all.
  const json two = json::array({axis("database.synchronous", {"normal", "full"}), axis("pool.size", {1, 2})});
  msg = d.error({{"matrix", two}, {"timelines", json::array({{{"pool.sizes", 1}}})}});
  EXPECT_CONTAINS(msg, "timelines[0]: 'pool.sizes' is not a matrix key or label (did you mean 'pool.size'?)");
  msg = d.error({{"matrix", two}, {"timelines", json::array({{{"database.synchronous", "ful"}}})}});
  EXPECT_CONTAINS(msg, "timelines[0].database.synchronous: no point has database.synchronous \"ful\"");
  EXPECT_CONTAINS(msg, "did you mean 'full'?");
  EXPECT_CONTAINS(d.error({{"matrix", two}, {"timelines", json::array({{{"pool.size", 3}}})}}),
                  "timelines[0].pool.size: no point has pool.size 3; the values are '1', '2'");
  // Wrong shapes.
  EXPECT_CONTAINS(d.error({{"matrix", two}, {"timelines", "full, 1"}}), "timelines: expected an array of points");
  EXPECT_CONTAINS(d.error({{"matrix", two}, {"timelines", {7}}}), "timelines[0]: expected a point's name");
  EXPECT_CONTAINS(d.error({{"matrix", two}, {"timelines", json::array({json::object()})}}),
                  "timelines[0]: expected a point's name");
  // And the key itself is known: a typo of it is caught like any other.
  EXPECT_CONTAINS(d.error({{"matrix", two}, {"timeline", {"full, 1"}}}), "did you mean 'timelines'?");
}

TEST(ExperimentTimelines, TheShippedCapacityExperimentNamesTwoPoints) {
  const Experiment e =
      Experiment::load_file(std::filesystem::path(BUSYLAB_SOURCE_DIR) / "experiments" / "capacity.json");
  ASSERT_EQ(e.timelines.size(), 2u);
  std::vector<std::string> names;
  for (const auto& c : e.cells(false))
    if (c.repetition == 0 && std::find(e.timelines.begin(), e.timelines.end(), c.point) != e.timelines.end())
      names.push_back(point_name(c.values));
  EXPECT_EQ(names, (std::vector<std::string>{"sqlite/normal/pool/32/1", "sqlite/normal/batched/4/1"}));
}

TEST(ExperimentPostgres, ScriptIsResolvedAndPostgresCellsNeedAUrlWithoutIt) {
  ExperimentDir d;
  const json postgres_axis = axis("database.engine", {"sqlite", "postgres"});
  // With a script, the sweep provides the URL: postgres cells validate.
  const Experiment e = d.parse({{"postgres", {{"script", "base.json"}}}, {"matrix", json::array({postgres_axis})}});
  ASSERT_TRUE(e.postgres_script.has_value());
  EXPECT_EQ(*e.postgres_script, d.file("base.json"));
  EXPECT_TRUE(e.set.empty()) << "the stand-in URL is not one of the experiment's settings";
  // Without one, a postgres cell needs database.url.
  EXPECT_CONTAINS(d.error({{"matrix", json::array({postgres_axis})}}), "database.url: is required when engine");
  EXPECT_CONTAINS(d.error({{"postgres", {{"script", "nope"}}}}), "postgres.script: '");
  EXPECT_CONTAINS(d.error({{"postgres", {{"script", "base.json"}, {"dir", "x"}}}}), "postgres.dir");
}

}  // namespace
}  // namespace busylab::sweep
