// single_writer: one writer thread runs every write, one transaction each,
// in arrival order (database.transaction applies); pool.size readers
// (Rails 8, litestack, userver).

#include "strategy/writer_strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_single_writer_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                                      const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<WriterStrategy>("single_writer", ex, std::move(engine), pool, stats, /*max_batch=*/1);
}

}  // namespace busylab
