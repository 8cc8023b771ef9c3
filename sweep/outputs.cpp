#include "sweep/outputs.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "strategy/strategy.hpp"
#include "sweep/machine.hpp"
#include "sweep/summary.hpp"

namespace busylab::sweep {

double json_number(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* node = &j;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return 0;
    node = &(*node)[key];
  }
  return node->is_number() ? node->get<double>() : 0;
}

namespace {

bool has(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* node = &j;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return false;
    node = &(*node)[key];
  }
  return !node->is_null();
}

}  // namespace

std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  const double d = v.get<double>();
  char buf[32];
  if (d == static_cast<double>(static_cast<long long>(d)) && std::abs(d) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", d);
  else if (std::abs(d) >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", d);
  else
    std::snprintf(buf, sizeof buf, "%.2f", d);
  return buf;
}

std::string table_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (c == '|') {
      out += "\\|";
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string axis_key(const Experiment& e, const std::string& name) {
  for (const auto& a : e.matrix) {
    if (a.key == name || a.label == name) return a.key;
  }
  return "";
}

std::string gnuplot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

// The terminal line for one kind of output ("svg" or "png") of the given
// size. noenhanced: '_', '^', '&' and '@' in names and values are plain text.
std::string gnuplot_terminal(const char* kind, int width, int height) {
  const std::string size = std::to_string(width) + "," + std::to_string(height);
  return std::string(kind) == "svg" ? "set terminal svg size " + size + " dynamic noenhanced background '#ffffff'\n"
                                    : "set terminal pngcairo size " + size + " noenhanced\n";
}

// Writes `script` to DIR/STEM.gp and runs gnuplot on it, its errors going to
// DIR/STEM.gnuplot.log. Returns "" when it ran, else what went wrong.
std::string run_gnuplot(const std::filesystem::path& dir, const std::string& stem, const std::string& script) {
  const auto gp = dir / (stem + ".gp");
  std::ofstream(gp) << script;
  const auto log = dir / (stem + ".gnuplot.log");
  const std::string command = "gnuplot " + gnuplot_quote(gp.string()) + " 2>" + gnuplot_quote(log.string());
  if (std::system(command.c_str()) == 0) return "";
  return "gnuplot failed or is not installed (see " + log.string() + ")";
}

}  // namespace

nlohmann::json metric(const Experiment& e, const CellResult& r, const std::string& name) {
  if (const auto key = axis_key(e, name); !key.empty()) {
    for (const auto& [k, v] : r.cell.values) {
      if (k == key) return v;
    }
  }
  const auto& load = r.load;
  const auto& s = r.server;
  const bool ran = load.is_object();
  auto ok = [&] {
    double n = 0;
    if (ran && load.contains("status")) {
      for (auto it = load["status"].begin(); it != load["status"].end(); ++it) {
        const int code = std::stoi(it.key());
        if (code >= 200 && code < 300) n += it.value().get<double>();
      }
    }
    return n;
  };
  if (name == "verified") return r.verdict.ok ? std::string("yes") : "NO: " + r.verdict.detail;
  if (name == "capacity_per_s") {
    if (!r.capacity || !r.capacity->capacity_per_s) return nullptr;
    return *r.capacity->capacity_per_s;
  }
  if (name == "slo") {
    if (!r.slo) return nullptr;
    return r.slo->pass ? std::string("pass") : "FAIL: " + r.slo->reason;
  }
  if (name == "reader_reads") return r.reader ? nlohmann::json(r.reader->reads) : nullptr;
  if (name == "reader_waits") return r.reader ? nlohmann::json(r.reader->waited) : nullptr;
  if (name == "reader_failed") return r.reader ? nlohmann::json(r.reader->failed) : nullptr;
  if (name == "rows_after") return has(s, {"rows_after"}) ? s["rows_after"] : nlohmann::json(nullptr);
  if (name == "counter_after") return has(s, {"counter_after"}) ? s["counter_after"] : nlohmann::json(nullptr);
  if (name == "acknowledged")
    return has(s, {"writes", "acknowledged"}) ? s["writes"]["acknowledged"] : nlohmann::json(nullptr);
  if (name == "busy_errors") {
    if (!has(s, {"database"})) return nullptr;
    return json_number(s, {"database", "busy_failures"}) + json_number(s, {"database", "busy_snapshot_failures"});
  }
  if (name == "busy_snapshot")
    return has(s, {"database"}) ? nlohmann::json(json_number(s, {"database", "busy_snapshot_failures"})) : nullptr;
  if (name == "deadlocks")
    return has(s, {"database", "deadlock_failures"}) ? nlohmann::json(json_number(s, {"database", "deadlock_failures"}))
                                                     : nullptr;
  if (name == "unknown_outcomes")
    return has(s, {"database"}) ? nlohmann::json(json_number(s, {"database", "unknown_outcomes"})) : nullptr;
  if (name == "wal_max_mb")
    return r.wal_max_bytes ? nlohmann::json(static_cast<double>(*r.wal_max_bytes) / 1048576.0) : nullptr;
  if (name == "wal_restarts") return r.wal_restarts ? nlohmann::json(*r.wal_restarts) : nullptr;
  // database.checkpoint's background checkpointer (0 under "auto").
  static const std::map<std::string, const char*> kCheckpointer = {
      {"checkpoints", "checkpoints"}, {"checkpoints_incomplete", "incomplete"}, {"checkpoint_ms", "total_ms"}};
  if (const auto it = kCheckpointer.find(name); it != kCheckpointer.end())
    return has(s, {"database", "checkpointer"})
               ? nlohmann::json(json_number(s, {"database", "checkpointer", it->second}))
               : nullptr;
  if (name == "busy_waits")
    return has(s, {"database"}) ? nlohmann::json(json_number(s, {"database", "busy_sleeps"})) : nullptr;
  if (name == "busy_wait_ms")
    return has(s, {"database"}) ? nlohmann::json(json_number(s, {"database", "busy_sleep_ms"})) : nullptr;
  // The server's busy_wait_per_request: each request's total lock wait.
  static const std::map<std::string, const char*> kPerRequest = {
      {"busy_waited", "requests_waited"}, {"busy_wait_p50_ms", "p50_ms"}, {"busy_wait_max_ms", "max_ms"}};
  if (const auto it = kPerRequest.find(name); it != kPerRequest.end())
    return has(s, {"database", "busy_wait_per_request"})
               ? nlohmann::json(json_number(s, {"database", "busy_wait_per_request", it->second}))
               : nullptr;
  if (name == "busy_gave_up")
    return has(s, {"database"}) ? nlohmann::json(json_number(s, {"database", "busy_gave_up"})) : nullptr;
  // database.retry (server/handlers.cpp).
  if (name == "retries" || name == "committed_after_retry") {
    if (!has(s, {"database", "retry"})) return nullptr;
    return json_number(s, {"database", "retry", name.c_str()});
  }
  if (name == "retry_gave_up") {
    if (!has(s, {"database", "retry", "gave_up"})) return nullptr;
    double n = 0;
    for (const char* reason : {"max_tries", "deadline"})
      for (const char* cause : {"busy", "busy_snapshot"})
        n += json_number(s, {"database", "retry", "gave_up", reason, cause});
    return n;
  }
  if (name == "busy_sleepers") {
    // Time slept in the busy handler over the time the load ran (warm-up
    // included: sleeps are counted from the start): by Little's law, the mean
    // number of connections asleep at once.
    double seconds = std::chrono::duration<double>(r.cell.load.warmup).count() + json_number(load, {"duration_s"});
    // A capacity cell's counters cover all its steps, its load report only the capacity step.
    if (r.capacity && e.capacity)
      seconds = static_cast<double>(r.capacity->steps.size()) *
                std::chrono::duration<double>(std::min(e.capacity->step_duration, r.cell.load.duration)).count();
    if (!has(s, {"database"}) || !ran || seconds <= 0) return nullptr;
    return json_number(s, {"database", "busy_sleep_ms"}) / 1000.0 / seconds;
  }
  if (name == "checkout_p99_ms")
    return has(s, {"strategy", "pool"})
               ? nlohmann::json(json_number(s, {"strategy", "pool", "checkout_wait_ms", "p99"}))
               : nullptr;
  if (name == "checkout_max_ms")
    return has(s, {"strategy", "pool"})
               ? nlohmann::json(json_number(s, {"strategy", "pool", "checkout_wait_ms", "max"}))
               : nullptr;
  if (name == "pool_timeouts")
    return has(s, {"strategy"}) ? nlohmann::json(total_pool_timeouts(s["strategy"])) : nullptr;
  if (name == "shed") return has(s, {"strategy"}) ? nlohmann::json(total_shed(s["strategy"])) : nullptr;
  if (name == "batches")
    return has(s, {"strategy", "writer"}) ? nlohmann::json(json_number(s, {"strategy", "writer", "batches"})) : nullptr;
  if (name == "mean_batch")
    return has(s, {"strategy", "writer"}) ? nlohmann::json(json_number(s, {"strategy", "writer", "batch_size", "mean"}))
                                          : nullptr;
  if (!ran) return nullptr;
  if (name == "requests") return load.value("requests", nlohmann::json());
  if (name == "requests_per_s") return load.value("requests_per_s", nlohmann::json());
  if (name == "ok") return ok();
  if (name == "ok_per_s") {
    const double d = json_number(load, {"duration_s"});
    return d > 0 ? ok() / d : 0.0;
  }
  if (name == "errors") return load.value("errors_total", nlohmann::json());
  if (name == "failures") return json_number(load, {"requests"}) - ok() + json_number(load, {"errors_total"});
  if (name == "rejected_503") return json_number(load, {"status", "503"});
  if (name == "failure_pct") {
    // 5xx answers and requests without one, over all: a 4xx (a 404, an
    // overdraft's 409) is an answer about the request, not a failure.
    double failed = json_number(load, {"errors_total"}), all = json_number(load, {"requests"}) + failed;
    if (load.contains("status") && load["status"].is_object())
      for (auto it = load["status"].begin(); it != load["status"].end(); ++it)
        if (std::stoi(it.key()) >= 500) failed += it.value().get<double>();
    // A 500 commit_outcome_unknown is an unknown outcome (unknown_outcomes), not a failure.
    failed -= std::min(failed, json_number(s, {"database", "unknown_outcomes"}));
    return all > 0 ? 100.0 * failed / all : 0.0;
  }
  if (name == "p50_ms") return json_number(load, {"latency_us", "p50"}) / 1000.0;
  if (name == "p90_ms") return json_number(load, {"latency_us", "p90"}) / 1000.0;
  if (name == "p99_ms") return json_number(load, {"latency_us", "p99"}) / 1000.0;
  if (name == "max_ms") return json_number(load, {"latency_us", "max"}) / 1000.0;
  if (name == "mean_ms") return json_number(load, {"latency_us", "mean"}) / 1000.0;
  if (name == "ok_vs_raw") {
    const double d = json_number(load, {"duration_s"});
    if (!r.raw_commits_per_s || d <= 0) return nullptr;
    return ok() / d / *r.raw_commits_per_s;
  }
  return nullptr;
}

namespace {

// Words for the server and load keys a matrix may vary.
const std::map<std::string, std::string>& axis_words() {
  static const std::map<std::string, std::string> words = {
      {"load.connections", "clients (connections)"},
      {"load.rate", "offered load (requests/s)"},
      {"load.duration", "run length"},
      {"load.path", "request path"},
      {"load.method", "HTTP method"},
      {"load.body", "request body"},
      {"load.keep_alive", "keep-alive"},
      {"load.workload", "workload"},
      {"server.address", "listen address"},
      {"server.port", "port"},
      {"server.threads", "io threads"},
      {"server.header_timeout_ms", "header timeout (ms)"},
      {"server.idle_timeout_ms", "idle timeout (ms)"},
      {"server.body_timeout_ms", "body timeout (ms)"},
      {"server.write_timeout_ms", "write timeout (ms)"},
      {"server.body_limit", "body limit (bytes)"},
      {"server.header_limit", "header limit (bytes)"},
      {"server.shutdown_grace_ms", "shutdown grace (ms)"},
      {"server.log_level", "log level"},
      {"database.journal_mode", "journal mode"},
      {"database.synchronous", "synchronous"},
      {"database.busy_timeout_ms", "busy timeout (ms)"},
      {"database.busy_retry", "busy retry schedule"},
      {"database.busy_retry_interval_ms", "busy retry interval (ms)"},
      {"database.transaction", "transaction mode"},
      {"database.cache_size", "cache size (pages, KiB if negative)"},
      {"database.mmap_size", "mmap size (bytes)"},
      {"database.max_size_mb", "size guard (MiB)"},
      {"pool.strategy", "strategy"},
      {"pool.size", "pool size"},
      {"pool.checkout_timeout_ms", "checkout timeout (ms)"},
      {"pool.queue_target_ms", "queue target (ms)"},
      {"pool.queue_interval_ms", "queue interval (ms)"},
      {"pool.max_waiters", "max waiting requests"},
      {"pool.max_batch", "max writes per batch"},
  };
  return words;
}

bool is_write(const LoadSpec& load) {
  if (!load.workload.empty()) return false;  // a mix: its 2xx are not all writes
  // GET /seed writes too: it is the seed's request, kept as a GET (docs/http-api.md).
  return load.method == "POST" || load.method == "PUT" || load.method == "PATCH" || load.method == "DELETE" ||
         load.path == "/seed";
}

// Every cell's load writes, so a 2xx is an acknowledged write.
bool load_writes(const Experiment& e) {
  const auto cells = e.cells(false);
  return std::all_of(cells.begin(), cells.end(), [](const Cell& c) { return is_write(c.load); });
}

}  // namespace

std::string metric_label(const Experiment& e, const std::string& name) {
  if (const auto key = axis_key(e, name); !key.empty()) {
    const auto it = axis_words().find(key);
    return it != axis_words().end() ? it->second : name;
  }
  if (name == "ok_per_s") return load_writes(e) ? "writes/s" : "successful requests/s";
  if (name == "ok") return load_writes(e) ? "writes answered 2xx" : "requests answered 2xx";
  static const std::map<std::string, std::string> words = {
      {"requests", "requests answered (any status)"},
      {"requests_per_s", "requests/s (any status)"},
      {"failures", "failed requests"},
      {"errors", "requests without an answer"},
      {"rejected_503", "requests rejected with 503"},
      {"p50_ms", "p50 latency (ms)"},
      {"p90_ms", "p90 latency (ms)"},
      {"p99_ms", "p99 latency (ms)"},
      {"max_ms", "max latency (ms)"},
      {"mean_ms", "mean latency (ms)"},
      {"rows_after", "rows in the database after the run"},
      {"counter_after", "counter value after the run"},
      {"acknowledged", "writes the server acknowledged"},
      {"busy_errors", "requests failed with SQLITE_BUSY"},
      {"busy_snapshot", "requests failed with SQLITE_BUSY_SNAPSHOT"},
      {"busy_waits", "busy-handler sleeps"},
      {"busy_wait_ms", "time slept in the busy handler (ms)"},
      {"checkout_p99_ms", "p99 wait for a connection (ms)"},
      {"checkout_max_ms", "max wait for a connection (ms)"},
      {"pool_timeouts", "connection waits that timed out"},
      {"shed", "waiting requests shed"},
      {"batches", "transactions committed (batches)"},
      {"mean_batch", "writes per transaction"},
      {"reader_reads", "outside reader: reads"},
      {"reader_waits", "outside reader: reads that waited for a lock"},
      {"reader_failed", "outside reader: failed reads"},
      {"verified", "verified"},
      {"slo", "meets the experiment's SLO"},
      {"capacity_per_s", "highest rate meeting the SLO (requests/s)"},
      {"ok_vs_raw", "writes/s per raw SQLite commit/s (calibration)"},
      {"busy_sleepers", "connections asleep in the busy handler (mean)"},
      {"busy_gave_up", "lock attempts that ran out of busy timeout"},
      {"failure_pct", "requests failed with 5xx or no answer (%)"},
      {"deadlocks", "PostgreSQL: requests failed with 40P01 deadlock_detected"},
      {"retries", "transactions run again (database.retry)"},
      {"committed_after_retry", "writes committed after a retry"},
      {"retry_gave_up", "requests that ran out of retries"},
      {"busy_waited", "requests that waited for the lock"},
      {"unknown_outcomes", "writes of unknown outcome (commit_outcome_unknown)"},
      {"wal_max_mb", "largest WAL during the run (MiB)"},
      {"wal_restarts", "times the WAL restarted (checkpoints that copied every frame)"},
      {"checkpoints", "background checkpoints run"},
      {"checkpoints_incomplete", "background checkpoints a reader or writer cut short"},
      {"checkpoint_ms", "time in background checkpoints (ms)"},
      {"busy_wait_p50_ms", "median lock wait of the requests that waited (ms)"},
      {"busy_wait_max_ms", "longest lock wait of one request (ms)"},
  };
  const auto it = words.find(name);
  return it != words.end() ? it->second : name;
}

bool wants_log_scale(const std::vector<double>& values) {
  double lo = 0, hi = 0;
  for (double v : values) {
    // A 0 (no failures, say) is often the finding, and a log axis cannot
    // show it: such a plot stays linear.
    if (!(v > 0) || !std::isfinite(v)) return false;
    lo = lo == 0 ? v : std::min(lo, v);
    hi = std::max(hi, v);
  }
  return lo > 0 && hi / lo > 10;
}

std::string plot_title(const Experiment& e, const PlotSpec& plot) {
  if (!plot.title.empty()) return plot.title;
  std::string title = metric_label(e, plot.y) + " by " + metric_label(e, plot.x);
  for (const auto& [key, value] : plot.where) title += ", " + metric_label(e, key) + " " + value_text(value);
  return title;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=./:,@%") ==
                        std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string markdown_table(const Experiment& e, const std::vector<CellResult>& results) {
  const bool repeated = e.repetitions > 1;
  const bool scheduled =
      std::any_of(results.begin(), results.end(), [](const auto& r) { return r.cell.run_order > 0; });
  std::ostringstream s;
  s << "|";
  for (const auto& c : e.columns) s << " " << c << " |";
  if (repeated) s << " rep |";
  if (scheduled) s << " run |";
  s << "\n|";
  for (std::size_t i = 0; i < e.columns.size() + (repeated ? 1 : 0) + (scheduled ? 1 : 0); ++i) s << "---|";
  s << "\n";
  for (const auto& r : results) {
    s << "|";
    for (const auto& c : e.columns) s << " " << table_cell(value_text(metric(e, r, c))) << " |";
    if (repeated) s << " " << r.cell.repetition + 1 << " |";
    if (scheduled) s << " " << r.cell.run_order << " |";
    s << "\n";
  }
  return s.str();
}

std::string runs_note(const std::vector<CellResult>& results) {
  std::map<std::size_t, std::size_t> runs;
  for (const auto& r : results) ++runs[r.cell.point];
  std::size_t fewest = results.empty() ? 0 : results.size();
  for (const auto& [point, n] : runs) fewest = std::min(fewest, n);
  if (fewest >= 2) return "";
  return "Each point ran once (--quick, or repetitions 1): no spread was measured, so no difference between "
         "points is resolved. Run without --quick for the repeated figures.";
}

namespace {

// What became of one plot, for report.html.
struct PlotOutcome {
  std::string title;
  std::vector<Comparison> comparisons;  // what the plot compares, resolved or not
  std::vector<std::string> notes;       // points not drawn, and why
  std::filesystem::path svg;            // empty when not drawn
  std::string problem;                  // why it was not drawn
};

PlotOutcome write_plot(const Experiment& e, const std::vector<Point>& summary, std::size_t index,
                       const std::filesystem::path& dir) {
  const auto& plot = e.plots[index];
  PlotOutcome outcome;
  outcome.title = plot_title(e, plot);
  outcome.comparisons = compare_plot(e, summary, plot);
  const std::string stem = "plot-" + std::to_string(index + 1) + "-" + plot.y;
  const std::string y_words = metric_label(e, plot.y);

  // One mark per matrix point: its median, with its runs' range as an error
  // bar. x positions in first-seen order (the matrix's order), shared by
  // every series, so that a point left out does not shift the ones after it;
  // every x value keeps its tic even when none of its points is drawn.
  struct Mark {
    std::size_t x;
    Spread y;
  };
  std::vector<std::string> xs;
  std::vector<std::string> order;
  std::map<std::string, std::vector<Mark>> series;
  std::vector<double> values;
  std::size_t no_figure = 0;
  for (const auto& pp : plot_points(e, summary, plot)) {
    auto pos = std::find(xs.begin(), xs.end(), pp.x);
    if (pos == xs.end()) pos = xs.insert(xs.end(), pp.x);
    const std::string name = plot.series.empty() ? y_words : pp.series;
    if (!series.count(name)) order.push_back(name);
    auto& marks = series[name];
    const auto y = pp.point->metrics.find(plot.y);
    if (y == pp.point->metrics.end()) {
      ++no_figure;  // e.g. mean_batch of a strategy that does not batch
      continue;
    }
    marks.push_back({static_cast<std::size_t>(pos - xs.begin()), y->second});
    values.insert(values.end(), {y->second.median, y->second.min, y->second.max});
  }
  if (no_figure > 0)
    outcome.notes.push_back(std::to_string(no_figure) + (no_figure == 1 ? " point has" : " points have") +
                            " no figure for " + y_words + " (not drawn)");

  const bool log_scale = wants_log_scale(values);
  std::erase_if(order, [&](const std::string& name) { return series[name].empty(); });

  {
    std::ofstream dat(dir / (stem + ".dat"));
    dat << "# x position, x value, " << plot.y << " median, min, max\n";
    for (const auto& name : order) {
      dat << "# " << name << "\n";
      for (const auto& m : series[name])
        dat << m.x << " " << gnuplot_quote(xs[m.x]) << " " << m.y.median << " " << m.y.min << " " << m.y.max << "\n";
      dat << "\n\n";
    }
  }
  if (order.empty()) {
    outcome.problem = "nothing to draw: no selected cell has a figure for " + plot.y;
    return outcome;
  }

  std::string xtics;
  for (std::size_t i = 0; i < xs.size(); ++i) xtics += (i ? ", " : "") + gnuplot_quote(xs[i]) + " " + std::to_string(i);
  std::string note;
  for (const auto& n : outcome.notes) note += (note.empty() ? "" : "; ") + n;
  std::ostringstream script;
  for (const char* kind : {"svg", "png"}) {
    script << gnuplot_terminal(kind, 900, 540) << "set output " << gnuplot_quote((dir / (stem + "." + kind)).string())
           << "\n"
           << "set title " << gnuplot_quote(e.name + ": " + outcome.title) << "\n"
           << "set xlabel " << gnuplot_quote(metric_label(e, plot.x)) << "\n"
           << "set ylabel " << gnuplot_quote(y_words + (log_scale ? ", log scale" : "")) << "\n"
           << "set grid\nset xrange [-0.2:" << static_cast<double>(xs.size()) - 0.8 << "]\n"
           << "set xtics (" << xtics << ")\n";
    if (plot.series.empty())
      script << "set key off\n";
    else
      script << "set key outside right title " << gnuplot_quote(metric_label(e, plot.series)) << "\n";
    // A log axis cannot start at 0; a linear one does, so that a small
    // difference does not look like a large one.
    script << (log_scale ? "set logscale y\nset yrange [*:*]\n" : "set yrange [0:*]\n");
    if (!note.empty())
      script << "set bmargin 5\nset label 1 " << gnuplot_quote("Note: " + note) << " at screen 0.01, 0.02 left\n";
    script << "plot ";
    for (std::size_t s = 0; s < order.size(); ++s) {
      script << (s ? ", " : "") << gnuplot_quote((dir / (stem + ".dat")).string()) << " index " << s
             << " using 1:3:4:5 with yerrorlines linewidth 2 title " << gnuplot_quote(order[s]);
    }
    script << "\nunset output\n";
  }
  outcome.problem = run_gnuplot(dir, stem, script.str());
  if (outcome.problem.empty()) outcome.svg = dir / (stem + ".svg");
  return outcome;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Prefixes ` id=` values and `#` references so that several inlined SVGs (all
// from gnuplot, all with the same ids) do not share ids in one page.
std::string prefix_svg_ids(const std::string& svg, const std::string& prefix) {
  std::string out;
  out.reserve(svg.size() + svg.size() / 20);
  const std::pair<std::string, bool> needles[] = {
      {"id='", true}, {"id=\"", true}, {"href='#", false}, {"href=\"#", false}, {"url(#", false}};
  for (std::size_t i = 0; i < svg.size();) {
    bool replaced = false;
    for (const auto& [needle, after_space] : needles) {
      if (svg.compare(i, needle.size(), needle) != 0) continue;
      if (after_space && (i == 0 || !std::isspace(static_cast<unsigned char>(svg[i - 1])))) continue;
      out += needle + prefix;
      i += needle.size();
      replaced = true;
      break;
    }
    if (!replaced) out += svg[i++];
  }
  return out;
}

// The <svg> element of a gnuplot SVG file (without its XML prolog), or "".
std::string inline_svg(const std::filesystem::path& file, const std::string& id_prefix) {
  const std::string text = read_text(file);
  const auto start = text.find("<svg");
  const auto end = text.rfind("</svg>");
  if (start == std::string::npos || end == std::string::npos || end < start) return "";
  return prefix_svg_ids(text.substr(start, end + 6 - start), id_prefix);
}

// ---- timelines ------------------------------------------------------------

// One run's time series as a timeline draws it: from cells/NNN/timeseries.csv.
struct TimelineRun {
  const CellResult* result = nullptr;
  std::vector<double> t_s, ok_per_s, p99_ms, wal_bytes;  // NaN where a field is empty
};

// The cell's folder, as the runner names it (cells/001 for the first cell).
std::filesystem::path cell_dir(const std::filesystem::path& dir, std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%03zu", index + 1);
  return dir / "cells" / name;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  for (char c : line) {
    if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  fields.push_back(field);
  return fields;
}

// Reads the columns a timeline draws; false when the file is missing or has
// no t_s column. A capacity cell's file has one run of rows per step, each
// starting again from t_s 0 (and a leading `rate` column): the steps are laid
// end to end, so t_s is the time under load since the cell's first step.
bool read_timeline_run(const std::filesystem::path& file, TimelineRun& run) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  const auto header = split_csv_line(line);
  auto column = [&](const char* name) -> std::ptrdiff_t {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : it - header.begin();
  };
  const auto t = column("t_s"), ok = column("ok_per_s"), p99 = column("p99_ms"), wal = column("wal_bytes");
  if (t < 0) return false;
  const double nan = std::nan("");
  auto number = [&](const std::vector<std::string>& fields, std::ptrdiff_t i) {
    if (i < 0 || static_cast<std::size_t>(i) >= fields.size() || fields[i].empty()) return nan;
    char* end = nullptr;
    const double v = std::strtod(fields[i].c_str(), &end);
    return end && *end == '\0' ? v : nan;
  };
  double offset = 0, previous = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line == "\r") continue;
    const auto fields = split_csv_line(line);
    const double raw = number(fields, t);
    if (std::isnan(raw)) continue;
    if (raw < previous) offset += previous;  // the next capacity step
    previous = raw;
    run.t_s.push_back(offset + raw);
    run.ok_per_s.push_back(number(fields, ok));
    run.p99_ms.push_back(number(fields, p99));
    run.wal_bytes.push_back(number(fields, wal));
  }
  return true;
}

// What became of one named point's timeline, for report.html.
struct TimelineOutcome {
  std::string title;  // "setup sqlite/normal/batched/4/1"
  std::string name;   // point_name(): "sqlite/normal/batched/4/1"
  std::size_t point = 0;
  std::vector<std::size_t> cells;  // the runs drawn (0-based cell indexes)
  struct Chart {
    std::string metric;  // ok_per_s, p99_ms, wal_bytes
    std::string caption;
    std::filesystem::path svg;  // empty when not drawn
  };
  std::vector<Chart> charts;
  std::vector<std::string> notes;
  std::string problem;  // why nothing was drawn
};

// A point as words: "setup sqlite/normal/batched/4/1", "journal wal, pool_size 4".
std::string point_words(const Experiment& e, const std::vector<std::pair<std::string, nlohmann::json>>& values) {
  std::string text;
  for (const auto& a : e.matrix) {
    for (const auto& [key, value] : values)
      if (key == a.key) text += (text.empty() ? "" : ", ") + a.label + " " + value_text(value);
  }
  return text.empty() ? std::string("the configuration") : text;
}

// Three charts over time for the `number`th (1-based) point of e.timelines,
// one line per run: the successful requests per second, p99 latency and the
// WAL's size (not drawn when no run has a WAL figure, e.g. PostgreSQL).
TimelineOutcome write_timeline(const Experiment& e, const std::vector<CellResult>& results, std::size_t number,
                               std::size_t point, const std::filesystem::path& dir) {
  TimelineOutcome outcome;
  outcome.point = point;
  std::vector<TimelineRun> runs;
  for (const auto& r : results) {
    if (r.cell.point != point) continue;
    if (outcome.title.empty()) {
      outcome.title = point_words(e, r.cell.values);
      outcome.name = point_name(r.cell.values);
    }
    TimelineRun run;
    run.result = &r;
    const auto file = cell_dir(dir, r.cell.index) / "timeseries.csv";
    if (!read_timeline_run(file, run) || run.t_s.empty()) {
      outcome.notes.push_back("rep " + std::to_string(r.cell.repetition + 1) + " (cell " +
                              std::to_string(r.cell.index + 1) + ") has no time series (" + file.string() + ")");
      continue;
    }
    runs.push_back(std::move(run));
  }
  std::sort(runs.begin(), runs.end(), [](const TimelineRun& a, const TimelineRun& b) {
    return a.result->cell.repetition < b.result->cell.repetition;
  });
  if (outcome.title.empty()) outcome.title = "point " + std::to_string(point + 1);
  for (const auto& run : runs) outcome.cells.push_back(run.result->cell.index);
  if (runs.empty()) {
    outcome.problem = "nothing to draw: no run of this point has a time series";
    return outcome;
  }

  const std::string stem = "timeline-" + std::to_string(number);
  const auto dat = dir / (stem + ".dat");
  bool wal = false;
  std::vector<double> p99s;
  {
    std::ofstream out(dat);
    out << "# " << outcome.title << ": t_s, ok_per_s, p99_ms, wal_bytes; one block per run\n";
    for (const auto& run : runs) {
      out << "# rep " << run.result->cell.repetition + 1 << ", cell " << run.result->cell.index + 1 << "\n";
      for (std::size_t i = 0; i < run.t_s.size(); ++i) {
        auto field = [](double v) {
          if (std::isnan(v)) return std::string("NaN");
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.10g", v);
          return std::string(buf);
        };
        out << field(run.t_s[i]) << " " << field(run.ok_per_s[i]) << " " << field(run.p99_ms[i]) << " "
            << field(run.wal_bytes[i]) << "\n";
        wal = wal || !std::isnan(run.wal_bytes[i]);
        if (!std::isnan(run.p99_ms[i])) p99s.push_back(run.p99_ms[i]);
      }
      out << "\n\n";
    }
  }
  const bool p99_log = wants_log_scale(p99s);
  struct ChartSpec {
    std::string metric, words, using_clause;
    bool log;
  };
  std::vector<ChartSpec> specs = {{"ok_per_s", metric_label(e, "ok_per_s"), "1:2", false},
                                  {"p99_ms", metric_label(e, "p99_ms"), "1:3", p99_log}};
  if (wal)
    specs.push_back({"wal_bytes", "WAL size (MiB)", "1:($4/1048576)", false});
  else
    outcome.notes.push_back("no WAL figures (not SQLite in WAL mode): no WAL chart");

  const std::string x_words =
      e.capacity ? "time under load, capacity steps end to end (s)" : "time since the measured run began (s)";
  std::ostringstream script;
  for (const char* kind : {"svg", "png"}) {
    for (const auto& c : specs) {
      script << gnuplot_terminal(kind, 600, 340) << "set output "
             << gnuplot_quote((dir / (stem + "-" + c.metric + "." + kind)).string()) << "\n"
             << "set title " << gnuplot_quote(outcome.title + ": " + c.words) << "\n"
             << "set xlabel " << gnuplot_quote(x_words) << "\n"
             << "set ylabel " << gnuplot_quote(c.words + (c.log ? ", log scale" : "")) << "\n"
             << "set grid\nset key below\nset xrange [0:*]\n"
             << (c.log ? "set logscale y\nset yrange [*:*]\n" : "unset logscale y\nset yrange [0:*]\n") << "plot ";
      for (std::size_t k = 0; k < runs.size(); ++k) {
        const auto& cell = runs[k].result->cell;
        script << (k ? ", " : "") << gnuplot_quote(dat.string()) << " index " << k << " using " << c.using_clause
               << " with linespoints linewidth 2 pointtype 7 pointsize 0.4 title "
               << gnuplot_quote("rep " + std::to_string(cell.repetition + 1) + " (cell " +
                                std::to_string(cell.index + 1) + ")");
      }
      script << "\nunset output\n";
    }
  }
  outcome.problem = run_gnuplot(dir, stem, script.str());
  const bool drawn = outcome.problem.empty();
  for (const auto& c : specs)
    outcome.charts.push_back({c.metric, c.words + (c.log ? ", log scale" : ""),
                              drawn ? dir / (stem + "-" + c.metric + ".svg") : std::filesystem::path()});
  return outcome;
}

std::string meta_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

constexpr const char* kReportStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.meta th { background: #f7f7f7; font-weight: normal; color: #555; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
figure { margin: 1em 0 2em; }
figure svg { width: 100%; height: auto; max-width: 900px; display: block; border: 1px solid #eee; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
.note { color: #7a5a00; }
.yes { color: #1a7f37; font-weight: bold; }
.no, .problem { color: #c00000; font-weight: bold; }
.resolved { color: #1a7f37; }
.unresolved { color: #8a8a8a; }
td.detail { white-space: pre-wrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 1em; }
.charts figure { margin: 0.5em 0 1em; }
)";

// With "capacity": the answer first, the configuration that sustained the
// most under the SLO (by median capacity), then the runners-up, each with
// its range and what it is (its matrix values).
std::vector<std::string> capacity_answer(const Experiment& e, const std::vector<Point>& summary) {
  std::vector<const Point*> ranked;
  for (const auto& p : summary)
    if (p.metrics.count("capacity_per_s")) ranked.push_back(&p);
  std::sort(ranked.begin(), ranked.end(), [](const Point* a, const Point* b) {
    return a->metrics.at("capacity_per_s").median > b->metrics.at("capacity_per_s").median;
  });
  auto describe = [&](const Point& p) {
    std::string text;
    for (const auto& a : e.matrix) {
      for (const auto& [key, value] : p.values)
        if (key == a.key) text += (text.empty() ? "" : ", ") + a.label + " " + value_text(value);
    }
    return text.empty() ? std::string("the configuration") : text;
  };
  std::vector<std::string> lines;
  if (!e.capacity) return lines;
  if (ranked.empty()) {
    lines.push_back("No configuration met the SLO at the lowest rate tried.");
    return lines;
  }
  lines.push_back("Most under the SLO: " + describe(*ranked[0]) + ", " +
                  spread_text(ranked[0]->metrics.at("capacity_per_s")) + " requests/s.");
  for (std::size_t i = 1; i < ranked.size() && i < 4; ++i) {
    const Spread& here = ranked[i]->metrics.at("capacity_per_s");
    const Spread& before = ranked[i - 1]->metrics.at("capacity_per_s");
    const std::string verdict = here.n < 2 || before.n < 2 ? "one run: no spread measured"
                                : here.max < before.min    ? "resolved against the one before"
                                                           : "not resolved against the one before";
    lines.push_back("Then " + describe(*ranked[i]) + ", " + spread_text(here) + " requests/s (" + verdict + ").");
  }
  return lines;
}

// table.md: the points with their spread, what the plots compare, the
// calibration, then every run.
std::string summary_markdown(const Experiment& e, const std::vector<CellResult>& results,
                             const std::vector<Point>& summary, const std::vector<PlotOutcome>& plots,
                             const nlohmann::json& meta) {
  std::ostringstream out;
  out << "# " << e.name << "\n\n";
  if (!e.description.empty()) out << e.description << "\n\n";
  for (const auto& line : capacity_answer(e, summary)) out << "**" << line << "**\n\n";
  out << "Each figure: the median of a point's runs (min-max).\n\n";
  if (const auto note = runs_note(results); !note.empty()) out << note << "\n\n";
  out << points_table(e, results, summary);
  bool heading = false;
  for (const auto& p : plots) {
    if (p.comparisons.empty()) continue;
    if (!heading) out << "\n## Differences\n\nResolved: the two ranges do not overlap.\n";
    heading = true;
    out << "\n" << p.title << ":\n\n";
    for (const auto& c : p.comparisons) out << "- " << c.text() << "\n";
  }
  if (meta.is_object() && meta.contains("calibration") && meta["calibration"].is_object()) {
    const auto& cal = meta["calibration"];
    out << "\n## Calibration\n\n| when | fdatasync/s | WAL full commits/s | WAL normal | delete full |\n"
           "|---|---|---|---|---|\n";
    for (const char* when : {"start", "end"}) {
      if (!cal.contains(when)) continue;
      const auto c = Calibration::from_json(cal[when]);
      out << "| " << when << " " << c.utc << " | " << short_number(c.fdatasync_per_s) << " | "
          << short_number(c.wal_full) << " | " << short_number(c.wal_normal) << " | " << short_number(c.delete_full)
          << " |\n";
    }
    if (cal.contains("warning") && cal["warning"].is_string()) out << "\n" << cal["warning"].get<std::string>() << "\n";
  }
  out << "\n## All runs\n\n" << markdown_table(e, results);
  return out.str();
}

// A nested meta value in one line: "ext4 on / (/dev/vda1)" for a file
// system, the named options for SQLite's compile options, "k=v, ..." else.
std::string meta_object_text(const std::string& key, const nlohmann::json& v) {
  if (key == "filesystem")
    return v.value("type", "?") + " on " + v.value("mount", "?") + " (" + v.value("device", "?") + "), " +
           v.value("path", "");
  std::string out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (key == "sqlite_compile_options" && it.key() == "all") continue;  // in results.json
    out += (out.empty() ? "" : ", ") + it.key() + "=" + meta_text(it.value());
  }
  return out;
}

std::string write_report(const Experiment& e, const std::vector<CellResult>& results, const nlohmann::json& meta,
                         const std::vector<PlotOutcome>& plots, const std::vector<Point>& summary,
                         const std::vector<TimelineOutcome>& timelines) {
  std::ostringstream h;
  const auto esc = html_escape;
  std::size_t verified = 0;
  for (const auto& r : results) verified += r.verdict.ok ? 1 : 0;

  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>" << esc(e.name) << " - busylab sweep</title>\n<style>" << kReportStyle << "</style>\n</head>\n<body>\n";
  h << "<h1 id=\"experiment\">" << esc(e.name) << "</h1>\n";
  if (!e.description.empty()) h << "<p id=\"description\">" << esc(e.description) << "</p>\n";
  for (const auto& line : capacity_answer(e, summary)) h << "<p class=\"answer\">" << esc(line) << "</p>\n";
  h << "<p id=\"summary\" class=\"" << (verified == results.size() ? "yes" : "no") << "\">" << verified << " of "
    << results.size() << " cells verified</p>\n";

  // The run: when, where, with what, and how to run it again.
  h << "<h2>Run</h2>\n<table class=\"meta\" id=\"meta\">\n";
  auto row = [&](const std::string& name, const std::string& value) {
    h << "<tr><th>" << esc(name) << "</th><td>" << esc(value) << "</td></tr>\n";
  };
  row("experiment file", e.file.string());
  const std::pair<const char*, const char*> known[] = {
      {"started_utc", "started (UTC)"}, {"finished_utc", "finished (UTC)"}, {"kernel", "kernel"},
      {"cores", "CPU cores"},           {"sqlite_version", "SQLite"},       {"busylab_version", "busylab"},
      {"quick", "quick run (--quick)"}, {"cwd", "working directory"},       {"commit", "commit"},
      {"dirty", "uncommitted changes"}, {"build_type", "build type"},       {"seed", "run order seed (--seed)"}};
  for (const auto& [key, name] : known) {
    if (meta.is_object() && meta.contains(key)) row(name, meta_text(meta[key]));
  }
  if (meta.is_object()) {
    for (auto it = meta.begin(); it != meta.end(); ++it) {
      const bool shown =
          it.key() == "command" || it.key() == "calibration" ||
          std::any_of(std::begin(known), std::end(known), [&](const auto& k) { return it.key() == k.first; });
      if (shown) continue;
      row(it.key(), it.value().is_object() ? meta_object_text(it.key(), it.value()) : meta_text(it.value()));
    }
  }
  double elapsed = 0;
  for (const auto& r : results) elapsed += r.elapsed_s;
  char took[64];
  std::snprintf(took, sizeof took, "%zu, %.0f s in all", results.size(), elapsed);
  row("cells", took);
  h << "</table>\n";
  const std::string command = meta.is_object() && meta.contains("command") && meta["command"].is_string()
                                  ? meta["command"].get<std::string>()
                                  : "busylab sweep " + shell_quote(e.file.string());
  h << "<p>To run it again:</p>\n<pre id=\"command\"><code>" << esc(command) << "</code></pre>\n";

  // The table: the experiment's columns, one row per point, as in table.md.
  const std::string note = runs_note(results);
  h << "<h2>Results</h2>\n<p>Each figure is the median of a point's runs with their range (min-max); two points "
       "differ only where their ranges do not overlap (resolved).</p>\n";
  if (!note.empty()) h << "<p class=\"note\" id=\"runs-note\">" << esc(note) << "</p>\n";
  h << "<div class=\"wide\"><table id=\"results\">\n<thead><tr>";
  for (const auto& c : e.columns) h << "<th title=\"" << esc(metric_label(e, c)) << "\">" << esc(c) << "</th>";
  h << "<th>runs</th></tr></thead>\n<tbody>\n";
  for (const auto& p : summary) {
    h << "<tr id=\"point-" << p.index + 1 << "\">";
    for (const auto& c : e.columns) {
      const std::string text = point_text(e, results, p, c);
      std::string cls = p.metrics.count(c) ? "num" : "";
      if (c == "verified") cls = p.verified == p.runs.size() ? "yes" : "no";
      if (c == "slo") cls = p.slo_runs == 0 ? "" : p.slo_pass == p.slo_runs ? "yes" : "no";
      h << "<td" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">" << esc(text) << "</td>";
    }
    std::string cells;
    for (std::size_t i : p.runs) cells += (cells.empty() ? "" : ", ") + std::to_string(i + 1);
    h << "<td>" << esc(cells) << "</td></tr>\n";
  }
  h << "</tbody>\n</table></div>\n";

  if (!plots.empty()) {
    h << "<h2>Plots</h2>\n<p>Each mark is a point's median; the bar spans its runs' range.</p>\n";
    for (std::size_t i = 0; i < plots.size(); ++i) {
      const auto& p = plots[i];
      h << "<figure id=\"plot-" << i + 1 << "\">\n<figcaption>" << esc(p.title) << "</figcaption>\n";
      const std::string svg = p.svg.empty() ? "" : inline_svg(p.svg, "p" + std::to_string(i + 1) + "-");
      if (!svg.empty())
        h << svg << "\n";
      else
        h << "<p class=\"problem\">Not drawn: "
          << esc(p.problem.empty() ? "gnuplot wrote no SVG (" + p.svg.string() + ")" : p.problem) << "</p>\n";
      for (const auto& n : p.notes) h << "<p class=\"note\">Note: " << esc(n) << "</p>\n";
      if (!p.comparisons.empty()) {
        h << "<ul class=\"differences\">\n";
        for (const auto& c : p.comparisons) {
          h << "<li>" << (c.group.empty() ? "" : esc(c.group) + ": ");
          for (std::size_t k = 0; k < c.entries.size(); ++k) {
            h << esc(c.entries[k].name) << " " << esc(spread_text(c.entries[k].spread));
            if (k < c.between.size()) {
              const bool resolved = c.between[k] == Difference::kResolved;
              h << " <span class=\"" << (resolved ? "resolved" : "unresolved") << "\">[" << esc(to_string(c.between[k]))
                << "]</span> ";
            }
          }
          h << "</li>\n";
        }
        h << "</ul>\n";
      }
      h << "</figure>\n";
    }
  }

  // Timelines: the named points' runs over time, one line per run.
  if (!timelines.empty()) {
    h << "<h2 id=\"timelines\">Timelines</h2>\n<p>The points the experiment names in <code>timelines</code>, over "
         "time: every run of each point is a line of its own (from its cell's timeseries.csv), so that the spread "
         "between runs shows.</p>\n";
    for (std::size_t i = 0; i < timelines.size(); ++i) {
      const auto& t = timelines[i];
      const std::string id = "timeline-" + std::to_string(i + 1);
      h << "<section class=\"timeline\" id=\"" << id << "\">\n<h3>" << esc(t.title) << "</h3>\n";
      if (!t.cells.empty()) {
        std::string cells;
        for (std::size_t c : t.cells) cells += (cells.empty() ? "" : ", ") + std::to_string(c + 1);
        h << "<p>" << t.cells.size() << (t.cells.size() == 1 ? " run" : " runs") << " (cells " << esc(cells)
          << ")</p>\n";
      }
      if (!t.charts.empty()) h << "<div class=\"charts\">\n";
      for (const auto& c : t.charts) {
        h << "<figure id=\"" << id << "-" << c.metric << "\">\n<figcaption>" << esc(c.caption) << "</figcaption>\n";
        const std::string svg =
            c.svg.empty() ? "" : inline_svg(c.svg, "t" + std::to_string(i + 1) + "-" + c.metric + "-");
        if (!svg.empty())
          h << svg << "\n";
        else
          h << "<p class=\"problem\">Not drawn: "
            << esc(t.problem.empty() ? "gnuplot wrote no SVG (" + c.svg.string() + ")" : t.problem) << "</p>\n";
        h << "</figure>\n";
      }
      if (!t.charts.empty()) h << "</div>\n";
      if (t.charts.empty() && !t.problem.empty()) h << "<p class=\"problem\">Not drawn: " << esc(t.problem) << "</p>\n";
      for (const auto& n : t.notes) h << "<p class=\"note\">Note: " << esc(n) << "</p>\n";
      h << "</section>\n";
    }
  }

  // Calibration: the machine at the start and the end of the sweep.
  if (meta.is_object() && meta.contains("calibration") && meta["calibration"].is_object()) {
    const auto& cal = meta["calibration"];
    h << "<h2>Calibration</h2>\n<p>Measured in the results folder's file system at the start and the end: "
         "fdatasync calls/s, and raw SQLite commits/s (one connection, one row per commit).</p>\n"
      << "<table class=\"meta\" id=\"calibration\"><thead><tr><th></th><th>fdatasync/s</th><th>WAL full</th>"
         "<th>WAL normal</th><th>delete full</th></tr></thead>\n<tbody>\n";
    for (const char* when : {"start", "end"}) {
      if (!cal.contains(when)) continue;
      const auto c = Calibration::from_json(cal[when]);
      h << "<tr><th>" << when << " (" << esc(c.utc) << ")</th><td class=\"num\">" << short_number(c.fdatasync_per_s)
        << "</td><td class=\"num\">" << short_number(c.wal_full) << "</td><td class=\"num\">"
        << short_number(c.wal_normal) << "</td><td class=\"num\">" << short_number(c.delete_full) << "</td></tr>\n";
    }
    h << "</tbody></table>\n";
    if (cal.contains("warning") && cal["warning"].is_string())
      h << "<p class=\"problem\" id=\"drift\">" << esc(cal["warning"].get<std::string>()) << "</p>\n";
  }

  // Every run, in the order of the matrix, with when it ran.
  h << "<h2>All runs</h2>\n<div class=\"wide\"><table id=\"runs\">\n<thead><tr>";
  for (const auto& c : e.columns) h << "<th title=\"" << esc(metric_label(e, c)) << "\">" << esc(c) << "</th>";
  h << "<th>rep</th><th>run</th></tr></thead>\n<tbody>\n";
  for (const auto& r : results) {
    h << "<tr>";
    for (const auto& c : e.columns) {
      const auto v = metric(e, r, c);
      std::string cls = v.is_number() ? "num" : "";
      if (c == "verified") cls = r.verdict.ok ? "yes" : "no";
      if (c == "slo" && r.slo) cls = r.slo->pass ? "yes" : "no";
      h << "<td" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">" << esc(value_text(v)) << "</td>";
    }
    h << "<td class=\"num\">" << r.cell.repetition + 1 << "</td><td class=\"num\">" << r.cell.run_order
      << "</td></tr>\n";
  }
  h << "</tbody>\n</table></div>\n";

  // Verification, cell by cell.
  h << "<h2>Verification</h2>\n<div class=\"wide\"><table id=\"verification\">\n<thead><tr><th>cell</th>";
  for (const auto& a : e.matrix) h << "<th>" << esc(a.label) << "</th>";
  h << "<th>rep</th><th>verified</th><th>how</th></tr></thead>\n<tbody>\n";
  for (const auto& r : results) {
    const std::string cls = r.verdict.ok ? "yes" : "no";
    h << "<tr id=\"cell-" << r.cell.index + 1 << "\"><td class=\"num\">" << r.cell.index + 1 << "</td>";
    for (const auto& [key, value] : r.cell.values) h << "<td>" << esc(value_text(value)) << "</td>";
    h << "<td class=\"num\">" << r.cell.repetition + 1 << "</td>";
    h << "<td class=\"" << cls << "\">" << (r.verdict.ok ? "yes" : "NO") << "</td><td class=\"detail"
      << (r.verdict.ok ? "" : " no") << "\">" << esc(r.verdict.detail) << "</td></tr>\n";
  }
  h << "</tbody>\n</table></div>\n";
  h << "<p>Everything else is beside this page: results.json (every figure of every cell), results.csv, table.md, "
       "the plots as SVG and PNG with their gnuplot scripts, and each cell's server and reader output in "
       "cells/.</p>\n";
  h << "</body>\n</html>\n";
  return h.str();
}

}  // namespace

OutputFiles write_outputs(const Experiment& e, const std::vector<CellResult>& results, const std::filesystem::path& dir,
                          const nlohmann::json& meta) {
  OutputFiles files;
  std::filesystem::create_directories(dir);
  const auto summary = summarize(e, results);

  // results.json: every figure of every cell.
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [k, v] : r.cell.values) values[k] = v;
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& m : known_metrics()) metrics[m] = metric(e, r, m);
    cells.push_back({{"index", r.cell.index + 1},
                     {"point", r.cell.point + 1},
                     {"repetition", r.cell.repetition + 1},
                     {"run_order", r.cell.run_order},
                     {"values", values},
                     {"server_overrides", r.cell.server_overrides},
                     {"verified", r.verdict.ok},
                     {"verification", r.verdict.detail},
                     {"slo", r.slo ? r.slo->to_json() : nlohmann::json(nullptr)},
                     {"capacity", r.capacity ? r.capacity->to_json() : nlohmann::json(nullptr)},
                     {"error", r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error)},
                     {"elapsed_s", r.elapsed_s},
                     {"metrics", metrics},
                     {"load", r.load},
                     {"server", r.server},
                     {"reader", r.reader ? nlohmann::json::parse("{}") : nlohmann::json(nullptr)},
                     {"settings", r.settings},
                     {"raw_commits_per_s", r.raw_commits_per_s ? nlohmann::json(*r.raw_commits_per_s) : nullptr},
                     {"facts",
                      {{"stored", r.facts.stored},
                       {"acknowledged", r.facts.acknowledged},
                       {"ok_seen", r.facts.ok_seen},
                       {"unknown_outcome", r.facts.unknown_outcome},
                       {"server_unknown", r.facts.server_unknown},
                       {"integrity", r.facts.integrity},
                       {"server_exit", r.facts.server_exit}}}});
    if (r.reader) {
      cells.back()["reader"] = {{"reads", r.reader->reads},
                                {"waited", r.reader->waited},
                                {"waited_ms", r.reader->waited_ms},
                                {"failed", r.reader->failed}};
    }
  }
  nlohmann::json doc = {{"schema", "busylab-sweep/1"},
                        {"experiment", e.name},
                        {"description", e.description},
                        {"file", e.file.string()},
                        {"meta", meta},
                        {"repetitions", e.repetitions},
                        {"columns", e.columns},
                        {"points", points_json(summary)},
                        {"cells", cells}};

  // results.csv: axis values then every metric.
  {
    std::ofstream out(dir / "results.csv");
    out << "cell,point,repetition,run_order";
    for (const auto& a : e.matrix) out << "," << csv_escape(a.key);
    for (const auto& m : known_metrics()) out << "," << m;
    out << "\n";
    for (const auto& r : results) {
      out << r.cell.index + 1 << "," << r.cell.point + 1 << "," << r.cell.repetition + 1 << "," << r.cell.run_order;
      for (const auto& [k, v] : r.cell.values)
        out << "," << csv_escape(v.is_string() ? v.get<std::string>() : v.dump());
      for (const auto& m : known_metrics()) {
        const auto v = metric(e, r, m);
        out << "," << csv_escape(v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump());
      }
      out << "\n";
    }
    files.written.push_back(dir / "results.csv");
  }

  // Plots: one line per series value, x values in the matrix's order.
  std::vector<PlotOutcome> plots;
  nlohmann::json comparisons = nlohmann::json::array();
  for (std::size_t i = 0; i < e.plots.size(); ++i) {
    plots.push_back(write_plot(e, summary, i, dir));
    for (const auto& c : plots.back().comparisons) {
      nlohmann::json entries = nlohmann::json::array();
      for (std::size_t k = 0; k < c.entries.size(); ++k) {
        entries.push_back({{"name", c.entries[k].name},
                           {"median", c.entries[k].spread.median},
                           {"min", c.entries[k].spread.min},
                           {"max", c.entries[k].spread.max},
                           {"n", c.entries[k].spread.n}});
        if (k < c.between.size()) entries.back()["against_next"] = to_string(c.between[k]);
      }
      comparisons.push_back({{"plot", i + 1}, {"y", e.plots[i].y}, {"group", c.group}, {"entries", entries}});
    }
    const auto& p = plots.back();
    if (!p.problem.empty()) {
      files.plot_problem = p.problem;
    } else {
      files.written.push_back(p.svg);
      files.written.push_back(std::filesystem::path(p.svg).replace_extension(".png"));
    }
  }

  // Timelines: the named points' runs over time.
  std::vector<TimelineOutcome> timelines;
  nlohmann::json timelines_json = nlohmann::json::array();
  for (std::size_t i = 0; i < e.timelines.size(); ++i) {
    timelines.push_back(write_timeline(e, results, i + 1, e.timelines[i], dir));
    const auto& t = timelines.back();
    nlohmann::json cells_drawn = nlohmann::json::array(), charts = nlohmann::json::array();
    for (std::size_t c : t.cells) cells_drawn.push_back(c + 1);
    for (const auto& c : t.charts) {
      if (c.svg.empty()) continue;
      charts.push_back(c.svg.filename().string());
      files.written.push_back(c.svg);
      files.written.push_back(std::filesystem::path(c.svg).replace_extension(".png"));
    }
    if (!t.problem.empty() && !t.cells.empty() && files.plot_problem.empty())
      files.plot_problem = "timelines: " + t.problem;
    timelines_json.push_back({{"point", t.point + 1},
                              {"name", t.name},
                              {"runs", cells_drawn},
                              {"charts", charts},
                              {"problem", t.problem.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.problem)}});
  }

  {
    // results.json: every figure of every cell, each point's spread, and what the plots compare.
    doc["comparisons"] = comparisons;
    if (!e.timelines.empty()) doc["timelines"] = timelines_json;
    std::ofstream(dir / "results.json") << doc.dump(2) << "\n";
    files.written.push_back(dir / "results.json");
  }
  {
    std::ofstream out(dir / "table.md");
    out << summary_markdown(e, results, summary, plots, meta);
    files.written.push_back(dir / "table.md");
  }

  {
    std::ofstream out(dir / "report.html");
    out << write_report(e, results, meta, plots, summary, timelines);
    files.written.push_back(dir / "report.html");
  }
  return files;
}

}  // namespace busylab::sweep
