// The studio in headless Chromium: the page `npm start` serves loads the wasm engine, lists the
// shipped workflows, runs them with the offline host and shows their events and outputs.
// Run: node --test e2e/studio.e2e.mjs   (needs build/wasm-release and /usr/bin/chromium;
// LOOM_WASM_DIR serves another build of loom.mjs + loom.wasm)
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from '../tools/serve.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.LOOM_SCREENSHOT ?? '/tmp/loom-studio.png';

const DOCUMENT = [
  'The lighthouse keeper counted the ships every night. He wrote their names in a blue ledger. ' +
    'The ledger was older than the lighthouse itself. Nobody in the village knew who had started it.',
  'One winter a ship came that had no name. The keeper watched it for three nights. ' +
    'On the fourth night it was gone, and a new page of the ledger was filled in a hand he did not know.',
  '<img src=x onerror="window.__pwned = true"> Text that looks like markup must stay text.',
].join('\n\n');

test('studio: run ingestion_digest and example_parallel in the page', { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}` }, async (t) => {
  const { server, port } = await startServer({ port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });

    await page.goto(`http://127.0.0.1:${port}/`);
    assert.equal(await page.title(), 'Loom');
    await page.waitForSelector('body[data-ready]', { timeout: 15_000 });
    if ((await page.getAttribute('body', 'data-ready')) !== 'true') {
      // e.g. a CSP refusal: embind built without -sDYNAMIC_EXECUTION=0 evaluates strings.
      assert.fail(`the engine did not load in the page: ${await page.textContent('[data-testid=errors]')}`);
    }
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
    assert.equal(isolated, true, 'COOP/COEP make the page cross-origin isolated');
    assert.match(await page.textContent('[data-testid=engine-status]'), /^engine \d+\.\d+\.\d+ \(wasm\)$/);

    const options = await page.$$eval('[data-testid=workflow-select] option', (os) => os.map((o) => o.value));
    for (const name of ['ingestion_digest', 'example_parallel', 'example_call_workflow', 'keywords_digest']) {
      assert.ok(options.includes(name), `${name} is offered`);
    }
    assert.equal(await page.locator('[data-testid=load-notes] .error').count(), 0, 'every shipped workflow loaded');

    await t.test('ingestion_digest: a document in, events and a digest out', async () => {
      await page.selectOption('[data-testid=workflow-select]', 'ingestion_digest');
      assert.equal(await page.locator('#input-document').evaluate((e) => e.tagName), 'TEXTAREA');
      assert.equal(await page.locator('#input-max_sentences').getAttribute('type'), 'number');
      assert.equal(await page.inputValue('#input-max_sentences'), '5', 'the default is filled in');
      await page.fill('#input-document', DOCUMENT);
      await page.fill('#input-chunk_chars', '300');
      await page.fill('#input-max_sentences', '1');
      await page.click('[data-testid=run-button]');
      await page.waitForFunction(() => document.querySelector('[data-testid=run-status]').textContent === 'succeeded',
        null, { timeout: 15_000 });

      const types = await page.$$eval('[data-testid=event-list] li', (lis) => lis.map((li) => li.dataset.type));
      assert.equal(types[0], 'run_started');
      assert.equal(types.at(-1), 'run_succeeded');
      assert.ok(types.includes('step_succeeded'));
      const seqs = await page.$$eval('[data-testid=event-list] li .seq', (s) => s.map((x) => Number(x.textContent)));
      seqs.forEach((s, i) => assert.equal(s, i + 1));

      const digest = await page.textContent('[data-testid=outputs] [data-output=digest] pre');
      assert.ok(digest.includes('lighthouse') || digest.includes('ship'), `a digest of the document: ${digest}`);
      assert.ok(digest.length < DOCUMENT.length);
      assert.ok(await page.locator('[data-testid=outputs] [data-output=keywords]').count());
      const rows = await page.$$eval('[data-testid=step-table] tbody tr',
        (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.step, tr.dataset.status])));
      assert.deepEqual(rows, { chunks: 'succeeded', keywords: 'succeeded', summary: 'succeeded' });
      // Text that looks like markup is shown as text, never parsed.
      assert.equal(await page.evaluate(() => globalThis.__pwned), undefined);
      assert.equal(await page.locator('[data-testid=outputs] img, [data-testid=event-list] img').count(), 0);
    });

    await t.test('example_parallel: a, b, c, d succeed (util.sleep performed by the page)', async () => {
      await page.selectOption('[data-testid=workflow-select]', 'example_parallel');
      assert.equal(await page.locator('[data-testid=event-list] li').count(), 0, 'a new workflow starts with no events');
      await page.fill('#input-ms', '150');
      const began = Date.now();
      await page.click('[data-testid=run-button]');
      await page.waitForFunction(() => document.querySelector('[data-testid=run-status]').textContent === 'succeeded',
        null, { timeout: 15_000 });
      const elapsed = Date.now() - began;
      assert.ok(elapsed >= 300, `pool "slow" (2 at a time) makes it take two rounds of 150 ms (${elapsed} ms)`);
      const rows = await page.$$eval('[data-testid=step-table] tbody tr',
        (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.step, tr.dataset.status])));
      for (const step of ['start', 'a', 'b', 'c', 'd', 'join']) assert.equal(rows[step], 'succeeded', step);
      assert.equal(await page.textContent('[data-testid=outputs] [data-output=joined] pre'), 'abcd');
      const started = await page.$$eval('[data-testid=event-list] li[data-type=step_started] .step', (s) => s.map((x) => x.textContent));
      for (const step of ['a', 'b', 'c', 'd']) assert.ok(started.includes(step), `${step} started`);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    });

    await t.test('cancel: a long run is cancelled from the page', async () => {
      await page.fill('#input-ms', '60000');
      await page.click('[data-testid=run-button]');
      await page.waitForSelector('[data-testid=event-list] li[data-type=step_started][data-seq="9"]');
      await page.click('[data-testid=cancel-button]');
      await page.waitForFunction(() => document.querySelector('[data-testid=run-status]').textContent === 'cancelled',
        null, { timeout: 5_000 });
      const last = await page.$$eval('[data-testid=event-list] li', (lis) => lis.at(-1).dataset.type);
      assert.equal(last, 'run_cancelled');
    });

    await t.test('engine errors are shown with their code and message', async () => {
      await page.selectOption('[data-testid=workflow-select]', 'ingestion_digest');
      await page.fill('#input-document', '');
      await page.click('[data-testid=run-button]');
      await page.waitForFunction(() => document.querySelector('[data-testid=run-status]').textContent === 'error');
      const text = await page.textContent('[data-testid=errors]');
      assert.match(text, /error\[input_missing\] \(code 14\)/);
      assert.match(text, /document/);
    });

    assert.deepEqual(problems, [], 'no console errors, CSP violations or failed requests');
  } finally {
    await browser.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
