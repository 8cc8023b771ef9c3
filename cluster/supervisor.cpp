#include "cluster/supervisor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <system_error>
#include <vector>

#include "cluster/cluster.hpp"
#include "engine/database_error.hpp"
#include "engine/db_stats.hpp"
#include "server/stats.hpp"
#include "strategy/strategy.hpp"

namespace busylab {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kStartPatience = 60s;      // every worker must serve within this
constexpr auto kQuickDeath = 10s;         // a death this soon after a start counts towards giving up
constexpr int kDeathsBeforeGivingUp = 5;  // quick deaths in a row

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

// The same parsing as the single-process server (Boost.Asio's), so that any
// address server.address accepts (a scoped IPv6 one included) works here too.
Address parse_address(const std::string& text, int port) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(text, ec);
  if (ec) throw std::system_error(EINVAL, std::generic_category(), "not an IP address: " + text);
  const boost::asio::ip::tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  Address a;
  std::memcpy(&a.storage, endpoint.data(), endpoint.size());
  a.length = static_cast<socklen_t>(endpoint.size());
  a.family = ip.is_v6() ? AF_INET6 : AF_INET;
  return a;
}

void set_port(Address& a, unsigned port) {
  if (a.family == AF_INET)
    reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(static_cast<std::uint16_t>(port));
  else
    reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(static_cast<std::uint16_t>(port));
}

int open_socket(const Address& a, bool reuse_port) {
  const int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    const int e = errno;
    close(fd);
    throw std::system_error(e, std::generic_category(), "SO_REUSEPORT");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0) {
    const int e = errno;
    close(fd);
    throw std::system_error(e, std::generic_category());
  }
  return fd;
}

// One listening socket per worker on one address and port. A port that
// anything else listens on is refused first with a probe that has no
// SO_REUSEPORT: the workers' sockets must not quietly share a port with
// another program (another busylab with several processes included).
std::vector<int> open_listeners(const ServerOptions& s, unsigned& port) {
  Address a = parse_address(s.address, s.port);
  if (s.port != 0) close(open_socket(a, /*reuse_port=*/false));
  std::vector<int> fds;
  try {
    for (int i = 0; i < s.processes; ++i) {
      const int fd = open_socket(a, /*reuse_port=*/true);
      fds.push_back(fd);
      if (listen(fd, SOMAXCONN) != 0) throw std::system_error(errno, std::generic_category(), "listen");
      if (i == 0) {
        sockaddr_storage bound{};
        socklen_t length = sizeof bound;
        getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
        port = ntohs(a.family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
        set_port(a, port);
      }
    }
  } catch (...) {
    for (int fd : fds) close(fd);
    throw;
  }
  return fds;
}

// What the supervisor takes with sigtimedwait (blocked otherwise).
sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&set, sig);
  return set;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "stopped (status " + std::to_string(status) + ")";
}

class Supervisor {
 public:
  Supervisor(const Config& config, std::vector<int> listeners, const sigset_t& original_mask)
      : config_(config),
        listeners_(std::move(listeners)),
        original_mask_(original_mask),
        board_(config.server.processes),
        workers_(static_cast<std::size_t>(config.server.processes)) {}

  SupervisorResult run(const std::function<bool(const std::string&, unsigned)>& on_ready, unsigned port) {
    SupervisorResult result;
    bool started = true;
    for (int i = 0; i < board_.size() && started; ++i) started = start(i);
    if (!started || !wait_until_ready()) {
      // A worker could not start (it said why on stderr), or a signal came first.
      stop_all();
      wait_for_all();
      result.exit_status = interrupted_ ? 0 : 2;
      return result;
    }
    std::string pids;
    for (const auto& w : workers_) pids += (pids.empty() ? "" : " ") + std::to_string(w.pid);
    spdlog::info("{} worker processes serve port {} (pids {})", board_.size(), port, pids);
    if (!on_ready(config_.server.address, port)) {
      stop_all();
      wait_for_all();
      result.exit_status = 2;
      return result;
    }
    serve();
    result.summary = summary();
    result.exit_status = (failed_ || result.summary->forced) ? 1 : 0;
    return result;
  }

 private:
  struct Worker {
    pid_t pid = 0;  // 0: not running
    Clock::time_point started{};
    int quick_deaths = 0;
    std::optional<Clock::time_point> restart_at;
  };

