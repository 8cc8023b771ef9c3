#pragma once
// busylab's own SQLite busy handler. It follows SQLite's default sleep
// schedule (sqliteDefaultBusyCallback: 1, 2, 5, 10, 15, 20, 25, 25, 25, 50,
// 50, 100 ms, then 100 ms) up to busy_timeout, or sleeps a fixed short
// interval (Rails 8 style), and counts every wait so experiments can see lock
// contention that never became an error.

#include <cstdint>

#include "engine/database_options.hpp"

namespace busylab {

struct DbStats;

/// How long to sleep before retry number `count` (0-based), given the
/// schedule; 0 means give up now. Pure: unit tests drive it directly.
std::int64_t busy_delay_ms(BusyRetry retry, std::int64_t interval_ms, std::int64_t timeout_ms, int count);

/// One per connection; used only by the thread that uses the connection.
class BusyHandler {
 public:
  BusyHandler(const DatabaseOptions& options, DbStats* stats)
      : retry_(options.busy_retry),
        interval_ms_(options.busy_retry_interval_ms),
        timeout_ms_(options.busy_timeout_ms),
        stats_(stats) {}

  /// The callback registered with sqlite3_busy_handler; `self` is a BusyHandler.
  static int callback(void* self, int count);

  /// Milliseconds slept since the last reset (the current operation's wait,
  /// summed over all of its lock attempts).
  std::int64_t waited_ms() const { return waited_ms_; }
  /// Lock attempts since the last reset that had to wait (the busy timeout
  /// applies to each of them separately).
  std::int64_t lock_waits() const { return lock_waits_; }
  void reset() {
    waited_ms_ = 0;
    lock_waits_ = 0;
  }
  std::int64_t timeout_ms() const { return timeout_ms_; }
  void set_timeout_ms(std::int64_t ms) { timeout_ms_ = ms; }

 private:
  BusyRetry retry_;
  std::int64_t interval_ms_;
  std::int64_t timeout_ms_;
  DbStats* stats_;
  std::int64_t waited_ms_ = 0;
  std::int64_t lock_waits_ = 0;
};

}  // namespace busylab
