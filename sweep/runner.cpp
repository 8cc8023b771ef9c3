#include "sweep/runner.hpp"

#include <signal.h>
#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include "common/child_process.hpp"
#include "engine/db_stats.hpp"
#include "engine/engine.hpp"
#include "engines/make_engine.hpp"
#include "loadgen/load_runner.hpp"
#include "postgres/pg_engine.hpp"
#include "server/server_options.hpp"
#include "sweep/capacity.hpp"
#include "sweep/http_get.hpp"
#include "sweep/timeseries.hpp"

namespace busylab::sweep {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

struct DbCheck {
  std::string integrity = "not checked";
  std::int64_t rows = -1;
  std::int64_t counter = -1;
  std::map<std::string, std::int64_t> counters;   // every counter
  std::map<std::int64_t, std::int64_t> balances;  // every account
};

// Opens the database after the server stopped, the way a user would check it.
DbCheck check_database(const std::string& path, const std::string& counter) {
  DbCheck check;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    check.integrity = std::string("cannot open: ") + sqlite3_errmsg(db);
    sqlite3_close(db);
    return check;
  }
  sqlite3_busy_timeout(db, 5000);
  auto query = [&](const std::string& sql, auto&& use) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      if (!counter.empty()) sqlite3_bind_text(stmt, 1, counter.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(stmt) == SQLITE_ROW) use(stmt);
    }
    sqlite3_finalize(stmt);
  };
  query("PRAGMA integrity_check",
        [&](sqlite3_stmt* s) { check.integrity = reinterpret_cast<const char*>(sqlite3_column_text(s, 0)); });
  query("SELECT COUNT(*) FROM rows", [&](sqlite3_stmt* s) { check.rows = sqlite3_column_int64(s, 0); });
  if (!counter.empty()) {
    check.counter = 0;  // never incremented: no row
    query("SELECT value FROM counters WHERE name = ?1",
          [&](sqlite3_stmt* s) { check.counter = sqlite3_column_int64(s, 0); });
  }
  auto each_row = [&](const char* sql, auto&& use) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK)
      while (sqlite3_step(stmt) == SQLITE_ROW) use(stmt);
    sqlite3_finalize(stmt);
  };
  each_row("SELECT name, value FROM counters", [&](sqlite3_stmt* s) {
    check.counters[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))] = sqlite3_column_int64(s, 1);
  });
  each_row("SELECT id, balance FROM accounts",
           [&](sqlite3_stmt* s) { check.balances[sqlite3_column_int64(s, 0)] = sqlite3_column_int64(s, 1); });
  sqlite3_close(db);
  return check;
}

// PostgreSQL has no integrity_check: the sweep counts the rows and checks
// that no id appears twice.
DbCheck check_postgres(const std::string& url, const std::string& counter) {
  DbCheck check;
  try {
    const PgCheck pg = pg_check(url, counter);
    check.rows = pg.rows;
    check.counter = counter.empty() ? -1 : pg.counter;
    check.counters = pg.counters;
    check.balances = pg.balances;
    check.integrity = pg.rows == pg.distinct_ids
                          ? "ok"
                          : std::to_string(pg.rows - pg.distinct_ids) + " rows share an id with another row";
  } catch (const std::exception& e) {
    check.integrity = std::string("cannot check: ") + e.what();
  }
  return check;
}

// The throwaway cluster a sweep starts with scripts/postgres (Experiment::
// postgres_script) in a temporary folder, stopped and removed at the end.
class SweepCluster {
 public:
  SweepCluster(const std::filesystem::path& script, std::ostream* progress) : script_(script) {
    char pattern[] = "/tmp/busylab-pg-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("cannot create a folder for PostgreSQL in /tmp");
    holder_ = pattern;
    // Run as root, the script hands the cluster to the 'postgres' user, who must reach it.
    std::filesystem::permissions(holder_, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                              std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                              std::filesystem::perms::others_exec);
    dir_ = (holder_ / "pg").string();
    if (progress) *progress << "starting PostgreSQL in " << dir_ << " (" << script_.string() << ")" << std::endl;
    const RunResult r = run_command({script_.string(), "start", dir_}, holder_.string(), std::chrono::minutes(2));
    const auto end = r.out.find_last_not_of('\n');
    const auto begin = end == std::string::npos ? std::string::npos : r.out.rfind('\n', end);
    if (r.status == 0 && end != std::string::npos)
      url_ = r.out.substr(begin == std::string::npos ? 0 : begin + 1,
                          end - (begin == std::string::npos ? 0 : begin + 1) + 1);
    if (r.status != 0 || url_.rfind("postgresql://", 0) != 0) {
      stop();
      throw std::runtime_error("PostgreSQL did not start (" + script_.string() + " start, exit " +
                               std::to_string(r.status) + "): " + r.err + r.out);
    }
    if (progress) *progress << "PostgreSQL: " << url_ << std::endl;
  }
  ~SweepCluster() { stop(); }
  SweepCluster(const SweepCluster&) = delete;
  SweepCluster& operator=(const SweepCluster&) = delete;
  const std::string& url() const { return url_; }

