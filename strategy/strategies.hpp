#pragma once
// Inside strategy/: the four strategies' factories and what they share.
// Users include strategy/strategy.hpp.

#include <memory>
#include <optional>

#include "pool/connection_pool.hpp"
#include "strategy/strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_per_request_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                                    const PoolOptions& pool, DbStats& stats);
std::unique_ptr<Strategy> make_pooled_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                               const PoolOptions& pool, DbStats& stats);
std::unique_ptr<Strategy> make_single_writer_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                                      const PoolOptions& pool, DbStats& stats);
std::unique_ptr<Strategy> make_batched_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                                const PoolOptions& pool, DbStats& stats);

/// The ConnectionPool options pool.* gives, for a pool of `size` slots.
ConnectionPool::Options connection_pool_options(const PoolOptions& p, std::size_t size);

/// Opens a connection for every slot of `pool` now (start-up). Throws SqliteError.
void open_all(ConnectionPool& pool, const DatabaseOptions& db, DbStats& stats);

/// Opens `connection` when it is not (at start, or after a fatal error
/// closed it). Returns the failure, counted once in `stats`, when it cannot
/// be opened (busy while running the pragmas: 503; a broken file: 500).
std::optional<OpOutcome> open_if_closed(std::unique_ptr<Database>& connection, const DatabaseOptions& db,
                                        DbStats& stats);

/// After a fatal outcome (IOERR, CORRUPT, ...): logs it, closes
/// `connection` so that the next user opens a fresh one, and counts the
/// replacement. Returns whether it closed it.
bool close_if_fatal(std::unique_ptr<Database>& connection, const OpOutcome& out, DbStats& stats);

/// Runs `op` on a kept connection, opening it first when it is not open (at
/// start or after a fatal error closed it); closes it after a fatal error.
/// On a DB thread.
OpOutcome run_on_slot(ConnectionPool::Slot& slot, const Operation& op, const DatabaseOptions& db, DbStats& stats);

/// Runs `op` on a fresh connection, closed afterwards (per_request). On a DB thread.
OpOutcome run_on_fresh_connection(const Operation& op, const DatabaseOptions& db, DbStats& stats);

}  // namespace busylab
