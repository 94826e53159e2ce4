// tools/fake-llm: the local fake of the OpenAI, Anthropic and Gemini APIs (test infrastructure).
// The server runs in-process on port 0 and is checked over real HTTP: both forms of each
// protocol, token counts and finish reasons, every fault, the auth rules, the counters, and the
// command's first line.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeLlm } from '../../tools/fake-llm/server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let fake;
before(async () => { fake = await startFakeLlm({ port: 0, chunkDelayMs: 1 }); });
after(async () => { await fake.close(); });
beforeEach(async () => { await control('POST', '/_fake/reset'); });

// ---------------------------------------------------------------- helpers

async function control(method, path, body) {
  const r = await fetch(`${fake.url}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: await r.json() };
}
const faults = (model, list) => control('POST', '/_fake/faults', { model, faults: list });
const stats = async () => (await control('GET', '/_fake/stats')).json;

const words = (s) => (s.trim() ? s.trim().split(/\s+/).length : 0);

function parseSse(text) {
  return text.split('\n\n').filter((b) => b.trim()).map((block) => {
    const e = {};
    for (const line of block.split('\n')) {
      const m = line.match(/^(event|data): ?(.*)$/);
      if (m) e[m[1]] = m[2];
    }
    return e;
  });
}
const sseJson = (text) => parseSse(text).filter((e) => e.data !== '[DONE]').map((e) => ({ event: e.event, data: JSON.parse(e.data) }));

// Reads a body to its end; {text, error} where error is set when the connection broke first.
async function readAll(r) {
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: null };
      text += dec.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

const KEY = 'sk-test-0123456789';
const call = {
  openai(body, { key = KEY, headers = {} } = {}) {
    return fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  },
  anthropic(body, { key = KEY, version = '2023-06-01', headers = {} } = {}) {
    return fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}), ...(version ? { 'anthropic-version': version } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  },
  gemini(model, body, { key = KEY, stream = false, sse = false, keyInQuery = false } = {}) {
    const q = new URLSearchParams();
    if (sse) q.set('alt', 'sse');
    if (key && keyInQuery) q.set('key', key);
    const qs = q.toString() ? `?${q}` : '';
    return fetch(`${fake.url}/v1beta/models/${model}:${stream ? 'streamGenerateContent' : 'generateContent'}${qs}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key && !keyInQuery ? { 'x-goog-api-key': key } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  },
};

const PROMPT = 'Tell me about the old lighthouse by the sea tonight please';
const ECHO = 'Echo: Tell me about the old lighthouse by the.';
const oa = (extra = {}, content = PROMPT) => ({ model: 'gpt-test', messages: [{ role: 'system', content: 'You write fiction.' }, { role: 'user', content }], ...extra });
const an = (extra = {}, content = PROMPT) => ({ model: 'claude-test', max_tokens: 1000, system: 'You write fiction.', messages: [{ role: 'user', content }], ...extra });
const ge = (extra = {}, text = PROMPT) => ({ systemInstruction: { parts: [{ text: 'You write fiction.' }] }, contents: [{ role: 'user', parts: [{ text }] }], ...extra });

// ---------------------------------------------------------------- OpenAI

test('openai: a chat.completion with deterministic text, word-count usage and finish_reason stop', async () => {
  const r = await call.openai(oa());
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  const j = await r.json();
  assert.match(j.id, /^chatcmpl-/);
  assert.equal(j.object, 'chat.completion');
  assert.equal(typeof j.created, 'number');
  assert.equal(j.model, 'gpt-test');
  assert.equal(j.choices.length, 1);
  const c = j.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(c.finish_reason, 'stop');
  assert.ok(c.message.content.startsWith(`${ECHO} `), c.message.content);
  assert.match(c.message.content, /\.$/);
  const n = words(c.message.content);
  assert.ok(n >= 30 && n <= 80, `natural length ${n}`);
  assert.deepEqual([j.usage.prompt_tokens, j.usage.completion_tokens, j.usage.total_tokens], [3 + 11, n, 14 + n]);

  // The same request gets the same text; content parts count like a string; the model is part of the seed.
  const again = await (await call.openai(oa())).json();
  assert.equal(again.choices[0].message.content, c.message.content);
  const parts = await (await call.openai(oa({}, [{ type: 'text', text: PROMPT }]))).json();
  assert.equal(parts.choices[0].message.content, c.message.content);
  const other = await (await call.openai(oa({ model: 'gpt-other' }))).json();
  assert.notEqual(other.choices[0].message.content, c.message.content);
});

