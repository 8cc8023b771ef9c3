#include "pool/connection_pool.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <optional>

#include "pool/database.hpp"

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

ConnectionPool::Slot& ConnectionPool::Lease::slot() {
  return pool_->slots_[index_];
}

void ConnectionPool::Lease::release() {
  if (auto* pool = std::exchange(pool_, nullptr)) pool->give_back(index_);
}

ConnectionPool::ConnectionPool(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(options), slots_(options.size), core_(core_options(options)) {}

ConnectionPool::~ConnectionPool() {
  close();
}

void ConnectionPool::complete(asio::any_completion_handler<Signature> handler, Errc errc, Lease lease) {
  // Runs through executor_, then on the handler's own executor.
  asio::post(executor_, asio::append(std::move(handler), errc, std::move(lease)));
}

void ConnectionPool::cancel_timer(std::shared_ptr<asio::steady_timer> timer) {
  if (!timer) return;
  // Timer operations run on the timer's own strand, never concurrently.
  auto ex = timer->get_executor();
  asio::post(ex, [timer = std::move(timer)] { timer->cancel(); });
}

void ConnectionPool::collect_shed(const std::vector<std::uint64_t>& ids,
                                  std::vector<asio::any_completion_handler<Signature>>& out) {
  for (auto id : ids) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) continue;
    out.push_back(std::move(it->second.handler));
    cancel_timer(std::move(it->second.timer));
    waiters_.erase(it);
    ++shed_;
  }
}

void ConnectionPool::initiate(asio::any_completion_handler<Signature> handler) {
  std::vector<asio::any_completion_handler<Signature>> shed;
  {
    std::unique_lock lock(mutex_);
    if (closed_) {
      lock.unlock();
      complete(std::move(handler), Errc::kShuttingDown, Lease());
      return;
    }
    auto result = core_.checkout(PoolCore::Clock::now());
    collect_shed(result.shed, shed);
    switch (result.outcome) {
      case PoolCore::Outcome::kGranted:
        ++checkouts_;
        wait_us_.record(0);
        lock.unlock();
        complete(std::move(handler), Errc::kOk, Lease(this, result.grant.slot));
        break;
      case PoolCore::Outcome::kRejected:
        ++rejected_;
        lock.unlock();
        complete(std::move(handler), Errc::kOverloaded, Lease());
        break;
      case PoolCore::Outcome::kQueued: {
        auto timer = std::make_shared<asio::steady_timer>(asio::make_strand(executor_));
        timer->expires_after(options_.checkout_timeout);
        const std::uint64_t id = result.waiter;
        // Started before the waiter is visible to other threads, so a
        // concurrent cancel_timer always comes after this.
        timer->async_wait(asio::bind_executor(timer->get_executor(), [this, id](boost::system::error_code ec) {
          if (!ec) on_timeout(id);
        }));
        waiters_.emplace(id, Waiter{std::move(handler), std::move(timer)});
        break;
      }
    }
  }
  for (auto& h : shed) complete(std::move(h), Errc::kOverloaded, Lease());
}

void ConnectionPool::give_back(std::size_t index) {
  std::vector<asio::any_completion_handler<Signature>> shed;
  // std::optional + emplace, never `handler = std::move(other)`: Boost 1.81's
  // any_completion_handler move assignment recurses until the stack overflows
  // (it wraps `other` as an lvalue in a new handler, again and again).
  std::optional<asio::any_completion_handler<Signature>> next;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      // Keep the core consistent (in_use returns to 0) but hand nothing out.
      core_.release(index, PoolCore::Clock::now());
      return;
    }
    auto result = core_.release(index, PoolCore::Clock::now());
    collect_shed(result.shed, shed);
    if (result.handoff) {
      auto it = waiters_.find(result.handoff->waiter);
      if (it != waiters_.end()) {
        next.emplace(std::move(it->second.handler));
        cancel_timer(std::move(it->second.timer));
        waiters_.erase(it);
        ++checkouts_;
        wait_us_.record(to_us(result.handoff->waited));
      }
    }
  }
  if (next) complete(std::move(*next), Errc::kOk, Lease(this, index));
  for (auto& h : shed) complete(std::move(h), Errc::kOverloaded, Lease());
}

void ConnectionPool::on_timeout(std::uint64_t waiter) {
  std::optional<asio::any_completion_handler<Signature>> handler;  // see give_back
  {
    std::lock_guard lock(mutex_);
    if (!core_.cancel(waiter)) return;  // granted or shed in the meantime
    auto it = waiters_.find(waiter);
    if (it == waiters_.end()) return;
    handler.emplace(std::move(it->second.handler));
    waiters_.erase(it);
    ++timeouts_;
  }
  complete(std::move(*handler), Errc::kPoolTimeout, Lease());
}

void ConnectionPool::close() {
  std::unordered_map<std::uint64_t, Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    waiters.swap(waiters_);
    for (auto& [id, w] : waiters) core_.cancel(id);
  }
  // The io threads are stopped when close() is called: destroying the
  // handlers here releases the coroutines that waited, while their
  // io_context is still alive.
  for (auto& [id, w] : waiters) {
    if (w.timer) w.timer->cancel();
  }
  waiters.clear();
}

ConnectionPool::Brief ConnectionPool::brief() const {
  std::lock_guard lock(mutex_);
  return Brief{core_.size(), core_.in_use(), core_.waiting()};
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
