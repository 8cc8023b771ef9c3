#include "common/thread_role.hpp"

namespace busylab::thread_role {

namespace {
thread_local bool t_io_thread = false;
}

void set_io_thread(bool io) {
  t_io_thread = io;
}
bool is_io_thread() {
  return t_io_thread;
}

}  // namespace busylab::thread_role