test('openai: streamed chunks concatenate to the non-streamed text; the usage chunk only when asked', async () => {
  const whole = await (await call.openai(oa())).json();
  const r = await call.openai(oa({ stream: true, stream_options: { include_usage: true } }));
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const raw = await r.text();
  const events = parseSse(raw);
  assert.equal(events.at(-1).data, '[DONE]');
  const chunks = sseJson(raw).map((e) => e.data);
  assert.ok(chunks.every((ch) => ch.object === 'chat.completion.chunk' && ch.id === chunks[0].id && ch.model === 'gpt-test'));
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '', refusal: null });
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, whole.usage);
  const finish = chunks.at(-2);
  assert.deepEqual(finish.choices[0].delta, {});
  assert.equal(finish.choices[0].finish_reason, 'stop');
  const deltas = chunks.slice(1, -2).map((ch) => ch.choices[0].delta.content);
  assert.ok(deltas.length > 5);
  assert.ok(deltas.every((d) => words(d) >= 1 && words(d) <= 3), JSON.stringify(deltas));
  assert.equal(deltas.join(''), whole.choices[0].message.content);
  assert.ok(chunks.slice(0, -1).every((ch) => ch.usage === null));

  const plain = await (await call.openai(oa({ stream: true }))).text();
  const plainChunks = sseJson(plain).map((e) => e.data);
  assert.ok(plainChunks.every((ch) => ch.choices.length === 1 && !('usage' in ch)));
  assert.equal(plainChunks.at(-1).choices[0].finish_reason, 'stop');
  assert.equal(parseSse(plain).at(-1).data, '[DONE]');
});

test('openai: max_tokens and max_completion_tokens cut the text with finish_reason length; [[words:N]] sets the length', async () => {
  const natural = await (await call.openai(oa({}, 'Describe the harbour [[words:20]]'))).json();
  const text = natural.choices[0].message.content;
  assert.equal(words(text), 20);
  assert.ok(text.startsWith('Echo: Describe the harbour.'), text);
  assert.ok(!text.includes('[[words'));
  assert.equal(natural.choices[0].finish_reason, 'stop');

  const capped = await (await call.openai(oa({ max_tokens: 5 }, 'Describe the harbour [[words:20]]'))).json();
  assert.equal(capped.choices[0].finish_reason, 'length');
  assert.equal(capped.usage.completion_tokens, 5);
  assert.equal(capped.choices[0].message.content, text.split(' ').slice(0, 5).join(' '));

  const streamed = await (await call.openai(oa({ max_completion_tokens: 5, stream: true }, 'Describe the harbour [[words:20]]'))).text();
  const chunks = sseJson(streamed).map((e) => e.data);
  assert.equal(chunks.slice(1, -1).map((ch) => ch.choices[0].delta.content).join(''), capped.choices[0].message.content);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');

  const bad = await call.openai(oa({ max_tokens: 0 }));
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.type, 'invalid_request_error');
});

test('openai and anthropic: a stop sequence cuts the text before it', async () => {
  const text = (await (await call.openai(oa())).json()).choices[0].message.content;
  const stop = text.split(' ').slice(12, 14).join(' ');
  const at = text.indexOf(stop);
  const j = await (await call.openai(oa({ stop: [stop] }))).json();
  assert.equal(j.choices[0].message.content, text.slice(0, at));
  assert.equal(j.choices[0].finish_reason, 'stop');
  assert.equal(j.usage.completion_tokens, words(text.slice(0, at)));

  const atext = (await (await call.anthropic(an())).json()).content[0].text;
  const astop = atext.split(' ').slice(10, 11).join(' ');
  const a = await (await call.anthropic(an({ stop_sequences: [astop] }))).json();
  assert.equal(a.content[0].text, atext.slice(0, atext.indexOf(astop)));
  assert.equal(a.stop_reason, 'stop_sequence');
  assert.equal(a.stop_sequence, astop);
});

// ---------------------------------------------------------------- Anthropic

