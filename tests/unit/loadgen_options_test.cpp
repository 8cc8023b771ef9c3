// busylab load's argument parsing, request serialization, open-loop
// schedule and JSON report schema.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loadgen/load_options.hpp"
#include "loadgen/report.hpp"
#include "loadgen/schedule.hpp"

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

TEST(LoadUrl, ParsesHostPortAndTarget) {
  const Url u = parse_url("http://127.0.0.1:8080/rows/count?x=1");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/rows/count?x=1");
  const Url d = parse_url("http://localhost");
  EXPECT_EQ(d.port, 80);
  EXPECT_EQ(d.target, "/");
  EXPECT_EQ(d.authority(), "localhost");
  const Url v6 = parse_url("http://[::1]:9000/a");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 9000);
  EXPECT_EQ(v6.authority(), "[::1]:9000");
  EXPECT_EQ(parse_url("HTTP://h?q").target, "/?q");
}

TEST(LoadUrl, RejectsWhatItCannotDo) {
  EXPECT_NE(error_of([] { parse_url("https://127.0.0.1/"); }).find("https is not supported"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("127.0.0.1:8080/rows"); }).find("no scheme"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("ftp://x/"); }).find("scheme 'ftp'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http:///rows"); }).find("no host"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://h:0/"); }).find("port '0'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://h:70000/"); }).find("port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://h:80x/"); }).find("port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://h:/"); }).find("empty port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://h/a b"); }).find("spaces"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://[::1/"); }).find("unclosed"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url(""); }).find("empty"), std::string::npos);
}

TEST(LoadUrl, FollowsRfc3986) {
  // Boost.URL's port_number() wraps 99999 to 34463; the port is read from its digits.
  EXPECT_NE(error_of([] { parse_url("http://h:99999/"); }).find("port '99999'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://user:pw@h/"); }).find("user info"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("localhost:8080/rows"); }).find("no scheme"), std::string::npos);
  EXPECT_NE(error_of([] { parse_url("http://h/a%zz"); }).find("not a valid URL"), std::string::npos);
  EXPECT_EQ(parse_url("http://h:08080/a").port, 8080);
  const Url fragment = parse_url("http://h/rows?x=1#top");
  EXPECT_EQ(fragment.target, "/rows?x=1");  // a fragment is never sent
  EXPECT_EQ(parse_url("http://www%2droot.example/").host, "www-root.example");
}

TEST(LoadDuration, Units) {
  EXPECT_EQ(parse_duration("10s", "-d"), 10s);
  EXPECT_EQ(parse_duration("10", "-d"), 10s);
  EXPECT_EQ(parse_duration("250ms", "-d"), 250ms);
  EXPECT_EQ(parse_duration("1.5s", "-d"), 1500ms);
  EXPECT_EQ(parse_duration("2m", "-d"), 120s);
  EXPECT_EQ(parse_duration("1h", "-d"), 3600s);
  EXPECT_EQ(parse_duration("40us", "-d"), 40us);
}

TEST(LoadDuration, RejectsZeroNegativeAndGarbage) {
  for (const char* bad : {"0", "0s", "-1s", "abc", "10x", "s", "", "1e3"}) {
    const auto message = error_of([&] { parse_duration(bad, "--duration"); });
    EXPECT_NE(message.find("--duration"), std::string::npos) << bad;
  }
}

TEST(LoadOptionsCheck, CountsAndCombinations) {
  LoadOptions o;
  o.url = parse_url("http://127.0.0.1:1/");
  EXPECT_NO_THROW(o.validate());
  o.connections = 0;
  EXPECT_NE(error_of([&] { o.validate(); }).find("--connections"), std::string::npos);
  o.connections = 1;
  o.requests = 0;
  EXPECT_NE(error_of([&] { o.validate(); }).find("--requests"), std::string::npos);
  o.requests.reset();
  o.rate = -5;
  EXPECT_NE(error_of([&] { o.validate(); }).find("--rate"), std::string::npos);
  o.rate.reset();
  o.headers = {"NoColon"};
  EXPECT_NE(error_of([&] { o.validate(); }).find("Name: value"), std::string::npos);
  o.headers = {"X-Ok: yes"};
  o.method = "GE T";
  EXPECT_NE(error_of([&] { o.validate(); }).find("--method"), std::string::npos);
}

TEST(LoadOptionsCheck, ThreadsNeverExceedConnections) {
  LoadOptions o;
  o.connections = 3;
  o.threads = 8;
  EXPECT_EQ(o.effective_threads(), 3);
  o.threads = 0;
  EXPECT_GE(o.effective_threads(), 1);
}

