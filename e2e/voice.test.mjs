// The voice panel in Chromium: a voice built from pasted passages (after a refused one that keeps
// what was typed), its style chart, a passage in her voice scored above one that is nothing like
// her, with the reasons; passages ranked; the voice still there after a reload, and scored with
// the server gone (the background comes from the service worker's precache).
// Run: node --test e2e/voice.test.mjs   (needs build/web: tools/build --web; /usr/bin/chromium)
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launchChromium, pageProblems, studioSkip, studioReady } from './browser.mjs';
import { startServer } from '../tools/serve.mjs';
import { HISTORIAN, MARA, MARA_AGAIN } from '../web/test/fixtures/voices.mjs';

const skip = studioSkip();


// Scores `text` and resolves {score, confidence, evidence} once the panel has answered the
// `n`th time.
async function score(page, text, n) {
  await page.fill('[data-testid=voice-candidate]', text);
  await page.click('[data-testid=voice-score-button]');
  await page.waitForSelector(`[data-testid=voice-result][data-done="${n}"]`, { timeout: 30_000 });
  const error = await page.$('[data-testid=voice-score-error]');
  if (error) assert.fail(`scoring failed: ${await error.textContent()}`);
  return {
    score: Number(await page.getAttribute('[data-testid=voice-score]', 'data-score')),
    shown: await page.textContent('[data-testid=voice-score]'),
    confidence: await page.textContent('[data-testid=voice-confidence]'),
    evidence: await page.$$eval('[data-testid=voice-evidence] li', (lis) => lis.map((li) => li.textContent)),
  };
}

test('the voice panel: build a voice, see its chart, score and rank passages, keep it over a reload and offline', { skip }, async (t) => {
  let { server, port } = await startServer({ port: 0, host: '127.0.0.1' });
  const browser = await launchChromium();
  const stopServer = async () => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    server = null;
  };
  t.after(async () => {
    await browser.close();
    await stopServer();
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = pageProblems(page);
  await page.goto(`http://127.0.0.1:${port}/`);
  await studioReady(page);

  // The background is part of the build and of the worker's precache.
  const sw = readFileSync(new URL('../build/web/sw.js', import.meta.url), 'utf8');
  assert.ok(sw.includes('"url":"voice/background.loomvb"'), 'the worker precaches the background');

  await page.click('[data-testid=nav-voice]');
  await page.waitForSelector('[data-testid=voice-form]');
  assert.equal(await page.getAttribute('[data-testid=nav-voice]', 'aria-current'), 'page');
  // Loading, then loaded: the panel says which (no timing asserted, only that it gets there).
  await page.waitForSelector('[data-testid=voice-background][data-state=ready]', { timeout: 30_000 });
  assert.match(await page.textContent('[data-testid=voice-background]'), /passages/);

  // Too few words: the engine's message next to the form, and nothing typed is lost.
  await page.fill('[data-testid=voice-name]', 'Mara');
  await page.fill('[data-testid=voice-references]', "Row. Just row, and don't look back.");
  await page.click('[data-testid=voice-build]');
  await page.waitForSelector('[data-testid=voice-error]');
  assert.match(await page.textContent('[data-testid=voice-error]'), /invalid_value.*100/s);
  assert.equal(await page.inputValue('[data-testid=voice-name]'), 'Mara');
  assert.equal(await page.inputValue('[data-testid=voice-references]'), "Row. Just row, and don't look back.");
  assert.equal(await page.$('[data-testid="voice-item-Mara"]'), null, 'nothing was saved');

  await page.fill('[data-testid=voice-references]', MARA.join('\n\n'));
  await page.click('[data-testid=voice-build]');
  await page.waitForSelector('[data-testid=voice-detail][data-voice=Mara]', { timeout: 30_000 });
  await page.waitForSelector('[data-testid="voice-item-Mara"]');
  assert.match(page.url(), /#\/voice\/Mara$/);

  // The chart: one bar per feature, either side of the centre line, with its label and value.
  await page.waitForSelector('[data-testid=voice-chart]');
  const bars = await page.$$eval('[data-testid=voice-chart] [data-testid^=voice-bar-]', (rects) => rects.map((r) => ({
    id: r.dataset.testid.slice('voice-bar-'.length), z: Number(r.dataset.z), width: r.getBBox().width,
    label: r.parentNode.querySelector('.label').textContent, value: r.parentNode.querySelector('.value').textContent,
  })));
  assert.ok(bars.length >= 10, `bars: ${bars.length}`);
  for (const b of bars) {
    assert.ok(b.width >= 1 && b.label && /\d/.test(b.value), JSON.stringify(b));
  }
  const contractions = bars.find((b) => b.id === 'contractions');
  assert.ok(contractions && contractions.z > 0, 'Mara contracts more than the background');
  assert.ok(bars.some((b) => b.z < 0) && bars.some((b) => b.z > 0), 'bars on both sides');

  // Her voice scores above a historian's, and both come with reasons.
  const hers = await score(page, MARA_AGAIN, 1);
  const notHers = await score(page, HISTORIAN, 2);
  assert.ok(hers.score > notHers.score, `Mara's passage ${hers.score} > the historian's ${notHers.score}`);
  for (const s of [hers, notHers]) {
    assert.ok(s.score >= 0 && s.score <= 100);
    assert.equal(s.shown, String(Math.round(s.score)));
    assert.match(s.confidence, /^(low|medium|high) confidence \(\d\.\d\d\)$/);
    assert.ok(s.evidence.length >= 1 && s.evidence.every((e) => e.length > 5), JSON.stringify(s.evidence));
  }

  // Compare: the historian's passage and hers, ranked.
  await page.click('.voice-compare-box summary');
  await page.fill('[data-testid=voice-compare-1]', HISTORIAN);
  await page.fill('[data-testid=voice-compare-2]', MARA_AGAIN);
  await page.click('[data-testid=voice-rank-button]');
  await page.waitForSelector('[data-testid=voice-rank-result][data-done="1"]', { timeout: 30_000 });
  const rows = await page.$$eval('[data-testid=voice-ranking] tbody tr', (trs) => trs.map((tr) => tr.querySelector('th').textContent));
  assert.deepEqual(rows, ['passage 2', 'passage 1']);

  // Kept in IndexedDB: a reload shows it again.
  await page.reload();
  await studioReady(page);
  await page.waitForSelector('[data-testid="voice-item-Mara"]');
  await page.waitForSelector('[data-testid=voice-detail][data-voice=Mara] [data-testid=voice-chart]');

  // Offline: with the server gone the page, the engine and the background come from the worker.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
  await stopServer();
  await page.reload();
  await studioReady(page);
  await page.waitForSelector('[data-testid="voice-item-Mara"]');
  const offline = await score(page, MARA_AGAIN, 1);
  assert.equal(offline.score, hers.score, 'the same score offline');
  assert.deepEqual(problems, []);
});
