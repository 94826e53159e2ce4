// The chat side panel in Chromium against tools/fake-llm: a question about the project answered
// (streamed), the notes it was given listed with their [n]; a workflow started from the panel,
// its progress inline while it waits for the writer, who answers in the run view; the
// conversation and the panel's state still there after a reload.
// Run: node --test e2e/chat.test.mjs   (needs build/web: tools/build --web; /usr/bin/chromium)
import test from 'node:test';
import assert from 'node:assert/strict';
import { addKnowledgeEntry, studioSkip, studioReady, studioInBrowser, pageProblems, useModelPool } from './browser.mjs';
import { startFakeLlm } from '../tools/fake-llm/server.mjs';
import { fakeRequests } from '../tools/fake-llm/client.mjs';

const skip = studioSkip();

test('the chat panel: ask with the notes shown, start a workflow and follow it, kept over a reload', { skip }, async (t) => {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 10 });
  t.after(() => fake.close());
  const { browser, base } = await studioInBrowser(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = pageProblems(page);
  await page.goto(base);
  await studioReady(page);
  await useModelPool(page, ['default: local-chat', 'models:',
    `  local-chat: {provider: ollama, base_url: "${fake.url}/v1", model: local-chat}`].join('\n'), 'local-chat');

  await page.click('[data-testid=nav-knowledge]');
  await addKnowledgeEntry(page, { name: 'Mara', category: 'character', inclusion: 'when_mentioned',
    text: 'Mara is seventeen, hates boats and keeps the tide tables by heart.' });
  await page.click('[data-testid=nav-manuscript]');
  await page.fill('[data-testid=ms-project-title]', 'The Night Ferry');
  await page.click('[data-testid=ms-create-project]');
  await page.waitForSelector('[data-testid=ms-add-act]');

  // The panel opens beside the view, on the project shown.
  assert.equal(await page.isVisible('[data-testid=chat-panel]'), false);
  await page.click('[data-testid=chat-toggle]');
  await page.waitForSelector('[data-testid=chat-panel] [data-testid=chat-input]');
  assert.equal(await page.$eval('[data-testid=chat-project] option:checked', (o) => o.textContent), 'The Night Ferry');

  await page.fill('[data-testid=chat-input]', 'What should Mara do next?');
  await page.click('[data-testid=chat-ask]');
  await page.waitForSelector('[data-testid=chat-answer]', { timeout: 30_000 });
  assert.match(await page.textContent('[data-testid=chat-answer]'), /^Echo: /);
  assert.deepEqual(await page.$$eval('[data-testid=chat-knowledge] li', (lis) => lis.map((l) => l.textContent)), ['[1] Mara (character, mentioned)']);
  const prompt = (await fakeRequests(fake.url)).at(-1).body.messages.at(-1).content;
  assert.match(prompt, /^The project:\n"The Night Ferry"/);
  assert.match(prompt, /Mara is seventeen/);

  // A workflow from the panel: its progress inline, waiting for the writer.
  await page.click('[data-testid=chat-workflows] summary');
  await page.selectOption('[data-testid=chat-workflow]', 'example_approval');
  await page.fill('#input-line', 'The tide came in twice.');
  await page.click('[data-testid=chat-start]');
  await page.waitForFunction(() => document.querySelector('[data-testid=chat-turn-run] [data-testid=chat-progress]')?.textContent.includes('waiting for your answer'));
  await page.click('[data-testid=chat-turn-run] [data-testid=chat-run-link]');
  await page.waitForSelector('[data-testid=human-choice-yes]');
  await page.click('[data-testid=human-choice-yes]');
  await page.waitForFunction(() => document.querySelector('[data-testid=chat-turn-run]')?.dataset.status === 'succeeded');

  // A reload: the panel is still open and the conversation still there.
  await page.reload();
  await studioReady(page);
  await page.waitForSelector('[data-testid=chat-panel] [data-testid=chat-answer]');
  assert.deepEqual(await page.$$eval('[data-testid=chat-turns] > li', (lis) => lis.map((l) => l.dataset.testid)),
    ['chat-turn-user', 'chat-turn-assistant', 'chat-turn-run']);
  assert.equal(await page.getAttribute('[data-testid=chat-turn-run]', 'data-status'), 'succeeded');
  assert.deepEqual(problems, []);
});
