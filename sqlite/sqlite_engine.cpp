#include "sqlite/sqlite_engine.hpp"

#include <sqlite3.h>

#include <algorithm>

#include "sqlite/checkpointer.hpp"
#include "sqlite/operation.hpp"
#include "sqlite/sqlite_error.hpp"

namespace busylab {

SqliteConnection::SqliteConnection(const DatabaseOptions& options, DbStats& stats, Engine::Purpose purpose)
    : db_(options, &stats, Database::Mode::kReadWrite,
          purpose == Engine::Purpose::kStartup ? Database::kStartupPatienceMs : 0) {}

OpOutcome SqliteConnection::run(const Operation& op, TransactionMode mode) {
  return run_operation(db_, op, mode);
}

std::vector<OpOutcome> SqliteConnection::run_batch(std::span<const Operation* const> ops) {
  return busylab::run_batch(db_, ops);
}

std::unique_ptr<Connection> SqliteEngine::open(Purpose purpose) {
  return std::make_unique<SqliteConnection>(options(), stats_, purpose);
}

void SqliteEngine::prepare() {
  Database db(options(), &stats_, Database::Mode::kReadWrite, Database::kStartupPatienceMs);
  try {
    // SQLite answers PRAGMA journal_mode with the mode it actually uses;
    // refusing to start beats measuring a different mode than asked for.
    std::string actual;
    {
      Statement mode(db.handle(), "PRAGMA journal_mode");
      if (mode.step()) actual = mode.column_text(0);
    }  // finalized: a statement still running would keep COMMIT from completing
    if (actual != to_string(options().journal_mode)) {
      throw SqliteError(SQLITE_ERROR, "journal_mode " + std::string(to_string(options().journal_mode)) +
                                          " was refused; the database is in mode '" + actual + "'");
    }
    create_schema(db);
    create_initial_data(db, options().initial);
  } catch (const SqliteError& e) {
    throw SqliteError(e.code(), "database '" + options().path + "': " + e.what());
  }
}

std::unique_ptr<Maintenance> SqliteEngine::start_maintenance() {
  if (options().journal_mode != JournalMode::kWal || !options().checkpoint.background()) return nullptr;
  return std::make_unique<Checkpointer>(options(), stats_);
}

bool SqliteEngine::finish(std::string& error) {
  if (options().journal_mode != JournalMode::kWal) return true;
  try {
    // Bounded: the busy timeout may be up to an hour per lock attempt, and a
    // reader that holds the WAL must not keep the server from exiting.
    DatabaseOptions bounded = options();
    bounded.busy_timeout_ms = std::min<std::int64_t>(bounded.busy_timeout_ms, kCheckpointPatienceMs);
    Database db(bounded, &stats_, Database::Mode::kReadWrite, kCheckpointPatienceMs);
    Statement s(db.handle(), "PRAGMA wal_checkpoint(TRUNCATE)");
    // Returns (busy, log frames, checkpointed frames); busy = 1 means a reader kept it from finishing.
    if (s.step() && s.column_int64(0) != 0) {
      error = "checkpoint could not finish: a reader still holds the WAL";
      return false;
    }
    return true;
  } catch (const SqliteError& e) {
    error = e.what();
    return false;
  }
}

std::vector<std::pair<std::string, std::string>> SqliteEngine::settings() {
  Database db(options(), &stats_, Database::Mode::kReadWrite, Database::kStartupPatienceMs);
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* pragma : {"journal_mode", "synchronous", "locking_mode", "page_size", "cache_size", "mmap_size",
                             "wal_autocheckpoint", "journal_size_limit", "max_page_count"}) {
    Statement s(db.handle(), std::string("PRAGMA ") + pragma);
    std::string value = s.step() ? s.column_text(0) : std::string();
    // SQLite answers synchronous as a number.
    static const char* const kLevels[] = {"off", "normal", "full", "extra"};
    if (std::string_view(pragma) == "synchronous" && value.size() == 1 && value[0] >= '0' && value[0] <= '3')
      value = kLevels[value[0] - '0'];
    out.emplace_back(pragma, value);
  }
  // The busy handler is busylab's own (sqlite/busy_handler.hpp), so SQLite's
  // PRAGMA busy_timeout reads 0; the schedule the connection runs is this.
  out.emplace_back("busy_timeout_ms", std::to_string(options().busy_timeout_ms));
  out.emplace_back("busy_retry", std::string(to_string(options().busy_retry)));
  // Who checkpoints: SQLite inside commits ("auto"), or busylab's background
  // checkpointer in a mode every interval.
  out.emplace_back("checkpoint", options().checkpoint.background()
                                     ? std::string(to_string(options().checkpoint.mode)) + " every " +
                                           std::to_string(options().checkpoint.interval_ms) + " ms"
                                     : std::string("auto"));
  return out;
}

}  // namespace busylab
