#include "sqlite/busy_handler.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>

#include "engine/db_stats.hpp"

namespace busylab {

std::int64_t busy_delay_ms(BusyRetry retry, std::int64_t interval_ms, std::int64_t timeout_ms, int count) {
  if (timeout_ms <= 0 || count < 0) return 0;
  std::int64_t delay = 0;
  std::int64_t prior = 0;  // what the schedule has slept before this call
  if (retry == BusyRetry::kFixed) {
    delay = interval_ms;
    prior = interval_ms * count;
  } else {
    static constexpr std::array<std::int64_t, 12> kDelays{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    static constexpr std::array<std::int64_t, 12> kTotals{0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228};
    if (count < static_cast<int>(kDelays.size())) {
      delay = kDelays[count];
      prior = kTotals[count];
    } else {
      delay = kDelays.back();
      prior = kTotals.back() + delay * (count - static_cast<int>(kDelays.size() - 1));
    }
  }
  if (prior + delay > timeout_ms) delay = timeout_ms - prior;
  return std::max<std::int64_t>(delay, 0);
}

int BusyHandler::callback(void* self, int count) {
  auto* h = static_cast<BusyHandler*>(self);
  h->stats_->busy_handler_calls.fetch_add(1, std::memory_order_relaxed);
  if (count == 0) {
    // SQLite starts counting again for every lock attempt.
    ++h->lock_waits_;
    h->stats_->lock_waits.fetch_add(1, std::memory_order_relaxed);
  }
  auto abandoned = [h] {
    if (!h->stats_->abandon_lock_waits.load(std::memory_order_relaxed)) return false;
    h->stats_->busy_abandoned.fetch_add(1, std::memory_order_relaxed);
    return true;
  };
  if (abandoned()) return 0;
  const std::int64_t delay = busy_delay_ms(h->retry_, h->interval_ms_, h->timeout_ms_, count);
  if (delay <= 0) {
    if (h->timeout_ms_ > 0) h->stats_->busy_gave_up.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  // The same sleep SQLite's own handler uses (the VFS's xSleep takes
  // microseconds), in slices of at most 50 ms so that a shutdown that gives
  // up on lock waits is noticed soon even with a long fixed interval.
  std::int64_t slept = 0;
  bool cut = false;
  while (slept < delay && !(cut = abandoned())) {
    const std::int64_t slice = std::min<std::int64_t>(delay - slept, 50);
    sqlite3_sleep(static_cast<int>(slice));
    slept += slice;
  }
  h->waited_ms_ += slept;
  h->stats_->busy_sleeps.fetch_add(1, std::memory_order_relaxed);
  h->stats_->busy_sleep_ms.fetch_add(static_cast<std::uint64_t>(slept), std::memory_order_relaxed);
  return cut ? 0 : 1;
}

}  // namespace busylab
