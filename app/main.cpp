// busylab: what happens when many HTTP requests write to one SQLite database.
// Thin main: parses the command line and hands over to the libraries.

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/system/system_error.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "cluster/supervisor.hpp"
#include "common/config_reader.hpp"
#include "engine/database_error.hpp"
#include "loadgen/load_runner.hpp"
#include "loadgen/schedule.hpp"
#include "loadgen/slo.hpp"
#include "loadgen/workload.hpp"
#include "server/http_server.hpp"
#include "server/server_options.hpp"
#include "sqlite/sqlite_error.hpp"
#include "sweep/experiment.hpp"
#include "sweep/machine.hpp"
#include "sweep/outputs.hpp"
#include "sweep/runner.hpp"
#include "sweep/summary.hpp"
#include "sweep/watch.hpp"

namespace {

constexpr int kExitUsage = 2;  // bad arguments, bad config, unusable database or address

// Writes the port so scripts can find it; via a temporary file and rename,
// so a reader never sees a half-written number.
void write_port_file(const std::filesystem::path& path, unsigned port) {
  const auto temp = path.string() + ".tmp";
  {
    std::ofstream out(temp);
    out << port << "\n";
    if (!out) throw std::runtime_error("cannot write port file " + temp);
  }
  std::filesystem::rename(temp, path);
}

// Tells the user (stdout) and scripts (the port file) that the server
// serves, and logs its settings. False when the port file cannot be written.
bool announce(const busylab::Config& config, const std::string& address, unsigned port,
              const std::optional<std::string>& port_file) {
  std::cout << "listening on " << address << ":" << port << std::endl;
  if (port_file) {
    try {
      write_port_file(*port_file, port);
    } catch (const std::exception& e) {
      std::cerr << "busylab serve: " << e.what() << "\n";
      return false;
    }
  }
  if (config.server.address != "127.0.0.1" && config.server.address != "::1") {
    spdlog::warn("listening on {}, reachable from other machines; busylab has no authentication",
                 config.server.address);
  }
  const auto& db = config.database;
  const std::string processes =
      config.server.processes > 1
          ? fmt::format(", {} processes of {} io threads", config.server.processes, config.server.effective_threads())
          : std::string();
  if (db.engine == busylab::EngineKind::kPostgres) {
    spdlog::info("strategy {} (size {}), PostgreSQL {}, synchronous_commit {}, lock_timeout {} ms, transaction {}{}",
                 busylab::to_string(config.pool.strategy), config.pool.size, db.redacted_url(),
                 db.synchronous_commit() ? "on" : "off", db.lock_timeout_ms(), busylab::to_string(db.transaction),
                 processes);
  } else {
    spdlog::info("strategy {} (size {}), journal_mode {}, synchronous {}, busy_timeout {} ms, database {}{}",
                 busylab::to_string(config.pool.strategy), config.pool.size, busylab::to_string(db.journal_mode),
                 busylab::to_string(db.synchronous), db.busy_timeout_ms, db.path, processes);
  }
  return true;
}

// server.processes > 1: a supervisor and its workers (cluster/supervisor.hpp).
int serve_processes(const busylab::Config& config, const std::optional<std::string>& port_file) {
  busylab::SupervisorResult result;
  try {
    result = busylab::supervise(
        config, [&](const std::string& address, unsigned port) { return announce(config, address, port, port_file); });
  } catch (const busylab::DatabaseError& e) {
    std::cerr << "busylab serve: " << e.what() << " (" << e.code_name() << ")\n";
    return kExitUsage;
  } catch (const std::system_error& e) {
    std::cerr << "busylab serve: cannot listen on " << config.server.address << ":" << config.server.port << ": "
              << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "busylab serve: " << e.what() << "\n";
    return kExitUsage;
  }
  if (result.summary) std::cout << result.summary->line() << std::endl;
  return result.exit_status;
}

int serve(const std::optional<std::string>& config_path, const std::vector<std::string>& sets,
          const std::optional<std::string>& port_file) {
  busylab::Config config;
  try {
    std::optional<std::filesystem::path> file;
    if (config_path) file = *config_path;
    config = busylab::load_config(file, sets);
  } catch (const busylab::ConfigError& e) {
    std::cerr << "busylab serve: " << e.what() << "\n";
    return kExitUsage;
  }
  spdlog::set_level(spdlog::level::from_str(config.server.log_level));
  if (config.server.processes > 1) return serve_processes(config, port_file);

  std::unique_ptr<busylab::HttpServer> server;
  try {
    // Signal handling is installed before the socket is bound: a SIGTERM
    // sent as soon as the port file appears drains like any other.
    server = std::make_unique<busylab::HttpServer>(config, /*handle_signals=*/true);
  } catch (const busylab::DatabaseError& e) {
    std::cerr << "busylab serve: " << e.what() << " (" << e.code_name() << ")\n";
    return kExitUsage;
  } catch (const boost::system::system_error& e) {
    std::cerr << "busylab serve: cannot listen on " << config.server.address << ":" << config.server.port << ": "
              << e.code().message() << "\n";
    return kExitUsage;
  }
  if (!announce(config, server->address(), server->port(), port_file)) return kExitUsage;
  const auto summary = server->run();
  std::cout << summary.line() << std::endl;
  // 1 when the grace period ran out with requests in flight: they were cut off.
  return summary.forced ? 1 : 0;
}

struct LoadArgs {
  std::string url;
  int connections = 64;
  int threads = 0;
  std::optional<std::string> duration, warmup, timeout, body, body_file, json, workload;
  std::optional<std::string> interval, slo, stages;
  std::optional<std::int64_t> requests;
  std::optional<std::uint64_t> seed;
  std::optional<double> rate, start_rate;
  std::string method = "GET";
  bool method_given = false;  // -m appeared (even -m GET): it conflicts with --workload
  std::vector<std::string> headers;
  bool close = false, progress = false;
};

constexpr int kExitSloFailed = 3;  // busylab load --slo: a check failed

int load(const LoadArgs& a) {
  namespace lg = busylab::loadgen;
  lg::LoadOptions o;
  std::optional<lg::Slo> slo;
  try {
    o.url = lg::parse_url(a.url);
    o.connections = a.connections;
    o.threads = a.threads;
    if (a.duration) o.duration = lg::parse_duration(*a.duration, "--duration");
    if (a.requests) {
      if (*a.requests <= 0) throw lg::LoadArgumentError("--requests must be at least 1");
      o.requests = static_cast<std::uint64_t>(*a.requests);
    }
    if (a.warmup) o.warmup = a.warmup == "0" ? std::chrono::nanoseconds(0) : lg::parse_duration(*a.warmup, "--warmup");
    if (a.timeout) o.timeout = lg::parse_duration(*a.timeout, "--timeout");
    o.method = a.method;
    o.headers = a.headers;
    if (a.body && a.body_file) throw lg::LoadArgumentError("give --body or --body-file, not both");
    if (a.body) o.body = *a.body;
    if (a.body_file) {
      std::ifstream in(*a.body_file, std::ios::binary);
      if (!in) throw lg::LoadArgumentError("--body-file: cannot read '" + *a.body_file + "'");
      o.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    o.rate = a.rate;
    if (a.stages) o.stages = lg::parse_stages(*a.stages);
    o.start_rate = a.start_rate;
    if (a.interval) o.interval = lg::parse_duration(*a.interval, "--interval");
    if (a.slo) slo = lg::Slo::parse(*a.slo);
    o.close = a.close;
    if (a.workload) {
      if (a.method_given) {
        throw lg::LoadArgumentError("--method conflicts with --workload (each request kind has its own method)");
      }
      if (a.body || a.body_file) {
        throw lg::LoadArgumentError(
            "--body and --body-file conflict with --workload (each request kind has its own body)");
      }
      try {
        o.workload = std::make_shared<const lg::Workload>(lg::load_workload(*a.workload));
      } catch (const busylab::ConfigError& e) {
        throw lg::LoadArgumentError(e.what());
      }
    } else if (a.seed) {
      throw lg::LoadArgumentError("--seed applies only with --workload");
    }
    o.seed = a.seed;
    o.validate();
  } catch (const lg::LoadArgumentError& e) {
    std::cerr << "busylab load: " << e.what() << "\n";
    return kExitUsage;
  }
  const bool json_only = a.json && *a.json == "-";
  const bool show_progress = a.progress || isatty(STDERR_FILENO);
  std::function<void(const lg::Progress&)> progress;
  std::function<void(const lg::IntervalSample&)> on_interval;
  if (o.interval) {
    // One line per interval replaces the progress line (which still shows
    // the warm-up, that has no intervals), whether stderr is a terminal or not.
    progress = [](const lg::Progress& p) {
      if (!p.warming_up) return;
      std::fprintf(stderr, "[%5.1fs] (warm-up) %llu responses, %.0f/s, %llu errors\n", p.elapsed_s,
                   static_cast<unsigned long long>(p.responses), p.rate, static_cast<unsigned long long>(p.errors));
    };
    on_interval = [](const lg::IntervalSample& s) { std::fprintf(stderr, "%s\n", s.line().c_str()); };
  } else if (show_progress) {
    progress = [](const lg::Progress& p) {
      std::fprintf(stderr, "[%5.1fs]%s %llu responses, %.0f/s, %llu errors\n", p.elapsed_s,
                   p.warming_up ? " (warm-up)" : "", static_cast<unsigned long long>(p.responses), p.rate,
                   static_cast<unsigned long long>(p.errors));
    };
  }
  lg::Report report;
  try {
    report = lg::run_load(o, progress, on_interval);
  } catch (const lg::LoadTargetError& e) {
    std::cerr << "busylab load: " << e.what() << "\n";
    return 1;
  } catch (const lg::LoadArgumentError& e) {
    std::cerr << "busylab load: " << e.what() << "\n";
    return kExitUsage;
  }
  auto doc = report.to_json();
  std::optional<lg::SloVerdict> verdict;
  if (slo) {
    verdict = lg::evaluate(*slo, report);
    doc["slo"] = verdict->to_json();
  }
  const std::string json = doc.dump(2);
  if (json_only) {
    std::cout << json << std::endl;
  } else {
    std::cout << report.to_text() << (verdict ? verdict->to_text() : std::string()) << std::flush;
    if (a.json) {
      std::ofstream out(*a.json);
      out << json << "\n";
      if (!out) {
        std::cerr << "busylab load: cannot write " << *a.json << "\n";
        return 1;
      }
    }
  }
  if (!report.reached) return 1;
  return verdict && !verdict->pass ? kExitSloFailed : 0;
}

std::atomic<bool> g_stop{false};

int watch(const std::string& db, const std::string& interval, std::int64_t timeout_ms, std::int64_t max_size_mb,
          std::optional<std::int64_t> count, const std::optional<std::string>& hold_read) {
  busylab::sweep::WatchOptions o;
  o.path = db;
  try {
    o.interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(busylab::loadgen::parse_duration(interval, "--interval"));
  } catch (const busylab::loadgen::LoadArgumentError& e) {
    std::cerr << "busylab watch: " << e.what() << "\n";
    return kExitUsage;
  }
  if (o.interval.count() < 1) {
    std::cerr << "busylab watch: --interval must be at least 1ms\n";
    return kExitUsage;
  }
  if (hold_read) {
    try {
      o.hold_read = std::chrono::duration_cast<std::chrono::milliseconds>(
          busylab::loadgen::parse_duration(*hold_read, "--hold-read"));
    } catch (const busylab::loadgen::LoadArgumentError& e) {
      std::cerr << "busylab watch: " << e.what() << "\n";
      return kExitUsage;
    }
  }
  if (timeout_ms < 0 || max_size_mb < 0 || (count && *count <= 0)) {
    std::cerr << "busylab watch: --timeout, --max-size-mb and --count must not be negative (count at least 1)\n";
    return kExitUsage;
  }
  o.busy_timeout_ms = timeout_ms;
  o.max_size_mb = max_size_mb;
  if (count) o.count = static_cast<std::uint64_t>(*count);
  struct sigaction action {};
  action.sa_handler = [](int) { g_stop = true; };
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  busylab::sweep::run_watch(o, std::cout, g_stop);
  return 0;
}

using busylab::sweep::utc_now;
constexpr const char* kFolderTime = "%Y%m%d-%H%M%S";
constexpr const char* kIsoTime = "%Y-%m-%dT%H:%M:%SZ";

// Each of the calibration's four figures is measured for this long (the
// median of 5 bursts), at the start and the end of a sweep: 3 s each time.
constexpr std::chrono::milliseconds kCalibrationEach{750};

std::string calibration_line(const busylab::sweep::Calibration& c) {
  using busylab::sweep::short_number;
  return "fdatasync " + short_number(c.fdatasync_per_s) + "/s; raw SQLite commits/s: WAL full " +
         short_number(c.wal_full) + ", WAL normal " + short_number(c.wal_normal) + ", delete full " +
         short_number(c.delete_full);
}

// The command line as a shell would take it back, for "run it again".
std::string shell_command(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) line += (i ? " " : "") + busylab::sweep::shell_quote(argv[i]);
  return line;
}

int sweep(const std::string& file, bool quick, std::optional<std::string> out, std::optional<std::uint64_t> seed,
          const std::string& command) {
  namespace sw = busylab::sweep;
  sw::Experiment experiment;
  try {
    experiment = sw::Experiment::load_file(file);
  } catch (const busylab::ConfigError& e) {
    std::cerr << "busylab sweep: " << e.what() << "\n";
    return kExitUsage;
  }
  sw::SweepOptions options;
  options.busylab = std::filesystem::read_symlink("/proc/self/exe");
  options.quick = quick;
  options.seed = seed ? *seed : std::random_device{}();
  options.out_dir =
      out ? std::filesystem::path(*out)
          : std::filesystem::path("results") / (experiment.name + (quick ? "-quick-" : "-") + utc_now(kFolderTime));
  options.progress = &std::cerr;
  const auto cells = experiment.cells(quick);
  const int runs = experiment.runs_per_point(quick);
  std::cerr << "busylab sweep: " << experiment.name << ", " << experiment.points() << " points x " << runs
            << (runs == 1 ? " run" : " runs") << " = " << cells.size() << " cells"
            << (quick ? " (quick: one run per point, so no spread is measured)" : "") << ", seed " << options.seed
            << ", results in " << options.out_dir.string() << std::endl;
  const std::string started = utc_now(kIsoTime);
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  nlohmann::json meta = sw::provenance(options.out_dir);  // the cells' databases go in there too
  meta.update({{"quick", quick},
               {"seed", options.seed},
               {"runs_per_point", runs},
               {"started_utc", started},
               {"busylab_version", BUSYLAB_VERSION},
               {"command", command + (seed ? "" : " --seed " + std::to_string(options.seed))},
               {"cwd", std::filesystem::current_path(ec).string()}});
  std::vector<sw::CellResult> results;
  sw::Calibration before, after;
  try {
    std::cerr << "busylab sweep: calibrating (fdatasync/s, raw SQLite commits/s) in " << options.out_dir.string()
              << std::endl;
    before = sw::calibrate(options.out_dir, kCalibrationEach);
    std::cerr << "busylab sweep: " << calibration_line(before) << std::endl;
    results = sw::run_sweep(experiment, options);
    std::cerr << "busylab sweep: calibrating again" << std::endl;
    after = sw::calibrate(options.out_dir, kCalibrationEach);
    std::cerr << "busylab sweep: " << calibration_line(after) << std::endl;
  } catch (const std::exception& e) {
    // Only what stops every cell (PostgreSQL would not start, the results
    // folder cannot be written) gets here.
    std::cerr << "busylab sweep: " << e.what() << "\n";
    return 1;
  }
  sw::attach_calibration(results, before, after);
  meta["calibration"] = {{"start", before.to_json()}, {"end", after.to_json()}};
  const auto drift = sw::drift(before, after);
  meta["calibration"]["largest_change"] = drift.largest;
  std::string drift_warning;
  if (drift.largest > sw::kDriftWarning) {
    drift_warning = "The machine changed during the sweep: " + drift.figure + " differs by " +
                    std::to_string(static_cast<int>(drift.largest * 100 + 0.5)) +
                    "% between the start and the end calibration; compare its cells with care.";
    meta["calibration"]["warning"] = drift_warning;
  }
  meta["finished_utc"] = utc_now(kIsoTime);
  if (const auto pg = sw::postgres_provenance(results); !pg.is_null()) meta["postgres"] = pg;

  const auto files = sw::write_outputs(experiment, results, options.out_dir, meta);
  std::cout << "\n"
            << experiment.name << (quick ? " (quick: one run per point, no spread measured)" : "")
            << (runs > 1 ? ": median (min-max) of " + std::to_string(runs) + " runs per point"
                : quick  ? std::string()
                         : std::string(": one run per point (repetitions 1), no spread measured"))
            << "\n\n"
            << sw::points_table(experiment, results, sw::summarize(experiment, results)) << "\n";
  if (!drift_warning.empty()) std::cout << drift_warning << "\n\n";
  std::cout << "results: " << options.out_dir.string()
            << "/ (report.html, results.json, results.csv, table.md with every run and the differences";
  if (!experiment.plots.empty() && files.plot_problem.empty()) std::cout << ", plots as SVG and PNG";
  std::cout << ")" << std::endl;
  if (!files.plot_problem.empty()) std::cerr << "busylab sweep: plots: " << files.plot_problem << "\n";
  int unverified = 0;
  for (const auto& r : results) unverified += r.verdict.ok ? 0 : 1;
  if (unverified > 0) {
    std::cerr << "busylab sweep: " << unverified << " of " << results.size() << " cells NOT verified (see table)\n";
    return 1;
  }
  return 0;
}

// Many connections need many descriptors: take the hard limit, as servers
// and load tools usually do, so nobody has to remember `ulimit -n`.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  raise_descriptor_limit();
  spdlog::set_default_logger(spdlog::stderr_color_mt("busylab"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"busylab: what happens when many HTTP requests write to one SQLite database"};
  app.set_version_flag("--version", "busylab " BUSYLAB_VERSION);
  app.require_subcommand(1);

  auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP service in front of a SQLite or PostgreSQL database");
  std::optional<std::string> config_path;
  std::vector<std::string> sets;
  std::optional<std::string> port_file;
  serve_cmd->add_option("-c,--config", config_path, "JSON config file (see config/ and docs/configuration.md)")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--set", sets, "Override one config key, e.g. --set database.busy_timeout_ms=0 (repeatable)")
      ->type_name("KEY=VALUE");
  serve_cmd->add_option("--port-file", port_file, "Write the listening port to this file once bound");
  serve_cmd->footer(
      "Routes: POST /rows, GET /rows/count, GET /rows/{id}, POST /counters/{name}/increment,\n"
      "GET /seed, GET /control, GET /healthz, GET /stats (JSON), GET /metrics (Prometheus),\n"
      "GET /dashboard (a live page for a browser); see docs/http-api.md.\n"
      "Prints 'listening on ADDRESS:PORT' on stdout once ready. SIGINT/SIGTERM drain in-flight\n"
      "requests (server.shutdown_grace_ms), checkpoint SQLite's WAL and print a summary; a second\n"
      "signal exits at once. Exit status: 0 after a clean stop, 1 when the grace period ran out\n"
      "or a second signal cut the drain short, 2 for a bad config or a database or address that\n"
      "cannot be used.\n"
      "With --set server.processes=N (N > 1): N worker processes on the same port (SO_REUSEPORT)\n"
      "and database, each with its own io threads and strategy; /stats and /metrics answer for all\n"
      "of them; a worker that dies is restarted; see docs/configuration.md.\n"
      "With database.engine \"postgres\" and database.url: the same API against PostgreSQL\n"
      "(config/postgres.json; scripts/postgres start DIR runs a throwaway server and prints its URL).");

  auto* load_cmd =
      app.add_subcommand("load", "HTTP load generator: closed or open loop, correct percentiles, JSON report");
  LoadArgs load_args;
  load_cmd
      ->add_option("url", load_args.url,
                   "http://HOST[:PORT]/PATH (plain HTTP only; with --workload only HOST:PORT is used)")
      ->required();
  load_cmd->add_option("-c,--connections", load_args.connections, "Connections kept open (default 64)");
  load_cmd->add_option("-t,--threads", load_args.threads,
                       "Threads (default: number of cores, at most one per connection)");
  load_cmd->add_option("-d,--duration", load_args.duration,
                       "How long to measure, e.g. 10s, 500ms, 2m (default 10s unless -n)");
  load_cmd->add_option("-n,--requests", load_args.requests,
                       "Stop after this many measured requests (with -d: whichever first)");
  load_cmd->add_option("--warmup", load_args.warmup, "Run this long first without counting, e.g. 1s (default 0)");
  load_cmd->add_option("-m,--method", load_args.method, "HTTP method (default GET)");
  load_cmd->add_option("-H,--header", load_args.headers, "Extra header 'Name: value' (repeatable)");
  load_cmd->add_option("-b,--body", load_args.body, "Request body");
  load_cmd->add_option("--body-file", load_args.body_file, "Read the request body from a file");
  load_cmd->add_option("-r,--rate", load_args.rate,
                       "Open loop: requests/s in total on a fixed schedule; latency counts from when each was due");
  load_cmd
      ->add_option("--stages", load_args.stages,
                   "Open loop ramping like k6's ramping-arrival-rate: DURATION:TARGET,... each stage moves the "
                   "rate linearly to TARGET requests/s over DURATION (the first starts at its own TARGET unless "
                   "--start-rate); the run lasts their sum; a request its connection cannot send on time is "
                   "dropped; conflicts with -d and -r")
      ->type_name("D:R,...");
  load_cmd->add_option("--start-rate", load_args.start_rate,
                       "With --stages: the rate (requests/s) the first stage starts from (k6: startRate)");
  load_cmd->add_option("--interval", load_args.interval,
                       "Sample every interval, e.g. 1s (at least 1ms): one line per interval on stderr instead of "
                       "the progress line, a table at the end of the report and JSON \"series\"");
  load_cmd
      ->add_option("--slo", load_args.slo,
                   "Check the run: KEY=VALUE,... with keys p50_ms, p90_ms, p99_ms, p999_ms, max_ms (at most), "
                   "max_failure_rate (non-2xx + errors over answers + errors, at most), min_ok_per_s (at "
                   "least); exit 3 when a check fails")
      ->type_name("K=V,...");
  load_cmd->add_flag("--close", load_args.close, "A new TCP connection for every request (no keep-alive)");
  load_cmd->add_option("--timeout", load_args.timeout,
                       "Per-request and per-connect timeout (default 5s); the connection is replaced");
  load_cmd->add_option("--json", load_args.json,
                       "Write the report as JSON to PATH; '-' prints only the JSON on stdout");
  load_cmd->add_flag("--progress", load_args.progress, "Progress lines on stderr even when it is not a terminal");
  load_cmd->add_option("--workload", load_args.workload,
                       "JSON file of weighted request kinds with variables drawn per request (see workloads/ and "
                       "docs/loadgen.md); conflicts with -m, -b and --body-file; -H headers go on every request");
  load_cmd->add_option("--seed", load_args.seed,
                       "With --workload: seed of the random draws (each thread's RNG is seeded from it; default: "
                       "random; the report shows it as workload.seed). Threads interleave, so a seed fixes each "
                       "thread's sequence of draws, not the order the server sees");
  load_cmd->footer(
      "Exit status: 0 when the run completed, 1 when the target could not be reached (the probe\n"
      "failed, or no connection of the run was established), 2 for bad arguments, 3 when the run\n"
      "completed and a --slo check failed. With -d or --stages the run ends by warm-up + duration\n"
      "+ timeout + 1s whatever the target does. The JSON schema, the --stages schedule and the\n"
      "--interval series are described in docs/loadgen.md. With --workload the report has a line\n"
      "per request kind (JSON \"kinds\"); every report has the \"ledger\" of what the server\n"
      "acknowledged.");

  auto* sweep_cmd =
      app.add_subcommand("sweep", "Run an experiment file: a server per cell, load, verification, tables and plots");
  std::string experiment_file;
  bool quick = false;
  std::optional<std::string> out_dir;
  std::optional<std::uint64_t> seed;
  sweep_cmd
      ->add_option("experiment", experiment_file,
                   "Experiment JSON file (see experiments/ and docs/experiment-files.md)")
      ->required();
  sweep_cmd->add_flag("--quick", quick,
                      "One run per point, shorter and with fewer connections (the experiment's \"quick\" settings)");
  sweep_cmd->add_option("--out", out_dir, "Results folder (default results/NAME-TIMESTAMP)");
  sweep_cmd->add_option("--seed", seed,
                        "Seed of the shuffled run order, to replay a sweep's order (default: random; recorded in "
                        "results.json meta.seed)");
  sweep_cmd->footer(
      "Every point of the matrix runs \"repetitions\" times (default 3; --quick: once), in rounds that\n"
      "each run every point once in a shuffled order, so no point's runs are back to back; the table\n"
      "shows each figure as its median and range. The machine is calibrated (fdatasync/s, raw SQLite\n"
      "commits/s) at the start and the end, and results.json records the commit, build and machine.\n"
      "Progress goes to stderr, the table to stdout. Exit status: 0 when every cell verified, 1 when\n"
      "any cell failed verification or could not run (it is marked, never dropped) or PostgreSQL\n"
      "would not start, 2 for a bad experiment file. An experiment with \"postgres\": {\"script\":\n"
      "...} starts a throwaway PostgreSQL for its cells and removes it at the end.");

  auto* watch_cmd = app.add_subcommand("watch", "Poll a database from another process: rows, file sizes, lock waits");
  std::string watch_db, watch_interval = "100ms";
  std::int64_t watch_timeout = 5000, watch_max_size = 0;
  std::optional<std::int64_t> watch_count;
  std::optional<std::string> watch_hold_read;
  watch_cmd->add_option("database", watch_db, "SQLite database file (opened read-only, never created)")->required();
  watch_cmd->add_option("--interval", watch_interval, "Time between polls (default 100ms)");
  watch_cmd->add_option("--timeout", watch_timeout, "Busy timeout of each read in milliseconds (default 5000)");
  watch_cmd->add_option("--max-size-mb", watch_max_size, "Warn when database + WAL exceed this size (never deletes)");
  watch_cmd->add_option("--count", watch_count, "Stop after this many polls (default: until SIGINT/SIGTERM)");
  watch_cmd->add_option("--hold-read", watch_hold_read,
                        "Read each poll inside a transaction kept open this long, e.g. 5s: the snapshot pins the "
                        "WAL, so no checkpoint can finish meanwhile (checkpoint starvation on purpose)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (serve_cmd->parsed()) return serve(config_path, sets, port_file);
  if (load_cmd->parsed()) {
    load_args.method_given = load_cmd->count("--method") > 0;
    return load(load_args);
  }
  if (sweep_cmd->parsed()) return sweep(experiment_file, quick, out_dir, seed, shell_command(argc, argv));
  if (watch_cmd->parsed())
    return watch(watch_db, watch_interval, watch_timeout, watch_max_size, watch_count, watch_hold_read);
  return kExitUsage;
}
