// loom_bench_engine — the Loom half of bench/engine: one run of one DAG shape, measured.
//
// Builds a workflow of `n` util.sleep steps in memory (chain: each step needs the previous;
// fanout: n independent steps, no join — the same shapes as bench/engine/langgraph.mjs), loads
// it, runs it once with a host loop written here against the real steady clock, and prints ONE
// JSON line on stdout:
//   {"engine":"loom-native"|"loom-wasm","shape":"chain","n":1000,"mode":"instant",
//    "makespan_ms":..,"ideal_ms":..,"overhead_us_per_step":..,"makespan_over_ideal":..,
//    "build_ms":..,"events":..,"serialize_us_per_step":.., ...}
// or the same engine/shape/n/mode fields plus "error" (exit code 1) when the run fails.
//
// Usage: loom_bench_engine --shape chain|fanout --n N --mode instant|latency [--latency-ms 5]
//        (wasm: node --no-experimental-fetch build/wasm-release/loom_bench_engine.cjs ...)
//
// The host loop is what a real host does: poll(now), take the events (counted and kept, as a
// persisting host would keep them, but not serialized), perform the effects, resolve them when
// they are done. instant: util.sleep {ms: 0}, resolved in the same loop turn. latency: util.sleep
// {ms: latency}; the host keeps a min-heap of due times and sleeps the thread until the earliest.
// Native sleeps with std::this_thread::sleep_until. Under node, emscripten's sleep spins on the
// clock, and a spinning process that the OS preempts wakes a scheduler slice late, so the wasm
// build blocks in Atomics.wait instead: a real sleep, like the native one.
//
// makespan_ms : steady clock from Run::start to the run finished.
// ideal_ms    : instant 0; latency chain n*latency; latency fanout latency.
// overhead_us_per_step = (makespan - ideal) / n; makespan_over_ideal = makespan / ideal (null
// when ideal is 0). build_ms: generating the YAML text + load_workflow (parse and validate).
// serialize_us_per_step: event_to_json(e).dump() over the whole log, timed in a separate pass
// after the run — what a host that persists the log as JSON lines would add per step.
// wakes, wake_late_us: how often the host slept, and how late on average it woke after the due
// time (latency mode): the operating system's share of a chain's overhead, not the engine's.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loom/loom.hpp"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

// Blocks the thread (node allows Atomics.wait on its main thread) for `ms` milliseconds.
EM_JS(void, loom_bench_block_ms, (double ms), {
  if (!globalThis.loomBenchCell)
    globalThis.loomBenchCell = new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(globalThis.loomBenchCell, 0, 0, ms);
});
#endif

namespace {

#ifdef __EMSCRIPTEN__
constexpr const char* kEngine = "loom-wasm";
#else
constexpr const char* kEngine = "loom-native";
#endif

using Clock = std::chrono::steady_clock;

struct Options {
  std::string shape = "chain";
  long n = 1000;
  std::string mode = "instant";
  double latency_ms = 5;
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Rounded to `d` decimals, as langgraph.mjs does, so the two engines' lines look alike.
loom::Json round_to(double x, int d = 3) {
  double p = 1;
  for (int i = 0; i < d; ++i) p *= 10;
  return static_cast<double>(static_cast<long long>(x * p + (x < 0 ? -0.5 : 0.5))) / p;
}

loom::Json head(const Options& o) {
  return {{"engine", kEngine}, {"shape", o.shape}, {"n", o.n}, {"mode", o.mode}};
}

void print_line(const loom::Json& j) { std::printf("%s\n", j.dump().c_str()); }

[[noreturn]] void fail(const Options& o, const std::string& why) {
  loom::Json j = head(o);
  j["error"] = why;
  print_line(j);
  std::fflush(stdout);
  std::exit(1);
}

bool parse_args(int argc, char** argv, Options* o, std::string* why) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      *why = "missing value after " + a;
      return false;
    }
    std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--shape") {
      o->shape = v;
    } else if (a == "--mode") {
      o->mode = v;
    } else if (a == "--n") {
      o->n = std::strtol(v.c_str(), &end, 10);
      if (*end || o->n < 1) {
        *why = "bad --n " + v;
        return false;
      }
    } else if (a == "--latency-ms") {
      o->latency_ms = std::strtod(v.c_str(), &end);
      if (*end || !(o->latency_ms >= 0)) {
        *why = "bad --latency-ms " + v;
        return false;
      }
    } else {
      *why = "unknown argument " + a +
             " (usage: --shape chain|fanout --n N --mode instant|latency [--latency-ms 5])";
      return false;
    }
  }
  if (o->shape != "chain" && o->shape != "fanout") *why = "bad --shape " + o->shape;
  if (o->mode != "instant" && o->mode != "latency") *why = "bad --mode " + o->mode;
  return why->empty();
}

// The workflow as a person would write it, one flow-style line per step.
std::string make_yaml(const Options& o) {
  std::string ms = o.mode == "instant" ? "0" : loom::Json(o.latency_ms).dump();
  std::string y = "name: bench_" + o.shape + "\nsteps:\n";
  y.reserve(y.size() + static_cast<std::size_t>(o.n) * 64);
  for (long i = 0; i < o.n; ++i) {
    y += "  - {id: s" + std::to_string(i) + ", agent: util.sleep";
    if (o.shape == "chain" && i > 0) y += ", needs: [s" + std::to_string(i - 1) + "]";
    y += ", with: {ms: " + ms + "}}\n";
  }
  return y;
}

