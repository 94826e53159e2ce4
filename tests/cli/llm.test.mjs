// `loom run` calling language models end to end: the real native binary against the local fake
// of the OpenAI, Anthropic and Gemini APIs (tools/fake-llm, in-process on port 0). Each protocol
// streamed and not; truncation; every fault class (429 + Retry-After, 5xx and 529, a hung
// connection, a malformed answer, a cut stream, a content filter, a context too long, fallback);
// costs summed over a fan-out; budgets; Ctrl-C and --resume losing no step and running none
// twice; keys never leaking; `loom models`. LOOM_BIN names the binary (tools/test sets it).
//
// loom is always spawned asynchronously: the fake answers from this process's event loop.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeLlm } from '../../tools/fake-llm/server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loom = process.env.LOOM_BIN || join(root, 'build/native-release/loom');
const data = (f) => join(root, 'tests/cli/data', f);
const HELLO = join(root, 'workflows/examples/llm_hello.yaml');
const ONE = data('llm_one.yaml');
const TWO = data('llm_two_steps.yaml');
const FANOUT = data('llm_fanout.yaml');
const tmp = () => mkdtempSync(join(tmpdir(), 'loom-llm-'));
const T = { timeout: 120000 };

// ---------------------------------------------------------------- the fake

let fake;
before(async () => { fake = await startFakeLlm({ port: 0, chunkDelayMs: 1 }); });
after(async () => { await fake.close(); });
beforeEach(async () => { await control(fake, 'POST', '/_fake/reset'); });

