#pragma once
// `busylab serve` as a child process, the way a user starts it: a shipped
// config, port 0 with a port file, quiet logs, and `--set` overrides. For the
// test executables that know where the binary is (BUSYLAB_BINARY).

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab::testing {

/// `busylab serve --config config/CONFIG` on port 0 (written to
/// `port_file`, removed first), database `db`, log level warn, plus the
/// overrides; output files in `dir`. With `own_process_group` the server
/// leads a new process group (ChildProcess::signal_group).
inline std::unique_ptr<ChildProcess> start_serve(const TempDir& dir, const std::string& config, const std::string& db,
                                                 const std::string& port_file,
                                                 const std::vector<std::string>& overrides,
                                                 bool own_process_group = false) {
  std::error_code ec;
  std::filesystem::remove(port_file, ec);
  std::vector<std::string> argv{BUSYLAB_BINARY, "serve",
                                "--config",     std::string(BUSYLAB_SOURCE_DIR) + "/config/" + config,
                                "--set",        "server.port=0",
                                "--set",        "database.path=" + db,
                                "--set",        "server.log_level=warn",
                                "--port-file",  port_file};
  for (const auto& o : overrides) {
    argv.push_back("--set");
    argv.push_back(o);
  }
  return std::make_unique<ChildProcess>(argv, dir.path().string(), own_process_group);
}

}  // namespace busylab::testing
