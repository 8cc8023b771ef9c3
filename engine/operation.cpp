#include "engine/operation.hpp"

#include "engine/db_stats.hpp"

namespace busylab {

std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::kOk:
      return "ok";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kBusy:
      return "database_busy";
    case Errc::kBusySnapshot:
      return "database_busy";
    case Errc::kPoolTimeout:
      return "pool_timeout";
    case Errc::kOverloaded:
      return "overloaded";
    case Errc::kFull:
      return "database_full";
    case Errc::kReadOnly:
      return "database_readonly";
    case Errc::kUnavailable:
      return "database_unavailable";
    case Errc::kTimeout:
      return "database_timeout";
    case Errc::kOutcomeUnknown:
      return "commit_outcome_unknown";
    case Errc::kFatal:
      return "database_error";
    case Errc::kConstraint:
      return "constraint_failed";
    case Errc::kInsufficientFunds:
      return "insufficient_funds";
    case Errc::kShuttingDown:
      return "shutting_down";
    case Errc::kInternal:
      return "internal_error";
  }
  return "internal_error";
}

void count_failure(DbStats& stats, Errc errc) {
  switch (errc) {
    case Errc::kBusy:
      stats.busy_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kBusySnapshot:
      stats.busy_snapshot_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kFull:
      stats.full_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kReadOnly:
      stats.readonly_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kUnavailable:
      stats.unavailable_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kTimeout:
      stats.timeout_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kOutcomeUnknown:
      stats.unknown_outcomes.fetch_add(1, std::memory_order_relaxed);
      break;
    case Errc::kFatal:
      stats.fatal_failures.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      stats.other_failures.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

namespace ops {

Operation insert_row(std::string payload) {
  Operation op;
  op.kind = OpKind::kInsertRow;
  op.write = true;
  op.text = std::move(payload);
  return op;
}

Operation count_rows() {
  Operation op;
  op.kind = OpKind::kCountRows;
  return op;
}

Operation get_row(std::int64_t id) {
  Operation op;
  op.kind = OpKind::kGetRow;
  op.id = id;
  return op;
}

Operation increment(std::string name) {
  Operation op;
  op.kind = OpKind::kIncrement;
  op.write = true;
  op.text = std::move(name);
  return op;
}

Operation seed() {
  // The seed's request: count, insert, commit, count again.
  Operation op;
  op.kind = OpKind::kSeed;
  op.write = true;
  return op;
}

Operation update_row(std::int64_t id, std::string payload) {
  Operation op;
  op.kind = OpKind::kUpdateRow;
  op.write = true;
  op.id = id;
  op.text = std::move(payload);
  return op;
}

Operation transfer(std::int64_t from, std::int64_t to, std::int64_t amount) {
  Operation op;
  op.kind = OpKind::kTransfer;
  op.write = true;
  op.id = from;
  op.id2 = to;
  op.amount = amount;
  return op;
}

Operation get_account(std::int64_t id) {
  Operation op;
  op.kind = OpKind::kGetAccount;
  op.id = id;
  return op;
}

Operation accounts_total() {
  Operation op;
  op.kind = OpKind::kAccountsTotal;
  return op;
}

}  // namespace ops

}  // namespace busylab