 private:
  void stop() {
    if (holder_.empty()) return;
    run_command({script_.string(), "stop", dir_}, holder_.string(), std::chrono::minutes(2));
    std::error_code ec;
    std::filesystem::remove_all(holder_, ec);
    holder_.clear();
  }

  std::filesystem::path script_;
  std::filesystem::path holder_;
  std::string dir_;
  std::string url_;
};

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::uint64_t ok_count(const loadgen::Report& r) {
  std::uint64_t n = 0;
  for (auto [code, count] : r.tally.status) n += (code >= 200 && code < 300) ? count : 0;
  return n;
}

std::uint64_t unknown_outcomes(const loadgen::Report& r) {
  using loadgen::ErrorClass;
  auto e = [&](ErrorClass c) { return r.tally.errors[static_cast<std::size_t>(c)]; };
  // A request that was written but got no answer may or may not have committed.
  return e(ErrorClass::kTimeout) + e(ErrorClass::kRead) + e(ErrorClass::kReset) + e(ErrorClass::kParse);
}

loadgen::LoadOptions load_options(const LoadSpec& spec, std::uint16_t port, std::chrono::nanoseconds duration,
                                  std::shared_ptr<const loadgen::Workload> workload) {
  loadgen::LoadOptions o;
  if (workload) {
    // The workload says what each request is.
    o.url = loadgen::parse_url("http://127.0.0.1:" + std::to_string(port) + "/");
    o.workload = std::move(workload);
  } else {
    o.url = loadgen::parse_url("http://127.0.0.1:" + std::to_string(port) + spec.path);
    o.method = spec.method;
    o.body = spec.body;
    if (!spec.body.empty()) o.headers.push_back("Content-Type: application/json");
  }
  o.connections = spec.connections;
  o.threads = spec.threads;
  o.duration = duration;
  o.rate = spec.rate;
  o.close = !spec.keep_alive;
  o.timeout = spec.timeout;
  return o;
}

