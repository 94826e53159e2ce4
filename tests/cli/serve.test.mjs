// `loom serve`, the native headless server, end to end: the real binary on a free port, spoken to
// over HTTP. No token, no entry; the e-mail webhook routes RFC 822 and JSON mail by the triggers
// file; oversized bodies are refused; runs survive a crash (SIGKILL) and a stop (SIGTERM); the
// event stream replays and then follows a run. LOOM_BIN names the binary (tools/test sets it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loom = process.env.LOOM_BIN || join(root, 'build/native-debug/loom');
const fixture = (f) => join(root, 'tests/cli/data/serve', f);
const tmp = () => mkdtempSync(join(tmpdir(), 'loom-serve-'));
const TOKEN = 'serve-test-token-6f1c0e9a27d4b385';
const T = { timeout: 120000 };

// The decoded text of digest.eml's text/plain part (quoted-printable there, UTF-8).
const PARA1 = 'The lighthouse keeper kept a ledger of every ship that passed the point. '
  + 'Each entry named the vessel, its flag and the hour it rounded the rocks. '
  + 'In the winter of the great storm the ledger filled faster than ever before. ';
const PARA2 = 'Años later his granddaughter found the ledger in a trunk under the stairs. '
  + 'She read the entries aloud to the village on the night of the festival. '
  + 'Nobody had known how many ships the old man had watched come home. ';

// Starts `loom serve` on a free port and resolves once it listens, with its URL, its stderr so
// far, and stop(signal) that resolves with the exit code. Rejects when it exits first.
const ARGS = ['--workflows', join(root, 'workflows/ingestion_digest.yaml'), '--workflows', fixture('workflows'),
  '--triggers', fixture('triggers.yaml')];
function startServe({ data = tmp(), args = ARGS, env = { LOOM_SERVE_TOKEN: TOKEN } } = {}) {
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(loom, ['serve', '--data', data, ...port, ...args], {
    cwd: root, env: { ...process.env, LOOM_SERVE_TOKEN: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const server = { child, data, stderr: '', url: null };
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  server.stop = async (signal = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      server.stderr += d;
      const m = server.stderr.match(/listening on (http:\/\/\S+)/);
      if (m && !server.url) {
        server.url = m[1];
        resolve(server);
      }
    });
    exited.then(({ code }) => { if (!server.url) reject(Object.assign(new Error(`loom serve exited ${code}: ${server.stderr}`), { code, stderr: server.stderr })); });
  });
}

// Resolves with the failure of a start that must be refused ({code, stderr}); a server that
// starts anyway is killed and the test fails.
async function refusedStart(options) {
  let server;
  try {
    server = await startServe(options);
  } catch (e) {
    return e;
  }
  await server.stop('SIGKILL');
  return assert.fail(`it started: ${server.stderr}`);
}

// Runs `body(server)` with a started server, always stopping it after.
async function withServer(options, body) {
  const server = await startServe(options);
  try {
    return await body(server);
  } finally {
    await server.stop('SIGKILL');
  }
}

