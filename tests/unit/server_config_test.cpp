// The whole config file: server, database and pool sections, every class of
// mistake a user can make, `--set` overrides, and the shipped config files.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/config_reader.hpp"
#include "engine/db_stats.hpp"
#include "engine/engine.hpp"
#include "engines/make_engine.hpp"
#include "postgres/pg_engine.hpp"
#include "server/server_options.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/unit_util.hpp"

#ifndef BUSYLAB_SOURCE_DIR
#error "BUSYLAB_SOURCE_DIR must be defined by the build (tests/CMakeLists.txt)"
#endif

namespace busylab {
namespace {

using nlohmann::json;

template <class Fn>
std::string config_error(Fn&& fn) {
  return unit::error_message<ConfigError>(std::forward<Fn>(fn));
}

std::string error_for(const std::string& text) {
  return config_error([&] { config_from_json(json::parse(text), "test.json"); });
}

// A config file in a temp folder, written on construction.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) : path_(dir_.file("config.json")) {
    std::ofstream out(path_, std::ios::binary);
    out << text;
  }
  const std::string& path() const { return path_; }

 private:
  testing::TempDir dir_;
  std::string path_;
};

// ---- valid documents --------------------------------------------------------

TEST(ServerConfig, ListensOnLoopbackByDefault) {
  EXPECT_EQ(config_from_json(json::object(), "x").server.address, "127.0.0.1");
}

TEST(ServerConfig, EmptyDocumentGivesDefaults) {
  const Config c = config_from_json(json::object(), "x");
  const ServerOptions s;
  const DatabaseOptions d;
  const PoolOptions p;
  EXPECT_EQ(c.server.address, s.address);
  EXPECT_EQ(c.server.port, s.port);
  EXPECT_EQ(c.database.path, d.path);
  EXPECT_EQ(c.database.busy_timeout_ms, d.busy_timeout_ms);
  EXPECT_EQ(c.database.journal_mode, d.journal_mode);
  EXPECT_EQ(c.pool.strategy, p.strategy);
  EXPECT_EQ(c.pool.size, p.size);
}

TEST(ServerConfig, DefaultsWithoutFile) {
  const Config c = load_config(std::nullopt, {});
  EXPECT_EQ(c.to_json(), config_from_json(json::object(), "x").to_json());
}

TEST(ServerConfig, ReadsEverySection) {
  const Config c = config_from_json(json::parse(R"({
    "description": "free text",
    "server": {"address": "::1", "port": 0, "threads": 3, "log_level": "debug", "body_limit": 100},
    "database": {"path": "x.db", "journal_mode": "delete", "synchronous": "full", "busy_timeout_ms": 0,
                 "busy_retry": "fixed", "busy_retry_interval_ms": 7, "transaction": "deferred",
                 "max_size_mb": 12},
    "pool": {"strategy": "batched", "size": 16, "checkout_timeout_ms": 250, "queue_target_ms": 5,
             "queue_interval_ms": 50, "max_waiters": 10, "max_batch": 32}
  })"),
                                    "x");
  EXPECT_EQ(c.server.address, "::1");
  EXPECT_EQ(c.server.port, 0);
  EXPECT_EQ(c.server.threads, 3);
  EXPECT_EQ(c.server.effective_threads(), 3);
  EXPECT_EQ(c.server.log_level, "debug");
  EXPECT_EQ(c.server.body_limit, 100);
  EXPECT_EQ(c.database.path, "x.db");
  EXPECT_EQ(c.database.journal_mode, JournalMode::kDelete);
  EXPECT_EQ(c.database.synchronous, Synchronous::kFull);
  EXPECT_EQ(c.database.busy_timeout_ms, 0);
  EXPECT_EQ(c.database.busy_retry, BusyRetry::kFixed);
  EXPECT_EQ(c.database.busy_retry_interval_ms, 7);
  EXPECT_EQ(c.database.transaction, TransactionMode::kDeferred);
  EXPECT_EQ(c.database.max_size_mb, 12);
  EXPECT_EQ(c.pool.strategy, StrategyKind::kBatched);
  EXPECT_EQ(c.pool.size, 16);
  EXPECT_EQ(c.pool.checkout_timeout_ms, 250);
  EXPECT_EQ(c.pool.queue_target_ms, 5);
  EXPECT_EQ(c.pool.queue_interval_ms, 50);
  EXPECT_EQ(c.pool.max_waiters, 10);
  EXPECT_EQ(c.pool.max_batch, 32);
}

