#include "engine/db_stats.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace busylab {

void DbStats::record_request_wait(std::int64_t waited_ms, std::int64_t waits) {
  if (waits <= 0) return;
  requests_waited.fetch_add(1, std::memory_order_relaxed);
  if (waits > 1) requests_waited_several.fetch_add(1, std::memory_order_relaxed);
  request_wait_ms.record(static_cast<std::uint64_t>(waited_ms));
}

void DbStats::record_write_tries(int tries) {
  const auto bucket = static_cast<std::size_t>(std::clamp(tries, 1, static_cast<int>(kTryBuckets))) - 1;
  write_tries[bucket].fetch_add(1, std::memory_order_relaxed);
  if (tries > 1) committed_after_retry.fetch_add(1, std::memory_order_relaxed);
}

void DbStats::add(const DbStats& o) {
  using Counter = std::atomic<std::uint64_t> DbStats::*;
  static constexpr Counter kCounters[] = {&DbStats::busy_handler_calls,
                                          &DbStats::busy_sleeps,
                                          &DbStats::busy_sleep_ms,
                                          &DbStats::busy_gave_up,
                                          &DbStats::lock_waits,
                                          &DbStats::busy_failures,
                                          &DbStats::busy_snapshot_failures,
                                          &DbStats::deadlock_failures,
                                          &DbStats::full_failures,
                                          &DbStats::readonly_failures,
                                          &DbStats::unavailable_failures,
                                          &DbStats::timeout_failures,
                                          &DbStats::unknown_outcomes,
                                          &DbStats::outcomes_resolved,
                                          &DbStats::fatal_failures,
                                          &DbStats::other_failures,
                                          &DbStats::connections_opened,
                                          &DbStats::connections_replaced,
                                          &DbStats::transactions_committed,
                                          &DbStats::writes_committed,
                                          &DbStats::io_thread_violations,
                                          &DbStats::requests_waited,
                                          &DbStats::requests_waited_several,
                                          &DbStats::busy_abandoned,
                                          &DbStats::retries,
                                          &DbStats::committed_after_retry,
                                          &DbStats::retry_gave_up_tries_busy,
                                          &DbStats::retry_gave_up_tries_snapshot,
                                          &DbStats::retry_gave_up_deadline_busy,
                                          &DbStats::retry_gave_up_deadline_snapshot,
                                          &DbStats::checkpoints,
                                          &DbStats::checkpoints_incomplete,
                                          &DbStats::checkpoint_errors,
                                          &DbStats::checkpoint_frames,
                                          &DbStats::checkpoint_wait_ms};
  for (const Counter c : kCounters)
    (this->*c).fetch_add((o.*c).load(std::memory_order_relaxed), std::memory_order_relaxed);
  request_wait_ms.add(o.request_wait_ms);
  checkpoint_us.add(o.checkpoint_us);
  for (std::size_t i = 0; i < kTryBuckets; ++i)
    write_tries[i].fetch_add(o.write_tries[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
}

nlohmann::json DbStats::to_json() const {
  const Histogram wait = request_wait_ms.snapshot();
  const Histogram checkpoint = checkpoint_us.snapshot();
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  // Tries per committed write: {"1": n, "2": n, ..., "16+": n}, buckets in use only.
  nlohmann::json tries = nlohmann::json::object();
  for (std::size_t i = 0; i < kTryBuckets; ++i) {
    if (const auto n = get(write_tries[i])) tries[std::to_string(i + 1) + (i + 1 == kTryBuckets ? "+" : "")] = n;
  }
  return {
      {"busy_handler_calls", get(busy_handler_calls)},
      {"busy_sleeps", get(busy_sleeps)},
      {"busy_sleep_ms", get(busy_sleep_ms)},
      {"busy_gave_up", get(busy_gave_up)},
      {"busy_abandoned", get(busy_abandoned)},
      {"lock_waits", get(lock_waits)},
      {"busy_failures", get(busy_failures)},
      {"busy_snapshot_failures", get(busy_snapshot_failures)},
      {"deadlock_failures", get(deadlock_failures)},
      {"full_failures", get(full_failures)},
      {"readonly_failures", get(readonly_failures)},
      {"unavailable_failures", get(unavailable_failures)},
      {"timeout_failures", get(timeout_failures)},
      {"unknown_outcomes", get(unknown_outcomes)},
      {"outcomes_resolved", get(outcomes_resolved)},
      {"fatal_failures", get(fatal_failures)},
      {"other_failures", get(other_failures)},
      {"connections_opened", get(connections_opened)},
      {"connections_replaced", get(connections_replaced)},
      {"transactions_committed", get(transactions_committed)},
      {"writes_committed", get(writes_committed)},
      {"io_thread_violations", get(io_thread_violations)},
      {"retry",
       {{"retries", get(retries)},
        {"committed_after_retry", get(committed_after_retry)},
        {"tries_per_committed_write", tries},
        {"gave_up",
         {{"max_tries",
           {{"busy", get(retry_gave_up_tries_busy)}, {"busy_snapshot", get(retry_gave_up_tries_snapshot)}}},
          {"deadline",
           {{"busy", get(retry_gave_up_deadline_busy)}, {"busy_snapshot", get(retry_gave_up_deadline_snapshot)}}}}}}},
      {"checkpointer",
       {{"checkpoints", get(checkpoints)},
        {"incomplete", get(checkpoints_incomplete)},
        {"errors", get(checkpoint_errors)},
        {"frames", get(checkpoint_frames)},
        {"busy_wait_ms", get(checkpoint_wait_ms)},
        {"total_ms", static_cast<double>(checkpoint.sum()) / 1000.0},
        {"p99_ms", static_cast<double>(checkpoint.percentile(0.99)) / 1000.0},
        {"max_ms", static_cast<double>(checkpoint.max()) / 1000.0}}},
      {"busy_wait_per_request",
       {{"requests_waited", get(requests_waited)},
        {"waited_several_times", get(requests_waited_several)},
        {"p50_ms", wait.percentile(0.5)},
        {"p99_ms", wait.percentile(0.99)},
        {"max_ms", wait.max()}}}};
}

}  // namespace busylab