async function api(server, method, path, { body, token = TOKEN, type, headers = {} } = {}) {
  const h = { ...headers };
  if (token !== null) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = type ?? 'application/json';
  const r = await fetch(server.url + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Polls `probe` until it returns something truthy (the test's own timeout bounds the wait).
async function until(probe) {
  for (;;) {
    const v = await probe();
    if (v) return v;
    await sleep(25);
  }
}
const FINAL = ['succeeded', 'failed', 'cancelled'];
const finished = (server, id) => until(async () => {
  const r = await api(server, 'GET', `/api/runs/${id}`);
  assert.equal(r.status, 200, r.text);
  return FINAL.includes(r.json.status) && r.json;
});
const waitingOn = (server, id) => until(async () => {
  const r = await api(server, 'GET', `/api/runs/${id}`);
  return r.json.question && r.json;
});

const logOf = (server, id) => readFileSync(join(server.data, 'runs', id, 'events.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((l) => JSON.parse(l));
// One continuous log: seq 1, 2, 3, ... with one run_started, ending with `last`.
function assertContinuous(events, last) {
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  assert.equal(events.filter((e) => e.type === 'run_started').length, 1);
  assert.equal(events.at(-1).type, last);
}
const runDirs = (server) => (existsSync(join(server.data, 'runs')) ? readdirSync(join(server.data, 'runs')) : []);

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok('hint' in r.json.error);
}

// ---------------------------------------------------------------- no token, no entry

test('every /api route but health refuses a missing or wrong token with 401, and starts nothing', T, async () => {
  await withServer({}, async (server) => {
    const routes = [
      ['GET', '/api/workflows'], ['GET', '/api/runs'], ['GET', '/api/runs/x'], ['GET', '/api/runs/x/events'],
      ['POST', '/api/runs', { workflow: 'serve_ask', inputs: { line: 'no entry' } }],
      ['POST', '/api/runs/x/answer', { value: 'yes' }], ['POST', '/api/runs/x/cancel', {}],
      ['POST', '/api/inbound/email', readFileSync(fixture('digest.eml')), 'message/rfc822'],
      ['GET', '/api/nothing'],
    ];
    for (const token of [null, 'wrong-token', `${TOKEN}x`, TOKEN.slice(0, -1), '']) {
      for (const [method, path, body, type] of routes) {
        const r = await api(server, method, path, { body, type, token });
        assertError(r, 401, 'unauthorized');
        assert.match(r.headers.get('www-authenticate'), /^Bearer/);
      }
    }
    const basic = await api(server, 'GET', '/api/runs', { token: null, headers: { authorization: `Basic ${TOKEN}` } });
    assertError(basic, 401, 'unauthorized');
    const health = await api(server, 'GET', '/api/health', { token: null });
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    assert.deepEqual(runDirs(server), []);
    const runs = await api(server, 'GET', '/api/runs');
    assert.deepEqual(runs.json.runs, []);
    assert.ok(!server.stderr.includes(TOKEN), 'the token is never printed');
  });
});

test('without a token it makes one in DATA/token (mode 0600) and never prints it', T, async () => {
  const data = tmp();
  await withServer({ data, env: {} }, async (server) => {
    const path = join(data, 'token');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const token = readFileSync(path, 'utf8').trim();
    assert.ok(token.length >= 32);
    assert.ok(!server.stderr.includes(token));
    assert.match(server.stderr, /token/);
    assert.equal((await api(server, 'GET', '/api/workflows', { token })).status, 200);
    assertError(await api(server, 'GET', '/api/workflows'), 401, 'unauthorized');
  });
  // The next start uses the same token.
  await withServer({ data, env: {} }, async (server) => {
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    assert.equal((await api(server, 'GET', '/api/runs', { token })).status, 200);
  });
});

// ---------------------------------------------------------------- the API

test('workflows are listed with their inputs; runs start, 404 for unknown ones, 400 with the engine code for bad inputs', T, async () => {
  await withServer({}, async (server) => {
    const list = await api(server, 'GET', '/api/workflows');
    assert.equal(list.status, 200);
    const names = list.json.workflows.map((w) => w.name).sort();
    assert.deepEqual(names, ['ingestion_digest', 'serve_ask', 'serve_slow']);
    const digest = list.json.workflows.find((w) => w.name === 'ingestion_digest');
    assert.deepEqual(digest.inputs.map((i) => [i.name, i.type, i.required]),
      [['document', 'string', true], ['max_sentences', 'number', false], ['chunk_chars', 'number', false]]);

    assertError(await api(server, 'POST', '/api/runs', { body: { workflow: 'no_such' } }), 404, 'unknown_workflow');
    const missing = await api(server, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: {} } });
    assertError(missing, 400, 'input_missing');
    assert.match(missing.json.error.hint, /GET \/api\/workflows/);
    assertError(await api(server, 'POST', '/api/runs', { body: { workflow: 'serve_slow', inputs: { ms: 'slow' } } }), 400, 'input_type');
    const unknown = await api(server, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: { line: 'x', color: 'red' } } });
    assertError(unknown, 400, 'input_unknown');
    assertError(await api(server, 'POST', '/api/runs', { body: 'not json' }), 400, 'bad_argument');
    assertError(await api(server, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: [1] } }), 400, 'bad_argument');
    assertError(await api(server, 'POST', '/api/runs', { body: { workflow: 5 } }), 400, 'bad_argument');
    assertError(await api(server, 'POST', '/api/runs', { body: { inputs: {} } }), 400, 'bad_argument');
    assert.deepEqual(runDirs(server), [], 'a refused run leaves nothing on disk');

    for (const [method, path] of [['GET', '/api/runs/nope'], ['GET', '/api/runs/nope/events'],
      ['POST', '/api/runs/nope/answer'], ['POST', '/api/runs/nope/cancel']]) {
      assertError(await api(server, method, path, { body: method === 'POST' ? { value: 'yes' } : undefined }), 404, 'unknown_run');
    }
    assertError(await api(server, 'GET', '/api/nothing'), 404, 'not_found');

    const started = await api(server, 'POST', '/api/runs', { body: { workflow: 'ingestion_digest', inputs: { document: PARA1 + PARA2 } } });
    assert.equal(started.status, 201, started.text);
    assert.equal(started.json.workflow, 'ingestion_digest');
    assert.equal(started.headers.get('location'), `/api/runs/${started.json.id}`);
    const done = await finished(server, started.json.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.outputs.chunk_count, 1);
    assert.ok(done.steps.every((s) => s.status === 'succeeded'), JSON.stringify(done.steps));
    const runs = await api(server, 'GET', '/api/runs');
    assert.deepEqual(runs.json.runs.map((r) => [r.id, r.status]), [[started.json.id, 'succeeded']]);
    // The run keeps a copy of the workflow it ran.
    assert.equal(readFileSync(join(server.data, 'runs', started.json.id, 'workflow.yaml'), 'utf8'),
      readFileSync(join(root, 'workflows/ingestion_digest.yaml'), 'utf8'));
  });
});