void sleep_until(Clock::time_point t) {
#ifdef __EMSCRIPTEN__
  for (Clock::time_point now = Clock::now(); now < t; now = Clock::now()) {
    loom_bench_block_ms(std::chrono::duration<double, std::milli>(t - now).count());
  }
#else
  std::this_thread::sleep_until(t);
#endif
}

struct Due {
  Clock::time_point at;
  std::uint64_t effect;
  bool operator>(const Due& other) const { return at > other.at; }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string why;
  if (!parse_args(argc, argv, &o, &why)) fail(o, why);
  const bool instant = o.mode == "instant";
  const auto sleep_for = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(instant ? 0.0 : o.latency_ms));

  // ---- build: generate, load, validate
  loom::AgentRegistry agents = loom::AgentRegistry::with_builtins();
  const Clock::time_point t_gen = Clock::now();
  std::string yaml = make_yaml(o);
  const Clock::time_point t_load = Clock::now();
  loom::LoadResult loaded = loom::load_workflow(yaml, "bench.yaml", agents);
  const Clock::time_point t_built = Clock::now();
  if (!loaded.errors.empty()) fail(o, "load: " + loaded.errors.front().format());

  // ---- run
  const Clock::time_point epoch = t_gen;  // the engine's `now` is ms since this point
  auto now_ms = [&](Clock::time_point t) {
    return static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch).count());
  };
  loom::RunOptions options;
  options.run_id = "bench";
  options.max_concurrency = 0;  // unlimited: the shape alone bounds the parallelism

  std::vector<loom::Event> log;  // kept, as a persisting host keeps them; serialized only later
  log.reserve(static_cast<std::size_t>(o.n) * 3 + 8);
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> timers;
  std::uint64_t effects_performed = 0, polls = 0, wakes = 0;
  double wake_late_us = 0;
  const loom::EffectResult done = loom::EffectResult::success(nullptr);

  const Clock::time_point t_start = Clock::now();
  auto started =
      loom::Run::start(loaded.workflow, loom::Json::object(), options, now_ms(t_start), agents);
  if (!started) fail(o, "start: " + started.error().format());
  loom::Run& run = **started;

  for (;;) {
    // Effects whose time has come are resolved before the next poll, as an event loop would.
    Clock::time_point now = Clock::now();
    while (!timers.empty() && timers.top().at <= now) {
      run.resolve(timers.top().effect, done, now_ms(now));
      timers.pop();
    }
    std::vector<loom::Effect> effects = run.poll(now_ms(now));
    ++polls;
    std::vector<loom::Event> events = run.take_events();
    const bool did_work = !events.empty() || !effects.empty();
    if (!effects.empty()) now = Clock::now();  // effects start when the host gets them
    for (loom::Event& e : events) log.push_back(std::move(e));
    for (const loom::Effect& e : effects) {
      if (e.kind != loom::Effect::Kind::kAgent) continue;  // no cancels or cache lookups here
      ++effects_performed;
      if (instant) {
        run.resolve(e.id, done, now_ms(now));
      } else {
        timers.push(Due{now + sleep_for, e.id});
      }
    }
    if (run.finished()) break;
    // Poll again while the last poll did something: poll() stops after max_work_per_poll, and
    // has_ready_work() alone does not cover effects still queued to start (see README).
    if (did_work || run.has_ready_work()) continue;
    if (timers.empty()) fail(o, "stuck: nothing in flight and no ready work");
    sleep_until(timers.top().at);
    ++wakes;
    wake_late_us +=
        std::chrono::duration<double, std::micro>(Clock::now() - timers.top().at).count();
  }
  const Clock::time_point t_end = Clock::now();
  for (loom::Event& e : run.take_events()) log.push_back(std::move(e));
  if (run.status() != loom::RunStatus::kSucceeded)
    fail(o,
         "run " + std::string(loom::run_status_name(run.status())) + ": " + run.failure().format());
  if (effects_performed != static_cast<std::uint64_t>(o.n)) {
    fail(o, "performed " + std::to_string(effects_performed) + " effects for " +
                std::to_string(o.n) + " steps");
  }

  // ---- what persisting the log as JSON lines would add (not part of the makespan)
  const Clock::time_point t_ser = Clock::now();
  std::size_t log_bytes = 0;
  for (const loom::Event& e : log) log_bytes += loom::event_to_json(e).dump().size() + 1;
  const Clock::time_point t_ser_end = Clock::now();

  const double makespan = ms_between(t_start, t_end);
  const double ideal = instant              ? 0.0
                       : o.shape == "chain" ? static_cast<double>(o.n) * o.latency_ms
                                            : o.latency_ms;
  loom::Json j = head(o);
  j["makespan_ms"] = round_to(makespan);
  j["ideal_ms"] = ideal;
  j["overhead_us_per_step"] = round_to((makespan - ideal) / static_cast<double>(o.n) * 1000.0);
  j["makespan_over_ideal"] = ideal > 0 ? round_to(makespan / ideal, 4) : loom::Json(nullptr);
  j["build_ms"] = round_to(ms_between(t_gen, t_built));
  j["load_ms"] = round_to(ms_between(t_load, t_built));
  j["events"] = log.size();
  j["polls"] = polls;
  j["serialize_us_per_step"] =
      round_to(ms_between(t_ser, t_ser_end) / static_cast<double>(o.n) * 1000.0);
  j["log_bytes"] = log_bytes;
  if (!instant) {
    j["latency_ms"] = o.latency_ms;
    j["wakes"] = wakes;
    j["wake_late_us"] =
        wakes ? round_to(wake_late_us / static_cast<double>(wakes)) : loom::Json(nullptr);
  }
  print_line(j);
  return 0;
}