TEST(LoadRequest, SerializedOnceWithHostLengthAndClose) {
  LoadOptions o;
  o.url = parse_url("http://127.0.0.1:8080/rows");
  o.method = "POST";
  o.body = R"({"payload":"x"})";
  o.headers = {"Content-Type: application/json"};
  o.close = true;
  const std::string r = serialize_request(o);
  EXPECT_EQ(r.rfind("POST /rows HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(r.find("Host: 127.0.0.1:8080\r\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Length: 15\r\n"), std::string::npos);
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - o.body.size()), o.body);
  // A Host given by the user replaces the default one.
  o.headers = {"Host: example"};
  const std::string r2 = serialize_request(o);
  EXPECT_NE(r2.find("Host: example\r\n"), std::string::npos);
  EXPECT_EQ(r2.find("Host: 127.0.0.1"), std::string::npos);
}

TEST(OpenLoop, RequestsAreDueOnAFixedSchedule) {
  const auto start = OpenLoopSchedule::Clock::now();
  const OpenLoopSchedule s(1000.0, 4, start);  // one request per ms in total
  // Request k of the run goes to connection k % 4 and is due at k ms.
  EXPECT_EQ(s.due(0, 0), start);
  EXPECT_EQ(s.due(1, 0) - start, 1ms);
  EXPECT_EQ(s.due(3, 0) - start, 3ms);
  EXPECT_EQ(s.due(0, 1) - start, 4ms);
  EXPECT_EQ(s.due(2, 5) - start, 22ms);
  EXPECT_EQ(s.due_by(start - 1ms), 0u);
  EXPECT_EQ(s.due_by(start), 1u);
  EXPECT_EQ(s.due_by(start + 999us), 1u);
  EXPECT_EQ(s.due_by(start + 10ms), 11u);
  EXPECT_EQ(s.due_by(start + 1s), 1001u);
}

TEST(LoadReport, JsonFollowsTheSchema) {
  Report r;
  r.options.url = parse_url("http://127.0.0.1:9/x");
  r.options.connections = 2;
  r.options.rate = 100;
  r.duration_s = 2.0;
  r.tally.responses = 10;
  r.tally.bytes_read = 1000;
  r.tally.status = {{200, 7}, {503, 3}};
  r.tally.errors[static_cast<std::size_t>(ErrorClass::kTimeout)] = 2;
  r.tally.late_sends = 4;
  for (int i = 1; i <= 10; ++i) r.tally.latency_us.record(static_cast<std::uint64_t>(i * 1000));
  const auto j = r.to_json();
  EXPECT_EQ(j["schema"], "busylab-load/1");
  EXPECT_EQ(j["requests"], 10);
  EXPECT_DOUBLE_EQ(j["requests_per_s"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(j["bytes_per_s"].get<double>(), 500.0);
  EXPECT_EQ(j["status"]["200"], 7);
  EXPECT_EQ(j["status"]["503"], 3);
  for (const char* e : {"connect", "read", "write", "timeout", "parse", "reset"})
    EXPECT_TRUE(j["errors"].contains(e)) << e;
  EXPECT_EQ(j["errors"]["timeout"], 2);
  EXPECT_EQ(j["errors_total"], 2);
  for (const char* p : {"min", "mean", "p50", "p75", "p90", "p99", "p99_9", "p99_99", "max"}) {
    EXPECT_TRUE(j["latency_us"].contains(p)) << p;
  }
  EXPECT_EQ(j["latency_us"]["min"], 1000);
  EXPECT_EQ(j["latency_us"]["max"], 10000);
  EXPECT_NEAR(j["latency_us"]["p50"].get<double>(), 5000, 50);
  EXPECT_EQ(j["open_loop"]["target_rate"], 100.0);
  EXPECT_EQ(j["open_loop"]["late_sends"], 4);
  EXPECT_EQ(j["target"]["connections"], 2);
  EXPECT_EQ(j["target"]["url"], "http://127.0.0.1:9/x");
  EXPECT_TRUE(j["target"]["duration_s"].is_null());
  const std::string text = r.to_text();
  EXPECT_NE(text.find("200=7"), std::string::npos) << text;
  EXPECT_NE(text.find("503=3"), std::string::npos) << text;
  EXPECT_NE(text.find("timeout 2"), std::string::npos) << text;
}

TEST(LoadReport, TalliesMerge) {
  Tally a, b;
  a.status[200] = 2;
  b.status[200] = 3;
  b.status[404] = 1;
  a.responses = 2;
  b.responses = 4;
  a.errors[0] = 1;
  b.errors[0] = 2;
  a.latency_us.record(10);
  b.latency_us.record(20);
  a.merge(b);
  EXPECT_EQ(a.status[200], 5u);
  EXPECT_EQ(a.status[404], 1u);
  EXPECT_EQ(a.responses, 6u);
  EXPECT_EQ(a.error_total(), 3u);
  EXPECT_EQ(a.latency_us.count(), 2u);
  EXPECT_EQ(a.latency_us.max(), 20u);
}

}  // namespace
}  // namespace busylab::loadgen
