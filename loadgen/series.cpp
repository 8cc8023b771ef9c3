#include "loadgen/series.hpp"

#include <algorithm>
#include <cmath>

#include "common/histogram.hpp"

namespace busylab::loadgen {

std::uint64_t IntervalAccumulator::percentile_us(double q) const {
  std::uint64_t count = 0;
  for (const auto& [bucket, n] : latency_buckets) count += n;
  if (count == 0) return 0;
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count))));
  std::uint64_t seen = 0;
  for (const auto& [bucket, n] : latency_buckets) {
    seen += n;
    if (seen >= rank) return std::clamp(histogram_layout::value_of(bucket), min_us, max_us);
  }
  return max_us;
}

IntervalSample IntervalAccumulator::sample(double t_s, double length_s, std::optional<double> target_rate) const {
  IntervalSample s;
  s.t_s = t_s;
  s.length_s = length_s;
  s.requests = requests;
  s.ok = ok;
  s.per_s = length_s > 0 ? static_cast<double>(requests) / length_s : 0;
  s.ok_per_s = length_s > 0 ? static_cast<double>(ok) / length_s : 0;
  for (const auto& [status, n] : failed_status) {
    s.failures += n;
    s.failures_by_cause[std::to_string(status)] += n;
  }
  for (std::size_t e = 0; e < kErrorClasses; ++e) {
    if (!errors[e]) continue;
    s.failures += errors[e];
    s.failures_by_cause[std::string(to_string(static_cast<ErrorClass>(e)))] += errors[e];
  }
  if (!latency_buckets.empty()) {
    s.p50_ms = static_cast<double>(percentile_us(0.50)) / 1000.0;
    s.p99_ms = static_cast<double>(percentile_us(0.99)) / 1000.0;
    s.max_ms = static_cast<double>(max_us) / 1000.0;
  }
  s.dropped = dropped;
  s.target_rate = target_rate;
  return s;
}

SeriesRecorder::SeriesRecorder(Clock::time_point origin, std::chrono::nanoseconds interval,
                               std::optional<std::size_t> last)
    : origin_(origin), interval_(interval), last_(last), dense_(histogram_layout::kBuckets, 0) {}

std::size_t SeriesRecorder::index_of(Clock::time_point t) const {
  if (t <= origin_) return 0;
  const auto i = static_cast<std::size_t>((t - origin_).count() / interval_.count());
  return last_ && i > *last_ ? *last_ : i;
}

SeriesRecorder::Slot& SeriesRecorder::slot(std::size_t i) {
  if (i >= slots_.size()) slots_.resize(i + 1);
  return slots_[i];
}

void SeriesRecorder::compact() {
  if (lo_ > hi_) return;
  auto& buckets = slots_[current_].latency_buckets;
  for (std::size_t b = lo_; b <= hi_; ++b) {
    if (dense_[b] == 0) continue;
    buckets.emplace_back(static_cast<std::uint32_t>(b), dense_[b]);
    dense_[b] = 0;
  }
  lo_ = SIZE_MAX;
  hi_ = 0;
}

void SeriesRecorder::answer(Clock::time_point at, std::uint64_t latency_us, int status) {
  const std::size_t i = index_of(at);
  const std::size_t b = histogram_layout::index_of(latency_us);
  std::lock_guard lock(mutex_);
  Slot& s = slot(i);
  if (i != current_) {
    compact();
    current_ = i;
  }
  ++dense_[b];
  lo_ = std::min(lo_, b);
  hi_ = std::max(hi_, b);
  ++s.requests;
  s.min_us = std::min(s.min_us, latency_us);
  s.max_us = std::max(s.max_us, latency_us);
  if (status >= 200 && status < 300) {
    ++s.ok;
    return;
  }
  for (auto& [code, n] : s.failed_status) {
    if (code == status) {
      ++n;
      return;
    }
  }
  s.failed_status.emplace_back(status, 1);
}

void SeriesRecorder::error(Clock::time_point at, ErrorClass e) {
  const std::size_t i = index_of(at);
  std::lock_guard lock(mutex_);
  ++slot(i).errors[static_cast<std::size_t>(e)];
}

void SeriesRecorder::dropped(Clock::time_point due) {
  const std::size_t i = index_of(due);
  std::lock_guard lock(mutex_);
  ++slot(i).dropped;
}

std::size_t SeriesRecorder::size() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

void SeriesRecorder::collect(std::size_t i, IntervalAccumulator& into) const {
  std::lock_guard lock(mutex_);
  if (i >= slots_.size()) return;
  const Slot& s = slots_[i];
  into.requests += s.requests;
  into.ok += s.ok;
  into.dropped += s.dropped;
  for (std::size_t e = 0; e < kErrorClasses; ++e) into.errors[e] += s.errors[e];
  for (const auto& [code, n] : s.failed_status) into.failed_status[code] += n;
  for (const auto& [bucket, n] : s.latency_buckets) into.latency_buckets[bucket] += n;
  if (i == current_) {
    for (std::size_t b = lo_; b <= hi_ && b < dense_.size(); ++b) {
      if (dense_[b]) into.latency_buckets[static_cast<std::uint32_t>(b)] += dense_[b];
    }
  }
  into.min_us = std::min(into.min_us, s.min_us);
  into.max_us = std::max(into.max_us, s.max_us);
}

}  // namespace busylab::loadgen
