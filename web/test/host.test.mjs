// host.js: the host loop against the wasm engine with scripted hosts (no real waits).
import test from 'node:test';
import assert from 'node:assert/strict';
import { loadEngine, ErrorCode, EngineError } from '../src/engine.js';
import { runWorkflow, performEffect } from '../src/host.js';
import { loadShipped, virtualClock, tick } from './helpers.mjs';

async function withShipped(fn) {
  const engine = await loadEngine();
  try {
    loadShipped(engine);
    return await fn(engine);
  } finally {
    engine.dispose();
  }
}

function assertSeqs(events) {
  assert.ok(events.length > 0);
  events.forEach((e, i) => assert.equal(e.seq, i + 1, `event ${i} has seq ${i + 1}`));
}

const DOCUMENT = [
  'The lighthouse keeper counted the ships every night. He wrote their names in a blue ledger. ' +
    'The ledger was older than the lighthouse itself. Nobody in the village knew who had started it.',
  'One winter a ship came that had no name. The keeper watched it for three nights. ' +
    'On the fourth night it was gone, and a new page of the ledger was filled in a hand he did not know.',
  'He asked the harbour master about the ship. The harbour master laughed and poured him a drink. ' +
    'Ships without names, he said, are the only ones worth counting.',
].join('\n\n');

test('ingestion_digest runs to a digest of the document; seqs increase; nothing is performed', async () => {
  await withShipped(async (engine) => {
    const events = [];
    const performed = [];
    const result = await runWorkflow(engine, {
      workflow: 'ingestion_digest',
      inputs: { document: DOCUMENT, chunk_chars: 300, max_sentences: 1 },
      perform: async (effect) => performed.push(effect),
      onEvents: (batch) => events.push(...batch),
    });
    assert.equal(result.status, 'succeeded');
    assert.equal(result.error, null);
    assertSeqs(events);
    assert.equal(events[0].type, 'run_started');
    assert.equal(events.at(-1).type, 'run_succeeded');
    assert.deepEqual(events.at(-1).outputs, result.outputs);
    assert.equal(performed.length, 0, 'text agents run inside the engine');

    const { digest, keywords, chunk_count: chunks } = result.outputs;
    assert.ok(chunks >= 3, `the document was chunked (${chunks} chunks)`);
    const paragraphs = digest.split('\n\n');
    assert.equal(paragraphs.length, chunks, 'one summary per chunk');
    const flat = DOCUMENT.replace(/\s+/g, ' ');
    for (const p of paragraphs) assert.ok(flat.includes(p.trim()), `'${p}' is a sentence of the document`);
    assert.ok(digest.length < DOCUMENT.length / 2);
    assert.match(keywords, /ledger|ship|keeper|lighthouse/);
    const summary = result.snapshot.steps.find((s) => s.path === 'summary');
    assert.equal(summary.status, 'succeeded');
    assert.equal(events.filter((e) => e.type === 'step_succeeded' && e.step === 'summary' && e.item != null).length, chunks);
  });
});

test('events are stored (onEvents awaited) before the effects they announce are performed', async () => {
  await withShipped(async (engine) => {
    const stored = [];
    const timeline = [];
    const result = await runWorkflow(engine, {
      workflow: 'example_parallel',
      inputs: { ms: 1 },
      onEvents: async (batch) => {
        timeline.push(`store ${batch.map((e) => e.seq).join(',')}`);
        await tick(5);  // slow storage: a loop that does not await would perform meanwhile
        stored.push(...batch);
      },
      perform: async (effect) => {
        const started = stored.find((e) => e.type === 'step_started' && e.effect === effect.id);
        assert.ok(started, `step_started of effect ${effect.id} (${effect.step}) was stored before perform`);
        timeline.push(`perform ${effect.step}`);
        return { ok: true, output: effect.args.value };
      },
    });
    assert.equal(result.status, 'succeeded');
    assert.equal(result.outputs.joined, 'abcd');
    assertSeqs(stored);
    assert.deepEqual(timeline.filter((t) => t.startsWith('perform')).sort(), ['perform a', 'perform b', 'perform c', 'perform d']);
    // c waits for a pool slot (slow: 2), so it is performed after a later store.
    assert.ok(timeline.indexOf('perform c') > timeline.indexOf('perform a'));
  });
});

