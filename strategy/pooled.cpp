// pool: pool.size kept connections lent FIFO to reads and writes alike
// (ecto/DBConnection, HikariCP).

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "strategy/strategies.hpp"

namespace busylab {

namespace {

class PooledStrategy final : public Strategy {
 public:
  PooledStrategy(boost::asio::any_io_executor ex, const DatabaseOptions& db, const PoolOptions& p, DbStats& stats)
      : db_(db), stats_(stats), connections_(ex, connection_pool_options(p, static_cast<std::size_t>(p.size))) {
    open_all(connections_, db_, stats_);
  }

  boost::asio::awaitable<OpOutcome> execute(Operation op) override {
    co_return co_await connections_.async_run(
        [&](ConnectionPool::Slot& slot) { return run_on_slot(slot, op, db_, stats_); }, boost::asio::use_awaitable);
  }
  nlohmann::json stats_json() const override { return {{"strategy", "pool"}, {"pool", connections_.stats_json()}}; }
  std::size_t in_use() const override { return connections_.in_use(); }
  void close() override { connections_.close(); }

 private:
  DatabaseOptions db_;
  DbStats& stats_;
  ConnectionPool connections_;
};

}  // namespace

std::unique_ptr<Strategy> make_pooled_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                               const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<PooledStrategy>(ex, db, pool, stats);
}

}  // namespace busylab
