#include "sweep/experiment.hpp"

#include <algorithm>
#include <functional>
#include <random>

#include "common/config_reader.hpp"
#include "loadgen/load_options.hpp"
#include "loadgen/slo.hpp"
#include "loadgen/workload.hpp"
#include "server/server_options.hpp"
#include "sweep/outputs.hpp"

namespace busylab::sweep {

namespace {

const std::vector<std::string> kLoadKeys = {"load.connections", "load.rate", "load.duration",   "load.path",
                                            "load.method",      "load.body", "load.keep_alive", "load.workload"};

std::chrono::nanoseconds read_duration(ConfigObject& o, std::string_view key, std::chrono::nanoseconds fallback,
                                       bool allow_zero = false) {
  std::string text;
  o.read(key, text);
  if (text.empty()) return fallback;
  if (allow_zero && (text == "0" || text == "0s")) return std::chrono::nanoseconds(0);
  try {
    return loadgen::parse_duration(text, o.full_name(key));
  } catch (const loadgen::LoadArgumentError& e) {
    throw ConfigError(e.what());
  }
}

// Applies one load.* value to a LoadSpec; throws ConfigError naming `where`.
void apply_load_value(LoadSpec& load, const std::string& key, const nlohmann::json& v, const std::string& where) {
  auto fail = [&](const std::string& what) {
    throw ConfigError(where + ": " + key + ": " + what + ", got " + describe_json(v));
  };
  if (key == "load.connections") {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 100000)
      fail("expected an integer from 1 to 100000");
    load.connections = v.get<int>();
  } else if (key == "load.rate") {
    if (v.is_null())
      load.rate.reset();
    else if (!v.is_number() || v.get<double>() <= 0)
      fail("expected a positive number of requests/s or null");
    else
      load.rate = v.get<double>();
  } else if (key == "load.duration") {
    if (!v.is_string()) fail("expected a duration string like \"10s\"");
    try {
      load.duration = loadgen::parse_duration(v.get<std::string>(), key);
    } catch (const loadgen::LoadArgumentError& e) {
      throw ConfigError(where + ": " + e.what());
    }
  } else if (key == "load.path") {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>()[0] != '/')
      fail("expected a path starting with '/'");
    load.path = v.get<std::string>();
  } else if (key == "load.method") {
    if (!v.is_string() || v.get<std::string>().empty()) fail("expected an HTTP method");
    load.method = v.get<std::string>();
  } else if (key == "load.body") {
    if (!v.is_string()) fail("expected a string");
    load.body = v.get<std::string>();
  } else if (key == "load.keep_alive") {
    if (!v.is_boolean()) fail("expected true or false");
    load.keep_alive = v.get<bool>();
  } else if (key == "load.workload") {
    if (!v.is_string() || v.get<std::string>().empty()) fail("expected a workload file name");
    load.workload = v.get<std::string>();
  }
}

// Loads the workload file now, so that a bad one stops the sweep before
// its first cell, with the loader's message.
void check_workload(const Experiment& e, const LoadSpec& load, const std::string& where) {
  if (load.workload.empty()) return;
  try {
    loadgen::load_workload(e.workload_file(load));
  } catch (const std::exception& err) {
    throw ConfigError(where + ": " + err.what());
  }
}

std::string override_text(const std::string& key, const nlohmann::json& value) {
  // JSON text, so that apply_override reads strings back as strings.
  return key + "=" + value.dump();
}

// " (did you mean 'X'?)" for a near miss; else, for a short list, what
// the candidates are.
std::string hint_for(const std::string& word, const std::vector<std::string>& candidates, const char* what,
                     bool suggest = true) {
  if (const auto near = suggest ? closest_match(word, candidates) : std::string(); !near.empty())
    return " (did you mean '" + near + "'?)";
  if (candidates.empty() || candidates.size() > 16) return "";
  std::string list;
  for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + ("'" + c + "'");
  return std::string("; the ") + what + " are " + list;
}

