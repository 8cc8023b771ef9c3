// The log-linear histogram: bucket layout, percentiles of known
// distributions, exact min/max/mean, merging, and lock-free recording.

#include "common/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

namespace busylab {
namespace {

constexpr double kQuantiles[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999};

// The exact q-quantile of sorted values, with the histogram's definition:
// the smallest value with at least ceil(q * n) values at or below it.
std::uint64_t exact_quantile(const std::vector<std::uint64_t>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(q * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_within_one_percent(const Histogram& h, std::vector<std::uint64_t> values) {
  std::sort(values.begin(), values.end());
  for (double q : kQuantiles) {
    const auto exact = static_cast<double>(exact_quantile(values, q));
    const auto got = static_cast<double>(h.percentile(q));
    EXPECT_LE(std::abs(got - exact), 0.01 * exact) << "q=" << q << " exact=" << exact << " got=" << got;
  }
}

TEST(HistogramLayout, SmallValuesHaveTheirOwnBucket) {
  for (std::uint64_t v = 0; v < histogram_layout::kSubCount; ++v) {
    EXPECT_EQ(histogram_layout::index_of(v), v);
    EXPECT_EQ(histogram_layout::value_of(histogram_layout::index_of(v)), v);
  }
}

TEST(HistogramLayout, RelativeErrorIsAtMostOneIn256) {
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 1; v < 200'000; v += 7) values.push_back(v);
  for (int bit = 8; bit < histogram_layout::kMaxBits; ++bit) {
    const std::uint64_t p = std::uint64_t{1} << bit;
    values.insert(values.end(), {p - 1, p, p + 1, p + p / 3});
  }
  for (std::uint64_t v : values) {
    const std::size_t i = histogram_layout::index_of(v);
    ASSERT_LT(i, histogram_layout::kBuckets) << v;
    const auto reported = static_cast<double>(histogram_layout::value_of(i));
    const auto exact = static_cast<double>(v);
    EXPECT_LE(std::abs(reported - exact), exact / 256.0) << "value " << v << " reported as " << reported;
  }
}

TEST(HistogramLayout, IndexIsMonotonicAndContiguous) {
  std::size_t previous = histogram_layout::index_of(0);
  for (std::uint64_t v = 1; v < 100'000; ++v) {
    const std::size_t i = histogram_layout::index_of(v);
    ASSERT_TRUE(i == previous || i == previous + 1) << "value " << v << ": " << previous << " -> " << i;
    previous = i;
  }
}

TEST(HistogramLayout, HugeValuesLandInTheLastBucket) {
  const std::size_t last = histogram_layout::kBuckets - 1;
  EXPECT_EQ(histogram_layout::index_of((std::uint64_t{1} << histogram_layout::kMaxBits) - 1), last);
  EXPECT_EQ(histogram_layout::index_of(std::uint64_t{1} << 50), last);
  EXPECT_EQ(histogram_layout::index_of(UINT64_MAX), last);
}

TEST(Histogram, EmptyHistogram) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.percentile(1.0), 0u);
}

TEST(Histogram, UniformDistribution) {
  Histogram h;
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 1; v <= 100'000; ++v) {
    h.record(v);
    values.push_back(v);
  }
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100'000u);
  EXPECT_DOUBLE_EQ(h.mean(), 50'000.5);
  expect_within_one_percent(h, values);
  // Spot checks against the closed form: the q-quantile of 1..N is ceil(qN).
  EXPECT_NEAR(static_cast<double>(h.percentile(0.5)), 50'000.0, 500.0);
  EXPECT_NEAR(static_cast<double>(h.percentile(0.99)), 99'000.0, 990.0);
}

TEST(Histogram, ConstantDistributionIsExact) {
  Histogram h;
  for (int i = 0; i < 1000; ++i) h.record(12'345);
  EXPECT_EQ(h.min(), 12'345u);
  EXPECT_EQ(h.max(), 12'345u);
  EXPECT_DOUBLE_EQ(h.mean(), 12'345.0);
  for (double q : kQuantiles) EXPECT_EQ(h.percentile(q), 12'345u) << q;
  EXPECT_EQ(h.percentile(0.0), 12'345u);
  EXPECT_EQ(h.percentile(1.0), 12'345u);
}

TEST(Histogram, ExponentialDistribution) {
  // Deterministic exponential quantiles: mean 2000, a long tail.
  Histogram h;
  std::vector<std::uint64_t> values;
  constexpr int kN = 50'000;
  for (int i = 0; i < kN; ++i) {
    const double u = (i + 0.5) / kN;
    const auto v = static_cast<std::uint64_t>(-std::log(1.0 - u) * 2000.0) + 1;
    h.record(v);
    values.push_back(v);
  }
  expect_within_one_percent(h, values);
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  EXPECT_EQ(h.min(), *lo);
  EXPECT_EQ(h.max(), *hi);
}

TEST(Histogram, MinMaxMeanAreExact) {
  Histogram h;
  const std::vector<std::uint64_t> values{1'000'003, 7, 999, 123'456'789, 42};
  std::uint64_t sum = 0;
  for (auto v : values) {
    h.record(v);
    sum += v;
  }
  EXPECT_EQ(h.min(), 7u);
  EXPECT_EQ(h.max(), 123'456'789u);
  EXPECT_DOUBLE_EQ(h.mean(), static_cast<double>(sum) / 5.0);
  EXPECT_EQ(h.percentile(0.0), 7u);
  EXPECT_EQ(h.percentile(1.0), 123'456'789u);
}

TEST(Histogram, PercentilesStayWithinMinAndMax) {
  Histogram h;
  h.record(300);
  h.record(301);
  for (double q : kQuantiles) {
    EXPECT_GE(h.percentile(q), 300u);
    EXPECT_LE(h.percentile(q), 301u);
  }
}

TEST(Histogram, RecordWithCount) {
  Histogram h;
  h.record(10, 3);
  h.record(1000, 1);
  h.record(5, 0);  // no-op
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.min(), 10u);
  EXPECT_DOUBLE_EQ(h.mean(), 1030.0 / 4.0);
  EXPECT_EQ(h.percentile(0.75), 10u);
  EXPECT_NEAR(static_cast<double>(h.percentile(0.76)), 1000.0, 10.0);
}

TEST(Histogram, MergeEqualsRecordingEverythingIntoOne) {
  Histogram a, b, all;
  for (std::uint64_t v = 1; v <= 20'000; v += 3) {
    a.record(v * 5);
    all.record(v * 5);
  }
  for (std::uint64_t v = 1; v <= 5'000; ++v) {
    b.record(v * v);
    all.record(v * v);
  }
  Histogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double q : kQuantiles) EXPECT_EQ(merged.percentile(q), all.percentile(q)) << q;
  for (int i = 1; i < 100; ++i) EXPECT_EQ(merged.percentile(i / 100.0), all.percentile(i / 100.0)) << i;
}

TEST(Histogram, MergeWithEmptyKeepsMinAndMax) {
  Histogram a, empty;
  a.record(50);
  a.record(70);
  a.merge(empty);
  EXPECT_EQ(a.min(), 50u);
  EXPECT_EQ(a.max(), 70u);
  EXPECT_EQ(a.count(), 2u);
  empty.merge(a);
  EXPECT_EQ(empty.min(), 50u);
  EXPECT_EQ(empty.max(), 70u);
  EXPECT_EQ(empty.count(), 2u);
}

TEST(Histogram, ClearResetsEverything) {
  Histogram h;
  h.record(5);
  h.record(500);
  h.clear();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0u);
  h.record(9);
  EXPECT_EQ(h.min(), 9u);
  EXPECT_EQ(h.max(), 9u);
  EXPECT_EQ(h.percentile(0.5), 9u);
}

TEST(AtomicHistogram, EmptySnapshot) {
  AtomicHistogram h;
  const Histogram s = h.snapshot();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.max(), 0u);
}

TEST(AtomicHistogram, ManyThreadsCountEverything) {
  AtomicHistogram h;
  Histogram expected;
  constexpr int kThreads = 4;
  constexpr std::uint64_t kPerThread = 50'000;
  for (int t = 0; t < kThreads; ++t) {
    for (std::uint64_t i = 0; i < kPerThread; ++i) expected.record(1 + t * 1'000'000 + i);
  }
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (std::uint64_t i = 0; i < kPerThread; ++i) h.record(1 + t * 1'000'000 + i);
    });
  }
  for (auto& t : threads) t.join();
  const Histogram s = h.snapshot();
  EXPECT_EQ(s.count(), kThreads * kPerThread);
  EXPECT_EQ(s.min(), 1u);
  EXPECT_EQ(s.max(), 1 + (kThreads - 1) * 1'000'000 + kPerThread - 1);
  EXPECT_DOUBLE_EQ(s.mean(), expected.mean());
  for (double q : kQuantiles) EXPECT_EQ(s.percentile(q), expected.percentile(q)) << q;
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

TEST(HistogramJson, RoundTripKeepsEveryFigure) {
  Histogram h;
  for (std::uint64_t v : {0, 1, 7, 300, 300, 5000, 123456789}) h.record(v);
  const Histogram back = Histogram::from_json(nlohmann::json::parse(h.to_json().dump()));
  EXPECT_EQ(back.count(), h.count());
  EXPECT_EQ(back.sum(), h.sum());
  EXPECT_EQ(back.min(), h.min());
  EXPECT_EQ(back.max(), h.max());
  for (double q : {0.1, 0.5, 0.9, 0.99}) EXPECT_EQ(back.percentile(q), h.percentile(q)) << q;
  EXPECT_EQ(back.count_at_most(300), 5u);
  // Only the buckets in use travel.
  EXPECT_EQ(h.to_json()["buckets"].size(), 6u);
  const Histogram empty = Histogram::from_json(Histogram().to_json());
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_EQ(empty.min(), 0u);
}

TEST(HistogramJson, ForeignDocumentsAreRefused) {
  EXPECT_THROW(Histogram::from_json(nlohmann::json::object()), std::invalid_argument);
  EXPECT_THROW(
      Histogram::from_json(nlohmann::json::parse(R"({"count":1,"sum":1,"min":1,"max":1,"buckets":[[999999,1]]})")),
      std::invalid_argument);
}

TEST(AtomicHistogram, AddSumsAnotherOne) {
  AtomicHistogram a, b;
  a.record(5);
  b.record(1);
  b.record(900);
  a.add(b);
  const Histogram h = a.snapshot();
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.sum(), 906u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 900u);
}

}  // namespace
}  // namespace busylab
