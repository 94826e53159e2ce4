// The studio in headless Chromium, as `npm start` serves it (build/web), against tools/fake-llm
// speaking the providers' wire protocols: streamed text arrives in the run view; a reload in the
// middle of a run resumes it and each finished step is called exactly once (the fake's counters);
// a broken workflow shows each error at its line as you type; a saved key is not in IndexedDB as
// plain text; model output is shown as text, never as HTML.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launchChromium, studioSkip, studioReady } from './browser.mjs';
import { startServer } from '../tools/serve.mjs';
import { startFakeLlm } from '../tools/fake-llm/server.mjs';

const skip = studioSkip();
const TYPOS = readFileSync(new URL('../workflows/examples/broken/typos.yaml', import.meta.url), 'utf8');

function modelsYaml(url) {
  return [
    'default: local-draft',
    'models:',
    `  local-draft: {provider: ollama, base_url: "${url}/v1", model: local-draft}`,
    `  local-revise: {provider: ollama, base_url: "${url}/v1", model: local-revise}`,
    `  keyed: {provider: anthropic, base_url: "${url}/v1", model: keyed-claude, credential: FAKE_ANTHROPIC_KEY, price: {input: 3, output: 15}}`,
    '',
  ].join('\n');
}

async function stats(fake) {
  return (await (await fetch(`${fake.url}/_fake/stats`)).json()).models;
}

