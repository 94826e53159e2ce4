// The built studio offline, in headless Chromium: the service worker takes control on the first
// visit, serves the page with a CSP whose connect-src follows the origins saved in IndexedDB, and
// the studio opens (engine loaded) once the server is gone. The CSP refuses other origins.
// Run: node --test e2e/offline.test.mjs   (needs build/web: tools/build --web; /usr/bin/chromium)
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CHROMIUM, launchChromium } from './browser.mjs';
import { startServer } from '../tools/serve.mjs';
import { originsOfModels } from '../web/src/csp.js';
import { loadEngine } from '../web/src/engine.js';

const REPO = path.resolve(import.meta.dirname, '..');
const LOCAL_MODEL_SERVER = 'http://127.0.0.1:9';  // the discard port: nothing answers there

// A stand-in for a local model server on another origin: streams four server-sent events, 200 ms
// apart, with the CORS header a browser needs to let the page read it.
async function startModelServer() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache',
      'Access-Control-Allow-Origin': '*', 'Timing-Allow-Origin': '*' });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(`data: {"delta": "part ${sent}"}\n\n`);
      if (++sent === 4) {
        clearInterval(timer);
        res.end();
      }
    }, 200);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

// Stores `origins` as the studio's settings 'connect_origins' (IndexedDB 'loom', store 'settings').
async function saveConnectOrigins(page, origins) {
  return page.evaluate(async (list) => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('loom');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    try {
      if (!db.objectStoreNames.contains('settings')) return `no settings store (stores: ${[...db.objectStoreNames]})`;
      await new Promise((resolve, reject) => {
        const tx = db.transaction('settings', 'readwrite');
        tx.objectStore('settings').put(list, 'connect_origins');
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      return 'ok';
    } finally {
      db.close();
    }
  }, origins);
}

// {directive: [values]} of a policy string.
function directives(csp) {
  assert.ok(csp, 'the response has a Content-Security-Policy');
  return Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([k, ...v]) => [k, v]));
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

