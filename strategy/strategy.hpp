#pragma once
// How a request's operation gets a connection. Four kinds (pool.strategy):
//   per_request    a fresh connection per operation, at most pool.size at once
//   pool           pool.size connections kept open and lent FIFO
//   single_writer  one writer connection for every write, pool.size readers
//   batched        one writer committing queued writes together, pool.size readers

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/histogram.hpp"
#include "engine/database_options.hpp"
#include "engine/operation.hpp"
#include "pool/pool_options.hpp"

namespace busylab {

struct DbStats;
class Maintenance;

/// A histogram a strategy keeps, for /metrics.
struct StrategyHistogram {
  enum class Kind {
    kWait,       // microseconds a request waited for a connection (or in the writer's queue)
    kUse,        // microseconds a request held a connection
    kBatchSize,  // writes per batch the writer committed
  };
  Kind kind;
  std::string pool;  // "main" (pool, per_request), "readers" or "writer"
  Histogram data;
};

class Strategy {
 public:
  virtual ~Strategy() = default;

  /// Runs `op` and resumes on the caller's executor with its outcome. Never
  /// throws for expected outcomes (busy, timeout, full...); an exception
  /// means a bug in the operation and leaves no connection lent.
  virtual boost::asio::awaitable<OpOutcome> execute(Operation op) = 0;

  /// Strategy-specific figures for /stats (pool sizes, waits, batches). Thread-safe.
  virtual nlohmann::json stats_json() const = 0;

  /// The strategy's histograms (waits, holds, batch sizes), copied now. Thread-safe.
  virtual std::vector<StrategyHistogram> histograms() const = 0;

  /// Connections lent right now (0 when nothing is running). Thread-safe.
  virtual std::size_t in_use() const = 0;

  /// Call once the io threads have stopped: drops waiters (the drain has
  /// already let in-flight requests finish), lets running database work
  /// complete, and joins the database threads. Idempotent.
  virtual void close() = 0;
};

/// Totals over the pools in a stats_json() document (`pool` and
/// the `writer` queue): checkouts that timed out (the writer's
/// queue timeouts included), and waiters shed. Absent objects count 0.
std::uint64_t total_pool_timeouts(const nlohmann::json& strategy_stats);
std::uint64_t total_shed(const nlohmann::json& strategy_stats);

/// Builds the strategy `pool.strategy` names. `executor` runs checkout timers;
/// database work runs on threads the strategy owns. Opens the kept
/// connections now; throws DatabaseError when one cannot be opened. The
/// engine is database.engine's (engine/engine.hpp).
std::unique_ptr<Strategy> make_strategy(const DatabaseOptions& db, const PoolOptions& pool,
                                        boost::asio::any_io_executor executor, DbStats& stats);

/// Opens the database once at start-up: creates the schema and checks the
/// settings took (SQLite: the journal mode). Throws DatabaseError with a
/// message naming the database.
void prepare_database(const DatabaseOptions& db, DbStats& stats);

/// Starts the engine's work beside the requests (the SQLite background
/// checkpointer when database.checkpoint asks for one), or returns null.
/// Stop it (or destroy it) before checkpoint_database. Throws DatabaseError.
std::unique_ptr<Maintenance> start_maintenance(const DatabaseOptions& db, DbStats& stats);

/// After serving: SQLite's PRAGMA wal_checkpoint(TRUNCATE) when in WAL
/// mode (nothing to do otherwise, nor for PostgreSQL); returns false (and
/// fills `error`) when it could not complete.
bool checkpoint_database(const DatabaseOptions& db, DbStats& stats, std::string& error);

}  // namespace busylab
