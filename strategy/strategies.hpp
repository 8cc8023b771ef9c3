#pragma once
// Inside strategy/: the four strategies' factories and what they share.
// Users include strategy/strategy.hpp.

#include <memory>
#include <optional>

#include "engine/engine.hpp"
#include "pool/connection_pool.hpp"
#include "strategy/strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_per_request_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                                    const PoolOptions& pool, DbStats& stats);
std::unique_ptr<Strategy> make_pooled_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                               const PoolOptions& pool, DbStats& stats);
std::unique_ptr<Strategy> make_single_writer_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                                      const PoolOptions& pool, DbStats& stats);
std::unique_ptr<Strategy> make_batched_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                                const PoolOptions& pool, DbStats& stats);

/// The ConnectionPool options pool.* gives, for a pool of `size` slots.
ConnectionPool::Options connection_pool_options(const PoolOptions& p, std::size_t size);

/// Opens a connection for every slot of `pool` now (start-up). Throws DatabaseError.
void open_all(ConnectionPool& pool, Engine& engine);

/// Opens `connection` when it is not (at start, or after a fatal error
/// closed it). Returns the failure, counted once in `stats`, when it cannot
/// be opened (SQLite busy while running the pragmas, PostgreSQL refusing the
/// connection: 503; a broken file: 500).
std::optional<OpOutcome> open_if_closed(std::unique_ptr<Connection>& connection, Engine& engine, DbStats& stats);

/// After a fatal outcome (IOERR, CORRUPT, a lost PostgreSQL connection):
/// logs it, closes `connection` so that the next user opens a fresh one,
/// and counts the replacement. Returns whether it closed it.
bool close_if_fatal(std::unique_ptr<Connection>& connection, const OpOutcome& out, DbStats& stats);

/// Runs `op` on a kept connection, opening it first when it is not open (at
/// start or after a fatal error closed it); closes it after a fatal error.
/// On a DB thread.
OpOutcome run_on_slot(ConnectionPool::Slot& slot, const Operation& op, Engine& engine, DbStats& stats);

/// Runs `op` on a fresh connection, closed afterwards (per_request). On a DB thread.
OpOutcome run_on_fresh_connection(const Operation& op, Engine& engine, DbStats& stats);

}  // namespace busylab