// "timelines": each entry a point's name, or an object of axis key or
// label -> value selecting every point that matches; checked against the
// matrix now, so that a typo stops the sweep before its first cell.
void read_timelines(Experiment& e, const nlohmann::json& timelines) {
  if (!timelines.is_array()) {
    throw ConfigError(
        "timelines: expected an array of points, each its name as the tables show it "
        "(\"sqlite/normal/pool/8/1\", or \"wal, 4\" for two axes) or an object of axis -> value, got " +
        describe_json(timelines));
  }
  // Every point's name and axis values, from its first run.
  std::vector<std::string> names;
  std::vector<std::vector<std::pair<std::string, nlohmann::json>>> values;
  for (const auto& c : e.cells(false)) {
    if (c.repetition != 0) continue;
    names.push_back(point_name(c.values));
    values.push_back(c.values);
  }
  auto choose = [&](std::size_t point) {
    if (std::find(e.timelines.begin(), e.timelines.end(), point) == e.timelines.end()) e.timelines.push_back(point);
  };
  for (std::size_t i = 0; i < timelines.size(); ++i) {
    const std::string where = "timelines[" + std::to_string(i) + "]";
    const auto& entry = timelines[i];
    if (entry.is_string()) {
      const std::string name = entry.get<std::string>();
      const auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end())
        throw ConfigError(where + ": unknown point '" + name + "'" + hint_for(name, names, "points"));
      choose(static_cast<std::size_t>(it - names.begin()));
      continue;
    }
    if (!entry.is_object() || entry.empty()) {
      throw ConfigError(where +
                        ": expected a point's name (a string) or an object of axis key or label -> value, got " +
                        describe_json(entry));
    }
    // Each key an axis, each value one of that axis's values.
    std::vector<std::pair<std::string, nlohmann::json>> wanted;  // axis key -> value
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      const auto axis = std::find_if(e.matrix.begin(), e.matrix.end(),
                                     [&](const MatrixAxis& a) { return a.key == it.key() || a.label == it.key(); });
      if (axis == e.matrix.end()) {
        std::vector<std::string> axes;
        for (const auto& a : e.matrix) {
          axes.push_back(a.label);
          if (a.key != a.label) axes.push_back(a.key);
        }
        throw ConfigError(where + ": '" + it.key() + "' is not a matrix key or label" +
                          hint_for(it.key(), axes, "axes"));
      }
      std::vector<std::string> shown;  // the axis's values as the points have them
      bool found = false;
      for (const auto& point : values) {
        for (const auto& [key, value] : point) {
          if (key != axis->key) continue;
          found = found || value == it.value();
          const std::string text = value_text(value);
          if (std::find(shown.begin(), shown.end(), text) == shown.end()) shown.push_back(text);
        }
      }
      if (!found) {
        const std::string text = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
        throw ConfigError(where + "." + it.key() + ": no point has " + axis->label + " " + it.value().dump() +
                          hint_for(text, shown, "values", it.value().is_string()));
      }
      wanted.emplace_back(axis->key, it.value());
    }
    bool any = false;
    for (std::size_t p = 0; p < values.size(); ++p) {
      const bool match = std::all_of(wanted.begin(), wanted.end(), [&](const auto& w) {
        return std::any_of(values[p].begin(), values[p].end(),
                           [&](const auto& v) { return v.first == w.first && v.second == w.second; });
      });
      if (match) {
        choose(p);
        any = true;
      }
    }
    if (!any) throw ConfigError(where + ": no point has all of " + entry.dump());
  }
}

}  // namespace

std::string point_name(const std::vector<std::pair<std::string, nlohmann::json>>& values) {
  std::string name;
  for (const auto& [key, value] : values) name += (name.empty() ? "" : ", ") + value_text(value);
  return name;
}

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> metrics = {"requests",
                                                   "requests_per_s",
                                                   "ok",
                                                   "ok_per_s",
                                                   "failures",
                                                   "errors",
                                                   "rejected_503",
                                                   "p50_ms",
                                                   "p90_ms",
                                                   "p99_ms",
                                                   "max_ms",
                                                   "mean_ms",
                                                   "rows_after",
                                                   "counter_after",
                                                   "acknowledged",
                                                   "busy_errors",
                                                   "busy_snapshot",
                                                   "busy_waits",
                                                   "busy_wait_ms",
                                                   "checkout_p99_ms",
                                                   "checkout_max_ms",
                                                   "pool_timeouts",
                                                   "shed",
                                                   "batches",
                                                   "mean_batch",
                                                   "reader_reads",
                                                   "reader_waits",
                                                   "reader_failed",
                                                   "ok_vs_raw",
                                                   "busy_sleepers",
                                                   "busy_gave_up",
                                                   "busy_waited",
                                                   "busy_wait_p50_ms",
                                                   "busy_wait_max_ms",
                                                   "failure_pct",
                                                   "retries",
                                                   "committed_after_retry",
                                                   "retry_gave_up",
                                                   "deadlocks",
                                                   "unknown_outcomes",
                                                   "wal_max_mb",
                                                   "wal_restarts",
                                                   "checkpoints",
                                                   "checkpoints_incomplete",
                                                   "checkpoint_ms",
                                                   "slo",
                                                   "capacity_per_s",
                                                   "verified"};
  return metrics;
}

