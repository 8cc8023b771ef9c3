// per_request: a fresh connection opened, used and closed for every request,
// at most pool.size at once (the seed's Python server, with a bound). The
// pool's slots are permits here; their connections stay unopened.

#include "strategy/pool_strategy.hpp"

namespace busylab {

std::unique_ptr<Strategy> make_per_request_strategy(boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                                                    const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<PoolStrategy>("per_request", PoolStrategy::Slots::kFreshPerRequest, ex, std::move(engine),
                                        pool, stats);
}

}  // namespace busylab
