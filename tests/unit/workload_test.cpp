// Workload files for busylab load: the distributions' frequencies against
// theory, the permutation, placeholders, distinct, request bytes, the ledger,
// and the errors a bad file gets.

#include "loadgen/workload.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/config_reader.hpp"
#include "loadgen/report.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab::loadgen {
namespace {

Workload parse(const std::string& text) {
  return parse_workload(nlohmann::json::parse(text), "test.json");
}

std::string parse_error(const std::string& text) {
  return unit::error_message<ConfigError>([&] { parse(text); });
}

// A workload with one request that uses every variable given in `vars`.
Workload with_vars(const std::string& vars, const std::string& path) {
  return parse(R"({"vars": )" + vars + R"(, "requests": [{"name": "r", "weight": 1, "method": "GET", "path": ")" +
               path + R"("}]})");
}

double zeta(std::uint64_t n, double theta) {
  double z = 0;
  for (std::uint64_t i = n; i >= 1; --i) z += 1.0 / std::pow(static_cast<double>(i), theta);
  return z;
}

// Pearson's chi-square of observed counts against probabilities.
double chi_square(const std::vector<std::uint64_t>& observed, const std::vector<double>& p, std::uint64_t draws) {
  double chi = 0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    const double expected = p[i] * static_cast<double>(draws);
    const double d = static_cast<double>(observed[i]) - expected;
    chi += d * d / expected;
  }
  return chi;
}

// Ranks 1..n drawn `draws` times: counts by rank (index rank - 1).
std::vector<std::uint64_t> rank_counts(const Zipfian& z, std::uint64_t n, std::uint64_t draws, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> counts(n, 0);
  for (std::uint64_t i = 0; i < draws; ++i) {
    const auto k = z.sample(rng);
    EXPECT_GE(k, 1u);
    EXPECT_LE(k, n);
    if (k >= 1 && k <= n) ++counts[k - 1];
  }
  return counts;
}

TEST(Zipfian, FrequenciesMatchTheory) {
  constexpr std::uint64_t kN = 100;
  constexpr std::uint64_t kDraws = 200'000;
  const double theta = 0.99;
  const Zipfian z(theta, kN);
  const auto counts = rank_counts(z, kN, kDraws, 42);
  const double zn = zeta(kN, theta);
  std::vector<double> p(kN);
  for (std::uint64_t k = 1; k <= kN; ++k) p[k - 1] = 1.0 / (std::pow(static_cast<double>(k), theta) * zn);
  // Each of the top 10 ranks within 10% (relative) of 1 / (k^theta zeta(n, theta)).
  // The sampling noise is at most 1.6% (one standard deviation, rank 10:
  // ~3900 expected); YCSB's approximate generator gives rank 3 15% too often
  // and would fail here.
  for (std::uint64_t k = 1; k <= 10; ++k) {
    const double observed = static_cast<double>(counts[k - 1]) / kDraws;
    EXPECT_NEAR(observed / p[k - 1], 1.0, 0.10) << "rank " << k << ": " << observed << " vs " << p[k - 1];
  }
  // All 100 ranks: chi-square with 99 degrees of freedom has mean 99 and
  // standard deviation 14; 99 + 6 * 14 = 183 is exceeded with probability
  // below 1e-6 by a correct sampler.
  EXPECT_LT(chi_square(counts, p, kDraws), 183.0);
}

TEST(Zipfian, OtherThetasToo) {
  // theta < 1, = 1 (allowed: rejection-inversion has no pole there) and > 1.
  for (const double theta : {0.5, 1.0, 1.5, 3.0}) {
    constexpr std::uint64_t kN = 50;
    constexpr std::uint64_t kDraws = 100'000;
    const auto counts = rank_counts(Zipfian(theta, kN), kN, kDraws, 7);
    const double zn = zeta(kN, theta);
    std::vector<double> p(kN);
    for (std::uint64_t k = 1; k <= kN; ++k) p[k - 1] = 1.0 / (std::pow(static_cast<double>(k), theta) * zn);
    // Ranks a correct sampler would rarely or never hit (theta 3: p(50) is
    // 7e-6) are merged into one cell so each expects at least 5.
    std::vector<std::uint64_t> obs;
    std::vector<double> prob;
    std::uint64_t tail_count = 0;
    double tail_p = 0;
    for (std::uint64_t k = 0; k < kN; ++k) {
      if (p[k] * kDraws >= 5) {
        obs.push_back(counts[k]);
        prob.push_back(p[k]);
      } else {
        tail_count += counts[k];
        tail_p += p[k];
      }
    }
    if (tail_p > 0) {
      obs.push_back(tail_count);
      prob.push_back(tail_p);
    }
    const double df = static_cast<double>(obs.size() - 1);
    EXPECT_LT(chi_square(obs, prob, kDraws), df + 6 * std::sqrt(2 * df)) << "theta " << theta;
  }
}

