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
/// Who checkpoints a WAL: SQLite inside commits (kAuto, wal_autocheckpoint)
/// or busylab's background checkpointer in one of sqlite3_wal_checkpoint_v2's modes.
enum class CheckpointMode { kAuto, kPassive, kFull, kRestart, kTruncate };

std::string_view to_string(EngineKind e);
std::string_view to_string(JournalMode m);
std::string_view to_string(Synchronous s);
std::string_view to_string(TransactionMode t);
std::string_view to_string(BusyRetry r);
std::string_view to_string(CheckpointMode m);

/// What the database holds before serving, created at start-up when the
/// table is empty (config keys `data.rows`, `bank.accounts`,
/// `bank.initial_balance`): rows for reads and updates to find, and the
/// accounts POST /transfer moves money between.
struct InitialData {
  std::int64_t rows = 0;  // rows 1..N, each with a 100-character payload
  std::int64_t accounts = 100;
  std::int64_t initial_balance = 1000;
};

/// `database.retry`: run a transaction again when it failed with a lock or
/// serialization conflict (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, 55P03, 40001,
/// 40P01), whose rollback is certain. Off (max_tries 1) by default.
struct RetryOptions {
  int max_tries = 1;                // tries in all, the first included; 1 = no retry
  std::int64_t base_ms = 2;         // back-off before try k+1: uniform in [0, min(cap_ms, base_ms * 2^(k-1))]
  std::int64_t cap_ms = 100;        // the back-off's ceiling
  std::int64_t deadline_ms = 5000;  // no new try starts later than this after the first began
  bool enabled() const { return max_tries > 1; }
};

/// `database.checkpoint`: the WAL checkpoint policy (SQLite in WAL mode only).
struct CheckpointOptions {
  CheckpointMode mode = CheckpointMode::kAuto;
  /// kAuto: unused. Otherwise the pause between the end of one background
  /// checkpoint and the start of the next.
  std::int64_t interval_ms = 1000;
  bool background() const { return mode != CheckpointMode::kAuto; }
};

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
  /// PRAGMA wal_autocheckpoint: the WAL size in pages after which a commit
  /// checkpoints (SQLite's default 1000; 0 turns automatic checkpoints off).
  std::int64_t wal_autocheckpoint = 1000;
  /// PRAGMA journal_size_limit in bytes: what a WAL (or journal) is truncated
  /// to after a checkpoint resets it; -1 = no limit (SQLite's default).
  std::int64_t journal_size_limit = -1;
  /// A background policy turns wal_autocheckpoint off on every connection
  /// (effective_wal_autocheckpoint): the checkpointer takes over.
  CheckpointOptions checkpoint;
  RetryOptions retry;
  /// PostgreSQL: the client-side deadline of one operation or batch, from
  /// its first statement to its last answer. Past it the connection is
  /// dropped and replaced, and the request answered 503 database_timeout, or
  /// 500 commit_outcome_unknown when a COMMIT was already sent.
  std::int64_t deadline_ms = 30000;
  /// PostgreSQL: libpq's tcp_user_timeout (ms unacknowledged data may wait
  /// before the kernel drops the connection); 0 = the system's.
  std::int64_t tcp_user_timeout_ms = 10000;
  /// From the config's `data` and `bank` sections (not `database.*`).
  InitialData initial;

  /// Reads the `database` object; unknown keys and bad values throw ConfigError.
  static DatabaseOptions from_config(ConfigObject& object);
  /// PostgreSQL's synchronous_commit for `synchronous`: on for full and
  /// extra, off for normal and off.
  bool synchronous_commit() const { return synchronous == Synchronous::kFull || synchronous == Synchronous::kExtra; }
  /// PostgreSQL's lock_timeout for busy_timeout_ms: 0 ("never wait")
  /// becomes 1 ms, because PostgreSQL's 0 means wait forever.
  std::int64_t lock_timeout_ms() const { return busy_timeout_ms > 0 ? busy_timeout_ms : 1; }

  /// The wal_autocheckpoint connections get: 0 under a background checkpoint policy.
  std::int64_t effective_wal_autocheckpoint() const { return checkpoint.background() ? 0 : wal_autocheckpoint; }

  /// The settings, with a password in `url` replaced by "***".
  nlohmann::json to_json() const;
  /// `url` with its password (URI or key=value form) replaced by "***".
  std::string redacted_url() const;
};

}  // namespace busylab