void run_cell(const Experiment& e, const SweepOptions& options, const std::string& pg_url, CellResult& result) {
  const Cell& cell = result.cell;
  char name[16];
  std::snprintf(name, sizeof name, "%03zu", cell.index + 1);
  const auto dir = options.out_dir / "cells" / name;
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "busylab.db").string();
  const std::string port_file = (dir / "port").string();
  // A port file left by an earlier sweep into the same folder would be read
  // as this server's port before the server writes its own.
  std::filesystem::remove(port_file);
  const std::string bin = options.busylab.string();

  std::vector<std::string> sets = cell.server_overrides;
  sets.insert(sets.end(), {"server.port=0", "server.log_level=\"warn\"", "database.path=" + nlohmann::json(db).dump()});
  if (!pg_url.empty()) sets.push_back("database.url=" + nlohmann::json(pg_url).dump());
  std::vector<std::string> argv = {bin, "serve", "--config", e.base_config.string()};
  for (const auto& o : sets) argv.insert(argv.end(), {"--set", o});
  argv.insert(argv.end(), {"--port-file", port_file});

  // The cell's engine, and for PostgreSQL its URL: an empty database first.
  const Config config = load_config(e.base_config, sets);
  const bool postgres = config.database.engine == EngineKind::kPostgres;
  if (postgres) {
    try {
      pg_reset(config.database.url);
    } catch (const std::exception& ex) {
      result.error = std::string("cannot empty the PostgreSQL database: ") + ex.what();
      return;
    }
  }

  ChildProcess server(argv, dir.string());
  const int port = read_port_file(port_file, 30s);
  if (port <= 0) {
    server.wait(5s);
    result.error = "server did not start: " + server.err();
    return;
  }
  const auto p = static_cast<std::uint16_t>(port);
  bool healthy = false;
  for (int i = 0; i < 100 && !healthy; ++i) {
    const auto h = http_get(p, "/healthz", 1s);
    healthy = h && h->status == 200;
    if (!healthy) std::this_thread::sleep_for(50ms);
  }
  if (!healthy) {
    result.error = "server never answered /healthz";
    return;
  }

  // What the database actually runs with, from a connection opened the way
  // the server opens its own, before the load starts.
  try {
    DbStats unused;
    result.settings = nlohmann::json::object();
    for (const auto& [name, value] : make_engine(config.database, unused)->settings()) result.settings[name] = value;
  } catch (const std::exception& ex) {
    result.settings = {{"error", ex.what()}};
  }

  std::optional<ChildProcess> reader;
  if (e.reader && cell.reader && !postgres) {  // busylab watch reads SQLite files
    std::vector<std::string> args{bin,
                                  "watch",
                                  db,
                                  "--interval",
                                  std::to_string(e.reader->interval.count()) + "ms",
                                  "--timeout",
                                  std::to_string(e.reader->busy_timeout_ms)};
    if (e.reader->hold.count() > 0) {
      args.emplace_back("--hold-read");
      args.push_back(std::to_string(e.reader->hold.count()) + "ms");
    }
    reader.emplace(std::move(args), dir.string());
  }

  std::uint64_t ok_seen = 0, unknown = 0;
  try {
    std::shared_ptr<const loadgen::Workload> workload;
    if (!cell.load.workload.empty())
      workload = std::make_shared<const loadgen::Workload>(loadgen::load_workload(e.workload_file(cell.load)));
    if (cell.load.warmup.count() > 0) {
      const auto warm = loadgen::run_load(load_options(cell.load, p, cell.load.warmup, workload));
      ok_seen += ok_count(warm);
      unknown += unknown_outcomes(warm);
      result.facts.ledger.merge(warm.ledger);
    }
    // The measured run samples its intervals; the server and the WAL are
    // sampled beside it (timeseries.csv).
    const std::filesystem::path wal_db = postgres ? std::filesystem::path() : std::filesystem::path(db);
    auto measure = [&](loadgen::LoadOptions options, std::string& csv) {
      options.interval = e.interval;
      ServerSampler sampler(p, wal_db, e.interval);
      sampler.start(Clock::now());
      auto report = loadgen::run_load(options);
      sampler.stop();
      csv += timeseries_csv(report.series, sampler.samples());
      for (const auto& s : sampler.samples())
        if (s.wal.in_use()) result.wal_max_bytes = std::max(result.wal_max_bytes.value_or(0), s.wal.wal_bytes);
      if (const auto restarts = wal_restarts_so_far(sampler.samples()); !restarts.empty() && restarts.back())
        result.wal_restarts = result.wal_restarts.value_or(0) + *restarts.back();
      ok_seen += ok_count(report);
      unknown += unknown_outcomes(report);
      result.facts.ledger.merge(report.ledger);
      return report;
    };
    std::string csv;
    if (!e.capacity) {
      const auto report = measure(load_options(cell.load, p, cell.load.duration, workload), csv);
      if (e.slo) result.slo = loadgen::evaluate(*e.slo, report);
      result.load = report.to_json();
    } else {
      // Steps at rising open-loop rates against this one server; the cell's
      // load report is the capacity step's (the highest that passed).
      std::map<double, nlohmann::json> reports;
      const auto step_duration = std::min(e.capacity->step_duration, cell.load.duration);
      result.capacity = search_capacity(*e.capacity, [&](double rate) {
        auto options = load_options(cell.load, p, step_duration, workload);
        options.rate = rate;
        std::string step_csv;
        const auto report = measure(options, step_csv);
        // The step's rows, each marked with its rate (one header for all).
        std::istringstream rows(step_csv);
        std::string line;
        std::getline(rows, line);
        if (csv.empty()) csv = "rate," + line + "\n";
        while (std::getline(rows, line)) csv += std::to_string(static_cast<long long>(rate)) + "," + line + "\n";
        CapacityStep step;
        const loadgen::SloVerdict verdict = loadgen::evaluate(*e.slo, report);
        step.answered_per_s = report.requests_per_s();
        for (const auto& check : verdict.checks) {
          if (check.name == "p99_ms" && check.value) step.p99_ms = check.value;
          if (check.name == "max_failure_rate" && check.value) step.failure_rate = *check.value;
        }
        if (!step.p99_ms && report.tally.latency_us.count() > 0)
          step.p99_ms = static_cast<double>(report.tally.latency_us.percentile(0.99)) / 1000.0;
        const bool kept_up = step.answered_per_s >= (1 - e.capacity->tolerance) * rate;
        step.pass = verdict.pass && kept_up;
        step.reason = verdict.reason;
        if (!kept_up) {
          char text[128];
          std::snprintf(text, sizeof text, "answered %.0f/s of %.0f/s offered", step.answered_per_s, rate);
          step.reason += (step.reason.empty() ? "" : "; ") + std::string(text);
        }
        reports[rate] = report.to_json();
        if (step.pass) result.slo = verdict;
        return step;
      });
      if (result.capacity->capacity_per_s) result.load = reports[*result.capacity->capacity_per_s];
      if (!result.capacity->capacity_per_s && !reports.empty()) result.load = reports.begin()->second;
    }
    write_text(dir / "timeseries.csv", csv);
  } catch (const std::exception& ex) {
    result.error = std::string("load failed: ") + ex.what();
  }

  if (reader) {
    reader->signal(SIGTERM);
    reader->wait(10s);
    result.reader = WatchSummary::parse(reader->out());
  }
  if (const auto stats = http_get(p, "/stats", 10s); stats && stats->status == 200) {
    result.server = nlohmann::json::parse(stats->body, nullptr, false);
    result.facts.stats_read = !result.server.is_discarded();
  }
  server.signal(SIGTERM);
  const auto exit = server.wait(60s);
  result.facts.server_exit = exit.value_or(-1);
  if (!exit) {
    server.signal(SIGKILL);
    server.wait(5s);
  }

  const std::string counter = e.verify.kind == VerifySpec::Kind::kCounter ? e.verify.counter : std::string();
  const DbCheck check = postgres ? check_postgres(config.database.url, counter) : check_database(db, counter);
  result.facts.kind = e.verify.kind;
  result.facts.integrity = check.integrity;
  result.facts.stored = e.verify.kind == VerifySpec::Kind::kCounter ? check.counter : check.rows;
  result.facts.ok_seen = ok_seen;
  result.facts.unknown_outcome = unknown;
  if (result.facts.stats_read)
    result.facts.acknowledged = result.server["writes"].value("acknowledged", std::uint64_t{0});
  // /stats was read before SIGTERM: writes still queued or in a batch then
  // were acknowledged during the drain. The summary printed after it counts them.
  if (const auto drained = acknowledged_from_summary(server.out()); drained && result.facts.stats_read) {
    result.server["writes"]["acknowledged_after_drain"] = *drained;
    result.facts.acknowledged = *drained;
  }
  if (result.facts.stats_read)
    result.facts.server_unknown = result.server["database"].value("unknown_outcomes", std::uint64_t{0});
  result.facts.initial_rows = config.database.initial.rows;
  result.facts.rows_inserted = rows_inserted_from_summary(server.out());
  result.facts.counters = check.counters;
  result.facts.balances = check.balances;
  result.facts.accounts = config.database.initial.accounts;
  result.facts.initial_balance = config.database.initial.initial_balance;
  if (e.verify.kind == VerifySpec::Kind::kWorkload) result.facts.stored = check.rows;
  if (check.rows >= 0) result.server["rows_after"] = check.rows;
  if (check.counter >= 0) result.server["counter_after"] = check.counter;
  // The database is the bulky part; the logs stay for reading.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(db + suffix);
}

}  // namespace