test('anthropic: a message with usage, and the stream events in the real order', async () => {
  const r = await call.anthropic(an());
  assert.equal(r.status, 200);
  assert.ok(r.headers.get('request-id'));
  const m = await r.json();
  assert.match(m.id, /^msg_/);
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.model, 'claude-test');
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].type, 'text');
  assert.ok(m.content[0].text.startsWith(`${ECHO} `));
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.stop_sequence, null);
  assert.equal(m.usage.input_tokens, 14);
  assert.equal(m.usage.output_tokens, words(m.content[0].text));

  // A system prompt given as text blocks is the same prompt.
  const blocks = await (await call.anthropic(an({ system: [{ type: 'text', text: 'You write fiction.' }] }))).json();
  assert.equal(blocks.content[0].text, m.content[0].text);

  const raw = await (await call.anthropic(an({ stream: true }))).text();
  const events = sseJson(raw);
  const names = events.map((e) => e.event);
  const k = names.filter((n) => n === 'content_block_delta').length;
  assert.ok(k > 5);
  assert.deepEqual(names, ['message_start', 'content_block_start', 'ping', ...Array(k).fill('content_block_delta'),
    'content_block_stop', 'message_delta', 'message_stop']);
  assert.ok(events.every((e) => e.data.type === e.event));
  const start = events[0].data.message;
  assert.equal(start.id.startsWith('msg_'), true);
  assert.deepEqual(start.content, []);
  assert.equal(start.stop_reason, null);
  assert.equal(start.usage.input_tokens, 14);
  assert.deepEqual(events[1].data.content_block, { type: 'text', text: '' });
  const text = events.filter((e) => e.event === 'content_block_delta').map((e) => {
    assert.equal(e.data.delta.type, 'text_delta');
    assert.equal(e.data.index, 0);
    return e.data.delta.text;
  }).join('');
  assert.equal(text, m.content[0].text);
  const delta = events.at(-2).data;
  assert.deepEqual(delta.delta, { stop_reason: 'end_turn', stop_sequence: null });
  assert.equal(delta.usage.output_tokens, m.usage.output_tokens);
});

