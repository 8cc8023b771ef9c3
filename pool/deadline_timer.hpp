#pragma once
// One timer for a whole FIFO queue whose entries all get the same timeout
// (the pool's waiters, the writer's queue). The oldest entry always has the
// earliest deadline, so a single timer armed for it is enough: no timer per
// request, and nothing to cancel when an entry is served.
//
// The owner keeps, under its own mutex, whether the timer is idle. When it
// queues an entry and finds the timer idle, it marks it busy and calls
// start() after unlocking. The timer then calls `expire(now)` (which locks
// the owner's mutex, answers the entries that are due, and returns the next
// deadline, or nothing after marking the timer idle again, still under the
// lock) each time a deadline passes. Deciding "idle" under the same lock as
// the queue means no entry is ever left without a timer.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace busylab {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  /// Answers what is due at `now`; returns the next deadline, or nothing when
  /// the queue is empty (the owner has then marked the timer idle).
  using Expire = std::function<std::optional<Clock::time_point>(Clock::time_point now)>;

  DeadlineTimer(boost::asio::any_io_executor executor, Expire expire);
  /// Stops the timer (see stop()).
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  /// Runs `expire` soon on the timer's strand, then re-arms it for the
  /// deadline it returns. Thread-safe; the owner calls it once per idle-to-
  /// busy transition.
  void start();

  /// `expire` is never called again after this returns. Thread-safe.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace busylab
