// digest.js: sources read by the extract module and digested by stored runs of the shipped digest
// workflows — offline, and by tools/fake-llm speaking a provider's protocol — each source failing
// on its own with its code, and a digest filed into the knowledge base with its provenance.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DOMParser } from 'linkedom';
import { engineAndStorage } from './studio_setup.mjs';
import { REPO, readRepo, shippedWorkflows } from './helpers.mjs';
import { RunManager } from '../src/runs.js';
import { openVault } from '../src/credentials.js';
import { openKnowledge, KnowledgeError } from '../src/knowledge.js';
import { syncShippedWorkflows } from '../src/library.js';
import { createDigester, DigestError } from '../src/digest.js';
import { siteAllowed, allowSite } from '../src/sites.js';
import { startFakeLlm } from '../../tools/fake-llm/server.mjs';

const FIXTURES = path.join(REPO, 'web/test/fixtures/extract');
const fixture = (name, type = '') => new File([readFileSync(path.join(FIXTURES, name))], name, { type });
const parseHtml = (html) => new DOMParser().parseFromString(html, 'text/html');

const NOTES = '# Harbour notes\n\nThe harbour town woke early. Fishing boats slipped out before dawn, their lamps ' +
  'bobbing on the black water.\n\nMara Quill ran the chandlery on the quay. Captains trusted her weather sense ' +
  'more than the almanac.\n';

function modelsYaml(url) {
  return [
    'default: local-fake',
    'models:',
    `  local-fake: {provider: ollama, base_url: "${url}/v1", model: local-fake}`,
    `  keyed: {provider: openai, base_url: "${url}/v1", model: keyed-gpt, credential: FAKE_KEY}`,
    '',
  ].join('\n');
}

