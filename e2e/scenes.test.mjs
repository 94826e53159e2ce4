// The scene workflows in Chromium against tools/fake-llm (its `reply` fault scripts what each
// model writes): a scene drafted from its outline, the page reloaded while the draft waits for
// approval, approved, and saved as a revision with its provenance; a scene rewritten in Mara's
// voice until it reaches the target score; three models compared on one prompt, the matrix and
// the recommendation, made the project's default; the cost line; and the project backed up in one
// browser profile and restored into a fresh one, the same project.
// Run: node --test e2e/scenes.test.mjs   (needs build/web: tools/build --web; /usr/bin/chromium)
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { studioSkip, studioReady, studioInBrowser, pageProblems, useModelPool } from './browser.mjs';
import { startFakeLlm } from '../tools/fake-llm/server.mjs';
import { fakeStats, scriptReplies } from '../tools/fake-llm/client.mjs';
import { loadVoiceBackground } from '../web/src/engine.js';
import { HISTORIAN, LEGAL, MARA, MARA_AGAIN } from '../web/test/fixtures/voices.mjs';
import { REPO } from '../web/test/helpers.mjs';

const skip = studioSkip();


const pool = (url) => ['default: local-a', 'models:',
  ...['local-a', 'local-b', 'local-c'].map((m) => `  ${m}: {provider: ollama, base_url: "${url}/v1", model: ${m}}`)].join('\n');



// Mara's scores as the workflows will compute them (her stored voice is these passages; the other
// scenes hold none of her attributed lines), to set a target between a miss and a hit.
async function maraScores() {
  const bg = await loadVoiceBackground(new Uint8Array(await readFile(path.join(REPO, 'build/voice/background.loomvb'))));
  try {
    const profile = bg.profile({ name: 'Mara', references: MARA });
    const score = (text) => bg.score(profile, text).score;
    return { historian: score(HISTORIAN), legal: score(LEGAL), hers: score(MARA_AGAIN) };
  } finally {
    bg.delete();
  }
}

// Opens the scene editor of a new scene in the (only) chapter and fills its fields.
async function newScene(page, { title, pov, outline, text }) {
  const before = await page.evaluate(() => location.hash);
  await (await page.waitForSelector('[data-testid^=ms-add-scene-]')).click();
  await page.waitForFunction((old) => location.hash !== old && /#\/manuscript\/[^/]+\/[^/]+$/.test(location.hash)
    && document.querySelector('[data-testid=ms-text]'), before);
  const sceneId = page.url().split('/').at(-1);
  for (const [key, value] of [['title', title], ['pov', pov], ['outline', outline]]) {
    if (value == null) continue;
    await page.fill(`[data-testid=ms-${key}]`, value);
    await page.press(`[data-testid=ms-${key}]`, 'Tab');
  }
  if (text) {
    await page.fill('[data-testid=ms-text]', text);
    await page.waitForSelector('[data-testid=ms-save-state][data-state=saved]');
  }
  return sceneId;
}

async function openScene(page, projectId, sceneId) {
  await page.goto(`${page.url().split('#')[0]}#/manuscript/${projectId}/${sceneId}`);
  await page.waitForFunction((id) => location.hash.endsWith(id) && document.querySelector('[data-testid=ms-text]'), sceneId);
}

// Clicks a button that starts a run: resolves once the run view shows; an error the box shows
// instead fails the test with its text.
async function startRun(page, testid) {
  await page.click(`[data-testid=${testid}]`);
  await page.waitForSelector('[data-testid=run-view], [data-testid=ms-ai-error] [data-testid=ms-error]');
  const error = await page.$('[data-testid=ms-ai-error] [data-testid=ms-error]');
  if (error) assert.fail(`${testid} did not start: ${await error.textContent()}`);
}

// Waits for the run in view to ask its question; a run that ends first fails the test with its error.
async function waitForQuestion(page) {
  await page.waitForSelector('[data-testid=human-show], [data-testid=run-view][data-status=failed], [data-testid=run-view][data-status=cancelled]', { timeout: 60_000 });
  if (await page.$('[data-testid=human-show]')) return page.textContent('[data-testid=human-show]');
  assert.fail(`the run ended without asking: ${await page.textContent('[data-testid=run-error-box]')}`);
}

