// busylab load --stages (the ramping open-loop schedule) and --interval (the
// per-interval series): due times against the integral of the rate, request
// counts, parsing and conflicts, and the recorder that builds the series.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "loadgen/load_options.hpp"
#include "loadgen/report.hpp"
#include "loadgen/schedule.hpp"
#include "loadgen/series.hpp"

namespace busylab::loadgen {
namespace {

using namespace std::chrono_literals;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const LoadArgumentError& e) {
    return e.what();
  }
  return "";
}

// The time at which the integral of `rate` from 0 reaches k, found by
// summing the rate in steps of 1 us, independently of RateSchedule.
double crossing(const std::function<double(double)>& rate, double k) {
  const double dt = 1e-6;
  double sum = 0, t = 0;
  while (sum < k) {
    sum += (rate(t) + rate(t + dt)) / 2 * dt;
    t += dt;
    if (t > 100) return -1;
  }
  return t;
}

TEST(Stages, ParseAndPrint) {
  const auto s = parse_stages("10s:1000, 500ms:5000,2m:0");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].duration, 10s);
  EXPECT_EQ(s[0].target, 1000);
  EXPECT_EQ(s[1].duration, 500ms);
  EXPECT_EQ(s[1].target, 5000);
  EXPECT_EQ(s[2].duration, 120s);
  EXPECT_EQ(s[2].target, 0);
  EXPECT_EQ(stages_text(s), "10s:1000,500ms:5000,120s:0");
  EXPECT_EQ(stages_duration(s), 130500ms);
  EXPECT_NE(error_of([] { parse_stages(""); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([] { parse_stages("10s"); }).find("DURATION:TARGET"), std::string::npos);
  EXPECT_NE(error_of([] { parse_stages("10s:100,"); }).find("DURATION:TARGET"), std::string::npos);
  EXPECT_NE(error_of([] { parse_stages("10x:100"); }).find("unknown unit"), std::string::npos);
  EXPECT_NE(error_of([] { parse_stages("10s:-5"); }).find("not a rate"), std::string::npos);
  EXPECT_NE(error_of([] { parse_stages("10s:fast"); }).find("not a rate"), std::string::npos);
  EXPECT_NE(error_of([] { parse_stages("0s:100"); }), "");
}

TEST(Stages, ConstantStageIsDueEveryOneOverRate) {
  const auto r = RateSchedule::staged(parse_stages("1s:100"), -1, 0);
  EXPECT_EQ(r.total(), 100u);  // k = 0..99 are due before 1 s
  EXPECT_DOUBLE_EQ(r.end_s(), 1.0);
  for (std::uint64_t k : {0u, 1u, 37u, 99u}) EXPECT_NEAR(r.due_s(k), static_cast<double>(k) / 100, 1e-9) << k;
  EXPECT_EQ(r.due_s(100), RateSchedule::kForever);
  EXPECT_DOUBLE_EQ(r.integral(0.5), 50);
  EXPECT_DOUBLE_EQ(r.rate_at(0.5), 100);
  EXPECT_EQ(r.rate_at(1.0), 0);
}

TEST(Stages, RampDueTimesMatchTheIntegralOfTheRate) {
  // 1 s at 100/s, then 100 -> 300/s over 1 s: 100 + 200 = 300 requests.
  const auto r = RateSchedule::staged(parse_stages("1s:100,1s:300"), -1, 0);
  EXPECT_EQ(r.total(), 300u);
  const auto rate = [](double t) { return t < 1 ? 100.0 : t < 2 ? 100.0 + 200.0 * (t - 1) : 0.0; };
  for (std::uint64_t k : {1u, 50u, 100u, 101u, 150u, 200u, 250u, 299u}) {
    const double expected = crossing(rate, static_cast<double>(k));
    EXPECT_NEAR(r.due_s(k), expected, 1e-3) << "request " << k;
    EXPECT_NEAR(r.integral(r.due_s(k)), static_cast<double>(k), 1e-6) << "request " << k;
  }
  EXPECT_NEAR(r.rate_at(1.5), 200, 1e-9);
  EXPECT_NEAR(r.integral(1.5), 100 + 100 * 0.5 + 100 * 0.25, 1e-9);
  // Due times only grow, and every request is due before the end.
  for (std::uint64_t k = 1; k < r.total(); ++k) ASSERT_GT(r.due_s(k), r.due_s(k - 1)) << k;
  EXPECT_LT(r.due_s(299), 2.0);
}

TEST(Stages, StartRateAndRampsDownToZero) {
  // k6's default: the first stage starts from 0.
  const auto from_zero = RateSchedule::staged(parse_stages("1s:100"), 0, 0);
  EXPECT_EQ(from_zero.total(), 50u);
  EXPECT_EQ(from_zero.due_s(0), 0);
  EXPECT_NEAR(from_zero.due_s(8), std::sqrt(2.0 * 8 / 100), 1e-9);  // 50 t^2 = 8
  const auto down = RateSchedule::staged(parse_stages("1s:100,1s:0"), -1, 0);
  EXPECT_EQ(down.total(), 150u);
  EXPECT_LT(down.due_s(149), 2.0);
  EXPECT_GT(down.due_s(149), 1.8);
  // A pause at 0 in the middle: nothing is due during it. Request 15 is due
  // when the integral reaches 15, as the rate reaches 0 at 2 s.
  const auto pause = RateSchedule::staged(parse_stages("1s:10,1s:0,1s:0,1s:10"), -1, 0);
  EXPECT_EQ(pause.total(), 10u + 5 + 5);
  EXPECT_LT(pause.due_s(14), 2.0);
  EXPECT_NEAR(pause.due_s(15), 2.0, 1e-9);
  EXPECT_GT(pause.due_s(16), 3.0);
  // Starting at 0 for a while: request 0 is due when the rate starts to rise.
  const auto late = RateSchedule::staged(parse_stages("1s:0,1s:10"), -1, 0);
  EXPECT_EQ(late.total(), 5u);
  EXPECT_NEAR(late.due_s(0), 1.0, 1e-9);
  EXPECT_NEAR(late.due_s(2), 1.0 + std::sqrt(2.0 * 2 / 10), 1e-9);
}

TEST(Stages, WarmupRunsAtTheStartingRateBeforeTheStages) {
  const auto r = RateSchedule::staged(parse_stages("1s:100"), -1, 0.5);
  EXPECT_EQ(r.count_before(0.5), 50u);  // the warm-up's requests
  EXPECT_EQ(r.total(), 150u);
  EXPECT_NEAR(r.due_s(50), 0.5, 1e-9);
  EXPECT_DOUBLE_EQ(r.end_s(), 1.5);
}

TEST(Stages, RequestsSpreadOverTheConnections) {
  const auto start = OpenLoopSchedule::Clock::now();
  const OpenLoopSchedule s(RateSchedule::staged(parse_stages("1s:1000"), -1, 0), 4, start);
  EXPECT_EQ(s.index(3, 2), 11u);
  EXPECT_EQ(s.due(0, 0), start);
  EXPECT_EQ(s.due(3, 0) - start, 3ms);
  EXPECT_EQ(s.due(2, 5) - start, 22ms);
  EXPECT_EQ(s.due(0, 250), OpenLoopSchedule::Clock::time_point::max());  // request 1000: after the end
  EXPECT_EQ(s.due_by(start + 10s), 1000u);
}

TEST(Stages, OptionsConflictsAndLimits) {
  LoadOptions o;
  o.url = parse_url("http://127.0.0.1:9/");
  o.stages = parse_stages("1s:100");
  EXPECT_NO_THROW(o.validate());
  EXPECT_EQ(o.measured_duration(), std::chrono::nanoseconds(1s));
  o.duration = 2s;
  EXPECT_NE(error_of([&] { o.validate(); }).find("--stages conflicts with --duration"), std::string::npos);
  o.duration.reset();
  o.rate = 10;
  EXPECT_NE(error_of([&] { o.validate(); }).find("--stages conflicts with --rate"), std::string::npos);
  o.rate.reset();
  o.start_rate = -1;
  EXPECT_NE(error_of([&] { o.validate(); }).find("--start-rate"), std::string::npos);
  o.start_rate = 0;
  EXPECT_NO_THROW(o.validate());
  o.stages = parse_stages("1s:0");
  EXPECT_NE(error_of([&] { o.validate(); }).find("no request"), std::string::npos);
  o.stages.clear();
  EXPECT_NE(error_of([&] { o.validate(); }).find("--start-rate applies only with --stages"), std::string::npos);
  o.start_rate.reset();
  o.interval = 500us;
  EXPECT_NE(error_of([&] { o.validate(); }).find("--interval must be at least 1ms"), std::string::npos);
  o.interval = 1ms;
  EXPECT_NO_THROW(o.validate());
}

TEST(Series, RecordsByIntervalAndMerges) {
  using Clock = SeriesRecorder::Clock;
  const auto origin = Clock::now();
  // Intervals of 100 ms; the run lasts 300 ms, so anything later counts in interval 2.
  SeriesRecorder a(origin, 100ms, 2), b(origin, 100ms, 2);
  EXPECT_EQ(a.index_of(origin - 5ms), 0u);
  EXPECT_EQ(a.index_of(origin + 99ms), 0u);
  EXPECT_EQ(a.index_of(origin + 100ms), 1u);
  EXPECT_EQ(a.index_of(origin + 5s), 2u);
  for (int i = 1; i <= 100; ++i) a.answer(origin + 10ms, static_cast<std::uint64_t>(i) * 1000, 200);  // 1..100 ms
  a.answer(origin + 20ms, 500, 503);
  b.answer(origin + 30ms, 200'000, 200);
  b.error(origin + 40ms, ErrorClass::kTimeout);
  a.answer(origin + 150ms, 2000, 200);  // interval 1: a's dense histogram moves on
  b.dropped(origin + 160ms);
  b.dropped(origin + 170ms);
  a.answer(origin + 400ms, 3000, 200);  // after the end: the last interval
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(b.size(), 2u);

  IntervalAccumulator first;
  a.collect(0, first);
  b.collect(0, first);
  const auto s0 = first.sample(0.1, 0.1, std::nullopt);
  EXPECT_EQ(s0.requests, 102u);
  EXPECT_EQ(s0.ok, 101u);
  EXPECT_DOUBLE_EQ(s0.per_s, 1020);
  EXPECT_DOUBLE_EQ(s0.ok_per_s, 1010);
  EXPECT_EQ(s0.failures, 2u);
  EXPECT_EQ(s0.failures_by_cause.at("503"), 1u);
  EXPECT_EQ(s0.failures_by_cause.at("timeout"), 1u);
  ASSERT_TRUE(s0.p50_ms && s0.p99_ms && s0.max_ms);
  // 102 latencies: 0.5 ms, 1..100 ms, 200 ms. Rank 51 is 50 ms, rank 101 is 100 ms.
  EXPECT_NEAR(*s0.p50_ms, 50, 50 * 0.005);
  EXPECT_NEAR(*s0.p99_ms, 100, 100 * 0.005);
  EXPECT_DOUBLE_EQ(*s0.max_ms, 200);
  EXPECT_EQ(s0.dropped, 0u);
  EXPECT_FALSE(s0.target_rate);

  IntervalAccumulator second;
  a.collect(1, second);
  b.collect(1, second);
  const auto s1 = second.sample(0.2, 0.1, 20.0);
  EXPECT_EQ(s1.requests, 1u);
  EXPECT_EQ(s1.dropped, 2u);
  EXPECT_DOUBLE_EQ(*s1.p50_ms, 2);
  EXPECT_EQ(s1.target_rate, 20.0);

  IntervalAccumulator third;
  a.collect(2, third);
  b.collect(2, third);
  EXPECT_EQ(third.requests, 1u);
  EXPECT_EQ(third.max_us, 3000u);

  // An interval with nothing in it: no latency.
  IntervalAccumulator empty;
  a.collect(7, empty);
  const auto se = empty.sample(0.8, 0.1, std::nullopt);
  EXPECT_EQ(se.requests, 0u);
  EXPECT_FALSE(se.p50_ms);
  const auto j = se.to_json();
  EXPECT_TRUE(j["p50_ms"].is_null());
  EXPECT_TRUE(j["target_rate"].is_null());
  EXPECT_TRUE(j["failures_by_cause"].is_object());
}

TEST(Series, ReportJson) {
  Report r;
  r.options.url = parse_url("http://127.0.0.1:9/x");
  r.options.stages = parse_stages("1s:100,1s:300");
  r.options.interval = 1s;
  r.scheduled = 300;
  r.duration_s = 2;
  r.tally.responses = 250;
  r.tally.dropped = 50;
  IntervalSample s;
  s.t_s = 1;
  s.length_s = 1;
  s.requests = 100;
  s.target_rate = 100;
  r.series.push_back(s);
  s.t_s = 2;
  s.requests = 150;
  s.dropped = 50;
  s.target_rate = 200;
  r.series.push_back(s);
  const auto j = r.to_json();
  EXPECT_EQ(j["target"]["stages"].size(), 2u);
  EXPECT_EQ(j["target"]["stages"][1]["target"], 300.0);
  EXPECT_EQ(j["target"]["duration_s"], 2.0);
  EXPECT_EQ(j["target"]["interval_s"], 1.0);
  EXPECT_EQ(j["open_loop"]["dropped"], 50);
  EXPECT_EQ(j["open_loop"]["scheduled"], 300);
  EXPECT_EQ(j["open_loop"]["target_rate"], 150.0);
  EXPECT_EQ(j["open_loop"]["stages"], "1s:100,1s:300");
  ASSERT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(j["series"][1]["dropped"], 50);
  EXPECT_EQ(j["series"][1]["target_rate"], 200.0);
  for (const char* f : {"t_s", "requests", "ok", "per_s", "ok_per_s", "failures", "failures_by_cause", "p50_ms",
                        "p99_ms", "max_ms", "dropped", "target_rate"}) {
    EXPECT_TRUE(j["series"][0].contains(f)) << f;
  }
  EXPECT_TRUE(j["slo"].is_null());
  const std::string text = r.to_text();
  EXPECT_NE(text.find("300 due, 50 dropped"), std::string::npos) << text;
  EXPECT_NE(text.find("Series (every 1s"), std::string::npos) << text;

  // Closed loop without --interval: no series, no open_loop.
  Report closed;
  closed.options.url = r.options.url;
  const auto c = closed.to_json();
  EXPECT_TRUE(c["series"].is_null());
  EXPECT_TRUE(c["open_loop"].is_null());
  EXPECT_TRUE(c["target"]["stages"].is_null());
  // --rate: dropped is always there, and 0.
  Report fixed;
  fixed.options.url = r.options.url;
  fixed.options.rate = 100;
  const auto f = fixed.to_json();
  EXPECT_EQ(f["open_loop"]["dropped"], 0);
  EXPECT_TRUE(f["open_loop"]["scheduled"].is_null());
}

}  // namespace
}  // namespace busylab::loadgen