// A site on a free port: /article is a page, /missing a 404.
async function serveSite(t) {
  const article = readFileSync(path.join(FIXTURES, 'article.html'));
  const server = http.createServer((req, res) => {
    if (req.url === '/article') res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(article);
    else res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${server.address().port}`;
}

async function studio(t, { models } = {}) {
  const { engine, storage } = await engineAndStorage(t);
  await syncShippedWorkflows(storage, engine, shippedWorkflows());
  await storage.putModels(models ?? readRepo('workflows/models/default.yaml'));
  const vault = await openVault(storage);
  const runs = new RunManager({ engine, storage, secrets: (name) => vault.getKey(name) });
  const knowledge = await openKnowledge({ engine, storage });
  const digester = createDigester({ engine, storage, vault, runs, knowledge, extractOptions: { parseHtml } });
  return { engine, storage, vault, runs, knowledge, digester };
}

async function fakeLlm(t) {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 0 });
  t.after(() => fake.close());
  return fake;
}

test('offline: the default pool has no usable model, so the extractive summary writes the digest', async (t) => {
  const { digester, storage } = await studio(t);
  const choice = await digester.modelChoice();
  assert.equal(choice.model, '');
  assert.match(choice.why, /^the default model draft cannot be used, no key saved for OPENAI_API_KEY/);
  assert.deepEqual(choice.models.find((m) => m.name === 'local'), { name: 'local', provider: 'openai', usable: true, why: 'needs no key' });

  const stages = [];
  const [result] = await digester.digest([new File([NOTES], 'harbour.md', { type: 'text/markdown' })], {
    onProgress: (i, p) => stages.push(`${i}:${p.stage}`),
  });
  assert.ok(result.ok, JSON.stringify(result.error));
  assert.equal(result.title, 'Harbour notes');
  assert.equal(result.source, 'harbour.md');
  assert.equal(result.model, '');
  const record = await storage.getRun(result.runId);
  assert.equal(record.workflow, 'ingestion_digest');
  assert.equal(record.status, 'succeeded');
  assert.equal(result.digest, record.outputs.digest);
  assert.match(result.digest, /Mara Quill ran the chandlery/);
  assert.ok(result.keywords.includes('mara quill ran'), result.keywords.join('|'));
  assert.deepEqual([stages[0], stages.at(-1)], ['0:reading', '0:done']);
  assert.ok(stages.includes('0:running'));
});

test('with a model: each chunk is digested by it, streamed, and the run says which model', async (t) => {
  const fake = await fakeLlm(t);
  const { digester, storage } = await studio(t, { models: modelsYaml(fake.url) });
  const choice = await digester.modelChoice();
  assert.equal(choice.model, 'local-fake');
  assert.match(choice.why, /^it is the default model and needs no key$/);
  assert.deepEqual(choice.models.find((m) => m.name === 'keyed'),
    { name: 'keyed', provider: 'openai', usable: false, why: 'no key saved for FAKE_KEY (Settings)' });

  let streamed = '';
  const [mail] = await digester.digest([fixture('plain.eml')], {
    model: choice.model,
    onProgress: (i, p) => {
      const text = p.streamed?.get('summary[0]') ?? p.streamed?.get('summary') ?? '';
      if (text.length > streamed.length) streamed = text;
    },
  });
  assert.ok(mail.ok, JSON.stringify(mail.error));
  assert.equal(mail.title, 'Notes on chapter three');
  assert.equal(mail.model, 'local-fake');
  assert.match(mail.digest, /^Echo: Digest part 1 of 1 of a document\. \w/);
  assert.equal(streamed, mail.digest, 'the text arrived as it streamed');
  const record = await storage.getRun(mail.runId);
  assert.equal(record.workflow, 'ingestion_digest_llm');
  assert.equal(record.inputs.model, 'local-fake');
  const stats = (await (await fetch(`${fake.url}/_fake/stats`)).json()).models;
  assert.equal(stats['local-fake'].completed, 1, 'one call per chunk');
  const requests = await (await fetch(`${fake.url}/_fake/requests`)).json();
  assert.match(JSON.stringify(requests.at(-1).body), /the keeper's daughter should not know/, 'the chunk is in the prompt');
});

test('a source that fails does not stop the others; each failure has its code', async (t) => {
  const fake = await fakeLlm(t);
  const site = await serveSite(t);
  const { digester, storage } = await studio(t, { models: modelsYaml(fake.url) });
  const sources = [
    fixture('plain.eml'),
    new File([], 'empty.txt', { type: 'text/plain' }),
    new File(['PNG'], 'cover.png', { type: 'image/png' }),
    'ftp://example.org/notes.txt',
    `${site}/missing`,
    `${site}/article`,
    fixture('garbage.pdf', 'application/pdf'),
  ];
  const results = await digester.digest(sources);
  assert.deepEqual(results.map((r) => (r.ok ? 'ok' : r.error.code)),
    ['ok', 'empty', 'unsupported_type', 'bad_url', 'http_status', 'ok', 'pdf_broken']);
  assert.equal(results[4].source, `${site}/missing`);
  assert.equal(results[5].source, `${site}/article`);
  assert.ok(results[5].digest.length > 0);
  assert.equal((await storage.listRuns()).length, 2, 'a source that cannot be read starts no run');

  // A run that fails: the model wants a key that is not saved.
  const [failed, fine] = await digester.digest([fixture('plain.eml'), new File([NOTES], 'harbour.md')], { model: 'keyed' });
  assert.equal(failed.ok, false);
  assert.equal(failed.error.code, 'auth', failed.error.message);
  assert.equal((await storage.getRun(failed.runId)).status, 'failed');
  assert.equal(fine.ok, false, 'the same model fails the other source too');
  // A model the pool does not have: the run fails at its first call, and says so.
  const [unknown] = await digester.digest([new File([NOTES], 'harbour.md')], { model: 'nope' });
  assert.equal(unknown.error.code, 'bad_argument');
  assert.match(unknown.error.message, /model 'nope' is not in the models file/);
});

test('cancelling: the run under way ends cancelled, and the digest says so', async (t) => {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 50 });
  t.after(() => fake.close());
  const { digester, storage } = await studio(t, { models: modelsYaml(fake.url) });
  const controller = new AbortController();
  const [result] = await digester.digest([fixture('plain.eml')], {
    model: 'local-fake',
    signal: controller.signal,
    onProgress: (i, p) => {
      if ([...(p.streamed?.values() ?? [])].some((text) => text.length)) controller.abort();
    },
  });
  assert.equal(result.ok, false);
  assert.equal(result.error.code, 'cancelled');
  assert.equal((await storage.getRun(result.runId)).status, 'cancelled');
  // Aborted before anything is read: nothing starts.
  const [early] = await digester.digest([fixture('plain.eml')], { signal: AbortSignal.abort() });
  assert.equal(early.error.code, 'aborted');
  assert.equal(early.runId, undefined);
});

test('filing a digest: a knowledge entry with the digest, its source and run; kept and found', async (t) => {
  const { digester, knowledge, storage, engine, vault, runs } = await studio(t);
  const [result] = await digester.digest([fixture('plain.eml')]);
  assert.ok(result.ok, JSON.stringify(result.error));
  const entry = await digester.fileIntoKnowledge(result, { category: 'lore', title: '  Ines on chapter three ' });
  assert.equal(entry.name, 'Ines on chapter three');
  assert.equal(entry.category, 'lore');
  assert.equal(entry.text, result.digest);
  assert.equal(entry.kind, 'digest');
  assert.equal(entry.source, `digest of plain.eml (run ${result.runId}, the offline summary)`);
  assert.deepEqual(entry.meta.digest, { source: 'plain.eml', kind: 'eml', run: result.runId, model: null,
    keywords: result.keywords });
  assert.deepEqual((await knowledge.list()).map((e) => e.id), [entry.id]);
  assert.equal(knowledge.base.search('lighthouse keeper daughter', { k: 3, includeNever: true })[0]?.id, entry.id);

  // After a "reload": the digest is listed from its run, marked filed; the entry is stored.
  const again = createDigester({ engine, storage, vault, runs, knowledge: await openKnowledge({ engine, storage }) });
  const [listed] = await again.recent();
  assert.equal(listed.runId, result.runId);
  assert.equal(listed.digest, result.digest);
  assert.equal(listed.filed, entry.id);
  assert.equal((await storage.getKnowledge(entry.id)).text, result.digest);

  // Error paths: a category the base does not have, a digest that failed.
  await assert.rejects(digester.fileIntoKnowledge(result, { category: 'gossip' }),
    (e) => e instanceof KnowledgeError && e.code === 'bad_argument');
  await assert.rejects(digester.fileIntoKnowledge({ ok: false, error: { code: 'cors' } }),
    (e) => e instanceof DigestError && e.code === 'bad_argument');
  // Filed again (from the list after the reload): the same entry, replaced.
  const refiled = await digester.fileIntoKnowledge(listed, { category: 'research' });
  assert.equal(refiled.id, entry.id);
  assert.equal(refiled.category, 'research');
  const none = createDigester({ engine, storage, vault, runs, knowledge: null });
  await assert.rejects(none.fileIntoKnowledge(result), (e) => e instanceof DigestError && e.code === 'unavailable');
  assert.equal((await knowledge.list()).length, 1, 'nothing else was saved');
});

test('the sites a page may read: its own, the model servers, and those allowed', async (t) => {
  const { storage } = await engineAndStorage(t);
  await storage.putSetting('connect_origins', ['http://127.0.0.1:11434']);
  const pageOrigin = 'http://127.0.0.1:8080';
  assert.equal(await siteAllowed(storage, 'http://127.0.0.1:8080/notes.html', { pageOrigin }), true);
  assert.equal(await siteAllowed(storage, 'http://127.0.0.1:11434/x', { pageOrigin }), true);
  assert.equal(await siteAllowed(storage, 'https://example.org/essay', { pageOrigin }), false);
  assert.equal(await allowSite(storage, 'https://example.org/essay#part'), 'https://example.org');
  assert.equal(await siteAllowed(storage, 'https://example.org/other', { pageOrigin }), true);
  assert.deepEqual(await storage.getSetting('reference_origins', []), ['https://example.org']);
});