async function control(server, method, path, body) {
  const r = await fetch(`${server.url}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json();
  assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}
const faults = (model, list, server = fake) => control(server, 'POST', '/_fake/faults', { model, faults: list });
const stats = (server = fake) => control(server, 'GET', '/_fake/stats');
const requestLog = (server = fake) => control(server, 'GET', '/_fake/requests');
const reset = (server = fake) => control(server, 'POST', '/_fake/reset');
// A model's counters; all zero when the fake never heard of it.
const counters = async (model, server = fake) =>
  (await stats(server)).models[model] ?? { requests: 0, completed: 0, faults: 0, streamed: 0 };

// ---------------------------------------------------------------- models files and keys

const KEY_VAR = { openai: 'LOOM_TEST_OPENAI_KEY', anthropic: 'LOOM_TEST_ANTHROPIC_KEY', gemini: 'LOOM_TEST_GEMINI_KEY' };
const KEYS = {
  LOOM_TEST_OPENAI_KEY: 'test-openai-4e1d7a90c2',
  LOOM_TEST_ANTHROPIC_KEY: 'test-anthropic-b83f02d6e5',
  LOOM_TEST_GEMINI_KEY: 'test-gemini-19c6a4f7d0',
};

// One entry of a models file pointing at `server`. provider: openai | anthropic | gemini | ollama.
function spec(provider, modelId, extra = {}, server = fake) {
  return {
    provider,
    base_url: provider === 'gemini' ? `${server.url}/v1beta` : `${server.url}/v1`,
    model: modelId,
    credential: provider === 'ollama' ? 'none' : KEY_VAR[provider],
    ...extra,
  };
}

// Writes a models file (JSON is YAML) into a fresh folder; returns its path.
function modelsFile(models, dir = tmp()) {
  const path = join(dir, 'models.yaml');
  writeFileSync(path, `${JSON.stringify({ models }, null, 2)}\n`);
  return path;
}

// ---------------------------------------------------------------- running loom

// The child's environment: nothing of ours (no real provider keys), HOME in a temp folder.
const baseEnv = () => ({ PATH: process.env.PATH, HOME: tmp(), LANG: 'C.UTF-8' });

function runLoom(args, { env = { ...baseEnv(), ...KEYS }, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(loom, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (onSpawn) onSpawn(child);
  });
}

const parseLog = (text) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
const readLog = (path) => parseLog(readFileSync(path, 'utf8'));

// loom run WORKFLOW --models M -i k=v ... --events LOG --json; parses the result and the log.
async function runFlow(workflow, models, inputs = {}, { env, extra = [], dir = tmp() } = {}) {
  const log = join(dir, 'run.jsonl');
  const args = ['run', workflow, '--models', models, '--events', log, '--json', ...extra];
  for (const [k, v] of Object.entries(inputs)) args.push('-i', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const r = await runLoom(args, env ? { env } : {});
  let result = null;
  try { result = JSON.parse(r.stdout); } catch { /* asserted by the caller */ }
  const events = existsSync(log) ? readLog(log) : [];
  return { ...r, result, events, log, dir };
}

const ofType = (events, type, step) => events.filter((e) => e.type === type && (step === undefined || e.step === step));
const words = (s) => (s.trim() ? s.trim().split(/\s+/).length : 0);
const show = (r) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

// The succeeded `answer` step of a run: its output, and the text of its last attempt's deltas.
function answerOf(r, step = 'answer') {
  const ok = ofType(r.events, 'step_succeeded', step);
  assert.equal(ok.length, 1, `one ${step} step_succeeded\n${show(r)}`);
  const deltas = ofType(r.events, 'step_output_delta', step).filter((e) => e.attempt === ok[0].attempt);
  return { output: ok[0].output, event: ok[0], deltas, streamedText: deltas.map((d) => d.delta).join('') };
}

// Each retry waited at least what its step_retrying event says: the next step_started of that
// step (and item) is no earlier than the retrying event's t + delay_ms.
function assertWaited(events, step) {
  const retries = ofType(events, 'step_retrying', step);
  for (const r of retries) {
    const next = events.find((e) => e.seq > r.seq && e.type === 'step_started' && e.step === step && e.item === r.item);
    assert.ok(next, `a step_started follows the retry at seq ${r.seq}`);
    assert.equal(next.attempt, r.attempt + 1);
    assert.ok(next.t - r.t >= r.delay_ms, `retried after ${next.t - r.t} ms, before the ${r.delay_ms} ms it announced`);
  }
  return retries;
}

// ---------------------------------------------------------------- 1. the protocols

const PROTOCOLS = [
  { provider: 'openai', id: 'gpt-e2e', price: { input: 2.5, output: 10 } },
  { provider: 'anthropic', id: 'claude-e2e', price: { input: 3, output: 15 } },
  { provider: 'gemini', id: 'gemini-e2e', price: { input: 0.3, output: 2.5 } },
  { provider: 'ollama', id: 'local-e2e', price: { input: 0, output: 0 } },
];

test('each protocol, streamed and not: the fake\'s text, its token counts and one request a run', T, async () => {
  const prompt = 'Describe the harbour at night';
  for (const p of PROTOCOLS) {
    const models = modelsFile({
      [p.provider]: spec(p.provider, p.id, { price: p.price }),
      [`${p.provider}-batch`]: spec(p.provider, p.id, { price: p.price, stream: false }),
    });
    const runs = {};
    for (const [name, streamed] of [[p.provider, true], [`${p.provider}-batch`, false]]) {
      await reset();
      // The Ollama model runs with no key at all in its environment.
      const env = p.provider === 'ollama' ? baseEnv() : undefined;
      const r = await runFlow(HELLO, models, { model: name, prompt }, { env });
      assert.equal(r.code, 0, `${name}: ${show(r)}`);
      assert.equal(r.result.status, 'succeeded');
      const { output, streamedText, deltas } = answerOf(r);
      const text = r.result.outputs.text;
      assert.equal(output.text, text);
      assert.ok(text.startsWith(`Echo: ${prompt}. `), `${name}: ${text}`);
      assert.equal(output.model, name);
      assert.equal(output.model_id, p.id);
      assert.equal(output.provider, p.provider === 'ollama' ? 'openai' : p.provider);
      assert.equal(output.finish_reason, 'stop');
      assert.equal(output.truncated, false);
      // The fake counts words: the prompt's in, the text's out.
      assert.deepEqual(output.usage, { input_tokens: words(prompt), output_tokens: words(text) });
      assert.deepEqual(r.result.usage, output.usage);
      assert.deepEqual(r.result.outputs.tokens, output.usage);
      const cost = (output.usage.input_tokens * p.price.input + output.usage.output_tokens * p.price.output) / 1e6;
      assert.ok(Math.abs(r.result.cost_usd - cost) <= 1e-12, `${name}: cost ${r.result.cost_usd} != ${cost}`);
      const started = ofType(r.events, 'step_started', 'answer');
      assert.equal(started.length, 1);
      assert.equal(started[0].model, name);
      assert.equal(started[0].model_id, p.id);
      assert.equal(started[0].provider, output.provider);
      assert.ok(started[0].estimate.input_tokens > 0 && started[0].estimate.output_tokens === 200);
      if (streamed) {
        assert.ok(deltas.length >= 2, `${name}: ${deltas.length} deltas`);
        assert.equal(streamedText, text);
      } else {
        assert.ok(deltas.length <= 1, `${name}: a whole answer comes as one piece`);
      }
      const c = await counters(p.id);
      assert.deepEqual(c, { requests: 1, completed: 1, faults: 0, streamed: streamed ? 1 : 0 }, name);
      const [req] = await requestLog();
      assert.equal(req.protocol, p.provider === 'ollama' ? 'openai' : p.provider);
      assert.equal(req.stream, streamed);
      assert.equal(req.auth, p.provider === 'ollama' ? 'absent' : 'present');
      runs[streamed ? 'streamed' : 'whole'] = text;
    }
    assert.equal(runs.streamed, runs.whole, `${p.provider}: the streamed text equals the whole answer`);
  }
});

// ---------------------------------------------------------------- 2. truncation

test('max_tokens under the natural length: finish_reason length, truncated, exactly that many tokens', T, async () => {
  for (const p of PROTOCOLS.slice(0, 3)) {
    await reset();
    const models = modelsFile({ m: spec(p.provider, p.id) });
    const r = await runFlow(ONE, models, { model: 'm', prompt: 'Tell me about rivers [[words:50]]', max_tokens: 10 });
    assert.equal(r.code, 0, `${p.provider}: ${show(r)}`);
    const { output, streamedText } = answerOf(r);
    assert.equal(output.finish_reason, 'length', p.provider);
    assert.equal(output.truncated, true);
    assert.equal(output.usage.output_tokens, 10);
    assert.equal(words(output.text), 10);
    assert.ok(output.text.startsWith('Echo: Tell me about rivers. '), output.text);  // the directive is not echoed
    assert.equal(streamedText, output.text);
    const [req] = await requestLog();
    const limit = req.body.max_completion_tokens ?? req.body.max_tokens ?? req.body.generationConfig?.maxOutputTokens;
    assert.equal(limit, 10, `${p.provider} sent max tokens 10: ${JSON.stringify(req.body)}`);
  }
});

// ---------------------------------------------------------------- 3. fault classes

// An un-faulted run's text for a model and prompt (the fake is deterministic), then a reset.
async function cleanText(models, name, prompt) {
  await reset();
  const r = await runFlow(ONE, models, { model: name, prompt });
  assert.equal(r.code, 0, show(r));
  await reset();
  return r.result.outputs.answer.text;
}

test('429 with Retry-After 1: rate_limited, retried after 1000 ms, then the answer (2 requests)', T, async () => {
  const models = modelsFile({ oa: spec('openai', 'gpt-429') });
  const prompt = 'Name three lighthouses';
  const clean = await cleanText(models, 'oa', prompt);
  await faults('gpt-429', [{ type: 'status', status: 429, retry_after: 1 }]);
  const r = await runFlow(ONE, models, { model: 'oa', prompt });
  assert.equal(r.code, 0, show(r));
  const retries = assertWaited(r.events, 'answer');
  assert.equal(retries.length, 1);
  assert.equal(retries[0].error.code, 'rate_limited');
  assert.ok(retries[0].delay_ms >= 1000, `Retry-After wins over the 50 ms backoff: ${retries[0].delay_ms}`);
  assert.equal(answerOf(r).output.text, clean);
  assert.equal(answerOf(r).event.attempt, 2);
  assert.deepEqual(await counters('gpt-429'), { requests: 2, completed: 1, faults: 1, streamed: 2 });
});

test('500 (Gemini) and 529 (Anthropic): unavailable, retried, then the answer', T, async () => {
  const cases = [
    { provider: 'gemini', id: 'gemini-500', status: 500 },
    { provider: 'anthropic', id: 'claude-529', status: 529 },
    { provider: 'openai', id: 'gpt-503', status: 503, extra: { stream: false } },
  ];
  for (const c of cases) {
    const models = modelsFile({ m: spec(c.provider, c.id, c.extra) });
    const prompt = 'Describe a storm over the moor';
    const clean = await cleanText(models, 'm', prompt);
    await faults(c.id, [{ type: 'status', status: c.status }]);
    const r = await runFlow(ONE, models, { model: 'm', prompt });
    assert.equal(r.code, 0, `${c.id}: ${show(r)}`);
    const retries = assertWaited(r.events, 'answer');
    assert.equal(retries.length, 1, c.id);
    assert.equal(retries[0].error.code, 'unavailable', c.id);
    assert.match(retries[0].error.message, new RegExp(String(c.status)));
    assert.equal(answerOf(r).output.text, clean, c.id);
    const n = await counters(c.id);
    assert.equal(n.requests, 2, c.id);
    assert.equal(n.completed, 1, c.id);
  }
});

test('a hung connection: timeout at the 1 s read timeout, retried, then the answer', T, async (t) => {
  const models = modelsFile({ an: spec('anthropic', 'claude-hang', { timeouts: { connect: '2s', read: '1s' } }) });
  const prompt = 'Write about the fog';
  const clean = await cleanText(models, 'an', prompt);
  await faults('claude-hang', [{ type: 'hang', ms: 60000 }]);
  const r = await runFlow(ONE, models, { model: 'an', prompt });
  assert.equal(r.code, 0, show(r));
  const retries = assertWaited(r.events, 'answer');
  assert.equal(retries.length, 1);
  assert.equal(retries[0].error.code, 'timeout');
  const failedAt = retries[0].t - ofType(r.events, 'step_started', 'answer')[0].t;
  assert.ok(failedAt >= 900, `the attempt gave up after the read timeout, not before (${failedAt} ms)`);
  assert.equal(answerOf(r).output.text, clean);
  assert.deepEqual(await counters('claude-hang'), { requests: 2, completed: 1, faults: 1, streamed: 2 });
  assert.match(retries[0].error.message, /read timeout \(1000 ms\)/);  // silence, not the step's deadline
});

test('a malformed answer: bad_response, retried, then the answer', T, async () => {
  const cases = [
    { provider: 'gemini', id: 'gemini-bad' },
    { provider: 'openai', id: 'gpt-bad', extra: { stream: false } },
    { provider: 'anthropic', id: 'claude-bad' },
  ];
  for (const c of cases) {
    const models = modelsFile({ m: spec(c.provider, c.id, c.extra) });
    const prompt = 'Describe an old map';
    const clean = await cleanText(models, 'm', prompt);
    await faults(c.id, [{ type: 'malformed' }]);
    const r = await runFlow(ONE, models, { model: 'm', prompt });
    assert.equal(r.code, 0, `${c.id}: ${show(r)}`);
    const retries = assertWaited(r.events, 'answer');
    assert.equal(retries.length, 1, c.id);
    assert.equal(retries[0].error.code, 'bad_response', c.id);
    assert.equal(answerOf(r).output.text, clean, c.id);
    assert.deepEqual(await counters(c.id), { requests: 2, completed: 1, faults: 1, streamed: c.extra ? 0 : 2 }, c.id);
  }
});

test('a stream cut after N deltas: retried, and the final text is whole', T, async () => {
  const cases = [
    { provider: 'openai', id: 'gpt-cut', after: 3 },
    { provider: 'gemini', id: 'gemini-cut', after: 2 },
    { provider: 'anthropic', id: 'claude-cut', after: 4 },
    { provider: 'openai', id: 'gpt-cut-whole', after: 0, extra: { stream: false } },
  ];
  for (const c of cases) {
    const models = modelsFile({ m: spec(c.provider, c.id, c.extra) });
    const prompt = 'Tell of the bell tower';
    const clean = await cleanText(models, 'm', prompt);
    await faults(c.id, [{ type: 'cut', after: c.after }]);
    const r = await runFlow(ONE, models, { model: 'm', prompt });
    assert.equal(r.code, 0, `${c.id}: ${show(r)}`);
    const retries = assertWaited(r.events, 'answer');
    assert.equal(retries.length, 1, c.id);
    assert.equal(retries[0].error.code, 'unavailable', `${c.id}: ${JSON.stringify(retries[0].error)}`);
    const { output, streamedText } = answerOf(r);
    assert.equal(output.text, clean, c.id);
    assert.equal(output.finish_reason, 'stop');
    if (!c.extra) {
      // The cut attempt showed the first deltas; the retry streamed the whole text again.
      const partial = ofType(r.events, 'step_output_delta', 'answer').filter((e) => e.attempt === 1).map((e) => e.delta).join('');
      assert.ok(partial.length > 0 && clean.startsWith(partial) && partial.length < clean.length, `${c.id}: ${partial}`);
      assert.equal(streamedText, clean);
    }
    const n = await counters(c.id);
    assert.equal(n.requests, 2, c.id);
    assert.equal(n.completed, 1, c.id);
  }
});

test('a filtered answer: content_filtered, not retried, the run fails with exit 1', T, async () => {
  for (const p of PROTOCOLS.slice(0, 3)) {
    await reset();
    const id = `${p.id}-filter`;
    const models = modelsFile({ m: spec(p.provider, id) });
    await faults(id, [{ type: 'filter' }]);
    const r = await runFlow(ONE, models, { model: 'm', prompt: 'Something the filter dislikes' });
    assert.equal(r.code, 1, `${p.provider}: ${show(r)}`);
    assert.equal(r.result.status, 'failed');
    assert.equal(r.result.error.code, 'content_filtered', `${p.provider}: ${JSON.stringify(r.result.error)}`);
    assert.equal(ofType(r.events, 'step_retrying').length, 0, p.provider);
    const failed = ofType(r.events, 'step_failed', 'answer');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].error.code, 'content_filtered');
    assert.equal((await counters(id)).requests, 1, p.provider);
  }
});

test('context too long: bad_request, not retried, with the provider\'s own message', T, async () => {
  const said = {
    openai: /maximum context length is 128000 tokens/,
    anthropic: /prompt is too long: \d+ tokens > 200000 maximum/,
    gemini: /exceeds the maximum number of tokens allowed \(1048576\)/,
  };
  for (const p of PROTOCOLS.slice(0, 3)) {
    await reset();
    const id = `${p.id}-long`;
    const models = modelsFile({ m: spec(p.provider, id) });
    await faults(id, [{ type: 'context_too_long' }]);
    const r = await runFlow(ONE, models, { model: 'm', prompt: 'A very long manuscript' });
    assert.equal(r.code, 1, `${p.provider}: ${show(r)}`);
    assert.equal(r.result.error.code, 'bad_request', `${p.provider}: ${JSON.stringify(r.result.error)}`);
    assert.match(r.result.error.message, said[p.provider]);
    const failed = ofType(r.events, 'step_failed', 'answer');
    assert.equal(failed.length, 1);
    assert.match(failed[0].error.message, said[p.provider]);
    assert.equal(ofType(r.events, 'step_retrying').length, 0);
    assert.equal((await counters(id)).requests, 1, p.provider);
  }
});

test('three 500s on a model with a fallback: the fallback answers', T, async () => {
  const models = modelsFile({
    primary: spec('openai', 'gpt-primary', { fallback: ['other'] }),
    other: spec('anthropic', 'claude-other'),
  });
  await faults('gpt-primary', [{ type: 'status', status: 500 }, { type: 'status', status: 500 }, { type: 'status', status: 500 }]);
  const r = await runFlow(ONE, models, { model: 'primary', prompt: 'Open the last chapter' });
  assert.equal(r.code, 0, show(r));
  const retries = assertWaited(r.events, 'answer');
  assert.deepEqual(retries.map((e) => e.error.code), ['unavailable', 'unavailable', 'unavailable']);
  assert.deepEqual(retries.map((e) => e.fallback ?? null), [null, null, 'other']);
  const started = ofType(r.events, 'step_started', 'answer');
  assert.deepEqual(started.map((e) => e.model), ['primary', 'primary', 'primary', 'other']);
  const { output } = answerOf(r);
  assert.equal(output.model, 'other');
  assert.equal(output.model_id, 'claude-other');
  assert.equal(output.provider, 'anthropic');
  assert.ok(output.text.startsWith('Echo: Open the last chapter. '));
  assert.deepEqual(await counters('gpt-primary'), { requests: 3, completed: 0, faults: 3, streamed: 3 });
  assert.deepEqual(await counters('claude-other'), { requests: 1, completed: 1, faults: 0, streamed: 1 });
});

// ---------------------------------------------------------------- 4. costs

test('a fan-out over three priced models: usage and cost add up to the fake\'s counts', T, async () => {
  const prices = {
    cheap: { input: 0.15, output: 0.6 },
    mid: { input: 3, output: 15 },
    dear: { input: 2.5, output: 10 },
  };
  const models = modelsFile({
    cheap: spec('gemini', 'gemini-voice', { price: prices.cheap }),
    mid: spec('anthropic', 'claude-voice', { price: prices.mid }),
    dear: spec('openai', 'gpt-voice', { price: prices.dear, stream: false }),
  });
  const prompt = 'Say the opening line of a ghost story.';
  const r = await runFlow(FANOUT, models, { models: ['cheap', 'mid', 'dear'], prompt });
  assert.equal(r.code, 0, show(r));
  const voices = r.result.outputs.voices;
  assert.deepEqual(voices.map((v) => v.model), ['cheap', 'mid', 'dear']);
  // The fake's counts: tokens are words; each request's prompt is the whole input.
  const reqs = await requestLog();
  assert.equal(reqs.length, 3);
  let input = 0;
  let output = 0;
  let cost = 0;
  for (const v of voices) {
    assert.ok(v.text.startsWith('Echo: Say the opening line of a ghost story.'), v.text);
    assert.deepEqual(v.usage, { input_tokens: words(prompt), output_tokens: words(v.text) }, v.model);
    const c = (v.usage.input_tokens * prices[v.model].input + v.usage.output_tokens * prices[v.model].output) / 1e6;
    assert.ok(Math.abs(v.cost_usd - c) <= 1e-12, `${v.model}: ${v.cost_usd} != ${c}`);
    input += v.usage.input_tokens;
    output += v.usage.output_tokens;
    cost += c;
  }
  assert.equal(new Set(voices.map((v) => v.text)).size, 3, 'three models, three texts');
  // What each provider was sent, as the fake logged it: one request per model, the prompt as
  // the only message, so its words are the input tokens counted.
  const sent = (body) => (body.messages ? body.messages.map((m) => m.content) : body.contents.map((c) => c.parts.map((x) => x.text).join('\n')));
  const byId = { 'gemini-voice': 'cheap', 'claude-voice': 'mid', 'gpt-voice': 'dear' };
  assert.deepEqual(reqs.map((q) => byId[q.model]).sort(), ['cheap', 'dear', 'mid']);
  for (const q of reqs) {
    const v = voices.find((x) => x.model === byId[q.model]);
    const texts = sent(q.body).map((t) => (typeof t === 'string' ? t : t.map((x) => x.text).join('\n')));
    assert.deepEqual(texts, [prompt], q.model);
    assert.equal(v.usage.input_tokens, words(texts.join(' ')), q.model);
  }
  assert.deepEqual(r.result.usage, { input_tokens: input, output_tokens: output });
  assert.ok(Math.abs(r.result.cost_usd - cost) <= 1e-12, `run cost ${r.result.cost_usd} != ${cost}`);
  // The step_succeeded events carry the same per-item spend.
  const items = ofType(r.events, 'step_succeeded', 'voices').filter((e) => e.item !== undefined);
  assert.equal(items.length, 3);
  const sum = items.reduce((a, e) => a + e.cost_usd, 0);
  assert.ok(Math.abs(sum - cost) <= 1e-12);
  for (const id of ['gemini-voice', 'claude-voice', 'gpt-voice']) assert.equal((await counters(id)).requests, 1, id);
});

// ---------------------------------------------------------------- 5. budgets

test('a budget too small for the worst case refuses the call: budget_exceeded, no request', T, async () => {
  const models = modelsFile({ oa: spec('openai', 'gpt-budget', { price: { input: 2.5, output: 10 } }) });
  const inputs = { model: 'oa', prompt: 'Write the first page', max_tokens: 500 };
  // The worst case the engine computes (prompt estimate + max_tokens), from an unbudgeted run.
  const free = await runFlow(ONE, models, inputs);
  assert.equal(free.code, 0, show(free));
  const { estimate } = ofType(free.events, 'step_started', 'answer')[0];
  assert.equal(estimate.output_tokens, 500);
  assert.ok(Math.abs(estimate.cost_usd - (estimate.input_tokens * 2.5 + 500 * 10) / 1e6) <= 1e-12);

  for (const extra of [['--budget-usd', String(estimate.cost_usd * 0.9)],
    ['--budget-tokens', String(estimate.input_tokens + estimate.output_tokens - 1)]]) {
    await reset();
    const r = await runFlow(ONE, models, inputs, { extra });
    assert.equal(r.code, 1, `${extra.join(' ')}: ${show(r)}`);
    assert.equal(r.result.error.code, 'budget_exceeded', extra[0]);
    assert.equal(ofType(r.events, 'step_started', 'answer').length, 0);
    assert.equal(ofType(r.events, 'step_failed', 'answer')[0].error.code, 'budget_exceeded');
    assert.equal((await counters('gpt-budget')).requests, 0, `${extra[0]}: the provider was never called`);
    assert.equal((await stats()).total, 0);
  }
  // Just enough budget: the call runs.
  for (const extra of [['--budget-usd', String(estimate.cost_usd * 1.1)],
    ['--budget-tokens', String(estimate.input_tokens + estimate.output_tokens)]]) {
    await reset();
    const r = await runFlow(ONE, models, inputs, { extra });
    assert.equal(r.code, 0, `${extra.join(' ')}: ${show(r)}`);
    assert.equal((await counters('gpt-budget')).requests, 1);
  }
});

// ---------------------------------------------------------------- 6. Ctrl-C and --resume

// Polls a log file (asynchronously: the fakes must keep answering) until `pred` holds for an event.
async function waitForEvent(path, pred, ms = 60000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const text = await readFile(path, 'utf8');
      const lines = text.split('\n');
      lines.pop();  // a line still being written
      if (lines.filter(Boolean).map((l) => JSON.parse(l)).some(pred)) return;
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no matching event in ${path} after ${ms} ms`);
}

