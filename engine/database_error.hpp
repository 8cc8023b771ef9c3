#pragma once
// A database failure thrown while opening a connection or preparing the
// database, from either engine: its class (Errc), the engine's own code and
// that code's name. Operations never throw it to their callers: they return
// an OpOutcome.

#include <stdexcept>
#include <string>

#include "engine/operation.hpp"

namespace busylab {

class DatabaseError : public std::runtime_error {
 public:
  DatabaseError(Errc errc, int code, std::string code_name, const std::string& message)
      : std::runtime_error(message), errc_(errc), code_(code), code_name_(std::move(code_name)) {}
  Errc errc() const { return errc_; }
  /// SQLite's extended result code; 0 for PostgreSQL.
  int code() const { return code_; }
  /// "SQLITE_BUSY", "08006 connection_failure", ...
  const std::string& code_name() const { return code_name_; }

 private:
  Errc errc_;
  int code_;
  std::string code_name_;
};

}  // namespace busylab
