#include "loadgen/report.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace busylab::loadgen {

std::string_view to_string(ErrorClass e) {
  switch (e) {
    case ErrorClass::kConnect:
      return "connect";
    case ErrorClass::kRead:
      return "read";
    case ErrorClass::kWrite:
      return "write";
    case ErrorClass::kTimeout:
      return "timeout";
    case ErrorClass::kParse:
      return "parse";
    case ErrorClass::kReset:
      return "reset";
    default:
      return "?";
  }
}

void Tally::merge(const Tally& o) {
  latency_us.merge(o.latency_us);
  for (auto [code, n] : o.status) status[code] += n;
  for (std::size_t i = 0; i < kErrorClasses; ++i) errors[i] += o.errors[i];
  responses += o.responses;
  bytes_read += o.bytes_read;
  connects += o.connects;
  reconnects += o.reconnects;
  late_sends += o.late_sends;
  dropped += o.dropped;
}

std::uint64_t Tally::error_total() const {
  std::uint64_t n = 0;
  for (auto e : errors) n += e;
  return n;
}

namespace {

// The percentiles reported, with their JSON names.
constexpr std::array<std::pair<const char*, double>, 6> kPercentiles{
    {{"p50", 0.50}, {"p75", 0.75}, {"p90", 0.90}, {"p99", 0.99}, {"p99_9", 0.999}, {"p99_99", 0.9999}}};

std::string human_time(double us) {
  char buf[32];
  if (us < 1000)
    std::snprintf(buf, sizeof buf, "%.0fus", us);
  else if (us < 1e6)
    std::snprintf(buf, sizeof buf, "%.2fms", us / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2fs", us / 1e6);
  return buf;
}

std::string human_bytes(double b) {
  char buf[32];
  if (b < 1024)
    std::snprintf(buf, sizeof buf, "%.0fB", b);
  else if (b < 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2fKiB", b / 1024);
  else
    std::snprintf(buf, sizeof buf, "%.2fMiB", b / (1024 * 1024));
  return buf;
}

nlohmann::json latency_json(const Histogram& h) {
  nlohmann::json latency = {{"min", h.min()}, {"mean", h.mean()}};
  for (auto [name, q] : kPercentiles) latency[name] = h.percentile(q);
  latency["max"] = h.max();
  return latency;
}

nlohmann::json status_json(const Tally& t) {
  nlohmann::json status = nlohmann::json::object();
  for (auto [code, n] : t.status) status[std::to_string(code)] = n;
  return status;
}

nlohmann::json errors_json(const Tally& t) {
  nlohmann::json errors = nlohmann::json::object();
  for (std::size_t i = 0; i < kErrorClasses; ++i)
    errors[std::string(to_string(static_cast<ErrorClass>(i)))] = t.errors[i];
  return errors;
}

nlohmann::json optional_json(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string optional_ms(const std::optional<double>& ms) {
  return ms ? human_time(*ms * 1000.0) : std::string("-");
}

// "503=3 timeout=2"
std::string causes_text(const std::map<std::string, std::uint64_t>& causes) {
  std::string text;
  for (const auto& [cause, n] : causes) text += (text.empty() ? "" : " ") + cause + "=" + std::to_string(n);
  return text;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", s);
  return buf;
}

}  // namespace

nlohmann::json IntervalSample::to_json() const {
  nlohmann::json causes = nlohmann::json::object();
  for (const auto& [cause, n] : failures_by_cause) causes[cause] = n;
  return {{"t_s", t_s},
          {"length_s", length_s},
          {"requests", requests},
          {"ok", ok},
          {"per_s", per_s},
          {"ok_per_s", ok_per_s},
          {"failures", failures},
          {"failures_by_cause", causes},
          {"p50_ms", optional_json(p50_ms)},
          {"p99_ms", optional_json(p99_ms)},
          {"max_ms", optional_json(max_ms)},
          {"dropped", dropped},
          {"target_rate", optional_json(target_rate)}};
}

std::string IntervalSample::line() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "[%6.1fs] %8.0f/s ok %8.0f/s  p50 %8s  p99 %8s  max %8s  failures %llu", t_s, per_s,
                ok_per_s, optional_ms(p50_ms).c_str(), optional_ms(p99_ms).c_str(), optional_ms(max_ms).c_str(),
                static_cast<unsigned long long>(failures));
  std::string text = buf;
  if (failures) text += " (" + causes_text(failures_by_cause) + ")";
  if (target_rate) {
    std::snprintf(buf, sizeof buf, "  target %.0f/s  dropped %llu", *target_rate,
                  static_cast<unsigned long long>(dropped));
    text += buf;
  }
  return text;
}

nlohmann::json Report::to_json() const {
  const auto& o = options;
  auto seconds = [](std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); };
  // With a workload the URL gives only the host and port, and the method
  // and body vary per kind (see "kinds").
  nlohmann::json target = {{"url", "http://" + o.url.authority() + (o.workload ? std::string() : o.url.target)},
                           {"method", o.workload ? nlohmann::json(nullptr) : nlohmann::json(o.method)},
                           {"connections", o.connections},
                           {"threads", o.effective_threads()},
                           {"keep_alive", !o.close},
                           {"timeout_s", seconds(o.timeout)},
                           {"warmup_s", seconds(o.warmup)},
                           {"body_bytes", o.workload ? nlohmann::json(nullptr) : nlohmann::json(o.body.size())}};
  target["duration_s"] = o.duration ? nlohmann::json(seconds(*o.duration)) : nlohmann::json(nullptr);
  target["requests"] = o.requests ? nlohmann::json(*o.requests) : nlohmann::json(nullptr);
  target["rate"] = o.rate ? nlohmann::json(*o.rate) : nlohmann::json(nullptr);
  if (o.stages.empty()) {
    target["stages"] = nullptr;
  } else {
    target["stages"] = nlohmann::json::array();
    for (const auto& st : o.stages)
      target["stages"].push_back({{"duration_s", seconds(st.duration)}, {"target", st.target}});
    if (!o.duration) target["duration_s"] = seconds(*o.measured_duration());
  }
  target["start_rate"] = optional_json(o.start_rate);
  target["interval_s"] = o.interval ? nlohmann::json(seconds(*o.interval)) : nlohmann::json(nullptr);
  nlohmann::json doc = {{"schema", "busylab-load/1"},
                        {"target", target},
                        {"requests", tally.responses},
                        {"duration_s", duration_s},
                        {"requests_per_s", requests_per_s()},
                        {"bytes_read", tally.bytes_read},
                        {"bytes_per_s", bytes_per_s()},
                        {"status", status_json(tally)},
                        {"errors", errors_json(tally)},
                        {"errors_total", tally.error_total()},
                        {"connections_opened", tally.connects},
                        {"reconnects", tally.reconnects},
                        {"latency_us", latency_json(tally.latency_us)},
                        {"peak_rss_mb", peak_rss_mb},
                        {"reached", reached}};
  if (o.rate || !o.stages.empty()) {
    // With stages the target is the schedule's mean rate over the measured window.
    const double target_rate =
        o.rate ? *o.rate : (scheduled ? static_cast<double>(*scheduled) / seconds(*o.measured_duration()) : 0.0);
    doc["open_loop"] = {{"target_rate", target_rate},
                        {"achieved_rate", requests_per_s()},
                        {"late_sends", tally.late_sends},
                        {"late_threshold_ms", kLateThreshold.count()},
                        {"dropped", tally.dropped},
                        {"scheduled", scheduled ? nlohmann::json(*scheduled) : nlohmann::json(nullptr)},
                        {"stages", o.stages.empty() ? nlohmann::json(nullptr) : nlohmann::json(stages_text(o.stages))}};
  } else {
    doc["open_loop"] = nullptr;
  }
  if (o.workload) {
    doc["workload"] = {{"name", o.workload->name},
                       {"file", o.workload->file},
                       {"seed", o.seed ? nlohmann::json(*o.seed) : nlohmann::json(nullptr)}};
    nlohmann::json kinds_doc = nlohmann::json::object();
    for (const auto& k : kinds) {
      kinds_doc[k.name] = {{"requests", k.tally.responses},
                           {"status", status_json(k.tally)},
                           {"errors", errors_json(k.tally)},
                           {"errors_total", k.tally.error_total()},
                           {"latency_us", latency_json(k.tally.latency_us)}};
    }
    doc["kinds"] = kinds_doc;
  } else {
    doc["workload"] = nullptr;
    doc["kinds"] = nullptr;
  }
  doc["ledger"] = ledger.to_json();
  if (o.interval) {
    doc["series"] = nlohmann::json::array();
    for (const auto& sample : series) doc["series"].push_back(sample.to_json());
  } else {
    doc["series"] = nullptr;
  }
  doc["slo"] = nullptr;  // `busylab load --slo` sets it (loadgen/slo.hpp)
  return doc;
}

