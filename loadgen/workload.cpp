#include "loadgen/workload.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <boost/beast/core/string.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "common/config_reader.hpp"

namespace busylab::loadgen {

// ---------------------------------------------------------------- Zipfian

namespace {

// log1p(x) / x and expm1(x) / x, continuous at 0 (Apache Commons RNG).
double helper1(double x) {
  if (std::abs(x) > 1e-8) return std::log1p(x) / x;
  return 1 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

double helper2(double x) {
  if (std::abs(x) > 1e-8) return std::expm1(x) / x;
  return 1 + x * 0.5 * (1 + x * (1.0 / 3.0) * (1 + 0.25 * x));
}

}  // namespace

// h(x) = x^-theta is the (unnormalized) density; H is its integral,
// H(x) = (x^(1-theta) - 1) / (1-theta) (log x for theta = 1). A uniform u in
// (H(1.5) - 1, H(n + 0.5)] mapped through H^-1 and rounded gives rank k with
// probability proportional to the area under h around k; the squeeze s and
// the test u >= H(k + 0.5) - h(k) accept exactly h(k) of it.
Zipfian::Zipfian(double theta, std::uint64_t n) : theta_(theta), n_(std::max<std::uint64_t>(1, n)) {
  h_integral_x1_ = h_integral(1.5) - 1;
  h_integral_n_ = h_integral(static_cast<double>(n_) + 0.5);
  s_ = 2 - h_integral_inverse(h_integral(2.5) - h(2));
}

double Zipfian::h(double x) const {
  return std::exp(-theta_ * std::log(x));
}

double Zipfian::h_integral(double x) const {
  const double log_x = std::log(x);
  return helper2((1 - theta_) * log_x) * log_x;
}

double Zipfian::h_integral_inverse(double x) const {
  double t = x * (1 - theta_);
  if (t < -1) t = -1;  // rounding
  return std::exp(helper1(t) * x);
}

std::uint64_t Zipfian::sample(std::mt19937_64& rng, std::uint64_t n, double h_integral_n) const {
  if (n <= 1) return 1;
  for (;;) {
    const double u = h_integral_n + uniform_01(rng) * (h_integral_x1_ - h_integral_n);
    const double x = h_integral_inverse(u);
    const double rounded = std::floor(x + 0.5);
    std::uint64_t k = 1;
    if (rounded >= static_cast<double>(n)) {
      k = n;
    } else if (rounded > 1) {
      k = static_cast<std::uint64_t>(rounded);
    }
    const double kd = static_cast<double>(k);
    if (kd - x <= s_ || u >= h_integral(kd + 0.5) - h(kd)) return k;
  }
}

// ------------------------------------------------------------ Permutation

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

Permutation::Permutation(std::uint64_t size, std::uint64_t seed) : size_(std::max<std::uint64_t>(1, size)) {
  if (size_ < 2) return;
  mask_bits_ = std::bit_width(size_) - 1;  // the largest power of two <= size
  mask_ = (std::uint64_t{1} << mask_bits_) - 1;
  std::uint64_t state = seed;
  for (auto& r : rounds_) {
    r.m_low = (splitmix64(state) & mask_) | 1;
    r.r_low = splitmix64(state) & mask_;
    r.m_high = (splitmix64(state) & mask_) | 1;
    r.r_high = splitmix64(state) & mask_;
    r.offset = splitmix64(state) % size_;
  }
}

std::uint64_t Permutation::operator()(std::uint64_t v) const {
  if (size_ < 2) return 0;
  v %= size_;
  const int rotate = mask_bits_ - 1;
  for (const auto& r : rounds_) {
    // Each step is a bijection of [0, mask] (odd multiplier, xor, rotation)
    // applied to the lower half, then to the upper half (counted from the
    // top), then a rotation of the whole range: a bijection of [0, size).
    if (v <= mask_) {
      v = ((v * r.m_low) ^ r.r_low) & mask_;
      v = ((v << 1) & mask_) | (v >> rotate);
    }
    std::uint64_t t = size_ - 1 - v;
    if (t <= mask_) {
      t = ((t * r.m_high) ^ r.r_high) & mask_;
      t = ((t << 1) & mask_) | (t >> rotate);
      v = size_ - 1 - t;
    }
    // (v + offset) % size without overflow for sizes above 2^63.
    v = v >= size_ - r.offset ? v - (size_ - r.offset) : v + r.offset;
  }
  return v;
}

std::string_view to_string(Distribution d) {
  switch (d) {
    case Distribution::kUniform:
      return "uniform";
    case Distribution::kZipfian:
      return "zipfian";
    case Distribution::kLatest:
      return "latest";
    case Distribution::kSequential:
      return "sequential";
  }
  return "?";
}

// ---------------------------------------------------------------- parsing

namespace {

// Values are kept within +-2^62 so that max - min + 1 and the arithmetic on
// them never overflow.
constexpr std::int64_t kValueLimit = std::int64_t{1} << 62;
constexpr std::size_t kMaxPayload = 1 << 20;
constexpr std::array<std::string_view, 6> kMethods{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

bool identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::string list_names(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return list;
}

// The closest name, or else the only one that `word` begins ("zipf").
std::string suggestion(const std::string& word, const std::vector<std::string>& names) {
  if (auto near = closest_match(word, names); !near.empty()) return near;
  std::string prefixed;
  for (const auto& n : names) {
    if (!word.empty() && n.compare(0, word.size(), word) == 0) {
      if (!prefixed.empty()) return {};
      prefixed = n;
    }
  }
  return prefixed;
}

// Splits `text` into literal text, {variable} and {payload:N}. Only
// {identifier} and {payload:N} are placeholders; any other brace is text.
Template parse_template(const std::string& text, const std::vector<std::string>& names, ConfigObject& where,
                        std::string_view key) {
  Template t;
  std::string literal;
  const auto flush = [&] {
    if (!literal.empty()) t.pieces.push_back({Template::Piece::kText, std::move(literal), 0});
    literal.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '{') {
      literal += text[i++];
      continue;
    }
    std::size_t j = i + 1;
    while (j < text.size() && identifier_char(text[j])) ++j;
    const std::string ident = text.substr(i + 1, j - i - 1);
    if (!is_identifier(ident) || j >= text.size() || (text[j] != '}' && text[j] != ':')) {
      literal += text[i++];
      continue;
    }
    if (text[j] == ':') {
      if (ident != "payload") {
        literal += text[i++];
        continue;
      }
      std::size_t k = j + 1;
      while (k < text.size() && std::isdigit(static_cast<unsigned char>(text[k]))) ++k;
      std::size_t length = 0;
      const auto [end, ec] = std::from_chars(text.data() + j + 1, text.data() + k, length);
      if (k == j + 1 || k >= text.size() || text[k] != '}' || ec != std::errc() || end != text.data() + k ||
          length < 1 || length > kMaxPayload) {
        where.fail(key, "'" + text.substr(i, std::min(k + 1, text.size()) - i) +
                            "': a payload placeholder is {payload:N} with N from 1 to " + std::to_string(kMaxPayload));
      }
      flush();
      t.pieces.push_back({Template::Piece::kPayload, {}, length});
      i = k + 1;
      continue;
    }
    const auto found = std::find(names.begin(), names.end(), ident);
    if (found == names.end()) {
      std::string message = "'{" + ident + "}' names no declared variable";
      if (const auto near = suggestion(ident, names); !near.empty()) {
        message += " (did you mean '" + near + "'?)";
      } else if (names.empty()) {
        message += " (no variables are declared; declare them under \"vars\")";
      } else {
        message += "; declared: " + list_names(names);
      }
      if (ident == "payload") message += "; random text is {payload:N}";
      where.fail(key, message);
    }
    flush();
    t.pieces.push_back({Template::Piece::kVariable, {}, static_cast<std::size_t>(found - names.begin())});
    i = j + 1;
  }
  flush();
  return t;
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

Variable parse_variable(const std::string& name, const nlohmann::json& spec, const std::string& path) {
  ConfigObject v(spec, path);
  Variable var;
  var.name = name;
  if (!v.has("distribution")) v.fail("distribution", "is required (uniform, zipfian, latest or sequential)");
  std::string distribution;
  v.read("distribution", distribution);
  const std::vector<std::string> distributions{"uniform", "zipfian", "latest", "sequential"};
  const auto found = std::find(distributions.begin(), distributions.end(), distribution);
  if (found == distributions.end()) {
    const auto near = suggestion(distribution, distributions);
    v.fail("distribution", "unknown value '" + distribution + "'; expected one of " + list_names(distributions) +
                               (near.empty() ? std::string() : " (did you mean '" + near + "'?)"));
  }
  var.distribution = static_cast<Distribution>(found - distributions.begin());
  for (const char* key : {"min", "max"}) {
    if (!v.has(key)) v.fail(key, "is required (an integer)");
  }
  v.read("min", var.min, -kValueLimit, kValueLimit);
  v.read("max", var.max, -kValueLimit, kValueLimit);
  if (var.max < var.min) v.fail("max", "must be at least min (" + std::to_string(var.min) + ")");
  const bool skewed = var.distribution == Distribution::kZipfian || var.distribution == Distribution::kLatest;
  if (v.has("theta")) {
    if (!skewed) v.fail("theta", "applies only to the zipfian and latest distributions");
    v.read("theta", var.theta, 0, 1000);
    if (!(var.theta > 0)) v.fail("theta", "must be greater than 0");
  }
  // "hot_keys": a name whose hash places the hot keys; variables with the
  // same name and range share their hot keys (a transfer's from and to).
  std::string hot_keys = name;
  if (v.has("hot_keys")) {
    if (var.distribution != Distribution::kZipfian) v.fail("hot_keys", "applies only to the zipfian distribution");
    v.read("hot_keys", hot_keys);
  }
  v.finish();
  if (skewed) var.zipf = Zipfian(var.theta, var.size());
  if (var.distribution == Distribution::kZipfian) {
    // Fixed per variable name (or hot_keys): the same hot keys in every run of the file.
    var.permutation = Permutation(var.size(), fnv1a(hot_keys));
  }
  return var;
}

// Whether the variables can all take different values at once: intervals
// matched to distinct integers greedily, by the smallest max first.
bool can_differ(std::vector<const Variable*> vars) {
  std::sort(vars.begin(), vars.end(), [](const Variable* a, const Variable* b) { return a->max < b->max; });
  std::set<std::int64_t> used;
  for (const Variable* v : vars) {
    std::int64_t x = v->min;
    while (used.count(x)) ++x;
    if (x > v->max) return false;
    used.insert(x);
  }
  return true;
}

RequestKind parse_kind(const nlohmann::json& spec, const std::string& path, const Workload& w,
                       const std::vector<std::string>& names) {
  ConfigObject r(spec, path);
  RequestKind k;
  for (const char* key : {"name", "weight", "method", "path"}) {
    if (!r.has(key)) r.fail(key, "is required");
  }
  r.read("name", k.name);
  if (k.name.empty() || has_space_or_control(k.name)) r.fail("name", "must be a non-empty name without spaces");
  for (const auto& other : w.kinds) {
    if (other.name == k.name) r.fail("name", "'" + k.name + "' is already the name of another request");
  }
  constexpr double kHuge = std::numeric_limits<double>::max();
  r.read("weight", k.weight, -kHuge, kHuge);
  if (!(k.weight > 0) || !std::isfinite(k.weight)) {
    r.fail("weight", "must be a positive number, got " + spec["weight"].dump());
  }
  r.read("method", k.method);
  if (std::find(kMethods.begin(), kMethods.end(), k.method) == kMethods.end()) {
    std::string upper = k.method, list;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::vector<std::string> candidates(kMethods.begin(), kMethods.end());
    for (const auto& m : candidates) list += (list.empty() ? "" : ", ") + m;
    std::string near = std::find(candidates.begin(), candidates.end(), upper) != candidates.end()
                           ? upper
                           : suggestion(upper, candidates);
    r.fail("method", "unknown method '" + k.method + "'; expected one of " + list +
                         (near.empty() ? std::string() : " (did you mean '" + near + "'?)"));
  }
  std::string text;
  r.read("path", text);
  if (text.empty() || text.front() != '/') r.fail("path", "must start with '/', got '" + text + "'");
  if (has_space_or_control(text)) r.fail("path", "must not contain spaces or control characters");
  k.path = parse_template(text, names, r, "path");
  if (r.has("body")) {
    std::string body;
    r.read("body", body);
    k.has_body = true;
    k.body = parse_template(body, names, r, "body");
  }
  if (r.has("headers")) {
    const auto& headers = spec["headers"];
    if (!headers.is_array())
      r.fail("headers", "expected a list of \"Name: value\" strings, got " + describe_json(headers));
    for (std::size_t i = 0; i < headers.size(); ++i) {
      const std::string key = "headers[" + std::to_string(i) + "]";
      if (!headers[i].is_string()) r.fail(key, "expected a \"Name: value\" string, got " + describe_json(headers[i]));
      const auto h = headers[i].get<std::string>();
      try {
        const auto [name, value] = split_header(h);
        if (boost::beast::iequals(name, "content-length") || boost::beast::iequals(name, "transfer-encoding")) {
          r.fail(key, name + " is set by busylab load");
        }
      } catch (const LoadArgumentError& e) {
        r.fail(key, e.what());
      }
      k.headers.push_back(h);
    }
  }
  // The variables it uses, each once (drawn once per request).
  std::vector<bool> used(names.size(), false);
  for (const Template* t : {&k.path, &k.body}) {
    for (const auto& p : t->pieces) {
      if (p.kind == Template::Piece::kVariable && !used[p.value]) {
        used[p.value] = true;
        k.variables.push_back(p.value);
      }
    }
  }
  if (r.has("distinct")) {
    const auto& distinct = spec["distinct"];
    if (!distinct.is_array() || distinct.size() < 2) {
      r.fail("distinct", "expected a list of two or more variable names, got " + describe_json(distinct));
    }
    std::vector<const Variable*> vars;
    for (std::size_t i = 0; i < distinct.size(); ++i) {
      const std::string key = "distinct[" + std::to_string(i) + "]";
      if (!distinct[i].is_string()) r.fail(key, "expected a variable name, got " + describe_json(distinct[i]));
      const auto name = distinct[i].get<std::string>();
      const auto found = std::find(names.begin(), names.end(), name);
      if (found == names.end()) {
        std::string message = "'" + name + "' is not a declared variable";
        if (const auto near = suggestion(name, names); !near.empty()) message += " (did you mean '" + near + "'?)";
        r.fail(key, message);
      }
      const auto index = static_cast<std::size_t>(found - names.begin());
      if (!used[index]) r.fail(key, "'" + name + "' is not used in this request's path or body");
      if (std::find(k.distinct.begin(), k.distinct.end(), index) != k.distinct.end()) {
        r.fail(key, "'" + name + "' is listed twice");
      }
      k.distinct.push_back(index);
      vars.push_back(&w.variables[index]);
    }
    if (!can_differ(vars)) {
      r.fail("distinct", "the ranges of these variables leave no way for their values to differ");
    }
  }
  r.finish();
  return k;
}

}  // namespace

Workload parse_workload(const nlohmann::json& doc, const std::string& origin) {
  try {
    Workload w;
    ConfigObject top(doc, "");
    top.read("name", w.name);
    top.read("description", w.description);
    std::vector<std::string> names;
    if (top.has("vars")) {
      const auto& vars = doc["vars"];
      if (!vars.is_object()) top.fail("vars", "expected an object of variables, got " + describe_json(vars));
      for (auto it = vars.begin(); it != vars.end(); ++it) {
        if (!is_identifier(it.key())) {
          throw ConfigError("vars." + it.key() +
                            ": a variable name is letters, digits and '_', not starting with a digit");
        }
        w.variables.push_back(parse_variable(it.key(), it.value(), "vars." + it.key()));
        names.push_back(it.key());
        w.uses_latest = w.uses_latest || w.variables.back().distribution == Distribution::kLatest;
      }
    }
    if (!top.has("requests")) top.fail("requests", "is required: a list of request kinds");
    const auto& requests = doc["requests"];
    if (!requests.is_array() || requests.empty()) {
      top.fail("requests", "expected a non-empty list of request kinds, got " + describe_json(requests));
    }
    double total = 0;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      w.kinds.push_back(parse_kind(requests[i], "requests[" + std::to_string(i) + "]", w, names));
      total += w.kinds.back().weight;
      w.cumulative.push_back(total);
    }
    top.finish();
    return w;
  } catch (const ConfigError& e) {
    throw ConfigError(origin + ": " + e.what());
  }
}

Workload load_workload(const std::filesystem::path& file) {
  const auto doc = load_json_file(file);  // its errors name the file
  Workload w = parse_workload(doc, file.string());
  w.file = file.string();
  if (w.name.empty()) w.name = file.stem().string();
  return w;
}

// ------------------------------------------------------------------ state

WorkloadState::WorkloadState(const Workload& w)
    : newest_(std::numeric_limits<std::int64_t>::min()),
      sequential_(std::make_unique<std::atomic<std::uint64_t>[]>(w.variables.size())) {
  for (std::size_t i = 0; i < w.variables.size(); ++i) sequential_[i].store(0, std::memory_order_relaxed);
}

void WorkloadState::acknowledge_id(std::int64_t id) {
  std::int64_t seen = newest_.load(std::memory_order_relaxed);
  while (id > seen && !newest_.compare_exchange_weak(seen, id, std::memory_order_relaxed)) {
  }
}

std::int64_t WorkloadState::newest(const Variable& v) const {
  const std::int64_t n = newest_.load(std::memory_order_relaxed);
  if (n == std::numeric_limits<std::int64_t>::min()) return v.max;
  return std::clamp(n, v.min, kValueLimit);
}

std::int64_t WorkloadState::next_sequential(std::size_t index, const Variable& v) {
  const std::uint64_t k = sequential_[index].fetch_add(1, std::memory_order_relaxed);
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(v.min) + k % v.size());
}

// ---------------------------------------------------------------- drawing

RequestDrawer::RequestDrawer(const Workload& w, WorkloadState& state, std::uint64_t seed)
    : w_(w), state_(state), rng_(seed) {}

std::size_t RequestDrawer::pick_kind() {
  if (w_.kinds.size() == 1) return 0;
  const double u = uniform_01(rng_) * w_.cumulative.back();
  const auto it = std::upper_bound(w_.cumulative.begin(), w_.cumulative.end(), u);
  return std::min<std::size_t>(static_cast<std::size_t>(it - w_.cumulative.begin()), w_.kinds.size() - 1);
}

namespace {

std::int64_t offset_from(std::int64_t base, std::uint64_t offset) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(base) + offset);
}