test('Ctrl-C while step b streams, then --resume: no step lost, none run twice', T, async () => {
  // b's model is served slowly (100 ms between deltas: seconds of streaming) by a second fake.
  const slow = await startFakeLlm({ port: 0, chunkDelayMs: 100 });
  try {
    const models = modelsFile({
      quick: spec('openai', 'gpt-draft'),
      slow: spec('anthropic', 'claude-revise', {}, slow),
    });
    const inputs = { a_model: 'quick', b_model: 'slow' };
    // The uninterrupted run, for the expected outputs: the text depends on the request only, so
    // the same models served by the quick fake give the same answers.
    const fastModels = modelsFile({ quick: spec('openai', 'gpt-draft'), slow: spec('anthropic', 'claude-revise') });
    const whole = await runFlow(TWO, fastModels, inputs);
    assert.equal(whole.code, 0, show(whole));
    assert.equal((await counters('claude-revise')).requests, 1);
    assert.ok(whole.result.outputs.revision.startsWith('Echo: Revise this draft: Echo: Draft a paragraph'), whole.result.outputs.revision);
    await reset();
    await reset(slow);

    const dir = tmp();
    const log = join(dir, 'run.jsonl');
    const args = ['run', TWO, '--models', models, '--events', log];
    for (const [k, v] of Object.entries(inputs)) args.push('-i', `${k}=${v}`);
    let child;
    const first = runLoom(args, { onSpawn: (c) => { child = c; } });
    try {
      await waitForEvent(log, (e) => e.type === 'step_output_delta' && e.step === 'b');
    } catch (e) {
      child.kill('SIGKILL');
      throw new Error(`${e.message}\n${show(await first)}`);
    }
    child.kill('SIGINT');
    const stopped = await first;
    assert.equal(stopped.code, 130, show(stopped));
    assert.match(stopped.stderr, /interrupted\. Resume with:\n +loom run .*llm_two_steps\.yaml --resume .*run\.jsonl/);
    const before = readLog(log);
    assert.equal(ofType(before, 'step_succeeded', 'a').length, 1);
    assert.equal(ofType(before, 'step_started', 'b').length, 1);
    assert.equal(ofType(before, 'step_succeeded', 'b').length, 0, 'b was still streaming');
    assert.ok(!before.some((e) => e.type.startsWith('run_') && e.type !== 'run_started'));
    assert.deepEqual(await counters('claude-revise', slow), { requests: 1, completed: 0, faults: 0, streamed: 1 });

    const second = await runLoom(['run', TWO, '--models', models, '--resume', log, '--json']);
    assert.equal(second.code, 0, show(second));
    assert.match(second.stderr, /resuming llm_two_steps from/);
    const result = JSON.parse(second.stdout);
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(result.outputs, whole.result.outputs);

    assert.equal((await counters('gpt-draft')).requests, 1, 'a was called once in all');
    assert.deepEqual(await counters('claude-revise', slow), { requests: 2, completed: 1, faults: 0, streamed: 2 },
      'b: the interrupted call and the resumed one');
    const events = readLog(log);
    assert.equal(ofType(events, 'step_started', 'a').length, 1);
    assert.equal(ofType(events, 'step_succeeded', 'a').length, 1);
    assert.equal(ofType(events, 'step_started', 'b').length, 2);
    assert.equal(ofType(events, 'step_succeeded', 'b').length, 1);
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    assert.equal(events.at(-1).type, 'run_succeeded');
    // The run's usage counts a once and b's finished answer (the interrupted call billed nothing here).
    assert.deepEqual(result.usage, whole.result.usage);
  } finally {
    await slow.close();
  }
});

