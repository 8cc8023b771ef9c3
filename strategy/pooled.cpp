// pool: pool.size kept connections lent FIFO to reads and writes alike
// (ecto/DBConnection, HikariCP).

#include "strategy/pool_strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_pooled_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                               const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<PoolStrategy>("pool", PoolStrategy::Slots::kKeptConnections, ex, std::move(engine), pool,
                                        stats);
}

}  // namespace busylab
