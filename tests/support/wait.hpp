#pragma once
// Waiting for a condition instead of sleeping for a guessed time: tests poll
// what they need (a count reached, a lock held, a line printed) with a
// deadline far beyond what a loaded machine under a sanitizer takes, so only
// a bug reaches the deadline, and it fails the test instead of hanging it.

#include <chrono>
#include <thread>

namespace busylab::testing {

inline constexpr std::chrono::seconds kPatience{60};

/// Polls `done` every millisecond until it holds or `patience` has passed;
/// returns whether it held.
template <class Pred>
bool wait_until(Pred done, std::chrono::milliseconds patience = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace busylab::testing
