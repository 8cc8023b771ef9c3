#pragma once
// The engine factory: the one place that knows every engine. It sits above
// engine/ (the interface), sqlite/ and postgres/ (the engines), so that each
// of those includes only downwards; strategies and the sweep include this.

#include <memory>

#include "engine/engine.hpp"

namespace busylab {

/// The engine database.engine names, counting into `stats` (which must
/// outlive it).
std::unique_ptr<Engine> make_engine(const DatabaseOptions& options, DbStats& stats);

}  // namespace busylab
