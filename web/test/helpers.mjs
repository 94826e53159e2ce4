// Shared by the web tests: the repo's paths, an engine with the shipped workflows loaded, and
// a virtual clock for the host loop (timers fire at once, time jumps forward).
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';
import { IDBObjectStore } from 'fake-indexeddb';
import { StorageError } from '../src/storage.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function readRepo(file) {
  return readFileSync(path.join(REPO, file), 'utf8');
}

/// Every shipped workflow (not broken/), as tools/serve.mjs lists them.
export function shippedWorkflows() {
  const out = [];
  for (const dir of ['workflows', 'workflows/examples']) {
    for (const name of readdirSync(path.join(REPO, dir)).filter((n) => n.endsWith('.yaml')).sort()) {
      out.push({ file: `${dir}/${name}`, yaml: readRepo(`${dir}/${name}`) });
    }
  }
  return out;
}

/// Loads the shipped workflows, callees first (a caller is retried after the others).
export function loadShipped(engine) {
  let pending = shippedWorkflows();
  const names = [];
  for (let pass = 0; pending.length && pass < 5; ++pass) {
    const retry = [];
    for (const w of pending) {
      try {
        names.push(engine.load(w.yaml, w.file).name);
      } catch (e) {
        if (e.code !== 16) throw e;
        retry.push(w);
      }
    }
    pending = retry;
  }
  if (pending.length) throw new Error(`could not load ${pending.map((w) => w.file).join(', ')}`);
  return names;
}

/// A clock for runWorkflow: now() is virtual; a timer moves it to its due time on the next
/// macrotask unless cancelled first (a completion came in), so backoffs of seconds take none.
export function virtualClock(start = 1_000_000) {
  const clock = {
    t: start,
    waited: [],
    now: () => clock.t,
    setTimer: (fn, ms) => {
      let live = true;
      setImmediate(() => {
        if (!live) return;
        clock.waited.push(ms);
        clock.t += ms;
        fn();
      });
      return () => {
        live = false;
      };
    },
  };
  return clock;
}

/// A clock for runs that do real I/O: time runs `speed` times faster than the wall clock, so a
/// 2 s backoff takes 2000/speed ms while real requests keep their real (short) duration.
export function fastClock(speed = 10, start = 1_000_000) {
  const t0 = performance.now();
  return {
    now: () => Math.floor(start + (performance.now() - t0) * speed),
    setTimer: (fn, ms) => {
      const h = setTimeout(fn, Math.ceil(ms / speed));
      return () => clearTimeout(h);
    },
  };
}

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/// The error fn throws (failing the test when it throws none or not an instance of `type`).
export function thrown(fn, type = Error) {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`expected a ${type.name}, got ${e?.constructor?.name}: ${e?.message}`);
    return e;
  }
  throw new Error(`expected a ${type.name}, but nothing was thrown`);
}

/// The `code` of what `promise` rejects with, or 'nothing thrown' when it resolves.
export async function thrownCode(promise) {
  try {
    await promise;
  } catch (e) {
    return e.code;
  }
  return 'nothing thrown';
}

/// Fails unless `promise` rejects with a StorageError of `code` (and a message matching `pattern`).
export async function rejectsWithStorageError(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof StorageError, `a StorageError, got ${e?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

/// Runs fn with IDBObjectStore.prototype[method] replaced by replacement(original, ...args)
/// (fake-indexeddb's stores: a write that fails, a quota error), restored afterwards.
export async function patched(method, replacement, fn) {
  const original = IDBObjectStore.prototype[method];
  IDBObjectStore.prototype[method] = function (...args) {
    return replacement.call(this, original, ...args);
  };
  try {
    return await fn();
  } finally {
    IDBObjectStore.prototype[method] = original;
  }
}