test('retry: an unavailable first attempt is retried after its backoff and the run succeeds', async () => {
  await withShipped(async (engine) => {
    const clock = virtualClock();
    const events = [];
    const calls = [];
    const result = await runWorkflow(engine, {
      workflow: 'example_retry_timeout',
      inputs: { url: 'http://example.test/page' },
      now: clock.now,
      setTimer: clock.setTimer,
      onEvents: (batch) => events.push(...batch),
      perform: async (effect) => {
        calls.push({ step: effect.step, attempt: effect.attempt, t: clock.now() });
        if (effect.step === 'mirror') return { ok: false, error: { code: 'host_error', message: 'unreachable' } };
        if (effect.attempt === 1) return { ok: false, error: { code: 'unavailable', message: 'HTTP 503' } };
        return { ok: true, output: { status: 200, headers: {}, body: 'The page is back. It has two sentences.', url: effect.args.url } };
      },
    });
    assert.equal(result.status, 'succeeded');
    assertSeqs(events);
    const page = result.snapshot.steps.find((s) => s.path === 'page');
    assert.equal(page.attempts, 2);
    assert.equal(page.status, 'succeeded');
    const retrying = events.filter((e) => e.type === 'step_retrying');
    assert.equal(retrying.length, 1);
    assert.equal(retrying[0].step, 'page');
    assert.equal(retrying[0].error.code, 'unavailable');
    assert.ok(retrying[0].delay_ms >= 1000, `backoff of about 2s (${retrying[0].delay_ms} ms)`);
    const pageCalls = calls.filter((c) => c.step === 'page');
    assert.deepEqual(pageCalls.map((c) => c.attempt), [1, 2]);
    assert.ok(pageCalls[1].t - pageCalls[0].t >= retrying[0].delay_ms, 'attempt 2 waited for the backoff');
    assert.equal(result.outputs.digest, 'The page is back. It has two sentences.');
    assert.equal(result.outputs.mirror_status, 'failed', 'the optional mirror failed without failing the run');
  });
});

test('a perform that throws reports host_error (retryable); not_implemented agents fail the step', async () => {
  await withShipped(async (engine) => {
    const clock = virtualClock();
    let n = 0;
    const result = await runWorkflow(engine, {
      workflow: 'example_retry_timeout',
      inputs: { url: 'http://example.test/' },
      now: clock.now,
      setTimer: clock.setTimer,
      perform: async (effect) => {
        if (effect.step === 'mirror') return performEffect({ ...effect, agent: 'llm.generate' });
        if (++n === 1) throw new TypeError('socket hang up');
        return { ok: true, output: { status: 200, headers: {}, body: 'Fine.', url: '' } };
      },
    });
    assert.equal(result.status, 'succeeded');
    const mirror = result.snapshot.steps.find((s) => s.path === 'mirror');
    assert.equal(mirror.status, 'failed');
    assert.match(JSON.stringify(mirror), /not_implemented/);
    assert.match(JSON.stringify(mirror), /this host does not perform 'llm\.generate' yet/);
    assert.equal(result.snapshot.steps.find((s) => s.path === 'page').attempts, 2);
  });
});

