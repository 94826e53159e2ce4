// run.mjs — bench/knowledge: Loom's knowledge index (wasm) beside minisearch, lunr, flexsearch,
// @orama/orama, wink-bm25-text-search and SQLite FTS5 (wasm), on the same corpus and queries.
//
//   node bench/knowledge/run.mjs                 # the whole corpus (~30 MB), about 3 minutes
//   BENCH_QUICK=1 node bench/knowledge/run.mjs   # a 2 MB slice of it
//   node bench/knowledge/run.mjs | grep '^{'     # the data only
//
// It prepares the corpus, the queries and the reference BM25 top 10s once, then runs each
// library in a process of its own (lib.mjs), one after the other, and prints a progress line per
// library on stderr, then on stdout a table, Loom's ratios to each peer, and one JSON line per
// library. See README.md for the method. Nothing here asserts a timing: the exit code is non-zero
// only when something breaks (a library fails, or a loaded snapshot answers differently).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeAnalyzer } from './analysis.mjs';
import { agreement, ReferenceBM25 } from './bm25.mjs';
import { loadCorpus, makeQueries } from './corpus.mjs';
import { LABELS, LIBS } from './peers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

function envNumber(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got ${JSON.stringify(v)}`);
  return n;
}

function options() {
  const argv = process.argv.slice(2);
  const flag = (f) => argv.includes(f);
  const value = (f) => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : undefined; };
  const quick = flag('--quick') || process.env.BENCH_QUICK === '1';
  const libs = (value('--libs') ?? process.env.BENCH_LIBS ?? LIBS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const l of libs) if (!LIBS.includes(l)) throw new Error(`unknown library ${l} (known: ${LIBS.join(', ')})`);
  return {
    quick,
    libs,
    limitMb: envNumber('BENCH_MB', quick ? 2 : 0),
    queries: envNumber('BENCH_QUERIES', 300),
    seed: envNumber('BENCH_SEED', 20261121),
    analysis: process.env.BENCH_ANALYSIS === 'native' ? 'native' : 'shared',
    timeoutS: envNumber('BENCH_LIB_TIMEOUT_S', 300),
  };
}

const say = (s) => process.stderr.write(`${s}\n`);
const secs = (t) => `${((performance.now() - t) / 1000).toFixed(1)} s`;

// Loom's own analysis, when the binding has it (engine.knowledgeAnalyze); null otherwise.
async function loomAnalyzer() {
  try {
    const { loadEngine } = await import(pathToFileURL(path.join(ROOT, 'web/src/engine.js')).href);
    const engine = await loadEngine();
    if (typeof engine.knowledgeAnalyze !== 'function') return null;
    return (text) => engine.knowledgeAnalyze(text);
  } catch {
    return null;
  }
}

function runLib(lib, dir, o) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', path.join(HERE, 'lib.mjs'), lib, dir], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BENCH_ANALYSIS: o.analysis },
    });
    let out = '', err = '', timedOut = false;
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, o.timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ lib, error: `timeout after ${o.timeoutS} s` });
      const line = out.split('\n').reverse().find((l) => l.startsWith('{'));
      let r = null;
      try { r = line ? JSON.parse(line) : null; } catch { r = null; }
      if (!r) {
        const why = err.trim().split('\n').slice(-3).join(' | ') || 'no output';
        return resolve({ lib, error: `exited (code ${code}, signal ${signal}): ${why}` });
      }
      resolve(r);
    });
  });
}

// ---- formatting
const fmt = (x, d = 2) => {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(d);
};

// rows: arrays of cells, or {note: [first cell, text]} for a row that says why it has no figures
function table(rows, headers, left = 1) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(Array.isArray(r) ? r[i] : i === 0 ? r.note[0] : '').length)));
  const line = (cs) => `| ${cs.map((c, i) => (i < left ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i < left ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(headers), sep, ...rows.map((r) => (Array.isArray(r) ? line(r) : `| ${r.note[0].padEnd(widths[0])} | ${r.note[1]} |`))].join('\n');
}

const METRICS = ['build_ms', 'heap_mb', 'snapshot_mb', 'load_ms', 'p50_us', 'p99_us'];

async function main() {
  let o;
  try {
    o = options();
  } catch (e) {
    say(`bench: ${e.message}`);
    process.exit(2);
  }
  const started = performance.now();

  // ---- the corpus, the queries, the reference
  let t = performance.now();
  let corpus;
  try {
    corpus = loadCorpus({ limitMb: o.limitMb });
  } catch (e) {
    say(`bench: ${e.message}`);
    process.exit(2);
  }
  const { chunks, bySource } = corpus;
  const textMb = chunks.reduce((a, c) => a + Buffer.byteLength(c.text), 0) / 1e6;
  say(`bench: corpus ${fmt(textMb)} MB of text, ${chunks.length.toLocaleString('en-US')} chunks ` +
    `(${Object.entries(bySource).map(([k, v]) => `${k} ${v.files} files`).join(', ')}${o.limitMb ? `; every k-th chunk, for ~${o.limitMb} MB` : ''}) [${secs(t)}]`);

  t = performance.now();
  const jsAnalyze = makeAnalyzer();
  const { queries, band } = makeQueries(chunks, jsAnalyze, { count: o.queries, seed: o.seed });
  const loomAnalyze = await loomAnalyzer();
  const refAnalyze = loomAnalyze ?? jsAnalyze;
  const docTerms = chunks.map((c) => refAnalyze(c.text));
  let analyzerDiff = null;
  if (loomAnalyze) {
    let differ = 0;
    chunks.forEach((c, i) => { if (jsAnalyze(c.text).join(' ') !== docTerms[i].join(' ')) differ += 1; });
    analyzerDiff = differ;
  }
  const ref = new ReferenceBM25(docTerms);
  const queryTerms = queries.map(({ q }) => refAnalyze(q));
  const words = queries.map(({ q }) => q.split(/\s+/).length);
  say(`bench: ${queries.length} queries (${queries.filter((x) => x.kind === 'sampled').length} sampled, seed ${o.seed}, ` +
    `stems in ${band.lo}-${band.hi} chunks; ${queries.filter((x) => x.kind === 'fixed').length} fixed); ` +
    `reference analysis: ${loomAnalyze ? `Loom's engine.knowledgeAnalyze (the JS analysis differs on ${analyzerDiff} chunks)` : 'analysis.mjs (the binding has no knowledgeAnalyze yet)'} ` +
    `[${secs(t)}]`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-bench-knowledge-'));
  const results = [];
  let broken = false;
  try {
    writeFileSync(path.join(dir, 'corpus.json'), JSON.stringify(chunks));
    writeFileSync(path.join(dir, 'queries.json'), JSON.stringify(queries));

    // ---- each library in its own process
    let k = 0;
    for (const lib of o.libs) {
      k += 1;
      process.stderr.write(`[${k}/${o.libs.length}] ${LABELS[lib]} ...`);
      t = performance.now();
      const r = await runLib(lib, dir, o);
      if (!r.error) {
        const top10 = JSON.parse(readFileSync(path.join(dir, `${lib}.top10.json`), 'utf8'));
        const per = queries.map((_, i) => agreement(ref, queryTerms[i], top10[i]));
        const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
        r.top10_agreement = Number(mean(per).toFixed(3));
        r.agreement_by_words = Object.fromEntries([1, 2, 3].map((n) => [n, Number((mean(per.filter((_, i) => words[i] === n)) ?? NaN).toFixed(3))]));
        r.agreement_fixed = Number(mean(per.filter((_, i) => queries[i].kind === 'fixed')).toFixed(3));
        if (r.load_mismatches) broken = true;
      } else if (!r.unavailable) {
        broken = true;
      }
      results.push(r);
      say(r.error
        ? ` ${r.unavailable ? r.error : `FAILED: ${r.error}`} [${secs(t)}]`
        : ` build ${fmt(r.build_ms)} ms, p50 ${fmt(r.p50_us)} us, agreement ${r.top10_agreement}` +
          `${r.load_mismatches ? `, LOADED SNAPSHOT DIFFERS on ${r.load_mismatches} queries` : ''} [${secs(t)}]`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // ---- the table
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const out = [];
  out.push(`Loom knowledge benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpu} x${os.cpus().length}, node ${process.version}, ` +
    `${fmt(textMb)} MB, ${chunks.length.toLocaleString('en-US')} chunks, ${queries.length} queries, analysis ${o.analysis}, ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s`);
  out.push('heap MB: JS heap kept by the index (+ for wasm: what the library allocated in linear memory). ' +
    'agreement: top 10 vs the reference BM25 (1.00 = the same set).');
  out.push('');
  const headers = ['library', 'build ms', 'heap MB', 'snapshot MB', 'load ms', 'p50 us', 'p99 us', 'top10 agreement'];
  const rows = results.map((r) => (r.error
    ? { note: [LABELS[r.lib], r.unavailable ? r.error : `error: ${r.error}`] }
    : [LABELS[r.lib], fmt(r.build_ms), fmt(r.heap_mb), fmt(r.snapshot_mb), fmt(r.load_ms), fmt(r.p50_us), fmt(r.p99_us), r.top10_agreement.toFixed(2)]));
  out.push(table(rows, headers));

  const loom = results.find((r) => r.lib === 'loom');
  const loomOk = loom && !loom.error;
  const peers = results.filter((r) => r.lib !== 'loom');
  for (const p of peers) {
    p.loom_over_peer = loomOk && !p.error
      ? Object.fromEntries(METRICS.map((m) => [m, p[m] > 0 ? Number((loom[m] / p[m]).toFixed(3)) : null]))
      : null;
  }
  out.push('');
  if (loomOk) {
    out.push('Loom / peer (below 1: Loom smaller or faster)');
    out.push('');
    out.push(table(peers.filter((p) => p.loom_over_peer).map((p) => [LABELS[p.lib], ...METRICS.map((m) => (p.loom_over_peer[m] == null ? '—' : `${fmt(p.loom_over_peer[m], 3)}x`))]),
      ['peer', ...METRICS]));
    // the issue's targets
    const by = Object.fromEntries(results.filter((r) => !r.error).map((r) => [r.lib, r]));
    const target = (label, ok, detail) => out.push(`  ${label}: ${ok === null ? 'no peer figure' : ok ? 'met' : 'MISSED'} (${detail})`);
    out.push('');
    out.push('targets (issue 5):');
    target('builds faster than FTS5', by.fts5 ? loom.build_ms < by.fts5.build_ms : null, `${fmt(loom.build_ms)} vs ${fmt(by.fts5?.build_ms)} ms`);
    target('p50 no slower than flexsearch', by.flexsearch ? loom.p50_us <= by.flexsearch.p50_us : null, `${fmt(loom.p50_us)} vs ${fmt(by.flexsearch?.p50_us)} us`);
    target('ranks by exact BM25', loom.top10_agreement >= 0.99, `agreement ${loom.top10_agreement}`);
    target('less memory than minisearch', by.minisearch ? loom.heap_mb < by.minisearch.heap_mb : null, `${fmt(loom.heap_mb)} vs ${fmt(by.minisearch?.heap_mb)} MB`);
  } else {
    out.push(`no ratios: ${loom ? loom.error : 'loom was not run'}`);
  }
  out.push('');
  for (const r of results) {
    // the issue's fields first, in its order; null where there is no figure
    const head = Object.fromEntries(['lib', ...METRICS, 'top10_agreement'].map((f) => [f, r[f] ?? null]));
    out.push(JSON.stringify({ ...head, ...r, corpus_mb: Number(textMb.toFixed(2)), chunks: chunks.length, queries: queries.length }));
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (broken) {
    say('bench: a library failed or its loaded snapshot answered differently (see above)');
    process.exitCode = 1;
  }
}

main();
