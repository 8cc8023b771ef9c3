#include "sqlite/operation.hpp"

#include <sqlite3.h>

#include "sqlite/database.hpp"
#include "sqlite/db_stats.hpp"
#include "sqlite/sqlite_error.hpp"

namespace busylab {

std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::kOk:
      return "ok";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kBusy:
      return "database_busy";
    case Errc::kBusySnapshot:
      return "database_busy";
    case Errc::kPoolTimeout:
      return "pool_timeout";
    case Errc::kOverloaded:
      return "overloaded";
    case Errc::kFull:
      return "database_full";
    case Errc::kReadOnly:
      return "database_readonly";
    case Errc::kFatal:
      return "database_error";
    case Errc::kConstraint:
      return "constraint_failed";
    case Errc::kShuttingDown:
      return "shutting_down";
    case Errc::kInternal:
      return "internal_error";
  }
  return "internal_error";
}

Errc classify_sqlite(int code) {
  if (code == SQLITE_BUSY_SNAPSHOT) return Errc::kBusySnapshot;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Errc::kBusy;
    case SQLITE_FULL:
      return Errc::kFull;
    case SQLITE_READONLY:
      return Errc::kReadOnly;
    case SQLITE_CONSTRAINT:
      return Errc::kConstraint;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      return Errc::kFatal;
    default:
      return Errc::kInternal;
  }
}

namespace {

constexpr std::string_view kCountSql = "SELECT COUNT(*) FROM rows";
constexpr std::string_view kInsertSql = "INSERT INTO rows(payload) VALUES(?1)";

void count_step(Database& db, std::int64_t& out) {
  Statement& s = db.cached(kCountSql);
  out = s.step() ? s.column_int64(0) : 0;
  s.reset();
}

std::int64_t insert_step(Database& db, std::string_view payload) {
  Statement& s = db.cached(kInsertSql);
  s.bind(1, payload);
  s.step();
  s.reset();
  return sqlite3_last_insert_rowid(db.handle());
}

void fail_outcome(Database& db, OpOutcome& out, const SqliteError& e) {
  out.errc = classify_sqlite(e.code());
  out.sqlite_code = e.code();
  out.message = e.what();
  if (DbStats* stats = db.stats()) count_failure(*stats, out.errc);
}

// ROLLBACK after a failure; a failing rollback (the connection already left
// the transaction, or the file is gone) changes nothing for the caller.
void rollback_quietly(Database& db) {
  if (!db.in_transaction()) return;
  try {
    db.run("ROLLBACK");
  } catch (const SqliteError&) {
  }
}

std::string_view begin_sql(TransactionMode mode) {
  switch (mode) {
    case TransactionMode::kDeferred:
      return "BEGIN DEFERRED";
    case TransactionMode::kImmediate:
      return "BEGIN IMMEDIATE";
    case TransactionMode::kExclusive:
      return "BEGIN EXCLUSIVE";
  }
  return "BEGIN";
}

// The operation's busy wait, for its outcome and the per-request figures.
void finish_wait(Database& db, OpOutcome& out) {
  out.waited_ms = db.busy().waited_ms();
  if (DbStats* stats = db.stats()) stats->record_request_wait(out.waited_ms, db.busy().lock_waits());
}

void count_commit(Database& db, std::uint64_t writes) {
  if (DbStats* stats = db.stats()) {
    stats->transactions_committed.fetch_add(1, std::memory_order_relaxed);
    stats->writes_committed.fetch_add(writes, std::memory_order_relaxed);
  }
}

}  // namespace