test('anthropic: max_tokens below the natural length stops with max_tokens; the version header and max_tokens are required', async () => {
  const m = await (await call.anthropic(an({ max_tokens: 4 }, 'Sing [[words:30]]'))).json();
  assert.equal(m.stop_reason, 'max_tokens');
  assert.equal(m.usage.output_tokens, 4);
  assert.equal(words(m.content[0].text), 4);
  const events = sseJson(await (await call.anthropic(an({ max_tokens: 4, stream: true }, 'Sing [[words:30]]'))).text());
  assert.equal(events.at(-2).data.delta.stop_reason, 'max_tokens');
  assert.equal(events.at(-2).data.usage.output_tokens, 4);

  const noVersion = await call.anthropic(an(), { version: null });
  assert.equal(noVersion.status, 400);
  const nv = await noVersion.json();
  assert.equal(nv.type, 'error');
  assert.equal(nv.error.type, 'invalid_request_error');
  assert.match(nv.error.message, /anthropic-version/);

  const noMax = await call.anthropic({ model: 'claude-test', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(noMax.status, 400);
  const nm = await noMax.json();
  assert.equal(nm.error.type, 'invalid_request_error');
  assert.match(nm.error.message, /max_tokens/);
});

// ---------------------------------------------------------------- Gemini

test('gemini: generateContent, SSE and the streamed JSON array carry the same text', async () => {
  const r = await call.gemini('gemini-test', ge());
  assert.equal(r.status, 200);
  const g = await r.json();
  const cand = g.candidates[0];
  assert.equal(cand.content.role, 'model');
  assert.equal(cand.index, 0);
  assert.equal(cand.finishReason, 'STOP');
  const text = cand.content.parts[0].text;
  assert.ok(text.startsWith(`${ECHO} `));
  assert.deepEqual([g.usageMetadata.promptTokenCount, g.usageMetadata.candidatesTokenCount, g.usageMetadata.totalTokenCount],
    [14, words(text), 14 + words(text)]);
  assert.equal(g.modelVersion, 'gemini-test');

  const sse = await call.gemini('gemini-test', ge(), { stream: true, sse: true });
  assert.match(sse.headers.get('content-type'), /^text\/event-stream/);
  const events = sseJson(await sse.text()).map((e) => e.data);
  assert.ok(events.length > 5);
  assert.equal(events.map((e) => e.candidates[0].content.parts[0].text).join(''), text);
  assert.ok(events.slice(0, -1).every((e) => !('finishReason' in e.candidates[0])));
  assert.equal(events.at(-1).candidates[0].finishReason, 'STOP');
  assert.deepEqual(events.at(-1).usageMetadata, g.usageMetadata);

  const arr = await call.gemini('gemini-test', ge(), { stream: true });
  assert.match(arr.headers.get('content-type'), /application\/json/);
  const raw = await arr.text();
  assert.ok(raw.startsWith('[{'));
  assert.ok(raw.endsWith('}]'));
  assert.equal(raw.split(',\r\n{').length, events.length);
  const list = JSON.parse(raw);
  assert.equal(list.length, events.length);
  assert.equal(list.map((e) => e.candidates[0].content.parts[0].text).join(''), text);
  assert.equal(list.at(-1).candidates[0].finishReason, 'STOP');
});

test('gemini: the JSON array is written progressively', async () => {
  const slow = await startFakeLlm({ port: 0, chunkDelayMs: 25 });
  try {
    const r = await fetch(`${slow.url}/v1beta/models/gemini-test:streamGenerateContent`, {
      method: 'POST', headers: { 'x-goog-api-key': KEY }, body: JSON.stringify(ge({}, 'Go on [[words:12]]')),
    });
    const reader = r.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.ok(first.startsWith('[{'));
    assert.ok(!first.trimEnd().endsWith(']'), 'the first read already held the whole array');
    await reader.cancel();
  } finally {
    await slow.close();
  }
});

test('gemini: maxOutputTokens gives MAX_TOKENS; the key may come as ?key=', async () => {
  const g = await (await call.gemini('gemini-test', ge({ generationConfig: { maxOutputTokens: 3, temperature: 0.2 } }, 'Hello [[words:10]]'), { keyInQuery: true })).json();
  assert.equal(g.candidates[0].finishReason, 'MAX_TOKENS');
  assert.equal(g.usageMetadata.candidatesTokenCount, 3);
  const natural = (await (await call.gemini('gemini-test', ge({}, 'Hello [[words:10]]'))).json()).candidates[0].content.parts[0].text;
  assert.equal(words(natural), 10);
  assert.equal(g.candidates[0].content.parts[0].text, natural.split(' ').slice(0, 3).join(' '));
  assert.equal(g.candidates[0].content.parts[0].text, 'Echo: Hello. Dry', 'the text algorithm is stable');
  const events = sseJson(await (await call.gemini('gemini-test', ge({ generationConfig: { maxOutputTokens: 3 } }, 'Hello [[words:10]]'), { stream: true, sse: true })).text());
  assert.equal(events.at(-1).data.candidates[0].finishReason, 'MAX_TOKENS');
  const log = (await control('GET', '/_fake/requests')).json;
  assert.equal(log[0].path, '/v1beta/models/gemini-test:generateContent');
  assert.equal(log[0].auth, 'present');
  assert.ok(!JSON.stringify(log).includes(KEY), 'the request log holds no key');
});

// ---------------------------------------------------------------- auth

test('auth: no key is 401 in each shape, except for local models; a bad- key is echoed back', async () => {
  const o = await call.openai(oa(), { key: null });
  assert.equal(o.status, 401);
  assert.equal((await o.json()).error.type, 'invalid_request_error');
  const a = await call.anthropic(an(), { key: null });
  assert.equal(a.status, 401);
  const aj = await a.json();
  assert.deepEqual([aj.type, aj.error.type], ['error', 'authentication_error']);
  const g = await call.gemini('gemini-test', ge(), { key: null });
  assert.equal(g.status, 401);
  const gj = await g.json();
  assert.deepEqual([gj.error.code, gj.error.status], [401, 'UNAUTHENTICATED']);

  assert.equal((await call.openai(oa({ model: 'local-llama' }), { key: null })).status, 200);
  assert.equal((await call.anthropic(an({ model: 'local-claude' }), { key: null })).status, 200);
  assert.equal((await call.gemini('local-gemma', ge(), { key: null })).status, 200);

  const secret = 'bad-sk-proj-SECRET-7f3a';
  const bo = await call.openai(oa(), { key: secret });
  assert.equal(bo.status, 401);
  const boj = await bo.json();
  assert.equal(boj.error.message, `Incorrect API key provided: ${secret}. You can find your API key at https://platform.openai.com/account/api-keys.`);
  assert.equal(boj.error.code, 'invalid_api_key');
  const ba = await (await call.anthropic(an(), { key: secret })).json();
  assert.equal(ba.error.type, 'authentication_error');
  assert.ok(ba.error.message.includes(secret));
  const bg = await call.gemini('gemini-test', ge(), { key: secret, keyInQuery: true });
  assert.equal(bg.status, 401);
  assert.ok((await bg.json()).error.message.includes(secret));
  // A bad key is refused even for a local model.
  assert.equal((await call.openai(oa({ model: 'local-llama' }), { key: secret })).status, 401);

  const log = (await control('GET', '/_fake/requests')).json;
  assert.deepEqual(log.map((e) => e.auth), ['absent', 'absent', 'absent', 'absent', 'absent', 'absent', 'present', 'present', 'present', 'present']);
  assert.ok(!JSON.stringify(log).includes('SECRET'), 'the request log holds no key');
});

// ---------------------------------------------------------------- faults

test('faults: latency delays a normal answer; faults are FIFO per model', async () => {
  assert.deepEqual((await faults('gpt-test', [{ type: 'latency', ms: 150 }, { type: 'status', status: 500 }])).json, { model: 'gpt-test', queued: 2 });
  const t = Date.now();
  const r = await call.openai(oa());
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t >= 140, `answered after ${Date.now() - t} ms`);
  assert.equal((await call.openai(oa({ model: 'gpt-other' }))).status, 200, 'another model takes no fault');
  assert.equal((await call.openai(oa())).status, 500);
  assert.equal((await call.openai(oa())).status, 200);
  const s = await stats();
  assert.deepEqual(s.models['gpt-test'], { requests: 3, completed: 2, faults: 2, streamed: 0 });
});

test('faults: status answers in each provider shape, with retry-after', async () => {
  const cases = [
    ['openai', 429, (j) => { assert.equal(j.error.code, 'rate_limit_exceeded'); assert.ok('param' in j.error && 'type' in j.error); }],
    ['openai', 500, (j) => assert.equal(j.error.type, 'server_error')],
    ['openai', 503, (j) => assert.equal(j.error.type, 'server_error')],
    ['openai', 400, (j) => assert.equal(j.error.type, 'invalid_request_error')],
    ['openai', 401, (j) => assert.equal(j.error.code, 'invalid_api_key')],
    ['openai', 403, (j) => assert.ok(j.error.message)],
    ['anthropic', 429, (j) => assert.equal(j.error.type, 'rate_limit_error')],
    ['anthropic', 500, (j) => assert.equal(j.error.type, 'api_error')],
    ['anthropic', 529, (j) => assert.equal(j.error.type, 'overloaded_error')],
    ['anthropic', 401, (j) => assert.equal(j.error.type, 'authentication_error')],
    ['anthropic', 403, (j) => assert.equal(j.error.type, 'permission_error')],
    ['anthropic', 400, (j) => assert.equal(j.error.type, 'invalid_request_error')],
    ['gemini', 429, (j) => {
      assert.equal(j.error.status, 'RESOURCE_EXHAUSTED');
      assert.equal(j.error.details[0].retryDelay, '7s');
    }],
    ['gemini', 500, (j) => assert.equal(j.error.status, 'INTERNAL')],
    ['gemini', 503, (j) => assert.equal(j.error.status, 'UNAVAILABLE')],
    ['gemini', 400, (j) => assert.equal(j.error.status, 'INVALID_ARGUMENT')],
    ['gemini', 403, (j) => assert.equal(j.error.status, 'PERMISSION_DENIED')],
  ];
  for (const [protocol, status, check] of cases) {
    const model = `${protocol}-faulty`;
    await faults(model, [{ type: 'status', status, retry_after: 7 }]);
    const r = protocol === 'openai' ? await call.openai(oa({ model, stream: true }))
      : protocol === 'anthropic' ? await call.anthropic(an({ model }))
        : await call.gemini(model, ge());
    assert.equal(r.status, status, `${protocol} ${status}`);
    assert.equal(r.headers.get('retry-after'), '7');
    const j = await r.json();
    if (protocol === 'anthropic') assert.equal(j.type, 'error');
    if (protocol === 'gemini') assert.equal(j.error.code, status);
    check(j);
  }
  // Without retry_after there is no retry-after header; the Gemini JSON-array stream wraps errors in [...].
  await faults('gemini-faulty', [{ type: 'status', status: 503 }]);
  const r = await call.gemini('gemini-faulty', ge(), { stream: true });
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), null);
  const list = await r.json();
  assert.ok(Array.isArray(list));
  assert.equal(list[0].error.status, 'UNAVAILABLE');
});

