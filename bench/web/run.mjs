#!/usr/bin/env node
// bench/web — what the studio costs in the browser: its download, the time from navigation to a
// usable page (cold and warm), and how fast it can log a run's events in IndexedDB next to plain
// IndexedDB. See README.md.
//
//   npm run bench:web                   # tools/bootstrap, tools/build --wasm and --web, then this
//   node bench/web/run.mjs              # with build/web already built
//   BENCH_RUNS=15 BENCH_IDB_RUNS=9 BENCH_EVENTS=10000 node bench/web/run.mjs
//
// Prints progress on stderr, then on stdout a table and one JSON line per figure:
// {"metric", "value", "unit"} and, where a figure has a peer, "peer" and "ratio" (value / the
// peer's value of the same metric). Timings are never asserted; it exits non-zero only when
// something breaks: a page error, the studio not becoming ready, a write or read failing.
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { startServer } from '../../tools/serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const WEB = path.join(ROOT, 'build/web');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const READY_TIMEOUT_MS = 60_000;
const BATCHES = [1, 10, 100];
const PEERS = ['storage', 'raw'];
const PEER_NAME = { storage: 'storage.js', raw: 'raw-indexeddb' };

const envInt = (name, dflt) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : dflt;
};

const log = (s) => process.stderr.write(s);
const figures = [];
const notes = [];

/// Records one figure; `extra` may hold peer, ratio, n and the like.
function figure(metric, value, unit, extra = {}) {
  figures.push({ metric, value: typeof value === 'number' ? round(value) : value, unit, ...extra });
}

function round(x) {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x);
  if (a >= 100) return Math.round(x * 10) / 10;
  if (a >= 1) return Math.round(x * 100) / 100;
  return Math.round(x * 1000) / 1000;
}

// Nearest-rank percentile: with 7 samples p90 is the largest, p50 the 4th.
function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---- 1. sizes

const gz = (buf) => gzipSync(buf, { level: 9 }).length;

async function sizes() {
  const wasm = await readFile(path.join(WEB, 'wasm/loom.wasm'));
  const glue = await readFile(path.join(WEB, 'wasm/loom.mjs'));
  figure('size.wasm.raw', wasm.length, 'bytes');
  figure('size.wasm.gzip', gz(wasm), 'bytes');
  figure('size.glue.raw', glue.length, 'bytes', { file: 'wasm/loom.mjs' });
  figure('size.glue.gzip', gz(glue), 'bytes', { file: 'wasm/loom.mjs' });
  const assets = (await readdir(path.join(WEB, 'assets'))).sort();
  const byExt = { js: [], css: [] };
  for (const f of assets) {
    const ext = path.extname(f).slice(1);
    if (byExt[ext]) byExt[ext].push(await readFile(path.join(WEB, 'assets', f)));
  }
  if (!byExt.js.length) throw new Error('build/web/assets holds no JS: the studio build looks broken');
  for (const ext of ['js', 'css']) {
    const all = Buffer.concat(byExt[ext]);
    figure(`size.shell_${ext}.raw`, all.length, 'bytes', { files: byExt[ext].length });
    // Each file is sent compressed on its own: the sum of their gzip sizes.
    figure(`size.shell_${ext}.gzip`, byExt[ext].reduce((n, b) => n + gz(b), 0), 'bytes', { files: byExt[ext].length });
  }
  const shell = [...byExt.js, ...byExt.css];
  figure('size.shell.raw', shell.reduce((n, b) => n + b.length, 0), 'bytes');
  figure('size.shell.gzip', shell.reduce((n, b) => n + gz(b), 0), 'bytes');
}

// ---- 2. navigation to interactive

// Runs in the page before its own scripts: times WebAssembly's compile/instantiate calls (the
// glue calls them by property, so wrapping them changes nothing else) and notes when the header
// first shows the engine's version (app.js sets it as soon as loadEngine() resolves).
function initScript() {
  const b = (window.__loomBench = { wasmCalls: [], engineReady: null });
  for (const name of ['instantiateStreaming', 'instantiate', 'compileStreaming', 'compile']) {
    const orig = WebAssembly[name];
    if (typeof orig !== 'function') continue;
    WebAssembly[name] = function (...args) {
      const call = { name, start: performance.now(), end: null };
      b.wasmCalls.push(call);
      const p = orig.apply(this, args);
      p.then(() => { call.end = performance.now(); }, (e) => { call.end = performance.now(); call.error = String(e); });
      return p;
    };
  }
  const mo = new MutationObserver(() => {
    const s = document.getElementById('engine-status');
    if (s && /\(wasm\)$/.test(s.textContent)) {
      b.engineReady = performance.now();
      mo.disconnect();
    }
  });
  mo.observe(document, { childList: true, subtree: true, characterData: true });
}

