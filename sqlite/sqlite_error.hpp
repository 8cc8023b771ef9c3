#pragma once
// SQLite failures inside the database layer. Operations throw SqliteError
// while they run (it keeps the statement code short and straight); the
// runner catches it at the boundary and turns it into an OpOutcome value, so
// nothing above the engine sees an exception for an expected outcome.

#include <string>

#include "engine/database_error.hpp"

namespace busylab {

/// "SQLITE_BUSY_SNAPSHOT" and the like, for error bodies and logs.
std::string sqlite_code_name(int extended_code);

/// Maps an extended SQLite result code to an Errc.
Errc classify_sqlite(int extended_code);

class SqliteError : public DatabaseError {
 public:
  SqliteError(int extended_code, const std::string& message)
      : DatabaseError(classify_sqlite(extended_code), extended_code, sqlite_code_name(extended_code), message) {}
  /// With a class of its own rather than the code's (an I/O error during
  /// COMMIT is an unknown outcome, not a plain fatal error).
  SqliteError(Errc errc, int extended_code, const std::string& message)
      : DatabaseError(errc, extended_code, sqlite_code_name(extended_code), message) {}
  int primary() const { return code() & 0xff; }
};

}  // namespace busylab
