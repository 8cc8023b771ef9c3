// The capacity search: doubling from `from` until a step fails, then
// bisecting to the tolerance, against a probe whose limit is known.

#include "sweep/capacity.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace busylab::sweep {
namespace {

// A server that keeps up to `limit` requests/s and fails above it.
auto limited(double limit, std::vector<double>* tried = nullptr) {
  return [limit, tried](double rate) {
    if (tried) tried->push_back(rate);
    CapacityStep step;
    step.pass = rate <= limit;
    step.reason = step.pass ? "" : "p99 too high";
    return step;
  };
}

TEST(CapacitySearch, FindsAKnownLimitWithinTheTolerance) {
  for (const double limit : {150.0, 999.0, 3000.0, 12345.0, 70000.0}) {
    SCOPED_TRACE(limit);
    CapacitySpec spec;
    spec.from = 100;
    spec.max = 100000;
    spec.tolerance = 0.05;
    const CapacityResult r = search_capacity(spec, limited(limit));
    ASSERT_TRUE(r.capacity_per_s.has_value());
    EXPECT_LE(*r.capacity_per_s, limit) << "never above what passed";
    EXPECT_GE(*r.capacity_per_s, limit / (1 + spec.tolerance)) << "within the tolerance below it";
    EXPECT_FALSE(r.reached_max);
    // Every step is recorded with its rate and verdict, and the answer is the highest pass.
    double highest_pass = 0;
    for (const auto& s : r.steps) {
      EXPECT_EQ(s.pass, s.rate <= limit);
      if (s.pass) highest_pass = std::max(highest_pass, s.rate);
    }
    EXPECT_EQ(*r.capacity_per_s, highest_pass);
    EXPECT_LE(r.steps.size(), 20u) << "doubling then bisecting takes few steps";
  }
}

TEST(CapacitySearch, DoublesFirstThenBisects) {
  std::vector<double> tried;
  CapacitySpec spec;
  spec.from = 100;
  spec.max = 100000;
  spec.tolerance = 0.1;
  search_capacity(spec, limited(500, &tried));
  ASSERT_GE(tried.size(), 4u);
  EXPECT_EQ(tried[0], 100);
  EXPECT_EQ(tried[1], 200);
  EXPECT_EQ(tried[2], 400);
  EXPECT_EQ(tried[3], 800);  // the first failure
  EXPECT_EQ(tried[4], 600);  // then halfway between 400 and 800
}

TEST(CapacitySearch, StopsAtTheCeilingAndWhenEvenTheFirstRateFails) {
  CapacitySpec spec;
  spec.from = 100;
  spec.max = 1000;
  const CapacityResult all = search_capacity(spec, limited(1e9));
  EXPECT_TRUE(all.reached_max);
  EXPECT_EQ(all.capacity_per_s, 1000) << "the ceiling itself is tried";
  EXPECT_EQ(all.steps.back().rate, 1000);

  const CapacityResult none = search_capacity(spec, limited(50));
  EXPECT_FALSE(none.capacity_per_s.has_value());
  ASSERT_EQ(none.steps.size(), 1u);
  EXPECT_FALSE(none.steps[0].pass);
}

}  // namespace
}  // namespace busylab::sweep