// Read in the page once it is ready: every time is ms since the navigation started.
function collect() {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const find = (re) => res.find((r) => re.test(new URL(r.name).pathname));
  const r = (e) => e && { start: e.startTime, end: e.responseEnd, transfer: e.transferSize, fromWorker: e.workerStart > 0 };
  const calls = window.__loomBench?.wasmCalls ?? [];
  const inst = calls.find((c) => c.name === 'instantiateStreaming') ?? calls.find((c) => c.name === 'instantiate');
  return {
    isolated: globalThis.crossOriginIsolated === true,
    controlled: navigator.serviceWorker?.controller != null,
    interactive: performance.getEntriesByName('loom-interactive', 'mark')[0]?.startTime ?? null,
    docEnd: nav?.responseEnd ?? null,
    navFromWorker: (nav?.workerStart ?? 0) > 0,
    dcl: nav?.domContentLoadedEventEnd ?? null,
    appJs: r(find(/^\/assets\/.*\.js$/)),
    glue: r(find(/^\/wasm\/loom\.mjs$/)),
    wasm: r(find(/^\/wasm\/loom\.wasm$/)),
    instantiate: inst ?? null,
    engineReady: window.__loomBench?.engineReady ?? null,
  };
}

// Errors that mean the page broke; a non-empty list fails the benchmark.
function watch(page, problems, label) {
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${label}: HTTP ${r.status()} for ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    // A request cut short by the next navigation (a reload) is not a failure of the page.
    const why = r.failure()?.errorText;
    if (why !== 'net::ERR_ABORTED') problems.push(`${label}: request failed: ${r.url()} (${why})`);
  });
}

async function waitReady(page, label) {
  try {
    await page.waitForSelector('body[data-ready]', { state: 'attached', timeout: READY_TIMEOUT_MS });
  } catch {
    throw new Error(`${label}: the studio did not become ready in ${READY_TIMEOUT_MS / 1000} s: ` +
      `${((await page.textContent('#view').catch(() => '')) ?? '').trim().slice(0, 300)}`);
  }
  if ((await page.getAttribute('body', 'data-ready')) !== 'true') {
    throw new Error(`${label}: the studio did not start: ${(await page.textContent('#view')).trim().slice(0, 300)}`);
  }
}

function check(problems) {
  if (problems.length) throw new Error(problems.join('\n'));
}

async function loadOnce(page, label, problems, go) {
  await go();
  await waitReady(page, label);
  const m = await page.evaluate(collect);
  check(problems);
  if (m.interactive === null) throw new Error(`${label}: the page is ready but has no 'loom-interactive' mark`);
  return m;
}

// A server of build/web on a port of its own. A new port is a new origin: no service worker, no
// cached response and no IndexedDB of an earlier origin apply to it, so each cold load gets a
// first visit in the same (warm) browser and on-disk profile.
async function freshOrigin(servers) {
  const s = await startServer({ port: 0, host: '127.0.0.1' });
  servers.push(s.server);
  return `http://127.0.0.1:${s.port}/`;
}

async function closeServers(servers) {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

// One first visit: measured, then (untimed) left until the service worker has taken the page,
// i.e. finished precaching, so that its downloads do not run into the next load.
async function firstVisit(context, base, label) {
  const page = await context.newPage();
  try {
    const problems = [];
    watch(page, problems, label);
    const m = await loadOnce(page, label, problems, () => page.goto(base));
    // The worker claims the page during this visit; what matters is that it did not serve it.
    if (m.navFromWorker) throw new Error(`${label} was served by a service worker: the origin was not fresh`);
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: READY_TIMEOUT_MS });
    check(problems);
    return m;
  } finally {
    await page.close();
  }
}

