#pragma once
// `busylab watch`: the seed's preventsize script done right. A separate
// process that polls a database read-only, with its own busy timeout, and
// prints the row count, the file sizes and whether the read had to wait or
// failed. Sweeps run it beside the server: a reader in another process is a
// real source of lock contention.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace busylab::sweep {

struct WatchOptions {
  std::string path;
  std::chrono::milliseconds interval{100};
  std::int64_t busy_timeout_ms = 5000;
  std::int64_t max_size_mb = 0;        // warn above this; never deletes
  std::optional<std::uint64_t> count;  // stop after this many polls
  // --hold-read: each poll reads inside a transaction kept open this long
  // (the read snapshot, and with it the WAL frames it needs, stay pinned):
  // checkpoint starvation on purpose. Zero: plain autocommit reads.
  std::chrono::milliseconds hold_read{0};
};

struct WatchSummary {
  std::uint64_t reads = 0;      // polls that returned a count
  std::uint64_t waited = 0;     // of those, polls that had to wait for a lock
  std::uint64_t waited_ms = 0;  // total time waited
  std::uint64_t failed = 0;     // polls that failed (busy after the timeout, missing file, ...)
  std::uint64_t size_warnings = 0;

  /// "watch summary: reads=N waited=N waited_ms=N failed=N size_warnings=N"
  std::string line() const;
  /// Parses line(); nullopt when `text` holds no summary line.
  static std::optional<WatchSummary> parse(const std::string& text);
};

/// Polls until `stop` becomes true or `count` polls are done, one line per
/// poll to `out`. Never throws for database problems: they are printed and
/// counted. Returns the summary (also printed last).
WatchSummary run_watch(const WatchOptions& options, std::ostream& out, const std::atomic<bool>& stop);

}  // namespace busylab::sweep
