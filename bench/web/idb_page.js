// idb_page.js — the IndexedDB half of bench/web, run inside Chromium. run.mjs builds a throwaway
// page around this module with Vite (so web/src/storage.js and its `idb` are bundled exactly as
// the studio bundles them), serves it cross-origin isolated, and calls window.__idbBench.
//
// Two peers write the same engine-shaped events, a batch per transaction, and read them back:
//   storage  web/src/storage.js: openStorage({name}), appendEvents(run, batch), readEvents(run)
//   raw      plain IndexedDB, no idb: one object store keyed ['run', 'seq'] holding the same
//            {run, seq, event} records, one readwrite transaction per batch resolved on
//            oncomplete; reads are one getAll() over the run's key range
// Every case gets a fresh database (deleted before and after). Each call returns milliseconds
// from performance.now(), which the page's cross-origin isolation makes fine-grained.
import { openStorage } from '../../web/src/storage.js';
import { mulberry32 } from '../../tools/mulberry32.mjs';

const RUN = 'bench-run';

// ---- events shaped like the engine's (docs/host-protocol.md), from a seeded generator (mulberry32)

const WORDS = ('the lighthouse stood empty for a year nobody wanted post after accident ansel took job ' +
  'because it paid in advance he counted ships to stay awake on ninth night ship had not ran aground ' +
  'its crew been dead weeks salt wind lamp keeper harbour letter morning tide rope stair glass').split(' ');

function words(rand, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]);
  return out.join(' ');
}

// A step of a model call: scheduled, started, 5-40 streamed deltas of 5-40 words each, then
// succeeded with a 1-2 KB output. `t` advances by a few ms per event, as a stream's do.
export function makeEvents(n, seed = 42) {
  const rand = mulberry32(seed);
  const events = [];
  let seq = 0;
  let t = 1_700_000_000_000;
  let effect = 0;
  let step = 0;
  const push = (e) => {
    if (events.length < n) events.push({ seq: ++seq, t: (t += 1 + Math.floor(rand() * 20)), ...e });
  };
  push({ type: 'run_started', workflow: 'bench', version: '7c17d626a376511685dcb21a2ff0c9c1', run_id: RUN,
    seed: 42, inputs: { manuscript: words(rand, 60) } });
  while (events.length < n) {
    const id = `chapter${Math.floor(step / 4)}#${step % 4}/draft`;
    step += 1;
    effect += 1;
    push({ type: 'step_scheduled', step: id });
    push({ type: 'step_started', step: id, attempt: 1, effect, cache_key: `k${(step * 2654435761) >>> 0}` });
    const deltas = 5 + Math.floor(rand() * 36);
    for (let i = 0; i < deltas; i++) {
      push({ type: 'step_output_delta', step: id, attempt: 1, effect, delta: ' ' + words(rand, 5 + Math.floor(rand() * 36)) });
    }
    const outputBytes = 1024 + Math.floor(rand() * 1024);
    let output = '';
    while (output.length < outputBytes) output += words(rand, 20) + '.\n';
    push({ type: 'step_succeeded', step: id, attempt: 1, output: output.slice(0, outputBytes),
      usage: { input_tokens: 800 + Math.floor(rand() * 400), output_tokens: Math.floor(outputBytes / 4) },
      cost_usd: 0.0012 });
  }
  return events;
}

// ---- raw IndexedDB, the baseline peer

const request = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

function deleteDb(name) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    // 'blocked' only means a closed connection's last transaction is still finishing: success follows.
  });
}

function openRaw(name) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('events', { keyPath: ['run', 'seq'] });
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error(`opening database ${name} is blocked`));
  });
}

function rawAppend(db, runId, batch) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('events', 'readwrite');
    const store = tx.objectStore('events');
    for (const event of batch) store.add({ run: runId, seq: event.seq, event });
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('the transaction was aborted'));
  });
}