test('faults: hang sends nothing, then closes the socket', async () => {
  await faults('gpt-test', [{ type: 'hang', ms: 200 }]);
  const t = Date.now();
  await assert.rejects(call.openai(oa()));
  assert.ok(Date.now() - t >= 190, `closed after ${Date.now() - t} ms`);
  // The default hang outlasts any test: the client gives up, and the server goes on serving.
  await faults('gpt-hang', [{ type: 'hang' }]);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(fetch(`${fake.url}/v1/chat/completions`, {
    method: 'POST', signal: controller.signal, headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify(oa({ model: 'gpt-hang' })),
  }), { name: 'AbortError' });
  assert.equal((await call.openai(oa())).status, 200);
});

test('faults: malformed gives broken JSON, whole or streamed', async () => {
  await faults('gpt-test', [{ type: 'malformed' }, { type: 'malformed' }]);
  const r = await call.openai(oa());
  assert.equal(r.status, 200);
  const broken = await r.text();
  assert.throws(() => JSON.parse(broken));
  const s = await readAll(await call.openai(oa({ stream: true })));
  assert.equal(s.error, null, 'the stream ends cleanly');
  const events = parseSse(s.text);
  assert.equal(events.length, 1);
  assert.throws(() => JSON.parse(events[0].data));
  assert.ok(!s.text.includes('[DONE]'));

  await faults('claude-test', [{ type: 'malformed' }]);
  const a = parseSse(await (await call.anthropic(an({ stream: true }))).text());
  assert.equal(a.length, 1);
  assert.equal(a[0].event, 'message_start');
  assert.throws(() => JSON.parse(a[0].data));

  await faults('gemini-test', [{ type: 'malformed' }, { type: 'malformed' }]);
  const g = await (await call.gemini('gemini-test', ge(), { stream: true })).text();
  assert.ok(g.startsWith('['));
  assert.throws(() => JSON.parse(g));
  const gs = parseSse(await (await call.gemini('gemini-test', ge(), { stream: true, sse: true })).text());
  assert.equal(gs.length, 1);
  assert.throws(() => JSON.parse(gs[0].data));
  assert.equal((await stats()).models['gpt-test'].completed, 0);
});