namespace {
// The number just before `words` on the server's last summary line.
std::optional<std::uint64_t> summary_number(const std::string& text, std::string_view words) {
  const auto line = text.rfind("busylab: stopped");
  if (line == std::string::npos) return std::nullopt;
  const auto end = text.find('\n', line);
  const std::string summary = text.substr(line, end == std::string::npos ? std::string::npos : end - line);
  const auto at = summary.find(words);
  if (at == std::string::npos) return std::nullopt;
  auto begin = at;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(summary[begin - 1]))) --begin;
  if (begin == at) return std::nullopt;
  return std::stoull(summary.substr(begin, at - begin));
}

// kWorkload: the database against data.rows, the server's inserts and the
// load generator's ledger. Empty when everything holds, else what does not.
std::string check_workload(const VerifyFacts& f, std::string& summary) {
  std::string problems;
  auto problem = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  const auto& l = f.ledger;
  // Rows: the server's count after its drain decides; the ledger brackets it.
  if (!f.rows_inserted) {
    problem("the server's summary line has no 'rows inserted' count");
  } else {
    const std::int64_t expected = f.initial_rows + static_cast<std::int64_t>(*f.rows_inserted);
    // A write answered commit_outcome_unknown may or may not be there.
    if (f.stored < expected || f.stored > expected + static_cast<std::int64_t>(f.server_unknown))
      problem("rows " + std::to_string(f.stored) + " != " + std::to_string(f.initial_rows) + " at start + " +
              std::to_string(*f.rows_inserted) + " inserts acknowledged" +
              (f.server_unknown ? " (+ up to " + std::to_string(f.server_unknown) + " of unknown outcome)" : ""));
    if (*f.rows_inserted < l.inserts || *f.rows_inserted > l.inserts + l.inserts_unknown)
      problem("the server acknowledged " + std::to_string(*f.rows_inserted) + " inserts, the load generator saw " +
              std::to_string(l.inserts) + " (+" + std::to_string(l.inserts_unknown) + " unanswered)");
  }
  summary = "rows " + std::to_string(f.stored) + " = " + std::to_string(f.initial_rows) + " + " +
            std::to_string(f.rows_inserted.value_or(0)) + " inserted";
  // Counters: each one's value within what its increments allow.
  std::set<std::string> names;
  for (const auto& [name, n] : l.counters) names.insert(name);
  for (const auto& [name, n] : l.counters_unknown) names.insert(name);
  for (const auto& [name, v] : f.counters) names.insert(name);
  std::size_t counters_bad = 0;
  for (const auto& name : names) {
    const auto at = [&](const auto& m) -> std::int64_t {
      const auto it = m.find(name);
      return it == m.end() ? 0 : static_cast<std::int64_t>(it->second);
    };
    const std::int64_t value = at(f.counters), ok = at(l.counters), unknown = at(l.counters_unknown);
    if (value < ok || value > ok + unknown) {
      if (++counters_bad <= 3)
        problem("counter '" + name + "' = " + std::to_string(value) + ", " + std::to_string(ok) +
                " increments acknowledged" + (unknown ? " (+" + std::to_string(unknown) + " unanswered)" : ""));
    }
  }
  if (counters_bad > 3) problem(std::to_string(counters_bad - 3) + " more counters off");
  if (!names.empty()) summary += ", " + std::to_string(names.size()) + " counters match";
  // The bank: the total never changes; each balance is what was acknowledged.
  if (f.accounts > 0) {
    std::int64_t total = 0;
    for (const auto& [id, balance] : f.balances) total += balance;
    if (static_cast<std::int64_t>(f.balances.size()) != f.accounts)
      problem(std::to_string(f.balances.size()) + " accounts, expected " + std::to_string(f.accounts));
    if (total != f.accounts * f.initial_balance)
      problem("bank total " + std::to_string(total) + " != " + std::to_string(f.accounts * f.initial_balance));
    std::size_t bad = 0;
    for (const auto& [id, balance] : f.balances) {
      const auto net_it = l.transfers.net.find(id);
      const auto slack_it = l.transfers.unknown_abs.find(id);
      const std::int64_t expected = f.initial_balance + (net_it == l.transfers.net.end() ? 0 : net_it->second);
      const std::int64_t slack = slack_it == l.transfers.unknown_abs.end() ? 0 : slack_it->second;
      if ((balance < expected - slack || balance > expected + slack) && ++bad <= 3)
        problem("account " + std::to_string(id) + " holds " + std::to_string(balance) +
                ", acknowledged transfers say " + std::to_string(expected) +
                (slack ? " +- " + std::to_string(slack) : ""));
    }
    if (bad > 3) problem(std::to_string(bad - 3) + " more balances off");
    if (l.transfers.ok + l.transfers.refused + l.transfers.unknown > 0)
      summary += ", bank total kept, " + std::to_string(f.balances.size()) + " balances match " +
                 std::to_string(l.transfers.ok) + " transfers";
  }
  return problems;
}
}  // namespace