test('a person answers over HTTP; wrong answers and answers to no question are refused; cancel ends a run', T, async () => {
  await withServer({}, async (server) => {
    const started = await api(server, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: { line: 'The tide came in.' } } });
    const id = started.json.id;
    const waiting = await waitingOn(server, id);
    assert.equal(waiting.status, 'paused');
    assert.deepEqual(waiting.question, { step: 'ask', prompt: 'Keep this line?', choices: ['yes', 'no'], show: 'The tide came in.' });
    assertError(await api(server, 'POST', `/api/runs/${id}/answer`, { body: { value: 'maybe' } }), 400, 'bad_answer');
    assertError(await api(server, 'POST', `/api/runs/${id}/answer`, { body: {} }), 400, 'bad_argument');
    assertError(await api(server, 'POST', `/api/runs/${id}/answer`, { body: { value: 'yes', step: 'other' } }), 409, 'not_waiting');
    assertError(await api(server, 'POST', `/api/runs/${id}/answer`, { body: { value: 'yes', step: 7 } }), 400, 'bad_argument');
    const answered = await api(server, 'POST', `/api/runs/${id}/answer`, { body: { value: 'yes' } });
    assert.equal(answered.status, 200, answered.text);
    const done = await finished(server, id);
    assert.deepEqual(done.outputs, { verdict: 'yes: The tide came in.' });
    assertError(await api(server, 'POST', `/api/runs/${id}/answer`, { body: { value: 'no' } }), 409, 'not_waiting');

    const second = (await api(server, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: { line: 'Drop me.' } } })).json.id;
    await waitingOn(server, second);
    const cancelled = await api(server, 'POST', `/api/runs/${second}/cancel`);
    assert.equal(cancelled.status, 202, cancelled.text);
    const end = await finished(server, second);
    assert.equal(end.status, 'cancelled');
    assert.deepEqual(end.questions, []);
    assertError(await api(server, 'POST', `/api/runs/${second}/cancel`), 409, 'invalid_state');
    assertContinuous(logOf(server, second), 'run_cancelled');
  });
});

