#pragma once
// What single_writer and batched share: every write goes to the one Writer,
// every read to a pool of pool.size reader connections. The two differ only
// in the writer's batch limit (1, or pool.max_batch).

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "strategy/strategies.hpp"
#include "strategy/writer.hpp"

namespace busylab {

class WriterStrategy final : public Strategy {
 public:
  WriterStrategy(std::string name, boost::asio::any_io_executor ex, std::shared_ptr<Engine> engine,
                 const PoolOptions& p, DbStats& stats, std::size_t max_batch)
      : name_(std::move(name)),
        engine_(std::move(engine)),
        stats_(stats),
        readers_(ex, connection_pool_options(p, static_cast<std::size_t>(p.size))),
        writer_(ex, engine_, writer_options(p, max_batch), stats) {
    open_all(readers_, *engine_);
  }

  boost::asio::awaitable<OpOutcome> execute(Operation op) override {
    if (op.write) co_return co_await writer_.async_write(std::move(op), boost::asio::use_awaitable);
    co_return co_await readers_.async_run(
        [&](ConnectionPool::Slot& slot) { return run_on_slot(slot, op, *engine_, stats_); },
        boost::asio::use_awaitable);
  }

  nlohmann::json stats_json() const override {
    return {{"strategy", name_}, {"pool", readers_.stats_json()}, {"writer", writer_.stats_json()}};
  }
  std::vector<StrategyHistogram> histograms() const override {
    return {{StrategyHistogram::Kind::kWait, "readers", readers_.wait_histogram()},
            {StrategyHistogram::Kind::kUse, "readers", readers_.use_histogram()},
            {StrategyHistogram::Kind::kWait, "writer", writer_.queue_wait_histogram()},
            {StrategyHistogram::Kind::kBatchSize, "writer", writer_.batch_size_histogram()}};
  }
  std::size_t in_use() const override { return readers_.in_use() + writer_.in_use(); }
  void close() override {
    readers_.close();
    writer_.close();
  }

 private:
  static Writer::Options writer_options(const PoolOptions& p, std::size_t max_batch) {
    Writer::Options o;
    o.max_batch = max_batch;
    o.max_queued = static_cast<std::size_t>(p.max_waiters);
    o.queue_timeout = std::chrono::milliseconds(p.checkout_timeout_ms);
    return o;
  }

  std::string name_;
  std::shared_ptr<Engine> engine_;
  DbStats& stats_;
  ConnectionPool readers_;
  Writer writer_;
};

}  // namespace busylab