std::vector<std::size_t> run_order(std::size_t points, int repetitions, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<std::size_t> order;
  std::vector<std::size_t> round(points);
  for (int rep = 0; rep < repetitions; ++rep) {
    for (std::size_t p = 0; p < points; ++p) round[p] = p;
    // Fisher-Yates with the generator's raw output, so that an order
    // replays the same with any standard library.
    for (std::size_t i = points; i > 1; --i) std::swap(round[i - 1], round[random() % i]);
    const std::size_t reps = static_cast<std::size_t>(repetitions);
    if (!order.empty() && points > 1 && order.back() / reps == round[0])
      std::swap(round[0], round[1 + random() % (points - 1)]);
    for (std::size_t p : round) order.push_back(p * reps + static_cast<std::size_t>(rep));
  }
  return order;
}

std::filesystem::path Experiment::workload_file(const LoadSpec& load) const {
  if (load.workload.empty()) return {};
  return file.parent_path() / load.workload;
}

std::size_t Experiment::points() const {
  std::size_t n = 1;
  for (const auto& a : matrix) n *= a.values.size();
  return n;
}

std::string Cell::describe() const {
  std::string s;
  for (const auto& [key, value] : values) {
    const auto dot = key.rfind('.');
    s += (s.empty() ? "" : " ") + key.substr(dot == std::string::npos ? 0 : dot + 1) + "=" +
         (value.is_string() ? value.get<std::string>() : value.dump());
  }
  if (repetition > 0) s += " rep=" + std::to_string(repetition + 1);
  return s;
}

Experiment Experiment::load_file(const std::filesystem::path& file) {
  return from_json(load_json_file(file), file);
}