test('--max-runs 1: a second run waits its turn; a run waiting for a person holds no turn', T, async () => {
  await withServer({ args: [...ARGS, '--max-runs', '1'] }, async (server) => {
    const start = async (workflow, inputs) => (await api(server, 'POST', '/api/runs', { body: { workflow, inputs } })).json.id;
    const get = async (id) => (await api(server, 'GET', `/api/runs/${id}`)).json;
    const ask = await start('serve_ask', { line: 'Wait.' });
    await waitingOn(server, ask);
    // The person may take days: the waiting run gives its turn to the next.
    const long = await start('serve_slow', { ms: 600000 });
    await until(async () => (await get(long)).driver === 'running');
    const next = await start('serve_slow', { ms: 1 });
    assert.equal((await get(next)).driver, 'queued');
    assert.equal((await get(next)).status, 'running');
    // Cancelling the long run frees its turn: the next runs and finishes.
    assert.equal((await api(server, 'POST', `/api/runs/${long}/cancel`)).status, 202);
    assert.equal((await finished(server, long)).status, 'cancelled');
    assert.deepEqual((await finished(server, next)).outputs, { last: 3 });
    // A queued run is cancelled at once.
    const blocker = await start('serve_slow', { ms: 600000 });
    await until(async () => (await get(blocker)).driver === 'running');
    const queued = await start('serve_slow', { ms: 1 });
    assert.equal((await get(queued)).driver, 'queued');
    assert.equal((await api(server, 'POST', `/api/runs/${queued}/cancel`)).status, 202);
    assert.equal((await finished(server, queued)).status, 'cancelled');
    assertContinuous(logOf(server, queued), 'run_cancelled');
    await api(server, 'POST', `/api/runs/${blocker}/cancel`);
    // The answer takes a turn again, and the run finishes.
    assert.equal((await api(server, 'POST', `/api/runs/${ask}/answer`, { body: { value: 'yes' } })).status, 200);
    assert.deepEqual((await finished(server, ask)).outputs, { verdict: 'yes: Wait.' });
  });
});

// ---------------------------------------------------------------- the e-mail webhook

test('the webhook routes RFC 822 and JSON mail by the triggers file, with inputs mapped from the mail', T, async () => {
  await withServer({}, async (server) => {
    // multipart/alternative: a quoted-printable text/plain part and a base64 text/html part.
    const eml = await api(server, 'POST', '/api/inbound/email', { body: readFileSync(fixture('digest.eml')), type: 'message/rfc822' });
    assert.equal(eml.status, 202, eml.text);
    assert.equal(eml.json.rule, 'digest');
    assert.equal(eml.json.workflow, 'ingestion_digest');
    const done = await finished(server, eml.json.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.trigger.subject, '[digest] The keeper’s ledger');
    assert.equal(done.trigger.from, 'ada@readers.loom.test');
    assert.equal(done.trigger.message_id, 'ledger-1@readers.loom.test');
    const inputs = logOf(server, eml.json.id)[0].inputs;
    assert.equal(inputs.document, `${PARA1}\n\n${PARA2}\n`);
    assert.equal(inputs.max_sentences, 2);
    assert.equal(done.outputs.chunk_count, 1);
    assert.match(done.outputs.keywords, /años later/);
    assert.equal(done.outputs.digest.split(/(?<=\.) /).length, 2, done.outputs.digest);

    // Only an HTML part (base64, as text/plain content type): its text is used.
    const html = await api(server, 'POST', '/api/inbound/email', { body: readFileSync(fixture('html_only.eml')), type: 'text/plain' });
    assert.equal(html.status, 202, html.text);
    await finished(server, html.json.id);
    const htmlText = logOf(server, html.json.id)[0].inputs.document;
    assert.ok(htmlText.startsWith(PARA1.trim()), htmlText);
    assert.ok(htmlText.includes(PARA2.trim()), htmlText);
    assert.ok(!htmlText.includes('<'), htmlText);

    // JSON mail: the same rule by its address and subject.
    const json = await api(server, 'POST', '/api/inbound/email', {
      body: { from: 'Ada@Readers.loom.test', to: ['Digest@loom.test'], subject: 'Fwd: [DIGEST] notes', text: PARA2 },
    });
    assert.equal(json.status, 202, json.text);
    assert.equal(json.json.rule, 'digest');
    const jsonDone = await finished(server, json.json.id);
    assert.equal(logOf(server, json.json.id)[0].inputs.document, PARA2);
    assert.equal(jsonDone.status, 'succeeded');

    // The second rule (a regex on the sender) starts a run that waits for a person.
    const ask = await api(server, 'POST', '/api/inbound/email', {
      body: { from: 'ed@editors.loom.test', to: 'desk@loom.test', subject: 'Keep the storm scene?', text: '' },
    });
    assert.equal(ask.status, 202, ask.text);
    assert.equal(ask.json.rule, 'approval');
    const waiting = await waitingOn(server, ask.json.id);
    assert.equal(waiting.question.show, 'Keep the storm scene?');

    // multipart/mixed: a multipart/alternative (ISO-8859-1 quoted-printable text) and a base64
    // attachment, which is listed (name, type, size) and is not the text.
    const mixed = await api(server, 'POST', '/api/inbound/email', { body: readFileSync(fixture('attachment.eml')), type: 'message/rfc822' });
    assert.equal(mixed.status, 202, mixed.text);
    assert.equal(mixed.json.rule, 'attachment');
    assert.equal((await waitingOn(server, mixed.json.id)).question.show, 'notes.txt (text/plain, 156 bytes): See the notes, señor.');

    const before = runDirs(server).length;
    assertError(await api(server, 'POST', '/api/inbound/email', { body: readFileSync(fixture('unmatched.eml')), type: 'message/rfc822' }), 422, 'no_trigger');
    assertError(await api(server, 'POST', '/api/inbound/email', { body: { from: 'x@y.test', to: 'digest@loom.test', subject: 'no tag', text: 'hi' } }), 422, 'no_trigger');
    assertError(await api(server, 'POST', '/api/inbound/email', { body: { from: 'x@y.test', to: 7 } }), 400, 'bad_email');
    assertError(await api(server, 'POST', '/api/inbound/email', { body: { sender: 'x@y.test' } }), 400, 'bad_email');
    assertError(await api(server, 'POST', '/api/inbound/email', { body: 'just words, no headers', type: 'text/plain' }), 400, 'bad_email');
    assertError(await api(server, 'POST', '/api/inbound/email', { body: 'x', type: 'image/png' }), 415, 'unsupported_media_type');
    assert.equal(runDirs(server).length, before, 'a refused e-mail starts no run');
  });
});

