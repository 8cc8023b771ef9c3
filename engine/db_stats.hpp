#pragma once
// Counters every connection and strategy adds to; read by /stats. Thread-safe
// (relaxed atomics: each counter is exact, a snapshot is not a transaction).
// Holds no pointers, so that worker processes can keep theirs in shared
// memory (cluster/cluster.hpp).

#include <array>
#include <atomic>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>

#include "common/histogram.hpp"

namespace busylab {

struct DbStats {
  std::atomic<std::uint64_t> busy_handler_calls{0};  // times SQLite asked us whether to wait
  std::atomic<std::uint64_t> busy_sleeps{0};         // times we did sleep
  std::atomic<std::uint64_t> busy_sleep_ms{0};       // total milliseconds slept waiting for locks
  std::atomic<std::uint64_t> busy_gave_up{0};        // waits that ended at busy_timeout
  std::atomic<std::uint64_t> lock_waits{0};          // lock attempts that found the lock held (each gets busy_timeout)
  std::atomic<std::uint64_t> busy_failures{0};       // requests failed with SQLITE_BUSY / LOCKED
  std::atomic<std::uint64_t> busy_snapshot_failures{0};  // requests failed with SQLITE_BUSY_SNAPSHOT
  std::atomic<std::uint64_t> deadlock_failures{0};       // PostgreSQL: of those, 40P01 deadlock_detected (not 40001)
  std::atomic<std::uint64_t> full_failures{0};           // SQLITE_FULL (size guard or disk)
  std::atomic<std::uint64_t> readonly_failures{0};
  std::atomic<std::uint64_t> unavailable_failures{0};  // PostgreSQL: no connection (refused, lost; replaced)
  std::atomic<std::uint64_t> timeout_failures{0};      // PostgreSQL: no answer within deadline_ms, nothing committed
  std::atomic<std::uint64_t> unknown_outcomes{0};   // PostgreSQL: a commit whose answer never came (may have committed)
  std::atomic<std::uint64_t> outcomes_resolved{0};  // ... whose fate txid_status told after all (committed or aborted)
  std::atomic<std::uint64_t> fatal_failures{0};     // IOERR, CORRUPT, ... (connection replaced)
  std::atomic<std::uint64_t> other_failures{0};
  std::atomic<std::uint64_t> connections_opened{0};
  std::atomic<std::uint64_t> connections_replaced{0};
  std::atomic<std::uint64_t> transactions_committed{0};
  std::atomic<std::uint64_t> writes_committed{0};      // write operations whose COMMIT succeeded
  std::atomic<std::uint64_t> io_thread_violations{0};  // SQLite calls made on an io thread (must stay 0)
  std::atomic<std::uint64_t> busy_abandoned{0};        // lock waits cut off because the shutdown's grace period ran out

  // database.retry: a transaction run again after a lock or serialization
  // conflict (server/handlers.cpp).
  static constexpr std::size_t kTryBuckets = 16;                      // 1, 2, ..., 15, 16 or more
  std::array<std::atomic<std::uint64_t>, kTryBuckets> write_tries{};  // tries each committed write took
  std::atomic<std::uint64_t> retries{0};                              // tries after the first, in all
  std::atomic<std::uint64_t> committed_after_retry{0};                // writes committed on a second or later try
  std::atomic<std::uint64_t> retry_gave_up_tries_busy{0};             // max_tries reached, last failure busy
  std::atomic<std::uint64_t> retry_gave_up_tries_snapshot{0};         // ... busy_snapshot / 40001 / 40P01
  std::atomic<std::uint64_t> retry_gave_up_deadline_busy{0};          // the next try would start past deadline_ms
  std::atomic<std::uint64_t> retry_gave_up_deadline_snapshot{0};

  // database.checkpoint: the background checkpointer (sqlite/checkpointer.hpp).
  std::atomic<std::uint64_t> checkpoints{0};             // checkpoints run
  std::atomic<std::uint64_t> checkpoints_incomplete{0};  // ... that could not copy every frame (a reader, a writer)
  std::atomic<std::uint64_t> checkpoint_errors{0};       // ... that failed outright (I/O error, ...)
  std::atomic<std::uint64_t> checkpoint_frames{0};       // WAL frames copied into the database by them
  std::atomic<std::uint64_t> checkpoint_wait_ms{0};  // ms their busy handler slept (RESTART/TRUNCATE wait for readers)
  AtomicHistogram checkpoint_us;                     // how long each took, microseconds

  /// One committed write that took `tries` tries.
  void record_write_tries(int tries);

  // Set once the shutdown's grace period ran out with work in flight: every
  // lock wait (busy handler) gives up at once instead of sleeping out its
  // busy_timeout_ms, so the server exits instead of waiting for it. Not a
  // figure: add() and to_json() leave it out.
  std::atomic<bool> abandon_lock_waits{false};

  // Per request (operation), the total time the busy handler slept across
  // all of its lock attempts: SQLite's busy timeout applies per attempt, so
  // one request can wait several times.
  std::atomic<std::uint64_t> requests_waited{0};          // requests that found a lock held at least once
  std::atomic<std::uint64_t> requests_waited_several{0};  // ... in more than one lock attempt
  AtomicHistogram request_wait_ms;                        // total ms slept, for requests that waited

  /// Adds every figure `other` holds now (totals over worker processes).
  void add(const DbStats& other);

  /// Records one finished operation's busy wait (`waited_ms` over `lock_waits` attempts).
  void record_request_wait(std::int64_t waited_ms, std::int64_t lock_waits);

  nlohmann::json to_json() const;
};

}  // namespace busylab
