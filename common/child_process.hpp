#pragma once
// Starts a program as a child process with stdout and stderr captured to
// files: `busylab sweep` runs servers and watchers this way, and tests run
// `busylab` as a user would.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace busylab {

class ChildProcess {
 public:
  /// Starts `argv[0]` (a path, not looked up in PATH) with the arguments,
  /// through posix_spawn. The child's stdin is /dev/null, its stdout and
  /// stderr go to files in `dir`, and it inherits no other descriptor.
  /// Throws std::system_error when the program cannot be started. With
  /// `own_process_group` the child leads a new process group (see
  /// signal_group()).
  ChildProcess(const std::vector<std::string>& argv, const std::string& dir, bool own_process_group = false);
  ~ChildProcess();  // kills the child if it still runs
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void signal(int sig);
  /// Sends `sig` to the child's whole process group (own_process_group only).
  void signal_group(int sig);
  /// Exit status (or 128 + signal), or nullopt when still running at the deadline.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool own_group_ = false;
  std::optional<int> status_;
  std::string out_path_, err_path_;
};

/// Waits until `path` exists and holds a number; returns it (0 on timeout).
int read_port_file(const std::string& path, std::chrono::milliseconds timeout);

/// Runs to completion (bounded) and returns {status, stdout, stderr}.
struct RunResult {
  int status = -1;
  std::string out, err;
};
RunResult run_command(const std::vector<std::string>& argv, const std::string& dir,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace busylab
