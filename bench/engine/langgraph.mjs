// LangGraph.js peer for the Loom engine benchmark: per-step engine overhead.
//
// Builds one @langchain/langgraph StateGraph of a given DAG shape, runs it
// exactly once (the caller repeats runs, each in a fresh process) and prints
// ONE JSON line on stdout:
//   {"engine":"langgraph","shape":"chain","n":1000,"mode":"instant",
//    "makespan_ms":..,"ideal_ms":..,"overhead_us_per_step":..,
//    "makespan_over_ideal":..,"build_ms":..}
// or, if the configuration fails (error, out of memory, timeout), the same
// engine/shape/n/mode fields plus "error": "<message>" (exit code still 0).
//
// Usage:
//   node [--max-old-space-size=MB] bench/engine/langgraph.mjs \
//     --shape chain|fanout --n 1000 --mode instant|latency \
//     [--latency-ms 5] [--timeout-s 600]
//
// Shapes:
//   chain  : START -> s0 -> s1 -> ... -> s(n-1) -> END, one node per superstep.
//   fanout : START -> s0..s(n-1) -> END. All n nodes run in ONE superstep;
//            each has a plain edge to END, and the run ends when that superstep
//            is done. LangGraph needs no join node for this (edges to END are
//            its idiomatic fan-in), and a join node would add an extra
//            superstep and an n-way barrier channel, so none is used.
// Node bodies: instant = return {count: 1} synchronously;
//              latency = await setTimeout(latency-ms), then return {count: 1}.
// State: a single number channel with an additive reducer, O(1) per update,
// so the measurement is the engine, not the state. No checkpointer.
//
// makespan_ms: performance.now() from invoke() start to its resolution.
// build_ms   : building the StateGraph and compile().
// ideal_ms   : instant -> 0; latency chain -> n*latency; latency fanout -> latency.
// overhead_us_per_step = (makespan - ideal) / n, in microseconds;
// makespan_over_ideal  = makespan / ideal (null when ideal is 0).
//
// The script runs the benchmark in a child process of itself (same node flags)
// so that a V8 out-of-memory crash or the --timeout-s limit still yields a
// JSON error line; the child's process start is not part of any timing.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

function parseArgs(argv) {
  const o = { shape: "chain", n: 1000, mode: "instant", latencyMs: 5, timeoutS: 600, child: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === "--shape") { o.shape = v; i++; }
    else if (a === "--n") { o.n = Number(v); i++; }
    else if (a === "--mode") { o.mode = v; i++; }
    else if (a === "--latency-ms") { o.latencyMs = Number(v); i++; }
    else if (a === "--timeout-s") { o.timeoutS = Number(v); i++; }
    else if (a === "--child") o.child = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!["chain", "fanout"].includes(o.shape)) throw new Error(`bad --shape ${o.shape}`);
  if (!["instant", "latency"].includes(o.mode)) throw new Error(`bad --mode ${o.mode}`);
  if (!(Number.isInteger(o.n) && o.n >= 1)) throw new Error(`bad --n ${o.n}`);
  if (!(o.latencyMs >= 0)) throw new Error(`bad --latency-ms ${o.latencyMs}`);
  if (!(o.timeoutS > 0)) throw new Error(`bad --timeout-s ${o.timeoutS}`);
  return o;
}

const head = (o) => ({ engine: "langgraph", shape: o.shape, n: o.n, mode: o.mode });
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const round = (x, d = 3) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

// Child: build, run once, measure, print the result line.
async function bench(o) {
  const { StateGraph, Annotation, START, END } = await import("@langchain/langgraph");

  const State = Annotation.Root({
    count: Annotation({ reducer: (a, b) => a + b, default: () => 0 }),
  });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const body = o.mode === "instant"
    ? () => ({ count: 1 })
    : async () => { await sleep(o.latencyMs); return { count: 1 }; };

  const t0 = performance.now();
  const g = new StateGraph(State);
  for (let i = 0; i < o.n; i++) g.addNode(`s${i}`, body);
  if (o.shape === "chain") {
    g.addEdge(START, "s0");
    for (let i = 1; i < o.n; i++) g.addEdge(`s${i - 1}`, `s${i}`);
    g.addEdge(`s${o.n - 1}`, END);
  } else {
    for (let i = 0; i < o.n; i++) { g.addEdge(START, `s${i}`); g.addEdge(`s${i}`, END); }
  }
  const app = g.compile();
  const buildMs = performance.now() - t0;

  // A chain takes n supersteps; the limit must exceed that.
  const config = { recursionLimit: o.n + 10 };
  const t1 = performance.now();
  const out = await app.invoke({ count: 0 }, config);
  const makespan = performance.now() - t1;
  if (out.count !== o.n) throw new Error(`expected count ${o.n}, got ${out.count}`);

  const ideal = o.mode === "instant" ? 0 : o.shape === "chain" ? o.n * o.latencyMs : o.latencyMs;
  emit({
    ...head(o),
    makespan_ms: round(makespan),
    ideal_ms: ideal,
    overhead_us_per_step: round(((makespan - ideal) / o.n) * 1000),
    makespan_over_ideal: ideal > 0 ? round(makespan / ideal, 4) : null,
    build_ms: round(buildMs),
  });
}

// Parent: run the child with a time limit; turn any failure into an error line.
function supervise(o, argv) {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv, "--child"],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", errTail = "", done = false;
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { process.stderr.write(d); errTail = (errTail + d).slice(-2000); });
  const finish = (obj) => { if (!done) { done = true; emit(obj); process.exit(0); } };
  const timer = setTimeout(() => {
    child.kill("SIGKILL");
    finish({ ...head(o), error: `timeout after ${o.timeoutS} s` });
  }, o.timeoutS * 1000);
  child.on("close", (code, signal) => {
    clearTimeout(timer);
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (line) finish(JSON.parse(line));
    const why = /heap out of memory|Reached heap limit/.test(errTail) ? "out of memory"
      : errTail.trim().split("\n").slice(-3).join(" | ") || "no output";
    finish({ ...head(o), error: `child exited (code ${code}, signal ${signal}): ${why}` });
  });
}

const argv = process.argv.slice(2);
let opts;
try {
  opts = parseArgs(argv);
} catch (e) {
  emit({ engine: "langgraph", error: e.message });
  process.exit(0);
}
if (opts.child) {
  bench(opts).then(
    () => process.exit(0),
    (e) => { emit({ ...head(opts), error: String(e?.message ?? e).split("\n")[0] }); process.exit(0); },
  );
} else {
  supervise(opts, argv);
}
