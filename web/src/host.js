// host.js — drives a run of the engine in a page or in node: the host half of the protocol in
// engine/include/loom/run.hpp. The engine decides; this loop only waits, performs and reports.
//
//   poll(now) -> await onEvents(events) -> perform effects concurrently -> resolve each as it
//   finishes -> sleep until a completion, the engine's next timer or a cancel -> poll again
//
// Events are handed to onEvents (and awaited) before the effects that the same poll returned are
// started: a page that stores them first can reload and restore the run without redoing work.

/// The statuses a run (or a step) ends in.
export const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

// A macrotask, so a long run of pure steps lets the page paint and take input in between.
function yieldToEventLoop() {
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === 'function') {
    return new Promise((r) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        r();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}

function realTimer(fn, ms) {
  const h = setTimeout(fn, ms);
  return () => clearTimeout(h);
}

function failure(code, message, retryAfterMs) {
  const r = { ok: false, error: { code, message } };
  if (retryAfterMs != null && retryAfterMs >= 0) r.retry_after_ms = retryAfterMs;
  return r;
}

/// Runs `workflow` (already loaded into `engine`) to the end, or continues a persisted run when
/// `restore` (its event log) is given. perform(effect, {signal, feed, cache, secrets}) returns
/// {ok: true, output} or {ok: false, error: {code, message}, retry_after_ms}; a throw becomes
/// host_error. onEvents(events, {snapshot}) is awaited before effects start (snapshot() is the
/// run's state as the engine sees it now); aborting `signal` cancels the run. `cache` is the step
/// cache: get(key) -> output or undefined, set(key, output); either may return a promise (a Map
/// works, and so does IndexedDB).
/// `secrets(name)` gives a model credential's key (it reaches perform, never the engine).
/// `now` and `setTimer(fn, ms) -> cancel` are the clock, replaceable in tests.
/// Returns {status, outputs, error, snapshot}; throws EngineError from start/restore and whatever
/// onEvents throws (the run is then left as its log says, ready to be restored).
export async function runWorkflow(engine, {
  workflow, inputs = {}, options = {}, perform = performEffect, onEvents = () => {},
  now = Date.now, signal, restore, cache, secrets, setTimer = realTimer,
} = {}) {
  const begun = restore ? engine.restore(workflow, restore, options) : engine.start(workflow, inputs, options, now());
  const run = begun.run;
  const inFlight = new Map();  // effect id -> AbortController
  const done = [];             // results waiting to be resolved, in the order they finished
  let wake = null;
  const notify = () => wake?.();
  signal?.addEventListener('abort', notify);

  const progress = { snapshot: () => engine.snapshot(run) };
  // Events are written in order, one onEvents call at a time. Those that arrive while a write is
  // in flight (streamed deltas come fast) go together in the next call: one transaction per
  // batch, not per chunk. A failed write is final: later events are refused too, so the stored
  // log never has a gap.
  let pending = [];
  let writing = null;
  let failed = null;
  const cacheWrites = async (batch) => {
    if (!cache) return;
    for (const e of batch) {
      if (e.type !== 'step_succeeded' || !e.cache_key || e.cached) continue;
      try {
        await cache.set(e.cache_key, e.output);
      } catch {
        // The cache only saves work; a write that fails (a full disk) must not fail the run.
      }
    }
  };
  const flush = async () => {
    try {
      while (pending.length) {
        const batch = pending;
        pending = [];
        await onEvents(batch, progress);
        await cacheWrites(batch);
      }
    } catch (e) {
      failed = e;
      throw e;
    } finally {
      writing = null;
    }
  };
  /// Resolves once `events` (and every event before them) are written.
  const emit = (events) => {
    if (failed) return Promise.reject(failed);
    if (events?.length) pending.push(...events);
    if (!writing && pending.length) writing = flush();
    return writing ?? Promise.resolve();
  };

  const start = (effect) => {
    if (effect.kind === 'cancel') {
      inFlight.get(effect.cancels)?.abort(new DOMException('cancelled by the engine', 'AbortError'));
      inFlight.delete(effect.cancels);
      return;
    }
    const controller = new AbortController();
    inFlight.set(effect.id, controller);
    const feed = (chunk) => {
      if (!inFlight.has(effect.id)) return false;
      let fed;
      try {
        fed = engine.feed(run, effect.id, chunk, now());
      } catch {
        return false;  // the engine stopped waiting for it (a timeout) between two chunks
      }
      emit(fed.events).catch(() => {});  // the loop sees the failure when it awaits the chain
      return true;
    };
    Promise.resolve()
      .then(() => perform(effect, { signal: controller.signal, feed, cache, secrets }))
      .catch((e) => (e?.name === 'AbortError' ? failure('cancelled', 'cancelled') : failure('host_error', String(e?.message ?? e))))
      .then((result) => {
        if (inFlight.get(effect.id) !== controller) return;  // cancelled: the engine does not wait for it
        inFlight.delete(effect.id);
        done.push({ ...result, id: effect.id });
        notify();
      });
  };

  let step;
  try {
    await emit(begun.events);
    for (;;) {
      step = signal?.aborted ? engine.cancel(run, now()) : engine.poll(run, now());
      await emit(step.events);
      for (const effect of step.effects) start(effect);
      if (FINISHED.has(step.status)) break;
      if (done.length) {
        while (done.length) await emit(engine.resolve(run, done.shift(), now()).events);
        continue;
      }
      if (step.ready) {
        await yieldToEventLoop();
        continue;
      }
      if (!inFlight.size && step.wakeup == null && !signal?.aborted) {
        throw new Error(`run of '${workflow}' is ${step.status} with nothing in flight and no timer`);
      }
      await new Promise((resolve) => {
        const cancelTimer = step.wakeup == null ? () => {} : setTimer(() => wake?.(), Math.max(0, step.wakeup - now()));
        wake = () => {
          wake = null;
          cancelTimer();
          resolve();
        };
        if (done.length || signal?.aborted) wake();
      });
    }
    await emit([]);
    return { status: step.status, outputs: step.outputs ?? null, error: step.error ?? null, snapshot: engine.snapshot(run) };
  } finally {
    signal?.removeEventListener('abort', notify);
    for (const c of inFlight.values()) c.abort(new DOMException('the run ended', 'AbortError'));
    engine.close(run);
  }
}

// ---- the offline host's effects --------------------------------------------------------------

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/// Retry-After as milliseconds: delta-seconds or an HTTP date; -1 when absent or unreadable.
export function retryAfterMs(value, nowMs = Date.now()) {
  if (value == null || value === '') return -1;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? -1 : Math.max(0, at - nowMs);
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

async function httpFetch(args, signal, fetchImpl) {
  const url = String(args?.url ?? '');
  if (!/^https?:\/\//i.test(url)) return failure('bad_request', `http.fetch needs an http:// or https:// URL, got '${url}'`);
  const init = { method: args.method ?? 'GET', headers: args.headers ?? {}, signal, redirect: 'follow' };
  if (args.body != null) init.body = String(args.body);
  const maxBytes = typeof args.max_bytes === 'number' ? args.max_bytes : DEFAULT_MAX_BYTES;
  let response;
  let bytes;
  try {
    response = await fetchImpl(url, init);
    const declared = Number(response.headers.get('content-length'));
    if (declared > maxBytes) {
      response.body?.cancel?.();
      return failure('bad_request', `the response of ${url} is larger than max_bytes (${maxBytes})`);
    }
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    if (e?.name === 'AbortError' || signal?.aborted) return failure('cancelled', 'cancelled');
    return failure('host_error', `fetching ${url}: ${e?.cause?.message ?? e?.message ?? e}`);
  }
  if (bytes.length > maxBytes) return failure('bad_request', `the response of ${url} is larger than max_bytes (${maxBytes})`);
  const status = response.status;
  if (status >= 400) {
    const message = `HTTP ${status} from ${url}`;
    if (status === 429) return failure('rate_limited', message, retryAfterMs(response.headers.get('retry-after')));
    if (status >= 500) return failure('unavailable', message);
    if (status === 401 || status === 403) return failure('auth', message);
    return failure('bad_request', message);
  }
  const headers = {};
  response.headers.forEach((v, k) => {
    headers[k] = v;
  });
  const body = new TextDecoder().decode(bytes);
  return { ok: true, output: { status, headers, body, url: response.url || url } };
}

function scrub(text, secret) {
  return secret ? text.split(secret).join('[redacted]') : text;
}

/// An engine `http` effect (a model call): the request the engine encoded, the named
/// credential's header added from `secrets(name)`, the 2xx body streamed into `feed` when
/// args.stream. Resolves {status, headers, body: what was not fed}; transport failures are
/// timeout (connect: until the headers; read: the longest silence), cancelled or host_error, a
/// missing key auth. The key is scrubbed from everything returned and never leaves this function.
async function httpRequest(args, { signal, feed, secrets, fetchImpl }) {
  const headers = { ...(args.headers ?? {}) };
  let secret = null;
  if (args.credential?.name) {
    secret = secrets ? await secrets(args.credential.name) : null;
    if (!secret) {
      return failure('auth', `no key for ${args.credential.name}: add it in Settings > Models`);
    }
    headers[args.credential.header] = (args.credential.prefix ?? '') + secret;
  }
  const controller = new AbortController();
  let timedOut = null;
  const onAbort = () => controller.abort(signal.reason);
  signal?.addEventListener('abort', onAbort);
  let timer = null;
  const arm = (ms, what) => {
    clearTimeout(timer);
    if (ms > 0) {
      timer = setTimeout(() => {
        timedOut = what;
        controller.abort(new DOMException(what, 'TimeoutError'));
      }, ms);
    }
  };
  const host = String(args.url).split('/').slice(0, 3).join('/');
  try {
    arm(args.connect_timeout_ms ?? 10000, `the request to ${host} got no answer in time`);
    const response = await fetchImpl(args.url, {
      method: args.method ?? 'POST', headers, body: args.body, signal: controller.signal, redirect: 'error',
    });
    const out = { status: response.status, headers: {}, body: '' };
    response.headers.forEach((v, k) => {
      out.headers[k] = scrub(v, secret);
    });
    const decoder = new TextDecoder();
    const streamed = args.stream && response.ok && response.body && feed;
    if (!response.body) return { ok: true, output: out };
    const reader = response.body.getReader();
    for (;;) {
      arm(args.read_timeout_ms ?? 0, `the request to ${host} went silent for longer than the read timeout`);
      const { done, value } = await reader.read();
      if (done) break;
      const text = scrub(decoder.decode(value, { stream: true }), secret);
      if (streamed) feed(text);
      else out.body += text;
    }
    const rest = scrub(decoder.decode(), secret);
    if (streamed && rest) feed(rest);
    else out.body += rest;
    return { ok: true, output: out };
  } catch (e) {
    if (timedOut) return failure('timeout', timedOut);
    if (e?.name === 'AbortError' || signal?.aborted) return failure('cancelled', 'cancelled');
    return failure('unavailable', `the request to ${host} failed: ${scrub(String(e?.cause?.message ?? e?.message ?? e), secret)}`);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/// The offline host's effects: util.sleep, http.fetch (global fetch), model calls (`http`
/// effects; keys from `secrets(name)`), cache lookups in `cache` ({get}; a miss without one),
/// human.input through `ask(args, {signal, effectId})` -> the person's answer (not_implemented
/// without one). Every other agent answers not_implemented.
export async function performEffect(effect, { signal, cache, feed, secrets, ask, fetch: fetchImpl = globalThis.fetch } = {}) {
  if (effect.kind === 'cache_lookup') {
    let output;
    try {
      output = await cache?.get(effect.cache_key);
    } catch {
      output = undefined;  // an unreadable cache is a miss: the step runs again
    }
    return output === undefined ? { ok: true, output: { hit: false } } : { ok: true, output: { hit: true, output } };
  }
  if (effect.kind === 'http') return httpRequest(effect.args ?? {}, { signal, feed, secrets, fetchImpl });
  switch (effect.agent) {
    case 'util.sleep':
      try {
        await sleep(Number(effect.args?.ms ?? 0), signal);
      } catch {
        return failure('cancelled', 'cancelled');
      }
      return { ok: true, output: effect.args?.value ?? null };
    case 'http.fetch':
      return httpFetch(effect.args ?? {}, signal, fetchImpl);
    case 'human.input':
      if (!ask) return failure('not_implemented', 'this host has no one to ask (human.input)');
      try {
        return { ok: true, output: await ask(effect.args ?? {}, { signal, effectId: effect.id }) };
      } catch (e) {
        return e?.name === 'AbortError' ? failure('cancelled', 'cancelled') : failure('host_error', String(e?.message ?? e));
      }
    default:
      return failure('not_implemented', `this host does not perform '${effect.agent}' yet`);
  }
}
