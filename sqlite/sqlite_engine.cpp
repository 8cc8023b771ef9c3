#include "sqlite/sqlite_engine.hpp"

#include <sqlite3.h>

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
    Statement mode(db.handle(), "PRAGMA journal_mode");
    const std::string actual = mode.step() ? mode.column_text(0) : std::string();
    if (actual != to_string(options().journal_mode)) {
      throw SqliteError(SQLITE_ERROR, "journal_mode " + std::string(to_string(options().journal_mode)) +
                                          " was refused; the database is in mode '" + actual + "'");
    }
    create_schema(db);
  } catch (const SqliteError& e) {
    throw SqliteError(e.code(), "database '" + options().path + "': " + e.what());
  }
}

bool SqliteEngine::finish(std::string& error) {
  if (options().journal_mode != JournalMode::kWal) return true;
  try {
    Database db(options(), &stats_, Database::Mode::kReadWrite, Database::kStartupPatienceMs);
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

}  // namespace busylab