  // False when fork failed (logged); a restart is then tried again in 1 s.
  bool start(int i) {
    Worker& w = workers_[static_cast<std::size_t>(i)];
    const pid_t parent = getpid();
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
      spdlog::error("cannot start worker {}: {}", i, std::strerror(errno));
      w.restart_at = Clock::now() + 1s;
      return false;
    }
    if (pid == 0) worker_main(i, parent);  // never returns
    board_.started(i, pid);
    w.pid = pid;
    w.started = Clock::now();
    w.restart_at.reset();
    return true;
  }

  [[noreturn]] void worker_main(int i, pid_t parent) {
    // Told with SIGTERM (a graceful drain) when the supervisor dies, however it dies.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);  // it died before the line above
    board_.started(i, getpid());
    // `ps -o comm`, top and /proc/PID/comm tell the workers from the supervisor.
    const std::string name = "busylab-w" + std::to_string(i);
    prctl(PR_SET_NAME, name.c_str());
    for (std::size_t j = 0; j < listeners_.size(); ++j) {
      if (static_cast<int>(j) != i && listeners_[j] >= 0) close(listeners_[j]);
    }
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e [worker " + std::to_string(i) + "] %^%l%$ %v");
    int status = 0;
    try {
      ClusterMember member(board_, i);
      const WorkerSetup setup{listeners_[static_cast<std::size_t>(i)], &member};
      // Signals stay blocked until the server's handler is in place.
      HttpServer server(config_, /*handle_signals=*/true, &setup);
      pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
      board_.mark_ready(i);
      const ShutdownSummary s = server.run();
      status = s.forced ? 1 : 0;
    } catch (const DatabaseError& e) {
      std::fprintf(stderr, "busylab serve: worker %d: %s (%s)\n", i, e.what(), e.code_name().c_str());
      status = 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "busylab serve: worker %d: %s\n", i, e.what());
      status = 2;
    }
    std::fflush(nullptr);
    _exit(status);
  }

  int running() const {
    return static_cast<int>(std::count_if(workers_.begin(), workers_.end(), [](const Worker& w) { return w.pid > 0; }));
  }

  // Waits for one signal or `timeout`; returns the signal, or 0.
  int next_signal(std::chrono::milliseconds timeout) {
    const sigset_t set = supervised_signals();
    const timespec ts{static_cast<time_t>(timeout.count() / 1000),
                      static_cast<long>(timeout.count() % 1000) * 1'000'000L};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    return sig > 0 ? sig : 0;
  }

  bool wait_until_ready() {
    const auto deadline = Clock::now() + kStartPatience;
    while (Clock::now() < deadline) {
      const int sig = next_signal(20ms);
      if (sig == SIGINT || sig == SIGTERM) {
        spdlog::info("received signal {} while starting; stopping", sig);
        interrupted_ = true;
        return false;
      }
      if (const auto e = next_exit()) {
        spdlog::error("worker {} (pid {}) {} before it served; stopping", e->worker, e->pid,
                      describe_status(e->status));
        return false;
      }
      bool all = true;
      for (int i = 0; i < board_.size(); ++i) all = all && board_.ready(i);
      if (all) return true;
    }
    spdlog::error("the workers did not all start within {} s; stopping",
                  std::chrono::duration_cast<std::chrono::seconds>(kStartPatience).count());
    return false;
  }

  void serve() {
    while (!(stopping_ && running() == 0)) {
      const int sig = next_signal(100ms);
      if (sig == SIGINT || sig == SIGTERM) {
        if (!stopping_) {
          spdlog::info("received signal {}; draining {} workers (second signal exits at once)", sig, running());
          stop_all();
        } else {
          std::fprintf(stderr, "busylab: second signal (%d): killing the workers and exiting now\n", sig);
          signal_all(SIGKILL);
          wait_for_all();
          std::_Exit(1);
        }
      }
      reap();
      if (!stopping_) restart_due();
    }
  }

  void stop_all() {
    stopping_ = true;
    // No new connections: nothing would accept them.
    for (int& fd : listeners_) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
    signal_all(SIGTERM);
  }

  void signal_all(int sig) {
    for (const auto& w : workers_) {
      if (w.pid > 0) kill(w.pid, sig);
    }
  }

  // A worker that exited, forgotten (not running, no connection open).
  struct Exit {
    int worker;
    pid_t pid;
    int status;  // as waitpid gives it
  };
  // The next worker that has exited, without waiting; nothing when none has.
  // When no child is left at all (ECHILD: someone else reaped them), every
  // worker is marked stopped.
  std::optional<Exit> next_exit() {
    for (;;) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid == 0) return std::nullopt;
      if (pid < 0) {
        if (errno == ECHILD) {
          for (std::size_t i = 0; i < workers_.size(); ++i) {
            if (workers_[i].pid > 0) forget(static_cast<int>(i));
          }
        }
        return std::nullopt;
      }
      if (const int i = index_of(pid); i >= 0) {
        forget(i);
        return Exit{i, pid, status};
      }
    }
  }

  void forget(int i) {
    workers_[static_cast<std::size_t>(i)].pid = 0;
    board_.stopped(i);
  }

  // After stop_all() when something went wrong: waits for the workers to
  // drain, but kills them on another signal or once the grace period (plus
  // a margin for a worker still opening its connections) has passed.
  void wait_for_all() {
    const auto deadline = Clock::now() + std::chrono::milliseconds(config_.server.shutdown_grace_ms) + 15s;
    bool killed = false;
    while (running() > 0) {
      const int sig = next_signal(50ms);
      if (!killed && (sig == SIGINT || sig == SIGTERM || Clock::now() >= deadline)) {
        signal_all(SIGKILL);
        killed = true;
      }
      while (next_exit()) {
      }
    }
  }

  void reap() {
    while (const auto e = next_exit()) {
      const int i = e->worker;
      const pid_t pid = e->pid;
      const int status = e->status;
      Worker& w = workers_[static_cast<std::size_t>(i)];
      if (stopping_) {
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
          spdlog::warn("worker {} (pid {}) {} while draining", i, pid, describe_status(status));
          failed_ = true;
        }
        continue;
      }
      const bool quick = Clock::now() - w.started < kQuickDeath;
      w.quick_deaths = quick ? w.quick_deaths + 1 : 1;
      ++restarts_;
      if (w.quick_deaths >= kDeathsBeforeGivingUp) {
        spdlog::critical(
            "worker {} (pid {}) {}; it died {} times in a row within {} s of starting: stopping the server", i, pid,
            describe_status(status), w.quick_deaths,
            std::chrono::duration_cast<std::chrono::seconds>(kQuickDeath).count());
        failed_ = true;
        stop_all();
        continue;
      }
      const auto delay = std::chrono::milliseconds(100) * (1 << (w.quick_deaths - 1));  // 100, 200, 400, 800 ms
      spdlog::error("worker {} (pid {}) {}; restarting it in {} ms", i, pid, describe_status(status), delay.count());
      w.restart_at = Clock::now() + delay;
    }
  }

  void restart_due() {
    for (int i = 0; i < board_.size(); ++i) {
      Worker& w = workers_[static_cast<std::size_t>(i)];
      if (w.pid == 0 && w.restart_at && Clock::now() >= *w.restart_at) start(i);
    }
  }

  int index_of(pid_t pid) const {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].pid == pid) return static_cast<int>(i);
    }
    return -1;
  }

  ShutdownSummary summary() {
    const ClusterTotals t = board_.collect(/*include_stopped=*/true);
    ShutdownSummary s;
    s.requests = t.server->requests();
    s.writes_acknowledged = t.server->acknowledged();
    s.rows_inserted = rows_inserted(*t.server);
    s.writes_committed = t.db->writes_committed.load();
    s.busy_errors = t.db->busy_failures.load();
    s.busy_snapshot_errors = t.db->busy_snapshot_failures.load();
    s.pool_timeouts = total_pool_timeouts(t.strategy);
    s.shed = total_shed(t.strategy);
    s.forced = t.any_forced;
    s.processes = board_.size();
    s.restarts = restarts_;
    s.wal = config_.database.engine == EngineKind::kSqlite && config_.database.journal_mode == JournalMode::kWal;
    DbStats checkpoint_stats;
    s.checkpointed = checkpoint_database(config_.database, checkpoint_stats, s.checkpoint_error);
    return s;
  }

  const Config& config_;
  std::vector<int> listeners_;
  sigset_t original_mask_;
  WorkerBoard board_;
  std::vector<Worker> workers_;
  bool stopping_ = false;
  bool interrupted_ = false;
  bool failed_ = false;
  int restarts_ = 0;
};

}  // namespace

