// busylab_sqlite_probe: how many write transactions SQLite itself commits per
// second on this machine, with nothing of busylab in the way.
//
// Why it exists: the bench machine is shared and noisy, so a busylab write
// figure (POST /rows requests/s) means little on its own. Every busylab write
// figure in bench/ is therefore reported as a ratio to what this probe measures
// in the same run, on the same machine, with the same journal mode and
// synchronous setting. It does what one busylab write does at the SQLite level
// (busylab's schema, BEGIN IMMEDIATE; INSERT INTO rows; COMMIT) on one
// connection in a tight loop, with every statement prepared once: no HTTP, no
// JSON, no thread hops, no pool. A busylab strategy is expected to beat it only
// by committing many requests in one transaction (the batched strategy).
//
// Links only SQLite3 (no Boost), so it builds and runs on its own.

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

constexpr int kExitSqlite = 1;  // SQLite failed: open, pragma, schema, prepare or a step
constexpr int kExitUsage = 2;   // bad command line
constexpr double kMaxSeconds = 3600;

constexpr std::string_view kUsage =
    R"(usage: busylab_sqlite_probe --db PATH [--seconds N] [--journal-mode MODE]
                            [--synchronous LEVEL] [--json]

Measures raw SQLite write throughput: opens one connection to PATH (created if
missing; rows are appended to an existing database), sets
PRAGMA journal_mode=MODE and PRAGMA synchronous=LEVEL, creates busylab's table
  rows(id INTEGER PRIMARY KEY, payload TEXT NOT NULL DEFAULT '')
if missing, then for N seconds repeats
  BEGIN IMMEDIATE; INSERT INTO rows(payload) VALUES('x'); COMMIT
with all three statements prepared once, and prints one line:
  R commits/s (N commits in S s, journal_mode=MODE, synchronous=LEVEL, SQLite VERSION)

options:
  --db PATH            database file (required)
  --seconds N          how long to run the loop, fractions allowed, 0 < N <= 3600 (default 3)
  --journal-mode MODE  delete, truncate, persist, memory, wal or off (default wal);
                       exits 1 if SQLite does not switch to it
  --synchronous LEVEL  off, normal, full or extra (default normal)
  --json               print one line of JSON instead of the plain line:
                       {"commits":N,"seconds":S,"commits_per_s":R,"journal_mode":"..",
                        "synchronous":"..","sqlite_version":".."}
                       where seconds is the measured duration of the loop
  --help               print this text and exit 0

exit status: 0 done, 1 a SQLite call failed, 2 bad command line.
)";

/// Failure of a SQLite call; main turns it into exit status 1.
class SqliteFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad command line; main prints it with the usage hint and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

struct ProbeOptions {
  std::string db_path;
  double seconds = 3;
  std::string journal_mode = "wal";
  std::string synchronous = "normal";
  bool json = false;
};

struct ProbeResult {
  std::int64_t commits = 0;
  double seconds = 0;
  std::string journal_mode;  // as SQLite reports it after the pragma
};

bool is_one_of(std::string_view value, std::initializer_list<std::string_view> allowed) {
  for (const auto candidate : allowed) {
    if (value == candidate) return true;
  }
  return false;
}

/// Parses a duration in seconds: the whole argument a finite number (strtod syntax) in (0, kMaxSeconds].
/// Throws UsageError otherwise.
double parse_seconds(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value <= 0 || value > kMaxSeconds) {
    throw UsageError("--seconds: expected a number of seconds in (0, 3600], got '" + text + "'");
  }
  return value;
}

/// Parses argv by hand; accepts `--name value` and `--name=value`.
/// Returns nullopt when --help was given. Throws UsageError on bad input.
std::optional<ProbeOptions> parse_args(int argc, char** argv) {
  ProbeOptions options;
  bool have_db = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    // Takes the option's value from `--name=value` or from the next argument.
    const auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw UsageError(arg + ": missing value");
      return argv[++i];
    };

    if (arg == "--help" || arg == "-h") {
      return std::nullopt;
    } else if (arg == "--json") {
      if (inline_value) throw UsageError("--json takes no value");
      options.json = true;
    } else if (arg == "--db") {
      options.db_path = value();
      if (options.db_path.empty()) throw UsageError("--db: empty path");
      have_db = true;
    } else if (arg == "--seconds") {
      options.seconds = parse_seconds(value());
    } else if (arg == "--journal-mode") {
      options.journal_mode = value();
      if (!is_one_of(options.journal_mode, {"delete", "truncate", "persist", "memory", "wal", "off"})) {
        throw UsageError("--journal-mode: unknown mode '" + options.journal_mode +
                         "'; expected delete, truncate, persist, memory, wal or off");
      }
    } else if (arg == "--synchronous") {
      options.synchronous = value();
      if (!is_one_of(options.synchronous, {"off", "normal", "full", "extra"})) {
        throw UsageError("--synchronous: unknown level '" + options.synchronous +
                         "'; expected off, normal, full or extra");
      }
    } else {
      throw UsageError("unknown argument '" + arg + "'");
    }
  }
  if (!have_db) throw UsageError("--db PATH is required");
  return options;
}

