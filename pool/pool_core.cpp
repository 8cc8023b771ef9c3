#include "pool/pool_core.hpp"

#include <algorithm>

namespace busylab {

PoolCore::PoolCore(Options options) : options_(options) {
  idle_.reserve(options_.size);
  for (std::size_t i = options_.size; i > 0; --i) idle_.push_back(i - 1);
}

void PoolCore::note_wait(Duration waited) {
  if (!min_wait_in_interval_ || waited < *min_wait_in_interval_) min_wait_in_interval_ = waited;
}

PoolCore::CheckoutResult PoolCore::checkout(TimePoint now) {
  CheckoutResult result{};
  result.shed = poll(now);
  if (waiters_.empty() && !idle_.empty()) {
    result.outcome = Outcome::kGranted;
    result.grant = Grant{0, idle_.back(), Duration::zero()};
    idle_.pop_back();
    note_wait(Duration::zero());
    return result;
  }
  if (waiters_.size() >= options_.max_waiters) {
    result.outcome = Outcome::kRejected;
    return result;
  }
  result.outcome = Outcome::kQueued;
  result.waiter = next_id_++;
  waiters_.push_back(Waiter{result.waiter, now});
  max_waiting_seen_ = std::max(max_waiting_seen_, waiters_.size());
  return result;
}

PoolCore::ReleaseResult PoolCore::release(std::size_t slot, TimePoint now) {
  ReleaseResult result;
  result.shed = poll(now);
  if (waiters_.empty()) {
    idle_.push_back(slot);
    return result;
  }
  const Waiter w = waiters_.front();
  waiters_.pop_front();
  const Duration waited = now - w.since;
  note_wait(waited);
  result.handoff = Grant{w.id, slot, waited};
  return result;
}

bool PoolCore::cancel(std::uint64_t waiter) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) { return w.id == waiter; });
  if (it == waiters_.end()) return false;
  waiters_.erase(it);
  return true;
}

std::size_t PoolCore::cancel_all() {
  const std::size_t n = waiters_.size();
  waiters_.clear();
  return n;
}

std::vector<std::uint64_t> PoolCore::expire(TimePoint now, Duration max_wait) {
  std::vector<std::uint64_t> expired;
  while (!waiters_.empty() && now - waiters_.front().since >= max_wait) {
    expired.push_back(waiters_.front().id);
    waiters_.pop_front();
  }
  return expired;
}

std::optional<PoolCore::TimePoint> PoolCore::oldest_waiter_since() const {
  if (waiters_.empty()) return std::nullopt;
  return waiters_.front().since;
}

std::vector<std::uint64_t> PoolCore::poll(TimePoint now) {
  std::vector<std::uint64_t> shed;
  if (!shedding_enabled()) return shed;
  if (interval_start_ == TimePoint{}) interval_start_ = now;
  if (now - interval_start_ < options_.queue_interval) return shed;

  // The interval is over. Its delay is the smallest wait anyone got a slot
  // after; when nobody got one, the oldest waiter's wait so far.
  std::optional<Duration> delay = min_wait_in_interval_;
  if (!delay && !waiters_.empty()) delay = now - waiters_.front().since;
  interval_start_ = now;
  min_wait_in_interval_.reset();
  if (!delay || *delay <= options_.queue_target) return shed;

  const Duration limit = 2 * options_.queue_target;
  // The queue is FIFO, so the oldest waiters are at the front.
  while (!waiters_.empty() && now - waiters_.front().since > limit) {
    shed.push_back(waiters_.front().id);
    waiters_.pop_front();
  }
  return shed;
}

}  // namespace busylab
