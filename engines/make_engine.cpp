#include "engines/make_engine.hpp"

#include "postgres/pg_engine.hpp"
#include "sqlite/sqlite_engine.hpp"

namespace busylab {

std::unique_ptr<Engine> make_engine(const DatabaseOptions& options, DbStats& stats) {
  if (options.engine == EngineKind::kPostgres) return std::make_unique<PgEngine>(options, stats);
  return std::make_unique<SqliteEngine>(options, stats);
}

}  // namespace busylab