async function rawRead(db, runId) {
  const tx = db.transaction('events', 'readonly');
  const records = await request(tx.objectStore('events').getAll(IDBKeyRange.bound([runId, 0], [runId, Infinity])));
  return records.map((r) => r.event);
}

const rawCount = (db, runId) =>
  request(db.transaction('events', 'readonly').objectStore('events').count(IDBKeyRange.bound([runId, 0], [runId, Infinity])));

// ---- the two peers behind one interface

async function openPeer(peer, name) {
  if (peer === 'storage') {
    const s = await openStorage({ name });
    return { append: (b) => s.appendEvents(RUN, b), read: () => s.readEvents(RUN), count: () => s.countEvents(RUN),
      close: () => s.close() };
  }
  if (peer === 'raw') {
    const db = await openRaw(name);
    return { append: (b) => rawAppend(db, RUN, b), read: () => rawRead(db, RUN), count: () => rawCount(db, RUN),
      close: () => db.close() };
  }
  throw new Error(`unknown peer ${peer}`);
}

let cached = { n: 0, events: null };
function eventsOf(n) {
  if (cached.n !== n) cached = { n, events: makeEvents(n) };
  return cached.events;
}

let dbCounter = 0;

// Writes `n` events through `peer` in batches of `batch`, each awaited before the next (as the
// studio's host does); resolves {ms, n, batches}. Fails when the store does not hold them after.
async function append({ peer, batch, n }) {
  const events = eventsOf(n);
  const name = `bench-${peer}-${batch}-${++dbCounter}`;
  await deleteDb(name);
  const p = await openPeer(peer, name);
  try {
    const batches = [];
    for (let i = 0; i < events.length; i += batch) batches.push(events.slice(i, i + batch));
    const t0 = performance.now();
    for (const b of batches) await p.append(b);
    const ms = performance.now() - t0;
    const stored = await p.count();
    if (stored !== n) throw new Error(`${peer}, batches of ${batch}: ${stored} of ${n} events stored`);
    return { ms, n, batches: batches.length };
  } finally {
    p.close();
    await deleteDb(name);
  }
}

// Fills a fresh database with `n` events (batches of 100, untimed), closes and reopens it, then
// times one read of them all. Fails when what comes back is not what was written.
async function read({ peer, n }) {
  const events = eventsOf(n);
  const name = `bench-${peer}-read-${++dbCounter}`;
  await deleteDb(name);
  let p = await openPeer(peer, name);
  try {
    for (let i = 0; i < events.length; i += 100) await p.append(events.slice(i, i + 100));
    p.close();
    p = await openPeer(peer, name);
    const t0 = performance.now();
    const got = await p.read();
    const ms = performance.now() - t0;
    if (got.length !== n) throw new Error(`${peer} read ${got.length} of ${n} events`);
    for (let i = 0; i < n; i++) {
      if (got[i].seq !== events[i].seq) throw new Error(`${peer} read seq ${got[i].seq} at ${i}, wrote ${events[i].seq}`);
    }
    const last = n - 1;
    if (JSON.stringify(got[last]) !== JSON.stringify(events[last])) throw new Error(`${peer}: the last event came back changed`);
    return { ms, n };
  } finally {
    p.close();
    await deleteDb(name);
  }
}

// The events' shape: how many of each type, and their mean size as JSON.
function describe(n) {
  const events = eventsOf(n);
  const types = {};
  const bytesOf = {};
  let bytes = 0;
  for (const e of events) {
    const size = JSON.stringify(e).length;
    types[e.type] = (types[e.type] ?? 0) + 1;
    bytesOf[e.type] = (bytesOf[e.type] ?? 0) + size;
    bytes += size;
  }
  const meanBytesOf = Object.fromEntries(Object.entries(bytesOf).map(([t, b]) => [t, b / types[t]]));
  return { n, types, meanBytes: bytes / n, meanBytesOf, totalBytes: bytes };
}

window.__idbBench = { append, read, describe };
document.body.dataset.ready = 'true';