// Replaces the text of the CodeMirror editor on screen, as a person pasting would.
async function replaceEditorText(page, text) {
  await page.click('[data-testid=yaml-editor] .cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

test('the studio: runs, reloads, errors at their lines, keys', { skip }, async (t) => {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 60 });
  const { server, port } = await startServer({ port: 0, host: '127.0.0.1' });
  const browser = await launchChromium();
  const problems = [];
  t.after(async () => {
    await browser.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await fake.close();
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  // Every CSP violation is a problem, except one: Chrome's own editing of CodeMirror's
  // contenteditable lines (typing, pasting) tries to add style attributes, which the policy
  // refuses and CodeMirror redraws from its state anyway.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const inEditor = e.composedPath().some((n) => n.classList?.contains('cm-content'));
      if (!(inEditor && e.violatedDirective === 'style-src-attr')) {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
      }
    });
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/^Applying inline style violates/.test(m.text())) return;  // reported by the listener above when it matters
    // The provider's refusals that a test asks the fake for are logged by the browser too.
    if (m.location()?.url?.startsWith(fake.url) && /status of 4\d\d/.test(m.text())) return;
    problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const base = `http://127.0.0.1:${port}/`;

  await page.goto(base);
  await studioReady(page);
  assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
  assert.match(await page.textContent('[data-testid=engine-status]'), /^engine \d+\.\d+\.\d+ \(wasm\)$/);
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 15_000 });

  await t.test('settings: a model pool pointing at the local server, saved, connects', async () => {
    await page.click('[data-testid=nav-settings]');
    await page.waitForSelector('[data-testid=yaml-editor]');
    await replaceEditorText(page, modelsYaml(fake.url));
    const saved = page.waitForEvent('load');  // a new address means a new policy: the page reloads
    await page.click('[data-testid=save-models]:not([disabled])');
    await saved;
    await studioReady(page);
    await page.waitForSelector('[data-testid=model-local-draft]');
    await page.click('[data-testid=test-local-draft]');
    await page.waitForSelector('[data-testid=test-result-local-draft][data-ok]');
    assert.equal(await page.getAttribute('[data-testid=test-result-local-draft]', 'data-ok'), 'true',
      await page.textContent('[data-testid=test-result-local-draft]'));
    assert.match(await page.textContent('[data-testid=test-result-local-draft]'), /^ok in /);
  });

  await t.test('a key saved in settings is encrypted: not in IndexedDB as text, and it works', async () => {
    const KEY = 'sk-ant-e2e-0123456789abcdef';
    await page.fill('[data-testid=key-FAKE_ANTHROPIC_KEY]', KEY);
    await page.click('[data-testid=save-key-FAKE_ANTHROPIC_KEY]');
    await page.waitForFunction(() => document.querySelector('[data-testid=key-state-FAKE_ANTHROPIC_KEY]')?.textContent === 'saved');
    assert.equal(await page.inputValue('[data-testid=key-FAKE_ANTHROPIC_KEY]'), '', 'the field is emptied');
    // Everything in every store of the studio's database, strings and bytes alike.
    const found = await page.evaluate(async (key) => {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open('loom');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const bytes = new TextEncoder().encode(key);
      const hasBytes = (u8) => {
        outer: for (let i = 0; i + bytes.length <= u8.length; i++) {
          for (let j = 0; j < bytes.length; j++) if (u8[i + j] !== bytes[j]) continue outer;
          return true;
        }
        return false;
      };
      const hits = [];
      const visit = (v, where) => {
        if (v == null) return;
        if (typeof v === 'string') { if (v.includes(key)) hits.push(where); return; }
        if (v instanceof ArrayBuffer) { if (hasBytes(new Uint8Array(v))) hits.push(where); return; }
        if (ArrayBuffer.isView(v)) { if (hasBytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))) hits.push(where); return; }
        if (typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(x, `${where}.${k}`);
      };
      const stores = [...db.objectStoreNames];
      for (const name of stores) {
        const all = await new Promise((res) => {
          const r = db.transaction(name).objectStore(name).getAll();
          r.onsuccess = () => res(r.result);
        });
        all.forEach((v, i) => visit(v, `${name}[${i}]`));
      }
      db.close();
      return { hits, stores, local: JSON.stringify(localStorage).includes(key) };
    }, KEY);
    assert.ok(found.stores.includes('credentials'));
    assert.deepEqual(found.hits, [], 'the key is nowhere in IndexedDB as text or bytes');
    assert.equal(found.local, false);
    await page.click('[data-testid=test-keyed]');
    await page.waitForSelector('[data-testid=test-result-keyed][data-ok]');
    assert.equal(await page.getAttribute('[data-testid=test-result-keyed]', 'data-ok'), 'true',
      await page.textContent('[data-testid=test-result-keyed]'));
    const log = await (await fetch(`${fake.url}/_fake/requests`)).json();
    assert.equal(log.at(-1).model, 'keyed-claude');
    assert.equal(log.at(-1).auth, 'present', 'the key went to the provider');
  });

  let runUrl;
  await t.test('run draft_revise: streamed text arrives while the step runs, then the outputs', async () => {
    await fetch(`${fake.url}/_fake/reset`, { method: 'POST' });
    await page.click('[data-testid=nav-workflows]');
    await page.click('[data-testid=workflow-item-draft_revise]');
    await page.waitForSelector('[data-testid=run-form] #input-outline');
    await page.fill('#input-outline', 'A ferry crossing at dawn [[words:100]]');
    await page.fill('#input-draft_model', 'local-draft');
    await page.fill('#input-revise_model', 'local-revise');
    await page.click('[data-testid=run-button]');
    await page.waitForSelector('[data-testid=run-view]');
    runUrl = page.url();
    assert.match(runUrl, /#\/runs\/[0-9a-f-]{36}$/);
    // Part of the draft is on screen while the draft step is still running.
    await page.waitForFunction(() => {
      const row = document.querySelector('[data-testid=step-draft]');
      const text = document.querySelector('[data-testid=stream-draft]')?.textContent ?? '';
      return row?.dataset.status === 'running' && text.split(/\s+/).length > 5;
    }, null, { timeout: 15_000 });
    assert.equal(await page.getAttribute('[data-testid=dag-node-draft]', 'data-status'), 'running');
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 30_000 });
    const revision = await page.textContent('[data-testid=output-revision] pre');
    assert.match(revision, /^Echo: Revise this passage/);
    assert.equal(await page.getAttribute('[data-testid=step-revise]', 'data-status'), 'succeeded');
    assert.equal(await page.getAttribute('[data-testid=dag-node-revise]', 'data-status'), 'succeeded');
  });

  await t.test('model output is shown as text, never as HTML', async () => {
    await page.click('[data-testid=nav-workflows]');
    await page.click('[data-testid=workflow-item-llm_hello]');
    await page.waitForSelector('[data-testid=run-form] #input-prompt');
    await page.fill('#input-model', 'local-draft');
    await page.fill('#input-prompt', '<img src=x onerror="window.__pwned=1"> <b>bold</b> [[words:12]]');
    await page.click('[data-testid=run-button]');
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 20_000 });
    const text = await page.textContent('[data-testid=output-text] pre');
    assert.ok(text.startsWith('Echo: <img src=x onerror="window.__pwned=1"> <b>bold</b>.'), text);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await page.locator('[data-testid=run-view] img, [data-testid=run-view] b').count(), 0);
    await page.goto(runUrl);
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]');
  });

  await t.test('reload in the middle of the revise step: the run resumes and finishes; the draft is not called again', async () => {
    await fetch(`${fake.url}/_fake/reset`, { method: 'POST' });
    await page.click('[data-testid=rerun]');
    await page.waitForFunction((old) => location.href !== old && document.querySelector('[data-testid=run-view]'), runUrl);
    const url = page.url();
    await page.waitForFunction(() => {
      const text = document.querySelector('[data-testid=stream-revise]')?.textContent ?? '';
      return document.querySelector('[data-testid=step-revise]')?.dataset.status === 'running' && text.split(/\s+/).length > 5;
    }, null, { timeout: 20_000 });
    const mid = await stats(fake);
    assert.equal(mid['local-draft'].completed, 1);
    assert.equal(mid['local-revise'].completed, 0, 'the reload comes while the revise answer is streaming');
    await page.reload();
    await studioReady(page);
    assert.equal(page.url(), url, 'the run view is back');
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 30_000 });
    const after = await stats(fake);
    assert.equal(after['local-draft'].requests, 1, 'the finished draft step was called exactly once');
    assert.equal(after['local-revise'].completed, 1, 'the revise step finished once');
    assert.equal(after['local-revise'].requests, 2, 'the interrupted revise call was made again, once');
    assert.match(await page.textContent('[data-testid=output-revision] pre'), /^Echo: Revise this passage/);
    // History lists both runs.
    await page.click('[data-testid=nav-runs]');
    await page.waitForSelector('[data-testid=run-history] tbody tr[data-status=succeeded]');
    assert.ok(await page.locator('[data-testid=run-history] tbody tr[data-status=succeeded]').count() >= 2);
  });

  await t.test('human.input: the run asks in the page; reload while it waits, then answer', async () => {
    await page.click('[data-testid=nav-workflows]');
    await page.click('[data-testid=workflow-item-example_approval]');
    await page.waitForSelector('[data-testid=run-form] #input-line');
    await page.fill('#input-line', 'The tide came in twice.');
    await page.click('[data-testid=run-button]');
    await page.waitForSelector('[data-testid=human-prompt]');
    const url = page.url();
    assert.equal(await page.textContent('[data-testid=human-prompt]'), 'Keep this line?');
    assert.match(await page.textContent('[data-testid=human-show]'), /The tide came in twice\./);
    assert.equal(await page.getAttribute('[data-testid=run-view]', 'data-status'), 'paused');
    await page.reload();
    await studioReady(page);
    assert.equal(page.url(), url, 'the run view is back');
    await page.waitForSelector('[data-testid=human-choice-yes]', { timeout: 20_000 });
    await page.click('[data-testid=human-choice-yes]');
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 20_000 });
    assert.match(await page.textContent('[data-testid=output-verdict] pre'), /kept: The tide came in twice\./);
    assert.equal(await page.isVisible('[data-testid=human-question]'), false);
  });

  await t.test('a failed step: re-run from it, the finished draft comes from the step cache', async () => {
    await fetch(`${fake.url}/_fake/reset`, { method: 'POST' });
    const queued = await fetch(`${fake.url}/_fake/faults`, { method: 'POST',
      body: JSON.stringify({ model: 'local-revise', faults: [{ type: 'status', status: 400 }] }) });
    assert.equal(queued.status, 200);
    await page.click('[data-testid=nav-workflows]');
    await page.click('[data-testid=workflow-item-draft_revise]');
    await page.waitForSelector('#input-outline');
    await page.fill('#input-outline', 'A lighthouse in fog [[words:20]]');
    await page.fill('#input-draft_model', 'local-draft');
    await page.fill('#input-revise_model', 'local-revise');
    await page.click('[data-testid=run-button]');
    await page.waitForSelector('[data-testid=run-view][data-status=failed]', { timeout: 20_000 });
    assert.equal(await page.getAttribute('[data-testid=step-revise]', 'data-status'), 'failed');
    assert.match(await page.textContent('[data-testid=run-error]'), /bad_request/);
    const failedUrl = page.url();
    await page.click('[data-testid=rerun-failed]');
    await page.waitForFunction((old) => location.href !== old, failedUrl);
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 20_000 });
    assert.match(await page.textContent('[data-testid=step-draft]'), /\(cached\)/);
    assert.match(await page.getAttribute('[data-testid=dag-node-draft]', 'aria-label'), /succeeded, cached/);
    const s = await stats(fake);
    assert.equal(s['local-draft'].requests, 1, 'the draft was not asked for again');
    assert.equal(s['local-revise'].requests, 2);
  });

  await t.test('cancel: the run stops, its calls are aborted, it says cancelled', async () => {
    await page.click('[data-testid=nav-workflows]');
    await page.click('[data-testid=workflow-item-draft_revise]');
    await page.waitForSelector('#input-outline');
    await page.fill('#input-outline', 'A long night crossing [[words:400]]');
    await page.click('[data-testid=run-button]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=stream-draft]')?.textContent ?? '').length > 20,
      null, { timeout: 20_000 });
    await page.click('[data-testid=cancel-button]');
    await page.waitForSelector('[data-testid=run-view][data-status=cancelled]', { timeout: 10_000 });
    assert.equal(await page.getAttribute('[data-testid=step-revise]', 'data-status'), 'cancelled');
    assert.equal(await page.getAttribute('[data-testid=step-draft]', 'data-status'), 'cancelled');
    assert.equal(await page.locator('[data-testid=rerun-failed]').count(), 1);
  });

  await t.test('a broken workflow shows each error at its line, as you type', async () => {
    await page.click('[data-testid=nav-workflows]');
    await page.click('[data-testid=new-workflow]');
    await page.waitForSelector('[data-testid=yaml-editor]');
    await page.waitForSelector('[data-testid=validity]:has-text("valid")');
    await replaceEditorText(page, TYPOS);
    await page.waitForFunction(() => document.querySelector('[data-testid=diagnostics]')?.dataset.count === '8');
    const lines = await page.$$eval('[data-testid=diagnostics] li', (li) => li.map((x) => [Number(x.dataset.line), x.dataset.code]));
    assert.deepEqual(lines, [[13, 'missing_key'], [14, 'unknown_key'], [17, 'unknown_agent'], [18, 'unknown_need'],
      [19, 'template_syntax'], [20, 'duplicate_step'], [25, 'template_not_upstream'], [28, 'template_unknown_name']]);
    assert.ok(await page.locator('.cm-lint-marker-error').count() >= 1, 'the gutter marks the lines');
    assert.equal(await page.isDisabled('[data-testid=run-button]'), true, 'a broken workflow cannot run');
    // Fix one typo: its two errors (no agent; unknown key) go, the others stay.
    await replaceEditorText(page, TYPOS.replace('agnet: text.chunk', 'agent: text.chunk'));
    await page.waitForFunction(() => document.querySelector('[data-testid=diagnostics]')?.dataset.count === '6');
    // The text is saved as it is, errors and all: nothing typed is lost on a reload.
    await page.waitForFunction(() => document.querySelector('[data-testid=save-status]')?.textContent === 'saved');
    await page.reload();
    await studioReady(page);
    await page.waitForFunction(() => document.querySelector('[data-testid=diagnostics]')?.dataset.count === '6');
  });

  assert.deepEqual(problems, []);
});