async function approve(page) {
  await page.waitForSelector('[data-testid=human-choice-approve]', { timeout: 30_000 });
  await page.click('[data-testid=human-choice-approve]');
}

const download = async (page, testid) => {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=${testid}]`)]);
  const chunks = [];
  for await (const c of await file.createReadStream()) chunks.push(c);
  return { name: file.suggestedFilename(), bytes: Buffer.concat(chunks) };
};

// A backup with its ids replaced by their order of appearance: two copies of one project compare
// equal whatever ids each browser gave it.
function canonical(backup) {
  const ids = new Map();
  const id = (x) => {
    if (!ids.has(x)) ids.set(x, `#${ids.size}`);
    return ids.get(x);
  };
  const b = JSON.parse(JSON.stringify(backup));
  delete b.exported;
  b.project.id = id(b.project.id);
  for (const act of b.project.acts) {
    act.id = id(act.id);
    for (const ch of act.chapters) {
      ch.id = id(ch.id);
      ch.scenes = ch.scenes.map(id);
    }
  }
  for (const s of b.scenes) Object.assign(s, { id: id(s.id), project: b.project.id });
  for (const r of b.revisions) r.scene = id(r.scene);
  return b;
}

test('the scene workflows: draft and approve across a reload, rewrite to the target voice, compare models, back up and restore', { skip }, async (t) => {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 15 });
  t.after(() => fake.close());
  const { browser, base } = await studioInBrowser(t);
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = pageProblems(page);
  await page.goto(base);
  await studioReady(page);
  await useModelPool(page, pool(fake.url), 'local-a');

  // Mara's voice, from her passages.
  await page.click('[data-testid=nav-voice]');
  await page.waitForSelector('[data-testid=voice-form]');
  await page.fill('[data-testid=voice-name]', 'Mara');
  await page.fill('[data-testid=voice-references]', MARA.join('\n\n'));
  await page.click('[data-testid=voice-build]');
  await page.waitForSelector('[data-testid=voice-detail][data-voice=Mara]', { timeout: 30_000 });

  // A project with one chapter.
  await page.click('[data-testid=nav-manuscript]');
  await page.fill('[data-testid=ms-project-title]', 'The Night Ferry');
  await page.click('[data-testid=ms-create-project]');
  await page.waitForSelector('[data-testid=ms-add-act]');
  const projectId = page.url().match(/#\/manuscript\/([^/]+)$/)[1];
  await page.click('[data-testid=ms-add-act]');
  await (await page.waitForSelector('[data-testid^=ms-add-chapter-]')).click();

  await t.test('generate: streamed, waits for approval across a reload, saved with its provenance', async () => {
    const sceneId = await newScene(page, { title: 'Dawn crossing', pov: 'Mara', outline: 'Mara rows out into the fog to find the box.' });
    await scriptReplies(fake.url, 'local-a', [MARA_AGAIN]);
    await page.fill('[data-testid=ms-gen-words]', '150');
    await startRun(page, 'ms-generate');
    const runId = await page.getAttribute('[data-testid=run-view]', 'data-run');
    assert.match(await waitForQuestion(page), /^Voice of Mara: [\d.]+ \(50 = an unrelated voice/);
    assert.equal(await page.getAttribute('[data-testid=run-for-link]', 'href'), `#/manuscript/${projectId}/${sceneId}`);

    // The tab reloads while the draft waits: the run is restored and asks again; the model is not
    // called again.
    await page.reload();
    await studioReady(page);
    assert.ok((await waitForQuestion(page)).endsWith(MARA_AGAIN));
    await approve(page);
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=banner-news]')]
      .some((n) => n.textContent === 'Saved as revision #1 of "Dawn crossing".'));
    assert.equal((await fakeStats(fake.url))['local-a'].completed, 1, 'the draft was not paid for twice');

    await page.click('[data-testid=run-for-link]');
    await page.waitForFunction((id) => location.hash.endsWith(id) && document.querySelector('[data-testid=ms-text]'), sceneId);
    assert.equal(await page.inputValue('[data-testid=ms-text]'), MARA_AGAIN);
    await page.click('[data-testid=ms-revisions-open]');
    const origin = await (await page.waitForSelector('[data-testid=ms-revision-origin-1]')).textContent();
    assert.match(origin, /^model local-a · Mara \d+(\.\d+)?$/);
    await page.waitForSelector(`[data-testid=ms-run-${runId}]`);
    assert.match(await page.textContent(`[data-testid=ms-run-${runId}]`), /draft kept → revision #1/);
    assert.match(await page.textContent('[data-testid=ms-spend-scene]'), /^Spent on this scene: \$0\.00 · [\d,]+ tokens \(1 run\)$/);
  });

  await t.test('enhance: rewritten until the score reaches the target, kept with both scores', async () => {
    const scores = await maraScores();
    const target = Math.round((Math.max(scores.historian, scores.legal) + scores.hers) / 2);
    assert.ok(scores.hers > target && target > scores.legal && target > scores.historian, JSON.stringify(scores));
    const sceneId = await newScene(page, { title: 'Harbour', pov: 'Mara', text: HISTORIAN });
    await scriptReplies(fake.url, 'local-b', [LEGAL, MARA_AGAIN]);
    await page.selectOption('[data-testid=ms-ai-model]', 'local-b');
    await page.fill('[data-testid=ms-enh-target]', String(target));
    await page.fill('[data-testid=ms-enh-iterations]', '4');
    await startRun(page, 'ms-enhance');
    assert.match(await waitForQuestion(page), new RegExp(`after 2 rewrites \\(target ${target}\\)`));
    await approve(page);
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]');
    assert.equal((await fakeStats(fake.url))['local-b'].completed, 2, 'two rewrites, not four: the target was reached');
    await page.click('[data-testid=run-for-link]');
    await page.waitForFunction((id) => location.hash.endsWith(id) && document.querySelector('[data-testid=ms-text]'), sceneId);
    await page.waitForFunction((text) => document.querySelector('[data-testid=ms-text]').value === text, MARA_AGAIN);
    await page.click('[data-testid=ms-revisions-open]');
    const origin = await (await page.waitForSelector('[data-testid=ms-revision-origin-2]')).textContent();
    const [, before, after] = origin.match(/^model local-b · Mara ([\d.]+) → ([\d.]+)$/);
    assert.ok(Number(before) < target && Number(after) >= target, origin);
  });

  await t.test('voice testing: three models, the matrix, the recommendation, the project default', async () => {
    await scriptReplies(fake.url, 'local-a', [HISTORIAN]);
    await scriptReplies(fake.url, 'local-b', [MARA_AGAIN]);
    await scriptReplies(fake.url, 'local-c', [LEGAL]);
    await page.goto(`${base}#/voice/Mara`);
    await page.waitForSelector('[data-testid=vt] summary');
    await page.click('[data-testid=vt] summary');
    await page.fill('[data-testid=vt-prompt]', 'Mara tells Jon to row.');
    for (const m of ['local-a', 'local-b', 'local-c']) await page.check(`[data-testid=vt-model-${m}]`);
    await page.selectOption('[data-testid=vt-project]', projectId);
    await page.click('[data-testid=vt-run]');
    await page.waitForSelector('[data-testid=vt-matrix]', { timeout: 60_000 });
    const rows = await page.$$eval('[data-testid=vt-matrix] tbody tr', (trs) => trs.map((tr) => ({
      model: tr.dataset.model, rank: Number(tr.dataset.rank), cells: [...tr.children].map((c) => c.textContent) })));
    assert.equal(rows.length, 3);
    assert.equal(rows[0].model, 'local-b');
    assert.equal(rows[0].rank, 1);
    for (const r of rows) {
      assert.match(r.cells[2], /^\d+ ± \d+$/, 'score');
      assert.match(r.cells[5], /^\d+ in \/ \d+ out$/, 'tokens');
      assert.match(r.cells[6], /^\$0\.00$/, 'cost');
      assert.match(r.cells[7], /^\d+\.\d s$/, 'latency');
    }
    assert.equal(await page.getAttribute('[data-testid=vt-recommended]', 'data-model'), 'local-b');
    assert.equal(await page.locator('[data-testid=vt-chart] g.row').count(), 3);
    await page.click('[data-testid=vt-make-default]');
    await page.waitForSelector('[data-testid=vt-default-set]');
    await page.goto(`${base}#/manuscript/${projectId}`);
    await page.waitForFunction(() => document.querySelector('[data-testid=ms-default-model]')?.value === 'local-b');
    assert.match(await page.textContent('[data-testid=ms-spend-project]'), /^Models: \$0\.00 · [\d,]+ tokens \(3 runs\)$/);
  });

  await t.test('a copy of a workflow, made in the Workflows view, is what this project drafts with', async () => {
    await page.goto(`${base}#/workflows/scene_generation`);
    await page.click('[data-testid=copy-workflow]');
    await page.waitForFunction(() => location.hash === '#/workflows/scene_generation_2');
    await page.waitForSelector('[data-testid=workflow-title]');
    assert.equal(await page.textContent('[data-testid=workflow-title]'), 'scene_generation_2');
    await page.goto(`${base}#/manuscript/${projectId}`);
    await page.click('[data-testid=ms-workflows] summary');
    await page.waitForSelector('[data-testid=ms-workflow-generate] option[value=scene_generation_2]', { state: 'attached' });
    await page.selectOption('[data-testid=ms-workflow-generate]', 'scene_generation_2');
    // Kept with the project: still chosen after a reload.
    await page.waitForSelector('[data-testid=ms-workflow-generate][data-saved=scene_generation_2]', { state: 'attached' });
    await page.reload();
    await studioReady(page);
    await page.waitForFunction(() => document.querySelector('[data-testid=ms-workflow-generate] option[value=scene_generation_2]')
      && document.querySelector('[data-testid=ms-workflow-generate]').value === 'scene_generation_2');
    await newScene(page, { title: 'Ebb', outline: 'The tide goes out.' });
    await startRun(page, 'ms-generate');
    assert.equal(await page.textContent('[data-testid=run-view] h2 a'), 'scene_generation_2');
    await page.waitForSelector('[data-testid=human-choice-reject]', { timeout: 30_000 });
    await page.click('[data-testid=human-choice-reject]');
    await page.waitForSelector('[data-testid=run-view][data-status=succeeded]');
  });

  await t.test('backup in this profile, restore into a fresh one: the same project', async () => {
    await page.goto(`${base}#/manuscript/${projectId}`);
    await page.waitForSelector('[data-testid=ms-backup]');
    const backup = await download(page, 'ms-backup');
    const original = JSON.parse(backup.bytes.toString('utf8'));
    assert.equal(original.scenes.length, 3);
    assert.deepEqual(original.project.workflows, { generate: 'scene_generation_2' });
    assert.ok(original.revisions.some((r) => r.origin.kind === 'enhanced'));
    assert.equal(original.project.default_model, 'local-b');

    const fresh = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    t.after(() => fresh.close());
    const other = await fresh.newPage();
    const otherProblems = pageProblems(other);
    await other.goto(`${base}#/manuscript`);
    await studioReady(other);
    assert.equal(await other.locator('[data-testid^=ms-project-]:not([data-testid=ms-project-title])').count(), 0, 'a fresh profile');
    await other.setInputFiles('[data-testid=ms-restore-backup]', { name: backup.name, mimeType: 'application/json', buffer: backup.bytes });
    await other.waitForFunction(() => /#\/manuscript\/[^/]+$/.test(location.hash) && document.querySelector('[data-testid=ms-backup]'));
    const again = JSON.parse((await download(other, 'ms-backup')).bytes.toString('utf8'));
    assert.deepEqual(canonical(again), canonical(original));
    assert.deepEqual(otherProblems, []);
  });

  assert.deepEqual(problems, []);
});