TEST(Zipfian, HugeRangesAreCheapAndRight) {
  // n = 10^9: no zeta to compute, so constructing and drawing take no
  // longer than for n = 10. P(rank 1) = 1 / zeta(10^9, 0.99), zeta by the
  // exact sum to 10^6 and the integral (midpoint rule) beyond: about 0.042.
  constexpr std::uint64_t kN = 1'000'000'000;
  const double theta = 0.99;
  const auto started = std::chrono::steady_clock::now();
  const Zipfian z(theta, kN);
  std::mt19937_64 rng(3);
  constexpr int kDraws = 200'000;
  int ones = 0;
  std::uint64_t largest = 0;
  for (int i = 0; i < kDraws; ++i) {
    const auto k = z.sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, kN);
    ones += k == 1;
    largest = std::max(largest, k);
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(took, 2.0) << "200k draws over 10^9 ranks";
  constexpr std::uint64_t kExact = 1'000'000;
  const double tail = (std::pow(kN + 0.5, 1 - theta) - std::pow(kExact + 0.5, 1 - theta)) / (1 - theta);
  const double p1 = 1.0 / (zeta(kExact, theta) + tail);
  EXPECT_NEAR(static_cast<double>(ones) / kDraws / p1, 1.0, 0.05);
  EXPECT_GT(largest, 1'000'000u) << "the long tail is reached";
}

TEST(Permutation, IsABijection) {
  for (const std::uint64_t size : std::vector<std::uint64_t>{1, 2, 3, 4, 5, 10, 100, 1000, 4096, 10007}) {
    for (const std::uint64_t seed : std::vector<std::uint64_t>{0, 1, 12345}) {
      const Permutation p(size, seed);
      std::vector<bool> seen(size, false);
      for (std::uint64_t v = 0; v < size; ++v) {
        const auto x = p(v);
        ASSERT_LT(x, size) << "size " << size;
        ASSERT_FALSE(seen[x]) << "size " << size << " seed " << seed << ": " << x << " twice";
        seen[x] = true;
      }
    }
  }
  // Near the top of the range nothing overflows.
  const std::uint64_t huge = (std::uint64_t{1} << 63) + 12345;
  const Permutation p(huge, 9);
  std::set<std::uint64_t> images;
  for (const std::uint64_t v : std::vector<std::uint64_t>{0, 1, 2, huge - 2, huge - 1}) {
    EXPECT_LT(p(v), huge);
    images.insert(p(v));
  }
  EXPECT_EQ(images.size(), 5u);
}

TEST(Permutation, ScattersTheHotKeysOfEachVariable) {
  // 40 zipfian variables over 1..1000: the key of rank 1 is min for about
  // 1 in 1000 of them by chance; most must not be, and ranks 1..10 must not
  // sit next to each other.
  std::string vars = "{";
  for (int i = 0; i < 40; ++i) {
    vars += (i ? "," : "") + std::string("\"v") + std::to_string(i) +
            R"(": {"distribution": "zipfian", "min": 1, "max": 1000})";
  }
  vars += "}";
  const Workload w = with_vars(vars, "/x");
  int hottest_is_min = 0, adjacent = 0;
  std::set<std::uint64_t> hottest;
  for (const auto& v : w.variables) {
    ASSERT_EQ(v.permutation.size(), 1000u);
    hottest_is_min += v.permutation(0) == 0;
    hottest.insert(v.permutation(0));
    std::vector<std::uint64_t> top;
    for (std::uint64_t r = 0; r < 10; ++r) top.push_back(v.permutation(r));
    std::sort(top.begin(), top.end());
    for (std::size_t i = 1; i < top.size(); ++i) adjacent += top[i] == top[i - 1] + 1;
  }
  EXPECT_LE(hottest_is_min, 2);
  EXPECT_GE(hottest.size(), 30u) << "each variable has its own hot key";
  // 40 variables x 9 neighbouring pairs of 10 keys scattered over 1000:
  // about 7 adjacent pairs expected by chance; rank order would give 360.
  EXPECT_LT(adjacent, 30);
}

