#pragma once
// How the SQLite engine runs operations (engine/operation.hpp): the SQL of
// each kind, in autocommit or in a transaction, alone or batched.

#include <span>
#include <vector>

#include "engine/database_options.hpp"
#include "engine/operation.hpp"

namespace busylab {

class Database;

/// Creates the tables if missing. Throws SqliteError.
void create_schema(Database& db);

/// Fills empty tables with `data` (rows 1..N, the bank's accounts) in one
/// transaction; tables that hold anything are left alone. Throws SqliteError.
void create_initial_data(Database& db, const InitialData& data);

/// Runs one operation on its own: reads in autocommit, writes in a
/// transaction opened with `mode` and committed before returning. Never
/// throws for SQLite errors: they come back as the outcome's errc, with the
/// transaction rolled back. Counts failures and commits in the db's stats.
OpOutcome run_operation(Database& db, const Operation& op, TransactionMode mode);

/// Runs writes as one transaction opened with BEGIN IMMEDIATE (whatever
/// database.transaction says: the batch takes the write lock once, and when
/// it cannot, every operation fails at once with that BUSY), each operation
/// inside its own SAVEPOINT: a failing operation is rolled back alone. When
/// its savepoint cannot be rolled back, or the final COMMIT fails, the whole
/// transaction is rolled back and every outcome becomes a failure, so nobody
/// is told their write succeeded unless the COMMIT made it durable.
std::vector<OpOutcome> run_batch(Database& db, std::span<const Operation* const> ops);

}  // namespace busylab