test('a triggers file with an error stops the start with file:line:column and a hint', T, async () => {
  const failed = await refusedStart({ args: ['--workflows', join(root, 'workflows/ingestion_digest.yaml'), '--triggers', fixture('bad_triggers.yaml')] });
  assert.equal(failed.code, 2);
  assert.match(failed.stderr, /bad_triggers\.yaml:9:15: error\[unknown_workflow\]: unknown workflow 'ingestion_digset'/);
  assert.match(failed.stderr, /hint: did you mean 'ingestion_digest'\?/);
  assert.match(failed.stderr, /bad_triggers\.yaml:6:7: error\[input_unknown\]: 'ingestion_digest' has no input 'text'/);
  assert.match(failed.stderr, /bad_triggers\.yaml:12:24: error\[template_unknown_name\]/);
  // The example docs/serve.md points to loads.
  const example = ['--workflows', join(root, 'workflows/ingestion_digest.yaml'), '--triggers', join(root, 'docs/examples/triggers.yaml')];
  await withServer({ args: example }, async (server) => assert.match(server.stderr, /2 trigger rules/));
});

test('loom serve refuses to start on a missing workflows folder, a short token, or a busy port', T, async () => {
  const refused = refusedStart;
  const noFolder = await refused({ args: ['--workflows', join(tmp(), 'missing')] });
  assert.equal(noFolder.code, 2);
  assert.match(noFolder.stderr, /no workflows at/);
  const short = await refused({ env: { LOOM_SERVE_TOKEN: 'short' } });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /LOOM_SERVE_TOKEN is shorter than 16 characters/);
  assert.ok(!short.stderr.includes('short\n'), 'not even a short token is printed');
  const file = join(tmp(), 'token');
  writeFileSync(file, 'tiny\n');
  const shortFile = await refused({ args: [...ARGS, '--token-file', file] });
  assert.equal(shortFile.code, 2);
  assert.match(shortFile.stderr, /shorter than 16 characters/);
  assert.match(shortFile.stderr, /hint: make one with/);
  writeFileSync(file, `${TOKEN}\n`);
  await withServer({ args: [...ARGS, '--token-file', file], env: {} }, async (server) => {
    assert.equal((await api(server, 'GET', '/api/runs')).status, 200);
    const port = new URL(server.url).port;
    const busy = await refused({ args: [...ARGS, '--port', port] });
    assert.equal(busy.code, 2);
    assert.match(busy.stderr, /cannot listen on 127\.0\.0\.1:\d+/);
  });
});

