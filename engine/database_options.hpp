#pragma once
// Which database busylab drives and the settings applied to every
// connection it opens (`database.*`). Most keys are SQLite's; the
// PostgreSQL engine maps synchronous, busy_timeout_ms and transaction onto
// its own settings (docs/configuration.md) and ignores the rest.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace busylab {

class ConfigObject;

enum class EngineKind { kSqlite, kPostgres };
enum class JournalMode { kDelete, kTruncate, kPersist, kWal };
enum class Synchronous { kOff, kNormal, kFull, kExtra };
enum class TransactionMode { kDeferred, kImmediate, kExclusive };
enum class BusyRetry { kBackoff, kFixed };

std::string_view to_string(EngineKind e);
std::string_view to_string(JournalMode m);
std::string_view to_string(Synchronous s);
std::string_view to_string(TransactionMode t);
std::string_view to_string(BusyRetry r);

struct DatabaseOptions {
  EngineKind engine = EngineKind::kSqlite;
  /// PostgreSQL: a libpq connection string or URI (required). SQLite
  /// ignores it (a sweep can then set it for every cell).
  std::string url;
  std::string path = "busylab.db";
  JournalMode journal_mode = JournalMode::kWal;
  Synchronous synchronous = Synchronous::kNormal;
  /// 0 = never wait: a locked database fails at once with SQLITE_BUSY.
  std::int64_t busy_timeout_ms = 5000;
  BusyRetry busy_retry = BusyRetry::kBackoff;
  /// Sleep between retries when busy_retry is fixed.
  std::int64_t busy_retry_interval_ms = 1;
  TransactionMode transaction = TransactionMode::kImmediate;
  /// PRAGMA cache_size: pages when positive, KiB when negative (SQLite's rule).
  std::int64_t cache_size = -2000;
  std::int64_t mmap_size = 0;
  /// Size guard in MiB (0 = none): writes that would grow the file past it fail
  /// with SQLITE_FULL (HTTP 507); nothing is ever deleted.
  std::int64_t max_size_mb = 0;

  /// Reads the `database` object; unknown keys and bad values throw ConfigError.
  static DatabaseOptions from_config(ConfigObject& object);
  /// PostgreSQL's synchronous_commit for `synchronous`: on for full and
  /// extra, off for normal and off.
  bool synchronous_commit() const { return synchronous == Synchronous::kFull || synchronous == Synchronous::kExtra; }
  /// PostgreSQL's lock_timeout for busy_timeout_ms: 0 ("never wait")
  /// becomes 1 ms, because PostgreSQL's 0 means wait forever.
  std::int64_t lock_timeout_ms() const { return busy_timeout_ms > 0 ? busy_timeout_ms : 1; }

  /// The settings, with a password in `url` replaced by "***".
  nlohmann::json to_json() const;
  /// `url` with its password (URI or key=value form) replaced by "***".
  std::string redacted_url() const;
};

}  // namespace busylab
