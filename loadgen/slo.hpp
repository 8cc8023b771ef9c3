#pragma once
// A service-level objective checked against a load report, like k6's
// thresholds: `busylab load --slo p99_ms=50,max_failure_rate=0.001` exits 3
// when a check fails; `busylab sweep` reads the same keys from an
// experiment's "slo" object. Keys and formulas: docs/loadgen.md#slo.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace busylab::loadgen {

struct Report;  // loadgen/report.hpp

/// The limits; each is optional, at least one is set.
struct Slo {
  std::optional<double> p50_ms;  // latency percentiles, at most (ms)
  std::optional<double> p90_ms;
  std::optional<double> p99_ms;
  std::optional<double> p999_ms;
  std::optional<double> max_ms;            // the slowest answer, at most (ms)
  std::optional<double> max_failure_rate;  // failures / (answers + errors), at most; in [0, 1]
  std::optional<double> min_ok_per_s;      // 2xx answers per second, at least

  /// The keys, in the order they are checked.
  static const std::vector<std::string>& keys();

  /// "p99_ms=50,max_failure_rate=0.001". Throws LoadArgumentError (unknown
  /// key with did-you-mean, a value that is not a number >= 0, a key given
  /// twice, nothing given), its message prefixed with "--slo: ".
  static Slo parse(std::string_view text);
  /// {"p99_ms": 50, "max_failure_rate": 0.001}. Throws busylab::ConfigError
  /// naming `where` and the key ("slo.p99: unknown key ... (did you mean
  /// 'slo.p99_ms'?)"), as every config and experiment file does.
  static Slo from_json(const nlohmann::json& doc, const std::string& where);
  /// The limits set, as from_json reads them.
  nlohmann::json to_json() const;

  bool empty() const;
  /// The limit of key `name` (one of keys()), if set.
  std::optional<double> limit(std::string_view name) const;
};

/// One check: its key, the limit, what the run measured (nothing when it
/// cannot be measured: no answers for a latency, no attempts for the
/// failure rate; such a check fails), and whether it passed.
struct SloCheck {
  std::string name;  // the key, e.g. "p99_ms"
  double limit = 0;
  std::optional<double> value;
  bool pass = false;
};

struct SloVerdict {
  bool pass = true;
  std::vector<SloCheck> checks;  // in the order of Slo::keys()
  /// The failed checks, "p99 62.1 ms > 50 ms; failure rate 0.02 > 0.001";
  /// empty when every check passed.
  std::string reason;

  /// {"pass": bool, "checks": [{"name", "limit", "value", "pass"}],
  ///  "reason": "..." or null}
  nlohmann::json to_json() const;
  /// "  SLO: pass (p99 4.1 ms <= 50 ms, ...)\n" or "  SLO: FAIL: p99 62.1 ms > 50 ms\n".
  std::string to_text() const;
};

/// Checks `report` (its whole measured window) against `slo`. Pure.
/// p*_ms and max_ms: the report's latency (open loop: from the due time);
/// max_failure_rate: (non-2xx answers + errors) / (answers + errors);
/// min_ok_per_s: 2xx answers / duration_s.
SloVerdict evaluate(const Slo& slo, const Report& report);

}  // namespace busylab::loadgen
