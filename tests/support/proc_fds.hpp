#pragma once
// What a process has open and who its children are, read from /proc: tests
// use it to check that a child inherited no descriptor it should not have.

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace busylab::testing {

struct OpenFd {
  int fd = -1;
  std::string target;  // readlink: a path, "socket:[N]", "pipe:[N]", "anon_inode:[eventpoll]"...
  dev_t dev = 0;       // what it refers to (stat through the link)
  ino_t ino = 0;
};

/// The descriptors `pid` has open, by number. Empty when the process is gone.
inline std::vector<OpenFd> open_fds(pid_t pid) {
  std::vector<OpenFd> fds;
  std::error_code ec;
  const std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/fd";
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    OpenFd f;
    try {
      f.fd = std::stoi(it->path().filename().string());
    } catch (...) {
      continue;
    }
    std::error_code link_ec;
    f.target = std::filesystem::read_symlink(it->path(), link_ec).string();
    if (link_ec) continue;  // closed meanwhile (the directory's own descriptor, for one)
    struct stat st {};
    if (::stat(it->path().c_str(), &st) == 0) {
      f.dev = st.st_dev;
      f.ino = st.st_ino;
    }
    fds.push_back(f);
  }
  return fds;
}

/// The processes whose parent is `pid`.
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(it->path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == pid) {
      children.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return children;
}

/// True while `pid` exists and has not exited (a zombie waiting to be
/// reaped counts as gone).
inline bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto close = stat.rfind(')');
  char state = 0;
  return close != std::string::npos && std::sscanf(stat.c_str() + close + 1, " %c", &state) == 1 && state != 'Z' &&
         state != 'X';
}

/// The process's name (/proc/PID/comm), e.g. "busylab-w0".
inline std::string process_name(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

/// The command line of `pid`, arguments joined by spaces.
inline std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto& ch : text) {
    if (ch == '\0') ch = ' ';
  }
  return text;
}

}  // namespace busylab::testing