Experiment Experiment::from_json(const nlohmann::json& doc, const std::filesystem::path& file) {
  const std::string origin = file.string();
  Experiment e;
  e.file = file;
  try {
    ConfigObject top(doc, "");
    top.read("name", e.name);
    if (e.name.empty()) top.fail("name", "is required (it names the results folder)");
    if (e.name.find_first_of("/\\ ") != std::string::npos) top.fail("name", "must not contain '/', '\\' or spaces");
    top.read("description", e.description);
    std::string config;
    top.read("config", config);
    if (config.empty()) top.fail("config", "is required: the base server config file, relative to this file");
    e.base_config = file.parent_path() / config;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(e.base_config, ec)) {
      top.fail("config", "'" + e.base_config.string() + "' is not a readable file");
    }

    if (top.has("set")) {
      const auto& set = doc["set"];
      if (!set.is_object()) top.fail("set", "expected an object of \"dotted.key\": value");
      for (auto it = set.begin(); it != set.end(); ++it) {
        if (it.key().rfind("load.", 0) == 0) top.fail("set", "'" + it.key() + "': put load settings in \"load\"");
        e.set.push_back(override_text(it.key(), it.value()));
      }
    }

    auto load = top.child("load");
    load.read("path", e.load.path);
    load.read("method", e.load.method);
    load.read("body", e.load.body);
    load.read("connections", e.load.connections, 1, 100000);
    load.read("threads", e.load.threads, 1, 64);
    e.load.duration = read_duration(load, "duration", e.load.duration);
    e.load.warmup = read_duration(load, "warmup", e.load.warmup, /*allow_zero=*/true);
    e.load.timeout = read_duration(load, "timeout", e.load.timeout);
    if (load.has("rate") && !doc["load"]["rate"].is_null()) {
      double rate = 0;
      load.read("rate", rate, 0.001, 1e7);
      e.load.rate = rate;
    }
    load.read("keep_alive", e.load.keep_alive);
    load.read("workload", e.load.workload);
    if (e.load.path.empty() || e.load.path[0] != '/') load.fail("path", "must start with '/'");
    load.finish();
    check_workload(e, e.load, "load.workload");

    if (top.has("reader") && !doc["reader"].is_null()) {
      auto reader = top.child("reader");
      ReaderSpec r;
      r.interval = std::chrono::duration_cast<std::chrono::milliseconds>(
          read_duration(reader, "interval", std::chrono::milliseconds(100)));
      reader.read("busy_timeout_ms", r.busy_timeout_ms, 0, 3'600'000);
      r.hold = std::chrono::duration_cast<std::chrono::milliseconds>(
          read_duration(reader, "hold", std::chrono::milliseconds(0), /*allow_zero=*/true));
      reader.finish();
      e.reader = r;
    }
    top.read("repetitions", e.repetitions, 1, 100);

    if (top.has("postgres") && !doc["postgres"].is_null()) {
      auto pg = top.child("postgres");
      std::string script;
      pg.read("script", script);
      if (script.empty()) pg.fail("script", "is required: scripts/postgres, relative to this file");
      e.postgres_script = file.parent_path() / script;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(*e.postgres_script, ec))
        pg.fail("script", "'" + e.postgres_script->string() + "' is not a readable file");
      pg.finish();
    }
    // With a cluster the sweep starts, postgres cells get its URL at run
    // time; a stand-in lets their configs be checked now.
    const std::vector<std::string> base_sets = [&] {
      std::vector<std::string> sets;
      if (e.postgres_script) sets.push_back(override_text("database.url", "postgresql://127.0.0.1/busylab"));
      sets.insert(sets.end(), e.set.begin(), e.set.end());
      return sets;
    }();

    std::string verify = "rows";
    top.read("verify", verify);
    if (verify == "rows") {
      e.verify.kind = VerifySpec::Kind::kRows;
    } else if (verify == "none") {
      e.verify.kind = VerifySpec::Kind::kNone;
    } else if (verify == "workload") {
      e.verify.kind = VerifySpec::Kind::kWorkload;
    } else if (verify.rfind("counter:", 0) == 0 && verify.size() > 8) {
      e.verify.kind = VerifySpec::Kind::kCounter;
      e.verify.counter = verify.substr(8);
    } else {
      top.fail("verify", "expected \"rows\", \"counter:NAME\", \"workload\" or \"none\", got '" + verify + "'");
    }

    if (top.has("slo") && !doc["slo"].is_null()) e.slo = loadgen::Slo::from_json(doc["slo"], "slo");
    e.interval = read_duration(top, "interval", e.interval);
    if (top.has("capacity") && !doc["capacity"].is_null()) {
      auto c = top.child("capacity");
      CapacitySpec spec;
      c.read("from", spec.from, 0.001, 1e7);
      c.read("max", spec.max, 0.001, 1e7);
      if (spec.max < spec.from) c.fail("max", "must be at least 'from'");
      spec.step_duration = read_duration(c, "step_duration", spec.step_duration);
      c.read("tolerance", spec.tolerance, 0.001, 0.5);
      c.finish();
      if (!e.slo) top.fail("capacity", "needs an \"slo\" to search against, e.g. \"slo\": {\"p99_ms\": 50}");
      e.capacity = spec;
    }

    auto quick = top.child("quick");
    e.quick_duration = read_duration(quick, "duration", e.quick_duration);
    quick.read("max_connections", e.quick_max_connections, 1, 100000);
    quick.finish();

    // The matrix: an array so that its order (outermost axis first) is kept.
    if (top.has("matrix")) {
      const auto& matrix = doc["matrix"];
      if (!matrix.is_array()) top.fail("matrix", "expected an array of {\"key\": ..., \"values\": [...]}");
      for (std::size_t i = 0; i < matrix.size(); ++i) {
        ConfigObject axis(matrix[i], "matrix[" + std::to_string(i) + "]");
        MatrixAxis a;
        axis.read("key", a.key);
        axis.read("label", a.label);
        if (axis.has("keys")) {
          const auto& keys = matrix[i]["keys"];
          if (!a.key.empty()) axis.fail("keys", "give \"key\" or \"keys\", not both");
          if (!keys.is_array() || keys.size() < 2) axis.fail("keys", "expected an array of two or more server keys");
          for (const auto& k : keys) {
            if (!k.is_string()) axis.fail("keys", "expected an array of two or more server keys");
            if (k.get<std::string>().rfind("load.", 0) == 0)
              axis.fail("keys", "'" + k.get<std::string>() + "': only server keys can be set together");
            a.keys.push_back(k.get<std::string>());
          }
          if (a.label.empty()) axis.fail("label", "is required with \"keys\" (it names the column)");
          a.key = a.label;
        }
        if (a.key.empty()) axis.fail("key", "is required");
        if (a.label.empty()) a.label = a.key;
        if (!axis.has("values") || !matrix[i]["values"].is_array() || matrix[i]["values"].empty()) {
          axis.fail("values", "expected a non-empty array");
        }
        a.values.assign(matrix[i]["values"].begin(), matrix[i]["values"].end());
        axis.finish();
        const std::string where = "matrix[" + std::to_string(i) + "]";
        if (!a.keys.empty()) {
          for (const auto& v : a.values) {
            if (!v.is_array() || v.size() != a.keys.size()) {
              throw ConfigError(where + " value " + v.dump() + ": expected an array of " +
                                std::to_string(a.keys.size()) + " values, one per key");
            }
            auto sets = base_sets;
            for (std::size_t k = 0; k < a.keys.size(); ++k) sets.push_back(override_text(a.keys[k], v[k]));
            try {
              load_config(e.base_config, sets);
            } catch (const ConfigError& err) {
              throw ConfigError(where + " value " + v.dump() + ": " + err.what());
            }
          }
        } else if (a.key == "reader") {
          if (!e.reader) throw ConfigError(where + ": a \"reader\" axis needs the experiment's \"reader\" settings");
          for (const auto& v : a.values) {
            if (!v.is_boolean())
              throw ConfigError(where + ": reader: expected true (the outside reader runs) or false, got " +
                                describe_json(v));
          }
        } else if (a.key.rfind("load.", 0) == 0) {
          if (std::find(kLoadKeys.begin(), kLoadKeys.end(), a.key) == kLoadKeys.end()) {
            std::string hint = closest_match(a.key, kLoadKeys);
            throw ConfigError(where + ": unknown load key '" + a.key + "'" +
                              (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
          }
          LoadSpec probe = e.load;
          for (const auto& v : a.values) {
            apply_load_value(probe, a.key, v, where);
            check_workload(e, probe, where + " value " + v.dump());
          }
        } else {
          // Each value must make a valid server config on its own.
          for (const auto& v : a.values) {
            auto sets = base_sets;
            sets.push_back(override_text(a.key, v));
            try {
              load_config(e.base_config, sets);
            } catch (const ConfigError& err) {
              throw ConfigError(where + " value " + v.dump() + ": " + err.what());
            }
          }
        }
        for (const auto& other : e.matrix) {
          if (other.key == a.key) throw ConfigError(where + ": key '" + a.key + "' appears twice in the matrix");
        }
        e.matrix.push_back(std::move(a));
      }
    }
    try {
      load_config(e.base_config, base_sets);
    } catch (const ConfigError& err) {
      throw ConfigError(std::string("set: ") + err.what());
    }

    // Columns and plots name axis keys, axis labels or metrics.
    std::vector<std::string> names = known_metrics();
    for (const auto& a : e.matrix) {
      names.push_back(a.key);
      names.push_back(a.label);
    }
    auto check_name = [&](const std::string& where, const std::string& name) {
      if (std::find(names.begin(), names.end(), name) != names.end()) return;
      const std::string hint = closest_match(name, names);
      throw ConfigError(
          where + ": unknown column '" + name + "'" +
          (hint.empty() ? "; see docs/experiment-files.md for the metrics" : " (did you mean '" + hint + "'?)"));
    };
    if (top.has("columns")) {
      const auto& columns = doc["columns"];
      if (!columns.is_array()) top.fail("columns", "expected an array of names");
      for (std::size_t i = 0; i < columns.size(); ++i) {
        if (!columns[i].is_string()) throw ConfigError("columns[" + std::to_string(i) + "]: expected a string");
        check_name("columns[" + std::to_string(i) + "]", columns[i].get<std::string>());
        e.columns.push_back(columns[i].get<std::string>());
      }
    } else {
      for (const auto& a : e.matrix) e.columns.push_back(a.label);
      for (const char* m : {"requests_per_s", "failures", "p99_ms", "verified"}) e.columns.emplace_back(m);
    }
    if (e.slo && std::find(e.columns.begin(), e.columns.end(), "slo") == e.columns.end()) {
      // An experiment with an SLO shows its verdict in every output.
      e.columns.emplace_back("slo");
    }
    if (top.has("plots")) {
      const auto& plots = doc["plots"];
      if (!plots.is_array()) top.fail("plots", "expected an array of {\"x\", \"y\", \"series\"}");
      for (std::size_t i = 0; i < plots.size(); ++i) {
        const std::string where = "plots[" + std::to_string(i) + "]";
        ConfigObject p(plots[i], where);
        PlotSpec plot;
        p.read("x", plot.x);
        p.read("y", plot.y);
        p.read("series", plot.series);
        p.read("title", plot.title);
        if (p.has("where")) {
          const auto& where = plots[i]["where"];
          if (!where.is_object()) p.fail("where", "expected an object of axis key or label -> value");
          for (auto it = where.begin(); it != where.end(); ++it) plot.where.emplace_back(it.key(), it.value());
        }
        p.finish();
        auto is_axis = [&](const std::string& k) {
          return std::any_of(e.matrix.begin(), e.matrix.end(),
                             [&](const MatrixAxis& a) { return a.key == k || a.label == k; });
        };
        if (!is_axis(plot.x)) throw ConfigError(where + ".x: '" + plot.x + "' is not a matrix key or label");
        if (!plot.series.empty() && !is_axis(plot.series)) {
          throw ConfigError(where + ".series: '" + plot.series + "' is not a matrix key or label");
        }
        check_name(where + ".y", plot.y);
        for (const auto& [key, value] : plot.where) {
          if (!is_axis(key)) throw ConfigError(where + ".where: '" + key + "' is not a matrix key or label");
        }
        e.plots.push_back(std::move(plot));
      }
    }
    if (top.has("timelines")) read_timelines(e, doc["timelines"]);
    top.finish();
  } catch (const ConfigError& err) {
    throw ConfigError(origin + ": " + err.what());
  }
  return e;
}

