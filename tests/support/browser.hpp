#pragma once
// A real browser for tests: Debian's chromium (installed by
// scripts/bootstrap), headless, loads a page, runs its scripts and prints
// the DOM they left.

#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace busylab::testing {

inline constexpr const char* kChromium = "/usr/bin/chromium";

/// Loads `url` in headless chromium with a fresh profile in `dir`, lets its
/// timers run for `virtual_time_ms` of virtual time (0: until it loaded), and
/// returns chromium's status, the DOM (out) and its log (err). A status of
/// 127 with "not installed" in err when chromium is missing.
inline RunResult dump_dom(const TempDir& dir, const std::string& url, int virtual_time_ms = 0) {
  if (access(kChromium, X_OK) != 0) return {127, "", std::string(kChromium) + " is not installed (scripts/bootstrap)"};
  std::vector<std::string> argv = {kChromium, "--headless", "--no-sandbox", "--disable-gpu",
                                   "--user-data-dir=" + dir.file("chromium-profile")};
  if (virtual_time_ms > 0) argv.push_back("--virtual-time-budget=" + std::to_string(virtual_time_ms));
  argv.push_back("--dump-dom");
  argv.push_back(url);
  return run_command(argv, dir.path().string(), std::chrono::seconds(120));
}

}  // namespace busylab::testing
