#pragma once
// What a load run measured, merged from every thread, and its two renderings:
// text like wrk's for people, JSON (schema busylab-load/1, docs/loadgen.md).

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
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

  void merge(const Tally& other);
  std::uint64_t error_total() const;
};

/// The measured figures of one request kind of a workload.
struct KindTally {
  std::string name;
  Tally tally;  // responses, status, errors, bytes_read and latency_us are kept per kind
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
  double duration_s = 0;   // measured window: end of warm-up to last answer
  double peak_rss_mb = 0;  // the generator's own peak memory
  bool reached = true;     // false: no connection to the target ever worked

  double requests_per_s() const { return duration_s > 0 ? static_cast<double>(tally.responses) / duration_s : 0; }
  double bytes_per_s() const { return duration_s > 0 ? static_cast<double>(tally.bytes_read) / duration_s : 0; }

  nlohmann::json to_json() const;
  std::string to_text() const;
};

}  // namespace busylab::loadgen