test('faults: cut sends N deltas then drops the connection; a whole answer is cut in half', async () => {
  await faults('gpt-test', [{ type: 'cut', after: 2 }, { type: 'cut' }]);
  const s = await readAll(await call.openai(oa({ stream: true, stream_options: { include_usage: true } })));
  assert.ok(s.error, 'the read fails');
  const chunks = sseJson(s.text).map((e) => e.data);
  assert.equal(chunks.length, 3, 'the role chunk and two deltas');
  assert.ok(chunks.every((ch) => ch.choices[0].finish_reason === null));
  assert.ok(!s.text.includes('[DONE]'));
  const whole = await call.openai(oa());
  assert.equal(whole.status, 200);
  await assert.rejects(whole.text());

  await faults('claude-test', [{ type: 'cut', after: 1 }]);
  const a = await readAll(await call.anthropic(an({ stream: true })));
  assert.ok(a.error);
  assert.deepEqual(parseSse(a.text).map((e) => e.event), ['message_start', 'content_block_start', 'ping', 'content_block_delta']);

  await faults('gemini-test', [{ type: 'cut', after: 1000 }, { type: 'cut', after: 2 }]);
  const g = await readAll(await call.gemini('gemini-test', ge(), { stream: true, sse: true }));
  assert.ok(g.error);
  const ge1 = sseJson(g.text).map((e) => e.data);
  assert.ok(ge1.length > 2);
  assert.ok(ge1.every((e) => !('finishReason' in e.candidates[0])), 'a cut stream never says it finished');
  const arr = await readAll(await call.gemini('gemini-test', ge(), { stream: true }));
  assert.ok(arr.error);
  assert.ok(arr.text.startsWith('[{') && !arr.text.endsWith(']'));
  assert.equal(arr.text.split(',\r\n{').length, 2);
  assert.deepEqual((await stats()).models['gemini-test'], { requests: 2, completed: 0, faults: 2, streamed: 2 });
});