TEST(Distributions, ZipfianDrawsGoThroughThePermutation) {
  const Workload w = with_vars(R"({"id": {"distribution": "zipfian", "min": 1, "max": 1000}})", "/rows/{id}");
  WorkloadState state(w);
  RequestDrawer d(w, state, 1);
  std::map<std::int64_t, int> counts;
  constexpr int kDraws = 100'000;
  for (int i = 0; i < kDraws; ++i) {
    const auto v = d.draw(0);
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 1000);
    ++counts[v];
  }
  const auto hottest =
      std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(hottest->first, 1 + static_cast<std::int64_t>(w.variables[0].permutation(0)));
  EXPECT_NE(hottest->first, 1);
  EXPECT_NEAR(static_cast<double>(hottest->second) / kDraws * zeta(1000, 0.99), 1.0, 0.05);
}

TEST(Distributions, UniformCoversItsRange) {
  const Workload w = with_vars(R"({"u": {"distribution": "uniform", "min": 5, "max": 14}})", "/{u}");
  WorkloadState state(w);
  RequestDrawer d(w, state, 2);
  std::map<std::int64_t, int> counts;
  for (int i = 0; i < 20'000; ++i) ++counts[d.draw(0)];
  ASSERT_EQ(counts.size(), 10u);
  EXPECT_EQ(counts.begin()->first, 5);
  EXPECT_EQ(counts.rbegin()->first, 14);
  for (const auto& [v, n] : counts) EXPECT_NEAR(n, 2000, 250) << v;  // sd 42
}

TEST(Distributions, LatestPrefersTheNewestAcknowledgedIds) {
  const Workload w = with_vars(R"({"id": {"distribution": "latest", "min": 1, "max": 10}})", "/rows/{id}");
  ASSERT_TRUE(w.uses_latest);
  WorkloadState state(w);
  RequestDrawer d(w, state, 3);
  // Before any id is acknowledged: ids up to max, max the most drawn.
  std::map<std::int64_t, int> before;
  for (int i = 0; i < 10'000; ++i) ++before[d.draw(0)];
  EXPECT_EQ(before.begin()->first, 1);
  EXPECT_EQ(before.rbegin()->first, 10);
  EXPECT_GT(before[10], before[9]);

  for (std::int64_t id = 1; id <= 1000; ++id) state.acknowledge_id(id);
  state.acknowledge_id(17);  // an older one changes nothing
  EXPECT_EQ(state.newest(w.variables[0]), 1000);
  constexpr int kDraws = 50'000;
  int newest_tenth = 0;
  std::map<std::int64_t, int> after;
  for (int i = 0; i < kDraws; ++i) {
    const auto v = d.draw(0);
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 1000);
    newest_tenth += v > 900;
    ++after[v];
  }
  // Zipfian offsets back from 1000: P(offset < 100) = zeta(100) / zeta(1000), about 0.7.
  EXPECT_GT(newest_tenth, kDraws / 2);
  EXPECT_NEAR(static_cast<double>(newest_tenth) / kDraws, zeta(100, 0.99) / zeta(1000, 0.99), 0.02);
  const auto hottest =
      std::max_element(after.begin(), after.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(hottest->first, 1000);
}

TEST(Distributions, LatestNeverGoesBelowMin) {
  const Workload w = with_vars(R"({"id": {"distribution": "latest", "min": 50, "max": 60}})", "/rows/{id}");
  WorkloadState state(w);
  RequestDrawer d(w, state, 4);
  state.acknowledge_id(3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(d.draw(0), 50);
}

TEST(Distributions, SequentialWrapsAndIsSharedByThreads) {
  const Workload w = with_vars(R"({"s": {"distribution": "sequential", "min": 3, "max": 5}})", "/{s}");
  WorkloadState state(w);
  RequestDrawer a(w, state, 5), b(w, state, 6);
  std::vector<std::int64_t> got;
  for (int i = 0; i < 4; ++i) {
    got.push_back(a.draw(0));
    got.push_back(b.draw(0));
  }
  EXPECT_EQ(got, (std::vector<std::int64_t>{3, 4, 5, 3, 4, 5, 3, 4}));
}

TEST(Requests, DistinctVariablesNeverEqual) {
  // Two values each: half the joint draws are equal.
  Workload w = parse(R"({"vars": {"a": {"distribution": "uniform", "min": 1, "max": 2},
                                  "b": {"distribution": "uniform", "min": 1, "max": 2}},
      "requests": [{"name": "t", "weight": 1, "method": "POST", "path": "/t/{a}/{b}", "distinct": ["a", "b"]}]})");
  WorkloadState state(w);
  RequestDrawer d(w, state, 7);
  DrawnRequest r;
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (int i = 0; i < 2000; ++i) {
    d.next(r);
    ASSERT_NE(r.values[0], r.values[1]);
    EXPECT_EQ(r.path, "/t/" + std::to_string(r.values[0]) + "/" + std::to_string(r.values[1]));
    seen.insert({r.values[0], r.values[1]});
  }
  EXPECT_EQ(seen.size(), 2u);

  // Steep zipfians over three values that share their hot key would almost
  // always be equal: still never equal (after 64 tries, uniform redraws).
  w = parse(R"({"vars": {"a": {"distribution": "zipfian", "min": 1, "max": 3, "theta": 60},
                         "b": {"distribution": "latest", "min": 1, "max": 3, "theta": 60}},
      "requests": [{"name": "t", "weight": 1, "method": "POST", "path": "/t/{a}/{b}", "distinct": ["b", "a"]}]})");
  WorkloadState steep_state(w);
  RequestDrawer steep(w, steep_state, 8);
  steep_state.acknowledge_id(1 + static_cast<std::int64_t>(w.variables[0].permutation(0)));
  for (int i = 0; i < 500; ++i) {
    steep.next(r);
    ASSERT_NE(r.values[0], r.values[1]);
  }
}

