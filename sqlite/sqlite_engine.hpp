#pragma once
// The SQLite engine: a Connection is one sqlite3 connection (Database), the
// operations run as sqlite/operation.hpp says; prepare sets the journal
// mode and the schema, finish checkpoints the WAL.

#include "engine/engine.hpp"
#include "sqlite/database.hpp"

namespace busylab {

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(const DatabaseOptions& options, DbStats& stats, Engine::Purpose purpose);

  OpOutcome run(const Operation& op, TransactionMode mode) override;
  std::vector<OpOutcome> run_batch(std::span<const Operation* const> ops) override;

  Database& database() { return db_; }

 private:
  Database db_;
};

class SqliteEngine final : public Engine {
 public:
  SqliteEngine(const DatabaseOptions& options, DbStats& stats) : Engine(options), stats_(stats) {}

  std::unique_ptr<Connection> open(Purpose purpose) override;
  void prepare() override;
  std::unique_ptr<Maintenance> start_maintenance() override;
  bool finish(std::string& error) override;
  std::vector<std::pair<std::string, std::string>> settings() override;

  /// The longest the final WAL checkpoint waits for a lock, whatever
  /// busy_timeout_ms says.
  static constexpr std::int64_t kCheckpointPatienceMs = 5000;

 private:
  DbStats& stats_;
};

}  // namespace busylab
