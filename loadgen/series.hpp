#pragma once
// --interval: what happens in each interval of a run, recorded by every
// worker thread into its own SeriesRecorder and merged into IntervalSamples
// (Report::series) at the end and, for the lines printed while running, at
// each interval's end. A recorder is thread-safe: its worker records under
// an uncontended mutex and the main thread reads an interval under the same
// mutex once per interval.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "loadgen/report.hpp"

namespace busylab::loadgen {

/// Interval i of several recorders added up, and the sample it makes.
struct IntervalAccumulator {
  std::uint64_t requests = 0;
  std::uint64_t ok = 0;
  std::uint64_t dropped = 0;
  std::array<std::uint64_t, kErrorClasses> errors{};
  std::map<int, std::uint64_t> failed_status;              // non-2xx answers by status
  std::map<std::uint32_t, std::uint64_t> latency_buckets;  // common/histogram.hpp's layout, microseconds
  std::uint64_t min_us = UINT64_MAX;
  std::uint64_t max_us = 0;

  /// Latency percentile q in (0, 1), nearest rank, in microseconds, within
  /// the bucket's 0.4%, clamped to the exact min and max; 0 when empty.
  std::uint64_t percentile_us(double q) const;
  IntervalSample sample(double t_s, double length_s, std::optional<double> target_rate) const;
};

class SeriesRecorder {
 public:
  using Clock = std::chrono::steady_clock;

  /// Interval i is [origin + i * interval, origin + (i + 1) * interval);
  /// with `last`, anything later counts in interval `last`, anything before
  /// `origin` in interval 0.
  SeriesRecorder(Clock::time_point origin, std::chrono::nanoseconds interval, std::optional<std::size_t> last);

  std::size_t index_of(Clock::time_point t) const;

  /// An answer that arrived at `at`. Each recorder is fed by one thread, whose
  /// answers come in time order; out of order is allowed, only slower.
  void answer(Clock::time_point at, std::uint64_t latency_us, int status);
  void error(Clock::time_point at, ErrorClass e);
  /// A request due at `due` and not sent.
  void dropped(Clock::time_point due);

  /// The highest interval index recorded + 1.
  std::size_t size() const;
  /// Adds what interval i holds to `into`.
  void collect(std::size_t i, IntervalAccumulator& into) const;

 private:
  struct Slot {
    std::uint64_t requests = 0, ok = 0, dropped = 0;
    std::array<std::uint64_t, kErrorClasses> errors{};
    std::vector<std::pair<int, std::uint64_t>> failed_status;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> latency_buckets;  // filled when the interval is left
    std::uint64_t min_us = UINT64_MAX, max_us = 0;
  };
  Slot& slot(std::size_t i);
  void compact();  // moves the dense histogram of interval current_ into its slot

  Clock::time_point origin_;
  std::chrono::nanoseconds interval_;
  std::optional<std::size_t> last_;
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
  // The latency buckets of interval current_, dense for a cheap record();
  // [lo_, hi_] is the range used.
  std::vector<std::uint64_t> dense_;
  std::size_t current_ = 0;
  std::size_t lo_ = SIZE_MAX, hi_ = 0;
};

}  // namespace busylab::loadgen
