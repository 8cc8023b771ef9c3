#pragma once
// `busylab serve` with server.processes > 1: a supervisor process and that
// many worker processes on one port and one database file, the deployment
// of Puma's cluster mode, gunicorn or PHP-FPM.
//
// - Sockets: the supervisor opens one listening socket per worker, all bound
//   to the same address and port with SO_REUSEPORT, and keeps them; worker i
//   accepts on socket i. The kernel spreads new connections over the sockets
//   evenly (by a hash of the client's address and port), and a worker that is
//   restarted finds the connections that arrived meanwhile waiting in its
//   socket's queue. docs/architecture.md (decision n) says why not one
//   shared socket.
// - Workers are forked (not exec'd) before the supervisor has any thread;
//   each builds its own io threads and strategy (HttpServer with WorkerSetup)
//   and counts into shared memory (cluster/cluster.hpp). PR_SET_PDEATHSIG
//   sends a worker SIGTERM when the supervisor dies, even by SIGKILL.
// - SIGINT/SIGTERM: the supervisor closes its sockets and passes SIGTERM on;
//   every worker drains; the supervisor checkpoints the WAL and prints the
//   summary over all workers. A second signal kills the workers (SIGKILL:
//   everything acknowledged is already committed) and exits 1.
// - A worker that dies is logged and restarted (after 100 ms, doubling
//   while it keeps dying within 10 s of starting); after 5 such deaths in
//   a row the server stops with a message and exit status 1.

#include <functional>
#include <optional>
#include <string>

#include "server/http_server.hpp"
#include "server/server_options.hpp"

namespace busylab {

struct SupervisorResult {
  int exit_status = 0;                     // what `busylab serve` exits with
  std::optional<ShutdownSummary> summary;  // absent when it never served
};

/// Runs config.server.processes workers until SIGINT/SIGTERM. `on_ready`
/// is called once every worker serves, with the address and the bound port;
/// returning false stops the server (exit status 2). Throws DatabaseError
/// when the database cannot be prepared and std::system_error when the
/// address cannot be bound: nothing has started then. Call from a process
/// that has no other thread.
SupervisorResult supervise(const Config& config,
                           const std::function<bool(const std::string& address, unsigned port)>& on_ready);

}  // namespace busylab
