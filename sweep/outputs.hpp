#pragma once
// Turns a sweep's results into files: results.json (everything), results.csv
// (one row per cell), table.md (the experiment's columns, like the seed's
// table), gnuplot plots (SVG and PNG), the timelines of the points the
// experiment names (timeline-N-*.svg, .png) and report.html (all of it on one
// page).

#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/experiment.hpp"
#include "sweep/runner.hpp"

namespace busylab::sweep {

/// A figure or value as a table shows it: "-" for null, "yes"/"no", integers
/// as is, other numbers with two decimals below 100.
std::string value_text(const nlohmann::json& v);

/// The number at `path` in `j` ({"a", "b"}: j["a"]["b"]); 0 when a key is
/// absent or the value is not a number.
double json_number(const nlohmann::json& j, std::initializer_list<const char*> path);

/// A Markdown table cell: one line, '|' escaped (a server's stderr or an
/// integrity report in a "NO: ..." verdict spans lines).
std::string table_cell(const std::string& s);

/// The value of a column for one cell: an axis value, or a metric (see
/// known_metrics()); null when the cell has no such figure.
nlohmann::json metric(const Experiment& e, const CellResult& r, const std::string& name);

/// A column or axis in words with its unit, for plot axes and titles:
/// "writes/s" (ok_per_s of a load that writes), "p99 latency (ms)",
/// "clients (connections)" (load.connections). An axis is looked up by its key,
/// so a label of the user's own choosing still gets words; a name with no
/// words is returned as is.
std::string metric_label(const Experiment& e, const std::string& name);

/// Whether a plot's y axis should be logarithmic: its positive values span
/// more than 10x (values <= 0 are ignored: a log axis cannot show them).
bool wants_log_scale(const std::vector<double>& values);

/// The plot's own title, or "<y in words> by <x in words>" and its filter.
std::string plot_title(const Experiment& e, const PlotSpec& plot);

/// Text made safe for HTML element content and quoted attribute values.
std::string html_escape(const std::string& text);

/// `s` as one word for a POSIX shell: as is when plain, else in single quotes.
std::string shell_quote(const std::string& s);

/// The Markdown table of the experiment's columns, one row per cell.
std::string markdown_table(const Experiment& e, const std::vector<CellResult>& results);

struct OutputFiles {
  std::vector<std::filesystem::path> written;
  std::string plot_problem;  // why plots (or timelines) are missing, when they are
};

/// Writes every output into `dir`. `meta` (machine, start and end time,
/// versions, the command) goes into results.json as is and is shown in
/// report.html.
OutputFiles write_outputs(const Experiment& e, const std::vector<CellResult>& results, const std::filesystem::path& dir,
                          const nlohmann::json& meta);

}  // namespace busylab::sweep