void count_failure(DbStats& stats, Errc errc) {
  switch (errc) {
    case Errc::kBusy:
      stats.busy_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kBusySnapshot:
      stats.busy_snapshot_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kFull:
      stats.full_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kReadOnly:
      stats.readonly_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kFatal:
      stats.fatal_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      stats.other_failures.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

namespace ops {

Operation insert_row(std::string payload) {
  Operation op;
  op.kind = OpKind::kInsertRow;
  op.write = true;
  op.body = [payload = std::move(payload)](Database& db, OpOutcome& out) { out.value = insert_step(db, payload); };
  return op;
}

Operation count_rows() {
  Operation op;
  op.kind = OpKind::kCountRows;
  op.body = [](Database& db, OpOutcome& out) { count_step(db, out.value); };
  return op;
}

Operation get_row(std::int64_t id) {
  Operation op;
  op.kind = OpKind::kGetRow;
  op.body = [id](Database& db, OpOutcome& out) {
    Statement& s = db.cached("SELECT id, payload FROM rows WHERE id = ?1");
    s.bind(1, id);
    if (s.step()) {
      out.value = s.column_int64(0);
      out.text = s.column_text(1);
    } else {
      out.errc = Errc::kNotFound;
      out.value = id;
    }
    s.reset();
  };
  return op;
}

Operation increment(std::string name) {
  Operation op;
  op.kind = OpKind::kIncrement;
  op.write = true;
  // Read-modify-write on purpose: the value is read, incremented here, and
  // written back, which is what exposes deferred transactions to BUSY.
  op.body = [name = std::move(name)](Database& db, OpOutcome& out) {
    Statement& read = db.cached("SELECT value FROM counters WHERE name = ?1");
    read.bind(1, name);
    const std::int64_t current = read.step() ? read.column_int64(0) : 0;
    read.reset();
    Statement& write = db.cached(
        "INSERT INTO counters(name, value) VALUES(?1, ?2) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    write.bind(1, name).bind(2, current + 1);
    write.step();
    write.reset();
    out.text = name;
    out.value = current + 1;
  };
  return op;
}

Operation seed() {
  // The seed's request: count, insert, commit, count again.
  Operation op;
  op.kind = OpKind::kSeed;
  op.write = true;
  op.before = [](Database& db, OpOutcome& out) { count_step(db, out.value); };
  op.body = [](Database& db, OpOutcome&) { insert_step(db, "seed"); };
  op.after = [](Database& db, OpOutcome& out) { count_step(db, out.value2); };
  return op;
}

}  // namespace ops

void create_schema(Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS rows("
      "  id INTEGER PRIMARY KEY,"
      "  payload TEXT NOT NULL DEFAULT '')");
  db.exec(
      "CREATE TABLE IF NOT EXISTS counters("
      "  name TEXT PRIMARY KEY,"
      "  value INTEGER NOT NULL)");
}

OpOutcome run_operation(Database& db, const Operation& op, TransactionMode mode) {
  OpOutcome out;
  db.busy().reset();
  try {
    if (!op.write) {
      op.body(db, out);
    } else {
      if (op.before) op.before(db, out);
      db.run(begin_sql(mode));
      op.body(db, out);
      db.run("COMMIT");
      count_commit(db, 1);
      // The write is committed from here on: a failing read after it must
      // not turn into an error for the client, so it only loses the count.
      if (op.after) {
        try {
          op.after(db, out);
        } catch (const SqliteError& e) {
          out.value2 = -1;
          out.message = std::string("committed; count after failed: ") + e.what();
        }
      }
    }
  } catch (const SqliteError& e) {
    rollback_quietly(db);
    fail_outcome(db, out, e);
  } catch (...) {
    // Not an expected outcome: leave the connection clean for the next user
    // and let the caller report it.
    rollback_quietly(db);
    throw;
  }
  finish_wait(db, out);
  return out;
}

namespace {

// Every outcome of a batch that cannot commit becomes this failure, whatever
// the operation did inside its savepoint: nobody is told a write succeeded
// that the batch's COMMIT will not (or did not) make durable.
// `failed` keeps its own error (already counted).
void fail_others(Database& db, std::vector<OpOutcome>& outs, std::size_t failed, int code, const std::string& message) {
  for (std::size_t j = 0; j < outs.size(); ++j) {
    if (j == failed) continue;
    outs[j] = OpOutcome{};
    fail_outcome(db, outs[j], SqliteError(code, message));
  }
}

}  // namespace

std::vector<OpOutcome> run_batch(Database& db, std::span<const Operation* const> ops) {
  std::vector<OpOutcome> outs(ops.size());
  db.busy().reset();
  // The batch takes the write lock once, here, whatever database.transaction
  // says: a deferred BEGIN would let every operation meet the lock (and wait
  // the busy timeout) on its own.
  try {
    db.run("BEGIN IMMEDIATE");
  } catch (const SqliteError& e) {
    for (auto& out : outs) fail_outcome(db, out, e);
    for (auto& out : outs) finish_wait(db, out);
    return outs;
  }
  std::uint64_t succeeded = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Operation& op = *ops[i];
    int failed_code = 0;
    std::string failed_message;
    try {
      db.run("SAVEPOINT op");
      if (op.before) op.before(db, outs[i]);
      op.body(db, outs[i]);
      if (op.after) op.after(db, outs[i]);
      db.run("RELEASE op");
      ++succeeded;
      continue;
    } catch (const SqliteError& e) {
      fail_outcome(db, outs[i], e);
      failed_code = e.code();
      failed_message = e.what();
    } catch (const std::exception& e) {
      // A bug in one operation must not take the batch's other writes down.
      outs[i] = OpOutcome{};
      outs[i].errc = Errc::kInternal;
      outs[i].message = e.what();
      failed_code = SQLITE_ERROR;
      failed_message = e.what();
    }
    // Undo this operation alone. If that cannot be done (the savepoint is
    // gone, or SQLite already rolled the whole transaction back), its
    // changes might still be in the transaction: the batch must not commit.
    bool undone = false;
    if (db.in_transaction()) {
      try {
        db.run("ROLLBACK TO op");
        db.run("RELEASE op");
        undone = true;
      } catch (const SqliteError& e) {
        failed_message += std::string("; then could not undo it: ") + e.what();
      }
    }
    if (!undone) {
      rollback_quietly(db);
      outs[i].message = failed_message;
      if (db.in_transaction()) {
        // Not even ROLLBACK worked: nothing more can be done on this
        // connection now, and nothing of the batch is acknowledged.
        fail_others(db, outs, i, failed_code, "batch rolled back: " + failed_message);
        for (auto& out : outs) finish_wait(db, out);
        return outs;
      }
      // Nothing of the batch is in the database any more (SQLite rolls the
      // whole transaction back on some errors, SQLITE_FULL among them), and
      // nothing of it was acknowledged: the others run again, in a new
      // transaction, without the one that failed. Each round drops one
      // operation, so this ends.
      finish_wait(db, outs[i]);
      std::vector<const Operation*> others;
      others.reserve(ops.size() - 1);
      for (std::size_t j = 0; j < ops.size(); ++j) {
        if (j != i) others.push_back(ops[j]);
      }
      auto again = run_batch(db, others);
      for (std::size_t j = 0, k = 0; j < ops.size(); ++j) {
        if (j != i) outs[j] = std::move(again[k++]);
      }
      return outs;
    }
  }
  try {
    db.run("COMMIT");
    count_commit(db, succeeded);
  } catch (const SqliteError& e) {
    rollback_quietly(db);
    for (auto& out : outs) {
      if (out.ok()) {
        out = OpOutcome{};
        fail_outcome(db, out, SqliteError(e.code(), std::string("batch commit failed: ") + e.what()));
      }
    }
  }
  for (auto& out : outs) finish_wait(db, out);
  return outs;
}

}  // namespace busylab
