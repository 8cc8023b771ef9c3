#pragma once
// Runs a load: one io_context per thread, the connections spread over the
// threads, each connection a coroutine sending the pre-serialized request.
// Closed loop by default; open loop on a fixed schedule with --rate.

#include <cstdint>
#include <functional>
#include <stdexcept>

#include "loadgen/load_options.hpp"
#include "loadgen/report.hpp"

namespace busylab::loadgen {

/// The target cannot be reached at all (name does not resolve, nothing
/// listens). `busylab load` exits 1 for it.
class LoadTargetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Progress {
  double elapsed_s = 0;  // since the start (warm-up included)
  std::uint64_t responses = 0;
  std::uint64_t errors = 0;
  double rate = 0;  // responses/s over the last interval
  bool warming_up = false;
};

/// Runs `options` to completion and returns the merged report. Blocks the
/// calling thread, which calls `on_progress` about once a second and, with
/// options.interval, `on_interval` once per interval of the measured window,
/// in order: each shortly after the interval's end from what had been
/// recorded by then, the last ones when the run has ended (Report::series
/// has the complete figures). Throws LoadArgumentError for bad options and
/// LoadTargetError when the target cannot be resolved or refuses the first
/// connection.
Report run_load(const LoadOptions& options, const std::function<void(const Progress&)>& on_progress = {},
                const std::function<void(const IntervalSample&)>& on_interval = {});

}  // namespace busylab::loadgen