TEST(ServerConfig, ToJsonRoundTrips) {
  Config c;
  c.server.port = 1234;
  c.database.journal_mode = JournalMode::kTruncate;
  c.database.busy_retry = BusyRetry::kFixed;
  c.pool.strategy = StrategyKind::kSingleWriter;
  c.pool.queue_target_ms = 10;
  c.pool.queue_interval_ms = 100;
  const json j = c.to_json();
  const Config back = config_from_json(j, "round trip");
  EXPECT_EQ(back.to_json(), j);
  EXPECT_EQ(back.pool.strategy, StrategyKind::kSingleWriter);
}

TEST(ServerConfig, EffectiveThreadsIsPositiveWhenZero) {
  ServerOptions s;
  s.threads = 0;
  EXPECT_GE(s.effective_threads(), 1);
}

TEST(ServerConfig, ShippedConfigFilesLoad) {
  const std::filesystem::path dir = std::filesystem::path(BUSYLAB_SOURCE_DIR) / "config";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << "no config/*.json found in " << dir;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    EXPECT_NO_THROW({
      try {
        load_config(f, {});
      } catch (const ConfigError& e) {
        ADD_FAILURE() << e.what();
        throw;
      }
    });
  }
}

TEST(ServerConfig, ShippedStrategiesAreTheOnesTheirNamesSay) {
  const std::filesystem::path dir = std::filesystem::path(BUSYLAB_SOURCE_DIR) / "config";
  EXPECT_EQ(load_config(dir / "pool.json", {}).pool.strategy, StrategyKind::kPool);
  EXPECT_EQ(load_config(dir / "per-request.json", {}).pool.strategy, StrategyKind::kPerRequest);
  EXPECT_EQ(load_config(dir / "single-writer.json", {}).pool.strategy, StrategyKind::kSingleWriter);
  EXPECT_EQ(load_config(dir / "batched.json", {}).pool.strategy, StrategyKind::kBatched);
}

// ---- unknown keys -----------------------------------------------------------

TEST(ServerConfigErrors, UnknownKeyNamesDottedPathAndSuggests) {
  const std::string msg = error_for(R"({"database": {"busy_timeot_ms": 10}})");
  EXPECT_CONTAINS(msg, "test.json: ");
  EXPECT_CONTAINS(msg, "unknown key 'database.busy_timeot_ms'");
  EXPECT_CONTAINS(msg, "did you mean 'database.busy_timeout_ms'?");
}

TEST(ServerConfigErrors, UnknownKeyInServerAndPool) {
  EXPECT_CONTAINS(error_for(R"({"server": {"prot": 80}})"), "unknown key 'server.prot' (did you mean 'server.port'?)");
  EXPECT_CONTAINS(error_for(R"({"pool": {"strategi": "pool"}})"),
                  "unknown key 'pool.strategi' (did you mean 'pool.strategy'?)");
}

TEST(ServerConfigErrors, UnknownTopLevelSectionWithSuggestion) {
  const std::string msg = error_for(R"({"databse": {}})");
  EXPECT_CONTAINS(msg, "unknown key 'databse'");
  EXPECT_CONTAINS(msg, "did you mean 'database'?");
}

TEST(ServerConfigErrors, UnknownTopLevelSectionListsKnownSections) {
  const std::string msg = error_for(R"({"metrics": {"enabled": true}})");
  EXPECT_CONTAINS(msg, "unknown key 'metrics'");
  EXPECT_CONTAINS(msg, "known keys here:");
  EXPECT_CONTAINS(msg, "database");
  EXPECT_CONTAINS(msg, "pool");
  EXPECT_CONTAINS(msg, "server");
}

