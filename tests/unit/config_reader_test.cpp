// The generic JSON-to-options reader: file loading, JSON syntax errors with
// line and column, `--set key=value` overrides, suggestions for unknown keys.

#include "common/config_reader.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

namespace busylab {
namespace {

using nlohmann::json;
template <class Fn>
std::string config_error(Fn&& fn) {
  return unit::error_message<ConfigError>(std::forward<Fn>(fn));
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// ---- apply_override -------------------------------------------------------

TEST(ApplyOverride, IntegerValueIsStoredAsNumberAndCreatesObjects) {
  json doc = json::object();
  apply_override(doc, "pool.size=8");
  ASSERT_TRUE(doc["pool"].is_object());
  ASSERT_TRUE(doc["pool"]["size"].is_number_integer());
  EXPECT_EQ(doc["pool"]["size"].get<int>(), 8);
}

TEST(ApplyOverride, NegativeAndFloatingNumbers) {
  json doc = json::object();
  apply_override(doc, "database.cache_size=-4000");
  apply_override(doc, "x.ratio=1.5");
  EXPECT_TRUE(doc["database"]["cache_size"].is_number_integer());
  EXPECT_EQ(doc["database"]["cache_size"].get<std::int64_t>(), -4000);
  EXPECT_TRUE(doc["x"]["ratio"].is_number_float());
  EXPECT_DOUBLE_EQ(doc["x"]["ratio"].get<double>(), 1.5);
}

TEST(ApplyOverride, TrueFalseAndNullAreJson) {
  json doc = json::object();
  apply_override(doc, "a.flag=true");
  apply_override(doc, "a.other=false");
  apply_override(doc, "a.none=null");
  ASSERT_TRUE(doc["a"]["flag"].is_boolean());
  EXPECT_TRUE(doc["a"]["flag"].get<bool>());
  ASSERT_TRUE(doc["a"]["other"].is_boolean());
  EXPECT_FALSE(doc["a"]["other"].get<bool>());
  EXPECT_TRUE(doc["a"]["none"].is_null());
}

TEST(ApplyOverride, BareWordIsAString) {
  json doc = json::object();
  apply_override(doc, "database.journal_mode=wal");
  ASSERT_TRUE(doc["database"]["journal_mode"].is_string());
  EXPECT_EQ(doc["database"]["journal_mode"].get<std::string>(), "wal");
}

TEST(ApplyOverride, QuotedStringIsUnquoted) {
  json doc = json::object();
  apply_override(doc, "database.path=\"my file.db\"");
  EXPECT_EQ(doc["database"]["path"].get<std::string>(), "my file.db");
}

TEST(ApplyOverride, NumberLikeTextThatIsNotJsonStaysAString) {
  json doc = json::object();
  apply_override(doc, "pool.size=abc");
  apply_override(doc, "pool.other=12abc");
  EXPECT_EQ(doc["pool"]["size"], json("abc"));
  EXPECT_EQ(doc["pool"]["other"], json("12abc"));
}

TEST(ApplyOverride, OnlyTheFirstEqualsSplits) {
  json doc = json::object();
  apply_override(doc, "database.path=a=b.db");
  EXPECT_EQ(doc["database"]["path"].get<std::string>(), "a=b.db");
}

TEST(ApplyOverride, EmptyValueIsEmptyString) {
  json doc = json::object();
  apply_override(doc, "database.path=");
  ASSERT_TRUE(doc["database"]["path"].is_string());
  EXPECT_EQ(doc["database"]["path"].get<std::string>(), "");
}

TEST(ApplyOverride, ObjectValue) {
  json doc = json::object();
  apply_override(doc, R"(pool={"size": 3})");
  EXPECT_EQ(doc["pool"]["size"].get<int>(), 3);
}

TEST(ApplyOverride, ReplacesExistingValueAndKeepsSiblings) {
  json doc = json::parse(R"({"pool": {"size": 4, "strategy": "pool"}})");
  apply_override(doc, "pool.size=9");
  EXPECT_EQ(doc["pool"]["size"].get<int>(), 9);
  EXPECT_EQ(doc["pool"]["strategy"].get<std::string>(), "pool");
}

TEST(ApplyOverride, MissingEqualsIsRejected) {
  json doc = json::object();
  const std::string msg = config_error([&] { apply_override(doc, "pool.size"); });
  EXPECT_CONTAINS(msg, "--set");
  EXPECT_CONTAINS(msg, "pool.size");
  EXPECT_CONTAINS(msg, "key=value");
  EXPECT_EQ(doc, json::object()) << "a rejected override must not change the document";
}

TEST(ApplyOverride, EmptyKeyIsRejected) {
  json doc = json::object();
  EXPECT_CONTAINS(config_error([&] { apply_override(doc, "=3"); }), "key=value");
}

TEST(ApplyOverride, EmptyPathElementIsRejected) {
  json doc = json::object();
  EXPECT_CONTAINS(config_error([&] { apply_override(doc, "pool..size=3"); }), "empty name");
  EXPECT_CONTAINS(config_error([&] { apply_override(doc, "pool.=3"); }), "empty name");
}

TEST(ApplyOverride, PathThroughANonObjectIsRejected) {
  json doc = json::parse(R"({"pool": 3})");
  const std::string msg = config_error([&] { apply_override(doc, "pool.size=4"); });
  EXPECT_CONTAINS(msg, "'pool' is not an object");
  EXPECT_EQ(doc["pool"].get<int>(), 3);
}

// ---- edit distance and suggestions ----------------------------------------

TEST(EditDistance, KnownValues) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("wal", "wall"), 1u);
  EXPECT_EQ(edit_distance("busy_timeot_ms", "busy_timeout_ms"), 1u);
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

TEST(ClosestMatch, PicksTheNearestPlausibleCandidate) {
  const std::vector<std::string> keys{"busy_timeout_ms", "busy_retry", "journal_mode", "path"};
  EXPECT_EQ(closest_match("busy_timeot_ms", keys), "busy_timeout_ms");
  EXPECT_EQ(closest_match("jornal_mode", keys), "journal_mode");
  EXPECT_EQ(closest_match("pth", keys), "path");
}

TEST(ClosestMatch, NoSuggestionForUnrelatedWords) {
  const std::vector<std::string> keys{"busy_timeout_ms", "journal_mode", "path"};
  EXPECT_EQ(closest_match("completely_different", keys), "");
  EXPECT_EQ(closest_match("xyz", {}), "");
}

// ---- JSON text and files ----------------------------------------------------

TEST(ParseJsonText, ValidText) {
  const json j = parse_json_text(R"({"a": [1, 2]})", "inline");
  EXPECT_EQ(j["a"][1].get<int>(), 2);
}

TEST(ParseJsonText, MissingCommaReportsOriginLineAndColumn) {
  // Line 3 lacks the comma before "database".
  const std::string text =
      "{\n"
      "  \"server\": {\"port\": 8080},\n"
      "  \"pool\": {\"size\": 4} \"database\": {}\n"
      "}\n";
  const std::string msg = config_error([&] { parse_json_text(text, "my.json"); });
  EXPECT_CONTAINS(msg, "my.json:3:");
  EXPECT_CONTAINS(msg, "malformed JSON");
  EXPECT_NOT_CONTAINS(msg, "[json.exception") << "nlohmann's prefix should be stripped: " << msg;
}

TEST(ParseJsonText, ErrorOnFirstLineHasExactColumn) {
  // The '}' at column 9 is where a value was expected.
  const std::string msg = config_error([&] { parse_json_text("{\"a\": 1,}", "x.json"); });
  EXPECT_CONTAINS(msg, "x.json:1:9:");
}

TEST(ParseJsonText, TruncatedDocument) {
  const std::string msg = config_error([&] { parse_json_text("{\n  \"a\": [1, 2\n", "cut.json"); });
  EXPECT_CONTAINS(msg, "cut.json:");
  EXPECT_CONTAINS(msg, "malformed JSON");
}

TEST(LoadJsonFile, ReadsAFile) {
  testing::TempDir dir;
  const auto path = dir.file("c.json");
  write_file(path, R"({"pool": {"size": 2}})");
  EXPECT_EQ(load_json_file(path)["pool"]["size"].get<int>(), 2);
}

TEST(LoadJsonFile, MissingFileNamesTheFile) {
  testing::TempDir dir;
  const auto path = dir.file("does-not-exist.json");
  const std::string msg = config_error([&] { load_json_file(path); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "no such file");
}

TEST(LoadJsonFile, DirectoryIsNotReadable) {
  testing::TempDir dir;
  const std::string msg = config_error([&] { load_json_file(dir.path()); });
  EXPECT_CONTAINS(msg, dir.path().string());
  EXPECT_CONTAINS(msg, "cannot read file");
}

TEST(LoadJsonFile, MalformedFileNamesFileAndLine) {
  testing::TempDir dir;
  const auto path = dir.file("bad.json");
  write_file(path, "{\n  \"a\": 1\n  \"b\": 2\n}\n");
  const std::string msg = config_error([&] { load_json_file(path); });
  EXPECT_CONTAINS(msg, path + ":3:");
}

// ---- ConfigObject -------------------------------------------------------------

TEST(ConfigObject, ReadsTypedValuesAndLeavesAbsentOnesAlone) {
  const json j = json::parse(R"({"b": true, "s": "x", "d": 0.5, "i": 7})");
  ConfigObject o(j, "sec");
  bool b = false;
  std::string s = "default";
  double d = 0;
  std::int64_t i = 0;
  int absent = 42;
  o.read("b", b);
  o.read("s", s);
  o.read("d", d, 0.0, 1.0);
  o.read("i", i, 0, 10);
  o.read("absent", absent, 0, 100);
  EXPECT_TRUE(b);
  EXPECT_EQ(s, "x");
  EXPECT_DOUBLE_EQ(d, 0.5);
  EXPECT_EQ(i, 7);
  EXPECT_EQ(absent, 42);
  EXPECT_NO_THROW(o.finish());
}

TEST(ConfigObject, WrongTypesNameTheDottedKey) {
  const json j = json::parse(R"({"b": 1, "s": 2, "d": "x", "i": 1.5, "n": "4"})");
  ConfigObject o(j, "sec");
  bool b = false;
  std::string s;
  double d = 0;
  std::int64_t i = 0;
  int n = 0;
  EXPECT_CONTAINS(config_error([&] { o.read("b", b); }), "sec.b: expected true or false");
  EXPECT_CONTAINS(config_error([&] { o.read("s", s); }), "sec.s: expected a string, got number 2");
  EXPECT_CONTAINS(config_error([&] { o.read("d", d, 0.0, 1.0); }), "sec.d: expected a number");
  EXPECT_CONTAINS(config_error([&] { o.read("i", i, 0, 10); }), "sec.i: expected an integer");
  EXPECT_CONTAINS(config_error([&] { o.read("n", n, 0, 10); }), "sec.n: expected an integer, got string \"4\"");
}

TEST(ConfigObject, RangeIsCheckedInclusively) {
  const json j = json::parse(R"({"lo": 1, "hi": 10, "below": 0, "above": 11, "huge": 18446744073709551615})");
  ConfigObject o(j, "");
  std::int64_t v = 0;
  o.read("lo", v, 1, 10);
  EXPECT_EQ(v, 1);
  o.read("hi", v, 1, 10);
  EXPECT_EQ(v, 10);
  EXPECT_CONTAINS(config_error([&] { o.read("below", v, 1, 10); }), "below: value 0 is out of range [1, 10]");
  EXPECT_CONTAINS(config_error([&] { o.read("above", v, 1, 10); }), "above: value 11 is out of range [1, 10]");
  EXPECT_CONTAINS(config_error([&] { o.read("huge", v, 1, 10); }), "out of range");
  EXPECT_EQ(v, 10) << "a rejected value must not be stored";
}

TEST(ConfigObject, DoubleRange) {
  const json j = json::parse(R"({"d": 2.5})");
  ConfigObject o(j, "x");
  double d = 0;
  EXPECT_CONTAINS(config_error([&] { o.read("d", d, 0.0, 1.0); }), "x.d: value 2.5 is out of range");
}

enum class Color { kRed, kGreen, kBlue };

TEST(ConfigObject, EnumAcceptsKnownNames) {
  const json j = json::parse(R"({"c": "blue"})");
  ConfigObject o(j, "paint");
  Color c = Color::kRed;
  o.read_enum("c", c, {{"red", Color::kRed}, {"green", Color::kGreen}, {"blue", Color::kBlue}});
  EXPECT_EQ(c, Color::kBlue);
}

TEST(ConfigObject, EnumUnknownValueListsChoicesAndSuggests) {
  const json j = json::parse(R"({"c": "gren"})");
  ConfigObject o(j, "paint");
  Color c = Color::kRed;
  const std::string msg = config_error([&] {
    o.read_enum("c", c, {{"red", Color::kRed}, {"green", Color::kGreen}, {"blue", Color::kBlue}});
  });
  EXPECT_CONTAINS(msg, "paint.c: unknown value 'gren'");
  EXPECT_CONTAINS(msg, "red, green, blue");
  EXPECT_CONTAINS(msg, "did you mean 'green'?");
  EXPECT_EQ(c, Color::kRed);
}

TEST(ConfigObject, EnumWrongType) {
  const json j = json::parse(R"({"c": 3})");
  ConfigObject o(j, "paint");
  Color c = Color::kRed;
  EXPECT_CONTAINS(config_error([&] {
                    o.read_enum("c", c, {{"red", Color::kRed}});
                  }),
                  "paint.c: expected one of red, got number 3");
}

TEST(ConfigObject, FinishRejectsUnreadKeysWithSuggestion) {
  const json j = json::parse(R"({"size": 1, "sise": 2})");
  ConfigObject o(j, "pool");
  int size = 0;
  o.read("size", size, 0, 10);
  EXPECT_CONTAINS(config_error([&] { o.finish(); }), "unknown key 'pool.sise' (did you mean 'pool.size'?)");
}

TEST(ConfigObject, FinishListsKnownKeysWhenNothingIsClose) {
  const json j = json::parse(R"({"size": 1, "zzzzzzzzzz": 2})");
  ConfigObject o(j, "pool");
  int size = 0;
  o.read("size", size, 0, 10);
  const std::string msg = config_error([&] { o.finish(); });
  EXPECT_CONTAINS(msg, "unknown key 'pool.zzzzzzzzzz'");
  EXPECT_CONTAINS(msg, "known keys here: size");
}

TEST(ConfigObject, AbsentKeysReadCountAsKnown) {
  const json j = json::parse(R"({"a": 1})");
  ConfigObject o(j, "");
  int a = 0, b = 0;
  o.read("a", a, 0, 10);
  o.read("b", b, 0, 10);
  EXPECT_TRUE(o.has("a"));
  EXPECT_FALSE(o.has("c"));
  EXPECT_NO_THROW(o.finish());
}

TEST(ConfigObject, ChildOfNonObjectIsRejected) {
  const json j = json::parse(R"({"pool": 3})");
  ConfigObject o(j, "");
  EXPECT_CONTAINS(config_error([&] { o.child("pool"); }), "pool: expected an object, got number 3");
}

TEST(ConfigObject, ChildPathsAreDotted) {
  const json j = json::parse(R"({"outer": {"inner": {"x": "no"}}})");
  ConfigObject top(j, "");
  auto outer = top.child("outer");
  auto inner = outer.child("inner");
  int x = 0;
  EXPECT_EQ(inner.full_name("x"), "outer.inner.x");
  EXPECT_CONTAINS(config_error([&] { inner.read("x", x, 0, 1); }), "outer.inner.x: expected an integer");
}

TEST(ConfigObject, AbsentChildIsEmpty) {
  const json j = json::object();
  ConfigObject top(j, "");
  auto child = top.child("missing");
  int v = 5;
  child.read("v", v, 0, 10);
  EXPECT_EQ(v, 5);
  EXPECT_NO_THROW(child.finish());
}

TEST(DescribeJson, TypeAndShortenedValue) {
  EXPECT_EQ(describe_json(json("abc")), "string \"abc\"");
  EXPECT_EQ(describe_json(json(3)), "number 3");
  EXPECT_EQ(describe_json(json()), "null");
  EXPECT_EQ(describe_json(json(true)), "boolean true");
  const std::string longer = describe_json(json(std::string(100, 'x')));
  EXPECT_LT(longer.size(), 60u);
  EXPECT_CONTAINS(longer, "...");
}

}  // namespace
}  // namespace busylab
