#include "sweep/outputs.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "strategy/strategy.hpp"

namespace busylab::sweep {

namespace {

double num(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* node = &j;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return 0;
    node = &(*node)[key];
  }
  return node->is_number() ? node->get<double>() : 0;
}

bool has(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* node = &j;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return false;
    node = &(*node)[key];
  }
  return !node->is_null();
}

std::string cell_text(const nlohmann::json& v) {
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

// A Markdown table cell: one line, '|' escaped (a server's stderr or an
// integrity report in a "NO: ..." verdict spans lines).
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
  if (name == "reader_reads") return r.reader ? nlohmann::json(r.reader->reads) : nullptr;
  if (name == "reader_waits") return r.reader ? nlohmann::json(r.reader->waited) : nullptr;
  if (name == "reader_failed") return r.reader ? nlohmann::json(r.reader->failed) : nullptr;
  if (name == "rows_after") return has(s, {"rows_after"}) ? s["rows_after"] : nlohmann::json(nullptr);
  if (name == "counter_after") return has(s, {"counter_after"}) ? s["counter_after"] : nlohmann::json(nullptr);
  if (name == "acknowledged")
    return has(s, {"writes", "acknowledged"}) ? s["writes"]["acknowledged"] : nlohmann::json(nullptr);
  if (name == "busy_errors") {
    if (!has(s, {"database"})) return nullptr;
    return num(s, {"database", "busy_failures"}) + num(s, {"database", "busy_snapshot_failures"});
  }
  if (name == "busy_snapshot")
    return has(s, {"database"}) ? nlohmann::json(num(s, {"database", "busy_snapshot_failures"})) : nullptr;
  if (name == "busy_waits") return has(s, {"database"}) ? nlohmann::json(num(s, {"database", "busy_sleeps"})) : nullptr;
  if (name == "busy_wait_ms")
    return has(s, {"database"}) ? nlohmann::json(num(s, {"database", "busy_sleep_ms"})) : nullptr;
  if (name == "checkout_p99_ms")
    return has(s, {"strategy", "pool"}) ? nlohmann::json(num(s, {"strategy", "pool", "checkout_wait_ms", "p99"}))
                                        : nullptr;
  if (name == "checkout_max_ms")
    return has(s, {"strategy", "pool"}) ? nlohmann::json(num(s, {"strategy", "pool", "checkout_wait_ms", "max"}))
                                        : nullptr;
  if (name == "pool_timeouts")
    return has(s, {"strategy"}) ? nlohmann::json(total_pool_timeouts(s["strategy"])) : nullptr;
  if (name == "shed") return has(s, {"strategy"}) ? nlohmann::json(total_shed(s["strategy"])) : nullptr;
  if (name == "batches")
    return has(s, {"strategy", "writer"}) ? nlohmann::json(num(s, {"strategy", "writer", "batches"})) : nullptr;
  if (name == "mean_batch")
    return has(s, {"strategy", "writer"}) ? nlohmann::json(num(s, {"strategy", "writer", "batch_size", "mean"}))
                                          : nullptr;
  if (!ran) return nullptr;
  if (name == "requests") return load.value("requests", nlohmann::json());
  if (name == "requests_per_s") return load.value("requests_per_s", nlohmann::json());
  if (name == "ok") return ok();
  if (name == "ok_per_s") {
    const double d = num(load, {"duration_s"});
    return d > 0 ? ok() / d : 0.0;
  }
  if (name == "errors") return load.value("errors_total", nlohmann::json());
  if (name == "failures") return num(load, {"requests"}) - ok() + num(load, {"errors_total"});
  if (name == "rejected_503") return num(load, {"status", "503"});
  if (name == "p50_ms") return num(load, {"latency_us", "p50"}) / 1000.0;
  if (name == "p90_ms") return num(load, {"latency_us", "p90"}) / 1000.0;
  if (name == "p99_ms") return num(load, {"latency_us", "p99"}) / 1000.0;
  if (name == "max_ms") return num(load, {"latency_us", "max"}) / 1000.0;
  if (name == "mean_ms") return num(load, {"latency_us", "mean"}) / 1000.0;
  return nullptr;
}

std::string markdown_table(const Experiment& e, const std::vector<CellResult>& results) {
  std::ostringstream s;
  s << "|";
  for (const auto& c : e.columns) s << " " << c << " |";
  if (e.repetitions > 1) s << " rep |";
  s << "\n|";
  for (std::size_t i = 0; i < e.columns.size(); ++i) s << "---|";
  if (e.repetitions > 1) s << "---|";
  s << "\n";
  for (const auto& r : results) {
    s << "|";
    for (const auto& c : e.columns) s << " " << table_cell(cell_text(metric(e, r, c))) << " |";
    if (e.repetitions > 1) s << " " << r.cell.repetition + 1 << " |";
    s << "\n";
  }
  return s.str();
}

