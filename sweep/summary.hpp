#pragma once
// What the repetitions of a matrix point add up to: every figure as its
// median with its range, and when two points differ by more than their runs
// vary (their ranges do not overlap) or not.

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sweep/experiment.hpp"
#include "sweep/runner.hpp"

namespace busylab::sweep {

/// The median and range of one figure over a point's runs.
struct Spread {
  double median = 0;
  double min = 0;
  double max = 0;
  std::size_t n = 0;  // runs with a figure; 0: none (median, min, max mean nothing)
};

/// The spread of `values` (in any order); n = 0 for none. The median of an
/// even count is the mean of the middle two.
Spread spread_of(std::vector<double> values);

enum class Difference {
  kResolved,     // the ranges do not overlap: the difference is larger than the runs vary
  kNotResolved,  // the ranges overlap: the runs cannot tell the two apart
  kNoSpread,     // one side has fewer than two runs: no spread was measured, nothing is resolved
};

/// Whether two points' figures differ by more than their own runs vary.
Difference compare(const Spread& a, const Spread& b);
const char* to_string(Difference d);

/// A figure in few characters: 0.33, 12.5, 812, 20.0k, 1.46M.
std::string short_number(double v);
/// "20.0k (19.1k-21.2k)"; one run: "20.0k" (the table says once that each
/// point ran once); none: "-".
std::string spread_text(const Spread& s);

/// One matrix point: its axis values, its runs and every numeric metric
/// (known_metrics()) as a Spread.
struct Point {
  std::size_t index = 0;                                       // 0-based, matrix order
  std::vector<std::pair<std::string, nlohmann::json>> values;  // as its cells have them
  std::vector<std::size_t> runs;                               // its cells' indexes (0-based) in results
  std::map<std::string, Spread> metrics;
  std::size_t verified = 0;  // runs verified
  std::size_t slo_runs = 0;  // runs checked against the experiment's SLO
  std::size_t slo_pass = 0;  // ... that met it
};

/// Groups `results` (as run_sweep returns them, any order) by point.
std::vector<Point> summarize(const Experiment& e, const std::vector<CellResult>& results);

/// A point a plot draws: its x value and its series' value as text ("" for
/// a plot without series).
struct PlotPoint {
  std::string x;
  std::string series;
  const Point* point = nullptr;
};

/// The points a plot selects (its `where` filter), in matrix order, with
/// their x and series values: what the plot draws and what it compares.
std::vector<PlotPoint> plot_points(const Experiment& e, const std::vector<Point>& points, const PlotSpec& plot);

/// A point's column: an axis value as is, a metric as spread_text, and
/// "verified" as "yes" (every run) or "NO: k of n" with the first reason.
std::string point_text(const Experiment& e, const std::vector<CellResult>& results, const Point& p,
                       const std::string& column);

/// The comparisons a plot makes, in words and as data. With a series: at
/// each x value the series ranked by median, each neighbour pair resolved or
/// not. Without: each x value against the next.
struct Comparison {
  std::string group;  // "clients 64", or "" for a plot without series
  struct Entry {
    std::string name;
    Spread spread;
  };
  std::vector<Entry> entries;       // ranked (series) or in x order (no series)
  std::vector<Difference> between;  // between[i]: entries[i] against entries[i + 1]
  std::string text() const;         // "clients 64: batched 54.1k (...) > pool 25.8k (...), resolved; ..."
};
std::vector<Comparison> compare_plot(const Experiment& e, const std::vector<Point>& points, const PlotSpec& plot);

/// The Markdown table of the experiment's columns, one row per point, each
/// figure as its median and range.
std::string points_table(const Experiment& e, const std::vector<CellResult>& results, const std::vector<Point>& points);

/// results.json's "points": [{"index", "values", "runs" (1-based cell
/// indexes), "verified", "metrics": {name: {"median", "min", "max", "n"}}}].
nlohmann::json points_json(const std::vector<Point>& points);

}  // namespace busylab::sweep
