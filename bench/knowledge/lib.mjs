// lib.mjs — one library's run, in a process of its own (so that no library's heap, JIT state or
// garbage is counted against another): started by run.mjs as
//
//   node --expose-gc bench/knowledge/lib.mjs <lib> <work dir>
//
// It reads the corpus and queries run.mjs wrote (corpus.json, queries.json), then: builds the
// index (timed), measures its memory, takes the library's snapshot and loads it (timed), checks
// that the loaded index answers every query as the built one did, and times the queries. The last
// line on stdout is a JSON object; the top 10 of every query go to <work dir>/<lib>.top10.json.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeAnalyzer } from './analysis.mjs';
import { ADAPTERS } from './peers.mjs';

const [lib, dir] = process.argv.slice(2);
const analysis = process.env.BENCH_ANALYSIS === 'native' ? 'native' : 'shared';
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const MB = 2 ** 20;
const round = (x, d = 3) => (x == null || Number.isNaN(x) ? null : Number(x.toFixed(d)));
const out = (o) => process.stdout.write(`${JSON.stringify({ lib, analysis, ...o })}\n`);

function settle() {
  for (let i = 0; i < 3; i += 1) globalThis.gc();
  return process.memoryUsage();
}

// p-th percentile, nearest rank
function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

async function main() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const chunks = JSON.parse(readFileSync(path.join(dir, 'corpus.json'), 'utf8'));
  const queries = JSON.parse(readFileSync(path.join(dir, 'queries.json'), 'utf8'));
  const analyze = makeAnalyzer();

  const a = await ADAPTERS[lib]({ analysis });
  if (a.unavailable) return out({ error: a.unavailable, unavailable: true });

  // The analyzer's stem cache is filled first (not timed, not counted): build_ms and memory are the
  // library's indexing (tokenizing included, stems looked up), not the JavaScript stemmer's.
  if (analysis === 'shared' && lib !== 'loom') for (const c of chunks) analyze(c.text);

  // ---- build, with the memory it keeps
  const m0 = settle();
  const w0 = a.wasmBytes?.() ?? 0;
  const u0 = a.wasmUsedBytes?.(null) ?? 0;
  const t0 = performance.now();
  let index = await a.build(chunks, analyze);
  const buildMs = performance.now() - t0;
  const m1 = settle();
  const w1 = a.wasmBytes?.() ?? 0;
  const u1 = a.wasmUsedBytes?.(index) ?? null;
  const jsHeapMb = (m1.heapUsed - m0.heapUsed) / MB;
  const externalMb = (m1.external - m0.external - (w1 - w0)) / MB;  // ArrayBuffers and the like, not wasm
  // wasm peers: what the library allocated in linear memory by its own count, else the growth
  const wasmUsedMb = u1 == null ? (w1 - w0) / MB : (u1 - u0) / MB;
  const stats = a.stats?.(index) ?? {};

  // ---- queries: one pass untimed (warm-up, and the answers), then `rounds` timed passes
  const search = (idx, q) => a.search(idx, q, 10, analyze);
  const isAsync = (r) => r && typeof r.then === 'function';
  const top10 = [];
  for (const { q } of queries) {
    let r = search(index, q);
    if (isAsync(r)) r = await r;
    top10.push(r.map(Number));
  }
  const times = [];
  for (let round_ = 0; round_ < rounds; round_ += 1) {
    for (const { q } of queries) {
      const s = performance.now();
      const r = search(index, q);
      if (isAsync(r)) await r;
      times.push((performance.now() - s) * 1000);
    }
  }
  times.sort((x, y) => x - y);

  // ---- snapshot, then load it into a fresh index and check it answers the same
  const t2 = performance.now();
  const snap = await a.snapshot(index);
  const snapshotMs = performance.now() - t2;
  a.free?.(index);
  index = null;
  settle();
  const t3 = performance.now();
  const loaded = await a.load(snap.data, analyze);
  const loadMs = performance.now() - t3;
  let loadMismatches = 0;
  for (let i = 0; i < queries.length; i += 1) {
    let r = search(loaded, queries[i].q);
    if (isAsync(r)) r = await r;
    if (r.map(Number).join(',') !== top10[i].join(',')) loadMismatches += 1;
  }
  a.free?.(loaded);

  writeFileSync(path.join(dir, `${lib}.top10.json`), JSON.stringify(top10));
  out({
    build_ms: round(buildMs, 1),
    heap_mb: round(jsHeapMb + (a.wasmBytes ? wasmUsedMb : 0), 2),
    js_heap_mb: round(jsHeapMb, 2),
    wasm_used_mb: a.wasmBytes ? round(wasmUsedMb, 2) : null,
    wasm_memory_mb: a.wasmBytes ? round(w1 / MB, 2) : null,
    wasm_grown_mb: a.wasmBytes ? round((w1 - w0) / MB, 2) : null,
    external_mb: round(externalMb, 2),
    snapshot_mb: round(snap.bytes / MB, 2),
    snapshot_ms: round(snapshotMs, 1),
    load_ms: round(loadMs, 1),
    load_mismatches: loadMismatches,
    p50_us: round(pct(times, 0.5), 1),
    p99_us: round(pct(times, 0.99), 1),
    mean_us: round(times.reduce((x, y) => x + y, 0) / times.length, 1),
    query_runs: times.length,
    ...Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, typeof v === 'number' ? round(v, 2) : v])),
  });
}

main().catch((e) => {
  out({ error: `${e?.message ?? e}`.split('\n')[0] });
  process.exitCode = 1;
});
