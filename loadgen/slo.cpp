#include "loadgen/slo.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/config_reader.hpp"
#include "loadgen/load_options.hpp"
#include "loadgen/report.hpp"

namespace busylab::loadgen {

namespace {

std::optional<double> Slo::*member(std::string_view key) {
  if (key == "p50_ms") return &Slo::p50_ms;
  if (key == "p90_ms") return &Slo::p90_ms;
  if (key == "p99_ms") return &Slo::p99_ms;
  if (key == "p999_ms") return &Slo::p999_ms;
  if (key == "max_ms") return &Slo::max_ms;
  if (key == "max_failure_rate") return &Slo::max_failure_rate;
  if (key == "min_ok_per_s") return &Slo::min_ok_per_s;
  return nullptr;
}

double upper_bound_of(std::string_view key) {
  return key == "max_failure_rate" ? 1.0 : 1e12;
}

std::string key_list() {
  std::string list;
  for (const auto& k : Slo::keys()) list += (list.empty() ? "" : ", ") + k;
  return list;
}

// The key meant by an unknown one: a near typo (closest_match), else a key
// the word begins ("p99" for p99_ms) or, for longer words, is part of
// ("failure" for max_failure_rate).
std::string suggestion(const std::string& word) {
  if (auto near = closest_match(word, Slo::keys()); !near.empty()) return near;
  if (word.size() < 2) return "";
  for (const auto& k : Slo::keys()) {
    if (k.rfind(word, 0) == 0 || (word.size() >= 4 && k.find(word) != std::string::npos)) return k;
  }
  return "";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// 62.1, 0.001, 1234, 0.0123: four significant digits at most, no exponent
// for ordinary values.
std::string number_text(double v) {
  char buf[64];
  if (v != 0 && (std::fabs(v) >= 1e6 || std::fabs(v) < 1e-4))
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else if (std::fabs(v) >= 1000)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

struct Described {
  std::string label;  // "p99", "failure rate", "ok/s"
  std::string unit;   // " ms" or ""
  bool at_least;      // min_ok_per_s: the value must reach the limit
};

Described describe(std::string_view key) {
  if (key == "max_failure_rate") return {"failure rate", "", false};
  if (key == "min_ok_per_s") return {"ok/s", "", true};
  if (key == "max_ms") return {"max", " ms", false};
  return {std::string(key.substr(0, key.size() - 3)), " ms", false};  // "p99_ms" -> "p99"
}

}  // namespace

const std::vector<std::string>& Slo::keys() {
  static const std::vector<std::string> k{"p50_ms", "p90_ms",           "p99_ms",      "p999_ms",
                                          "max_ms", "max_failure_rate", "min_ok_per_s"};
  return k;
}

bool Slo::empty() const {
  for (const auto& k : keys())
    if (limit(k)) return false;
  return true;
}

std::optional<double> Slo::limit(std::string_view name) const {
  const auto m = member(name);
  return m ? this->*m : std::nullopt;
}

Slo Slo::parse(std::string_view text) {
  Slo slo;
  if (trim(text).empty()) throw LoadArgumentError("--slo is empty; expected KEY=VALUE,... with keys " + key_list());
  std::size_t begin = 0;
  while (begin <= text.size()) {
    auto end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = trim(text.substr(begin, end - begin));
    begin = end + 1;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      throw LoadArgumentError("--slo: '" + std::string(item) + "' must look like KEY=VALUE, e.g. p99_ms=50");
    }
    const std::string key(trim(item.substr(0, eq)));
    const std::string_view number = trim(item.substr(eq + 1));
    const auto m = member(key);
    if (!m) {
      std::string message = "--slo: unknown key '" + key + "'";
      if (const auto near = suggestion(key); !near.empty()) message += " (did you mean '" + near + "'?)";
      throw LoadArgumentError(message + "; keys: " + key_list());
    }
    if (slo.*m) throw LoadArgumentError("--slo: " + key + " is given twice");
    double value = 0;
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(value) ||
        value < 0 || value > upper_bound_of(key)) {
      throw LoadArgumentError("--slo: " + key + ": '" + std::string(number) + "' is not a number from 0 to " +
                              number_text(upper_bound_of(key)));
    }
    slo.*m = value;
  }
  return slo;
}

Slo Slo::from_json(const nlohmann::json& doc, const std::string& where) {
  ConfigObject o(doc, where);
  // Unknown keys first, with a suggestion that also knows "p99" for p99_ms
  // (ConfigObject::finish would only know near typos).
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (member(it.key())) continue;
    std::string message = "unknown key '" + o.full_name(it.key()) + "'";
    if (const auto near = suggestion(it.key()); !near.empty()) {
      message += " (did you mean '" + o.full_name(near) + "'?)";
    } else {
      message += "; known keys here: " + key_list();
    }
    throw ConfigError(message);
  }
  Slo slo;
  for (const auto& key : keys()) {
    if (!o.has(key)) continue;
    double value = 0;
    o.read(key, value, 0, upper_bound_of(key));
    slo.*member(key) = value;
  }
  o.finish();
  if (slo.empty())
    throw ConfigError((where.empty() ? std::string("slo") : where) + ": give at least one of " + key_list());
  return slo;
}