std::optional<std::uint64_t> acknowledged_from_summary(const std::string& text) {
  return summary_number(text, " writes acknowledged");
}

std::optional<std::uint64_t> rows_inserted_from_summary(const std::string& text) {
  return summary_number(text, " rows inserted");
}

Verdict verify(const VerifyFacts& f) {
  Verdict v;
  if (f.server_exit != 0) {
    v.detail = "server exit status " + std::to_string(f.server_exit) + " (expected 0 after SIGTERM)";
    return v;
  }
  if (f.integrity != "ok") {
    v.detail = "integrity_check: " + f.integrity;
    return v;
  }
  if (f.kind == VerifySpec::Kind::kNone) {
    v.ok = true;
    v.detail = "integrity ok (no count check asked)";
    return v;
  }
  if (!f.stats_read) {
    v.detail = "could not read the server's /stats";
    return v;
  }
  if (f.kind == VerifySpec::Kind::kWorkload) {
    std::string summary;
    v.detail = check_workload(f, summary);
    v.ok = v.detail.empty();
    if (v.ok) v.detail = summary;
    return v;
  }
  const std::string what = f.kind == VerifySpec::Kind::kCounter ? "counter value" : "rows";
  // Each commit of unknown outcome may or may not be in the database.
  if (f.stored < 0 || static_cast<std::uint64_t>(f.stored) < f.acknowledged ||
      static_cast<std::uint64_t>(f.stored) > f.acknowledged + f.server_unknown) {
    v.detail = what + " " + std::to_string(f.stored) + " != " + std::to_string(f.acknowledged) +
               " writes the server acknowledged" +
               (f.server_unknown ? " (+ up to " + std::to_string(f.server_unknown) + " of unknown outcome)" : "");
    return v;
  }
  if (f.ok_seen > f.acknowledged) {
    v.detail = "the load generator saw " + std::to_string(f.ok_seen) + " 2xx but the server acknowledged only " +
               std::to_string(f.acknowledged);
    return v;
  }
  if (f.acknowledged > f.ok_seen + f.unknown_outcome) {
    v.detail = "the server acknowledged " + std::to_string(f.acknowledged) + " writes but the load generator saw " +
               std::to_string(f.ok_seen) + " 2xx and only " + std::to_string(f.unknown_outcome) + " unanswered";
    return v;
  }
  v.ok = true;
  v.detail = what + " " + std::to_string(f.stored) + " = acknowledged " + std::to_string(f.acknowledged);
  if (f.server_unknown)
    v.detail += " + " + std::to_string(static_cast<std::uint64_t>(f.stored) - f.acknowledged) + " of " +
                std::to_string(f.server_unknown) + " commits of unknown outcome";
  if (f.acknowledged != f.ok_seen)
    v.detail += " (" + std::to_string(f.acknowledged - f.ok_seen) + " answers lost in transit)";
  return v;
}