/// Throws SqliteFailure naming what was being done and SQLite's message for rc.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (code " + std::to_string(rc) + ")";
  throw SqliteFailure(message);
}

StmtHandle prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  StmtHandle stmt(raw);
  if (rc != SQLITE_OK) throw_sqlite(db, rc, "prepare " + std::string(sql));
  return stmt;
}

/// Steps a statement that returns no rows (or whose rows are ignored) to the end and resets it.
void run(sqlite3* db, sqlite3_stmt* stmt, std::string_view what) {
  int rc = SQLITE_ROW;
  while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) throw_sqlite(db, rc, what);
}

/// Runs a single-row pragma and returns its first column as text ("" when it returns no row).
std::string pragma_text(sqlite3* db, const std::string& sql) {
  const StmtHandle stmt = prepare(db, sql);
  const int rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE) return "";
  if (rc != SQLITE_ROW) throw_sqlite(db, rc, sql);
  const auto* text = sqlite3_column_text(stmt.get(), 0);
  return text != nullptr ? reinterpret_cast<const char*>(text) : "";
}

DbHandle open_database(const ProbeOptions& options) {
  sqlite3* raw = nullptr;
  // Same open flags as busylab's connections.
  const int rc = sqlite3_open_v2(options.db_path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) throw_sqlite(raw, rc, "open " + options.db_path);
  sqlite3_extended_result_codes(db.get(), 1);
  // Only this connection writes, so a wait means someone else has the file open; wait as
  // long as busylab's default busy_timeout_ms before failing.
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

/// Sets the pragmas and the schema, then commits in a loop for options.seconds.
/// Throws SqliteFailure on any SQLite error, after rolling back an open transaction.
ProbeResult measure(sqlite3* db, const ProbeOptions& options) {
  ProbeResult result;
  result.journal_mode = pragma_text(db, "PRAGMA journal_mode=" + options.journal_mode);
  if (result.journal_mode != options.journal_mode) {
    throw SqliteFailure("PRAGMA journal_mode=" + options.journal_mode + ": SQLite kept journal_mode '" +
                        result.journal_mode + "'");
  }
  run(db, prepare(db, "PRAGMA synchronous=" + options.synchronous).get(), "PRAGMA synchronous");
  // The rows table exactly as busylab's create_schema makes it.
  const std::string_view schema =
      "CREATE TABLE IF NOT EXISTS rows(id INTEGER PRIMARY KEY, payload TEXT NOT NULL DEFAULT '')";
  run(db, prepare(db, schema).get(), "CREATE TABLE rows");

  const StmtHandle begin = prepare(db, "BEGIN IMMEDIATE");
  const StmtHandle insert = prepare(db, "INSERT INTO rows(payload) VALUES(?1)");
  const StmtHandle commit = prepare(db, "COMMIT");
  // sqlite3_reset keeps bindings, so the payload is bound once.
  if (const int rc = sqlite3_bind_text(insert.get(), 1, "x", 1, SQLITE_STATIC); rc != SQLITE_OK) {
    throw_sqlite(db, rc, "bind payload");
  }

  using clock = std::chrono::steady_clock;
  const auto duration = std::chrono::duration<double>(options.seconds);
  const auto start = clock::now();
  auto now = start;
  try {
    while (now - start < duration) {
      run(db, begin.get(), "BEGIN IMMEDIATE");
      run(db, insert.get(), "INSERT INTO rows");
      run(db, commit.get(), "COMMIT");
      ++result.commits;
      now = clock::now();
    }
  } catch (const SqliteFailure&) {
    if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  result.seconds = std::chrono::duration<double>(now - start).count();
  return result;
}

void print_result(const ProbeOptions& options, const ProbeResult& result) {
  const double per_second = static_cast<double>(result.commits) / result.seconds;
  // Every string printed is one of the validated pragma names or SQLite's version
  // (digits and dots), so none needs JSON escaping.
  if (options.json) {
    std::printf(
        "{\"commits\":%lld,\"seconds\":%.3f,\"commits_per_s\":%.1f,\"journal_mode\":\"%s\","
        "\"synchronous\":\"%s\",\"sqlite_version\":\"%s\"}\n",
        static_cast<long long>(result.commits), result.seconds, per_second, result.journal_mode.c_str(),
        options.synchronous.c_str(), sqlite3_libversion());
  } else {
    std::printf("%.1f commits/s (%lld commits in %.3f s, journal_mode=%s, synchronous=%s, SQLite %s)\n", per_second,
                static_cast<long long>(result.commits), result.seconds, result.journal_mode.c_str(),
                options.synchronous.c_str(), sqlite3_libversion());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<ProbeOptions> options;
  try {
    options = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "busylab_sqlite_probe: %s (see --help)\n", e.what());
    return kExitUsage;
  }
  if (!options) {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }

  try {
    const DbHandle db = open_database(*options);
    const ProbeResult result = measure(db.get(), *options);
    print_result(*options, result);
  } catch (const SqliteFailure& e) {
    std::fprintf(stderr, "busylab_sqlite_probe: %s\n", e.what());
    return kExitSqlite;
  }
  return 0;
}