test('offline: the service worker serves the studio with a fresh CSP, and it opens with no server',
  { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}`, timeout: 120_000 }, async (t) => {
    const expected = await shippedOrigins();
    for (const o of ['https://api.openai.com', 'https://api.anthropic.com', 'https://generativelanguage.googleapis.com',
      'http://localhost:11434']) {
      assert.ok(expected.includes(o), `the default pool reaches ${o}`);
    }

    const { server, port } = await startServer({ port: 0, host: '127.0.0.1' });
    const models = await startModelServer();
    let serverOpen = true;
    const stopServer = async () => {
      if (!serverOpen) return;
      serverOpen = false;
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    };
    const browser = await launchChromium();
    const problems = [];
    try {
      const context = await browser.newContext();
      const byWorker = [];  // requests the service worker itself made
      context.on('request', (r) => {
        if (r.serviceWorker()) byWorker.push(r.url());
      });
      const page = await context.newPage();
      // Every CSP violation the page sees, from before its first script runs (init scripts are
      // injected by the browser, not subject to the page's CSP).
      await page.addInitScript(() => {
        globalThis.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          globalThis.__cspViolations.push(`${e.effectiveDirective} refused ${e.blockedURI}`);
        });
      });
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()} (${m.location()?.url})`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
      });
      const base = `http://127.0.0.1:${port}/`;

      const ready = async (what) => {
        await page.waitForSelector('body[data-ready]', { timeout: 20_000 });
        const state = await page.getAttribute('body', 'data-ready');
        if (state !== 'true') {
          assert.fail(`${what}: the studio did not start: ${await page.textContent('[data-testid=errors]').catch(() => '?')}`);
        }
        assert.match(await page.textContent('[data-testid=engine-status]'), /\(wasm\)/, `${what}: the wasm engine loaded`);
        assert.deepEqual(await page.evaluate(() => globalThis.__cspViolations), [], `${what}: no CSP violation`);
      };

      await t.test('first visit: served by the server, controlled by the worker without a reload', async () => {
        const response = await page.goto(base);
        assert.equal(response.status(), 200);
        assert.equal(response.fromServiceWorker(), false);
        const headers = response.headers();
        assert.equal(headers['cross-origin-opener-policy'], 'same-origin');
        assert.equal(headers['cross-origin-embedder-policy'], 'require-corp');
        const csp = directives(headers['content-security-policy']);
        assert.deepEqual(csp['connect-src'], ["'self'", ...expected]);
        await ready('first visit');
        assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
        assert.equal(await page.evaluate(() => navigator.serviceWorker.controller.scriptURL), `${base}sw.js`);
      });

      await t.test('reload: the worker serves the page, isolated, with the shipped pool\'s origins', async () => {
        const response = await page.reload();
        assert.equal(response.fromServiceWorker(), true, 'the page comes from the service worker');
        const headers = response.headers();
        assert.equal(headers['cross-origin-opener-policy'], 'same-origin');
        assert.equal(headers['cross-origin-embedder-policy'], 'require-corp');
        assert.equal(headers['x-content-type-options'], 'nosniff');
        assert.equal(headers['referrer-policy'], 'no-referrer');
        const csp = directives(headers['content-security-policy']);
        assert.deepEqual(csp['connect-src'], ["'self'", ...expected], 'nothing saved yet: csp.json\'s origins');
        assert.deepEqual(csp['script-src'], ["'self'", "'wasm-unsafe-eval'"]);
        assert.deepEqual(csp['frame-ancestors'], ["'none'"]);
        await ready('served by the worker');
        assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true, 'COOP/COEP from the worker');
      });

      await t.test('saved connect origins: the next navigation\'s CSP lists exactly those', async () => {
        const stored = await saveConnectOrigins(page, [LOCAL_MODEL_SERVER]);
        assert.equal(stored, 'ok');
        const response = await page.reload();
        assert.equal(response.fromServiceWorker(), true);
        const csp = directives(response.headers()['content-security-policy']);
        assert.deepEqual(csp['connect-src'], ["'self'", LOCAL_MODEL_SERVER]);
        await ready('after saving the origins');
      });

      await t.test('no server at all: the studio still opens, isolated, engine loaded', async () => {
        await stopServer();
        const down = await fetch(base).then(() => 'answered', (e) => e.cause?.code ?? e.message);
        assert.notEqual(down, 'answered', 'the server is gone');
        const response = await page.reload();
        assert.equal(response.fromServiceWorker(), true);
        assert.deepEqual(directives(response.headers()['content-security-policy'])['connect-src'],
          ["'self'", LOCAL_MODEL_SERVER]);
        await ready('offline');
        assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
        const index = await page.evaluate(async () => (await (await fetch('/workflows/index.json')).json()).length);
        assert.ok(index > 5, 'the workflow index comes from the precache');
      });

      assert.deepEqual(problems, [], 'no console errors or warnings, failed requests or CSP violations so far');

      await t.test('the CSP refuses an origin not in connect-src, and lets a listed one through', async () => {
        const result = await page.evaluate(async (allowed) => {
          const seen = [];
          const listen = (e) => seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI });
          document.addEventListener('securitypolicyviolation', listen);
          const attempt = (url) => fetch(url).then((r) => `answered ${r.status}`, (e) => `rejected ${e.name}`);
          const outside = await attempt('https://example.com/steal');
          const listed = await attempt(`${allowed}/v1/models`);  // allowed; nothing listens there
          await new Promise((r) => setTimeout(r, 200));  // violation events are queued as tasks
          document.removeEventListener('securitypolicyviolation', listen);
          return { outside, listed, seen };
        }, LOCAL_MODEL_SERVER);
        assert.equal(result.outside, 'rejected TypeError');
        assert.equal(result.listed, 'rejected TypeError', 'no server on port 9, but the CSP let it go');
        assert.deepEqual(result.seen, [{ directive: 'connect-src', blocked: 'https://example.com/steal' }],
          'one violation: the unlisted origin');
      });

      await t.test('a model server on another origin: not intercepted, its stream not buffered', async () => {
        assert.equal(await saveConnectOrigins(page, [models.origin]), 'ok');
        const response = await page.reload();
        assert.equal(response.fromServiceWorker(), true);
        assert.deepEqual(directives(response.headers()['content-security-policy'])['connect-src'], ["'self'", models.origin]);
        await ready('with a local model server');
        const result = await page.evaluate(async (url) => {
          const began = performance.now();
          const reader = (await fetch(url)).body.pipeThrough(new TextDecoderStream()).getReader();
          const chunks = [];
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            chunks.push({ at: performance.now() - began, text: value });
          }
          const timing = performance.getEntriesByName(url)[0];
          return { chunks, matched: timing?.workerMatchedSourceType };
        }, `${models.origin}/v1/chat/completions`);
        assert.equal(result.chunks.map((c) => c.text).join(''),
          [0, 1, 2, 3].map((i) => `data: {"delta": "part ${i}"}\n\n`).join(''));
        const first = result.chunks[0].at;
        const last = result.chunks.at(-1).at;
        assert.ok(last - first > 300, `the events arrived as they were sent, not all at the end (${Math.round(first)} ms, ` +
          `${Math.round(last)} ms)`);
        assert.ok(!byWorker.some((u) => u.startsWith(models.origin)), 'the worker never fetched it itself');
        // Chromium's static routing: the request skipped the worker altogether.
        if (result.matched !== undefined) assert.equal(result.matched, 'network');
      });

      await t.test('keywords_digest runs offline in the page', async () => {
        const item = page.locator('[data-testid="workflow-item-keywords_digest"]');
        assert.equal(await item.count(), 1, 'the workflow list offers keywords_digest');
        await item.click();
        await page.fill('textarea#input-text', 'The lighthouse keeper counted the ships every night. ' +
          'He wrote their names in a blue ledger. The ledger was older than the lighthouse itself.');
        await page.click('[data-testid=run-button]');
        await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 15_000 });
      });
    } finally {
      await browser.close();
      await stopServer();
      models.server.closeAllConnections();
      await new Promise((r) => models.server.close(r));
    }
  });
