// tools/serve.mjs serving the built studio (build/web, made by tools/build --web): the workflow
// index, the wasm, the hashed assets and the service worker, with isolation, cache and CSP headers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, workflowIndex } from '../../tools/serve.mjs';
import { buildCsp, originsOfModels } from '../src/csp.js';
import { loadEngine } from '../src/engine.js';
import { REPO, shippedWorkflows } from './helpers.mjs';

async function withServer(fn, options = {}) {
  const { server, port } = await startServer({ port: 0, host: '127.0.0.1', ...options });
  try {
    return await fn(`http://127.0.0.1:${port}`, port);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

// The shipped pool's origins, as the engine reads workflows/models/default.yaml.
async function shippedOrigins() {
  const engine = await loadEngine();
  try {
    return originsOfModels(engine.models(readFileSync(path.join(REPO, 'workflows/models/default.yaml'), 'utf8')));
  } finally {
    engine.dispose();
  }
}

function directives(csp) {
  return Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
}

function assertIsolated(res, { cache = 'no-cache', connect } = {}) {
  assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(res.headers.get('cache-control'), cache);
  const csp = res.headers.get('content-security-policy');
  assert.ok(csp, 'a CSP is sent');
  const d = directives(csp);
  assert.deepEqual(d['default-src'], ["'self'"]);
  assert.deepEqual(d['script-src'], ["'self'", "'wasm-unsafe-eval'"]);
  assert.deepEqual(d['frame-ancestors'], ["'none'"]);
  if (connect) assert.deepEqual(d['connect-src'], ["'self'", ...connect]);
  for (const [name, values] of Object.entries(d)) {
    if (name === 'connect-src') continue;
    for (const v of values) {
      assert.ok(["'self'", "'none'", "'wasm-unsafe-eval'", 'data:'].includes(v), `${name} allows only 'self' (found ${v})`);
    }
  }
}

// A raw request, so the path is sent as written (fetch would normalise away the '..').
function rawGet(port, rawPath, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serve: /workflows/index.json lists the shipped workflows (not broken/), and they all load', async () => {
  await withServer(async (base) => {
    const res = await fetch(`${base}/workflows/index.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assertIsolated(res);
    const index = await res.json();
    const files = index.map((w) => w.file);
    assert.ok(files.includes('workflows/ingestion_digest.yaml'));
    assert.ok(files.includes('workflows/examples/parallel.yaml'));
    assert.ok(!files.some((f) => f.includes('broken')), 'broken examples are not listed');
    assert.deepEqual(files.sort(), shippedWorkflows().map((w) => w.file).sort());
    for (const w of index) assert.equal(w.yaml, readFileSync(path.join(REPO, w.file), 'utf8'), `${w.file} is current`);
    assert.deepEqual(index, await workflowIndex(), 'the build wrote workflowIndex()');

    const engine = await loadEngine();
    try {
      let pending = index;
      for (let pass = 0; pending.length && pass < 4; ++pass) {
        pending = pending.filter((w) => {
          try {
            engine.load(w.yaml, w.file);
            return false;
          } catch (e) {
            if (e.code !== 16) throw e;
            return true;
          }
        });
      }
      assert.deepEqual(pending, [], 'every listed workflow loads (callees first)');
    } finally {
      engine.dispose();
    }
  });
});

test('serve: the wasm and its loader (copies of build/wasm-release), the model pool and its origins', async () => {
  const origins = await shippedOrigins();
  await withServer(async (base) => {
    const wasm = await fetch(`${base}/wasm/loom.wasm`);
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assertIsolated(wasm, { connect: origins });
    const bytes = new Uint8Array(await wasm.arrayBuffer());
    assert.deepEqual(bytes, new Uint8Array(readFileSync(path.join(REPO, 'build/wasm-release/loom.wasm'))),
      'the build copied the current engine (if not: tools/build --web)');
    assert.ok(WebAssembly.validate(bytes));
    const mjs = await fetch(`${base}/wasm/loom.mjs`);
    assert.match(mjs.headers.get('content-type'), /^text\/javascript/);
    assert.equal(await mjs.text(), readFileSync(path.join(REPO, 'build/wasm-release/loom.mjs'), 'utf8'));

    const models = await fetch(`${base}/models/default.yaml`);
    assert.match(models.headers.get('content-type'), /^text\/yaml/);
    assert.equal(await models.text(), readFileSync(path.join(REPO, 'workflows/models/default.yaml'), 'utf8'));
    const csp = await (await fetch(`${base}/csp.json`)).json();
    assert.deepEqual(csp, { connect: origins });
    assert.ok(origins.includes('https://api.openai.com') && origins.includes('http://localhost:11434'));
  });
});

test('serve: the page, its hashed assets and the service worker; 404, 405, no escape from build/web', async () => {
  await withServer(async (base, port) => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assertIsolated(page);
    const html = await page.text();
    assert.match(html, /<title>Loom<\/title>/);
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle="|\son[a-z]+="/i, 'no inline script, style or handler (the CSP forbids them)');
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), `bundled assets: ${assets}`);
    for (const asset of assets) {
      const r = await fetch(`${base}${asset}`);
      assert.equal(r.status, 200, asset);
      assert.match(r.headers.get('content-type'), asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/, asset);
      assertIsolated(r, { cache: 'public, max-age=31536000, immutable' });
    }
    const sw = await fetch(`${base}/sw.js`);
    assert.equal(sw.status, 200);
    assert.match(sw.headers.get('content-type'), /^text\/javascript/);
    assertIsolated(sw);
    const swText = await sw.text();
    assert.doesNotMatch(swText, /self\.__WB_MANIFEST/, 'the precache list was injected');
    for (const url of ['index.html', 'wasm/loom.mjs', 'wasm/loom.wasm', 'workflows/index.json', 'models/default.yaml',
      'csp.json', ...assets.map((a) => a.slice(1))]) {
      assert.ok(swText.includes(`"url":"${url}"`), `the worker precaches ${url}`);
    }
    assert.equal((await fetch(`${base}/src/app.js`)).status, 404, 'the sources are not served');
    assert.equal((await fetch(`${base}/nope.js`)).status, 404);
    assert.equal((await fetch(`${base}/favicon.ico`)).status, 204);
    assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
    for (const p of ['/../package.json', '/assets/../../../package.json', '/%2e%2e/%2e%2e/package.json', '/..%2f..%2fpackage.json']) {
      const r = await rawGet(port, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body, /"devDependencies"/, p);
    }
  });
});

test('serve: connect-src is \'self\' plus csp.json\'s valid origins, re-read when the build changes', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-serve-'));
  try {
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Loom</title>');
    await withServer(async (base) => {
      assertIsolated(await fetch(`${base}/`), { connect: [] });  // no csp.json: 'self' only
      writeFileSync(path.join(dir, 'csp.json'), JSON.stringify({
        connect: ['https://b.example/v1', "https://a.example; script-src 'unsafe-inline'", '*', 'http://127.0.0.1:9'],
      }));
      const res = await fetch(`${base}/`);
      assertIsolated(res, { connect: ['http://127.0.0.1:9', 'https://b.example'] });
      assert.equal(res.headers.get('content-security-policy'),
        buildCsp({ connectOrigins: ['http://127.0.0.1:9', 'https://b.example'] }));
      writeFileSync(path.join(dir, 'csp.json'), 'not json');
      assertIsolated(await fetch(`${base}/`), { connect: [] });
    }, { dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: without a build, a clear error naming tools/build --web', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-serve-'));
  try {
    await assert.rejects(startServer({ port: 0, dir }), /not built.*tools\/build --web/s);
    const child = spawn(process.execPath, [path.join(REPO, 'tools/serve.mjs')], {
      env: { ...process.env, PORT: '0', LOOM_WEB_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 1);
    assert.match(err, /tools\/build --web/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: run directly, it listens on PORT and prints the studio URL', async () => {
  const child = spawn(process.execPath, [path.join(REPO, 'tools/serve.mjs')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.on('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
      setTimeout(() => reject(new Error('serve.mjs printed nothing')), 10_000).unref();
    });
    const m = line.match(/^Loom studio: http:\/\/localhost:(\d+)\/$/);
    assert.ok(m, `printed '${line}'`);
    const r = await fetch(`http://127.0.0.1:${m[1]}/workflows/index.json`);
    assert.equal(r.status, 200);
  } finally {
    child.kill();
  }
});
