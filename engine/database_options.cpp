#include "engine/database_options.hpp"

#include <nlohmann/json.hpp>
#include <regex>

#include "common/config_reader.hpp"

namespace busylab {

std::string_view to_string(EngineKind e) {
  return e == EngineKind::kSqlite ? "sqlite" : "postgres";
}

std::string_view to_string(JournalMode m) {
  switch (m) {
    case JournalMode::kDelete:
      return "delete";
    case JournalMode::kTruncate:
      return "truncate";
    case JournalMode::kPersist:
      return "persist";
    case JournalMode::kWal:
      return "wal";
  }
  return "?";
}

std::string_view to_string(Synchronous s) {
  switch (s) {
    case Synchronous::kOff:
      return "off";
    case Synchronous::kNormal:
      return "normal";
    case Synchronous::kFull:
      return "full";
    case Synchronous::kExtra:
      return "extra";
  }
  return "?";
}

std::string_view to_string(TransactionMode t) {
  switch (t) {
    case TransactionMode::kDeferred:
      return "deferred";
    case TransactionMode::kImmediate:
      return "immediate";
    case TransactionMode::kExclusive:
      return "exclusive";
  }
  return "?";
}

std::string_view to_string(BusyRetry r) {
  return r == BusyRetry::kBackoff ? "backoff" : "fixed";
}

std::string_view to_string(CheckpointMode m) {
  switch (m) {
    case CheckpointMode::kAuto:
      return "auto";
    case CheckpointMode::kPassive:
      return "passive";
    case CheckpointMode::kFull:
      return "full";
    case CheckpointMode::kRestart:
      return "restart";
    case CheckpointMode::kTruncate:
      return "truncate";
  }
  return "?";
}

DatabaseOptions DatabaseOptions::from_config(ConfigObject& o) {
  DatabaseOptions d;
  o.read_enum("engine", d.engine, {{"sqlite", EngineKind::kSqlite}, {"postgres", EngineKind::kPostgres}});
  o.read("url", d.url);
  if (d.engine == EngineKind::kPostgres && d.url.empty())
    o.fail("url",
           "is required when engine is \"postgres\" (a libpq connection string or URI; scripts/postgres url DIR prints "
           "one)");
  o.read("path", d.path);
  if (d.path.empty()) o.fail("path", "must not be empty");
  if (d.path == ":memory:" || d.path.rfind("file:", 0) == 0) {
    // Every connection would get its own private database: nothing shared, nothing to measure.
    o.fail("path", "must be a file path; ':memory:' and URIs give each connection a separate database");
  }
  o.read_enum("journal_mode", d.journal_mode,
              {{"delete", JournalMode::kDelete},
               {"truncate", JournalMode::kTruncate},
               {"persist", JournalMode::kPersist},
               {"wal", JournalMode::kWal}});
  o.read_enum("synchronous", d.synchronous,
              {{"off", Synchronous::kOff},
               {"normal", Synchronous::kNormal},
               {"full", Synchronous::kFull},
               {"extra", Synchronous::kExtra}});
  o.read("busy_timeout_ms", d.busy_timeout_ms, 0, 3'600'000);
  o.read_enum("busy_retry", d.busy_retry, {{"backoff", BusyRetry::kBackoff}, {"fixed", BusyRetry::kFixed}});
  o.read("busy_retry_interval_ms", d.busy_retry_interval_ms, 1, 10'000);
  o.read_enum("transaction", d.transaction,
              {{"deferred", TransactionMode::kDeferred},
               {"immediate", TransactionMode::kImmediate},
               {"exclusive", TransactionMode::kExclusive}});
  o.read("cache_size", d.cache_size, -1'000'000'000, 1'000'000'000);
  o.read("mmap_size", d.mmap_size, 0, std::int64_t{1} << 40);
  o.read("max_size_mb", d.max_size_mb, 0, 1'000'000);
  o.read("wal_autocheckpoint", d.wal_autocheckpoint, 0, 1'000'000'000);
  o.read("journal_size_limit", d.journal_size_limit, -1, std::int64_t{1} << 40);
  o.read("deadline_ms", d.deadline_ms, 1, 3'600'000);
  o.read("tcp_user_timeout_ms", d.tcp_user_timeout_ms, 0, 3'600'000);
  auto checkpoint = o.child("checkpoint");
  checkpoint.read_enum("mode", d.checkpoint.mode,
                       {{"auto", CheckpointMode::kAuto},
                        {"passive", CheckpointMode::kPassive},
                        {"full", CheckpointMode::kFull},
                        {"restart", CheckpointMode::kRestart},
                        {"truncate", CheckpointMode::kTruncate}});
  checkpoint.read("interval_ms", d.checkpoint.interval_ms, 1, 3'600'000);
  if (d.engine == EngineKind::kSqlite && d.checkpoint.background() && d.journal_mode != JournalMode::kWal)
    checkpoint.fail("mode", "\"" + std::string(to_string(d.checkpoint.mode)) +
                                "\" checkpoints a WAL: it needs journal_mode \"wal\" (or mode \"auto\")");
  checkpoint.finish();
  auto retry = o.child("retry");
  retry.read("max_tries", d.retry.max_tries, 1, 1000);
  retry.read("base_ms", d.retry.base_ms, 0, 60'000);
  retry.read("cap_ms", d.retry.cap_ms, 0, 60'000);
  retry.read("deadline_ms", d.retry.deadline_ms, 1, 3'600'000);
  retry.finish();
  o.finish();
  return d;
}

nlohmann::json DatabaseOptions::to_json() const {
  return {{"engine", to_string(engine)},
          {"url", redacted_url()},
          {"path", path},
          {"journal_mode", to_string(journal_mode)},
          {"synchronous", to_string(synchronous)},
          {"busy_timeout_ms", busy_timeout_ms},
          {"busy_retry", to_string(busy_retry)},
          {"busy_retry_interval_ms", busy_retry_interval_ms},
          {"transaction", to_string(transaction)},
          {"cache_size", cache_size},
          {"mmap_size", mmap_size},
          {"max_size_mb", max_size_mb},
          {"wal_autocheckpoint", wal_autocheckpoint},
          {"journal_size_limit", journal_size_limit},
          {"deadline_ms", deadline_ms},
          {"tcp_user_timeout_ms", tcp_user_timeout_ms},
          {"checkpoint", {{"mode", to_string(checkpoint.mode)}, {"interval_ms", checkpoint.interval_ms}}},
          {"retry",
           {{"max_tries", retry.max_tries},
            {"base_ms", retry.base_ms},
            {"cap_ms", retry.cap_ms},
            {"deadline_ms", retry.deadline_ms}}}};
}

std::string DatabaseOptions::redacted_url() const {
  // postgresql://user:secret@host/db and password=secret (quoted or not).
  static const std::regex uri(R"(^(postgres(?:ql)?://[^:/@]*:)[^@]*@)");
  static const std::regex keyword(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+))");
  std::string out = std::regex_replace(url, uri, "$1***@");
  return std::regex_replace(out, keyword, "$1***");
}

}  // namespace busylab