// ---------------------------------------------------------------- limits

test('bodies over --max-body are refused with 413 on /api/runs and the webhook, and the server keeps serving', T, async () => {
  const args = [...ARGS, '--max-body', '4096'];
  await withServer({ args }, async (server) => {
    const big = 'x'.repeat(5000);
    assertError(await api(server, 'POST', '/api/runs', { body: { workflow: 'ingestion_digest', inputs: { document: big } } }), 413, 'payload_too_large');
    const eml = `From: a@b.test\r\nTo: digest@loom.test\r\nSubject: [digest] big\r\n\r\n${big}\r\n`;
    assertError(await api(server, 'POST', '/api/inbound/email', { body: eml, type: 'message/rfc822' }), 413, 'payload_too_large');
    assertError(await api(server, 'POST', '/api/inbound/email', { body: { from: 'a@b.test', to: 'digest@loom.test', subject: '[digest]', text: big } }), 413, 'payload_too_large');
    // Chunked (no Content-Length): counted as it comes.
    const chunked = async (text) => {
      const body = new ReadableStream({
        start(c) {
          for (let i = 0; i < text.length; i += 1000) c.enqueue(new TextEncoder().encode(text.slice(i, i + 1000)));
          c.close();
        },
      });
      const r = await fetch(`${server.url}/api/runs`, { method: 'POST', body, duplex: 'half', headers: { authorization: `Bearer ${TOKEN}` } });
      return { status: r.status, json: await r.json() };
    };
    const chunkedBig = await chunked(JSON.stringify({ workflow: 'ingestion_digest', inputs: { document: big } }));
    assert.equal(chunkedBig.status, 413);
    assert.equal(chunkedBig.json.error.code, 'payload_too_large');
    assert.deepEqual(runDirs(server), []);
    const chunkedSmall = await chunked(JSON.stringify({ workflow: 'ingestion_digest', inputs: { document: PARA1 } }));
    assert.equal(chunkedSmall.status, 201, JSON.stringify(chunkedSmall.json));
    // Still serving: a body under the limit goes through.
    assert.equal((await api(server, 'GET', '/api/health', { token: null })).status, 200);
    const small = await api(server, 'POST', '/api/runs', { body: { workflow: 'ingestion_digest', inputs: { document: PARA1 } } });
    assert.equal(small.status, 201, small.text);
    assert.equal((await finished(server, small.json.id)).status, 'succeeded');
    assert.equal((await finished(server, chunkedSmall.json.id)).status, 'succeeded');
  });
});

// ---------------------------------------------------------------- restarts

