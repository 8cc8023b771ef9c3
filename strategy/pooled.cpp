// pool: pool.size kept connections lent FIFO to reads and writes alike
// (ecto/DBConnection, HikariCP).

#include "strategy/pool_strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_pooled_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                               const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<PoolStrategy>("pool", PoolStrategy::Slots::kKeptConnections, ex, db, pool, stats);
}

}  // namespace busylab
