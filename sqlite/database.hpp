#pragma once
// RAII wrappers for a SQLite connection and its prepared statements. A
// Database is used by one thread at a time (the pool guarantees it); it is
// opened in SQLite's multi-thread mode, so SQLite adds no mutex of its own.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/database_options.hpp"
#include "sqlite/busy_handler.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace busylab {

struct DbStats;

/// A prepared statement. Bind with 1-based indexes; step() returns true for a row.
/// Any SQLite failure throws SqliteError.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  bool step();
  std::int64_t column_int64(int index) const;
  std::string column_text(int index) const;
  /// Resets and clears bindings so the statement can run again.
  void reset();

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  /// Opens (creating the file when kReadWrite) and applies every pragma in
  /// `options`: busy handler, journal_mode, synchronous, cache_size,
  /// mmap_size, and the size guard. Throws SqliteError naming the path.
  /// While the pragmas run, a lock held elsewhere is waited for at least
  /// `setup_patience_ms` (kStartupPatienceMs for connections opened at
  /// start-up), however short busy_timeout_ms is; afterwards busy_timeout_ms
  /// applies.
  Database(const DatabaseOptions& options, DbStats* stats, Mode mode = Mode::kReadWrite,
           std::int64_t setup_patience_ms = 0);

  /// For connections opened before serving (a pool's, the writer's, the
  /// schema's): another process that holds the lock for a moment, or a WAL
  /// being recovered by another process opening it at the same time
  /// (SQLITE_BUSY_RECOVERY), must not stop the server from starting when
  /// busy_timeout_ms is 0. Connections opened for a request (per_request)
  /// wait busy_timeout_ms like the request's statements.
  static constexpr std::int64_t kStartupPatienceMs = 5000;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  /// Runs SQL without results, parsed anew each time (pragmas, schema).
  /// Throws SqliteError.
  void exec(std::string_view sql);
  /// Runs one statement without results from the statement cache (BEGIN,
  /// COMMIT, SAVEPOINT, RELEASE, ROLLBACK: prepared once per connection).
  /// Throws SqliteError.
  void run(std::string_view sql);
  /// A statement prepared once per connection and reset before it is returned.
  Statement& cached(std::string_view sql);
  /// Runs a query returning one integer (PRAGMA page_count, COUNT(*)).
  std::int64_t query_int(std::string_view sql);
  /// True between BEGIN and COMMIT/ROLLBACK.
  bool in_transaction() const;

  BusyHandler& busy() { return busy_; }
  /// Called as each operation starts: the busy handler's counts start from
  /// zero, except for the first operation of a connection opened for a
  /// request (per_request, or a replacement), which also counts what opening
  /// it waited for the lock (its pragmas meet the same lock), so that the
  /// request's waited_ms and busy_wait_per_request are whole.
  void start_operation() {
    if (count_open_wait_)
      count_open_wait_ = false;
    else
      busy_.reset();
  }
  sqlite3* handle() { return db_; }
  DbStats* stats() { return stats_; }
  const std::string& path() const { return path_; }

 private:
  void note_thread();

  std::string path_;
  DbStats* stats_;
  BusyHandler busy_;
  bool count_open_wait_ = false;
  sqlite3* db_ = nullptr;
  std::vector<std::pair<std::string, std::unique_ptr<Statement>>> cache_;
};

/// Throws SqliteError built from the connection's last error, prefixed by `what`.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view what);

}  // namespace busylab