std::vector<Cell> Experiment::cells(bool quick) const {
  std::vector<Cell> out;
  std::vector<std::size_t> position(matrix.size(), 0);
  const int runs = runs_per_point(quick);
  for (std::size_t point = 0;; ++point) {
    for (int rep = 0; rep < runs; ++rep) {
      Cell c;
      c.index = out.size();
      c.point = point;
      c.repetition = rep;
      c.load = load;
      c.server_overrides = set;
      for (std::size_t i = 0; i < matrix.size(); ++i) {
        const auto& axis = matrix[i];
        const auto& value = axis.values[position[i]];
        if (!axis.keys.empty()) {
          // Numbers join with 'x' ([2, 4] -> "2x4"), words with '/'.
          const bool numbers = std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_number(); });
          const char* separator = numbers ? "x" : "/";
          std::string shown;
          for (std::size_t k = 0; k < axis.keys.size(); ++k) {
            shown += (k ? separator : "") + (value[k].is_string() ? value[k].get<std::string>() : value[k].dump());
            c.server_overrides.push_back(override_text(axis.keys[k], value[k]));
          }
          c.values.emplace_back(axis.key, shown);
        } else if (axis.key == "reader") {
          c.values.emplace_back(axis.key, value);
          c.reader = value.get<bool>();
        } else if (axis.key.rfind("load.", 0) == 0) {
          c.values.emplace_back(axis.key, value);
          apply_load_value(c.load, axis.key, value, "matrix");
        } else {
          c.values.emplace_back(axis.key, value);
          c.server_overrides.push_back(override_text(axis.key, value));
        }
      }
      if (quick) {
        c.load.duration = std::min(c.load.duration, quick_duration);
        c.load.warmup = std::min(c.load.warmup, std::chrono::nanoseconds(std::chrono::milliseconds(200)));
        c.load.connections = std::min(c.load.connections, quick_max_connections);
      }
      out.push_back(std::move(c));
    }
    // Advance the innermost axis first, like nested loops.
    std::size_t i = matrix.size();
    while (i > 0) {
      --i;
      if (++position[i] < matrix[i].values.size()) break;
      position[i] = 0;
      if (i == 0) return out;
    }
    if (matrix.empty()) return out;
  }
}

}  // namespace busylab::sweep