test('cancel: aborting the signal aborts in-flight effects and the run ends cancelled', { timeout: 10_000 }, async () => {
  await withShipped(async (engine) => {
    const controller = new AbortController();
    const signals = new Map();
    const events = [];
    const began = Date.now();
    const result = await runWorkflow(engine, {
      workflow: 'example_parallel',
      inputs: { ms: 3000 },
      signal: controller.signal,
      onEvents: (batch) => {
        events.push(...batch);
        if (events.filter((e) => e.type === 'step_started' && e.effect).length === 3) setTimeout(() => controller.abort(), 10);
      },
      perform: (effect, ctx) => {
        signals.set(effect.step, ctx.signal);
        return performEffect(effect, ctx);  // a real 3 s util.sleep, which must honour the abort
      },
    });
    assert.equal(result.status, 'cancelled');
    assert.ok(Date.now() - began < 1500, 'the sleeps were cut short');
    assert.deepEqual([...signals.keys()].sort(), ['a', 'b', 'd']);
    for (const [step, s] of signals) assert.equal(s.aborted, true, `${step} saw its signal aborted`);
    assert.equal(events.at(-1).type, 'run_cancelled');
    assert.equal(events.filter((e) => e.type === 'step_succeeded' && ['a', 'b', 'c', 'd'].includes(e.step)).length, 0);
    assertSeqs(events);
  });
});

test('an already aborted signal cancels the run before anything is performed', async () => {
  await withShipped(async (engine) => {
    const controller = new AbortController();
    controller.abort();
    let performed = 0;
    const result = await runWorkflow(engine, {
      workflow: 'example_parallel', signal: controller.signal, perform: async () => { performed++; return { ok: true }; },
    });
    assert.equal(result.status, 'cancelled');
    assert.equal(performed, 0);
  });
});

class Crash extends Error {}

test('restore: a run stopped after N events resumes from its log without redoing finished steps', async () => {
  await withShipped(async (engine) => {
    const log = [];
    const firstPerformed = [];
    const firstSignals = new Map();
    await assert.rejects(runWorkflow(engine, {
      workflow: 'example_parallel',
      inputs: { ms: 5 },
      onEvents: (batch) => {
        log.push(...batch);  // stored...
        if (log.some((e) => e.type === 'step_succeeded' && e.step === 'a')) throw new Crash('the tab was closed');
      },
      perform: async (effect, { signal }) => {
        firstPerformed.push(effect.step);
        firstSignals.set(effect.step, signal);
        await tick(effect.step === 'a' ? 1 : 50);
        return { ok: true, output: effect.args.value };
      },
    }), Crash);
    const finished = new Set(log.filter((e) => e.type === 'step_succeeded').map((e) => e.step));
    const unfinished = [...firstSignals.keys()].filter((step) => !finished.has(step));
    assert.ok(unfinished.length > 0, 'some effects were still in flight at the crash');
    for (const step of unfinished) assert.equal(firstSignals.get(step).aborted, true, `the crashed loop aborted ${step}`);
    assert.ok(finished.has('start') && finished.has('a'));
    assert.ok(!finished.has('join'));
    const n = log.length;

    const performed = [];
    const more = [];
    const result = await runWorkflow(engine, {
      workflow: 'example_parallel',
      restore: log.slice(),
      onEvents: (batch) => more.push(...batch),
      perform: async (effect) => {
        performed.push(effect.step);
        return { ok: true, output: effect.args.value };
      },
    });
    assert.equal(result.status, 'succeeded');
    assert.equal(result.outputs.joined, 'abcd');
    for (const step of finished) assert.ok(!performed.includes(step), `${step} finished before the crash and was not performed again`);
    assert.deepEqual(performed.sort(), ['a', 'b', 'c', 'd'].filter((s) => !finished.has(s)).sort());
    assert.equal(more[0].seq, n + 1, 'the restored log continues where the stored one ended');
    assertSeqs([...log, ...more]);
    for (const step of ['a', 'b', 'c', 'd', 'join']) {
      assert.equal([...log, ...more].filter((e) => e.type === 'step_succeeded' && e.step === step).length, 1, `${step} succeeded once`);
    }
  });
});

test('restore: a log of another workflow is refused with BAD_EVENT_LOG', async () => {
  await withShipped(async (engine) => {
    const log = [];
    await runWorkflow(engine, { workflow: 'example_parallel', inputs: { ms: 0 }, onEvents: (b) => log.push(...b),
      perform: async (e) => ({ ok: true, output: e.args.value }) });
    await assert.rejects(runWorkflow(engine, { workflow: 'ingestion_digest', restore: log }),
      (e) => e instanceof EngineError && e.code === ErrorCode.BAD_EVENT_LOG);
  });
});