async function measureLoads(context, runs) {
  const servers = [];
  try {
    // One untimed first visit: the browser's own first-use costs (its network service, the
    // profile's databases) are not the studio's.
    log('[load] untimed first visit ...');
    await firstVisit(context, await freshOrigin(servers), 'untimed first visit');
    log(' ok\n');
    const cold = [];
    for (let i = 0; i < runs; i++) {
      log(`[load] cold ${i + 1}/${runs} ...`);
      const m = await firstVisit(context, await freshOrigin(servers), `cold load ${i + 1}`);
      cold.push(m);
      log(` ${m.interactive.toFixed(1)} ms\n`);
    }

    const warm = [];
    const page = await context.newPage();
    try {
      const problems = [];
      watch(page, problems, 'warm origin');
      log('[load] first visit of the warm origin, waiting for the service worker ...');
      const base = await freshOrigin(servers);
      await loadOnce(page, 'warm origin, first visit', problems, () => page.goto(base));
      // skipWaiting + clients.claim: the worker takes this page once installed, i.e. precached.
      await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: READY_TIMEOUT_MS });
      log(' controlled\n');
      for (let i = 0; i < runs; i++) {
        log(`[load] warm ${i + 1}/${runs} ...`);
        const m = await loadOnce(page, `warm load ${i + 1}`, problems, () => page.reload());
        if (!m.controlled || !m.navFromWorker) throw new Error(`warm load ${i + 1} was not served by the service worker`);
        warm.push(m);
        log(` ${m.interactive.toFixed(1)} ms\n`);
      }
    } finally {
      await page.close();
    }
    return { cold, warm };
  } finally {
    await closeServers(servers);
  }
}

// The phases of a load, each a function of one measurement (ms since navigation start, or a
// difference); null when the page did not report it.
const PHASES = [
  ['document_response_end', 'the page (index.html) received', (m) => m.docEnd],
  ['app_js_response_end', 'the app shell JS received', (m) => m.appJs?.end],
  ['dom_content_loaded', 'DOMContentLoaded handled', (m) => m.dcl],
  ['glue_request_start', 'loom.mjs requested (after openStorage)', (m) => m.glue?.start],
  ['wasm_response_end', 'loom.wasm received', (m) => m.wasm?.end],
  ['wasm_instantiated', 'WebAssembly.instantiateStreaming resolved', (m) => m.instantiate?.end],
  ['engine_ready', 'the header shows the engine version', (m) => m.engineReady],
  ['wasm_fetch', 'loom.wasm: request to last byte', (m) => (m.wasm ? m.wasm.end - m.wasm.start : null)],
  ['wasm_compile_after_download', 'instantiated minus last byte (compile tail + instantiate)',
    (m) => (m.instantiate?.end != null && m.wasm ? m.instantiate.end - m.wasm.end : null)],
  ['engine_load', 'loom.mjs requested to engine ready',
    (m) => (m.engineReady != null && m.glue ? m.engineReady - m.glue.start : null)],
  ['engine_ready_to_interactive', 'engine ready to the mark (vault, library, resume, first view)',
    (m) => (m.engineReady != null ? m.interactive - m.engineReady : null)],
];

function loadFigures({ cold, warm }) {
  const isolated = [...cold, ...warm].every((m) => m.isolated);
  if (!isolated) {
    notes.push('WARNING: the studio was not cross-origin isolated (crossOriginIsolated false): the page timers are ' +
      'coarse (100 us), so the load figures are too.');
  }
  const stat = (ms) => ({ median: median(ms), p90: percentile(ms, 90) });
  const c = stat(cold.map((m) => m.interactive));
  const w = stat(warm.map((m) => m.interactive));
  figure('load.cold.interactive.median', c.median, 'ms', { n: cold.length });
  figure('load.cold.interactive.p90', c.p90, 'ms', { n: cold.length });
  figure('load.warm.interactive.median', w.median, 'ms', { n: warm.length, peer: 'cold', ratio: round(w.median / c.median) });
  figure('load.warm.interactive.p90', w.p90, 'ms', { n: warm.length, peer: 'cold', ratio: round(w.p90 / c.p90) });
  for (const [kind, ms] of [['cold', cold], ['warm', warm]]) {
    for (const [name, what, f] of PHASES) {
      const xs = ms.map(f).filter((x) => x !== null && x !== undefined);
      if (xs.length < ms.length) {
        notes.push(`${kind} ${name}: reported by ${xs.length} of ${ms.length} loads`);
        if (!xs.length) continue;
      }
      const extra = { n: xs.length, what };
      if (kind === 'warm') {
        const coldXs = cold.map(f).filter((x) => x !== null && x !== undefined);
        if (coldXs.length && median(coldXs) > 0) {
          Object.assign(extra, { peer: 'cold', ratio: round(median(xs) / median(coldXs)) });
        }
      }
      figure(`load.${kind}.${name}.median`, median(xs), 'ms', extra);
    }
  }
  const wasmFromWorker = warm.filter((m) => m.wasm?.fromWorker).length;
  if (warm.length && wasmFromWorker < warm.length) {
    notes.push(`warm: loom.wasm came through the service worker in ${wasmFromWorker} of ${warm.length} loads`);
  }
  const streaming = [...cold, ...warm].filter((m) => m.instantiate?.name === 'instantiateStreaming').length;
  if (streaming < cold.length + warm.length) {
    notes.push(`the engine used WebAssembly.instantiateStreaming in ${streaming} of ${cold.length + warm.length} loads`);
  }
}

