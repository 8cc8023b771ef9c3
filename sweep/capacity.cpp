#include "sweep/capacity.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace busylab::sweep {

nlohmann::json CapacityStep::to_json() const {
  return {{"rate", rate},
          {"answered_per_s", answered_per_s},
          {"p99_ms", p99_ms ? nlohmann::json(*p99_ms) : nlohmann::json(nullptr)},
          {"failure_rate", failure_rate},
          {"pass", pass},
          {"reason", reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(reason)}};
}

nlohmann::json CapacityResult::to_json() const {
  nlohmann::json s = nlohmann::json::array();
  for (const auto& step : steps) s.push_back(step.to_json());
  return {{"capacity_per_s", capacity_per_s ? nlohmann::json(*capacity_per_s) : nlohmann::json(nullptr)},
          {"reached_max", reached_max},
          {"steps", s}};
}

CapacityResult search_capacity(const CapacitySpec& spec, const std::function<CapacityStep(double rate)>& probe) {
  constexpr std::size_t kMaxSteps = 64;
  CapacityResult result;
  auto run = [&](double rate) {
    CapacityStep step = probe(rate);
    step.rate = rate;
    result.steps.push_back(step);
    return step.pass;
  };
  // Upward: double until a step fails or the ceiling passes.
  std::optional<double> pass, fail;
  for (double rate = std::min(spec.from, spec.max); result.steps.size() < kMaxSteps;) {
    if (!run(rate)) {
      fail = rate;
      break;
    }
    pass = rate;
    if (rate >= spec.max) {
      result.reached_max = true;
      break;
    }
    rate = std::min(rate * 2, spec.max);
  }
  if (!pass) return result;  // even the first rate failed
  // Bisect between the last pass and the first failure.
  while (fail && *fail - *pass > spec.tolerance * *pass && result.steps.size() < kMaxSteps) {
    const double mid = (*pass + *fail) / 2;
    if (run(mid))
      pass = mid;
    else
      fail = mid;
  }
  result.capacity_per_s = pass;
  return result;
}

}  // namespace busylab::sweep
