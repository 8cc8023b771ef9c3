#pragma once
// The open-loop schedule: request k of the whole run is due at
// start + k / rate, and goes to connection k mod connections. A connection
// that falls behind sends late but is still measured from the due time, so
// a stalled server shows its real latency (coordinated omission corrected).

#include <chrono>
#include <cstdint>

namespace busylab::loadgen {

class OpenLoopSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  OpenLoopSchedule(double rate, int connections, Clock::time_point start)
      : rate_(rate), connections_(connections), start_(start) {}

  /// When the `j`-th request (0-based) of connection `c` is due.
  Clock::time_point due(int c, std::uint64_t j) const {
    const double k = static_cast<double>(j) * connections_ + c;
    return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / rate_));
  }

  /// Requests of the whole run due at or before `t`.
  std::uint64_t due_by(Clock::time_point t) const {
    if (t < start_) return 0;
    const double seconds = std::chrono::duration<double>(t - start_).count();
    return static_cast<std::uint64_t>(seconds * rate_) + 1;
  }

  Clock::time_point start() const { return start_; }
  double rate() const { return rate_; }

 private:
  double rate_;
  int connections_;
  Clock::time_point start_;
};

/// A send counts as late when it left this long after its due time.
inline constexpr std::chrono::milliseconds kLateThreshold{1};

}  // namespace busylab::loadgen