test('faults: filter gives each provider\'s content-filtered answer', async () => {
  await faults('gpt-test', [{ type: 'filter' }, { type: 'filter' }]);
  const o = await (await call.openai(oa())).json();
  assert.equal(o.choices[0].finish_reason, 'content_filter');
  assert.equal(o.choices[0].message.content, '');
  assert.equal(o.usage.completion_tokens, 0);
  const os = sseJson(await (await call.openai(oa({ stream: true }))).text()).map((e) => e.data);
  assert.equal(os.at(-1).choices[0].finish_reason, 'content_filter');

  await faults('claude-test', [{ type: 'filter' }, { type: 'filter' }]);
  const a = await (await call.anthropic(an())).json();
  assert.equal(a.stop_reason, 'refusal');
  assert.equal(a.usage.output_tokens, 0);
  const as = sseJson(await (await call.anthropic(an({ stream: true }))).text());
  assert.deepEqual(as.map((e) => e.event), ['message_start', 'message_delta', 'message_stop']);
  assert.equal(as[1].data.delta.stop_reason, 'refusal');

  await faults('gemini-test', [{ type: 'filter' }, { type: 'filter' }]);
  const g = await (await call.gemini('gemini-test', ge())).json();
  assert.equal(g.promptFeedback.blockReason, 'SAFETY');
  assert.equal(g.candidates, undefined);
  assert.equal(g.usageMetadata.promptTokenCount, 14);
  const gs = sseJson(await (await call.gemini('gemini-test', ge(), { stream: true, sse: true })).text());
  assert.equal(gs.length, 1);
  assert.equal(gs[0].data.promptFeedback.blockReason, 'SAFETY');
});

test('faults: context_too_long is a 400 in each provider shape', async () => {
  await faults('gpt-test', [{ type: 'context_too_long' }]);
  const o = await call.openai(oa());
  assert.equal(o.status, 400);
  const oj = await o.json();
  assert.deepEqual([oj.error.type, oj.error.code, oj.error.param], ['invalid_request_error', 'context_length_exceeded', 'messages']);
  assert.match(oj.error.message, /maximum context length/);

  await faults('claude-test', [{ type: 'context_too_long' }]);
  const a = await call.anthropic(an());
  assert.equal(a.status, 400);
  const aj = await a.json();
  assert.equal(aj.error.type, 'invalid_request_error');
  assert.match(aj.error.message, /^prompt is too long: \d+ tokens > 200000 maximum$/);

  await faults('gemini-test', [{ type: 'context_too_long' }]);
  const g = await call.gemini('gemini-test', ge());
  assert.equal(g.status, 400);
  const gj = await g.json();
  assert.equal(gj.error.status, 'INVALID_ARGUMENT');
  assert.match(gj.error.message, /^The input token count \(\d+\) exceeds the maximum number of tokens allowed \(\d+\)\.$/);
});

test('faults: reply answers with the scripted text, streamed or not, with its own counts', async () => {
  const text = 'The harbour was quiet, she said, and nobody believed her.';
  await faults('gpt-test', [{ type: 'reply', text }, { type: 'reply', text }]);
  const o = await (await call.openai(oa())).json();
  assert.equal(o.choices[0].message.content, text);
  assert.equal(o.choices[0].finish_reason, 'stop');
  assert.equal(o.usage.completion_tokens, words(text));
  const streamed = sseJson((await readAll(await call.openai(oa({ stream: true })))).text).map((e) => e.data);
  assert.equal(streamed.map((c) => c.choices[0]?.delta?.content ?? '').join(''), text);
  const after = await (await call.openai(oa())).json();
  assert.notEqual(after.choices[0].message.content, text, 'a reply is used once');
});