TEST(Requests, AVariableUsedTwiceHasOneValuePerRequest) {
  const Workload w = parse(R"({"vars": {"id": {"distribution": "uniform", "min": 1, "max": 1000000},
                                        "x": {"distribution": "uniform", "min": 1, "max": 1000000}},
      "requests": [{"name": "t", "weight": 1, "method": "POST", "path": "/a/{id}/b/{id}",
                    "body": "{\"id\": {id}, \"again\": {id}, \"x\": {x}}"}]})");
  WorkloadState state(w);
  RequestDrawer d(w, state, 9);
  DrawnRequest r;
  int x_differs = 0;
  for (int i = 0; i < 200; ++i) {
    d.next(r);
    const auto id = std::to_string(r.values[0]);
    EXPECT_EQ(r.path, "/a/" + id + "/b/" + id);
    const auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["id"], r.values[0]);
    EXPECT_EQ(body["again"], r.values[0]);
    EXPECT_EQ(body["x"], r.values[1]);
    x_differs += r.values[0] != r.values[1];
  }
  EXPECT_GT(x_differs, 190) << "different variables are drawn independently";
}

TEST(Requests, PayloadsAndLiteralBraces) {
  const Workload w = parse(R"({"requests": [{"name": "t", "weight": 1, "method": "PUT", "path": "/rows/1",
      "body": "{\"payload\":\"{payload:37}\",\"nested\":{\"a\":[{}]},\"x\":\"{not a placeholder}\"}"}]})");
  WorkloadState state(w);
  RequestDrawer d(w, state, 10);
  DrawnRequest r;
  std::set<std::string> payloads;
  for (int i = 0; i < 50; ++i) {
    d.next(r);
    const auto body = nlohmann::json::parse(r.body);  // valid JSON: nothing needed escaping
    const auto payload = body["payload"].get<std::string>();
    ASSERT_EQ(payload.size(), 37u);
    for (char c : payload) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
    EXPECT_EQ(body["nested"], nlohmann::json::parse(R"({"a":[{}]})"));
    EXPECT_EQ(body["x"], "{not a placeholder}");
    payloads.insert(payload);
  }
  EXPECT_EQ(payloads.size(), 50u) << "a fresh payload per request";
}

