// Model calls from the page's host loop: the wasm engine encodes the provider request, host.js
// sends it with fetch (keys from `secrets`, never the engine), streams the body back, and the
// engine decodes it. Against tools/fake-llm, in-process, speaking the real wire protocols.
import test from 'node:test';
import assert from 'node:assert/strict';
import { loadEngine, ErrorCode } from '../src/engine.js';
import { runWorkflow } from '../src/host.js';
import { readRepo } from './helpers.mjs';
import { startFakeLlm } from '../../tools/fake-llm/server.mjs';

function modelsYaml(url) {
  return [
    'default: gpt',
    'models:',
    '  gpt: {provider: openai, base_url: "' + url + '/v1", model: fake-gpt, credential: FAKE_KEY, price: {input: 1, output: 2}}',
    '  claude: {provider: anthropic, base_url: "' + url + '/v1", model: fake-claude, credential: FAKE_KEY}',
    '  gem: {provider: gemini, base_url: "' + url + '/v1beta", model: fake-gemini, credential: FAKE_KEY}',
    '  local: {provider: ollama, base_url: "' + url + '/v1", model: local-llama}',
  ].join('\n');
}

async function withSetup(fn) {
  const fake = await startFakeLlm({ port: 0, host: '127.0.0.1', chunkDelayMs: 0 });
  const engine = await loadEngine();
  try {
    engine.load(readRepo('workflows/examples/llm_hello.yaml'), 'workflows/examples/llm_hello.yaml');
    return await fn(engine, fake);
  } finally {
    engine.dispose();
    await fake.close();
  }
}

async function run(engine, fake, { model, prompt, key = 'test-key-1', events = [] }) {
  const asked = [];
  const result = await runWorkflow(engine, {
    workflow: 'llm_hello',
    inputs: { model, prompt },
    options: { models: modelsYaml(fake.url), seed: 3 },
    secrets: async (name) => {
      asked.push(name);
      return key;
    },
    onEvents: (batch) => events.push(...batch),
  });
  return { result, events, asked };
}

async function stats(fake) {
  return (await fetch(fake.url + '/_fake/stats')).json();
}

test('each protocol: the text streams in as delta events and the usage is the provider\'s', async () => {
  await withSetup(async (engine, fake) => {
    for (const model of ['gpt', 'claude', 'gem', 'local']) {
      const { result, events, asked } = await run(engine, fake, { model, prompt: 'The harbour at dawn [[words:15]]' });
      assert.equal(result.status, 'succeeded', `${model}: ${JSON.stringify(result.error)}`);
      const text = result.outputs.text;
      assert.match(text, /^Echo: The harbour at dawn\./);
      assert.equal(text.split(/\s+/).length, 15);
      const streamed = events.filter((e) => e.type === 'step_output_delta').map((e) => e.delta).join('');
      assert.equal(streamed, text, `${model}: the deltas add up to the text`);
      assert.deepEqual(result.outputs.tokens, { input_tokens: 5, output_tokens: 15 });  // the fake counts words
      assert.deepEqual(asked, model === 'local' ? [] : ['FAKE_KEY']);  // a local server needs no key
    }
    const s = await stats(fake);
    for (const id of ['fake-gpt', 'fake-claude', 'fake-gemini', 'local-llama']) assert.equal(s.models[id].requests, 1, id);
  });
});

test('a 429 is retried after the delay the provider asked for; cost follows the usage', async () => {
  await withSetup(async (engine, fake) => {
    await fetch(fake.url + '/_fake/faults', {
      method: 'POST', body: JSON.stringify({ model: 'fake-gpt', faults: [{ type: 'status', status: 429, retry_after: 0 }] }),
    });
    const { result, events } = await run(engine, fake, { model: 'gpt', prompt: 'Rain [[words:10]]' });
    assert.equal(result.status, 'succeeded');
    const retrying = events.filter((e) => e.type === 'step_retrying');
    assert.equal(retrying.length, 1);
    assert.equal(retrying[0].error.code, 'rate_limited');
    assert.equal(retrying[0].delay_ms, 0);  // Retry-After: 0 wins over the backoff
    assert.equal(result.outputs.cost_usd, (2 * 1 + 10 * 2) / 1e6);
    assert.equal((await stats(fake)).models['fake-gpt'].requests, 2);
  });
});

test('the key is sent, and scrubbed from what comes back: no event carries it', async () => {
  await withSetup(async (engine, fake) => {
    const key = 'bad-SECRET-0b7e4c';  // the fake echoes a bad- key in its 401 message
    const { result, events } = await run(engine, fake, { model: 'gpt', prompt: 'Hello', key });
    assert.equal(result.status, 'failed');
    assert.equal(result.error.code, ErrorCode.AUTH);
    assert.match(result.error.message, /\[redacted\]/);
    assert.ok(!JSON.stringify(events).includes(key), 'the key is in no event');
    assert.ok(!JSON.stringify(result).includes(key), 'the key is not in the result');
    const requests = await (await fetch(fake.url + '/_fake/requests')).json();
    assert.equal(requests.at(-1).auth, 'present');
  });
});

test('a model that needs a key fails with auth, naming the credential, when there is none', async () => {
  await withSetup(async (engine, fake) => {
    const { result } = await run(engine, fake, { model: 'claude', prompt: 'Hi', key: null });
    assert.equal(result.status, 'failed');
    assert.equal(result.error.code, ErrorCode.AUTH);
    assert.match(result.error.message, /FAKE_KEY/);
    assert.equal((await stats(fake)).total, 0);
  });
});
