#include "pool/connection_pool.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "engine/engine.hpp"

namespace asio = boost::asio;

namespace busylab {

namespace {
PoolCore::Options core_options(const ConnectionPool::Options& o) {
  PoolCore::Options c;
  c.size = o.size;
  c.max_waiters = o.max_waiters;
  c.queue_target = o.queue_target;
  c.queue_interval = o.queue_interval;
  return c;
}

std::uint64_t to_us(PoolCore::Duration d) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}
}  // namespace

ConnectionPool::ConnectionPool(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)),
      options_(options),
      slots_(options.size),
      threads_(options.size),
      timer_(std::make_unique<DeadlineTimer>(executor_, [this](auto now) { return expire_waiters(now); })),
      core_(core_options(options)) {}

ConnectionPool::~ConnectionPool() {
  close();
}

std::string ConnectionPool::failure_message(Errc errc) const {
  // HikariCP-style: the error says how the pool looked when it gave up.
  const std::string figures = " (pool size " + std::to_string(core_.size()) + ", in use " +
                              std::to_string(core_.in_use()) + ", waiting " + std::to_string(core_.waiting()) + ")";
  switch (errc) {
    case Errc::kPoolTimeout:
      return "no connection free within pool.checkout_timeout_ms" + figures;
    case Errc::kOverloaded:
      return "request shed: the connection queue is over its target or full" + figures;
    case Errc::kShuttingDown:
      return "server is shutting down";
    default:
      return std::string(to_string(errc));
  }
}

void ConnectionPool::take_waiters(const std::vector<std::uint64_t>& ids, std::vector<JobPtr>& out,
                                  std::uint64_t& counter) {
  for (auto id : ids) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) continue;
    out.push_back(std::move(it->second));
    waiters_.erase(it);
    ++counter;
  }
}

void ConnectionPool::submit(JobPtr job) {
  std::vector<JobPtr> shed;
  std::string shed_message;
  std::optional<std::size_t> granted;
  {
    std::unique_lock lock(mutex_);
    if (closed_) {
      lock.unlock();
      job->fail(Errc::kShuttingDown, "server is shutting down");
      return;
    }
    auto result = core_.checkout(PoolCore::Clock::now());
    take_waiters(result.shed, shed, shed_);
    if (!shed.empty()) shed_message = failure_message(Errc::kOverloaded);
    switch (result.outcome) {
      case PoolCore::Outcome::kGranted:
        ++checkouts_;
        wait_us_.record(0);
        granted = result.grant.slot;
        break;
      case PoolCore::Outcome::kRejected: {
        ++rejected_;
        const std::string message = failure_message(Errc::kOverloaded);
        lock.unlock();
        job->fail(Errc::kOverloaded, message);
        break;
      }
      case PoolCore::Outcome::kQueued:
        waiters_.emplace(result.waiter, std::move(job));
        if (timer_idle_ && timer_) {
          // Under the lock: close() takes the timer away under it too.
          timer_idle_ = false;
          timer_->start();
        }
        break;
    }
  }
  // Hop one: straight to a DB thread with the slot it was granted.
  if (granted) {
    asio::post(threads_, [this, slot = *granted, job = std::move(job)]() mutable { run_on(slot, std::move(job)); });
  }
  for (auto& j : shed) j->fail(Errc::kOverloaded, shed_message);
}

void ConnectionPool::run_on(std::size_t index, JobPtr job) {
  while (job) {
    const auto start = PoolCore::Clock::now();
    job->run(slots_[index]);
    const auto ran = PoolCore::Clock::now() - start;
    use_us_.record(to_us(ran));
    JobPtr next;
    std::vector<JobPtr> shed;
    std::string shed_message;
    {
      std::lock_guard lock(mutex_);
      // The slot comes back now, before the outcome travels to its requester.
      // A fresh reading, under the lock: a waiter may have queued after the
      // work ended, and its wait must not come out negative.
      auto result = core_.release(index, PoolCore::Clock::now());
      take_waiters(result.shed, shed, shed_);
      if (!shed.empty()) shed_message = failure_message(Errc::kOverloaded);
      while (result.handoff) {
        auto it = waiters_.find(result.handoff->waiter);
        if (it != waiters_.end()) {
          next = std::move(it->second);
          waiters_.erase(it);
          ++checkouts_;
          wait_us_.record(to_us(result.handoff->waited));
          break;
        }
        // Not ours any more (cannot happen while core_ and waiters_ agree): pass it on.
        result = core_.release(index, PoolCore::Clock::now());
      }
    }
    // Hop two: the outcome goes back to the requester's executor.
    job->complete();
    job.reset();
    for (auto& j : shed) j->fail(Errc::kOverloaded, shed_message);
    // The waiter the slot went to runs here, on this thread, without a hop.
    job = std::move(next);
  }
}

std::optional<DeadlineTimer::Clock::time_point> ConnectionPool::expire_waiters(DeadlineTimer::Clock::time_point now) {
  std::vector<JobPtr> expired;
  std::string message;
  std::optional<DeadlineTimer::Clock::time_point> next;
  {
    std::lock_guard lock(mutex_);
    message = failure_message(Errc::kPoolTimeout);  // the figures as the queue was when they gave up
    take_waiters(core_.expire(now, options_.checkout_timeout), expired, timeouts_);
    if (auto oldest = core_.oldest_waiter_since()) {
      next = *oldest + options_.checkout_timeout;
    } else {
      timer_idle_ = true;
    }
  }
  for (auto& j : expired) j->fail(Errc::kPoolTimeout, message);
  return next;
}

void ConnectionPool::close() {
  std::unordered_map<std::uint64_t, JobPtr> waiters;
  std::unique_ptr<DeadlineTimer> timer;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    waiters.swap(waiters_);
    core_.cancel_all();
    timer = std::move(timer_);
  }
  // The io threads are stopped when close() is called: destroying the
  // handlers here releases the coroutines that waited, and the timer goes
  // while its io_context is still alive.
  waiters.clear();
  timer.reset();
  threads_.join();
}

std::size_t ConnectionPool::in_use() const {
  std::lock_guard lock(mutex_);
  return core_.in_use();
}

nlohmann::json ConnectionPool::stats_json() const {
  const Histogram wait = wait_us_.snapshot();
  std::lock_guard lock(mutex_);
  auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
  return {{"size", core_.size()},
          {"in_use", core_.in_use()},
          {"waiting", core_.waiting()},
          {"max_waiting_seen", core_.max_waiting_seen()},
          {"checkouts", checkouts_},
          {"checkout_timeouts", timeouts_},
          {"shed", shed_},
          {"rejected_queue_full", rejected_},
          {"checkout_wait_ms",
           {{"p50", ms(wait.percentile(0.50))},
            {"p99", ms(wait.percentile(0.99))},
            {"max", ms(wait.max())},
            {"mean", wait.mean() / 1000.0}}}};
}

}  // namespace busylab