// ---- 3. IndexedDB throughput

const IDB_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>bench/web IndexedDB</title></head>
<body><p>IndexedDB benchmark page (bench/web)</p><script type="module" src="./main.js"></script></body>
</html>
`;

async function buildIdbPage(dir) {
  const src = path.join(dir, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'index.html'), IDB_HTML);
  await writeFile(path.join(src, 'main.js'), `import ${JSON.stringify(path.join(HERE, 'idb_page.js'))};\n`);
  const out = path.join(dir, 'dist');
  await build({
    root: src,
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    cacheDir: path.join(dir, 'cache'),
    // Minified like the studio's build: the code timed is the code shipped.
    build: { outDir: out, emptyOutDir: true, reportCompressedSize: false, assetsInlineLimit: 0, target: 'es2022',
      modulePreload: { polyfill: false } },
  });
  return out;
}

async function measureIdb(context, events, runs) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'loom-bench-web-'));
  let server;
  let page;
  try {
    log('[idb] building the bench page with Vite ...');
    const dist = await buildIdbPage(dir);
    // The studio's own server: the same COOP/COEP headers and CSP as the studio.
    ({ server } = await startServer({ port: 0, host: '127.0.0.1', dir: dist }));
    log(' ok\n');
    page = await context.newPage();
    const problems = [];
    watch(page, problems, 'IndexedDB page');
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForSelector('body[data-ready=true]', { state: 'attached', timeout: READY_TIMEOUT_MS });
    check(problems);
    if (!(await page.evaluate(() => globalThis.crossOriginIsolated))) {
      notes.push('WARNING: the IndexedDB page was not cross-origin isolated: its timers are coarse (100 us).');
    }
    const shape = await page.evaluate((n) => window.__idbBench.describe(n), events);
    const call = async (fn, arg) => {
      const r = await page.evaluate(([f, a]) => window.__idbBench[f](a), [fn, arg]);
      check(problems);
      return r;
    };

    log('[idb] warm-up (each case once with 1,000 events) ...');
    for (const batch of BATCHES) for (const peer of PEERS) await call('append', { peer, batch, n: Math.min(1000, events) });
    for (const peer of PEERS) await call('read', { peer, n: Math.min(1000, events) });
    log(' ok\n');

    const appends = new Map();  // `${peer}/${batch}` -> [ms]
    const reads = new Map();    // peer -> [ms]
    for (let rep = 0; rep < runs; rep++) {
      // Alternate which peer goes first, so neither always follows the other's deletions.
      const order = rep % 2 ? [...PEERS].reverse() : PEERS;
      for (const batch of BATCHES) {
        for (const peer of order) {
          log(`[idb] ${rep + 1}/${runs} append ${events} events, batches of ${batch}, ${PEER_NAME[peer]} ...`);
          const r = await call('append', { peer, batch, n: events });
          const key = `${peer}/${batch}`;
          appends.set(key, [...(appends.get(key) ?? []), r.ms]);
          log(` ${r.ms.toFixed(0)} ms\n`);
        }
      }
      for (const peer of order) {
        log(`[idb] ${rep + 1}/${runs} read ${events} events, ${PEER_NAME[peer]} ...`);
        const r = await call('read', { peer, n: events });
        reads.set(peer, [...(reads.get(peer) ?? []), r.ms]);
        log(` ${r.ms.toFixed(1)} ms\n`);
      }
    }
    check(problems);
    return { shape, appends, reads };
  } finally {
    await page?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await rm(dir, { recursive: true, force: true });
  }
}

function idbFigures({ shape, appends, reads }, events, runs) {
  figure('idb.events.mean_json_bytes', shape.meanBytes, 'bytes', { n: shape.n, types: shape.types });
  for (const [type, bytes] of Object.entries(shape.meanBytesOf)) {
    figure(`idb.events.${type}.mean_json_bytes`, bytes, 'bytes', { n: shape.types[type] });
  }
  const both = (name, msOf, extra) => {
    const ms = Object.fromEntries(PEERS.map((p) => [p, median(msOf(p))]));
    for (const peer of ['raw', 'storage']) {
      const vs = peer === 'storage' ? (a, b) => ({ peer: PEER_NAME.raw, ratio: round(a / b) }) : () => ({});
      figure(`idb.${name}.${peer}.events_per_s`, (events * 1000) / ms[peer], 'events/s',
        { ...extra, ...vs((events * 1000) / ms.storage, (events * 1000) / ms.raw) });
      figure(`idb.${name}.${peer}.ms`, ms[peer], 'ms', { ...extra, ...vs(ms.storage, ms.raw) });
    }
  };
  for (const batch of BATCHES) {
    both(`append.batch${batch}`, (p) => appends.get(`${p}/${batch}`), { events, batch, runs });
  }
  both('read', (p) => reads.get(p), { events, runs });
}

// ---- output

function table(rows, headers) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const left = (i) => i === 0 || i === 2 || i === 3;
  const cell = (c, i) => (left(i) ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]));
  const line = (cells) => '| ' + cells.map(cell).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (left(i) ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(headers), sep, ...rows.map(line)].join('\n');
}

const show = (x) => (typeof x === 'number' && Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : String(x));

async function main() {
  if (!existsSync(path.join(WEB, 'index.html')) || !existsSync(path.join(WEB, 'wasm/loom.wasm'))) {
    throw new Error('build/web is not built: run `tools/build --wasm && tools/build --web` (or `npm run bench:web`)');
  }
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM=...)`);
  const runs = envInt('BENCH_RUNS', 7);
  const idbRuns = envInt('BENCH_IDB_RUNS', 5);
  const events = envInt('BENCH_EVENTS', 10_000);
  const t0 = performance.now();

  await sizes();
  // A persistent profile in a temporary folder: IndexedDB and the service worker's Cache Storage
  // on disk, as a writer's browser has them (an incognito context, browser.newContext(), keeps
  // both in memory, which makes writes faster than they are for anyone).
  const profile = await mkdtemp(path.join(os.tmpdir(), 'loom-bench-web-profile-'));
  let version;
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, args: ARGS, viewport: { width: 1400, height: 1000 },
    });
    try {
      version = context.browser()?.version() ?? 'unknown';
      await context.addInitScript(initScript);
      loadFigures(await measureLoads(context, runs));
      idbFigures(await measureIdb(context, events, idbRuns), events, idbRuns);
    } finally {
      await context.close();
    }
  } finally {
    await rm(profile, { recursive: true, force: true });
  }

  const elapsed = ((performance.now() - t0) / 1000).toFixed(0);
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const out = [];
  out.push(`Loom web benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpu} x${os.cpus().length}, ` +
    `Chromium ${version} headless, node ${process.version}, ${elapsed} s`);
  out.push(`load: median and p90 (nearest rank) of ${runs} navigations each, ms from navigation start; ` +
    `IndexedDB: median of ${idbRuns} runs per case, ${events.toLocaleString('en-US')} events. ` +
    'ratio = value / peer\'s value.');
  out.push('');
  out.push(table(figures.map((f) => [f.metric, show(f.value), f.unit, f.peer ?? '', f.ratio === undefined ? '' : `${f.ratio}x`]),
    ['metric', 'value', 'unit', 'peer', 'ratio']));
  if (notes.length) out.push('', ...notes);
  out.push('');
  for (const f of figures) out.push(JSON.stringify(f));
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`\nbench/web: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
