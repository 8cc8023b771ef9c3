#pragma once
// What a sweep records about the machine it ran on, so that its figures can
// be compared with another day's: a calibration measured at its start and
// end (how fast this disk flushes and raw SQLite commits today), and the
// provenance of the binary and the machine.

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sweep/runner.hpp"

namespace busylab::sweep {

/// The time now in UTC, as strftime `format` writes it (ISO 8601 by default).
std::string utc_now(const char* format = "%Y-%m-%dT%H:%M:%SZ");

/// One calibration: fdatasync calls per second on a file in the folder, and
/// raw SQLite commits per second (one connection, BEGIN IMMEDIATE; INSERT one
/// row; COMMIT, statements prepared once: what bench/sqlite_probe measures)
/// in three modes.
struct Calibration {
  std::string utc;  // when it was taken
  double fdatasync_per_s = 0;
  double wal_full = 0;
  double wal_normal = 0;
  double delete_full = 0;

  nlohmann::json to_json() const;
  static Calibration from_json(const nlohmann::json& j);
  /// The raw commit rate for a journal mode and synchronous level, or none
  /// for a mode the calibration does not measure.
  std::optional<double> commits_per_s(const std::string& journal_mode, const std::string& synchronous) const;
};

/// Measures in `dir` (created files are removed), spending about `each` on
/// each of the four figures; each figure is the median rate of 5 bursts. Throws std::runtime_error when the folder or
/// SQLite fails.
Calibration calibrate(const std::filesystem::path& dir, std::chrono::milliseconds each);

/// The largest relative difference between two calibrations' figures
/// (|end - start| / start), and which figure it is.
struct Drift {
  double largest = 0;
  std::string figure;
};
Drift drift(const Calibration& start, const Calibration& end);
/// Above this, a sweep says that the machine changed during it.
constexpr double kDriftWarning = 0.25;

/// Gives each SQLite cell its day's raw commit rate (the mean of start and
/// end for its journal mode and synchronous level, read from the config the
/// server reported), for the metric ok_vs_raw.
void attach_calibration(std::vector<CellResult>& results, const Calibration& start, const Calibration& end);

/// The binary and the machine: commit and dirty (of the tree the binary was
/// built from, recorded at build time; dirty ignores docs/), build_type,
/// compiler, cpu_model, cores, memory_mb, kernel, filesystem (type, mount
/// and device of `data_dir`), sqlite_compile_options.
nlohmann::json provenance(const std::filesystem::path& data_dir);

/// The PostgreSQL server's version and settings, from the first PostgreSQL
/// cell that reported them; null when none ran.
nlohmann::json postgres_provenance(const std::vector<CellResult>& results);

}  // namespace busylab::sweep
