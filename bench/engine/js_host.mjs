// js_host.mjs — the browser's path: the wasm engine driven by web/src/host.js through
// web/src/engine.js (JSON across the boundary, a promise per effect), in node. Same shapes and
// output as engine_bench.cpp, so run.mjs can put it beside the C++ host loop.
//
//   node bench/engine/js_host.mjs --shape chain|fanout --n 1000 --mode instant|latency [--latency-ms 5]
import { performance } from 'node:perf_hooks';
import { loadEngine } from '../../web/src/engine.js';
import { runWorkflow } from '../../web/src/host.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const shape = arg('shape', 'chain');
const n = Number(arg('n', 1000));
const mode = arg('mode', 'instant');
const latency = Number(arg('latency-ms', 5));

const t0 = performance.now();
let yaml = 'name: bench\nsteps:\n';
for (let i = 0; i < n; i += 1) {
  const needs = shape === 'chain' && i > 0 ? `, needs: [s${i - 1}]` : '';
  yaml += `  - {id: s${i}, agent: util.sleep${needs}, with: {ms: ${mode === 'latency' ? latency : 0}}}\n`;
}
const engine = await loadEngine();
const t1 = performance.now();
engine.load(yaml, 'bench.yaml');
const t2 = performance.now();

let events = 0;
const perform = mode === 'latency'
  ? () => new Promise((resolve) => setTimeout(() => resolve({ ok: true, output: null }), latency))
  : async () => ({ ok: true, output: null });
const start = performance.now();
const result = await runWorkflow(engine, {
  workflow: 'bench', options: { max_concurrency: 0 }, perform,
  onEvents: (list) => { events += list.length; },
});
const makespan = performance.now() - start;
if (result.status !== 'succeeded') {
  console.log(JSON.stringify({ engine: 'loom-wasm-js', shape, n, mode, error: `run ${result.status}` }));
  process.exit(1);
}
const ideal = mode === 'instant' ? 0 : shape === 'chain' ? n * latency : latency;
const round = (x, d = 3) => Number(x.toFixed(d));
console.log(JSON.stringify({
  engine: 'loom-wasm-js', shape, n, mode,
  build_ms: round(t2 - t0), load_ms: round(t2 - t1), events,  // build_ms includes starting the wasm
  ideal_ms: ideal, makespan_ms: round(makespan),
  makespan_over_ideal: ideal ? round(makespan / ideal, 4) : null,
  overhead_us_per_step: round(((makespan - ideal) * 1000) / n),
}));
engine.dispose();
