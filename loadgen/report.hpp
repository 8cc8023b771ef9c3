#pragma once
// What a load run measured, merged from every thread, and its two renderings:
// text like wrk's for people, JSON (schema busylab-load/1, docs/loadgen.md).

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.hpp"
#include "loadgen/load_options.hpp"
#include "loadgen/schedule.hpp"
#include "loadgen/workload.hpp"

namespace busylab::loadgen {

enum class ErrorClass { kConnect, kRead, kWrite, kTimeout, kParse, kReset, kCount_ };
std::string_view to_string(ErrorClass e);
inline constexpr std::size_t kErrorClasses = static_cast<std::size_t>(ErrorClass::kCount_);

/// Counts kept by one thread; merge() adds another thread's.
struct Tally {
  Histogram latency_us;
  std::map<int, std::uint64_t> status;
  std::array<std::uint64_t, kErrorClasses> errors{};
  std::uint64_t responses = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t connects = 0;    // TCP connections opened
  std::uint64_t reconnects = 0;  // reopened after the server closed one or an error
  std::uint64_t late_sends = 0;  // open loop: sent more than kLateThreshold after due
  std::uint64_t dropped = 0;     // --stages: due but not sent (the connection was busy or too late)

  void merge(const Tally& other);
  std::uint64_t error_total() const;
};

/// The measured figures of one request kind of a workload.
struct KindTally {
  std::string name;
  Tally tally;  // responses, status, errors, bytes_read and latency_us are kept per kind
};

/// One interval of --interval: what happened in [t_s - length_s, t_s) of
/// the measured window (answers by when they arrived, errors by when they
/// happened, dropped requests by when they were due).
struct IntervalSample {
  double t_s = 0;                                          // end of the interval, seconds since the measured start
  double length_s = 0;                                     // its length: the interval, or less for the last one
  std::uint64_t requests = 0;                              // answers, any status
  std::uint64_t ok = 0;                                    // 2xx answers
  double per_s = 0;                                        // requests / length_s
  double ok_per_s = 0;                                     // ok / length_s
  std::uint64_t failures = 0;                              // non-2xx answers plus errors
  std::map<std::string, std::uint64_t> failures_by_cause;  // "503", "timeout", "connect", ...
  std::optional<double> p50_ms, p99_ms, max_ms;            // of the answers in it; nothing when none
  std::uint64_t dropped = 0;                               // --stages
  std::optional<double> target_rate;                       // open loop: the schedule's mean rate over it

  nlohmann::json to_json() const;
  /// One line for stderr while running: "[  2.0s] 4810/s ok 4810/s ...".
  std::string line() const;
};

struct Report {
  LoadOptions options;  // as run: duration defaulted, seed set when there is a workload
  Tally tally;
  /// With a workload: one per request kind, in the file's order, measured
  /// like `tally` (warm-up excluded). Their responses add up to
  /// tally.responses and their errors to tally's, except connect errors,
  /// which belong to no kind (nothing was sent). Empty without a workload.
  std::vector<KindTally> kinds;
  /// What the server acknowledged, from every request of the run, warm-up
  /// included (workload or not).
  Ledger ledger;
  /// With --interval: one sample per interval of the measured window (the
  /// warm-up has none); answers that arrive after the duration, to requests
  /// in flight at its end, count in the last interval. Empty without.
  std::vector<IntervalSample> series;
  /// --stages: the requests due in the measured window (sent or dropped).
  std::optional<std::uint64_t> scheduled;
  double duration_s = 0;   // measured window: end of warm-up to last answer
  double peak_rss_mb = 0;  // the generator's own peak memory
  bool reached = true;     // false: no connection to the target ever worked

  double requests_per_s() const { return duration_s > 0 ? static_cast<double>(tally.responses) / duration_s : 0; }
  double bytes_per_s() const { return duration_s > 0 ? static_cast<double>(tally.bytes_read) / duration_s : 0; }

  nlohmann::json to_json() const;
  std::string to_text() const;
};

}  // namespace busylab::loadgen
