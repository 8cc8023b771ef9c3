// per_request: a fresh connection opened, used and closed for every request,
// at most pool.size at once (the seed's Python server, with a bound). The
// pool's slots are permits here; their connections stay unopened.

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "strategy/strategies.hpp"

namespace busylab {

namespace {

class PerRequestStrategy final : public Strategy {
 public:
  PerRequestStrategy(boost::asio::any_io_executor ex, const DatabaseOptions& db, const PoolOptions& p, DbStats& stats)
      : db_(db), stats_(stats), permits_(ex, connection_pool_options(p, static_cast<std::size_t>(p.size))) {}

  boost::asio::awaitable<OpOutcome> execute(Operation op) override {
    co_return co_await permits_.async_run(
        [&](ConnectionPool::Slot&) { return run_on_fresh_connection(op, db_, stats_); }, boost::asio::use_awaitable);
  }
  nlohmann::json stats_json() const override { return {{"strategy", "per_request"}, {"pool", permits_.stats_json()}}; }
  std::size_t in_use() const override { return permits_.in_use(); }
  void close() override { permits_.close(); }

 private:
  DatabaseOptions db_;
  DbStats& stats_;
  ConnectionPool permits_;
};

}  // namespace

std::unique_ptr<Strategy> make_per_request_strategy(boost::asio::any_io_executor ex, const DatabaseOptions& db,
                                                    const PoolOptions& pool, DbStats& stats) {
  return std::make_unique<PerRequestStrategy>(ex, db, pool, stats);
}

}  // namespace busylab