test('faults: a bad fault is refused and nothing is queued', async () => {
  for (const body of [{ faults: [] }, { model: 'm', faults: 'x' }, { model: 'm', faults: [{ type: 'nope' }] },
    { model: 'm', faults: [{ type: 'latency' }] }, { model: 'm', faults: [{ type: 'status', status: 200 }] },
    { model: 'm', faults: [{ type: 'cut', after: -1 }] }, { model: 'm', faults: [{ type: 'reply' }] }]) {
    const r = await control('POST', '/_fake/faults', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(typeof r.json.error, 'string');
  }
  assert.deepEqual((await control('GET', '/_fake/faults')).json, {});
});

// ---------------------------------------------------------------- counters, log, errors

test('counters: stats, the request log (last 100) and reset', async () => {
  await (await call.openai(oa())).text();
  await (await call.openai(oa({ stream: true }))).text();
  await (await call.anthropic(an({ stream: true }))).text();
  await faults('gemini-test', [{ type: 'status', status: 429 }]);
  await (await call.gemini('gemini-test', ge())).text();
  await (await call.gemini('gemini-test', ge(), { stream: true, sse: true })).text();
  let s = await stats();
  assert.equal(s.total, 5);
  assert.deepEqual(s.models, {
    'gpt-test': { requests: 2, completed: 2, faults: 0, streamed: 1 },
    'claude-test': { requests: 1, completed: 1, faults: 0, streamed: 1 },
    'gemini-test': { requests: 2, completed: 1, faults: 1, streamed: 1 },
  });
  const log = (await control('GET', '/_fake/requests')).json;
  assert.deepEqual(log.map((e) => [e.protocol, e.model, e.stream, e.auth]), [
    ['openai', 'gpt-test', false, 'present'], ['openai', 'gpt-test', true, 'present'], ['anthropic', 'claude-test', true, 'present'],
    ['gemini', 'gemini-test', false, 'present'], ['gemini', 'gemini-test', true, 'present']]);
  assert.equal(log[0].path, '/v1/chat/completions');
  assert.deepEqual(log[0].body, oa());

  for (let i = 0; i < 103; i += 1) await call.openai(oa({ model: 'local-n', n: i }), { key: null });
  const full = (await control('GET', '/_fake/requests')).json;
  assert.equal(full.length, 100);
  assert.equal(full[0].body.n, 3);
  assert.equal(full.at(-1).body.n, 102);

  assert.deepEqual((await control('POST', '/_fake/reset')).json, { ok: true });
  s = await stats();
  assert.deepEqual(s, { total: 0, models: {} });
  assert.deepEqual((await control('GET', '/_fake/requests')).json, []);
});

test('errors: unknown paths are 404 JSON, bad JSON a 400 in the provider shape, big bodies 413', async () => {
  const nf = await fetch(`${fake.url}/v1/nothing`);
  assert.equal(nf.status, 404);
  assert.match((await nf.json()).error.message, /no route/);
  assert.equal((await fetch(`${fake.url}/_fake/nothing`)).status, 404);

  const o = await call.openai('{"model": "gpt-test", ');
  assert.equal(o.status, 400);
  assert.equal((await o.json()).error.type, 'invalid_request_error');
  const a = await call.anthropic('not json');
  assert.equal(a.status, 400);
  assert.equal((await a.json()).error.type, 'invalid_request_error');
  const g = await call.gemini('gemini-test', '{');
  assert.equal(g.status, 400);
  assert.equal((await g.json()).error.status, 'INVALID_ARGUMENT');

  const big = `{"model":"gpt-test","messages":[{"role":"user","content":"${'x'.repeat(10 * 1024 * 1024)}"}]}`;
  const r = await call.openai(big);
  assert.equal(r.status, 413);
  assert.equal((await r.json()).error.type, 'invalid_request_error');
  const ra = await call.anthropic(big);
  assert.equal(ra.status, 413);
  assert.equal((await ra.json()).error.type, 'request_too_large');
  assert.equal((await call.openai(oa())).status, 200, 'still serving');
});

test('the command prints its first line, answers, and exits cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [join(root, 'tools/fake-llm/main.mjs'), '--port', '0', '--chunk-delay', '0'], { cwd: root });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const first = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { stdout += d; if (stdout.includes('\n')) resolve(stdout.split('\n')[0]); });
    child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
  });
  const m = first.match(/^fake-llm listening on http:\/\/127\.0\.0\.1:(\d+) \(test infrastructure, not a real model\)$/);
  assert.ok(m, first);
  const r = await fetch(`http://127.0.0.1:${m[1]}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify(oa({ stream: true })),
  });
  const chunks = sseJson(await r.text()).map((e) => e.data);
  assert.ok(chunks[1].choices[0].delta.content.startsWith('Echo:'));
  child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });

  const bad = spawn(process.execPath, [join(root, 'tools/fake-llm/main.mjs'), '--port', 'x'], { cwd: root });
  let err = '';
  bad.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => bad.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /--port needs a whole number/);
});