OutputFiles write_outputs(const Experiment& e, const std::vector<CellResult>& results, const std::filesystem::path& dir,
                          const nlohmann::json& meta) {
  OutputFiles files;
  std::filesystem::create_directories(dir);

  // results.json: every figure of every cell.
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [k, v] : r.cell.values) values[k] = v;
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& m : known_metrics()) metrics[m] = metric(e, r, m);
    cells.push_back({{"index", r.cell.index + 1},
                     {"repetition", r.cell.repetition + 1},
                     {"values", values},
                     {"server_overrides", r.cell.server_overrides},
                     {"verified", r.verdict.ok},
                     {"verification", r.verdict.detail},
                     {"error", r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error)},
                     {"elapsed_s", r.elapsed_s},
                     {"metrics", metrics},
                     {"load", r.load},
                     {"server", r.server},
                     {"reader", r.reader ? nlohmann::json::parse("{}") : nlohmann::json(nullptr)},
                     {"facts",
                      {{"stored", r.facts.stored},
                       {"acknowledged", r.facts.acknowledged},
                       {"ok_seen", r.facts.ok_seen},
                       {"unknown_outcome", r.facts.unknown_outcome},
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
                        {"columns", e.columns},
                        {"cells", cells}};
  {
    std::ofstream out(dir / "results.json");
    out << doc.dump(2) << "\n";
    files.written.push_back(dir / "results.json");
  }

  // results.csv: axis values then every metric.
  {
    std::ofstream out(dir / "results.csv");
    out << "cell,repetition";
    for (const auto& a : e.matrix) out << "," << csv_escape(a.key);
    for (const auto& m : known_metrics()) out << "," << m;
    out << "\n";
    for (const auto& r : results) {
      out << r.cell.index + 1 << "," << r.cell.repetition + 1;
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

  {
    std::ofstream out(dir / "table.md");
    out << "# " << e.name << "\n\n";
    if (!e.description.empty()) out << e.description << "\n\n";
    out << markdown_table(e, results);
    files.written.push_back(dir / "table.md");
  }

  // Plots: one line per series value, x values in the matrix's order.
  for (std::size_t i = 0; i < e.plots.size(); ++i) {
    const auto& plot = e.plots[i];
    const std::string stem = "plot-" + std::to_string(i + 1) + "-" + plot.y;
    std::map<std::string, std::vector<std::pair<std::string, double>>> series;
    std::vector<std::string> order;
    for (const auto& r : results) {
      const bool selected = std::all_of(plot.where.begin(), plot.where.end(),
                                        [&](const auto& w) { return metric(e, r, w.first) == w.second; });
      if (!selected) continue;
      const auto x = metric(e, r, plot.x);
      const auto y = metric(e, r, plot.y);
      const std::string name = plot.series.empty() ? plot.y : plot.series + "=" + cell_text(metric(e, r, plot.series));
      if (!series.count(name)) order.push_back(name);
      series[name].emplace_back(cell_text(x), y.is_number() ? y.get<double>() : 0.0);
    }
    {
      std::ofstream dat(dir / (stem + ".dat"));
      for (const auto& name : order) {
        dat << "# " << name << "\n";
        for (const auto& [x, y] : series[name]) dat << gnuplot_quote(x) << " " << y << "\n";
        dat << "\n\n";
      }
    }
    const std::string title = plot.title.empty() ? plot.y + " by " + plot.x : plot.title;
    std::ostringstream script;
    for (const char* kind : {"svg", "png"}) {
      script << (std::string(kind) == "svg" ? "set terminal svg size 900,540 dynamic background '#ffffff'\n"
                                            : "set terminal pngcairo size 900,540\n")
             << "set output " << gnuplot_quote((dir / (stem + "." + kind)).string()) << "\n"
             << "set title " << gnuplot_quote(e.name + ": " + title) << " noenhanced\n"
             << "set xlabel " << gnuplot_quote(plot.x) << " noenhanced\n"
             << "set ylabel " << gnuplot_quote(plot.y) << " noenhanced\n"
             << "set grid\nset key outside right noenhanced\nset yrange [0:*]\nset offsets 0.2, 0.2, 0, 0\n"
             << "plot ";
      for (std::size_t s = 0; s < order.size(); ++s) {
        script << (s ? ", " : "") << gnuplot_quote((dir / (stem + ".dat")).string()) << " index " << s
               << " using 0:2:xtic(1) with linespoints linewidth 2 title " << gnuplot_quote(order[s]);
      }
      script << "\nunset output\n";
    }
    const auto gp = dir / (stem + ".gp");
    std::ofstream(gp) << script.str();
    const std::string command =
        "gnuplot " + gnuplot_quote(gp.string()) + " 2>" + gnuplot_quote((dir / (stem + ".gnuplot.log")).string());
    if (std::system(command.c_str()) != 0) {
      files.plot_problem = "gnuplot failed or is not installed (see " + (dir / (stem + ".gnuplot.log")).string() + ")";
    } else {
      files.written.push_back(dir / (stem + ".svg"));
      files.written.push_back(dir / (stem + ".png"));
    }
  }
  return files;
}

}  // namespace busylab::sweep