TEST(ServerConfigErrors, SectionMustBeAnObject) {
  EXPECT_CONTAINS(error_for(R"({"pool": 4})"), "pool: expected an object, got number 4");
  EXPECT_CONTAINS(config_error([] { config_from_json(json::array(), "arr.json"); }), "arr.json: ");
}

// ---- wrong types ----------------------------------------------------------------

TEST(ServerConfigErrors, StringWhereIntegerExpected) {
  const std::string msg = error_for(R"({"pool": {"size": "4"}})");
  EXPECT_CONTAINS(msg, "pool.size: expected an integer, got string \"4\"");
}

TEST(ServerConfigErrors, OtherWrongTypes) {
  EXPECT_CONTAINS(error_for(R"({"server": {"port": 80.5}})"), "server.port: expected an integer");
  EXPECT_CONTAINS(error_for(R"({"database": {"path": 3}})"), "database.path: expected a string");
  EXPECT_CONTAINS(error_for(R"({"database": {"journal_mode": true}})"), "database.journal_mode: expected one of");
  EXPECT_CONTAINS(error_for(R"({"description": 5})"), "description: expected a string");
}

// ---- out of range ---------------------------------------------------------------

TEST(ServerConfigErrors, PoolSizeZero) {
  EXPECT_CONTAINS(error_for(R"({"pool": {"size": 0}})"), "pool.size: value 0 is out of range [1, 1024]");
}

TEST(ServerConfigErrors, PortTooLarge) {
  EXPECT_CONTAINS(error_for(R"({"server": {"port": 70000}})"), "server.port: value 70000 is out of range [0, 65535]");
}

TEST(ServerConfigErrors, NegativeBusyTimeout) {
  EXPECT_CONTAINS(error_for(R"({"database": {"busy_timeout_ms": -1}})"),
                  "database.busy_timeout_ms: value -1 is out of range [0, ");
}

TEST(ServerConfigErrors, OtherRanges) {
  EXPECT_CONTAINS(error_for(R"({"pool": {"checkout_timeout_ms": 0}})"),
                  "pool.checkout_timeout_ms: value 0 is out of range");
  EXPECT_CONTAINS(error_for(R"({"pool": {"max_waiters": 0}})"), "pool.max_waiters: value 0 is out of range");
  EXPECT_CONTAINS(error_for(R"({"server": {"threads": -2}})"), "server.threads: value -2 is out of range");
  EXPECT_CONTAINS(error_for(R"({"server": {"header_limit": 10}})"), "server.header_limit: value 10 is out of range");
  EXPECT_CONTAINS(error_for(R"({"database": {"busy_retry_interval_ms": 0}})"),
                  "database.busy_retry_interval_ms: value 0 is out of range");
  // Beyond int: must not wrap around into the range.
  EXPECT_CONTAINS(error_for(R"({"pool": {"size": 4294967297}})"), "pool.size: value 4294967297 is out of range");
}

TEST(ServerConfigErrors, OtherValueChecks) {
  EXPECT_CONTAINS(error_for(R"({"database": {"path": ""}})"), "database.path: must not be empty");
  // Every connection would open its own private in-memory database.
  EXPECT_CONTAINS(error_for(R"({"database": {"path": ":memory:"}})"), "database.path: ");
  EXPECT_CONTAINS(error_for(R"({"database": {"path": "file:x.db?mode=memory"}})"), "database.path: ");
  EXPECT_CONTAINS(error_for(R"({"server": {"address": "localhost:80"}})"),
                  "server.address: 'localhost:80' is not an IPv4 or IPv6 address");
}

// ---- enums ------------------------------------------------------------------------

