// bench/voice/run.mjs — `npm run bench:voice`: Loom's voice scoring (does a passage sound like
// this author, this character?) next to two stylometric baselines, on the same deterministic splits.
//
// It loads and cleans the texts (data.mjs), draws the tasks (splits.mjs), writes them as one job
// file, has the Loom binaries score it (native, then wasm), scores it with the JavaScript
// baselines (baselines.mjs), and reports each track's metrics (metrics.mjs): progress on stderr;
// on stdout a table, then one JSON line per metric and per engine's speed.
//
// Usage: node bench/voice/run.mjs [--engines native,wasm | --engines baselines]
// Environment: BENCH_ENGINES (as --engines; default native,wasm; "baselines" alone runs no Loom
//   engine), BENCH_SEED (default 20261121), BENCH_ROUNDS (default 5), BENCH_LOOM_TIMEOUT_S
//   (default 1800, each Loom run).
// Exit status: 1 when a Loom run failed (error, timeout, malformed output), else 0 — never for
// scores or timings. A binary that is not built is skipped with a message.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASELINES, runBaseline } from './baselines.mjs';
import { AUTHOR_WORDS, BACKGROUND_WORDS, CHARACTER_WORDS, MIN_CHARACTER_PASSAGES, loadData } from './data.mjs';
import { evaluate, maxAbsDifference } from './metrics.mjs';
import { buildTasks } from './splits.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT_DIR = path.join(ROOT, 'build/bench-voice');
const ENGINES = ['native', 'wasm'];
const TARGETS = {
  'authors_fewshot/top1': 0.70,
  'authors_fewshot/auc': 0.93,
  'characters/balanced_accuracy': 0.45,
  'characters/auc': 0.72,
  'ranking_authors/pairwise_accuracy': 0.95,
  'ranking_characters/pairwise_accuracy': 0.65,
};

const log = (line) => process.stderr.write(`bench: ${line}\n`);
const list = (v) => String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function positiveInt(name, dflt) {
  if (process.env[name] === undefined || process.env[name] === '') return dflt;
  const v = Number(process.env[name]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

function parseArgs(argv) {
  let engines = list(process.env.BENCH_ENGINES || ENGINES.join(','));
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--engines' && i + 1 < argv.length) engines = list(argv[++i]);
    else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write('usage: node bench/voice/run.mjs [--engines native,wasm | --engines baselines]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  for (const e of engines) {
    if (![...ENGINES, 'baselines'].includes(e)) throw new Error(`unknown engine ${e} (native, wasm, baselines)`);
  }
  return {
    engines: ENGINES.filter((e) => engines.includes(e)),
    seed: positiveInt('BENCH_SEED', 20261121),
    rounds: positiveInt('BENCH_ROUNDS', 5),
    timeoutS: positiveInt('BENCH_LOOM_TIMEOUT_S', 1800),
  };
}

// ------------------------------------------------------------------------------------- Loom

/// The command of one engine, or why it cannot run.
function loomCommand(engine, job, out) {
  const bin = engine === 'native'
    ? path.join(ROOT, 'build/native-release/loom_bench_voice')
    : path.join(ROOT, 'build/wasm-release/loom_bench_voice.cjs');
  if (!existsSync(bin)) return { missing: `${path.relative(ROOT, bin)} is not built (run tools/build --${engine})` };
  return engine === 'native'
    ? { file: bin, args: [job, out] }
    : { file: process.execPath, args: ['--no-experimental-fetch', bin, job, out] };
}

/// Why a Loom output does not answer the job, or null.
function malformed(output, job) {
  if (!output || !Array.isArray(output.tasks)) return 'no "tasks" array';
  const byName = new Map(output.tasks.map((t) => [t?.name, t]));
  for (const task of job.tasks) {
    const score = byName.get(task.name)?.score;
    if (!Array.isArray(score) || score.length !== task.candidates.length) return `task ${task.name}: no score per candidate`;
    const bad = score.findIndex((row) => !Array.isArray(row) || row.length !== task.profiles.length ||
      !row.every(Number.isFinite));
    if (bad >= 0) return `task ${task.name}: candidate ${bad} has no finite score per profile`;
  }
  if (!Number.isFinite(output.timing?.mb_per_s)) return 'no timing.mb_per_s';
  return null;
}

/// Runs one engine on the job file; resolves to {output} or {error}, never rejects. Its stderr
/// (progress) is passed on, each line prefixed with the engine's name.
function runLoom(engine, cmd, job, out, timeoutS) {
  return new Promise((resolve) => {
    const child = spawn(cmd.file, cmd.args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '', timedOut = false, partial = '';
    const pass = (d) => {
      const lines = (partial + d).split(/\r\n|\r|\n/);
      partial = lines.pop();
      for (const line of lines) process.stderr.write(`  [${engine}] ${line}\n`);
      tail = (tail + d).slice(-2000);
    };
    child.stdout.on('data', pass);
    child.stderr.on('data', pass);
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutS * 1000);
    child.on('error', (e) => { clearTimeout(timer); resolve({ error: `cannot start: ${e.message}` }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial) process.stderr.write(`  [${engine}] ${partial}\n`);
      if (timedOut) return resolve({ error: `timeout after ${timeoutS} s (BENCH_LOOM_TIMEOUT_S)` });
      if (code !== 0) {
        const why = tail.trim().split('\n').slice(-3).join(' | ') || 'no output';
        return resolve({ error: `exited (code ${code}, signal ${signal}): ${why}` });
      }
      let output;
      try {
        output = JSON.parse(readFileSync(out, 'utf8'));
      } catch (e) {
        return resolve({ error: `cannot read ${path.relative(ROOT, out)}: ${e.message}` });
      }
      const why = malformed(output, job);
      resolve(why ? { error: `malformed output: ${why}` } : { output });
    });
  });
}

// ------------------------------------------------------------------------------------- report

const fmt = (x, digits = 3) => {
  if (x === null || x === undefined) return '—';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(digits);
};

function table(rows, headers) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => '| ' + cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(headers), sep, ...rows.map(line)].join('\n');
}