// ---------------------------------------------------------------- 7. keys

// Every file under `dir`, recursively.
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test('API keys never leak: not in stdout, stderr, the event log or the step cache', T, async () => {
  const GOOD = 'test-SECRET-7f3c9a2b';
  const BAD = 'bad-SECRET-51e0d4c8';
  const echoed = {
    openai: /Incorrect API key provided/,
    anthropic: /invalid x-api-key/,
    gemini: /API key not valid/,
  };
  for (const p of PROTOCOLS.slice(0, 3)) {
    await reset();
    const dir = tmp();
    const cache = join(dir, 'cache');
    const models = modelsFile({ m: spec(p.provider, `${p.id}-keys`) }, dir);
    const envWith = (key) => ({ ...baseEnv(), [KEY_VAR[p.provider]]: key });
    const runs = [];
    const ok = await runFlow(HELLO, models, { model: 'm', prompt: 'Keep this secret' },
      { env: envWith(GOOD), extra: ['--cache-dir', cache], dir: mkdtempSync(join(dir, 'ok-')) });
    assert.equal(ok.code, 0, `${p.provider}: ${show(ok)}`);
    runs.push(ok);
    const bad = await runFlow(HELLO, models, { model: 'm', prompt: 'Keep this secret too' },
      { env: envWith(BAD), extra: ['--cache-dir', cache], dir: mkdtempSync(join(dir, 'bad-')) });
    assert.equal(bad.code, 1, `${p.provider}: ${show(bad)}`);
    assert.equal(bad.result.error.code, 'auth');
    assert.match(bad.result.error.message, echoed[p.provider], 'the 401 body (which echoes the key) came back');
    const failed = ofType(bad.events, 'step_failed', 'answer');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].error.code, 'auth');
    assert.match(failed[0].error.hint, new RegExp(KEY_VAR[p.provider]));
    assert.equal(ofType(bad.events, 'step_retrying').length, 0, 'auth is not retried');
    runs.push(bad);

    // The key really went out, on both runs.
    const reqs = await requestLog();
    assert.equal(reqs.length, 2, p.provider);
    assert.deepEqual(reqs.map((q) => q.auth), ['present', 'present']);

    const cacheFiles = filesUnder(cache);
    assert.ok(cacheFiles.length >= 1, 'the successful answer was cached');
    const places = [
      ...runs.flatMap((r, i) => [[`run ${i} stdout`, r.stdout], [`run ${i} stderr`, r.stderr],
        [`run ${i} events`, readFileSync(r.log, 'utf8')]]),
      ...cacheFiles.map((f) => [f, readFileSync(f, 'utf8')]),
    ];
    for (const [where, text] of places) {
      for (const secret of [GOOD, BAD, '7f3c9a2b', '51e0d4c8']) {
        assert.ok(!text.includes(secret), `${p.provider}: '${secret}' leaked into ${where}`);
      }
    }
  }
});

