#include "sqlite/operation.hpp"

#include <sqlite3.h>

#include <optional>

#include "engine/db_stats.hpp"
#include "sqlite/database.hpp"
#include "sqlite/sqlite_error.hpp"

namespace busylab {

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
    case SQLITE_INTERRUPT:  // cut off by the shutdown once its grace period ran out
      return Errc::kShuttingDown;
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

std::optional<std::int64_t> balance_step(Database& db, std::int64_t id) {
  Statement& s = db.cached("SELECT balance FROM accounts WHERE id = ?1");
  s.bind(1, id);
  std::optional<std::int64_t> balance;
  if (s.step()) balance = s.column_int64(0);
  s.reset();
  return balance;
}

// Read both balances, refuse an overdraft, write both back: read-then-write
// on purpose, as an application's ORM does it, so that a deferred
// transaction meets SQLite's lock upgrade (BUSY / BUSY_SNAPSHOT).
void transfer_step(Database& db, const Operation& op, OpOutcome& out) {
  const auto from = balance_step(db, op.id);
  const auto to = balance_step(db, op.id2);
  if (!from || !to) {
    out.errc = Errc::kNotFound;
    out.value = from ? op.id2 : op.id;
    out.message = "no account " + std::to_string(out.value);
    return;
  }
  if (*from < op.amount) {
    out.errc = Errc::kInsufficientFunds;
    out.value = *from;
    out.message = "account " + std::to_string(op.id) + " holds " + std::to_string(*from) + ", less than " +
                  std::to_string(op.amount);
    return;
  }
  Statement& w = db.cached("UPDATE accounts SET balance = ?2 WHERE id = ?1");
  w.bind(1, op.id).bind(2, *from - op.amount);
  w.step();
  w.reset();
  w.bind(1, op.id2).bind(2, *to + op.amount);
  w.step();
  w.reset();
  out.value = *from - op.amount;
  out.value2 = *to + op.amount;
}

// The SQL of each kind. A custom operation (tests) brings its own steps.
void body_step(Database& db, const Operation& op, OpOutcome& out) {
  if (op.body) return op.body(db, out);
  switch (op.kind) {
    case OpKind::kInsertRow:
      out.value = insert_step(db, op.text);
      return;
    case OpKind::kCountRows:
      count_step(db, out.value);
      return;
    case OpKind::kGetRow: {
      Statement& s = db.cached("SELECT id, payload FROM rows WHERE id = ?1");
      s.bind(1, op.id);
      if (s.step()) {
        out.value = s.column_int64(0);
        out.text = s.column_text(1);
      } else {
        out.errc = Errc::kNotFound;
        out.value = op.id;
      }
      s.reset();
      return;
    }
    case OpKind::kIncrement: {
      // Read-modify-write on purpose: the value is read, incremented here,
      // and written back, which is what exposes deferred transactions to BUSY.
      Statement& read = db.cached("SELECT value FROM counters WHERE name = ?1");
      read.bind(1, op.text);
      const std::int64_t current = read.step() ? read.column_int64(0) : 0;
      read.reset();
      Statement& write = db.cached(
          "INSERT INTO counters(name, value) VALUES(?1, ?2) "
          "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
      write.bind(1, op.text).bind(2, current + 1);
      write.step();
      write.reset();
      out.text = op.text;
      out.value = current + 1;
      return;
    }
    case OpKind::kSeed:
      insert_step(db, "seed");
      return;
    case OpKind::kUpdateRow: {
      Statement& s = db.cached("UPDATE rows SET payload = ?2 WHERE id = ?1");
      s.bind(1, op.id).bind(2, op.text);
      s.step();
      s.reset();
      out.value = op.id;
      if (sqlite3_changes(db.handle()) == 0) out.errc = Errc::kNotFound;
      return;
    }
    case OpKind::kTransfer:
      transfer_step(db, op, out);
      return;
    case OpKind::kGetAccount: {
      Statement& s = db.cached("SELECT balance FROM accounts WHERE id = ?1");
      s.bind(1, op.id);
      if (s.step())
        out.value2 = s.column_int64(0);
      else
        out.errc = Errc::kNotFound;
      out.value = op.id;
      s.reset();
      return;
    }
    case OpKind::kAccountsTotal: {
      // One statement: one snapshot, so the total is consistent.
      Statement& s = db.cached("SELECT COUNT(*), COALESCE(SUM(balance), 0) FROM accounts");
      s.step();
      out.value = s.column_int64(0);
      out.value2 = s.column_int64(1);
      s.reset();
      return;
    }
    case OpKind::kCustom:
      break;
  }
  throw SqliteError(SQLITE_MISUSE, "a custom operation without steps");
}

// The seed counts the rows before and after its transaction.
bool has_before(const Operation& op) {
  return op.body ? static_cast<bool>(op.before) : op.kind == OpKind::kSeed;
}
bool has_after(const Operation& op) {
  return op.body ? static_cast<bool>(op.after) : op.kind == OpKind::kSeed;
}
void before_step(Database& db, const Operation& op, OpOutcome& out) {
  if (op.before) return op.before(db, out);
  count_step(db, out.value);
}
void after_step(Database& db, const Operation& op, OpOutcome& out) {
  if (op.after) return op.after(db, out);
  count_step(db, out.value2);
}

void fail_outcome(Database& db, OpOutcome& out, const SqliteError& e) {
  out.errc = e.errc();
  out.sqlite_code = e.code();
  out.code = e.code_name();
  out.message = e.what();
  if (DbStats* stats = db.stats()) count_failure(*stats, out.errc);
}

// COMMIT. An I/O error during it (a failed write or fsync of the WAL or the
// journal) leaves the outcome unknown: the commit record may already be in
// the file and count after the next recovery. Answered as
// commit_outcome_unknown, never as a retryable failure.
void commit(Database& db) {
  try {
    db.run("COMMIT");
  } catch (const SqliteError& e) {
    if (e.primary() != SQLITE_IOERR) throw;
    throw SqliteError(Errc::kOutcomeUnknown, e.code(),
                      std::string("COMMIT failed with an I/O error; it may have reached the file and count after "
                                  "recovery: ") +
                          e.what());
  }
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

// A connection still inside a transaction from an earlier use (a ROLLBACK
// that failed, a BEGIN that found one open) is rolled back before its next
// use: else every later BEGIN fails with "cannot start a transaction within
// a transaction" while the connection may hold the write lock. False when
// even that ROLLBACK fails: the caller fails its work as fatal, so that the
// strategy replaces the connection.
bool ensure_no_transaction(Database& db) {
  if (!db.in_transaction()) return true;
  rollback_quietly(db);
  return !db.in_transaction();
}

void fail_stuck(Database& db, OpOutcome& out) {
  out = OpOutcome{};
  out.errc = Errc::kFatal;
  out.code = "SQLITE_ERROR(stuck_in_transaction)";
  out.message = "the connection was left inside a transaction and ROLLBACK failed; it is replaced";
  if (DbStats* stats = db.stats()) count_failure(*stats, out.errc);
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

void create_schema(Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS rows("
      "  id INTEGER PRIMARY KEY,"
      "  payload TEXT NOT NULL DEFAULT '')");
  db.exec(
      "CREATE TABLE IF NOT EXISTS counters("
      "  name TEXT PRIMARY KEY,"
      "  value INTEGER NOT NULL)");
  db.exec(
      "CREATE TABLE IF NOT EXISTS accounts("
      "  id INTEGER PRIMARY KEY,"
      "  balance INTEGER NOT NULL)");
}

void create_initial_data(Database& db, const InitialData& data) {
  // One transaction, and only into empty tables: several processes starting
  // at once, or a restart on an existing file, create nothing twice.
  db.run("BEGIN IMMEDIATE");
  try {
    if (data.rows > 0 && db.query_int("SELECT COUNT(*) FROM rows") == 0) {
      Statement s(db.handle(),
                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) "
                  "INSERT INTO rows(id, payload) SELECT i, substr(hex(randomblob(50)), 1, 100) FROM n");
      s.bind(1, data.rows);
      s.step();
    }
    if (data.accounts > 0 && db.query_int("SELECT COUNT(*) FROM accounts") == 0) {
      Statement s(db.handle(),
                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) "
                  "INSERT INTO accounts(id, balance) SELECT i, ?2 FROM n");
      s.bind(1, data.accounts).bind(2, data.initial_balance);
      s.step();
    }
    db.run("COMMIT");
  } catch (...) {
    rollback_quietly(db);
    throw;
  }
}

OpOutcome run_operation(Database& db, const Operation& op, TransactionMode mode) {
  OpOutcome out;
  db.start_operation();
  if (!ensure_no_transaction(db)) {
    fail_stuck(db, out);
    return out;
  }
  try {
    if (!op.write) {
      body_step(db, op, out);
    } else {
      if (has_before(op)) before_step(db, op, out);
      db.run(begin_sql(mode));
      body_step(db, op, out);
      if (is_declined(out.errc)) {
        // The operation refused (no such row, an overdraft): nothing it
        // did is kept, and nothing was committed.
        db.run("ROLLBACK");
        finish_wait(db, out);
        return out;
      }
      commit(db);
      count_commit(db, 1);
      // The write is committed from here on: a failing read after it must
      // not turn into an error for the client, so it only loses the count.
      if (has_after(op)) {
        try {
          after_step(db, op, out);
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
  db.start_operation();
  if (!ensure_no_transaction(db)) {
    for (auto& out : outs) fail_stuck(db, out);
    return outs;
  }
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
      if (has_before(op)) before_step(db, op, outs[i]);
      body_step(db, op, outs[i]);
      if (is_declined(outs[i].errc)) {
        // Refused by the operation itself: its savepoint goes, the batch goes on.
        db.run("ROLLBACK TO op");
        db.run("RELEASE op");
        continue;
      }
      if (has_after(op)) after_step(db, op, outs[i]);
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
    commit(db);
    count_commit(db, succeeded);
  } catch (const SqliteError& e) {
    rollback_quietly(db);
    for (auto& out : outs) {
      if (out.ok()) {
        out = OpOutcome{};
        fail_outcome(db, out, SqliteError(e.errc(), e.code(), std::string("batch commit failed: ") + e.what()));
      }
    }
  }
  for (auto& out : outs) finish_wait(db, out);
  return outs;
}

}  // namespace busylab
