#include "strategy/writer.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "engine/db_stats.hpp"
#include "engine/engine.hpp"
#include "strategy/strategies.hpp"

namespace asio = boost::asio;

namespace busylab {

namespace {
constexpr const char* kQueueTimeout = "write waited in the writer's queue longer than pool.checkout_timeout_ms";
}

Writer::Writer(asio::any_io_executor executor, std::shared_ptr<Engine> engine, Options options, DbStats& stats)
    : executor_(std::move(executor)),
      engine_(std::move(engine)),
      options_(options),
      stats_(stats),
      connection_(engine_->open(Engine::Purpose::kStartup)),
      timer_(std::make_unique<DeadlineTimer>(executor_, [this](auto now) { return expire_queued(now); })) {
  if (options_.max_batch == 0) options_.max_batch = 1;
  thread_ = std::thread([this] { loop(); });
}

Writer::~Writer() {
  close();
}

void Writer::complete(Job& job, OpOutcome out) {
  // Straight to the requester's own executor (its session): the one hop back.
  asio::post(job.home, asio::append(std::move(job.handler), std::move(out)));
}

void Writer::enqueue(Operation op, Handler handler, asio::any_io_executor home) {
  {
    std::unique_lock lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queued) {
      const bool stopping = stopping_;
      if (!stopping) ++rejected_;
      lock.unlock();
      Job job{std::move(op), std::move(handler), std::move(home), {}};
      complete(job, stopping ? OpOutcome::failure(Errc::kShuttingDown, "server is shutting down")
                             : OpOutcome::failure(Errc::kOverloaded, "write queue full (pool.max_waiters = " +
                                                                         std::to_string(options_.max_queued) + ")"));
      return;
    }
    queue_.push_back(Job{std::move(op), std::move(handler), std::move(home), std::chrono::steady_clock::now()});
    max_queued_ = std::max(max_queued_, queue_.size());
    if (timer_idle_ && timer_) {
      // Under the lock: close() takes the timer away under it too.
      timer_idle_ = false;
      timer_->start();
    }
  }
  wake_.notify_one();
}

std::optional<DeadlineTimer::Clock::time_point> Writer::expire_queued(DeadlineTimer::Clock::time_point now) {
  std::vector<Job> expired;
  std::optional<DeadlineTimer::Clock::time_point> next;
  {
    std::lock_guard lock(mutex_);
    // FIFO with one timeout for all: the expired writes are at the front.
    while (!queue_.empty() && now - queue_.front().enqueued >= options_.queue_timeout) {
      expired.push_back(std::move(queue_.front()));
      queue_.pop_front();
      ++timed_out_;
    }
    if (queue_.empty()) {
      timer_idle_ = true;
    } else {
      next = queue_.front().enqueued + options_.queue_timeout;
    }
  }
  for (auto& job : expired) complete(job, OpOutcome::failure(Errc::kPoolTimeout, kQueueTimeout));
  return next;
}

std::vector<OpOutcome> Writer::run(const std::vector<Job>& batch) {
  if (auto failed = open_if_closed(connection_, *engine_, stats_)) {
    // Every write of the batch fails; open_if_closed counted one of them.
    for (std::size_t i = 1; i < batch.size(); ++i) count_failure(stats_, failed->errc);
    return std::vector<OpOutcome>(batch.size(), *failed);
  }
  std::vector<OpOutcome> outs;
  try {
    if (options_.max_batch == 1) {
      outs.push_back(connection_->run(batch.front().op, engine_->options().transaction));
    } else {
      std::vector<const Operation*> ops;
      ops.reserve(batch.size());
      for (const auto& job : batch) ops.push_back(&job.op);
      outs = connection_->run_batch(ops);
    }
  } catch (const std::exception& e) {
    // A bug in an operation (run rethrows what is not a database error).
    spdlog::error("writer: unexpected error: {}", e.what());
    outs.assign(batch.size(), OpOutcome::failure(Errc::kInternal, e.what()));
  }
  for (const auto& o : outs) {
    if (close_if_fatal(connection_, o, stats_)) break;
  }
  return outs;
}

void Writer::loop() {
  std::vector<Job> batch;
  batch.reserve(options_.max_batch);
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      // Everything queued while the writer was busy, up to max_batch.
      const auto now = std::chrono::steady_clock::now();
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        queue_wait_us_.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - queue_.front().enqueued).count()));
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_batch_ = 1;
    }
    std::vector<OpOutcome> outs = run(batch);
    batch_sizes_.record(batch.size());
    {
      // Not in use any more from here: the answers are about to go out.
      std::lock_guard lock(mutex_);
      in_batch_ = 0;
    }
    // Answers go out only now, after COMMIT returned (or failed).
    for (std::size_t i = 0; i < batch.size(); ++i) complete(batch[i], std::move(outs[i]));
    batch.clear();
  }
  // Shutting down: whatever is still queued was never started.
  std::deque<Job> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& job : left) complete(job, OpOutcome::failure(Errc::kShuttingDown, "server is shutting down"));
}

void Writer::close() {
  std::unique_ptr<DeadlineTimer> timer;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    timer = std::move(timer_);
  }
  // The timer goes while its io_context is still alive (see ConnectionPool::close).
  timer.reset();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t Writer::in_use() const {
  std::lock_guard lock(mutex_);
  return in_batch_;
}

nlohmann::json Writer::stats_json() const {
  const Histogram sizes = batch_sizes_.snapshot();
  const Histogram wait = queue_wait_us_.snapshot();
  std::lock_guard lock(mutex_);
  return {
      // The writer seen as a pool of one connection (for /metrics; with
      // several processes these add up to the number of writers).
      {"connections", 1},
      {"connections_in_use", in_batch_ > 0 ? 1 : 0},
      {"max_batch", options_.max_batch},
      {"queued", queue_.size()},
      {"max_queued_seen", max_queued_},
      {"rejected_queue_full", rejected_},
      {"queue_timeouts", timed_out_},
      {"in_batch", in_batch_},
      {"queue_wait_ms",
       {{"p50", wait.percentile(0.5) / 1000.0}, {"p99", wait.percentile(0.99) / 1000.0}, {"max", wait.max() / 1000.0}}},
      {"batches", sizes.count()},
      {"batch_size",
       {{"mean", sizes.mean()},
        {"p50", sizes.percentile(0.5)},
        {"p99", sizes.percentile(0.99)},
        {"max", sizes.max()}}}};
}

}  // namespace busylab
