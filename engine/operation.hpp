#pragma once
// The typed database operations handlers ask for, and the outcome each one
// produces, whichever engine runs them. An Operation is plain data (its kind
// and arguments); each engine (sqlite/, postgres/) knows the SQL for every
// kind. Strategies decide on which connection and in which transaction an
// operation runs, through engine/engine.hpp.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace busylab {

class Database;
struct DbStats;

/// Expected outcomes of an operation (never exceptions above pool/).
enum class Errc {
  kOk,
  kNotFound,
  kBusy,          // SQLITE_BUSY / LOCKED after busy_timeout (or at once); PostgreSQL lock_timeout (55P03)
  kBusySnapshot,  // SQLITE_BUSY_SNAPSHOT; PostgreSQL serialization failure (40001) or deadlock (40P01)
  kPoolTimeout,   // no connection within pool.checkout_timeout_ms
  kOverloaded,    // shed by the queue, or pool.max_waiters reached
  kFull,          // SQLITE_FULL: disk full or database.max_size_mb reached; PostgreSQL disk_full (53100)
  kReadOnly,      // SQLITE_READONLY; PostgreSQL read-only transaction (25006)
  kUnavailable,   // PostgreSQL: no connection (refused, too many clients, lost): connection replaced
  kTimeout,       // PostgreSQL: no answer within database.deadline_ms, before any COMMIT was sent: connection replaced
  kOutcomeUnknown,  // PostgreSQL: a COMMIT (or an autocommit write) was sent and its answer never came:
                    // it may have committed. Never retryable; connection replaced
  kFatal,           // IOERR, CORRUPT, NOTADB, CANTOPEN...: connection replaced
  kConstraint,
  kInsufficientFunds,  // POST /transfer: the source account's balance is below the amount (nothing written)
  kShuttingDown,
  kInternal,
};

std::string_view to_string(Errc e);

enum class OpKind {
  kInsertRow,
  kCountRows,
  kGetRow,
  kIncrement,
  kSeed,
  kUpdateRow,      // PUT /rows/{id}: a write; not found when the row is absent
  kTransfer,       // POST /transfer: read two balances, refuse an overdraft, write both
  kGetAccount,     // GET /accounts/{id}
  kAccountsTotal,  // GET /accounts/total: count and sum in one statement (one snapshot)
  kCustom,
};

struct OpOutcome {
  Errc errc = Errc::kOk;
  std::int64_t value = 0;      // id, count, counter value, balance, "before" for seed, accounts for total
  std::int64_t value2 = 0;     // "after" for seed; the destination's balance for a transfer; the total
  std::string text;            // payload or counter name
  int sqlite_code = 0;         // extended result code when a SQLite error caused errc
  std::string code;            // the engine's name for the error: "SQLITE_BUSY_SNAPSHOT", "40001 serialization_failure"
  std::string message;         // human-readable detail for errors
  std::int64_t waited_ms = 0;  // time the busy handler slept during this operation (SQLite)

  bool ok() const { return errc == Errc::kOk; }
  /// An outcome that is only a failure (pool timeout, shutdown, ...).
  static OpOutcome failure(Errc errc, std::string message) {
    OpOutcome out;
    out.errc = errc;
    out.message = std::move(message);
    return out;
  }
};

/// One operation: its kind and arguments. A write runs inside a write
/// transaction (or a savepoint of a batch); the seed's counts before and
/// after its insert run outside it, in autocommit mode. A read runs in
/// autocommit mode.
struct Operation {
  OpKind kind = OpKind::kCustom;
  bool write = false;
  std::string text;         // insert_row, update_row: the payload; increment: the counter's name
  std::int64_t id = 0;      // get_row, update_row, get_account; transfer: the source account
  std::int64_t id2 = 0;     // transfer: the destination account
  std::int64_t amount = 0;  // transfer

  // kCustom only, SQLite only (tests that need a step to fail in a given
  // way): steps run instead of a kind's own SQL. They throw SqliteError.
  // The PostgreSQL engine refuses custom operations.
  using Step = std::function<void(Database&, OpOutcome&)>;
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
Operation update_row(std::int64_t id, std::string payload);
Operation transfer(std::int64_t from, std::int64_t to, std::int64_t amount);
Operation get_account(std::int64_t id);
Operation accounts_total();
}  // namespace ops

/// Adds one failure of class `errc` to the matching DbStats counter.
void count_failure(DbStats& stats, Errc errc);

/// An outcome the operation itself decided on, without a database error
/// (the row or account is absent, an overdraft): what it did is rolled back,
/// and it is neither a failure nor a committed write.
inline bool is_declined(Errc e) {
  return e == Errc::kNotFound || e == Errc::kInsufficientFunds;
}

/// True for errors after which the connection should not be reused.
inline bool is_fatal(Errc e) {
  return e == Errc::kFatal || e == Errc::kUnavailable || e == Errc::kTimeout || e == Errc::kOutcomeUnknown;
}

}  // namespace busylab
