#include "loadgen/schedule.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "loadgen/load_options.hpp"

namespace busylab::loadgen {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Requests k (0, 1, ...) with k < n, allowing for rounding in n.
std::uint64_t whole_requests_below(double n) {
  if (!(n > 0)) return 0;
  return static_cast<std::uint64_t>(std::ceil(n - 1e-9 * std::max(1.0, n)));
}

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

std::vector<Stage> parse_stages(std::string_view text) {
  const std::string shown(text);
  std::vector<Stage> stages;
  if (trim(text).empty()) throw LoadArgumentError("--stages is empty; expected e.g. 10s:1000,10s:5000");
  std::size_t begin = 0;
  while (begin <= text.size()) {
    auto end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = trim(text.substr(begin, end - begin));
    const std::string item_text(item);
    const auto colon = item.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= item.size()) {
      throw LoadArgumentError("--stages: '" + item_text +
                              "' must look like DURATION:TARGET, e.g. 10s:1000 (a rate of 1000 requests/s "
                              "reached after 10 s)");
    }
    Stage stage;
    stage.duration = parse_duration(trim(item.substr(0, colon)), "--stages '" + item_text + "'");
    const std::string_view number = trim(item.substr(colon + 1));
    double target = 0;
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), target);
    if (ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(target) || target < 0) {
      throw LoadArgumentError("--stages: '" + item_text + "': target '" + std::string(number) +
                              "' is not a rate; expected a number of requests/s >= 0");
    }
    stage.target = target;
    stages.push_back(stage);
    begin = end + 1;
  }
  return stages;
}

std::string stages_text(const std::vector<Stage>& stages) {
  std::string text;
  for (const auto& s : stages) {
    if (!text.empty()) text += ',';
    const auto ns = s.duration.count();
    if (ns % 1'000'000'000 == 0)
      text += std::to_string(ns / 1'000'000'000) + "s";
    else if (ns % 1'000'000 == 0)
      text += std::to_string(ns / 1'000'000) + "ms";
    else
      text += short_number(std::chrono::duration<double>(s.duration).count()) + "s";
    text += ':' + short_number(s.target);
  }
  return text;
}

std::chrono::nanoseconds stages_duration(const std::vector<Stage>& stages) {
  std::chrono::nanoseconds total{0};
  for (const auto& s : stages) total += s.duration;
  return total;
}

RateSchedule RateSchedule::constant(double rate) {
  RateSchedule r;
  r.segments_.push_back({0, kForever, rate, rate, 0, kForever});
  return r;
}

RateSchedule RateSchedule::staged(const std::vector<Stage>& stages, double start_rate, double warmup_s) {
  RateSchedule r;
  double rate = start_rate >= 0 ? start_rate : (stages.empty() ? 0.0 : stages.front().target);
  double t = 0, count = 0;
  const auto add = [&](double length, double from, double to) {
    const double end_count = count + length * (from + to) / 2;
    r.segments_.push_back({t, length, from, to, count, end_count});
    t += length;
    count = end_count;
  };
  if (warmup_s > 0) add(warmup_s, rate, rate);
  for (const auto& s : stages) {
    add(std::chrono::duration<double>(s.duration).count(), rate, s.target);
    rate = s.target;
  }
  r.end_s_ = t;
  r.total_ = whole_requests_below(count);
  return r;
}

double RateSchedule::integral(double t_s) const {
  if (!(t_s > 0) || segments_.empty()) return 0;
  // The last segment that begins at or before t.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), t_s,
                             [](double t, const Segment& s) { return t < s.begin_s; });
  const Segment& s = *(it - 1);
  const double tau = std::min(t_s - s.begin_s, s.length_s);
  if (s.from == s.to) return s.count_at + s.from * tau;
  return s.count_at + s.from * tau + (s.to - s.from) * tau * tau / (2 * s.length_s);
}

double RateSchedule::rate_at(double t_s) const {
  if (t_s < 0 || t_s >= end_s_ || segments_.empty()) return 0;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), t_s,
                             [](double t, const Segment& s) { return t < s.begin_s; });
  const Segment& s = *(it - 1);
  if (s.from == s.to) return s.from;
  return s.from + (s.to - s.from) * (t_s - s.begin_s) / s.length_s;
}

double RateSchedule::due_s(std::uint64_t k) const {
  if (k >= total_ || segments_.empty()) return kForever;
  const double kd = static_cast<double>(k);
  // The first t where the integral reaches k: in the first segment whose end
  // count is at least k, skipping segments without requests (rate 0
  // throughout: request 0 of "1s:0,1s:10" is due at 1 s, not 0).
  auto it =
      std::partition_point(segments_.begin(), segments_.end(), [kd](const Segment& s) { return s.count_end < kd; });
  while (it != segments_.end() && it->count_end <= it->count_at && it + 1 != segments_.end()) ++it;
  if (it == segments_.end()) return kForever;
  const Segment& s = *it;
  const double m = kd - s.count_at;  // requests into this segment
  double tau = 0;
  if (m > 0) {
    if (s.from == s.to) {
      if (!(s.from > 0)) return kForever;
      tau = m / s.from;
    } else {
      // from*tau + slope*tau^2/2 = m, solved in the form that is exact for a
      // slope near 0 and for from = 0.
      const double slope = (s.to - s.from) / s.length_s;
      const double root = std::sqrt(std::max(0.0, s.from * s.from + 2 * slope * m));
      const double denominator = s.from + root;
      if (!(denominator > 0)) return kForever;
      tau = std::min(2 * m / denominator, s.length_s);
    }
  }
  return s.begin_s + tau;
}

std::uint64_t RateSchedule::count_before(double t_s) const {
  return std::min(total_, whole_requests_below(integral(t_s)));
}

}  // namespace busylab::loadgen
