#pragma once
// Turns a sweep's results into files: results.json (everything), results.csv
// (one row per cell), table.md (the experiment's columns, like the seed's
// table) and gnuplot plots (SVG and PNG).

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/experiment.hpp"
#include "sweep/runner.hpp"

namespace busylab::sweep {

/// The value of a column for one cell: an axis value, or a metric (see
/// known_metrics()); null when the cell has no such figure.
nlohmann::json metric(const Experiment& e, const CellResult& r, const std::string& name);

/// The Markdown table of the experiment's columns, one row per cell.
std::string markdown_table(const Experiment& e, const std::vector<CellResult>& results);

struct OutputFiles {
  std::vector<std::filesystem::path> written;
  std::string plot_problem;  // why plots are missing, when they are
};

/// Writes every output into `dir`. `meta` (machine, start time, command) goes
/// into results.json as is.
OutputFiles write_outputs(const Experiment& e, const std::vector<CellResult>& results, const std::filesystem::path& dir,
                          const nlohmann::json& meta);

}  // namespace busylab::sweep
