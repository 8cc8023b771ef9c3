#pragma once
// Capacity under an SLO: the highest open-loop rate a configuration sustains
// while its SLO holds. A cell with an experiment's "capacity" key runs steps
// of `step_duration` at rising rates against one server: doubling from
// `from` until a step fails (or `max` passes), then bisecting between the
// last pass and the first failure until they are within `tolerance` of each
// other. A step passes when the SLO holds and the server answered at least
// (1 - tolerance) of the offered rate.

#include <chrono>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace busylab::sweep {

struct CapacitySpec {
  double from = 100;  // first rate, requests/s
  double max = 1e6;   // no rate above it is tried
  std::chrono::nanoseconds step_duration = std::chrono::seconds(3);
  double tolerance = 0.05;  // bisect until (fail - pass) <= tolerance * pass
};

struct CapacityStep {
  double rate = 0;  // offered, requests/s
  double answered_per_s = 0;
  std::optional<double> p99_ms;
  double failure_rate = 0;  // (5xx + unanswered) / attempts
  bool pass = false;
  std::string reason;  // why not, when it failed
  nlohmann::json to_json() const;
};

struct CapacityResult {
  // The highest passing rate; none when even `from` failed.
  std::optional<double> capacity_per_s;
  bool reached_max = false;         // `max` passed: the capacity is at least that
  std::vector<CapacityStep> steps;  // in the order they ran
  nlohmann::json to_json() const;
};

/// The search, given `probe`, which runs one step at a rate. Pure apart from
/// what `probe` does; at most 64 steps.
CapacityResult search_capacity(const CapacitySpec& spec, const std::function<CapacityStep(double rate)>& probe);

}  // namespace busylab::sweep