std::int64_t uniform_in(std::mt19937_64& rng, std::int64_t min, std::int64_t max) {
  const auto size = static_cast<std::uint64_t>(max) - static_cast<std::uint64_t>(min);
  return offset_from(min, std::uniform_int_distribution<std::uint64_t>(0, size)(rng));
}

}  // namespace

std::int64_t RequestDrawer::draw(std::size_t index) {
  const Variable& v = w_.variables[index];
  switch (v.distribution) {
    case Distribution::kUniform:
      return uniform_in(rng_, v.min, v.max);
    case Distribution::kZipfian:
      return offset_from(v.min, v.permutation(v.zipf.sample(rng_) - 1));
    case Distribution::kLatest: {
      const std::int64_t top = state_.newest(v);
      const auto n = static_cast<std::uint64_t>(top) - static_cast<std::uint64_t>(v.min) + 1;
      return top - static_cast<std::int64_t>(v.zipf.sample(rng_, n) - 1);
    }
    case Distribution::kSequential:
      return state_.next_sequential(index, v);
  }
  return v.min;
}

void RequestDrawer::next(DrawnRequest& out) {
  draw_kind(pick_kind(), out);
}

void RequestDrawer::draw_kind(std::size_t kind, DrawnRequest& out) {
  const RequestKind& k = w_.kinds[kind];
  out.kind = kind;
  out.values.resize(w_.variables.size());
  for (std::size_t i : k.variables) out.values[i] = draw(i);
  if (!k.distinct.empty()) {
    const auto all_differ = [&] {
      for (std::size_t a = 0; a < k.distinct.size(); ++a) {
        for (std::size_t b = a + 1; b < k.distinct.size(); ++b) {
          if (out.values[k.distinct[a]] == out.values[k.distinct[b]]) return false;
        }
      }
      return true;
    };
    // Redrawn together until they differ (their joint distribution given
    // that they differ). Should the distributions make that rare (a steep
    // zipfian over a few values), after 64 tries they are drawn uniformly
    // from their ranges, which load_workload checked leave room.
    int tries = 0;
    while (!all_differ()) {
      if (++tries <= 64) {
        for (std::size_t i : k.distinct) out.values[i] = draw(i);
      } else {
        for (std::size_t i : k.distinct) out.values[i] = uniform_in(rng_, w_.variables[i].min, w_.variables[i].max);
      }
    }
  }
  out.path.clear();
  fill(k.path, out.values, out.path);
  out.body.clear();
  if (k.has_body) fill(k.body, out.values, out.body);
}