TEST(Requests, KindsArePickedByWeight) {
  const Workload w = parse(R"({"requests": [{"name": "a", "weight": 1, "method": "GET", "path": "/a"},
                                            {"name": "b", "weight": 3, "method": "GET", "path": "/b"},
                                            {"name": "c", "weight": 0.5, "method": "GET", "path": "/c"}]})");
  WorkloadState state(w);
  RequestDrawer d(w, state, 11);
  std::vector<int> counts(3, 0);
  constexpr int kDraws = 90'000;
  for (int i = 0; i < kDraws; ++i) ++counts[d.pick_kind()];
  EXPECT_NEAR(counts[0], kDraws / 4.5, 600);  // sd ~125
  EXPECT_NEAR(counts[1], kDraws * 3 / 4.5, 600);
  EXPECT_NEAR(counts[2], kDraws * 0.5 / 4.5, 600);
}

TEST(Requests, BytesOnTheWire) {
  const Workload w = parse(R"({"vars": {"id": {"distribution": "sequential", "min": 7, "max": 9}},
      "requests": [{"name": "put", "weight": 1, "method": "PUT", "path": "/rows/{id}", "body": "{\"payload\":\"x\"}"},
                   {"name": "get", "weight": 1, "method": "GET", "path": "/rows/{id}", "headers": ["X-Trace: 1"]},
                   {"name": "post", "weight": 1, "method": "POST", "path": "/c",
                    "headers": ["Content-Type: text/plain", "Host: other"]}]})");
  LoadOptions o;
  o.url = parse_url("http://127.0.0.1:8080/ignored");
  o.close = true;
  o.headers = {"X-All: yes"};
  const RequestWriter writer(w, o);
  WorkloadState state(w);
  RequestDrawer d(w, state, 12);
  DrawnRequest r;
  std::string bytes;
  d.draw_kind(0, r);
  writer.build(r, bytes);
  EXPECT_EQ(bytes,
            "PUT /rows/7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-All: yes\r\nContent-Type: application/json\r\n"
            "Connection: close\r\nContent-Length: 15\r\n\r\n{\"payload\":\"x\"}");
  d.draw_kind(1, r);
  writer.build(r, bytes);
  EXPECT_EQ(bytes,
            "GET /rows/8 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-All: yes\r\nX-Trace: 1\r\nConnection: close\r\n\r\n");
  d.draw_kind(2, r);
  writer.build(r, bytes);
  EXPECT_EQ(bytes,
            "POST /c HTTP/1.1\r\nX-All: yes\r\nContent-Type: text/plain\r\nHost: other\r\nConnection: close\r\n"
            "Content-Length: 0\r\n\r\n");
}

TEST(Ledger, ClassifiesAndCountsAnswers) {
  EXPECT_EQ(ledger_entry("POST", "/rows", "{}").kind, LedgerEntry::kInsert);
  EXPECT_EQ(ledger_entry("POST", "/rows?x=1", "").kind, LedgerEntry::kInsert);
  EXPECT_EQ(ledger_entry("GET", "/rows", "").kind, LedgerEntry::kNone);
  EXPECT_EQ(ledger_entry("POST", "/rows/3", "").kind, LedgerEntry::kNone);
  const auto c = ledger_entry("POST", "/counters/c17/increment", "");
  EXPECT_EQ(c.kind, LedgerEntry::kCounter);
  EXPECT_EQ(c.counter, "c17");
  EXPECT_EQ(ledger_entry("POST", "/counters/hits", "").counter, "hits");
  EXPECT_EQ(ledger_entry("POST", "/counters//increment", "").kind, LedgerEntry::kNone);
  const auto t = ledger_entry("POST", "/transfer", R"({"from": 3, "to": 9, "amount": 25})");
  ASSERT_EQ(t.kind, LedgerEntry::kTransfer);
  EXPECT_EQ(t.from, 3);
  EXPECT_EQ(t.to, 9);
  EXPECT_EQ(t.amount, 25);
  EXPECT_EQ(ledger_entry("POST", "/transfer", "not json").kind, LedgerEntry::kNone);

  Ledger a, b;
  record(a, ledger_entry("POST", "/rows", ""), 201);
  record(a, ledger_entry("POST", "/rows", ""), 503);
  record(a, ledger_entry("POST", "/rows", ""), 0);
  record(a, ledger_entry("GET", "/rows/1", ""), 200);
  record(a, c, 200);
  record(b, c, 200);
  record(b, c, 0);
  record(a, t, 200);
  record(b, ledger_entry("POST", "/transfer", R"({"from": 9, "to": 4, "amount": 5})"), 200);
  record(b, t, 409);
  record(b, t, 503);
  record(b, t, 0);
  a.merge(b);
  EXPECT_EQ(a.inserts, 1u);
  EXPECT_EQ(a.inserts_unknown, 1u);
  EXPECT_EQ(a.counters.at("c17"), 2u);
  EXPECT_EQ(a.counters_unknown.at("c17"), 1u);
  EXPECT_EQ(a.transfers.ok, 2u);
  EXPECT_EQ(a.transfers.refused, 1u);
  EXPECT_EQ(a.transfers.failed, 1u);
  EXPECT_EQ(a.transfers.unknown, 1u);
  EXPECT_EQ(a.transfers.net.at(3), -25);
  EXPECT_EQ(a.transfers.net.at(9), 20);
  EXPECT_EQ(a.transfers.net.at(4), 5);
  EXPECT_EQ(a.transfers.unknown_abs.at(3), 25);
  EXPECT_EQ(a.transfers.unknown_abs.at(9), 25);

  const auto j = a.to_json();
  EXPECT_EQ(j["inserts"], 1);
  EXPECT_EQ(j["counters"]["c17"], 2);
  EXPECT_EQ(j["counters_unknown"]["c17"], 1);
  EXPECT_EQ(j["transfers"]["net"]["3"], -25);
  EXPECT_EQ(j["transfers"]["unknown_abs"]["9"], 25);
  EXPECT_EQ(j["transfers"]["refused"], 1);
}

