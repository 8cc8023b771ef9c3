#pragma once
// The open-loop schedule. The rate r(t) is piecewise linear from the start of
// the run: constant with --rate, ramping with --stages (like k6's
// ramping-arrival-rate). Request k of the whole run (0-based) is due when the
// integral of r from the start reaches k, and goes to connection
// k mod connections. With --rate a connection that falls behind sends late
// but is still measured from the due time, so a stalled server shows its real
// latency (coordinated omission corrected); with --stages a request that
// cannot be sent on time is dropped (docs/loadgen.md#how-it-measures).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loadgen/load_options.hpp"

namespace busylab::loadgen {

/// "10s:1000,10s:5000,30s:5000": DURATION:TARGET pairs (any duration
/// parse_duration accepts; TARGET a number >= 0). Throws LoadArgumentError.
std::vector<Stage> parse_stages(std::string_view text);
/// Back to text: "10s:1000,10s:5000".
std::string stages_text(const std::vector<Stage>& stages);
/// The stages' durations added up.
std::chrono::nanoseconds stages_duration(const std::vector<Stage>& stages);

/// A rate that is linear on each segment, in seconds from the schedule's
/// start, and the due times it gives. Immutable; cheap to query.
class RateSchedule {
 public:
  static constexpr double kForever = std::numeric_limits<double>::infinity();

  /// `rate` requests/s from 0 on, without end.
  static RateSchedule constant(double rate);
  /// A warm-up of `warmup_s` at the starting rate, then the stages. The
  /// starting rate is `start_rate`, or the first stage's target when it is
  /// negative (the first stage then holds its rate).
  static RateSchedule staged(const std::vector<Stage>& stages, double start_rate, double warmup_s);

  /// Requests due in [0, t]: the integral of the rate from 0 to t.
  double integral(double t_s) const;
  /// The rate at t (after the end: 0).
  double rate_at(double t_s) const;
  /// When request k (0-based) is due: the t where integral(t) = k, in seconds
  /// from the start; kForever when the schedule ends first.
  double due_s(std::uint64_t k) const;
  /// The schedule's end (kForever for a constant rate).
  double end_s() const { return end_s_; }
  /// Requests due before the end: every k < integral(end) (k = 0, 1, ...);
  /// UINT64_MAX for a schedule without end.
  std::uint64_t total() const { return total_; }
  /// Requests k with k < integral(t), i.e. due before t.
  std::uint64_t count_before(double t_s) const;

 private:
  struct Segment {
    double begin_s = 0;
    double length_s = 0;
    double from = 0;       // rate at begin
    double to = 0;         // rate at begin + length
    double count_at = 0;   // integral(begin)
    double count_end = 0;  // integral(begin + length)
  };
  std::vector<Segment> segments_;
  double end_s_ = kForever;
  std::uint64_t total_ = UINT64_MAX;
};

class OpenLoopSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  /// --rate: `rate` requests/s from `start` on.
  OpenLoopSchedule(double rate, int connections, Clock::time_point start)
      : OpenLoopSchedule(RateSchedule::constant(rate), connections, start) {}
  OpenLoopSchedule(RateSchedule rates, int connections, Clock::time_point start)
      : rates_(std::move(rates)), connections_(connections), start_(start) {}

  /// Request k of the run for the `j`-th request (0-based) of connection `c`.
  std::uint64_t index(int c, std::uint64_t j) const {
    return j * static_cast<std::uint64_t>(connections_) + static_cast<std::uint64_t>(c);
  }
  /// When request k is due; Clock::time_point::max() when never.
  Clock::time_point due(std::uint64_t k) const {
    const double s = rates_.due_s(k);
    if (s == RateSchedule::kForever) return Clock::time_point::max();
    return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
  /// When the `j`-th request (0-based) of connection `c` is due.
  Clock::time_point due(int c, std::uint64_t j) const { return due(index(c, j)); }

  /// Requests of the whole run due at or before `t`.
  std::uint64_t due_by(Clock::time_point t) const {
    if (t < start_) return 0;
    const double n = rates_.integral(std::chrono::duration<double>(t - start_).count());
    return std::min(rates_.total(), static_cast<std::uint64_t>(n) + 1);
  }

  /// Seconds from the start to `t`.
  double seconds(Clock::time_point t) const { return std::chrono::duration<double>(t - start_).count(); }
  Clock::time_point start() const { return start_; }
  const RateSchedule& rates() const { return rates_; }

 private:
  RateSchedule rates_;
  int connections_;
  Clock::time_point start_;
};

/// A send counts as late when it left this long after its due time.
inline constexpr std::chrono::milliseconds kLateThreshold{1};

}  // namespace busylab::loadgen
