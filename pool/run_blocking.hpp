#pragma once
// The one way busylab runs SQLite from a coroutine: the blocking function runs
// on a DB thread, and the coroutine resumes on its own executor afterwards.
// io threads never call SQLite.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <type_traits>
#include <utility>

namespace busylab {

/// Runs `fn()` on `db_executor` and returns its result to the awaiting
/// coroutine; an exception from `fn` is rethrown in the coroutine. `fn` may
/// refer to the coroutine's locals: the coroutine stays suspended until `fn`
/// has returned.
template <class Executor, class Fn>
boost::asio::awaitable<std::invoke_result_t<Fn&>> run_blocking(Executor db_executor, Fn fn) {
  using Result = std::invoke_result_t<Fn&>;
  static_assert(std::is_default_constructible_v<Result>);
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr, Result)>(
      [db_executor](auto handler, Fn fn) {
        boost::asio::post(db_executor, [handler = std::move(handler), fn = std::move(fn)]() mutable {
          std::exception_ptr error;
          Result result{};
          try {
            result = fn();
          } catch (...) {
            error = std::current_exception();
          }
          auto home = boost::asio::get_associated_executor(handler);
          boost::asio::post(home, [handler = std::move(handler), error, result = std::move(result)]() mutable {
            std::move(handler)(error, std::move(result));
          });
        });
      },
      boost::asio::use_awaitable, std::move(fn));
}

}  // namespace busylab