function logData(data) {
  const counts = (o) => Object.entries(o).map(([k, v]) => `${k} ${v.length}`).join(', ');
  log(`authors, ${AUTHOR_WORDS}-word passages: ${counts(data.authors)}`);
  for (const [play, characters] of Object.entries(data.characters)) {
    log(`characters of ${play}, ${CHARACTER_WORDS}-word passages (at least ${MIN_CHARACTER_PASSAGES}): ${counts(characters)}`);
  }
  log(`background: ${data.background.length.toLocaleString('en-US')} passages of ${BACKGROUND_WORDS} words (Brown corpus)`);
}

const describeTiming = (t) => `background ${fmt(t.background_ms / 1000, 2)} s, profiles ${fmt(t.profiles_ms / 1000, 2)} s, ` +
  `scoring ${fmt(t.scored_bytes / 1e6, 2)} MB in ${fmt(t.score_ms / 1000, 2)} s (${fmt(t.mb_per_s, 2)} MB/s)`;

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    log(e.message);
    process.exit(2);
  }
  const t0 = performance.now();
  log(`seed ${o.seed}, ${o.rounds} round${o.rounds > 1 ? 's' : ''}, Loom engines: ${o.engines.join(', ') || 'none (baselines only)'}`);
  const data = loadData();
  logData(data);
  const tasks = buildTasks(data, o);
  const job = {
    background: data.backgroundVoices,
    tasks: tasks.map(({ name, profiles, cast, candidates }) => ({ name, profiles, ...(cast ? { cast } : {}), candidates })),
  };
  mkdirSync(OUT_DIR, { recursive: true });
  const jobFile = path.join(OUT_DIR, 'job.json');
  const jobText = JSON.stringify(job);
  writeFileSync(jobFile, jobText);
  const candidates = tasks.reduce((n, t) => n + t.candidates.length, 0);
  log(`job: ${path.relative(ROOT, jobFile)} (${tasks.length} tasks, ${candidates.toLocaleString('en-US')} candidates, ` +
    `${fmt(Buffer.byteLength(jobText) / 1e6, 1)} MB)`);

  const loom = {};
  let loomFailed = false;
  for (const engine of o.engines) {
    const out = path.join(OUT_DIR, `${engine}.json`);
    const cmd = loomCommand(engine, jobFile, out);
    if (cmd.missing) {
      log(`loom ${engine}: skipped, ${cmd.missing}`);
      continue;
    }
    const shown = (f) => (f === process.execPath ? 'node' : f.startsWith(ROOT) ? path.relative(ROOT, f) : f);
    log(`loom ${engine}: ${[cmd.file, ...cmd.args].map(shown).join(' ')}`);
    rmSync(out, { force: true });
    const r = await runLoom(engine, cmd, job, out, o.timeoutS);
    if (r.error) {
      log(`loom ${engine}: FAILED: ${r.error}`);
      loomFailed = true;
    } else {
      loom[engine] = r.output;
      log(`loom ${engine}: ${describeTiming(r.output.timing)}`);
    }
  }

  const baselines = {};
  for (const name of Object.keys(BASELINES)) {
    baselines[name] = runBaseline(name, job);
    log(`${name}: ${describeTiming(baselines[name].timing)}`);
  }

  // ---- metrics
  const loomEngine = loom.wasm ? 'wasm' : loom.native ? 'native' : null;
  const loomMetrics = loomEngine ? evaluate(tasks, loom[loomEngine]) : null;
  // Loom without the cast: every profile scored on its own (voice::score with no cast).
  const alone = loomEngine && loom[loomEngine].tasks.every((t) => Array.isArray(t.score_alone))
    ? evaluate(tasks, { tasks: loom[loomEngine].tasks.map((t) => ({ name: t.name, score: t.score_alone })) })
    : null;
  const baselineMetrics = Object.fromEntries(Object.keys(BASELINES).map((b) => [b, evaluate(tasks, baselines[b])]));
  const lines = baselineMetrics.cosine_delta.map((m, i) => {
    const cosineDelta = m.value, char3 = baselineMetrics.char3_zcos[i].value;
    return {
      track: m.track,
      metric: m.metric,
      loom: loomMetrics ? loomMetrics[i].value : null,
      loom_alone: alone ? alone[i].value : null,
      baseline: Math.max(cosineDelta, char3),
      cosine_delta: cosineDelta,
      char3_zcos: char3,
      target: TARGETS[`${m.track}/${m.metric}`],
    };
  });
  const speed = ENGINES.map((engine) => ({
    track: 'speed',
    metric: `mb_per_s_${engine}`,
    loom: loom[engine]?.timing.mb_per_s ?? null,
    baseline: baselines.char3_zcos.timing.mb_per_s,
    cosine_delta: baselines.cosine_delta.timing.mb_per_s,
    char3_zcos: baselines.char3_zcos.timing.mb_per_s,
    ...(loom[engine] ? { timing: loom[engine].timing } : {}),
  }));
  const consistency = loom.native && loom.wasm
    ? { track: 'consistency', metric: 'native_wasm_max_abs_diff', loom: maxAbsDifference(loom.native, loom.wasm) }
    : null;

  // ---- the report
  const out = [];
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  out.push(`Loom voice benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpu} x${os.cpus().length}, ` +
    `node ${process.version}, seed ${o.seed}, ${o.rounds} round${o.rounds > 1 ? 's' : ''}, ${tasks.length} tasks, ` +
    `${candidates.toLocaleString('en-US')} candidates, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  out.push(loomEngine ? `loom: the ${loomEngine} engine's scores` : 'loom: no engine ran (see the messages on stderr)');
  out.push('');
  const rows = [...lines, ...speed].map((l) => [l.track, l.metric, fmt(l.loom, l.track === 'speed' ? 1 : 3),
    l.track === 'speed' ? '' : fmt(l.loom_alone, 3),
    fmt(l.cosine_delta, l.track === 'speed' ? 1 : 3), fmt(l.char3_zcos, l.track === 'speed' ? 1 : 3), fmt(l.target, 2)]);
  out.push(table(rows, ['track', 'metric', 'loom', 'loom alone', 'cosine delta', 'char 3-gram', 'target']));
  out.push('loom: each profile scored relative to its task\'s other voices (the cast); loom alone: without them.');
  if (consistency) {
    out.push('');
    // The two builds' libm (exp, log) may differ in the last bit; the agents round scores to 0.01.
    out.push(consistency.loom === 0
      ? 'native and wasm: identical scores (max abs difference 0)'
      : consistency.loom < 1e-9
        ? `native and wasm: the same scores to ${consistency.loom.toExponential(1)} (last-bit libm differences; outputs round to 0.01)`
        : `native and wasm: scores DIFFER (max abs difference ${consistency.loom})`);
  }
  out.push('');
  for (const l of [...lines, ...speed, ...(consistency ? [consistency] : [])]) out.push(JSON.stringify(l));
  process.stdout.write(out.join('\n') + '\n');
  if (loomFailed) {
    log('a Loom run failed (see above)');
    process.exitCode = 1;
  }
}

main();
