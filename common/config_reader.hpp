#pragma once
// One small helper that turns JSON objects into typed option structs, so every
// config and experiment file reports mistakes the same way: the dotted path of
// the key, what was expected, what was found, and the closest known key when a
// key is unknown.

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace busylab {

/// Any problem with a config or experiment file. The message is complete and
/// meant for the user as is (it names the file or key).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads the JSON document at `path`. Throws ConfigError naming the file when it
/// cannot be read, and the line and column when it is not valid JSON.
nlohmann::json load_json_file(const std::filesystem::path& path);

/// Parses JSON text; `origin` names it in error messages (a file name).
nlohmann::json parse_json_text(std::string_view text, std::string_view origin);

/// Applies one `dotted.key=value` override to `doc`. The value is taken as JSON
/// when it parses as JSON (numbers, true/false, null, quoted strings, objects),
/// else as a plain string. Throws ConfigError when the text has no '=' or an
/// empty key, or when a path element exists and is not an object.
void apply_override(nlohmann::json& doc, std::string_view assignment);

/// Distance between two strings (insertions, deletions, substitutions).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word`, or "" when none is reasonably close.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// A view of one JSON object being read into options. Every read records the
/// key as known; finish() rejects the keys nobody asked for. Not thread-safe
/// (a reader is used by one thread while a file is loaded).
class ConfigObject {
 public:
  /// `json` must outlive the reader. `path` is the dotted prefix ("" at top level).
  ConfigObject(const nlohmann::json& json, std::string path);

  void read(std::string_view key, bool& out);
  void read(std::string_view key, std::string& out);
  void read(std::string_view key, double& out, double min, double max);
  void read(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);
  void read(std::string_view key, int& out, int min, int max);

  /// Reads a string that must be one of `names`; stores its index in `out`.
  template <class Enum>
  void read_enum(std::string_view key, Enum& out, std::initializer_list<std::pair<std::string_view, Enum>> names) {
    std::vector<std::string_view> keys;
    for (const auto& [name, value] : names) keys.push_back(name);
    if (const auto index = read_choice(key, keys)) out = std::data(names)[*index - 1].second;
  }

  /// The nested object under `key` (an empty object when the key is absent).
  ConfigObject child(std::string_view key);

  /// True when the key is present (and marks it as known).
  bool has(std::string_view key);

  /// Throws ConfigError for the first key present but never read.
  void finish() const;

  /// The dotted name of `key` inside this object.
  std::string full_name(std::string_view key) const;

  [[noreturn]] void fail(std::string_view key, std::string_view message) const;

 private:
  const nlohmann::json* find(std::string_view key);
  // Returns index+1 of the chosen name, or nothing when the key is absent.
  std::optional<std::size_t> read_choice(std::string_view key, const std::vector<std::string_view>& names);

  const nlohmann::json& json_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
  static const nlohmann::json kEmpty;
};

/// A short description of a JSON value's type and value for error messages.
std::string describe_json(const nlohmann::json& value);

}  // namespace busylab
