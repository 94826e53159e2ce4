// web/src/csp.js: the policy's shape, connect origins validated (injection attempts dropped), and
// the origins of the shipped model pool as the engine reads it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCsp, connectSources, normalizeOrigin, originsOfModels, SECURITY_HEADERS } from '../src/csp.js';
import { loadEngine } from '../src/engine.js';
import { REPO } from './helpers.mjs';

// [[directive, ...values]] of a policy string, in order.
function parse(csp) {
  return csp.split(';').map((d) => d.trim().split(/\s+/));
}

const FIXED = [
  ['default-src', "'self'"],
  ['script-src', "'self'", "'wasm-unsafe-eval'"],
  ['style-src', "'self'"],
  ['img-src', "'self'", 'data:'],
  ['connect-src', "'self'"],
  ['worker-src', "'self'"],
  ['manifest-src', "'self'"],
  ['object-src', "'none'"],
  ['base-uri', "'self'"],
  ['form-action', "'self'"],
  ['frame-ancestors', "'none'"],
];

test('csp: with no origins, every directive is fixed and connect-src is \'self\'', () => {
  assert.deepEqual(parse(buildCsp()), FIXED);
  assert.equal(buildCsp(), buildCsp({ connectOrigins: [] }));
  assert.equal(buildCsp(), FIXED.map((d) => d.join(' ')).join('; '));
});

test('csp: connect origins are normalized, deduplicated and sorted', () => {
  const csp = buildCsp({
    connectOrigins: ['https://API.OpenAI.com/v1/', 'http://localhost:11434/v1', 'https://api.openai.com',
      'http://example.com:80/x?y#z', 'https://example.com:443', 'http://[::1]:8080/v1', 'https://b.example:8443'],
  });
  const connect = parse(csp).find(([d]) => d === 'connect-src');
  assert.deepEqual(connect, ['connect-src', "'self'", 'http://[::1]:8080', 'http://example.com', 'http://localhost:11434',
    'https://api.openai.com', 'https://b.example:8443', 'https://example.com']);
  // Only connect-src changed.
  assert.deepEqual(parse(csp).filter(([d]) => d !== 'connect-src'), FIXED.filter(([d]) => d !== 'connect-src'));
});

test('csp: anything but an http(s) origin is dropped; no string can add a source or a directive', () => {
  const attempts = [
    "https://a.example; script-src 'unsafe-inline'",
    "https://a.example 'unsafe-eval'",
    'https://a.example,https://b.example',
    'https://a.example\nscript-src *',
    'https://a.example\tdata:',
    'https://a.example/\\..\\',
    "https://a.example/'",
    'https://a.example/"',
    '*', 'https://*', 'https://*.a.example', "'self'", "'unsafe-inline'", "'none'",
    'data:', 'blob:', 'javascript:alert(1)', 'ws://a.example', 'wss://a.example', 'file:///etc/passwd',
    'ftp://a.example', 'https://user:secret@a.example', 'https://:secret@a.example', 'a.example', '//a.example',
    'http://', 'https:', '', '   ', 'https://a.example%0ascript-src', 'https://a_b.example',
    null, undefined, 42, {}, ['https://a.example'], { toString: () => 'https://a.example' },
  ];
  for (const value of attempts) {
    assert.equal(normalizeOrigin(value), null, `refused: ${JSON.stringify(String(value))}`);
  }
  const csp = buildCsp({ connectOrigins: [...attempts, 'https://ok.example'] });
  assert.deepEqual(parse(csp).map(([d]) => d), FIXED.map(([d]) => d), 'the same eleven directives, in order');
  assert.deepEqual(parse(csp).find(([d]) => d === 'connect-src'), ['connect-src', "'self'", 'https://ok.example']);
  assert.equal(csp, buildCsp({ connectOrigins: ['https://ok.example'] }), 'as if only the valid one had been given');
  // Not a list at all: 'self' only.
  for (const bad of ['https://a.example', { 0: 'https://a.example', length: 1 }, null, 7]) {
    assert.equal(buildCsp({ connectOrigins: bad }), buildCsp());
  }
  assert.deepEqual(connectSources(['https://b.example', 'https://a.example/x', 'https://b.example/']),
    ['https://a.example', 'https://b.example']);
});

test('csp: the security headers', () => {
  assert.deepEqual(SECURITY_HEADERS, {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  assert.ok(Object.isFrozen(SECURITY_HEADERS));
});

test('csp: originsOfModels of the shipped pool (read by the engine) and of other pools', async () => {
  const engine = await loadEngine();
  try {
    const shipped = engine.models(readFileSync(path.join(REPO, 'workflows/models/default.yaml'), 'utf8'));
    assert.deepEqual(originsOfModels(shipped), ['http://localhost:11434', 'https://api.anthropic.com',
      'https://api.openai.com', 'https://generativelanguage.googleapis.com']);
    assert.deepEqual(originsOfModels(shipped.models), originsOfModels(shipped), 'the summary or its list');

    const pool = engine.models([
      'default: a',
      'models:',
      '  a: {provider: openai, model: m, base_url: "https://proxy.example:8443/openai/v1"}',
      '  b: {provider: llamacpp, model: m}',
      '  c: {provider: openai, model: m, base_url: "${LOOM_TEST_UNSET_HOST:-http://10.0.0.5:8000}/v1"}',
      '  d: {provider: openrouter, model: m}',
      '  e: {provider: openai, model: m, base_url: "https://proxy.example:8443/other"}',
    ].join('\n'));
    assert.deepEqual(originsOfModels(pool), ['http://10.0.0.5:8000', 'http://localhost:8080',
      'https://openrouter.ai', 'https://proxy.example:8443']);
  } finally {
    engine.dispose();
  }
  // A summary whose ${VAR:-fallback} was not expanded yet, and entries that are not URLs.
  assert.deepEqual(originsOfModels({
    models: [
      { name: 'x', base_url: '${OLLAMA_HOST:-http://localhost:11434}/v1' },
      { name: 'y', base_url: '${NOTHING}/v1' },
      { name: 'z', base_url: "https://ok.example; script-src 'unsafe-inline'" },
      { name: 'w' },
      null,
    ],
  }), ['http://localhost:11434']);
  assert.deepEqual(originsOfModels(undefined), []);
  assert.deepEqual(originsOfModels({}), []);
});
