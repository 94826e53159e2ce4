// performEffect's http.fetch against a real HTTP server on 127.0.0.1, alone and inside runs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { loadEngine } from '../src/engine.js';
import { runWorkflow, performEffect, retryAfterMs } from '../src/host.js';
import { loadShipped, fastClock } from './helpers.mjs';

const PAGE = 'Tides turn twice a day. The harbour empties at dawn. Gulls follow the last boat home.';

// A small scripted server: counts hits per path; /flaky 503s once, /limited 429s once.
async function startFixture() {
  const hits = new Map();
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const n = (hits.get(url.pathname) ?? 0) + 1;
    hits.set(url.pathname, n);
    const text = (status, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(body);
    };
    switch (url.pathname) {
      case '/page': return text(200, PAGE, { 'X-Fixture': 'yes' });
      case '/echo': {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => text(200, JSON.stringify({ method: req.method, body, auth: req.headers['x-token'] ?? null })));
        return undefined;
      }
      case '/flaky': return n === 1 ? text(503, 'busy') : text(200, PAGE);
      case '/limited': return n === 1 ? text(429, 'slow down', { 'Retry-After': '3' }) : text(200, PAGE);
      case '/auth': return text(401, 'who are you');
      case '/forbidden': return text(403, 'no');
      case '/missing': return text(404, 'nothing here');
      case '/big': return text(200, 'x'.repeat(5000));
      case '/hang': return undefined;  // never answers
      default: return text(500, 'unexpected');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { server, base, hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const fetchEffect = (args, id = 1) => ({ id, kind: 'agent', agent: 'http.fetch', args, step: 'page', attempt: 1 });

test('http.fetch: success gives {status, headers, body, url}; method, headers and body are sent', async () => {
  const fx = await startFixture();
  try {
    const ok = await performEffect(fetchEffect({ url: `${fx.base}/page` }));
    assert.equal(ok.ok, true);
    assert.equal(ok.output.status, 200);
    assert.equal(ok.output.body, PAGE);
    assert.equal(ok.output.headers['x-fixture'], 'yes');
    assert.equal(ok.output.url, `${fx.base}/page`);
    const echo = await performEffect(fetchEffect({ url: `${fx.base}/echo`, method: 'POST', body: 'hello', headers: { 'X-Token': 't1' } }));
    assert.deepEqual(JSON.parse(echo.output.body), { method: 'POST', body: 'hello', auth: 't1' });
  } finally {
    await fx.close();
  }
});

test('http.fetch: status codes map to the engine error classes', async () => {
  const fx = await startFixture();
  try {
    const cases = [
      ['/flaky', 'unavailable'], ['/auth', 'auth'], ['/forbidden', 'auth'], ['/missing', 'bad_request'], ['/limited', 'rate_limited'],
    ];
    for (const [path, code] of cases) {
      const r = await performEffect(fetchEffect({ url: `${fx.base}${path}` }));
      assert.equal(r.ok, false, path);
      assert.equal(r.error.code, code, path);
      assert.match(r.error.message, /^HTTP \d{3} from /);
    }
    const limited = await performEffect(fetchEffect({ url: `${fx.base}/missing` }));
    assert.equal(limited.retry_after_ms, undefined, 'no Retry-After, no retry_after_ms');
    fx.hits.set('/limited', 0);
    const rl = await performEffect(fetchEffect({ url: `${fx.base}/limited` }));
    assert.equal(rl.retry_after_ms, 3000);
    const big = await performEffect(fetchEffect({ url: `${fx.base}/big`, max_bytes: 100 }));
    assert.equal(big.error.code, 'bad_request');
    assert.match(big.error.message, /max_bytes/);
    const bad = await performEffect(fetchEffect({ url: 'file:///etc/passwd' }));
    assert.equal(bad.error.code, 'bad_request');
  } finally {
    await fx.close();
  }
});

test('http.fetch: a refused connection is host_error; an abort is cancelled', async () => {
  const fx = await startFixture();
  const closedPort = await new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => r(port));
    });
  });
  try {
    const refused = await performEffect(fetchEffect({ url: `http://127.0.0.1:${closedPort}/` }));
    assert.equal(refused.error.code, 'host_error');
    assert.match(refused.error.message, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
    const controller = new AbortController();
    const pending = performEffect(fetchEffect({ url: `${fx.base}/hang` }), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const r = await pending;
    assert.equal(r.error.code, 'cancelled');
  } finally {
    await fx.close();
  }
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs('0.5'), 500);
  assert.equal(retryAfterMs(null), -1);
  assert.equal(retryAfterMs('soon'), -1);
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Tue, 01 Jan 2030 00:00:10 GMT', now), 10_000);
});

async function runFetch(engine, workflow, inputs) {
  const clock = fastClock(10);
  const events = [];
  const result = await runWorkflow(engine, {
    workflow, inputs, now: clock.now, setTimer: clock.setTimer, onEvents: (b) => events.push(...b), perform: performEffect,
  });
  return { result, events, clock };
}

test('a run retries a 503 then succeeds on the 200 (real HTTP)', async () => {
  const fx = await startFixture();
  const engine = await loadEngine();
  try {
    loadShipped(engine);
    const { result, events } = await runFetch(engine, 'example_retry_timeout', { url: `${fx.base}/flaky`, mirror_url: `${fx.base}/page` });
    assert.equal(result.status, 'succeeded');
    assert.equal(fx.hits.get('/flaky'), 2);
    const retry = events.find((e) => e.type === 'step_retrying');
    assert.equal(retry.step, 'page');
    assert.equal(retry.error.code, 'unavailable');
    assert.equal(result.snapshot.steps.find((s) => s.path === 'page').attempts, 2);
    assert.equal(result.outputs.digest.length > 0, true);
    assert.ok(PAGE.includes(result.outputs.digest.split('. ')[0]), 'the digest comes from the page');
    assert.equal(result.outputs.mirror_status, 'succeeded');
  } finally {
    engine.dispose();
    await fx.close();
  }
});

const RATE_LIMITED = `name: polite_fetch
inputs:
  url: {type: string, required: true}
steps:
  - id: page
    agent: http.fetch
    with: {url: "{{ inputs.url }}"}
    retry: {max_attempts: 3, backoff: fixed, initial_delay: 100ms}
outputs:
  body: "{{ steps.page.output.body }}"
`;

test('a 429 with Retry-After: 3 is retried no sooner than 3 s later (real HTTP, a clock 10x fast)', async () => {
  const fx = await startFixture();
  const engine = await loadEngine();
  try {
    engine.load(RATE_LIMITED, 'polite_fetch.yaml');
    const { result, events } = await runFetch(engine, 'polite_fetch', { url: `${fx.base}/limited` });
    assert.equal(result.status, 'succeeded');
    assert.equal(result.outputs.body, PAGE);
    assert.equal(fx.hits.get('/limited'), 2);
    const retry = events.find((e) => e.type === 'step_retrying');
    assert.equal(retry.error.code, 'rate_limited');
    assert.ok(retry.delay_ms >= 3000, `the engine waited for Retry-After (${retry.delay_ms} ms, policy 100 ms)`);
    const second = events.find((e) => e.type === 'step_started' && e.attempt === 2);
    assert.ok(second.t - retry.t >= 3000, 'attempt 2 started after the delay');
  } finally {
    engine.dispose();
    await fx.close();
  }
});
