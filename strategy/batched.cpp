// batched: the same writer, committing up to pool.max_batch queued writes in
// one BEGIN IMMEDIATE ... COMMIT with a SAVEPOINT each (group commit);
// pool.size readers.

#include "strategy/writer_strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_batched_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                                const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<WriterStrategy>("batched", ex, db, pool, stats, static_cast<std::size_t>(pool.max_batch));
}

}  // namespace busylab