TEST(ServerConfigErrors, UnknownJournalModeSuggestsWal) {
  const std::string msg = error_for(R"({"database": {"journal_mode": "wall"}})");
  EXPECT_CONTAINS(msg, "database.journal_mode: unknown value 'wall'");
  EXPECT_CONTAINS(msg, "delete, truncate, persist, wal");
  EXPECT_CONTAINS(msg, "did you mean 'wal'?");
}

TEST(ServerConfigErrors, OtherUnknownEnumValues) {
  EXPECT_CONTAINS(error_for(R"({"pool": {"strategy": "singel_writer"}})"), "did you mean 'single_writer'?");
  EXPECT_CONTAINS(error_for(R"({"database": {"transaction": "imediate"}})"), "did you mean 'immediate'?");
  EXPECT_CONTAINS(error_for(R"({"server": {"log_level": "warning"}})"), "server.log_level: unknown value 'warning'");
  const std::string far = error_for(R"({"database": {"synchronous": "sometimes"}})");
  EXPECT_CONTAINS(far, "database.synchronous: unknown value 'sometimes'");
  EXPECT_NOT_CONTAINS(far, "did you mean");
}

// ---- shedding pair ------------------------------------------------------------------

TEST(ServerConfigErrors, QueueTargetWithoutInterval) {
  const std::string msg = error_for(R"({"pool": {"queue_target_ms": 10}})");
  EXPECT_CONTAINS(msg, "pool.queue_interval_ms");
  EXPECT_CONTAINS(msg, "set both or neither");
}

TEST(ServerConfigErrors, QueueIntervalWithoutTarget) {
  const std::string msg = error_for(R"({"pool": {"queue_interval_ms": 100}})");
  EXPECT_CONTAINS(msg, "pool.queue_target_ms");
  EXPECT_CONTAINS(msg, "set both or neither");
}

// ---- files ------------------------------------------------------------------------------