test('a run waiting on a person when the server is killed (SIGKILL) is answered and finishes after a restart', T, async () => {
  const data = tmp();
  const first = await startServe({ data });
  let id;
  try {
    id = (await api(first, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: { line: 'Still here?' } } })).json.id;
    await waitingOn(first, id);
    // One server per data folder: a second would resume the same runs.
    const second = await refusedStart({ data });
    assert.equal(second.code, 2);
    assert.match(second.stderr, /another loom serve uses/);
    assert.deepEqual(runDirs(first), [id], 'only the run, no half-made folder');
  } finally {
    assert.equal((await first.stop('SIGKILL')).signal, 'SIGKILL');
  }
  // The crash cut a write short: the log ends in half a line.
  const logPath = join(data, 'runs', id, 'events.jsonl');
  const whole = readFileSync(logPath, 'utf8');
  appendFileSync(logPath, '{"seq":99,"step":"ask","ty');
  // And a run whose files are damaged is listed as broken, not resumed.
  mkdirSync(join(data, 'runs', 'damaged-1'));
  writeFileSync(join(data, 'runs', 'damaged-1', 'meta.json'), JSON.stringify({ id: 'damaged-1', workflow: 'serve_ask' }));
  writeFileSync(join(data, 'runs', 'damaged-1', 'workflow.yaml'), readFileSync(fixture('workflows/ask.yaml')));
  writeFileSync(join(data, 'runs', 'damaged-1', 'events.jsonl'), 'not json\n{"seq":2}\n');
  mkdirSync(join(data, 'runs', 'damaged-2'));  // nothing in it at all
  await withServer({ data }, async (server) => {
    assert.match(server.stderr, new RegExp(`run ${id}: resuming`));
    assert.match(server.stderr, /dropped an incomplete last line/);
    assert.ok(readFileSync(logPath, 'utf8').startsWith(whole), 'the torn line was cut, the rest kept');
    const damaged = await api(server, 'GET', '/api/runs/damaged-1');
    assert.equal(damaged.json.status, 'broken');
    assert.equal(damaged.json.driver, 'broken');
    assert.equal(damaged.json.problem.code, 'bad_event_log');
    const noMeta = await api(server, 'GET', '/api/runs/damaged-2');
    assert.equal(noMeta.json.status, 'broken');
    assert.equal(noMeta.json.problem.code, 'bad_argument');
    const listed = (await api(server, 'GET', '/api/runs')).json.runs.map((r) => [r.id, r.status]);
    assert.deepEqual(listed.filter(([rid]) => rid.startsWith('damaged')), [['damaged-1', 'broken'], ['damaged-2', 'broken']]);
    // A broken run's event stream ends at once.
    const stream = await fetch(`${server.url}/api/runs/damaged-2/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(await stream.text(), '');
    const waiting = await waitingOn(server, id);
    assert.equal(waiting.status, 'paused');
    assert.equal(waiting.question.show, 'Still here?');
    assert.equal((await api(server, 'POST', `/api/runs/${id}/answer`, { body: { value: 'no' } })).status, 200);
    const done = await finished(server, id);
    assert.deepEqual(done.outputs, { verdict: 'no: Still here?' });
    const log = logOf(server, id);
    assertContinuous(log, 'run_succeeded');
    assert.equal(log.filter((e) => e.type === 'step_succeeded' && e.step === 'draft').length, 1, 'finished steps are not run again');
  });
});

test('SIGTERM stops the runs cleanly; the next start finishes them, each log one continuous log', T, async () => {
  const data = tmp();
  const first = await startServe({ data });
  let slow, ask, stream;
  try {
    slow = (await api(first, 'POST', '/api/runs', { body: { workflow: 'serve_slow', inputs: { ms: 300 } } })).json.id;
    ask = (await api(first, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: { line: 'Stay.' } } })).json.id;
    await waitingOn(first, ask);
    await until(() => logOf(first, slow).some((e) => e.type === 'step_started' && e.step === 'one'));
    // A client follows the waiting run: the stop ends its stream rather than waiting on it.
    let opened;
    const open = new Promise((resolve) => { opened = resolve; });
    stream = readEvents(first, `/api/runs/${ask}/events`, {}, () => opened());
    await open;
  } finally {
    const exit = await first.stop('SIGTERM');
    assert.equal(exit.code, 0, first.stderr);
  }
  const followed = await stream;
  assert.equal(followed.at(-1).event, 'run_paused');
  assert.match(first.stderr, /stopped; 2 unfinished runs resume at the next start/);
  await withServer({ data }, async (server) => {
    assert.equal((await api(server, 'POST', `/api/runs/${(await waitingOn(server, ask)).id}/answer`, { body: { value: 'yes' } })).status, 200);
    assert.deepEqual((await finished(server, ask)).outputs, { verdict: 'yes: Stay.' });
    const done = await finished(server, slow);
    assert.deepEqual(done.outputs, { last: 3 });
    assertContinuous(logOf(server, slow), 'run_succeeded');
    assertContinuous(logOf(server, ask), 'run_succeeded');
    const list = (await api(server, 'GET', '/api/runs')).json.runs;
    assert.deepEqual(list.map((r) => r.status).sort(), ['succeeded', 'succeeded']);
  });
});

// ---------------------------------------------------------------- the event stream

// Reads an SSE response to its end: [{id, event, data}].
async function readEvents(server, path, headers = {}, onEvent = () => {}) {
  const r = await fetch(server.url + path, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const events = [];
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of r.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      if (!fields.data) continue;
      const e = { id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data) };
      events.push(e);
      await onEvent(e);
    }
  }
  return events;
}

test('the event stream replays the persisted events, then delivers live ones until the run ends', T, async () => {
  await withServer({}, async (server) => {
    const id = (await api(server, 'POST', '/api/runs', { body: { workflow: 'serve_ask', inputs: { line: 'Stream me.' } } })).json.id;
    await waitingOn(server, id);
    const before = logOf(server, id).length;
    // The run waits for a person: the stream replays what happened, then the answer (given
    // while the stream is open) brings the live events, and the stream ends with the run.
    let answered = false;
    const events = await readEvents(server, `/api/runs/${id}/events`, {}, async (e) => {
      if (e.id === before && !answered) {
        answered = true;
        assert.equal((await api(server, 'POST', `/api/runs/${id}/answer`, { body: { value: 'yes' } })).status, 200);
      }
    });
    assert.ok(answered);
    assert.ok(events.length > before, 'live events followed the replay');
    assert.deepEqual(events.map((e) => e.id), events.map((_, i) => i + 1));
    assert.deepEqual(events.map((e) => e.data), logOf(server, id), 'the stream is the log');
    assert.equal(events[0].event, 'run_started');
    assert.equal(events.at(-1).event, 'run_succeeded');
    assert.ok(events.every((e) => e.event === e.data.type));

    // Resuming a stream: Last-Event-ID or ?after=N; a finished run's stream ends after the replay.
    const rest = await readEvents(server, `/api/runs/${id}/events`, { 'last-event-id': '3' });
    assert.deepEqual(rest.map((e) => e.id), events.slice(3).map((e) => e.id));
    const tail = await readEvents(server, `/api/runs/${id}/events?after=${events.length - 1}`);
    assert.deepEqual(tail.map((e) => e.event), ['run_succeeded']);
  });
});

// ---------------------------------------------------------------- secrets

test('model keys come from the environment and appear in no response, event, stream or log line', T, async () => {
  const { startFakeLlm } = await import('../../tools/fake-llm/server.mjs');
  const fake = await startFakeLlm({ port: 0, chunkDelayMs: 1 });
  const GOOD = 'serve-SECRET-4b7e19d2';
  const BAD = 'bad-serve-SECRET-83a0c6f5'; // the fake refuses keys starting with 'bad-'
  const dir = tmp();
  const models = join(dir, 'models.yaml');
  writeFileSync(models, JSON.stringify({
    models: {
      m: { provider: 'openai', base_url: `${fake.url}/v1`, model: 'serve-keys', credential: 'LOOM_TEST_SERVE_KEY' },
      refused: { provider: 'anthropic', base_url: `${fake.url}/v1`, model: 'serve-refused', credential: 'LOOM_TEST_SERVE_BAD_KEY' },
    },
  }));
  const args = ['--workflows', join(root, 'tests/cli/data/llm_one.yaml'), '--models', models];
  const env = { LOOM_SERVE_TOKEN: TOKEN, LOOM_TEST_SERVE_KEY: GOOD, LOOM_TEST_SERVE_BAD_KEY: BAD, HOME: dir };
  try {
    await withServer({ args, env }, async (server) => {
      const texts = [];
      for (const [model, status, code] of [['m', 'succeeded', null], ['refused', 'failed', 'auth']]) {
        const started = await api(server, 'POST', '/api/runs', { body: { workflow: 'llm_one', inputs: { model, prompt: 'Keep this secret' } } });
        assert.equal(started.status, 201, started.text);
        const done = await finished(server, started.json.id);
        assert.equal(done.status, status, JSON.stringify(done));
        if (code) assert.equal(done.error.code, code);
        const stream = await fetch(`${server.url}/api/runs/${started.json.id}/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
        texts.push(started.text, JSON.stringify(done), await stream.text(),
          readFileSync(join(server.data, 'runs', started.json.id, 'events.jsonl'), 'utf8'));
      }
      texts.push((await api(server, 'GET', '/api/runs')).text, server.stderr);
      const reqs = await (await fetch(`${fake.url}/_fake/requests`)).json();
      assert.deepEqual(reqs.map((q) => q.auth), ['present', 'present'], 'the keys really went out');
      for (const text of texts) {
        for (const secret of [GOOD, BAD, '4b7e19d2', '83a0c6f5']) assert.ok(!text.includes(secret), `'${secret}' leaked: ${text.slice(0, 300)}`);
      }
    });
  } finally {
    await fake.close();
  }
});
