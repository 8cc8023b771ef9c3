#pragma once
// SQLite failures inside the database layer. Operations throw SqliteError
// while they run (it keeps the statement code short and straight); the
// runner catches it at the boundary and turns it into an OpOutcome value, so
// nothing above pool/ sees an exception for an expected outcome.

#include <stdexcept>
#include <string>

namespace busylab {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int extended_code, const std::string& message) : std::runtime_error(message), code_(extended_code) {}
  int code() const { return code_; }  // extended result code
  int primary() const { return code_ & 0xff; }

 private:
  int code_;
};

/// "SQLITE_BUSY_SNAPSHOT" and the like, for error bodies and logs.
std::string sqlite_code_name(int extended_code);

}  // namespace busylab