std::vector<CellResult> run_sweep(const Experiment& e, const SweepOptions& options) {
  const auto cells = e.cells(options.quick);
  std::optional<SweepCluster> cluster;
  if (e.postgres_script) cluster.emplace(*e.postgres_script, options.progress);
  const std::string pg_url = cluster ? cluster->url() : std::string();
  std::vector<CellResult> results(cells.size());
  const auto order = run_order(e.points(), e.runs_per_point(options.quick), options.seed);
  const auto started = Clock::now();
  for (std::size_t done = 0; done < order.size(); ++done) {
    const Cell& cell = cells[order[done]];
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    if (options.progress) {
      std::string eta = "estimating";
      if (done > 0)
        eta = "about " + clock_text(elapsed / static_cast<double>(done) * static_cast<double>(cells.size() - done)) +
              " left";
      *options.progress << "[" << done + 1 << "/" << cells.size() << ", " << clock_text(elapsed) << " elapsed, " << eta
                        << "] cell " << cell.index + 1 << ": " << cell.describe() << std::endl;
    }
    CellResult& result = results[order[done]];
    result.cell = cell;
    result.cell.run_order = done + 1;
    const auto cell_start = Clock::now();
    try {
      run_cell(e, options, pg_url, result);
    } catch (const std::exception& ex) {
      result.error = ex.what();
    }
    result.verdict = result.error.empty() ? verify(result.facts) : Verdict{false, "not run: " + result.error};
    result.elapsed_s = std::chrono::duration<double>(Clock::now() - cell_start).count();
    if (options.progress) {
      char line[256];
      const double rps = result.load.is_object() ? result.load.value("requests_per_s", 0.0) : 0.0;
      const double p99 = result.load.is_object() ? result.load["latency_us"].value("p99", 0.0) / 1000.0 : 0.0;
      std::snprintf(line, sizeof line, "    %.0f req/s, p99 %.1f ms, %s", rps, p99,
                    result.verdict.ok ? "verified" : "NOT VERIFIED: ");
      *options.progress << line << (result.verdict.ok ? "" : result.verdict.detail) << std::endl;
    }
  }
  return results;
}

}  // namespace busylab::sweep
