#pragma once
// Log-linear latency histogram (the HdrHistogram idea, written small): values
// are bucketed by their top 8 significant bits, so any recorded value is
// reported within 1/256 (0.4%) of its true value, from 1 to 2^40 units. With
// microseconds as the unit that covers 1 us to 12 days in 8,960 buckets.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

namespace busylab {

namespace histogram_layout {
inline constexpr int kSubBits = 8;  // 256 sub-buckets per power of two
inline constexpr std::uint64_t kSubCount = 1u << kSubBits;
inline constexpr std::uint64_t kHalf = kSubCount / 2;
inline constexpr int kMaxBits = 40;  // largest value: 2^40 - 1
inline constexpr std::size_t kBuckets = (kMaxBits - kSubBits + 2) * kHalf;

/// Bucket index of `value` (values above the range land in the last bucket).
std::size_t index_of(std::uint64_t value);
/// The value reported for a bucket: the middle of the bucket's range.
std::uint64_t value_of(std::size_t index);
}  // namespace histogram_layout

/// A histogram owned by one thread; merge() combines per-thread histograms.
class Histogram {
 public:
  Histogram();
  void record(std::uint64_t value, std::uint64_t count = 1);
  void merge(const Histogram& other);
  void clear();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  /// The value at quantile q in [0, 1] (0 when empty); exact min/max at the ends.
  std::uint64_t percentile(double q) const;
  /// The sum of every recorded value.
  std::uint64_t sum() const { return sum_; }
  /// How many recorded values are at most `value` (a Prometheus bucket's
  /// cumulative count). Exact below 256; above, the bucket holding `value`
  /// counts whole, so values up to 0.4% above it may be included.
  std::uint64_t count_at_most(std::uint64_t value) const;

  /// A compact JSON form (only the buckets in use) and back, for carrying a
  /// histogram between processes. from_json throws std::invalid_argument
  /// on a document that to_json did not write.
  nlohmann::json to_json() const;
  static Histogram from_json(const nlohmann::json& doc);

 private:
  friend class AtomicHistogram;
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

/// A histogram many threads record into without locks; snapshot() copies it.
/// Thread-safe. Counts are relaxed: a snapshot taken during recording may be
/// off by the records in flight, never corrupt. Holds no pointers (its
/// buckets are inline), so it may live in memory shared between processes.
class AtomicHistogram {
 public:
  AtomicHistogram();
  void record(std::uint64_t value);
  Histogram snapshot() const;
  /// Adds everything `other` holds now (for totals over several).
  void add(const AtomicHistogram& other);

 private:
  std::array<std::atomic<std::uint64_t>, histogram_layout::kBuckets> buckets_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{UINT64_MAX};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace busylab
