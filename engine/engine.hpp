#pragma once
// The seam between the strategies and the database engines. A strategy asks
// an Engine for connections and runs operations on them; it never knows
// whether SQLite (sqlite/) or PostgreSQL (postgres/) is underneath.

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/database_options.hpp"
#include "engine/operation.hpp"

namespace busylab {

struct DbStats;

/// One open connection, used by one thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;

  /// Runs one operation on its own: reads in autocommit, writes in a
  /// transaction opened as `mode` says and committed before returning.
  /// Never throws for database errors: they come back as the outcome's errc,
  /// the transaction rolled back, counted in the engine's DbStats. A
  /// non-database exception (a bug in an operation) is rethrown with the
  /// connection left clean.
  virtual OpOutcome run(const Operation& op, TransactionMode mode) = 0;

  /// Runs writes as one transaction, each inside its own SAVEPOINT so that
  /// a failing one is rolled back alone. Nobody is told their write
  /// succeeded unless the final COMMIT made it durable.
  virtual std::vector<OpOutcome> run_batch(std::span<const Operation* const> ops) = 0;
};

/// Work an engine does beside the requests while the server runs (SQLite:
/// the background checkpointer). Destroying it stops it and joins its
/// thread; stop() does that earlier. Idempotent.
class Maintenance {
 public:
  virtual ~Maintenance() = default;
  virtual void stop() = 0;
};

class Engine {
 public:
  enum class Purpose {
    kRequest,  // opened for a request (per_request, or after a fatal error): waits as the request would
    kStartup,  // opened before serving: patient with a lock held elsewhere for a moment
  };

  explicit Engine(const DatabaseOptions& options) : options_(options) {}
  virtual ~Engine() = default;

  /// Opens a connection. Throws DatabaseError.
  virtual std::unique_ptr<Connection> open(Purpose purpose) = 0;

  /// Once before serving: creates the schema and checks the settings took.
  /// Throws DatabaseError with a message naming the database.
  virtual void prepare() = 0;

  /// Starts what the engine runs beside the requests (after prepare(),
  /// before serving), or returns null when there is nothing to run.
  /// Throws DatabaseError.
  virtual std::unique_ptr<Maintenance> start_maintenance() { return nullptr; }

  /// Once after serving (SQLite WAL: checkpoint). Returns false and fills
  /// `error` when it could not complete.
  virtual bool finish(std::string& error) = 0;

  /// The settings that decide durability and speed, read back from a
  /// connection opened the way a request's is (SQLite: the pragmas;
  /// PostgreSQL: SHOW), as name -> value in a fixed order: what the database
  /// actually does, not what was asked for. Throws DatabaseError.
  virtual std::vector<std::pair<std::string, std::string>> settings() = 0;

  const DatabaseOptions& options() const { return options_; }

 private:
  DatabaseOptions options_;
};

}  // namespace busylab
