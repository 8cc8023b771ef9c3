// busylab load --slo and an experiment's "slo": parsing the limits (text and
// JSON, with did-you-mean for unknown keys) and checking a report against
// them on both sides of each threshold.

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "common/config_reader.hpp"
#include "loadgen/load_options.hpp"
#include "loadgen/report.hpp"
#include "loadgen/slo.hpp"

namespace busylab::loadgen {
namespace {

std::string argument_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const LoadArgumentError& e) {
    return e.what();
  }
  return "";
}

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Slo, ParsesText) {
  const auto slo = Slo::parse("p99_ms=50, max_failure_rate=0.001");
  EXPECT_EQ(slo.p99_ms, 50.0);
  EXPECT_EQ(slo.max_failure_rate, 0.001);
  EXPECT_FALSE(slo.p50_ms);
  EXPECT_FALSE(slo.min_ok_per_s);
  EXPECT_FALSE(slo.empty());
  const auto all = Slo::parse("p50_ms=1,p90_ms=2,p99_ms=3,p999_ms=4,max_ms=5,max_failure_rate=0,min_ok_per_s=1e3");
  EXPECT_EQ(all.p999_ms, 4.0);
  EXPECT_EQ(all.max_ms, 5.0);
  EXPECT_EQ(all.min_ok_per_s, 1000.0);
  EXPECT_EQ(all.to_json().size(), 7u);
  EXPECT_EQ(all.limit("p90_ms"), 2.0);
  EXPECT_FALSE(all.limit("nope"));
}

TEST(Slo, RefusesUnknownKeysAndBadValues) {
  const auto unknown = argument_error([] { Slo::parse("p99=50"); });
  EXPECT_NE(unknown.find("unknown key 'p99'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'p99_ms'?"), std::string::npos) << unknown;
  const auto typo = argument_error([] { Slo::parse("p99_ms=5,max_failure_rat=0.1"); });
  EXPECT_NE(typo.find("did you mean 'max_failure_rate'?"), std::string::npos) << typo;
  EXPECT_NE(argument_error([] { Slo::parse("p99_ms=fast"); }).find("p99_ms: 'fast' is not a number"),
            std::string::npos);
  EXPECT_NE(argument_error([] { Slo::parse("p99_ms=-1"); }).find("not a number"), std::string::npos);
  EXPECT_NE(argument_error([] { Slo::parse("p99_ms=5ms"); }).find("not a number"), std::string::npos);
  EXPECT_NE(argument_error([] { Slo::parse("p99_ms="); }).find("not a number"), std::string::npos);
  EXPECT_NE(argument_error([] { Slo::parse("max_failure_rate=2"); }).find("from 0 to 1"), std::string::npos);
  EXPECT_NE(argument_error([] { Slo::parse("p99_ms"); }).find("KEY=VALUE"), std::string::npos);
  EXPECT_NE(argument_error([] { Slo::parse("p99_ms=1,p99_ms=2"); }).find("twice"), std::string::npos);
  EXPECT_NE(argument_error([] { Slo::parse(""); }).find("empty"), std::string::npos);
}

TEST(Slo, ReadsJsonLikeConfigFiles) {
  const auto slo = Slo::from_json(nlohmann::json::parse(R"({"p99_ms": 50, "max_failure_rate": 0.001})"), "slo");
  EXPECT_EQ(slo.p99_ms, 50.0);
  EXPECT_EQ(slo.max_failure_rate, 0.001);
  EXPECT_EQ(slo.to_json(), nlohmann::json::parse(R"({"p99_ms": 50.0, "max_failure_rate": 0.001})"));
  const auto unknown = config_error([] { Slo::from_json(nlohmann::json::parse(R"({"p99": 50})"), "slo"); });
  EXPECT_NE(unknown.find("unknown key 'slo.p99'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'slo.p99_ms'?"), std::string::npos) << unknown;
  const auto type = config_error([] { Slo::from_json(nlohmann::json::parse(R"({"p99_ms": "50"})"), "slo"); });
  EXPECT_NE(type.find("slo.p99_ms: expected a number"), std::string::npos) << type;
  const auto range = config_error([] { Slo::from_json(nlohmann::json::parse(R"({"max_failure_rate": 3})"), "x.slo"); });
  EXPECT_NE(range.find("x.slo.max_failure_rate: value 3 is out of range"), std::string::npos) << range;
  EXPECT_NE(config_error([] { Slo::from_json(nlohmann::json::object(), "slo"); }).find("at least one"),
            std::string::npos);
  EXPECT_NE(config_error([] { Slo::from_json(nlohmann::json(5), "slo"); }).find("expected an object"),
            std::string::npos);
}

