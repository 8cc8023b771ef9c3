#pragma once
// What pool and per_request share: every operation, read or write, borrows
// one of pool.size slots. The two differ only in what a slot is: a kept
// connection (pool), or a permit to open a fresh one for the request and
// close it afterwards (per_request).

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "strategy/strategies.hpp"

namespace busylab {

class PoolStrategy final : public Strategy {
 public:
  enum class Slots { kKeptConnections, kFreshPerRequest };

  PoolStrategy(std::string name, Slots slots, boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
               const PoolOptions& p, DbStats& stats)
      : name_(std::move(name)),
        slots_(slots),
        engine_(std::move(engine)),
        stats_(stats),
        pool_(ex, connection_pool_options(p, static_cast<std::size_t>(p.size))) {
    if (slots_ == Slots::kKeptConnections) open_all(pool_, *engine_);
  }

  boost::asio::awaitable<OpOutcome> execute(Operation op) override {
    co_return co_await pool_.async_run(
        [&](ConnectionPool::Slot& slot) {
          return slots_ == Slots::kKeptConnections ? run_on_slot(slot, op, *engine_, stats_)
                                                   : run_on_fresh_connection(op, *engine_, stats_);
        },
        boost::asio::use_awaitable);
  }
  nlohmann::json stats_json() const override { return {{"strategy", name_}, {"pool", pool_.stats_json()}}; }
  std::vector<StrategyHistogram> histograms() const override {
    return {{StrategyHistogram::Kind::kWait, "main", pool_.wait_histogram()},
            {StrategyHistogram::Kind::kUse, "main", pool_.use_histogram()}};
  }
  std::size_t in_use() const override { return pool_.in_use(); }
  void close() override { pool_.close(); }

 private:
  std::string name_;
  Slots slots_;
  std::shared_ptr<Engine> engine_;
  DbStats& stats_;
  ConnectionPool pool_;
};

}  // namespace busylab
