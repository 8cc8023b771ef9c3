#include "pool/deadline_timer.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <mutex>

namespace asio = boost::asio;

namespace busylab {

// Shared with the pending wait, so that a wait completing after the owner is
// gone (its io_context still running) touches nothing that was freed.
struct DeadlineTimer::State {
  State(asio::any_io_executor ex, Expire fn) : strand(asio::make_strand(ex)), timer(strand), expire(std::move(fn)) {}

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  std::mutex mutex;  // guards `expire` against stop(); held while it runs
  Expire expire;

  // On the strand: answer what is due, re-arm for the next deadline.
  static void fire(const std::shared_ptr<State>& self) {
    std::optional<Clock::time_point> next;
    {
      std::lock_guard lock(self->mutex);
      if (!self->expire) return;
      next = self->expire(Clock::now());
    }
    if (!next) return;
    self->timer.expires_at(*next);
    self->timer.async_wait(asio::bind_executor(self->strand, [self](boost::system::error_code ec) {
      if (ec != asio::error::operation_aborted) fire(self);
    }));
  }
};

DeadlineTimer::DeadlineTimer(asio::any_io_executor executor, Expire expire)
    : state_(std::make_shared<State>(std::move(executor), std::move(expire))) {}

DeadlineTimer::~DeadlineTimer() {
  stop();
}

void DeadlineTimer::start() {
  asio::post(state_->strand, [self = state_] { State::fire(self); });
}

void DeadlineTimer::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->expire = nullptr;
  }
  // The armed wait, if any, completes (or is destroyed with its io_context)
  // and finds nothing to call.
  asio::post(state_->strand, [self = state_] { self->timer.cancel(); });
}

}  // namespace busylab