test('a missing key variable fails with auth naming it, and nothing is sent', T, async () => {
  for (const p of PROTOCOLS.slice(0, 3)) {
    await reset();
    const models = modelsFile({ m: spec(p.provider, `${p.id}-nokey`) });
    const r = await runFlow(HELLO, models, { model: 'm' }, { env: baseEnv() });
    assert.equal(r.code, 1, `${p.provider}: ${show(r)}`);
    assert.equal(r.result.error.code, 'auth');
    assert.match(r.result.error.message, new RegExp(`${KEY_VAR[p.provider]}.*not set`));
    const failed = ofType(r.events, 'step_failed', 'answer');
    assert.equal(failed.length, 1);
    assert.match(failed[0].error.hint, new RegExp(`export ${KEY_VAR[p.provider]}=`));
    assert.equal((await stats()).total, 0, `${p.provider}: the fake saw no request`);
  }
});

// ---------------------------------------------------------------- 8. loom models

test('loom models lists each model and whether its key is set, never the key', T, async () => {
  const SECRET = 'test-SECRET-c0ffee42';
  const models = modelsFile({
    writer: spec('openai', 'gpt-list', { price: { input: 2.5, output: 10 }, fallback: ['critic'] }),
    critic: spec('anthropic', 'claude-list'),
    local: spec('ollama', 'local-list'),
  });
  const r = await runLoom(['models', '--models', models], { env: { ...baseEnv(), LOOM_TEST_OPENAI_KEY: SECRET } });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^writer +openai +gpt-list +http:\/\/127\.0\.0\.1:\d+\/v1$/m);
  assert.match(r.stdout, /^critic +anthropic +claude-list /m);
  assert.match(r.stdout, /^local +openai +local-list /m);
  assert.match(r.stdout, /LOOM_TEST_OPENAI_KEY is set · \$2\.50 \/ \$10\.00 per million tokens in \/ out · falls back to critic/);
  assert.match(r.stdout, /LOOM_TEST_ANTHROPIC_KEY is NOT set/);
  assert.match(r.stdout, /no key needed/);
  for (const text of [r.stdout, r.stderr]) {
    assert.ok(!text.includes(SECRET) && !text.includes('c0ffee42'), 'the key is never printed');
  }
  assert.equal((await stats()).total, 0, 'listing calls no model');
});