void RequestDrawer::fill(const Template& t, const std::vector<std::int64_t>& values, std::string& out) {
  // Letters, digits, '-' and '_': nothing to escape in JSON or a URL, and
  // 64 of them, so each takes 6 bits of a random number.
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (const auto& p : t.pieces) {
    switch (p.kind) {
      case Template::Piece::kText:
        out += p.text;
        break;
      case Template::Piece::kVariable: {
        char buf[24];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, values[p.value]);
        out.append(buf, end);
        break;
      }
      case Template::Piece::kPayload: {
        const std::size_t start = out.size();
        out.resize(start + p.value);
        std::uint64_t bits = 0;
        int left = 0;
        for (std::size_t i = 0; i < p.value; ++i) {
          if (left == 0) {
            bits = rng_();
            left = 10;
          }
          out[start + i] = kAlphabet[bits & 63];
          bits >>= 6;
          --left;
        }
        break;
      }
    }
  }
}

// ---------------------------------------------------------------- writing

RequestWriter::RequestWriter(const Workload& w, const LoadOptions& options) {
  for (const auto& k : w.kinds) {
    Prepared p;
    p.method = k.method;
    bool has_host = false, has_type = false, has_connection = false;
    std::string lines;
    for (const auto* list : {&options.headers, &k.headers}) {
      for (const auto& h : *list) {
        const auto [name, value] = split_header(h);
        has_host = has_host || boost::beast::iequals(name, "host");
        has_type = has_type || boost::beast::iequals(name, "content-type");
        has_connection = has_connection || boost::beast::iequals(name, "connection");
        lines.append(name).append(": ").append(value).append("\r\n");
      }
    }
    if (!has_host) p.headers.append("Host: ").append(options.url.authority()).append("\r\n");
    p.headers += lines;
    if (k.has_body && !has_type) p.headers.append("Content-Type: application/json\r\n");
    if (options.close && !has_connection) p.headers.append("Connection: close\r\n");
    p.content_length = k.has_body || k.method == "POST" || k.method == "PUT" || k.method == "PATCH";
    kinds_.push_back(std::move(p));
  }
}

