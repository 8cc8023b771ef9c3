#pragma once
// Which kind of thread is running: the server marks its io threads so the
// database layer can prove that no SQLite call ever runs on one.

namespace busylab::thread_role {

/// Marks (or unmarks) the calling thread as an io thread.
void set_io_thread(bool io);
/// True on a thread currently marked as an io thread.
bool is_io_thread();

/// Marks the calling thread as an io thread for the guard's lifetime.
class IoThreadScope {
 public:
  IoThreadScope() { set_io_thread(true); }
  ~IoThreadScope() { set_io_thread(false); }
  IoThreadScope(const IoThreadScope&) = delete;
  IoThreadScope& operator=(const IoThreadScope&) = delete;
};

}  // namespace busylab::thread_role
