#pragma once
// The PostgreSQL engine, on libpq. A Connection is one PGconn, used by one
// thread at a time (strategies run database work on their own threads, as
// for SQLite). Within an operation every wait for an answer is bounded by
// database.deadline_ms (poll on the socket); past it the connection is shut
// and replaced. How database.* maps onto PostgreSQL:
//   synchronous     full/extra -> synchronous_commit = on; normal/off -> off
//   busy_timeout_ms lock_timeout (0, "never wait", becomes 1 ms: PostgreSQL's
//                   0 means wait forever)
//   transaction     deferred  -> REPEATABLE READ, plain reads: a read-then-write
//                                that meets a concurrent update fails 40001
//                   immediate -> READ COMMITTED, reads that precede a write
//                                take the row lock (SELECT ... FOR UPDATE)
//                   exclusive -> immediate plus LOCK TABLE ... SHARE ROW
//                                EXCLUSIVE: one writer at a time, readers
//                                never blocked (SQLite's WAL write lock)
// Errors map onto the same Errc as SQLite's (see classify_pg).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/database_error.hpp"
#include "engine/engine.hpp"

struct pg_conn;
struct pg_result;

namespace busylab {

/// The class of a PostgreSQL error from its SQLSTATE; `connection_lost`
/// when the connection is gone (no SQLSTATE, or one it carried anyway).
Errc classify_pg(std::string_view sqlstate, bool connection_lost);

/// "40001 serialization_failure", "08006 connection_failure", ... ; "connection
/// lost" without an SQLSTATE.
std::string pg_code_name(std::string_view sqlstate);

class PgError : public DatabaseError {
 public:
  PgError(std::string_view sqlstate, bool connection_lost, const std::string& message)
      : DatabaseError(classify_pg(sqlstate, connection_lost), 0,
                      connection_lost && sqlstate.empty() ? std::string("connection lost") : pg_code_name(sqlstate),
                      message) {}
};

class PgConnection final : public Connection {
 public:
  /// Connects and applies the session settings. Throws PgError.
  PgConnection(const DatabaseOptions& options, DbStats& stats);
  ~PgConnection() override;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  OpOutcome run(const Operation& op, TransactionMode mode) override;
  std::vector<OpOutcome> run_batch(std::span<const Operation* const> ops) override;

  /// Runs SQL without parameters (simple protocol; several statements
  /// allowed). Throws PgError.
  void exec(std::string_view sql);
  /// Runs a query returning one value as text ("" when no row). Throws PgError.
  std::string query_text(std::string_view sql);
  /// Fills empty tables with `data` (rows 1..N, the bank's accounts) in one
  /// transaction. Throws PgError.
  void create_initial_data(const InitialData& data);
  /// The first two columns of every row, as text. Throws PgError.
  std::vector<std::pair<std::string, std::string>> query_pairs(std::string_view sql);
  /// `text` quoted as an SQL string literal. Throws PgError.
  std::string literal(std::string_view text);

 private:
  enum Stmt {
    kInsert,
    kCount,
    kGet,
    kRead,
    kReadForUpdate,
    kCreateCounter,
    kUpdateCounter,
    kUpdateRow,
    kBalances,
    kBalancesForUpdate,
    kSetBalance,
    kBalance,
    kTotal,
    kStmtCount
  };
  void transfer(const Operation& op, TransactionMode mode, OpOutcome& out);
  struct Result;
  class DeadlineScope;

  void prepare(Stmt stmt);
  Result exec_prepared(Stmt stmt, std::initializer_list<const char*> params);
  // A batch of inserts in one libpq pipeline; nullopt (rolled back) when a
  // write failed, so that the caller runs it with savepoints.
  std::optional<std::vector<OpOutcome>> run_pipelined(std::span<const Operation* const> ops);
  void body(const Operation& op, TransactionMode mode, OpOutcome& out);
  std::int64_t count();
  // Opens a write transaction as `mode` says and learns its id (one round
  // trip: BEGIN and SELECT txid_current() in one simple query), so that a
  // COMMIT whose answer is lost can be looked up afterwards.
  void begin(TransactionMode mode);
  // COMMIT. When the connection is lost or the deadline passes after it was
  // sent, asks PostgreSQL on a fresh connection what became of the
  // transaction (txid_status): returns normally when it committed, throws
  // database_unavailable (rolled back, retryable) when it aborted, and
  // commit_outcome_unknown when it cannot tell (still in progress, or no
  // answer).
  void commit();
  // txid_status of txid_ on a new connection, bounded (2 s to connect, 1 s
  // to answer): true committed, false aborted, nullopt unknown.
  std::optional<bool> commit_status();
  void rollback_quietly();
  void revive_if_closed();
  [[noreturn]] void fail(const char* what, pg_result* result);
  // The connection was lost (no answer, or the server closed it): an error
  // that says whether a COMMIT had been sent (outcome unknown) or not.
  [[noreturn]] void lost(const std::string& what);
  // Sends with `send` (a PQsend* call), then reads every result, each wait
  // bounded by the deadline; returns the last result, or the first error.
  template <class Send>
  pg_result* round_trip(Send send);
  // Blocks until PQgetResult would not block, or the deadline passes or the
  // shutdown gives up on running work (then shuts the socket and throws
  // kTimeout or kOutcomeUnknown).
  void await_result();
  [[noreturn]] void missed_deadline(const char* why);
  // Shuts the socket down: libpq then sees the connection lost, and its
  // next use replaces it.
  void shut_socket();
  // Bounds what follows by database.deadline_ms, until disarm_deadline().
  void arm_deadline();
  void disarm_deadline() { deadline_ = std::chrono::steady_clock::time_point::max(); }
  void fail_outcome(OpOutcome& out, const DatabaseError& e);

  pg_conn* conn_ = nullptr;
  DbStats& stats_;
  std::string settings_;  // the session's SET statements, run again after a reconnect
  bool prepared_[kStmtCount] = {};
  std::int64_t deadline_ms_;
  // No deadline outside an operation (start-up, the sweep's checks).
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  // A COMMIT (or an autocommit write, or a pipeline ending in COMMIT) was
  // sent and its answer not read yet: losing the connection now leaves the
  // outcome unknown.
  bool commit_sent_ = false;
  std::string txid_;  // the open transaction's id (txid_current), "" when not known
  std::string url_;   // for commit_status's own connection
};

class PgEngine final : public Engine {
 public:
  PgEngine(const DatabaseOptions& options, DbStats& stats) : Engine(options), stats_(stats) {}

  std::unique_ptr<Connection> open(Purpose purpose) override;
  /// Connects, creates the tables if missing, checks synchronous_commit
  /// took, and logs the server's version, fsync and max_connections.
  void prepare() override;
  /// Nothing to do: PostgreSQL checkpoints on its own.
  bool finish(std::string& error) override;
  std::vector<std::pair<std::string, std::string>> settings() override;

 private:
  DbStats& stats_;
};

/// What `busylab sweep` checks in a PostgreSQL database after a cell: rows,
/// distinct ids among them, and a counter's value (0 when absent). Throws
/// PgError when it cannot connect or query.
struct PgCheck {
  std::int64_t rows = -1;
  std::int64_t distinct_ids = -1;
  std::int64_t counter = -1;
  std::map<std::string, std::int64_t> counters;   // every counter
  std::map<std::int64_t, std::int64_t> balances;  // every account
};
PgCheck pg_check(const std::string& url, const std::string& counter);

/// Drops busylab's tables, so that the next server starts on an empty
/// database (each sweep cell). Throws PgError.
void pg_reset(const std::string& url);

}  // namespace busylab
