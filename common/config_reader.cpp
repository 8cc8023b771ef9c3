#include "common/config_reader.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace busylab {

const nlohmann::json ConfigObject::kEmpty = nlohmann::json::object();

namespace {

// Line and column (1-based) of a byte offset in `text`.
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

}  // namespace

nlohmann::json parse_json_text(std::string_view text, std::string_view origin) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann reports the byte *after* the offending one; step back onto it.
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    auto [line, column] = line_column(text, offset);
    std::string what = e.what();
    // Keep only the part after "syntax error while parsing value - ".
    if (auto pos = what.find(" - "); pos != std::string::npos) what = what.substr(pos + 3);
    std::ostringstream msg;
    msg << origin << ":" << line << ":" << column << ": malformed JSON: " << what;
    throw ConfigError(msg.str());
  }
}

nlohmann::json load_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  if (!in || std::filesystem::is_directory(path, ec)) {
    throw ConfigError(path.string() + ": cannot read file (" +
                      (std::filesystem::exists(path, ec) ? "permission denied or not a regular file" : "no such file") +
                      ")");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_json_text(buffer.str(), path.string());
}

void apply_override(nlohmann::json& doc, std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw ConfigError("--set " + std::string(assignment) + ": expected key=value, e.g. database.busy_timeout_ms=0");
  }
  const std::string key(assignment.substr(0, eq));
  const std::string text(assignment.substr(eq + 1));
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare word is a string

  if (!doc.is_object()) throw ConfigError("config: the top level must be a JSON object");
  nlohmann::json* node = &doc;
  std::string walked;
  std::size_t start = 0;
  while (true) {
    const auto dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw ConfigError("--set " + key + ": empty name in dotted key");
    walked += (walked.empty() ? "" : ".") + part;
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    nlohmann::json& next = (*node)[part];
    if (next.is_null()) next = nlohmann::json::object();
    if (!next.is_object()) throw ConfigError("--set " + key + ": '" + walked + "' is not an object");
    node = &next;
    start = dot + 1;
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitution});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // Accept a suggestion only when it is plausibly a typo, not a different word.
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  return best_distance <= limit ? best : std::string();
}

std::string describe_json(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(value.type_name()) + " " + text;
}

ConfigObject::ConfigObject(const nlohmann::json& json, std::string path) : json_(json), path_(std::move(path)) {
  if (!json_.is_object()) {
    throw ConfigError((path_.empty() ? std::string("config") : path_) + ": expected an object, got " +
                      describe_json(json_));
  }
}

std::string ConfigObject::full_name(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void ConfigObject::fail(std::string_view key, std::string_view message) const {
  throw ConfigError(full_name(key) + ": " + std::string(message));
}

const nlohmann::json* ConfigObject::find(std::string_view key) {
  known_.emplace(key);
  auto it = json_.find(std::string(key));
  return it == json_.end() ? nullptr : &*it;
}

bool ConfigObject::has(std::string_view key) {
  return find(key) != nullptr;
}

void ConfigObject::read(std::string_view key, bool& out) {
  if (const auto* v = find(key)) {
    if (!v->is_boolean()) fail(key, "expected true or false, got " + describe_json(*v));
    out = v->get<bool>();
  }
}

void ConfigObject::read(std::string_view key, std::string& out) {
  if (const auto* v = find(key)) {
    if (!v->is_string()) fail(key, "expected a string, got " + describe_json(*v));
    out = v->get<std::string>();
  }
}

void ConfigObject::read(std::string_view key, double& out, double min, double max) {
  if (const auto* v = find(key)) {
    if (!v->is_number()) fail(key, "expected a number, got " + describe_json(*v));
    const double d = v->get<double>();
    if (d < min || d > max) {
      std::ostringstream msg;
      msg << "value " << d << " is out of range [" << min << ", " << max << "]";
      fail(key, msg.str());
    }
    out = d;
  }
}

void ConfigObject::read(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  if (const auto* v = find(key)) {
    if (!v->is_number_integer()) fail(key, "expected an integer, got " + describe_json(*v));
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      fail(key, "value " + v->dump() + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    const std::int64_t i = v->get<std::int64_t>();
    if (i < min || i > max) {
      fail(key, "value " + std::to_string(i) + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) +
                    "]");
    }
    out = i;
  }
}

void ConfigObject::read(std::string_view key, int& out, int min, int max) {
  std::int64_t wide = out;
  read(key, wide, min, max);
  out = static_cast<int>(wide);
}

std::optional<std::size_t> ConfigObject::read_choice(std::string_view key, const std::vector<std::string_view>& names) {
  const auto* v = find(key);
  if (!v) return std::nullopt;
  std::string list;
  for (auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  if (!v->is_string()) fail(key, "expected one of " + list + ", got " + describe_json(*v));
  const auto s = v->get<std::string>();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == s) return i + 1;
  }
  std::vector<std::string> candidates(names.begin(), names.end());
  std::string hint;
  if (auto near = closest_match(s, candidates); !near.empty()) hint = " (did you mean '" + near + "'?)";
  fail(key, "unknown value '" + s + "'; expected one of " + list + hint);
}

ConfigObject ConfigObject::child(std::string_view key) {
  if (const auto* v = find(key)) return ConfigObject(*v, full_name(key));
  return ConfigObject(kEmpty, full_name(key));
}

void ConfigObject::finish() const {
  for (auto it = json_.begin(); it != json_.end(); ++it) {
    if (known_.count(it.key())) continue;
    std::vector<std::string> candidates(known_.begin(), known_.end());
    std::string message = "unknown key '" + full_name(it.key()) + "'";
    if (auto near = closest_match(it.key(), candidates); !near.empty()) {
      message += " (did you mean '" + full_name(near) + "'?)";
    } else if (!candidates.empty()) {
      std::string list;
      for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + c;
      message += "; known keys here: " + list;
    }
    throw ConfigError(message);
  }
}

}  // namespace busylab
