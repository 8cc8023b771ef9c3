#pragma once
// Runs an experiment: for each cell a fresh database, `busylab serve` as a
// child process, an optional `busylab watch` beside it, the load applied
// in-process, then the database checked against what the server and the
// load generator saw.

#include <filesystem>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/slo.hpp"
#include "loadgen/workload.hpp"
#include "sweep/capacity.hpp"
#include "sweep/experiment.hpp"
#include "sweep/watch.hpp"

namespace busylab::sweep {

/// What verification compares; all of it collected after the server stopped.
struct VerifyFacts {
  VerifySpec::Kind kind = VerifySpec::Kind::kRows;
  std::int64_t stored = -1;           // rows in the table, or the counter's value
  std::uint64_t acknowledged = 0;     // writes the server answered 2xx (its /stats)
  std::uint64_t ok_seen = 0;          // 2xx the load generator received (warm-up included)
  std::uint64_t unknown_outcome = 0;  // requests with no answer (timeout, reset, read error)
  // Commits the server answered 500 commit_outcome_unknown (PostgreSQL: the
  // connection went after the COMMIT was sent): each may be in the database.
  std::uint64_t server_unknown = 0;
  std::string integrity;  // PRAGMA integrity_check
  int server_exit = -1;
  bool stats_read = false;

  // kWorkload only: what the database holds after the server stopped,
  // what it started with, and what the load generator was told.
  std::int64_t initial_rows = 0;                  // data.rows
  std::optional<std::uint64_t> rows_inserted;     // acknowledged inserts, from the server's summary
  std::map<std::string, std::int64_t> counters;   // name -> value
  std::map<std::int64_t, std::int64_t> balances;  // account -> balance
  std::int64_t accounts = 0;                      // bank.accounts
  std::int64_t initial_balance = 0;               // bank.initial_balance
  loadgen::Ledger ledger;                         // warm-up and measured run together
};

struct Verdict {
  bool ok = false;
  std::string detail;  // what matched, or what did not
};

/// The writes acknowledged, from the summary line `busylab serve` prints on
/// stdout once it has drained and stopped ("busylab: stopped: N requests, A
/// writes acknowledged (C committed), ..."): the count after every queued
/// write was answered, unlike a /stats read taken before the drain. None when
/// the text holds no such line.
std::optional<std::uint64_t> acknowledged_from_summary(const std::string& text);
/// The acknowledged inserts from the same line ("... C committed, I rows inserted)").
std::optional<std::uint64_t> rows_inserted_from_summary(const std::string& text);

/// kWorkload: rows = data.rows + acknowledged inserts; every counter within
/// [acknowledged increments, + increments without an answer]; the bank's
/// total = accounts x initial balance, and each balance = initial + the
/// acknowledged credits - debits, give or take the amounts of transfers that
/// got no answer.
///
/// Otherwise: nothing acknowledged lost, nothing unacknowledged counted: stored ==
/// acknowledged, and the load generator's 2xx fit inside the server's count
/// (acknowledged may exceed them only by requests whose answer was lost).
Verdict verify(const VerifyFacts& facts);

struct CellResult {
  Cell cell;
  nlohmann::json load;    // busylab-load/1 report of the measured run
  nlohmann::json server;  // the server's /stats just before it stopped
  std::optional<WatchSummary> reader;
  VerifyFacts facts;
  Verdict verdict;
  std::string error;  // set when the cell could not run at all
  double elapsed_s = 0;
  // The database's settings read back from a connection opened as the
  // server's are (Engine::settings), before the load; {"error": ...} when
  // they could not be read.
  nlohmann::json settings;
  // The measured run against the experiment's "slo", when it has one (with
  // "capacity": the capacity step's verdict).
  std::optional<loadgen::SloVerdict> slo;
  // With the experiment's "capacity": the search and its steps.
  std::optional<CapacityResult> capacity;
  // The day's raw SQLite commit rate in this cell's mode (calibration), for
  // ok_vs_raw; none for PostgreSQL and modes the calibration does not measure.
  std::optional<double> raw_commits_per_s;
  // SQLite WAL, from the sampler's reads of its files during the measured
  // run (every step of a capacity search): the largest size seen, and the
  // times the WAL restarted from its beginning (checkpoints that completed).
  std::optional<std::uint64_t> wal_max_bytes;
  std::optional<std::uint64_t> wal_restarts;
};

struct SweepOptions {
  std::filesystem::path busylab;  // the binary to run as `serve` and `watch`
  std::filesystem::path out_dir;  // created; cells/NN/ holds each cell's logs
  bool quick = false;
  std::uint64_t seed = 0;            // shuffles the run order (run_order())
  std::ostream* progress = nullptr;  // progress lines, or none
};

/// Runs every cell, in the order run_order() gives for options.seed, and
/// returns the results as cells() lists them (point by point), each with its
/// run_order. Never throws for a failing cell: it is marked in its result
/// (error, verdict) and the sweep goes on.
std::vector<CellResult> run_sweep(const Experiment& experiment, const SweepOptions& options);

}  // namespace busylab::sweep