SupervisorResult supervise(const Config& config,
                           const std::function<bool(const std::string& address, unsigned port)>& on_ready) {
  // Signals first (as the single-process server does): from here on they
  // wait, blocked, until the supervisor asks for them; workers unblock them
  // once their own handler is in place.
  const sigset_t blocked = supervised_signals();
  sigset_t original;
  pthread_sigmask(SIG_BLOCK, &blocked, &original);
  // Children must be waited for: an inherited SIGCHLD = SIG_IGN would have
  // the kernel reap them behind the supervisor's back.
  struct sigaction child_default {};
  child_default.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &child_default, nullptr);
  struct Restore {
    const sigset_t& mask;
    const sigset_t& blocked;
    ~Restore() {
      // A signal that arrived after the workers had stopped (during the
      // final checkpoint, say) has nothing left to stop: take it here
      // rather than let it kill the process before the summary is printed.
      const timespec now{0, 0};
      while (sigtimedwait(&blocked, nullptr, &now) > 0) {
      }
      pthread_sigmask(SIG_SETMASK, &mask, nullptr);
    }
  } restore{original, blocked};

  // Schema and journal mode once, here, before any worker opens the file.
  DbStats prepare_stats;
  prepare_database(config.database, prepare_stats);
  unsigned port = 0;
  std::vector<int> listeners = open_listeners(config.server, port);
  Supervisor supervisor(config, std::move(listeners), original);
  return supervisor.run(on_ready, port);
}

}  // namespace busylab