// 1000 answers: 990 of 200 and 10 of 503, latencies 1..1000 ms
// (p50 500 ms, p99 990 ms, max 1000 ms), over 2 s: 495 ok/s, failure rate 0.01.
Report sample_report() {
  Report r;
  r.duration_s = 2;
  r.tally.responses = 1000;
  r.tally.status = {{200, 990}, {503, 10}};
  for (int i = 1; i <= 1000; ++i) r.tally.latency_us.record(static_cast<std::uint64_t>(i) * 1000);
  return r;
}

TEST(Slo, ChecksEachLimitOnBothSides) {
  const Report r = sample_report();
  struct Case {
    const char* slo;
    bool pass;
  };
  for (const auto& c :
       {Case{"p50_ms=510", true}, Case{"p50_ms=490", false}, Case{"p90_ms=905", true}, Case{"p90_ms=895", false},
        Case{"p99_ms=1000", true}, Case{"p99_ms=980", false}, Case{"p999_ms=1000", true}, Case{"p999_ms=990", false},
        Case{"max_ms=1000", true}, Case{"max_ms=999", false}, Case{"max_failure_rate=0.01", true},
        Case{"max_failure_rate=0.0099", false}, Case{"min_ok_per_s=495", true}, Case{"min_ok_per_s=496", false}}) {
    const auto v = evaluate(Slo::parse(c.slo), r);
    EXPECT_EQ(v.pass, c.pass) << c.slo << ": " << v.reason;
    ASSERT_EQ(v.checks.size(), 1u);
    EXPECT_EQ(v.checks[0].pass, c.pass) << c.slo;
    EXPECT_EQ(v.reason.empty(), c.pass) << c.slo;
  }
}

TEST(Slo, VerdictNamesTheFailedChecks) {
  Report r = sample_report();
  r.tally.errors[static_cast<std::size_t>(ErrorClass::kTimeout)] = 10;  // failure rate 20/1010
  const auto v = evaluate(Slo::parse("p99_ms=50,max_failure_rate=0.001,min_ok_per_s=100"), r);
  EXPECT_FALSE(v.pass);
  // p99 is 990 ms within the histogram's 0.4%: "p99 989.2 ms > 50 ms".
  EXPECT_EQ(v.reason.rfind("p99 98", 0), 0u) << v.reason;
  EXPECT_NE(v.reason.find(" ms > 50 ms; failure rate 0.0198 > 0.001"), std::string::npos) << v.reason;
  const auto j = v.to_json();
  EXPECT_EQ(j["pass"], false);
  ASSERT_EQ(j["checks"].size(), 3u);
  EXPECT_EQ(j["checks"][0]["name"], "p99_ms");
  EXPECT_EQ(j["checks"][0]["limit"], 50.0);
  EXPECT_NEAR(j["checks"][0]["value"].get<double>(), 990, 990 * 0.005);
  EXPECT_EQ(j["checks"][0]["pass"], false);
  EXPECT_NEAR(j["checks"][1]["value"].get<double>(), 20.0 / 1010, 1e-12);
  EXPECT_EQ(j["checks"][2]["pass"], true);
  EXPECT_EQ(j["reason"], v.reason);
  EXPECT_EQ(v.to_text(), "  SLO: FAIL: " + v.reason + "\n");

  const auto ok = evaluate(Slo::parse("p99_ms=2000"), r);
  EXPECT_TRUE(ok.pass);
  EXPECT_TRUE(ok.to_json()["reason"].is_null());
  EXPECT_NE(ok.to_text().find("SLO: pass (p99 98"), std::string::npos) << ok.to_text();
  EXPECT_NE(ok.to_text().find(" ms <= 2000 ms)"), std::string::npos) << ok.to_text();
}

TEST(Slo, NothingMeasuredFails) {
  Report r;
  r.duration_s = 1;
  r.tally.errors[static_cast<std::size_t>(ErrorClass::kConnect)] = 5;
  const auto v = evaluate(Slo::parse("p99_ms=50"), r);
  EXPECT_FALSE(v.pass);
  EXPECT_FALSE(v.checks[0].value);
  EXPECT_TRUE(v.to_json()["checks"][0]["value"].is_null());
  EXPECT_NE(v.reason.find("p99 unknown (no answers)"), std::string::npos) << v.reason;
  EXPECT_FALSE(evaluate(Slo::parse("max_failure_rate=1"), Report{}).pass);  // nothing attempted
  EXPECT_TRUE(evaluate(Slo::parse("max_failure_rate=1"), r).pass);          // 5 of 5 failed, allowed
}

}  // namespace
}  // namespace busylab::loadgen