nlohmann::json Slo::to_json() const {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& k : keys())
    if (const auto l = limit(k)) doc[k] = *l;
  return doc;
}

SloVerdict evaluate(const Slo& slo, const Report& report) {
  const Tally& t = report.tally;
  const auto& h = t.latency_us;
  std::uint64_t ok = 0;
  for (const auto& [code, n] : t.status) ok += code >= 200 && code < 300 ? n : 0;
  const std::uint64_t errors = t.error_total();
  const std::uint64_t attempts = t.responses + errors;
  const auto latency_ms = [&](double q) -> std::optional<double> {
    if (h.count() == 0) return std::nullopt;
    return static_cast<double>(q >= 1.0 ? h.max() : h.percentile(q)) / 1000.0;
  };

  SloVerdict verdict;
  for (const auto& key : Slo::keys()) {
    const auto limit = slo.limit(key);
    if (!limit) continue;
    SloCheck c{key, *limit, std::nullopt, false};
    if (key == "p50_ms")
      c.value = latency_ms(0.50);
    else if (key == "p90_ms")
      c.value = latency_ms(0.90);
    else if (key == "p99_ms")
      c.value = latency_ms(0.99);
    else if (key == "p999_ms")
      c.value = latency_ms(0.999);
    else if (key == "max_ms")
      c.value = latency_ms(1.0);
    else if (key == "max_failure_rate") {
      if (attempts > 0) c.value = static_cast<double>(attempts - ok) / static_cast<double>(attempts);
    } else if (key == "min_ok_per_s") {
      c.value = report.duration_s > 0 ? static_cast<double>(ok) / report.duration_s : 0.0;
    }
    const auto d = describe(key);
    if (c.value) c.pass = d.at_least ? *c.value >= c.limit : *c.value <= c.limit;
    if (!c.pass) {
      verdict.pass = false;
      std::string why;
      if (!c.value) {
        why = d.label + " unknown (" + (key == "max_failure_rate" ? "nothing was attempted" : "no answers") + ")";
      } else {
        why = d.label + " " + number_text(*c.value) + d.unit + (d.at_least ? " < " : " > ") + number_text(c.limit) +
              d.unit;
      }
      verdict.reason += (verdict.reason.empty() ? "" : "; ") + why;
    }
    verdict.checks.push_back(std::move(c));
  }
  return verdict;
}

nlohmann::json SloVerdict::to_json() const {
  nlohmann::json checks_doc = nlohmann::json::array();
  for (const auto& c : checks) {
    checks_doc.push_back({{"name", c.name},
                          {"limit", c.limit},
                          {"value", c.value ? nlohmann::json(*c.value) : nlohmann::json(nullptr)},
                          {"pass", c.pass}});
  }
  return {{"pass", pass},
          {"checks", checks_doc},
          {"reason", reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(reason)}};
}

std::string SloVerdict::to_text() const {
  if (!pass) return "  SLO: FAIL: " + reason + "\n";
  std::string parts;
  for (const auto& c : checks) {
    const auto d = describe(c.name);
    parts += (parts.empty() ? "" : ", ") + d.label + " " + number_text(c.value.value_or(0)) + d.unit +
             (d.at_least ? " >= " : " <= ") + number_text(c.limit) + d.unit;
  }
  return "  SLO: pass (" + parts + ")\n";
}

}  // namespace busylab::loadgen