TEST(Ledger, FindsTheIdOfAnAnswer) {
  EXPECT_EQ(find_id(R"({"id":42})"), 42);
  EXPECT_EQ(find_id(R"({"id": 7, "payload": "x"})"), 7);
  EXPECT_EQ(find_id(R"({"payload":"\"id\":5"})"), std::nullopt);
  EXPECT_EQ(find_id(R"({"count":3})"), std::nullopt);
  EXPECT_EQ(find_id(""), std::nullopt);
}

TEST(WorkloadFile, BadFilesGetErrorsNamingFileAndKey) {
  const std::string ok_request = R"({"name": "r", "weight": 1, "method": "GET", "path": "/rows/{id}"})";
  const std::string id = R"("id": {"distribution": "uniform", "min": 1, "max": 10})";

  auto msg = parse_error(R"({"vars": {)" + id + R"(}, "requests": [{"name": "r", "weight": 1, "method": "GET",
      "path": "/rows/{id}", "bodyy": "x"}]})");
  EXPECT_CONTAINS(msg, "test.json: ");
  EXPECT_CONTAINS(msg, "unknown key 'requests[0].bodyy'");
  EXPECT_CONTAINS(msg, "did you mean 'requests[0].body'");

  msg = parse_error(R"({"vars": {"id": {"distribution": "zipfian", "min": 1, "max": 10, "thetta": 1}},
      "requests": [)" +
                    ok_request + "]}");
  EXPECT_CONTAINS(msg, "did you mean 'vars.id.theta'");

  msg = parse_error(R"({"vars": {)" + id + R"(}, "requests": [{"name": "r", "weight": 1, "method": "GET",
      "path": "/rows/{idd}"}]})");
  EXPECT_CONTAINS(msg, "requests[0].path");
  EXPECT_CONTAINS(msg, "'{idd}' names no declared variable");
  EXPECT_CONTAINS(msg, "did you mean 'id'");

  msg = parse_error(R"({"vars": {)" + id + R"(}, "requests": [{"name": "r", "weight": 1, "method": "POST",
      "path": "/rows", "body": "{\"payload\": {payload}}"}]})");
  EXPECT_CONTAINS(msg, "requests[0].body");
  EXPECT_CONTAINS(msg, "{payload:N}");

  for (const char* weight : {"0", "-1"}) {
    msg = parse_error(R"({"requests": [{"name": "r", "weight": )" + std::string(weight) +
                      R"(, "method": "GET", "path": "/"}]})");
    EXPECT_CONTAINS(msg, "requests[0].weight: must be a positive number");
  }

  msg = parse_error(R"({"vars": {"id": {"distribution": "zipf", "min": 1, "max": 10}}, "requests": [)" + ok_request +
                    "]}");
  EXPECT_CONTAINS(msg, "vars.id.distribution");
  EXPECT_CONTAINS(msg, "unknown value 'zipf'");
  EXPECT_CONTAINS(msg, "did you mean 'zipfian'");

  msg = parse_error(R"({"vars": {"a": {"distribution": "uniform", "min": 1, "max": 1},
                                 "b": {"distribution": "zipfian", "min": 1, "max": 1}},
      "requests": [{"name": "t", "weight": 1, "method": "POST", "path": "/{a}/{b}", "distinct": ["a", "b"]}]})");
  EXPECT_CONTAINS(msg, "requests[0].distinct");
  EXPECT_CONTAINS(msg, "no way for their values to differ");
  // Three variables over two values cannot all differ either.
  msg = parse_error(R"({"vars": {"a": {"distribution": "uniform", "min": 1, "max": 2},
                                 "b": {"distribution": "uniform", "min": 1, "max": 2},
                                 "c": {"distribution": "uniform", "min": 2, "max": 2}},
      "requests": [{"name": "t", "weight": 1, "method": "POST", "path": "/{a}/{b}/{c}", "distinct": ["a", "b", "c"]}]})");
  EXPECT_CONTAINS(msg, "no way for their values to differ");

  msg = parse_error(R"({"requests": [{"name": "r", "weight": 1, "method": "get", "path": "/"}]})");
  EXPECT_CONTAINS(msg, "did you mean 'GET'");
  msg = parse_error(R"({"requests": [{"name": "r", "weight": 1, "method": "GET", "path": "rows"}]})");
  EXPECT_CONTAINS(msg, "requests[0].path: must start with '/'");
  msg = parse_error(R"({"requests": [{"name": "r", "weight": 1, "method": "GET", "path": "/"},
                                     {"name": "r", "weight": 1, "method": "GET", "path": "/"}]})");
  EXPECT_CONTAINS(msg, "requests[1].name: 'r' is already the name");
  msg = parse_error(R"({"requests": [{"weight": 1, "method": "GET", "path": "/"}]})");
  EXPECT_CONTAINS(msg, "requests[0].name: is required");
  msg = parse_error(R"({"vars": {"u": {"distribution": "uniform", "min": 1, "max": 9, "theta": 0.5}},
      "requests": [{"name": "r", "weight": 1, "method": "GET", "path": "/{u}"}]})");
  EXPECT_CONTAINS(msg, "vars.u.theta: applies only to the zipfian and latest");
  msg = parse_error(R"({"vars": {"u": {"distribution": "uniform", "min": 9, "max": 1}},
      "requests": [{"name": "r", "weight": 1, "method": "GET", "path": "/{u}"}]})");
  EXPECT_CONTAINS(msg, "vars.u.max: must be at least min");
  msg = parse_error(R"({"requests": [{"name": "r", "weight": 1, "method": "PUT", "path": "/",
      "body": "{payload:0}"}]})");
  EXPECT_CONTAINS(msg, "{payload:N} with N from 1");
  msg = parse_error(R"({"requests": [{"name": "r", "weight": 1, "method": "GET", "path": "/",
      "headers": ["Content-Length: 3"]}]})");
  EXPECT_CONTAINS(msg, "requests[0].headers[0]");
  msg = parse_error(R"({"requests": []})");
  EXPECT_CONTAINS(msg, "requests: expected a non-empty list");
  msg = parse_error(R"({"vars": {)" + id + R"(}, "requests": [)" + ok_request + R"(], "varz": {}})");
  EXPECT_CONTAINS(msg, "did you mean 'vars'");

  msg = unit::error_message<ConfigError>([] { load_workload("/nonexistent/w.json"); });
  EXPECT_CONTAINS(msg, "/nonexistent/w.json");
}