void RequestWriter::build(const DrawnRequest& d, std::string& out) const {
  const Prepared& p = kinds_[d.kind];
  out.clear();
  out.append(p.method).append(" ").append(d.path).append(" HTTP/1.1\r\n").append(p.headers);
  if (p.content_length) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d.body.size());
    out.append("Content-Length: ").append(buf, end).append("\r\n");
  }
  out.append("\r\n").append(d.body);
}

std::optional<std::int64_t> find_id(std::string_view body) {
  std::size_t pos = 0;
  while ((pos = body.find("\"id\"", pos)) != std::string_view::npos) {
    const bool escaped = pos > 0 && body[pos - 1] == '\\';
    pos += 4;
    if (escaped) continue;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t' || body[pos] == '\n' || body[pos] == '\r')) {
      ++pos;
    }
    if (pos >= body.size() || body[pos] != ':') continue;
    ++pos;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t' || body[pos] == '\n' || body[pos] == '\r')) {
      ++pos;
    }
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(body.data() + pos, body.data() + body.size(), id);
    if (ec == std::errc()) return id;
    return std::nullopt;
  }
  return std::nullopt;
}

// ----------------------------------------------------------------- ledger

void Ledger::merge(const Ledger& o) {
  for (const auto& [name, n] : o.counters) counters[name] += n;
  for (const auto& [name, n] : o.counters_unknown) counters_unknown[name] += n;
  for (const auto& [account, v] : o.transfers.net) transfers.net[account] += v;
  for (const auto& [account, v] : o.transfers.unknown_abs) transfers.unknown_abs[account] += v;
  transfers.ok += o.transfers.ok;
  transfers.refused += o.transfers.refused;
  transfers.failed += o.transfers.failed;
  transfers.unknown += o.transfers.unknown;
  inserts += o.inserts;
  inserts_unknown += o.inserts_unknown;
}

