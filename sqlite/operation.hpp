#pragma once
// The typed database operations handlers ask for, and the outcome each one
// produces. An Operation is plain data plus the SQL steps it runs; strategies
// decide on which connection and in which transaction those steps run.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite/database_options.hpp"

namespace busylab {

class Database;
struct DbStats;

/// Expected outcomes of an operation (never exceptions above pool/).
enum class Errc {
  kOk,
  kNotFound,
  kBusy,          // SQLITE_BUSY / SQLITE_LOCKED after busy_timeout (or at once)
  kBusySnapshot,  // SQLITE_BUSY_SNAPSHOT: a deferred reader could not upgrade
  kPoolTimeout,   // no connection within pool.checkout_timeout_ms
  kOverloaded,    // shed by the queue, or pool.max_waiters reached
  kFull,          // SQLITE_FULL: disk full or database.max_size_mb reached
  kReadOnly,      // SQLITE_READONLY
  kFatal,         // IOERR, CORRUPT, NOTADB, CANTOPEN...: connection replaced
  kConstraint,
  kShuttingDown,
  kInternal,
};

std::string_view to_string(Errc e);

enum class OpKind { kInsertRow, kCountRows, kGetRow, kIncrement, kSeed, kCustom };

struct OpOutcome {
  Errc errc = Errc::kOk;
  std::int64_t value = 0;      // id, count, counter value, or "before" for seed
  std::int64_t value2 = 0;     // "after" for seed
  std::string text;            // payload or counter name
  int sqlite_code = 0;         // extended result code when a SQLite error caused errc
  std::string message;         // human-readable detail for errors
  std::int64_t waited_ms = 0;  // time the busy handler slept during this operation

  bool ok() const { return errc == Errc::kOk; }
  /// An outcome that is only a failure (pool timeout, shutdown, ...).
  static OpOutcome failure(Errc errc, std::string message) {
    OpOutcome out;
    out.errc = errc;
    out.message = std::move(message);
    return out;
  }
};

/// One operation. For a write, `body` runs inside a write transaction (or a
/// savepoint of a batch); `before` and `after`, when set, run outside it in
/// autocommit mode (the seed's count before and after its insert). For a
/// read, only `body` runs, in autocommit mode. Steps throw SqliteError.
struct Operation {
  using Step = std::function<void(Database&, OpOutcome&)>;
  OpKind kind = OpKind::kCustom;
  bool write = false;
  Step before;
  Step body;
  Step after;
};

namespace ops {
Operation insert_row(std::string payload);
Operation count_rows();
Operation get_row(std::int64_t id);
Operation increment(std::string name);
Operation seed();
}  // namespace ops

/// Creates the tables if missing. Throws SqliteError.
void create_schema(Database& db);

/// Runs one operation on its own: reads in autocommit, writes in a
/// transaction opened with `mode` and committed before returning. Never
/// throws for SQLite errors: they come back as the outcome's errc, with the
/// transaction rolled back. Counts failures and commits in the db's stats.
OpOutcome run_operation(Database& db, const Operation& op, TransactionMode mode);

/// Runs writes as one transaction opened with BEGIN IMMEDIATE (whatever
/// database.transaction says: the batch takes the write lock once, and when
/// it cannot, every operation fails at once with that BUSY), each operation
/// inside its own SAVEPOINT: a failing operation is rolled back alone. When
/// its savepoint cannot be rolled back, or the final COMMIT fails, the whole
/// transaction is rolled back and every outcome becomes a failure, so nobody
/// is told their write succeeded unless the COMMIT made it durable.
std::vector<OpOutcome> run_batch(Database& db, std::span<const Operation* const> ops);

/// Adds one failure of class `errc` to the matching DbStats counter.
void count_failure(DbStats& stats, Errc errc);

/// Maps an extended SQLite result code to an Errc.
Errc classify_sqlite(int extended_code);

/// True for errors after which the connection should not be reused.
inline bool is_fatal(Errc e) {
  return e == Errc::kFatal;
}

}  // namespace busylab
