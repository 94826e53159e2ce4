// The knowledge panel in Chromium: entries added by hand and from a file, kept over a reload
// (the index snapshot in IndexedDB), searched with the hits' words marked, and a workflow's
// knowledge.query step showing what went into the prompt and why.
import test from 'node:test';
import assert from 'node:assert/strict';
import { studioSkip, studioReady, studioInBrowser, pageProblems, addKnowledgeEntry as addEntry } from './browser.mjs';

const skip = studioSkip();

test('the knowledge panel: add, keep, search, and the context a step gets', { skip }, async (t) => {
  const { browser, port } = await studioInBrowser(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = pageProblems(page);
  await page.goto(`http://127.0.0.1:${port}/#/knowledge`);
  await studioReady(page);

  await addEntry(page, { name: 'Mara Quill', aliases: 'Mara, the Quill girl', category: 'character', inclusion: 'when_mentioned',
    text: 'Mara grew up on the ferry between the islands. She hates fog and keeps the tide tables by heart.' });
  await addEntry(page, { name: 'The Night Ferry', category: 'location', inclusion: 'by_relevance',
    text: 'The ferry crosses at dawn. Its horn carries across the bay whenever there is fog.' });
  await addEntry(page, { name: 'The Drowned Keeper', category: 'lore', inclusion: 'always', chapter: '5',
    text: 'The lighthouse was never lit: its keeper drowned in the first winter.' });
  // A Markdown file through the file picker: its heading names it.
  await page.setInputFiles('[data-testid=kb-file]', {
    name: 'harbour.md', mimeType: 'text/markdown',
    buffer: Buffer.from('# Harbour notes\n\nThe harbour smells of tar and fog.\n\nGulls steal bread from the ferry crew.\n'),
  });
  await page.waitForSelector('[data-testid="kb-entry-Harbour notes"]');
  assert.match(await page.textContent('[data-testid=kb-status]'), /Added 1 of 1 file/);

  // Kept over a reload, and searchable from the stored index.
  await page.reload();
  await studioReady(page);
  for (const name of ['Mara Quill', 'The Night Ferry', 'The Drowned Keeper', 'Harbour notes']) {
    await page.waitForSelector(`[data-testid="kb-entry-${name}"]`);
  }
  await page.fill('[data-testid=kb-search]', 'fog ferries');
  await page.waitForSelector('[data-testid=kb-hit]');
  const hits = await page.$$eval('[data-testid=kb-hit]', (xs) => xs.map((x) => x.querySelector('a').textContent));
  assert.equal(hits[0], 'The Night Ferry', `ranked: ${hits}`);
  const marked = await page.$$eval('[data-testid=kb-hit] mark', (xs) => [...new Set(xs.map((x) => x.textContent.toLowerCase()))].sort());
  assert.deepEqual(marked, ['ferry', 'fog'], 'stems are marked where the words are');

  // A run of knowledge_context: the step's output says what went in and why.
  await page.click('[data-testid=nav-workflows]');
  await page.click('[data-testid=workflow-item-knowledge_context]');
  await page.waitForSelector('#input-outline');
  await page.fill('#input-outline', 'Mara waits for the ferry in the fog.');
  await page.fill('#input-chapter', '2');
  await page.click('[data-testid=run-button]');
  await page.waitForSelector('[data-testid=run-view][data-status=succeeded]', { timeout: 15_000 });
  await page.click('[data-testid=step-context]');
  await page.waitForSelector('[data-testid=knowledge-used]');
  const rows = await page.$$eval('[data-testid=knowledge-used] tbody tr:not(.dropped)',
    (trs) => trs.map((tr) => [tr.children[1].textContent, tr.dataset.reason]));
  assert.deepEqual(rows[0], ['Mara Quill', 'mentioned']);
  assert.ok(rows.some(([n, r]) => n === 'The Night Ferry' && r === 'ranked'), JSON.stringify(rows));
  assert.ok(!rows.some(([n]) => n === 'The Drowned Keeper'), 'a chapter-5 reveal stays out of chapter 2');
  assert.match(await page.textContent('[data-testid=output-brief] pre'), /\[1\] Mara Quill/);
  assert.deepEqual(problems, []);
});
