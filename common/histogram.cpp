#include "common/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace busylab {
namespace histogram_layout {

std::size_t index_of(std::uint64_t value) {
  constexpr std::uint64_t kLargest = (std::uint64_t{1} << kMaxBits) - 1;
  value = std::min(value, kLargest);
  const int width = std::bit_width(value);
  const int shift = width > kSubBits ? width - kSubBits : 0;
  // For shift > 0 the top bits lie in [kHalf, kSubCount); indexes stay contiguous.
  return static_cast<std::size_t>(shift) * kHalf + static_cast<std::size_t>(value >> shift);
}

std::uint64_t value_of(std::size_t index) {
  if (index < kSubCount) return index;
  const std::size_t shift = index / kHalf - 1;
  const std::uint64_t top = index - shift * kHalf;
  const std::uint64_t low = top << shift;
  return low + ((std::uint64_t{1} << shift) >> 1);
}

}  // namespace histogram_layout

using namespace histogram_layout;

Histogram::Histogram() : buckets_(kBuckets, 0) {}

void Histogram::record(std::uint64_t value, std::uint64_t count) {
  if (count == 0) return;
  buckets_[index_of(value)] += count;
  count_ += count;
  sum_ += value * count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::clear() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
}

std::uint64_t Histogram::count_at_most(std::uint64_t value) const {
  const std::size_t last = index_of(value);
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= last; ++i) n += buckets_[i];
  return n;
}

std::uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  if (q <= 0.0) return min();
  if (q >= 1.0) return max_;
  // The rank of the q-quantile, 1-based: the smallest value with at least q*count at or below it.
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(value_of(i), min(), max_);
  }
  return max_;
}

nlohmann::json Histogram::to_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (buckets_[i] != 0) buckets.push_back({i, buckets_[i]});
  }
  return {{"count", count_}, {"sum", sum_}, {"min", min()}, {"max", max_}, {"buckets", std::move(buckets)}};
}

Histogram Histogram::from_json(const nlohmann::json& doc) {
  Histogram h;
  try {
    for (const auto& b : doc.at("buckets")) {
      const auto index = b.at(0).get<std::size_t>();
      if (index >= kBuckets) throw std::invalid_argument("histogram bucket index out of range");
      h.buckets_[index] += b.at(1).get<std::uint64_t>();
    }
    h.count_ = doc.at("count").get<std::uint64_t>();
    h.sum_ = doc.at("sum").get<std::uint64_t>();
    h.max_ = doc.at("max").get<std::uint64_t>();
    h.min_ = h.count_ ? doc.at("min").get<std::uint64_t>() : UINT64_MAX;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("not a histogram document: ") + e.what());
  }
  return h;
}

AtomicHistogram::AtomicHistogram() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
}

void AtomicHistogram::record(std::uint64_t value) {
  buckets_[index_of(value)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  auto lo = min_.load(std::memory_order_relaxed);
  while (value < lo && !min_.compare_exchange_weak(lo, value, std::memory_order_relaxed)) {
  }
  auto hi = max_.load(std::memory_order_relaxed);
  while (value > hi && !max_.compare_exchange_weak(hi, value, std::memory_order_relaxed)) {
  }
}

Histogram AtomicHistogram::snapshot() const {
  Histogram h;
  for (std::size_t i = 0; i < kBuckets; ++i) h.buckets_[i] = buckets_[i].load(std::memory_order_relaxed);
  h.count_ = 0;
  for (auto b : h.buckets_) h.count_ += b;  // consistent with the buckets copied
  h.sum_ = sum_.load(std::memory_order_relaxed);
  h.min_ = min_.load(std::memory_order_relaxed);
  h.max_ = max_.load(std::memory_order_relaxed);
  return h;
}

void AtomicHistogram::add(const AtomicHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (const auto n = other.buckets_[i].load(std::memory_order_relaxed))
      buckets_[i].fetch_add(n, std::memory_order_relaxed);
  }
  count_.fetch_add(other.count_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  sum_.fetch_add(other.sum_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  const auto lo = other.min_.load(std::memory_order_relaxed);
  auto mine = min_.load(std::memory_order_relaxed);
  while (lo < mine && !min_.compare_exchange_weak(mine, lo, std::memory_order_relaxed)) {
  }
  const auto hi = other.max_.load(std::memory_order_relaxed);
  mine = max_.load(std::memory_order_relaxed);
  while (hi > mine && !max_.compare_exchange_weak(mine, hi, std::memory_order_relaxed)) {
  }
}

}  // namespace busylab