TEST(WorkloadFile, ShippedWorkloadsLoad) {
  const std::filesystem::path dir = std::filesystem::path(BUSYLAB_SOURCE_DIR) / "workloads";
  for (const char* name : {"ycsb-a", "ycsb-b", "ycsb-f", "bank"}) {
    const Workload w = load_workload(dir / (std::string(name) + ".json"));
    EXPECT_EQ(w.name, name);
    EXPECT_FALSE(w.description.empty()) << name;
    WorkloadState state(w);
    RequestDrawer d(w, state, 13);
    DrawnRequest r;
    for (int i = 0; i < 100; ++i) {
      d.next(r);
      if (!r.body.empty()) {
        EXPECT_FALSE(nlohmann::json::parse(r.body, nullptr, false).is_discarded()) << r.body;
      }
    }
  }
  const Workload bank = load_workload(dir / "bank.json");
  WorkloadState state(bank);
  RequestDrawer d(bank, state, 14);
  DrawnRequest r;
  int transfers = 0;
  for (int i = 0; i < 1000; ++i) {
    d.next(r);
    if (bank.kinds[r.kind].name != "transfer") continue;
    ++transfers;
    const auto e = ledger_entry("POST", r.path, r.body);
    ASSERT_EQ(e.kind, LedgerEntry::kTransfer) << r.body;
    EXPECT_NE(e.from, e.to);
    EXPECT_GE(e.amount, 1);
    EXPECT_LE(e.amount, 50);
  }
  EXPECT_NEAR(transfers, 900, 60);
}