std::string Report::to_text() const {
  const auto& o = options;
  const auto& h = tally.latency_us;
  std::ostringstream s;
  char line[256];
  if (o.workload) {
    s << (o.rate || !o.stages.empty() ? "open loop" : "closed loop") << " workload "
      << (o.workload->name.empty() ? "" : o.workload->name + " ") << "(" << o.workload->kinds.size()
      << (o.workload->kinds.size() == 1 ? " kind" : " kinds");
    if (o.seed) s << ", seed " << *o.seed;
    s << ") http://" << o.url.authority();
  } else {
    s << (o.rate || !o.stages.empty() ? "open loop" : "closed loop") << " " << o.method << " http://"
      << o.url.authority() << o.url.target;
  }
  s << ": " << o.connections << (o.connections == 1 ? " connection, " : " connections, ") << o.effective_threads()
    << (o.effective_threads() == 1 ? " thread" : " threads")
    << (o.close ? ", a new connection per request" : ", keep-alive") << "\n";
  std::snprintf(line, sizeof line, "  %llu requests in %.2fs, %s read\n",
                static_cast<unsigned long long>(tally.responses), duration_s,
                human_bytes(static_cast<double>(tally.bytes_read)).c_str());
  s << line;
  std::snprintf(line, sizeof line, "  Requests/sec: %.2f\n  Transfer/sec: %s\n", requests_per_s(),
                human_bytes(bytes_per_s()).c_str());
  s << line;
  if (o.rate) {
    std::snprintf(line, sizeof line,
                  "  Rate: %.1f/s asked, %.1f/s achieved, %llu sent late (>%lldms after due), %llu dropped\n", *o.rate,
                  requests_per_s(), static_cast<unsigned long long>(tally.late_sends),
                  static_cast<long long>(kLateThreshold.count()), static_cast<unsigned long long>(tally.dropped));
    s << line;
  } else if (!o.stages.empty()) {
    s << "  Stages: " << stages_text(o.stages);
    if (o.start_rate) s << " from " << seconds_text(*o.start_rate) << "/s";
    std::snprintf(line, sizeof line,
                  "\n  Rate: %llu due, %llu dropped, %.1f/s achieved, %llu sent late (>%lldms after due)\n",
                  static_cast<unsigned long long>(scheduled.value_or(0)),
                  static_cast<unsigned long long>(tally.dropped), requests_per_s(),
                  static_cast<unsigned long long>(tally.late_sends), static_cast<long long>(kLateThreshold.count()));
    s << line;
  }
  const bool open_loop = o.rate || !o.stages.empty();
  s << "  Latency" << (open_loop ? " (from when each request was due)" : "") << ":\n";
  std::snprintf(line, sizeof line, "    min %s  mean %s  max %s\n", human_time(static_cast<double>(h.min())).c_str(),
                human_time(h.mean()).c_str(), human_time(static_cast<double>(h.max())).c_str());
  s << line;
  s << "   ";
  for (auto [name, q] : kPercentiles) {
    std::string label = name;
    for (auto& c : label) c = c == '_' ? '.' : c;
    s << " " << label << " " << human_time(static_cast<double>(h.percentile(q)));
  }
  s << "\n  Status:";
  if (tally.status.empty()) s << " none";
  for (auto [code, n] : tally.status) s << " " << code << "=" << n;
  s << "\n  Errors: " << tally.error_total();
  if (tally.error_total() > 0) {
    s << " (";
    bool first = true;
    for (std::size_t i = 0; i < kErrorClasses; ++i) {
      if (!tally.errors[i]) continue;
      s << (first ? "" : ", ") << to_string(static_cast<ErrorClass>(i)) << " " << tally.errors[i];
      first = false;
    }
    s << ")";
  }
  if (!kinds.empty()) {
    // One line per kind of the workload; share is of all responses.
    std::snprintf(line, sizeof line, "\n  Kinds:\n    %-16s %9s %6s %7s %9s %9s %9s  %s", "kind", "requests", "share",
                  "errors", "p50", "p99", "max", "status");
    s << line;
    for (const auto& k : kinds) {
      const auto& t = k.tally;
      const double share =
          tally.responses ? 100.0 * static_cast<double>(t.responses) / static_cast<double>(tally.responses) : 0.0;
      std::snprintf(line, sizeof line, "\n    %-16s %9llu %5.1f%% %7llu %9s %9s %9s ", k.name.c_str(),
                    static_cast<unsigned long long>(t.responses), share,
                    static_cast<unsigned long long>(t.error_total()),
                    human_time(static_cast<double>(t.latency_us.percentile(0.50))).c_str(),
                    human_time(static_cast<double>(t.latency_us.percentile(0.99))).c_str(),
                    human_time(static_cast<double>(t.latency_us.max())).c_str());
      s << line;
      if (t.status.empty()) s << " none";
      for (auto [code, n] : t.status) s << " " << code << "=" << n;
    }
  }
  s << "\n  Connections opened: " << tally.connects << ", reconnects: " << tally.reconnects << "\n";
  {
    // What the server acknowledged, for checking the database afterwards.
    const auto& l = ledger;
    std::uint64_t increments = 0, increments_unknown = 0;
    for (const auto& [name, n] : l.counters) increments += n;
    for (const auto& [name, n] : l.counters_unknown) increments_unknown += n;
    const auto& t = l.transfers;
    std::string parts;
    const auto part = [&](const std::string& text) { parts += (parts.empty() ? "" : "; ") + text; };
    if (l.inserts || l.inserts_unknown) {
      part("rows inserted " + std::to_string(l.inserts) + " (+" + std::to_string(l.inserts_unknown) + " unknown)");
    }
    if (increments || increments_unknown || !l.counters.empty() || !l.counters_unknown.empty()) {
      part("counter increments " + std::to_string(increments) + " over " + std::to_string(l.counters.size()) +
           " names (+" + std::to_string(increments_unknown) + " unknown)");
    }
    if (t.ok || t.refused || t.failed || t.unknown) {
      part("transfers " + std::to_string(t.ok) + " ok, " + std::to_string(t.refused) + " refused, " +
           std::to_string(t.failed) + " failed, " + std::to_string(t.unknown) + " unknown");
    }
    if (!parts.empty()) s << "  Acknowledged (warm-up included): " << parts << "\n";
  }
  std::snprintf(line, sizeof line, "  Peak memory: %.1f MiB\n", peak_rss_mb);
  s << line;
  if (!series.empty()) {
    // The series, one row per interval.
    s << "  Series (every " << seconds_text(std::chrono::duration<double>(*o.interval).count())
      << "s; latency of the answers that arrived in each interval):\n";
    std::snprintf(line, sizeof line, "    %8s %10s %10s %9s %9s %9s %9s", "t", "req/s", "ok/s", "p50", "p99", "max",
                  "failures");
    s << line;
    if (open_loop) {
      std::snprintf(line, sizeof line, " %9s %8s", "target/s", "dropped");
      s << line;
    }
    s << "\n";
    for (const auto& x : series) {
      std::snprintf(line, sizeof line, "    %7.1fs %10.1f %10.1f %9s %9s %9s %9llu", x.t_s, x.per_s, x.ok_per_s,
                    optional_ms(x.p50_ms).c_str(), optional_ms(x.p99_ms).c_str(), optional_ms(x.max_ms).c_str(),
                    static_cast<unsigned long long>(x.failures));
      s << line;
      if (open_loop) {
        std::snprintf(line, sizeof line, " %9.0f %8llu", x.target_rate.value_or(0),
                      static_cast<unsigned long long>(x.dropped));
        s << line;
      }
      if (x.failures) s << "  " << causes_text(x.failures_by_cause);
      s << "\n";
    }
  }
  if (!reached) s << "  The target could not be reached.\n";
  return s.str();
}

}  // namespace busylab::loadgen