test('finding the models file: a broken one is reported at its line; none at all stops a model workflow', T, async () => {
  const dir = tmp();
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'models:\n  draft: {provider: opneai, model: m}\n');
  // Named with --models: its errors stop the run, whatever the workflow.
  let r = await runLoom(['run', HELLO, '--models', broken]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /broken\.yaml:2:\d+: error\[invalid_value\]: model 'draft': unknown provider 'opneai'/);
  assert.match(r.stderr, /did you mean 'openai'\?/);
  // Found through LOOM_MODELS, by a workflow that calls no model: reported, and the run goes on.
  const offline = join(root, 'workflows/examples/keywords_digest.yaml');
  r = await runLoom(['run', offline, '-i', 'text=The sea at dawn. The sea at night.'], {
    env: { ...baseEnv(), LOOM_MODELS: broken },
  });
  assert.match(r.stderr, /error\[invalid_value\]/, show(r));
  assert.match(r.stderr, /going on without .*broken\.yaml/);
  assert.equal(r.code, 0, show(r));
  // No models file anywhere, and the workflow calls a model: stopped before anything starts.
  r = await runLoom(['run', HELLO], { env: baseEnv() });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /llm_hello calls models, and no models file was found/);
  assert.match(r.stderr, /--models workflows\/models\/default\.yaml/);
});
