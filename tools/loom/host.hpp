// The native host loop: drives a Run with real time, performs effects on worker threads,
// persists events before the effects they cause start, and shows progress.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "http.hpp"
#include "loom/run.hpp"

namespace loom::cli {

struct HostConfig {
  std::string cache_dir;                   ///< step cache folder ("" = no cache)
  std::int64_t clock_base_ms = 0;          ///< `now` at start (a resumed run continues its clock)
  std::function<bool(const Event&)> on_event;  ///< persists and displays; false = stop (write failed)
  std::function<void(std::int64_t now)> on_tick;  ///< redraws progress a few times a second
  const std::atomic<bool>* interrupted = nullptr;  ///< set by SIGINT
  SecretLookup secrets;  ///< credentials for model calls (natively: the environment)
  /// Asks a person (human.input), on a worker thread of its own: returns the answer, or a
  /// failure, and returns soon after `cancel` is set. Unset: asked on the terminal (stderr and
  /// stdin), as `loom run` does; `loom serve` parks the question until it is answered over HTTP.
  std::function<EffectResult(const Effect& effect, const std::atomic<bool>& cancel)> ask_person;
};

enum class HostExit { kFinished, kInterrupted, kStuck, kWriteFailed };

/// Runs `run` until it finishes or is interrupted.
HostExit drive(Run& run, const HostConfig& config);

}  // namespace loom::cli