TEST(ServerConfigFiles, MissingFileIsNamed) {
  testing::TempDir dir;
  const std::string path = dir.file("nope.json");
  const std::string msg = config_error([&] { load_config(std::filesystem::path(path), {}); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "cannot read file");
}

TEST(ServerConfigFiles, MalformedJsonGivesLineAndColumn) {
  // Missing comma at the end of line 2: the parser stops on line 3.
  ConfigFile f(
      "{\n"
      "  \"server\": {\"port\": 8080}\n"
      "  \"pool\": {\"size\": 4}\n"
      "}\n");
  const std::string msg = config_error([&] { load_config(std::filesystem::path(f.path()), {}); });
  EXPECT_CONTAINS(msg, f.path() + ":3:");
  EXPECT_CONTAINS(msg, "malformed JSON");
}

TEST(ServerConfigFiles, ValidationErrorNamesTheFile) {
  ConfigFile f(R"({"pool": {"size": 0}})");
  const std::string msg = config_error([&] { load_config(std::filesystem::path(f.path()), {}); });
  EXPECT_CONTAINS(msg, f.path() + ": pool.size: value 0 is out of range");
}

// ---- --set overrides ---------------------------------------------------------------

TEST(ServerConfigOverrides, OverrideIsApplied) {
  ConfigFile f(R"({"database": {"busy_timeout_ms": 5000, "path": "a.db"}, "pool": {"size": 4}})");
  const Config c = load_config(std::filesystem::path(f.path()), {"database.busy_timeout_ms=0"});
  EXPECT_EQ(c.database.busy_timeout_ms, 0);
  EXPECT_EQ(c.database.path, "a.db") << "other keys of the file are kept";
  EXPECT_EQ(c.pool.size, 4);
}

TEST(ServerConfigOverrides, SeveralOverridesLaterWins) {
  ConfigFile f(R"({"pool": {"size": 4}})");
  const Config c = load_config(std::filesystem::path(f.path()),
                               {"pool.size=8", "pool.strategy=batched", "database.journal_mode=delete", "pool.size=2"});
  EXPECT_EQ(c.pool.size, 2);
  EXPECT_EQ(c.pool.strategy, StrategyKind::kBatched);
  EXPECT_EQ(c.database.journal_mode, JournalMode::kDelete);
}

TEST(ServerConfigOverrides, OverrideWithoutFile) {
  const Config c = load_config(std::nullopt, {"server.port=0", "pool.queue_target_ms=5", "pool.queue_interval_ms=50"});
  EXPECT_EQ(c.server.port, 0);
  EXPECT_EQ(c.pool.queue_target_ms, 5);
  EXPECT_EQ(c.pool.queue_interval_ms, 50);
}

TEST(ServerConfigOverrides, OverrideCanFixABadFileValue) {
  ConfigFile f(R"({"pool": {"size": 0}})");
  const Config c = load_config(std::filesystem::path(f.path()), {"pool.size=2"});
  EXPECT_EQ(c.pool.size, 2);
}

TEST(ServerConfigOverrides, BadFileIsBlamedWhenOverridesDoNotFixIt) {
  ConfigFile f(R"({"pool": {"size": 0}})");
  const std::string msg = config_error([&] { load_config(std::filesystem::path(f.path()), {"server.port=0"}); });
  EXPECT_CONTAINS(msg, f.path() + ": pool.size: value 0 is out of range");
  EXPECT_EQ(msg.find("--set"), std::string::npos) << msg;
}

TEST(ServerConfigOverrides, WrongTypeMentionsSet) {
  ConfigFile f(R"({"pool": {"size": 4}})");
  const std::string msg = config_error([&] { load_config(std::filesystem::path(f.path()), {"pool.size=abc"}); });
  EXPECT_CONTAINS(msg, "--set pool.size=abc");
  EXPECT_CONTAINS(msg, "pool.size: expected an integer, got string \"abc\"");
  EXPECT_CONTAINS(msg, f.path());
}

TEST(ServerConfigOverrides, UnknownKeyMentionsSetAndSuggests) {
  const std::string msg = config_error([] { load_config(std::nullopt, {"pool.sise=3"}); });
  EXPECT_CONTAINS(msg, "--set pool.sise=3");
  EXPECT_CONTAINS(msg, "unknown key 'pool.sise'");
  EXPECT_CONTAINS(msg, "did you mean 'pool.size'?");
}

TEST(ServerConfigOverrides, OutOfRangeAndEnumMentionSet) {
  EXPECT_CONTAINS(config_error([] { load_config(std::nullopt, {"server.port=70000"}); }), "--set server.port=70000");
  const std::string msg = config_error([] { load_config(std::nullopt, {"database.journal_mode=wall"}); });
  EXPECT_CONTAINS(msg, "--set");
  EXPECT_CONTAINS(msg, "did you mean 'wal'?");
}

TEST(ServerConfigOverrides, MalformedAssignmentMentionsSet) {
  const std::string msg = config_error([] { load_config(std::nullopt, {"pool.size"}); });
  EXPECT_CONTAINS(msg, "--set pool.size");
  EXPECT_CONTAINS(msg, "key=value");
}

TEST(ServerConfigOverrides, OverrideThroughNonObjectMentionsSet) {
  ConfigFile f(R"({"description": "x"})");
  const std::string msg = config_error([&] { load_config(std::filesystem::path(f.path()), {"description.a=1"}); });
  EXPECT_CONTAINS(msg, "--set");
  EXPECT_CONTAINS(msg, "'description' is not an object");
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

TEST(ServerConfig, PostgresEngineNeedsAUrlAndHidesItsPassword) {
  EXPECT_CONTAINS(error_for(R"({"database": {"engine": "postgres"}})"), "database.url: is required when engine");
  EXPECT_CONTAINS(error_for(R"({"database": {"engine": "mysql"}})"), "database.engine");
  const Config c = config_from_json(
      json::parse(R"({"database": {"engine": "postgres", "url": "postgresql://u:secret@127.0.0.1:5432/db"}})"), "x");
  EXPECT_EQ(c.database.engine, EngineKind::kPostgres);
  EXPECT_EQ(c.database.url, "postgresql://u:secret@127.0.0.1:5432/db");
  EXPECT_EQ(c.database.redacted_url(), "postgresql://u:***@127.0.0.1:5432/db");
  EXPECT_EQ(c.to_json()["database"]["url"], "postgresql://u:***@127.0.0.1:5432/db");
  DatabaseOptions keywords;
  keywords.url = "host=127.0.0.1 password='a b' dbname=busylab";
  EXPECT_EQ(keywords.redacted_url(), "host=127.0.0.1 password=*** dbname=busylab");
  keywords.url = "postgresql://postgres@127.0.0.1:55432/busylab";
  EXPECT_EQ(keywords.redacted_url(), keywords.url) << "no password, nothing hidden";
  // SQLite ignores a URL (a sweep sets one for every cell).
  EXPECT_EQ(config_from_json(json::parse(R"({"database": {"url": "postgresql://x"}})"), "x").database.engine,
            EngineKind::kSqlite);
}

TEST(ServerConfig, PostgresErrorsMapOntoTheSameClassesAsSqlite) {
  EXPECT_EQ(classify_pg("40001", false), Errc::kBusySnapshot);
  EXPECT_EQ(classify_pg("40P01", false), Errc::kBusySnapshot);
  EXPECT_EQ(classify_pg("55P03", false), Errc::kBusy);
  EXPECT_EQ(classify_pg("53100", false), Errc::kFull);
  EXPECT_EQ(classify_pg("53300", false), Errc::kUnavailable);
  EXPECT_EQ(classify_pg("57P01", false), Errc::kUnavailable);
  EXPECT_EQ(classify_pg("08006", false), Errc::kUnavailable);
  EXPECT_EQ(classify_pg("", true), Errc::kUnavailable);
  EXPECT_EQ(classify_pg("40001", true), Errc::kUnavailable) << "a lost connection is lost whatever it said";
  EXPECT_EQ(classify_pg("25006", false), Errc::kReadOnly);
  EXPECT_EQ(classify_pg("23505", false), Errc::kConstraint);
  EXPECT_EQ(classify_pg("XX000", false), Errc::kFatal);
  EXPECT_EQ(classify_pg("42601", false), Errc::kInternal);
  EXPECT_EQ(pg_code_name("40001"), "40001 serialization_failure");
  EXPECT_EQ(pg_code_name("55P03"), "55P03 lock_not_available");
  EXPECT_EQ(pg_code_name("42601"), "42601");
  EXPECT_TRUE(is_fatal(Errc::kUnavailable)) << "a connection without a server is replaced";
}

TEST(ServerConfig, ProcessesAreBoundedBySixteenPerCore) {
  EXPECT_EQ(config_from_json(json::object(), "t").server.processes, 1);
  EXPECT_EQ(config_from_json(json::parse(R"({"server": {"processes": 4}})"), "t").server.processes, 4);
  const std::string most = std::to_string(ServerOptions::max_processes());
  EXPECT_EQ(ServerOptions::max_processes(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) * 16);
  for (const std::string& bad :
       std::vector<std::string>{"0", "-1", std::to_string(ServerOptions::max_processes() + 1)}) {
    const auto msg = error_for(R"({"server": {"processes": )" + bad + "}}");
    EXPECT_CONTAINS(msg, "server.processes");
    EXPECT_CONTAINS(msg, most);
  }
}

TEST(ServerConfig, IoThreadsAreSharedOutAmongProcesses) {
  ServerOptions s;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(s.effective_threads(), cores);
  s.processes = cores * 2;
  EXPECT_EQ(s.effective_threads(), 1);
  s.threads = 3;
  EXPECT_EQ(s.effective_threads(), 3);  // an explicit count is per process
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

TEST(ServerConfig, WalCheckpointKeysReachTheConnection) {
  const Config c = config_from_json(
      json::parse(R"({"database": {"wal_autocheckpoint": 0, "journal_size_limit": 1048576}})"), "test.json");
  EXPECT_EQ(c.database.wal_autocheckpoint, 0);
  EXPECT_EQ(c.database.journal_size_limit, 1048576);
  EXPECT_EQ(c.to_json()["database"]["wal_autocheckpoint"], 0);
  EXPECT_NE(error_for(R"({"database": {"wal_autocheckpoint": -1}})").find("database.wal_autocheckpoint"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"database": {"journal_size_limit": -2}})").find("database.journal_size_limit"),
            std::string::npos);
  // What a connection opened with them runs (read back, as the sweep records it).
  testing::TempDir dir;
  DatabaseOptions options = c.database;
  options.path = dir.file("wal.db");
  DbStats stats;
  const auto engine = make_engine(options, stats);
  engine->prepare();
  std::map<std::string, std::string> settings;
  for (const auto& [name, value] : engine->settings()) settings[name] = value;
  EXPECT_EQ(settings["wal_autocheckpoint"], "0");
  EXPECT_EQ(settings["journal_size_limit"], "1048576");
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

TEST(ServerConfig, CheckpointPolicyKeys) {
  const Config c = config_from_json(
      json::parse(R"({"database": {"checkpoint": {"mode": "restart", "interval_ms": 250}}})"), "test.json");
  EXPECT_EQ(c.database.checkpoint.mode, CheckpointMode::kRestart);
  EXPECT_EQ(c.database.checkpoint.interval_ms, 250);
  EXPECT_EQ(c.database.effective_wal_autocheckpoint(), 0);
  EXPECT_EQ(c.to_json()["database"]["checkpoint"]["mode"], "restart");
  const Config automatic = config_from_json(json::parse(R"({})"), "test.json");
  EXPECT_EQ(automatic.database.checkpoint.mode, CheckpointMode::kAuto);
  EXPECT_EQ(automatic.database.effective_wal_autocheckpoint(), 1000);
  EXPECT_NE(error_for(R"({"database": {"checkpoint": {"mode": "restrat"}}})").find("database.checkpoint.mode"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"database": {"checkpoint": {"interval_ms": 0}}})").find("database.checkpoint.interval_ms"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"database": {"checkpoint": {"every": 5}}})").find("database.checkpoint.every"),
            std::string::npos);
  const std::string delete_mode =
      error_for(R"({"database": {"journal_mode": "delete", "checkpoint": {"mode": "passive"}}})");
  EXPECT_NE(delete_mode.find("database.checkpoint.mode"), std::string::npos) << delete_mode;
  EXPECT_NE(delete_mode.find("wal"), std::string::npos) << delete_mode;
}

}  // namespace
}  // namespace busylab

namespace busylab {
namespace {

TEST(ServerConfig, PostgresDeadlineKeys) {
  const Config c =
      config_from_json(json::parse(R"({"database": {"deadline_ms": 1500, "tcp_user_timeout_ms": 0}})"), "test.json");
  EXPECT_EQ(c.database.deadline_ms, 1500);
  EXPECT_EQ(c.database.tcp_user_timeout_ms, 0);
  EXPECT_EQ(c.to_json()["database"]["deadline_ms"], 1500);
  const Config d = config_from_json(json::parse(R"({})"), "test.json");
  EXPECT_EQ(d.database.deadline_ms, 30000);
  EXPECT_EQ(d.database.tcp_user_timeout_ms, 10000);
  EXPECT_NE(error_for(R"({"database": {"deadline_ms": 0}})").find("database.deadline_ms"), std::string::npos);
  EXPECT_NE(error_for(R"({"database": {"tcp_user_timeout_ms": -1}})").find("database.tcp_user_timeout_ms"),
            std::string::npos);
  // A cut-off connection is replaced; an unknown outcome has its own name.
  EXPECT_TRUE(is_fatal(Errc::kTimeout));
  EXPECT_TRUE(is_fatal(Errc::kOutcomeUnknown));
  EXPECT_EQ(to_string(Errc::kTimeout), "database_timeout");
  EXPECT_EQ(to_string(Errc::kOutcomeUnknown), "commit_outcome_unknown");
}

}  // namespace
}  // namespace busylab
