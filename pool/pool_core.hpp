#pragma once
// The pool's decisions without I/O, timers or threads (the sans-io core):
// which slot a checkout gets, who waits, in which order waiters are served,
// and whom the queue sheds. The caller passes the current time in; unit tests
// drive it with a fake clock. Not thread-safe: ConnectionPool holds a mutex.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace busylab {

class PoolCore {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = Clock::duration;
  using TimePoint = Clock::time_point;

  struct Options {
    std::size_t size = 1;
    std::size_t max_waiters = 1024;
    /// DBConnection's queue_target / queue_interval; zero disables shedding.
    Duration queue_target{};
    Duration queue_interval{};
  };

  struct Grant {
    std::uint64_t waiter;  // 0 for a checkout served at once
    std::size_t slot;
    Duration waited;
  };

  enum class Outcome { kGranted, kQueued, kRejected };

  struct CheckoutResult {
    Outcome outcome;
    Grant grant;                      // valid when kGranted
    std::uint64_t waiter = 0;         // valid when kQueued
    std::vector<std::uint64_t> shed;  // waiters dropped by this event
  };

  struct ReleaseResult {
    std::optional<Grant> handoff;  // the slot went straight to this waiter
    std::vector<std::uint64_t> shed;
  };

  explicit PoolCore(Options options);

  /// A request wants a slot: granted now when one is idle and nobody waits,
  /// queued (FIFO) otherwise, rejected when max_waiters already wait.
  CheckoutResult checkout(TimePoint now);

  /// A slot comes back: it goes to the oldest waiter, or becomes idle.
  ReleaseResult release(std::size_t slot, TimePoint now);

  /// A waiter gave up (its checkout timeout fired). False when it was already
  /// granted or shed, in which case the caller must not report a timeout.
  bool cancel(std::uint64_t waiter);

  /// Every waiter leaves the queue at once (the pool closes), in one pass:
  /// cancel() per waiter searches the queue each time, quadratic in the
  /// number of waiters. Returns how many there were.
  std::size_t cancel_all();

  /// The waiters that have waited `max_wait` or longer at `now` time out:
  /// they leave the queue and are returned, oldest first. The queue is FIFO
  /// and every waiter gets the same timeout, so they are all at its front.
  std::vector<std::uint64_t> expire(TimePoint now, Duration max_wait);

  /// When the oldest waiter started waiting (nothing when nobody waits): the
  /// next timeout is due at this plus the checkout timeout.
  std::optional<TimePoint> oldest_waiter_since() const;

  /// Runs the shedding check (also run by checkout and release); returns the
  /// waiters dropped. Once the smallest wait seen in an interval exceeded the
  /// target, waiters older than twice the target are dropped.
  std::vector<std::uint64_t> poll(TimePoint now);

  std::size_t size() const { return options_.size; }
  std::size_t in_use() const { return options_.size - idle_.size(); }
  std::size_t waiting() const { return waiters_.size(); }
  std::size_t max_waiting_seen() const { return max_waiting_seen_; }

 private:
  struct Waiter {
    std::uint64_t id;
    TimePoint since;
  };

  bool shedding_enabled() const { return options_.queue_target.count() > 0 && options_.queue_interval.count() > 0; }
  void note_wait(Duration waited);

  Options options_;
  std::vector<std::size_t> idle_;  // a stack: the most recently used slot is reused first
  std::deque<Waiter> waiters_;
  std::uint64_t next_id_ = 1;
  std::size_t max_waiting_seen_ = 0;
  // Shedding state: the interval's start and the smallest wait seen in it.
  TimePoint interval_start_{};
  std::optional<Duration> min_wait_in_interval_;
};

}  // namespace busylab