nlohmann::json Ledger::to_json() const {
  nlohmann::json c = nlohmann::json::object(), cu = nlohmann::json::object();
  for (const auto& [name, n] : counters) c[name] = n;
  for (const auto& [name, n] : counters_unknown) cu[name] = n;
  nlohmann::json net = nlohmann::json::object(), unknown_abs = nlohmann::json::object();
  for (const auto& [account, v] : transfers.net) net[std::to_string(account)] = v;
  for (const auto& [account, v] : transfers.unknown_abs) unknown_abs[std::to_string(account)] = v;
  return {{"inserts", inserts},
          {"inserts_unknown", inserts_unknown},
          {"counters", c},
          {"counters_unknown", cu},
          {"transfers",
           {{"ok", transfers.ok},
            {"refused", transfers.refused},
            {"failed", transfers.failed},
            {"unknown", transfers.unknown},
            {"net", net},
            {"unknown_abs", unknown_abs}}}};
}

LedgerEntry ledger_entry(std::string_view method, std::string_view path, std::string_view body) {
  LedgerEntry e;
  if (method != "POST") return e;
  path = path.substr(0, path.find('?'));
  constexpr std::string_view kCounters = "/counters/";
  if (path == "/rows") {
    e.kind = LedgerEntry::kInsert;
  } else if (path.substr(0, kCounters.size()) == kCounters) {
    const auto rest = path.substr(kCounters.size());
    const auto name = rest.substr(0, rest.find('/'));
    if (!name.empty()) {
      e.kind = LedgerEntry::kCounter;
      e.counter.assign(name);
    }
  } else if (path == "/transfer") {
    const auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    const auto integer = [&](const char* key) { return doc.contains(key) && doc[key].is_number_integer(); };
    if (doc.is_object() && integer("from") && integer("to") && integer("amount")) {
      e.kind = LedgerEntry::kTransfer;
      e.from = doc["from"].get<std::int64_t>();
      e.to = doc["to"].get<std::int64_t>();
      e.amount = doc["amount"].get<std::int64_t>();
    }
  }
  return e;
}

void record(Ledger& ledger, const LedgerEntry& e, int status) {
  const bool ok = status >= 200 && status < 300;
  switch (e.kind) {
    case LedgerEntry::kNone:
      return;
    case LedgerEntry::kInsert:
      if (status == 0) ++ledger.inserts_unknown;
      if (ok) ++ledger.inserts;
      return;
    case LedgerEntry::kCounter:
      if (status == 0) ++ledger.counters_unknown[e.counter];
      if (ok) ++ledger.counters[e.counter];
      return;
    case LedgerEntry::kTransfer: {
      auto& t = ledger.transfers;
      if (status == 0) {
        ++t.unknown;
        const std::int64_t a = e.amount < 0 ? -e.amount : e.amount;
        t.unknown_abs[e.from] += a;
        t.unknown_abs[e.to] += a;
      } else if (ok) {
        ++t.ok;
        t.net[e.from] -= e.amount;
        t.net[e.to] += e.amount;
      } else if (status == 409) {
        ++t.refused;
      } else {
        ++t.failed;
      }
      return;
    }
  }
}

}  // namespace busylab::loadgen
