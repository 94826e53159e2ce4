// tools/serve.mjs: the workflow index, the wasm with its type, isolation and CSP headers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer } from '../../tools/serve.mjs';
import { loadEngine } from '../src/engine.js';
import { REPO, shippedWorkflows } from './helpers.mjs';

async function withServer(fn) {
  const { server, port } = await startServer({ port: 0, host: '127.0.0.1' });
  try {
    return await fn(`http://127.0.0.1:${port}`, port);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function assertIsolated(res) {
  assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const csp = res.headers.get('content-security-policy');
  assert.ok(csp, 'a CSP is sent');
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives['default-src'], ["'self'"]);
  assert.deepEqual(directives['script-src'], ["'self'", "'wasm-unsafe-eval'"]);
  for (const values of Object.values(directives)) {
    for (const v of values) assert.ok(["'self'", "'none'", "'wasm-unsafe-eval'"].includes(v), `CSP allows only 'self' (found ${v})`);
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
    for (const w of index) assert.equal(w.yaml, readFileSync(path.join(REPO, w.file), 'utf8'));

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

test('serve: the wasm and its loader, with application/wasm and the isolation headers', async () => {
  await withServer(async (base) => {
    const wasm = await fetch(`${base}/wasm/loom.wasm`);
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assertIsolated(wasm);
    const bytes = new Uint8Array(await wasm.arrayBuffer());
    assert.deepEqual(bytes, new Uint8Array(readFileSync(path.join(REPO, 'build/wasm-release/loom.wasm'))));
    assert.ok(WebAssembly.validate(bytes));
    const mjs = await fetch(`${base}/wasm/loom.mjs`);
    assert.match(mjs.headers.get('content-type'), /^text\/javascript/);
    assert.match(await mjs.text(), /export default createLoomModule/);
  });
});

test('serve: the page and its modules; 404, 405, no escape from web/', async () => {
  await withServer(async (base, port) => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assertIsolated(page);
    const html = await page.text();
    assert.match(html, /<title>Loom<\/title>/);
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle="|\son[a-z]+="/i, 'no inline script, style or handler (the CSP forbids them)');
    for (const file of ['/src/app.js', '/src/engine.js', '/src/host.js']) {
      const r = await fetch(`${base}${file}`);
      assert.equal(r.status, 200, file);
      assert.match(r.headers.get('content-type'), /^text\/javascript/, file);
    }
    assert.match((await fetch(`${base}/src/style.css`)).headers.get('content-type'), /^text\/css/);
    assert.equal((await fetch(`${base}/nope.js`)).status, 404);
    assert.equal((await fetch(`${base}/favicon.ico`)).status, 204);
    assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
    for (const p of ['/../package.json', '/src/../../package.json', '/%2e%2e/package.json', '/..%2fpackage.json']) {
      const r = await rawGet(port, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body, /"devDependencies"/, p);
    }
  });
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
