// The Digest panel in Chromium against tools/fake-llm: a PDF, an e-mail and a web page served by
// a local site are digested (the page by the fake model, streamed; the files offline), a broken
// PDF fails on its own with its code, a digest is filed into the knowledge base and is still
// there, with where it came from, after a reload.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { studioSkip, studioReady, studioInBrowser, pageProblems } from './browser.mjs';
import { startFakeLlm } from '../tools/fake-llm/server.mjs';

const skip = studioSkip();
const fixture = (name) => readFileSync(new URL(`../web/test/fixtures/extract/${name}`, import.meta.url));

// A site of its own origin with an article that other origins may read (CORS).
async function serveSite(t) {
  const article = fixture('article.html');
  const server = http.createServer((req, res) => {
    if (req.url !== '/article') return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin' }).end(article);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${server.address().port}`;
}

const texts = (page, selector) => page.$$eval(selector, (xs) => xs.map((x) => x.textContent));

test('the digest panel: a PDF, an e-mail and a web page; filed into knowledge; kept', { skip }, async (t) => {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 100 });
  t.after(() => fake.close());
  const site = await serveSite(t);
  const { browser, base } = await studioInBrowser(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = pageProblems(page);
  await page.goto(base);
  await studioReady(page);
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 15_000 });

  // The model pool points at the fake provider; its default needs no key, so digests use it.
  await page.click('[data-testid=nav-settings]');
  await page.click('[data-testid=yaml-editor] .cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(`default: local-fake\nmodels:\n  local-fake: {provider: ollama, base_url: "${fake.url}/v1", model: local-fake}\n`);
  const reloaded = page.waitForEvent('load');
  await page.click('[data-testid=save-models]:not([disabled])');
  await reloaded;
  await studioReady(page);

  await page.click('[data-testid=nav-digest]');
  await page.waitForSelector('[data-testid=digest-model-why]:has-text("Digests are written by")');
  assert.equal(await page.inputValue('[data-testid=digest-model]'), 'local-fake');
  assert.match(await page.textContent('[data-testid=digest-model-why]'), /^Digests are written by local-fake: it is the default model and needs no key\.$/);

  // The site is not allowed yet: the panel asks, the page reloads, then the address is taken.
  await page.fill('[data-testid=digest-url]', `${site}/article`);
  await page.click('[data-testid=digest-add-url]');
  await page.waitForSelector('[data-testid=digest-allow]');
  const allowed = page.waitForEvent('load');
  await page.click('[data-testid=digest-allow-button]');
  await allowed;
  await studioReady(page);
  await page.waitForSelector('[data-testid=digest-model-why]:has-text("Digests are written by")');
  await page.fill('[data-testid=digest-url]', `${site}/article`);
  await page.click('[data-testid=digest-add-url]');
  await page.waitForSelector('[data-testid=digest-source]');

  // The web page, by the model.
  await page.click('[data-testid=digest-run]');
  const pageCard = '[data-testid=digest-progress] [data-testid=digest-item]';
  // While the model writes, its text shows as it streams in (the fake sends a piece every 100 ms).
  await page.waitForFunction((sel) => {
    const card = document.querySelector(sel);
    return card?.dataset.state === 'running' && /^Echo: Digest part/.test(card.querySelector('[data-testid=digest-stream]')?.textContent);
  }, pageCard, { timeout: 30_000 });
  assert.equal(await page.getAttribute(`${pageCard} [data-testid=digest-steps] [data-step=chunks]`, 'data-status'), 'succeeded');
  await page.waitForSelector(`${pageCard}[data-state=done], ${pageCard}[data-state=failed]`, { timeout: 30_000 });
  assert.equal(await page.getAttribute(pageCard, 'data-state'), 'done', await page.textContent(pageCard));
  assert.equal(await page.textContent(`${pageCard} [data-testid=digest-by]`), 'digested by local-fake');
  const digest = await page.textContent(`${pageCard} [data-testid=digest-text]`);
  assert.match(digest, /^Echo: Digest part 1 of \d+ of a document\./);
  assert.ok((await texts(page, `${pageCard} [data-testid=digest-keywords] .badge`)).length > 0);
  const stats = (await (await fetch(`${fake.url}/_fake/stats`)).json()).models;
  assert.ok(stats['local-fake'].completed >= 1);

  // Cancelled while the model does not answer: the card says so with its code.
  const hang = await fetch(`${fake.url}/_fake/faults`, { method: 'POST',
    body: JSON.stringify({ model: 'local-fake', faults: [{ type: 'hang' }] }) });
  assert.equal(hang.status, 200);
  await page.setInputFiles('[data-testid=digest-files]', [{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('The ferry runs only in summer.') }]);
  await page.click('[data-testid=digest-run]');
  await page.waitForSelector(`${pageCard}[data-state=running]`);
  await page.click('[data-testid=digest-cancel]');
  await page.waitForSelector(`${pageCard}[data-state=failed]`);
  assert.equal(await page.getAttribute(pageCard, 'data-code'), 'cancelled');
  assert.equal(await page.isHidden('[data-testid=digest-cancel]'), true);

  // A PDF, an e-mail and a broken PDF, offline.
  await page.selectOption('[data-testid=digest-model]', '');
  assert.match(await page.textContent('[data-testid=digest-model-why]'), /^Digests are written offline \(extractive summary\), as chosen here\.$/);
  await page.setInputFiles('[data-testid=digest-files]', [
    { name: 'two_pages.pdf', mimeType: 'application/pdf', buffer: fixture('two_pages.pdf') },
    { name: 'plain.eml', mimeType: 'message/rfc822', buffer: fixture('plain.eml') },
    { name: 'garbage.pdf', mimeType: 'application/pdf', buffer: fixture('garbage.pdf') },
  ]);
  assert.deepEqual(await texts(page, '[data-testid=digest-source] span'), ['two_pages.pdf', 'plain.eml', 'garbage.pdf']);
  await page.click('[data-testid=digest-run]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=digest-progress] [data-testid=digest-item]')]
    .filter((c) => c.dataset.state === 'done' || c.dataset.state === 'failed').length === 3, null, { timeout: 30_000 });
  const cards = await page.$$eval('[data-testid=digest-progress] [data-testid=digest-item]',
    (xs) => xs.map((x) => [x.querySelector('[data-testid=digest-title]').textContent, x.dataset.state, x.dataset.code ?? '']));
  assert.deepEqual(cards, [['The Lighthouse Keeper', 'done', ''], ['Notes on chapter three', 'done', ''],
    ['garbage.pdf', 'failed', 'pdf_broken']]);
  assert.match(await page.textContent('[data-testid=digest-progress] [data-testid=digest-error]'), /^pdf_broken: /);
  const mail = '[data-testid=digest-progress] [data-testid=digest-item]:nth-child(2)';
  assert.equal(await page.textContent(`${mail} [data-testid=digest-by]`), 'digested offline (extractive summary)');
  const mailDigest = await page.textContent(`${mail} [data-testid=digest-text]`);
  assert.match(mailDigest, /keeper's daughter/);
  // The page digested before (and the cancelled note) are now among the earlier digests.
  assert.deepEqual(await texts(page, '[data-testid=digest-recent] [data-testid=digest-title]'), ['notes', 'Lighthouses of the North Coast']);

  // Filed into the knowledge base as lore, under a name of the writer's.
  await page.fill(`${mail} [data-testid=digest-name]`, 'Ines on chapter three');
  await page.selectOption(`${mail} [data-testid=digest-category]`, 'lore');
  await page.click(`${mail} [data-testid=digest-file]`);
  await page.waitForSelector(`${mail} [data-testid=digest-filed]`);
  assert.match(await page.textContent(`${mail} [data-testid=digest-filed]`), /^Filed into the knowledge base as Ines on chapter three/);
  const runHref = await page.getAttribute(`${mail} [data-testid=digest-run-link]`, 'href');
  const runId = decodeURIComponent(runHref.replace('#/runs/', ''));

  // Kept over a reload: the entry, with its text and provenance; the digest, marked filed.
  await page.reload();
  await studioReady(page);
  await page.click('[data-testid=nav-knowledge]');
  await page.click('[data-testid="kb-entry-Ines on chapter three"]');
  await page.waitForSelector('[data-testid=kb-form]');
  assert.equal(await page.inputValue('[data-testid=kb-category]'), 'lore');
  assert.equal((await page.inputValue('[data-testid=kb-text]')).replace(/\s+/g, ''), mailDigest.replace(/\s+/g, ''));
  assert.match(await page.textContent('[data-testid=kb-form]'), new RegExp(`from digest of plain\\.eml \\(run ${runId}, the offline summary\\) \\(digest\\)`));
  await page.click('[data-testid=nav-digest]');
  await page.waitForSelector('[data-testid=digest-recent-item]');
  const recent = await page.$$eval('[data-testid=digest-recent-item]', (xs) => xs.map((x) => [
    x.querySelector('[data-testid=digest-title]').textContent, x.dataset.state, Boolean(x.querySelector('[data-testid=digest-filed]'))]));
  // Newest first; the broken PDF started no run, so it is not among them.
  assert.deepEqual(recent.map(([title, state, filed]) => [title, state, filed]).sort(), [['Lighthouses of the North Coast', 'done', false],
    ['Notes on chapter three', 'done', true], ['The Lighthouse Keeper', 'done', false], ['notes', 'failed', false]]);
  // The run behind it.
  await page.click(`[data-testid=digest-recent-item] a[href="${runHref}"]`);
  await page.waitForSelector('[data-testid=run-view][data-status=succeeded]');
  assert.deepEqual(problems, []);
});