TEST(WorkloadReport, JsonHasKindsWorkloadAndLedger) {
  Report r;
  r.options.url = parse_url("http://127.0.0.1:9/ignored");
  r.options.workload = std::make_shared<const Workload>(
      parse(R"({"name": "mix", "requests": [{"name": "a", "weight": 1, "method": "GET", "path": "/a"},
                                           {"name": "b", "weight": 1, "method": "POST", "path": "/rows"}]})"));
  r.options.seed = 99;
  r.kinds = {{"a", {}}, {"b", {}}};
  r.kinds[0].tally.responses = 3;
  r.kinds[0].tally.status[200] = 3;
  r.kinds[0].tally.latency_us.record(1500);
  r.kinds[1].tally.responses = 2;
  r.kinds[1].tally.status[201] = 2;
  r.kinds[1].tally.errors[static_cast<std::size_t>(ErrorClass::kTimeout)] = 1;
  r.tally.responses = 5;
  r.ledger.inserts = 2;
  const auto j = r.to_json();
  EXPECT_EQ(j["schema"], "busylab-load/1");
  EXPECT_EQ(j["target"]["url"], "http://127.0.0.1:9");
  EXPECT_TRUE(j["target"]["method"].is_null());
  EXPECT_EQ(j["workload"]["name"], "mix");
  EXPECT_EQ(j["workload"]["seed"], 99);
  EXPECT_EQ(j["kinds"]["a"]["requests"], 3);
  EXPECT_EQ(j["kinds"]["a"]["status"]["200"], 3);
  EXPECT_EQ(j["kinds"]["b"]["errors"]["timeout"], 1);
  EXPECT_EQ(j["kinds"]["b"]["errors_total"], 1);
  for (const char* p : {"min", "mean", "p50", "p75", "p90", "p99", "p99_9", "p99_99", "max"}) {
    EXPECT_TRUE(j["kinds"]["a"]["latency_us"].contains(p)) << p;
  }
  EXPECT_EQ(j["ledger"]["inserts"], 2);
  const auto text = r.to_text();
  EXPECT_CONTAINS(text, "workload mix (2 kinds, seed 99)");
  EXPECT_CONTAINS(text, "Kinds:");
  EXPECT_CONTAINS(text, "201=2");
  EXPECT_CONTAINS(text, "rows inserted 2");

  Report plain;
  plain.options.url = parse_url("http://127.0.0.1:9/x");
  const auto p = plain.to_json();
  EXPECT_TRUE(p["workload"].is_null());
  EXPECT_TRUE(p["kinds"].is_null());
  EXPECT_EQ(p["ledger"]["inserts"], 0);
}

TEST(WorkloadOptions, ConflictsAreRefused) {
  LoadOptions o;
  o.url = parse_url("http://127.0.0.1:9/");
  o.workload = std::make_shared<const Workload>(
      parse(R"({"requests": [{"name": "a", "weight": 1, "method": "GET", "path": "/a"}]})"));
  EXPECT_NO_THROW(o.validate());
  o.body = "x";
  EXPECT_CONTAINS(unit::error_message<LoadArgumentError>([&] { o.validate(); }), "--workload");
  o.body.clear();
  o.method = "POST";
  EXPECT_CONTAINS(unit::error_message<LoadArgumentError>([&] { o.validate(); }), "--workload");
}

}  // namespace
}  // namespace busylab::loadgen
