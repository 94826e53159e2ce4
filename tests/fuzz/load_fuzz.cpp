// libFuzzer target: any bytes as a workflow file, then a run of it with a host that answers
// every effect. Checks that no exception escapes the engine's API and nothing crashes.
// Build: cmake -DLOOM_FUZZ=ON with clang (see docs/hacking.md).
#include <cstdint>
#include <string>

#include "loom/loom.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const loom::AgentRegistry agents = loom::AgentRegistry::with_builtins();
  std::string text(reinterpret_cast<const char*>(data), size);
  loom::LoadResult r = loom::load_workflow(text, "fuzz.yaml", agents);
  for (const auto& e : r.errors) {
    if (e.code == loom::ErrorCode::kOk) __builtin_trap();  // every error has a code
  }
  if (!r.workflow) return 0;
  loom::Json inputs = loom::Json::object();
  for (const auto& in : r.workflow->inputs) {
    if (in.required) inputs[in.name] = in.type == loom::InputType::kNumber ? loom::Json(3) : loom::Json("x");
  }
  loom::RunOptions opts;
  opts.max_work_per_poll = 50;
  auto run = loom::Run::start(r.workflow, inputs, opts, 0, agents);
  if (!run) return 0;
  std::int64_t now = 0;
  for (int turn = 0; turn < 200 && !(*run)->finished(); ++turn) {
    for (const auto& e : (*run)->poll(now)) {
      if (e.kind == loom::Effect::Kind::kAgent) {
        (*run)->resolve(e.id, turn % 3 ? loom::EffectResult::success(e.args)
                                       : loom::EffectResult::failure(loom::ErrorCode::kUnavailable, "busy"), now);
      }
    }
    (*run)->take_events();
    now += 1000;
  }
  return 0;
}
