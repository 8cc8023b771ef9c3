#include "sqlite/database.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "common/thread_role.hpp"
#include "engine/db_stats.hpp"
#include "sqlite/sqlite_error.hpp"

namespace busylab {

std::string sqlite_code_name(int code) {
  switch (code) {
    case SQLITE_BUSY:
      return "SQLITE_BUSY";
    case SQLITE_BUSY_SNAPSHOT:
      return "SQLITE_BUSY_SNAPSHOT";
    case SQLITE_BUSY_RECOVERY:
      return "SQLITE_BUSY_RECOVERY";
    case SQLITE_BUSY_TIMEOUT:
      return "SQLITE_BUSY_TIMEOUT";
    case SQLITE_LOCKED:
      return "SQLITE_LOCKED";
    case SQLITE_FULL:
      return "SQLITE_FULL";
    case SQLITE_READONLY:
      return "SQLITE_READONLY";
    case SQLITE_READONLY_DBMOVED:
      return "SQLITE_READONLY_DBMOVED";
    case SQLITE_IOERR:
      return "SQLITE_IOERR";
    case SQLITE_CORRUPT:
      return "SQLITE_CORRUPT";
    case SQLITE_NOTADB:
      return "SQLITE_NOTADB";
    case SQLITE_CANTOPEN:
      return "SQLITE_CANTOPEN";
    case SQLITE_CONSTRAINT:
      return "SQLITE_CONSTRAINT";
    case SQLITE_NOMEM:
      return "SQLITE_NOMEM";
    case SQLITE_ERROR:
      return "SQLITE_ERROR";
    default:
      break;
  }
  // Extended codes of the families above keep their family's name plus the number.
  std::string name;
  switch (code & 0xff) {
    case SQLITE_IOERR:
      name = "SQLITE_IOERR";
      break;
    case SQLITE_READONLY:
      name = "SQLITE_READONLY";
      break;
    case SQLITE_CORRUPT:
      name = "SQLITE_CORRUPT";
      break;
    case SQLITE_CANTOPEN:
      name = "SQLITE_CANTOPEN";
      break;
    case SQLITE_CONSTRAINT:
      name = "SQLITE_CONSTRAINT";
      break;
    default:
      name = "SQLITE_" + std::to_string(code & 0xff);
      break;
  }
  return name + "(" + std::to_string(code) + ")";
}

void throw_sqlite(sqlite3* db, int rc, std::string_view what) {
  const int code = db ? sqlite3_extended_errcode(db) : rc;
  const char* text = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw SqliteError(code ? code : rc, std::string(what) + ": " + (text ? text : "unknown error"));
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) throw_sqlite(db, rc, "prepare");
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset now so the statement does not keep a read transaction open.
  sqlite3_reset(stmt_);
  throw_sqlite(db_, rc, "step");
}

std::int64_t Statement::column_int64(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string Statement::column_text(int index) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  const int n = sqlite3_column_bytes(stmt_, index);
  return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Database::Database(const DatabaseOptions& options, DbStats* stats, Mode mode, std::int64_t setup_patience_ms)
    : path_(options.path), stats_(stats), busy_(options, stats) {
  note_thread();
  const int flags = SQLITE_OPEN_NOMUTEX |
                    (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database '" + path_ + "'";
    const int code = db_ ? sqlite3_extended_errcode(db_) : rc;
    if (db_) message += std::string(": ") + sqlite3_errmsg(db_);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(code, message);
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_handler(db_, &BusyHandler::callback, &busy_);
    // Once the shutdown's grace period has run out, a statement still running
    // is interrupted (SQLITE_INTERRUPT, rolled back) instead of waited for,
    // as lock waits give up in the busy handler. Checked every 1000 virtual
    // machine instructions: busylab's statements rarely run that many.
    if (stats_) {
      sqlite3_progress_handler(
          db_, 1000,
          [](void* stats) {
            auto* s = static_cast<DbStats*>(stats);
            if (!s->abandon_lock_waits.load(std::memory_order_relaxed)) return 0;
            s->busy_abandoned.fetch_add(1, std::memory_order_relaxed);
            return 1;
          },
          stats_);
    }
    const std::int64_t busy_timeout = busy_.timeout_ms();
    if (setup_patience_ms > busy_timeout) busy_.set_timeout_ms(setup_patience_ms);
    if (mode == Mode::kReadWrite) {
      exec(std::string("PRAGMA journal_mode=") + std::string(to_string(options.journal_mode)));
    }
    exec(std::string("PRAGMA synchronous=") + std::string(to_string(options.synchronous)));
    exec("PRAGMA cache_size=" + std::to_string(options.cache_size));
    exec("PRAGMA mmap_size=" + std::to_string(options.mmap_size));
    exec("PRAGMA wal_autocheckpoint=" + std::to_string(options.effective_wal_autocheckpoint()));
    exec("PRAGMA journal_size_limit=" + std::to_string(options.journal_size_limit));
    if (options.max_size_mb > 0) {
      const std::int64_t page_size = query_int("PRAGMA page_size");
      const std::int64_t pages = options.max_size_mb * 1024 * 1024 / (page_size > 0 ? page_size : 4096);
      exec("PRAGMA max_page_count=" + std::to_string(pages));
    }
    busy_.set_timeout_ms(busy_timeout);
    // A connection opened for a request (no setup patience) waited for the
    // lock on the request's behalf: its first operation counts that wait.
    count_open_wait_ = setup_patience_ms == 0;
    if (!count_open_wait_) busy_.reset();
  } catch (const SqliteError& e) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(e.code(), "database '" + path_ + "': " + e.what());
  }
  if (stats_) stats_->connections_opened.fetch_add(1, std::memory_order_relaxed);
}

Database::~Database() {
  cache_.clear();  // statements must be finalized before the connection closes
  if (db_) sqlite3_close_v2(db_);
}

void Database::note_thread() {
  // A SQLite call blocks: on an io thread it would stall every connection
  // that thread serves. Counted (and logged once) so tests can assert zero.
  if (thread_role::is_io_thread() && stats_) {
    if (stats_->io_thread_violations.fetch_add(1, std::memory_order_relaxed) == 0) {
      spdlog::error("SQLite used on an io thread (database '{}'); this is a bug", path_);
    }
  }
}

void Database::exec(std::string_view sql) {
  note_thread();
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = text + ": " + (error ? error : sqlite3_errstr(rc));
    sqlite3_free(error);
    throw SqliteError(sqlite3_extended_errcode(db_), message);
  }
}

void Database::run(std::string_view sql) {
  Statement& s = cached(sql);
  try {
    while (s.step()) {
    }
  } catch (const SqliteError& e) {
    // Name the statement, as sqlite3_exec's errors did ("COMMIT: database is locked").
    throw SqliteError(e.code(), std::string(sql) + ": " + e.what());
  }
  s.reset();
}

Statement& Database::cached(std::string_view sql) {
  note_thread();
  for (auto& [text, stmt] : cache_) {
    if (text == sql) {
      stmt->reset();
      return *stmt;
    }
  }
  cache_.emplace_back(std::string(sql), std::make_unique<Statement>(db_, sql));
  return *cache_.back().second;
}

std::int64_t Database::query_int(std::string_view sql) {
  Statement& s = cached(sql);
  const std::int64_t v = s.step() ? s.column_int64(0) : 0;
  s.reset();
  return v;
}

bool Database::in_transaction() const {
  return db_ && sqlite3_get_autocommit(db_) == 0;
}

}  // namespace busylab
