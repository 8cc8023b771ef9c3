#include "sweep/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "sweep/outputs.hpp"

namespace busylab::sweep {

Spread spread_of(std::vector<double> values) {
  Spread s;
  std::erase_if(values, [](double v) { return !std::isfinite(v); });
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  s.median = values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

Difference compare(const Spread& a, const Spread& b) {
  if (a.n < 2 || b.n < 2) return Difference::kNoSpread;
  return (a.max < b.min || b.max < a.min) ? Difference::kResolved : Difference::kNotResolved;
}

const char* to_string(Difference d) {
  switch (d) {
    case Difference::kResolved:
      return "resolved";
    case Difference::kNotResolved:
      return "not resolved";
    case Difference::kNoSpread:
      return "not resolved (one run: no spread measured)";
  }
  return "?";
}

std::string short_number(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (a >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else if (a >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2fk", v / 1e3);
  else if (a >= 100 || v == std::floor(v))
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string spread_text(const Spread& s) {
  if (s.n == 0) return "-";
  if (s.n == 1) return short_number(s.median);  // the outputs say once that each point ran once
  return short_number(s.median) + " (" + short_number(s.min) + "-" + short_number(s.max) + ")";
}

std::vector<Point> summarize(const Experiment& e, const std::vector<CellResult>& results) {
  std::map<std::size_t, Point> by_point;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    auto& p = by_point[r.cell.point];
    if (p.runs.empty()) {
      p.index = r.cell.point;
      p.values = r.cell.values;
    }
    p.runs.push_back(i);
    p.verified += r.verdict.ok ? 1 : 0;
    if (r.slo) {
      ++p.slo_runs;
      p.slo_pass += r.slo->pass ? 1 : 0;
    }
  }
  std::vector<Point> points;
  for (auto& [index, p] : by_point) {
    for (const auto& name : known_metrics()) {
      if (name == "verified" || name == "slo") continue;
      std::vector<double> values;
      for (std::size_t i : p.runs) {
        const auto v = metric(e, results[i], name);
        if (v.is_number()) values.push_back(v.get<double>());
      }
      if (!values.empty()) p.metrics[name] = spread_of(std::move(values));
    }
    points.push_back(std::move(p));
  }
  return points;
}

namespace {

// The point's value of an axis named by key or label; null when none.
nlohmann::json axis_value(const Experiment& e, const Point& p, const std::string& name) {
  for (const auto& a : e.matrix) {
    if (a.key != name && a.label != name) continue;
    for (const auto& [key, value] : p.values) {
      if (key == a.key) return value;
    }
  }
  return nullptr;
}

bool is_axis(const Experiment& e, const std::string& name) {
  return std::any_of(e.matrix.begin(), e.matrix.end(),
                     [&](const MatrixAxis& a) { return a.key == name || a.label == name; });
}

}  // namespace

std::string point_text(const Experiment& e, const std::vector<CellResult>& results, const Point& p,
                       const std::string& column) {
  if (is_axis(e, column)) return value_text(axis_value(e, p, column));
  // Every run passed, or how many did not and the first one's reason.
  auto verdict = [&](std::size_t passed, std::size_t checked, const char* yes, const char* no, auto reason_of) {
    if (passed == checked) return std::string(yes);
    std::string why;
    for (std::size_t i : p.runs) {
      if (const auto reason = reason_of(results[i])) {
        why = *reason;
        break;
      }
    }
    return std::string(no) + ": " + std::to_string(checked - passed) + " of " + std::to_string(checked) +
           " runs: " + why;
  };
  if (column == "verified") {
    return verdict(p.verified, p.runs.size(), "yes", "NO", [](const CellResult& r) {
      return r.verdict.ok ? std::nullopt : std::optional<std::string>(r.verdict.detail);
    });
  }
  if (column == "slo") {
    if (p.slo_runs == 0) return "-";
    return verdict(p.slo_pass, p.slo_runs, "pass", "FAIL", [](const CellResult& r) {
      return r.slo && !r.slo->pass ? std::optional<std::string>(r.slo->reason) : std::nullopt;
    });
  }
  const auto it = p.metrics.find(column);
  return it == p.metrics.end() ? "-" : spread_text(it->second);
}

std::string Comparison::text() const {
  std::string s = group.empty() ? "" : group + ": ";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    s += entries[i].name + " " + spread_text(entries[i].spread);
    if (i + 1 < entries.size()) {
      const bool ranked = !group.empty();
      const char* sign = !ranked ? " vs " : between[i] == Difference::kResolved ? " > " : " ~ ";
      s += std::string(" [") + to_string(between[i]) + "]" + sign;
    }
  }
  return s;
}

std::vector<PlotPoint> plot_points(const Experiment& e, const std::vector<Point>& points, const PlotSpec& plot) {
  std::vector<PlotPoint> out;
  for (const auto& p : points) {
    const bool selected = std::all_of(plot.where.begin(), plot.where.end(),
                                      [&](const auto& w) { return axis_value(e, p, w.first) == w.second; });
    if (!selected) continue;
    out.push_back({value_text(axis_value(e, p, plot.x)),
                   plot.series.empty() ? std::string() : value_text(axis_value(e, p, plot.series)), &p});
  }
  return out;
}

std::vector<Comparison> compare_plot(const Experiment& e, const std::vector<Point>& points, const PlotSpec& plot) {
  std::vector<Comparison> out;
  std::vector<std::string> xs;
  std::map<std::string, std::vector<Comparison::Entry>> at_x;
  for (const auto& pp : plot_points(e, points, plot)) {
    const auto it = pp.point->metrics.find(plot.y);
    if (it == pp.point->metrics.end()) continue;
    if (std::find(xs.begin(), xs.end(), pp.x) == xs.end()) xs.push_back(pp.x);
    at_x[pp.x].push_back({plot.series.empty() ? pp.x : pp.series, it->second});
  }
  auto finish = [&](Comparison& c) {
    for (std::size_t i = 0; i + 1 < c.entries.size(); ++i)
      c.between.push_back(compare(c.entries[i].spread, c.entries[i + 1].spread));
    out.push_back(std::move(c));
  };
  if (plot.series.empty()) {
    Comparison c;
    for (const auto& x : xs) c.entries.insert(c.entries.end(), at_x[x].begin(), at_x[x].end());
    finish(c);
    return out;
  }
  std::string x_words = plot.x;
  for (const auto& a : e.matrix) {
    if (a.key == plot.x || a.label == plot.x) x_words = a.label;
  }
  for (const auto& x : xs) {
    Comparison c;
    c.group = x_words + " " + x;
    c.entries = at_x[x];
    std::stable_sort(c.entries.begin(), c.entries.end(),
                     [](const auto& a, const auto& b) { return a.spread.median > b.spread.median; });
    finish(c);
  }
  return out;
}

std::string points_table(const Experiment& e, const std::vector<CellResult>& results,
                         const std::vector<Point>& points) {
  std::ostringstream s;
  s << "|";
  for (const auto& c : e.columns) s << " " << c << " |";
  s << "\n|";
  for (std::size_t i = 0; i < e.columns.size(); ++i) s << "---|";
  s << "\n";
  for (const auto& p : points) {
    s << "|";
    for (const auto& c : e.columns) s << " " << table_cell(point_text(e, results, p, c)) << " |";
    s << "\n";
  }
  return s.str();
}

nlohmann::json points_json(const std::vector<Point>& points) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : points) {
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [k, v] : p.values) values[k] = v;
    nlohmann::json runs = nlohmann::json::array();
    for (std::size_t i : p.runs) runs.push_back(i + 1);
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, s] : p.metrics)
      metrics[name] = {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"n", s.n}};
    out.push_back({{"index", p.index + 1},
                   {"values", values},
                   {"runs", runs},
                   {"verified", p.verified},
                   {"slo_pass", p.slo_runs ? nlohmann::json(p.slo_pass) : nlohmann::json(nullptr)},
                   {"metrics", metrics}});
  }
  return out;
}

}  // namespace busylab::sweep
