#include "common/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace busylab {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
int next_id() {
  static std::atomic<int> id{0};
  return ++id;
}
}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& dir, bool own_process_group)
    : own_group_(own_process_group) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess: no program given");
  const int id = next_id();
  out_path_ = dir + "/child" + std::to_string(id) + ".out";
  err_path_ = dir + "/child" + std::to_string(id) + ".err";

  // Everything is prepared here, in the parent: posix_spawn runs no code of
  // ours between fork and exec, where a multi-threaded process may not
  // allocate. The file actions give the child /dev/null, its two log files
  // and nothing else: every other descriptor (the sweep's sockets, pipes and
  // other children's logs) is closed in the child, whether or not it was
  // opened close-on-exec.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // The child starts with no signal blocked and the default action for
  // the signals a parent may have ignored or handled (SIGPIPE, SIGINT, SIGTERM).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (own_process_group) {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);
  const int rc = posix_spawn(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::system_error(rc, std::generic_category(), "cannot start " + argv[0]);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !status_) kill(pid_, sig);
}

void ChildProcess::signal_group(int sig) {
  if (pid_ > 0 && own_group_) kill(-pid_, sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int raw = 0;
    const pid_t r = waitpid(pid_, &raw, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ChildProcess::out() const {
  return slurp(out_path_);
}
std::string ChildProcess::err() const {
  return slurp(err_path_);
}

int read_port_file(const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

RunResult run_command(const std::vector<std::string>& argv, const std::string& dir, std::chrono::milliseconds timeout) {
  ChildProcess child(argv, dir);
  RunResult result;
  const auto status = child.wait(timeout);
  result.status = status.value_or(-1);
  result.out = child.out();
  result.err = child.err();
  return result;
}

}  // namespace busylab
