#pragma once
// Tests use the same child-process helper as `busylab sweep`.

#include "common/child_process.hpp"

namespace busylab::testing {
using busylab::ChildProcess;
using busylab::read_port_file;
using busylab::run_command;
using busylab::RunResult;
}  // namespace busylab::testing
