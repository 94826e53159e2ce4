// Storage failures in the real browser: a full disk in the middle of a run stops it with a clear
// message and loses nothing stored — Resume finishes it with a log that has no gap; a browser
// that refuses IndexedDB (private mode, storage disabled) gets a message saying so.
import test from 'node:test';
import assert from 'node:assert/strict';
import { studioSkip, studioInBrowser } from './browser.mjs';

const skip = studioSkip();

async function ready(page) {
  await page.waitForSelector('body[data-ready]', { timeout: 20_000 });
  return page.getAttribute('body', 'data-ready');
}

test('storage errors: clear messages, nothing stored is lost', { skip }, async (t) => {
  const { browser, port } = await studioInBrowser(t);
  const base = `http://127.0.0.1:${port}/`;

  await t.test('the disk fills up mid-run: the run stops and says why; Resume finishes it, the log has no gap', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // A switch the test flips: while on, adding a record fails as a full disk does.
    await page.addInitScript(() => {
      const add = IDBObjectStore.prototype.add;
      IDBObjectStore.prototype.add = function (...args) {
        if (globalThis.__diskFull) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return add.apply(this, args);
      };
    });
    await page.goto(`${base}#/workflows/example_parallel`);
    assert.equal(await ready(page), 'true');
    await page.fill('#input-ms', '1500');
    await page.click('[data-testid=run-button]');
    await page.waitForFunction(() => document.querySelector('[data-testid=step-a]')?.dataset.status === 'running');
    await page.evaluate(() => { globalThis.__diskFull = true; });
    const banner = page.locator('[data-testid=banner-error]');
    await banner.waitFor({ timeout: 10_000 });
    const message = await banner.textContent();
    assert.match(message, /quota_exceeded/);
    assert.match(message, /nothing saved earlier was lost/);
    assert.match(message, /Free disk space, or delete old runs in History/);
    await page.waitForSelector('[data-testid=resume-button]');
    assert.equal(await page.getAttribute('[data-testid=run-view]', 'data-status'), 'running', 'the stored run is still resumable');

    await page.evaluate(() => { globalThis.__diskFull = false; });
    await page.click('[data-testid=resume-button]');
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 20_000 });
    assert.equal((await page.textContent('[data-testid=output-joined] pre')).trim(), 'abcd');
    const runId = await page.getAttribute('[data-testid=run-view]', 'data-run');
    const seqs = await page.evaluate(async (id) => {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open('loom');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const all = await new Promise((res) => {
        const r = db.transaction('events').objectStore('events').getAll(IDBKeyRange.bound([id, 0], [id, Infinity]));
        r.onsuccess = () => res(r.result);
      });
      db.close();
      return all.map((x) => x.seq);
    }, runId);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'the log is 1..n with no gap');
    assert.equal(seqs.length > 10, true);
    await context.close();
  });

  await t.test('a browser that refuses IndexedDB gets a message saying Loom cannot keep work there', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      IDBFactory.prototype.open = function () {
        throw new DOMException('The user denied permission to access the database.', 'SecurityError');
      };
    });
    await page.goto(base);
    assert.equal(await ready(page), 'false');
    assert.match(await page.textContent('#view'), /Loom cannot keep your work in this browser/);
    assert.match(await page.textContent('[data-testid=fatal]'), /unavailable/);
    await context.close();
  });
});
