#pragma once
// An experiment file: a base server config, a matrix of overrides, the load
// to apply, an optional outside reader, and which columns and plots to
// produce. Validated as strictly as the server's config, with the same
// messages (common/config_reader).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/slo.hpp"
#include "sweep/capacity.hpp"

namespace busylab::sweep {

struct LoadSpec {
  std::string path = "/rows";
  std::string method = "POST";
  std::string body;
  int connections = 64;
  int threads = 1;
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  std::chrono::nanoseconds warmup = std::chrono::seconds(0);
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  std::optional<double> rate;
  bool keep_alive = true;
  // A workload file (docs/loadgen.md), as written in the experiment; resolved
  // against the experiment file's folder. When set, path, method and body
  // are not used: the workload says what each request is.
  std::string workload;
};

struct ReaderSpec {
  std::chrono::milliseconds interval{100};
  std::int64_t busy_timeout_ms = 1000;
  /// `busylab watch --hold-read`: each read keeps its transaction open this
  /// long (0 = not held), the long reader that starves checkpoints.
  std::chrono::milliseconds hold{0};
};

struct MatrixAxis {
  std::string key;    // "database.busy_timeout_ms" or "load.connections"; the label for a `keys` axis
  std::string label;  // column heading; the key when not given
  std::vector<nlohmann::json> values;
  // Several server keys set together ("keys": [...]): each value is an
  // array with one value per key, shown joined by 'x' when all are numbers
  // ([2, 4] -> "2x4"), else by '/' (["postgres", "pool"] -> "postgres/pool").
  std::vector<std::string> keys;
};

struct PlotSpec {
  std::string x;       // an axis key
  std::string series;  // an axis key, or "" for one line
  std::string y;       // a metric
  std::string title;
  // Only cells whose axis values match (key or label -> value) are drawn.
  std::vector<std::pair<std::string, nlohmann::json>> where;
};

struct VerifySpec {
  // kWorkload: rows = data.rows + inserts acknowledged, every counter and
  // every account balance = what the load generator's ledger says was
  // acknowledged, and the bank's total unchanged (sweep/runner.hpp).
  enum class Kind { kRows, kCounter, kWorkload, kNone } kind = Kind::kRows;
  std::string counter;  // for kCounter
};

/// One run of one point of the matrix.
struct Cell {
  std::size_t index = 0;      // 0-based, as cells() lists them: point by point, repetitions innermost
  std::size_t point = 0;      // 0-based index of its matrix point
  std::size_t run_order = 0;  // 1-based position in the run (run_order()); 0 until scheduled
  int repetition = 0;
  bool reader = true;  // the outside reader runs (when the experiment has one); a "reader" axis sets it
  std::vector<std::pair<std::string, nlohmann::json>> values;  // axis key -> value, in axis order
  std::vector<std::string> server_overrides;                   // "key=value" for `busylab serve --set`
  LoadSpec load;
  std::string describe() const;  // "timeout=0 clients=100"
};

/// The order to run an experiment's cells in (as indexes into cells(), which
/// lists `repetitions` cells per point, point by point): in rounds, each
/// round running every point once in an order shuffled by `seed`, and the
/// first point of a round never the last of the round before. So drift of
/// the machine during a sweep spreads over every point instead of reading as
/// an effect, and no point's repetitions run back to back (unless the
/// experiment has only one point). The same seed gives the same order.
std::vector<std::size_t> run_order(std::size_t points, int repetitions, std::uint64_t seed);

struct Experiment {
  std::string name;
  std::string description;
  std::filesystem::path file;
  std::filesystem::path base_config;  // resolved against the experiment file's folder
  std::vector<std::string> set;       // overrides for every cell ("key=value")
  std::vector<MatrixAxis> matrix;
  LoadSpec load;
  std::optional<ReaderSpec> reader;
  // "postgres": {"script": "../scripts/postgres"}: the sweep starts a
  // throwaway PostgreSQL cluster with this script before the first cell,
  // gives every cell its URL (database.url), and stops it at the end.
  std::optional<std::filesystem::path> postgres_script;
  int repetitions = 3;  // runs of every point; --quick runs one
  // "slo": {"p99_ms": 50, "max_failure_rate": 0.001}: every cell's measured
  // run is checked against it (loadgen/slo.hpp) and gets a verdict.
  std::optional<loadgen::Slo> slo;
  // "capacity": {"from", "max", "step_duration", "tolerance"}: each cell
  // searches for the highest open-loop rate that meets `slo` (required).
  std::optional<CapacitySpec> capacity;
  // "interval": each cell's time series (timeseries.csv) samples this often.
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  VerifySpec verify;
  std::vector<std::string> columns;
  std::vector<PlotSpec> plots;
  // "timelines": the points whose runs report.html draws over time (from
  // each cell's timeseries.csv), as 0-based point indexes in the order the
  // file names them, each once. An entry names a point by its point_name()
  // ("sqlite/normal/batched/4/1"), or selects every point whose axis values
  // match an object of axis key or label -> value ({"journal": "wal"}).
  std::vector<std::size_t> timelines;
  // --quick: shorter runs, fewer connections.
  std::chrono::nanoseconds quick_duration = std::chrono::seconds(2);
  int quick_max_connections = 256;

  /// Reads and validates; every cell's server config is checked too. Throws
  /// ConfigError with the file name and the dotted key.
  static Experiment load_file(const std::filesystem::path& file);
  static Experiment from_json(const nlohmann::json& doc, const std::filesystem::path& file);

  /// Every run of every point, point by point (first axis outermost),
  /// repetitions innermost; run_order() says in what order to run them.
  /// `quick` applies the quick duration and connection cap and runs each
  /// point once.
  std::vector<Cell> cells(bool quick) const;
  /// How many runs of each point cells(quick) holds.
  int runs_per_point(bool quick) const { return quick ? 1 : repetitions; }
  /// The number of matrix points.
  std::size_t points() const;
  /// `load`'s workload file resolved against this file's folder ("" for none).
  std::filesystem::path workload_file(const LoadSpec& load) const;
};

/// A point's name (the experiment's "timelines" use it): its axis values as
/// the tables show them, in matrix order, joined by ", ": a one-axis point
/// "sqlite/normal/batched/4/1", a two-axis one "wal, 4"; "" without a matrix.
std::string point_name(const std::vector<std::pair<std::string, nlohmann::json>>& values);

/// Metric names a column or plot may use besides the axis keys and labels.
const std::vector<std::string>& known_metrics();

}  // namespace busylab::sweep