test('cache: succeeded cacheable outputs are stored and a later run with use_cache hits them', async () => {
  await withShipped(async (engine) => {
    const cache = new Map();
    let fetches = 0;
    const perform = (effect, ctx) => {
      if (effect.kind === 'cache_lookup') return performEffect(effect, ctx);
      if (effect.agent === 'http.fetch') fetches++;
      return { ok: true, output: { status: 200, headers: {}, body: `Body of ${effect.args.url}.`, url: effect.args.url } };
    };
    const inputs = { url: 'http://example.test/a', mirror_url: 'http://example.test/b' };
    const first = await runWorkflow(engine, { workflow: 'example_retry_timeout', inputs, options: { use_cache: true }, cache, perform });
    assert.equal(first.status, 'succeeded');
    assert.equal(fetches, 2);
    assert.equal(cache.size, 2);
    const events = [];
    const second = await runWorkflow(engine, { workflow: 'example_retry_timeout', inputs, options: { use_cache: true }, cache, perform,
      onEvents: (b) => events.push(...b) });
    assert.equal(second.status, 'succeeded');
    assert.equal(fetches, 2, 'the second run was served from the cache');
    assert.equal(events.filter((e) => e.type === 'step_succeeded' && e.cached).length, 2);
    assert.deepEqual(second.outputs, first.outputs);
  });
});

const STREAMER = `name: streamer
steps:
  - id: s
    agent: util.sleep
    with: {ms: 1}
  - id: t
    agent: util.sleep
    needs: [s]
    with: {ms: 1}
outputs:
  done: "{{ steps.t.output }}"
`;

test('events that arrive while a write is in flight are written together, in order, with no gap', async () => {
  const engine = await loadEngine();
  try {
    engine.load(STREAMER);
    const batches = [];
    const result = await runWorkflow(engine, {
      workflow: 'streamer',
      perform: async (effect, { feed }) => {
        for (let i = 0; i < 50; i++) feed(`word${i} `);
        return { ok: true, output: 'slept' };
      },
      onEvents: async (batch) => {
        batches.push(batch);
        await new Promise((r) => setTimeout(r, 2));  // a write takes time
      },
    });
    assert.equal(result.status, 'succeeded');
    const events = batches.flat();
    assertSeqs(events);
    const deltas = events.filter((e) => e.type === 'step_output_delta');
    assert.equal(deltas.length, 100);
    assert.equal(deltas.filter((e) => e.step === 's').map((e) => e.delta).join(''), Array.from({ length: 50 }, (_, i) => `word${i} `).join(''));
    assert.ok(batches.length < 30, `100 deltas went in ${batches.length} writes, not one write each`);
  } finally {
    engine.dispose();
  }
});

test('a failed write is final: nothing after it is written, and the run stops with that error', async () => {
  const engine = await loadEngine();
  try {
    engine.load(STREAMER);
    const written = [];
    let calls = 0;
    const performed = [];
    await assert.rejects(runWorkflow(engine, {
      workflow: 'streamer',
      perform: async (effect, { feed }) => {
        performed.push(effect.step);
        for (let i = 0; i < 20; i++) feed(`w${i} `);
        return { ok: true, output: 'slept' };
      },
      onEvents: async (batch) => {
        calls += 1;
        await new Promise((r) => setTimeout(r, 1));
        if (calls === 3) throw Object.assign(new Error('the disk is full'), { code: 'quota_exceeded' });
        written.push(...batch);
      },
    }), (e) => e.code === 'quota_exceeded');
    assertSeqs(written);  // what was written is a prefix of the log: no gap
    assert.equal(calls, 3, 'no write was tried after the failed one');
    assert.deepEqual(performed, ['s'], 'the next step was not started after the failed write');
  } finally {
    engine.dispose();
  }
});
