// Start-up and shutdown work on the database file itself: the schema and
// journal mode before serving, the WAL checkpoint after.

#include <sqlite3.h>

#include "sqlite/database.hpp"
#include "sqlite/sqlite_error.hpp"
#include "strategy/strategy.hpp"

namespace busylab {

void prepare_database(const DatabaseOptions& options, DbStats& stats) {
  Database db(options, &stats, Database::Mode::kReadWrite, Database::kStartupPatienceMs);
  try {
    // SQLite answers PRAGMA journal_mode with the mode it actually uses;
    // refusing to start beats measuring a different mode than asked for.
    Statement mode(db.handle(), "PRAGMA journal_mode");
    const std::string actual = mode.step() ? mode.column_text(0) : std::string();
    if (actual != to_string(options.journal_mode)) {
      throw SqliteError(SQLITE_ERROR, "journal_mode " + std::string(to_string(options.journal_mode)) +
                                          " was refused; the database is in mode '" + actual + "'");
    }
    create_schema(db);
  } catch (const SqliteError& e) {
    throw SqliteError(e.code(), "database '" + options.path + "': " + e.what());
  }
}

bool checkpoint_database(const DatabaseOptions& options, DbStats& stats, std::string& error) {
  if (options.journal_mode != JournalMode::kWal) return true;
  try {
    Database db(options, &stats, Database::Mode::kReadWrite, Database::kStartupPatienceMs);
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
