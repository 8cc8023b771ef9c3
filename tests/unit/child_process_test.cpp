// ChildProcess (how `busylab sweep` starts servers and readers, and how tests
// run `busylab`): the child gets /dev/null, its two log files and nothing
// else, whatever the parent has open; it starts with default signal actions;
// a program that cannot be started is an exception, not a silent 127.

#include "common/child_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <system_error>

#include "tests/support/proc_fds.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace busylab::testing {
namespace {

using namespace std::chrono_literals;

// The parent holds descriptors a careless fork/exec would hand down: a pipe
// and a socket pair opened without close-on-exec, and a file.
class InheritableDescriptors {
 public:
  InheritableDescriptors() { ok_ = pipe(pipe_) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, pair_) == 0; }
  ~InheritableDescriptors() {
    for (int fd : {pipe_[0], pipe_[1], pair_[0], pair_[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  InheritableDescriptors(const InheritableDescriptors&) = delete;
  InheritableDescriptors& operator=(const InheritableDescriptors&) = delete;
  bool ok() const { return ok_; }

 private:
  int pipe_[2] = {-1, -1};
  int pair_[2] = {-1, -1};
  bool ok_ = false;
};

TEST(ChildProcess, InheritsOnlyStdinStdoutAndStderr) {
  TempDir dir;
  InheritableDescriptors held;
  ASSERT_TRUE(held.ok());
  std::ofstream open_file(dir.file("parent-file"));
  ChildProcess child({"/bin/sleep", "30"}, dir.path().string());
  // posix_spawn returns once the program is executing: what /proc shows is
  // the child's own table.
  ASSERT_TRUE(wait_until([&] { return command_line(child.pid()) == "/bin/sleep 30 "; })) << command_line(child.pid());
  // sleep itself opens a file or two while it starts (setlocale reads
  // /etc/locale.alias) and closes them: wait for its table to settle. An
  // inherited descriptor never goes away, so the wait then runs out.
  wait_until([&] { return open_fds(child.pid()).size() == 3; });
  const auto fds = open_fds(child.pid());
  ASSERT_EQ(fds.size(), 3u) << [&] {
    std::string list;
    for (const auto& f : fds) list += std::to_string(f.fd) + " -> " + f.target + "\n";
    return list;
  }();
  EXPECT_EQ(fds[0].target, "/dev/null");
  EXPECT_EQ(fds[1].target.substr(fds[1].target.size() - 4), ".out") << fds[1].target;
  EXPECT_EQ(fds[2].target.substr(fds[2].target.size() - 4), ".err") << fds[2].target;
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(30s), 128 + SIGTERM);
}

TEST(ChildProcess, StartsWithDefaultSignalActions) {
  TempDir dir;
  // A parent that ignores SIGPIPE and SIGTERM, as a server does: an exec'd
  // child would keep ignoring them unless they are reset.
  struct sigaction ignore {
  }, old_pipe{}, old_term{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  sigaction(SIGTERM, &ignore, &old_term);
  ChildProcess child({"/bin/sleep", "30"}, dir.path().string());
  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(30s), 128 + SIGTERM) << "the child ignored SIGTERM";
}

TEST(ChildProcess, CapturesOutputAndExitStatus) {
  TempDir dir;
  const auto r = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, dir.path().string());
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(ChildProcess, ProgramThatCannotStartThrows) {
  TempDir dir;
  try {
    ChildProcess child({dir.file("no-such-program")}, dir.path().string());
    FAIL() << "started a program that does not exist";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(std::string(e.what()).find("no-such-program"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace busylab::testing
