// batched: the same writer, committing up to pool.max_batch queued writes in
// one transaction with a SAVEPOINT each (group commit);
// pool.size readers.

#include "strategy/writer_strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_batched_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                                const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<WriterStrategy>("batched", ex, std::move(engine), pool, stats,
                                          static_cast<std::size_t>(pool.max_batch));
}

}  // namespace busylab
