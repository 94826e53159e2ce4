// The native `loom` command: validate, run (progress, --json, inputs, real HTTP), Ctrl-C and
// --resume, graph. LOOM_BIN names the binary (tools/test sets it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { appendFileSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loom = process.env.LOOM_BIN || join(root, 'build/native-debug/loom');
const data = (f) => join(root, 'tests/cli/data', f);
const tmp = () => mkdtempSync(join(tmpdir(), 'loom-cli-'));

function run(args, { onStderr, stdin, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(loom, args, { cwd: root, env: env ? { ...process.env, ...env } : process.env });
    child.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; if (onStderr) onStderr(stderr, child); });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, child }));
    run.last = child;
  });
}

const readLog = (path) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('validate reports every error of each broken example with file:line:column', async () => {
  const expected = { 'typos.yaml': 8, 'values.yaml': 7, 'cycle.yaml': 1, 'yaml_syntax.yaml': 1 };
  for (const [file, n] of Object.entries(expected)) {
    const path = `workflows/examples/broken/${file}`;
    const r = await run(['validate', path]);
    assert.equal(r.code, 1, file);
    const located = r.stderr.match(new RegExp(`^${path.replace(/\./g, '\\.')}:\\d+:\\d+: error\\[[a-z_]+\\]`, 'gm')) || [];
    assert.equal(located.length, n, `${file}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${n} errors?`));
  }
  const cycle = await run(['validate', 'workflows/examples/broken/cycle.yaml']);
  assert.match(cycle.stderr, /draft -> review -> polish -> draft/);
  const typos = await run(['validate', '--json', 'workflows/examples/broken/typos.yaml']);
  const report = JSON.parse(typos.stdout);
  assert.deepEqual(report[0].errors.map((e) => e.code),
    ['missing_key', 'unknown_key', 'unknown_agent', 'unknown_need', 'template_syntax', 'duplicate_step',
     'template_not_upstream', 'template_unknown_name']);
  assert.equal(report[0].errors[1].hint, "did you mean 'agent'?");
});

test('validate accepts every shipped workflow', async () => {
  const files = ['workflows/ingestion_digest.yaml', 'workflows/examples/fanout.yaml', 'workflows/examples/loop_until.yaml',
    'workflows/examples/call_workflow.yaml', 'workflows/examples/parallel.yaml', 'workflows/examples/conditional.yaml',
    'workflows/examples/retry_timeout.yaml', 'workflows/examples/keywords_digest.yaml', 'workflows/examples/approval.yaml'];
  const r = await run(['validate', ...files]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((r.stdout.match(/^ok /gm) || []).length, files.length);
});

test('run prints the outputs as JSON and progress lines on stderr', async () => {
  const dir = tmp();
  const doc = join(dir, 'doc.txt');
  writeFileSync(doc, 'The mill burned in the night. Nobody saw who lit it. By morning the river was grey with ash.\n\n'
    + 'Inspector Hale arrived at noon. He asked the miller three questions and wrote nothing down.');
  const r = await run(['run', 'workflows/ingestion_digest.yaml', '--input-file', `document=${doc}`, '-i', 'max_sentences=1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.status, 'succeeded');
  assert.equal(result.outputs.chunk_count, 1);
  assert.equal(result.outputs.digest.split('. ').length >= 1, true);
  assert.ok(result.outputs.keywords.length > 0);
  assert.match(r.stderr, /summary +succeeded/);
});

test('run refuses missing and mistyped inputs with their codes', async () => {
  const missing = await run(['run', 'workflows/ingestion_digest.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error\[input_missing\]: required input 'document'/);
  const typed = await run(['run', 'workflows/ingestion_digest.yaml', '-i', 'document=x', '-i', 'max_sentences=many']);
  assert.equal(typed.code, 2);
  assert.match(typed.stderr, /error\[input_type\]/);
});

test('Ctrl-C stops a run; --resume finishes it without redoing finished steps', async () => {
  const dir = tmp();
  const log = join(dir, 'run.jsonl');
  let signalled = false;
  const first = await run(['run', data('slow_chain.yaml'), '--events', log], {
    onStderr: (err, child) => {
      if (!signalled && /one +succeeded/.test(err)) {
        signalled = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.equal(first.code, 130, first.stderr);
  assert.match(first.stderr, /--resume/);
  const before = readLog(log);
  assert.ok(before.some((e) => e.type === 'step_succeeded' && e.step === 'one'));
  assert.ok(!before.some((e) => e.type === 'run_succeeded'));
  // A torn last line, as if the machine died mid-write: dropped, not fatal.
  appendFileSync(log, '{"seq": 99, "type": "step_succ');
  const second = await run(['run', data('slow_chain.yaml'), '--resume', log, '--json']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /dropped an incomplete last line/);
  assert.equal(JSON.parse(second.stdout).outputs.last, 3);
  const after = readLog(log);
  const started = (step) => after.filter((e) => e.type === 'step_started' && e.step === step).length;
  assert.equal(started('one'), 1);
  assert.equal(started('three'), 1);
  assert.deepEqual(after.map((e) => e.seq), after.map((_, i) => i + 1));
  assert.equal(after.at(-1).type, 'run_succeeded');
});

test('http.fetch performs real HTTP and retries a busy server', async () => {
  let hits = 0;
  const server = createServer((req, res) => {
    hits += 1;
    if (hits === 1) {
      res.writeHead(503);
      res.end('busy');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('The archive opens at nine. Readers sign the ledger first.');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/hours`;
  try {
    const r = await run(['run', data('fetch_retry.yaml'), '-i', `url=${url}`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout).outputs;
    assert.equal(out.status, 200);
    assert.equal(out.gist, 'The archive opens at nine.');
    assert.equal(hits, 2);
    assert.match(r.stderr, /attempt 1 failed \(HTTP 503/);
  } finally {
    server.close();
  }
});

test('--cache-dir: a second run takes the fetched page from the step cache', async () => {
  let hits = 0;
  const server = createServer((req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('The ferry leaves at dawn. It returns at dusk.');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/ferry`;
  const cache = join(tmp(), 'cache');
  const log = join(tmp(), 'second.jsonl');
  try {
    const first = await run(['run', data('fetch_retry.yaml'), '-i', `url=${url}`, '--cache-dir', cache, '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(hits, 1);
    const second = await run(['run', data('fetch_retry.yaml'), '-i', `url=${url}`, '--cache-dir', cache,
      '--events', log, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(hits, 1);  // not fetched again
    assert.equal(JSON.parse(second.stdout).outputs.gist, 'The ferry leaves at dawn.');
    const page = readLog(log).find((e) => e.type === 'step_succeeded' && e.step === 'page');
    assert.equal(page.cached, true);
    assert.match(second.stderr, /page +succeeded \(from the step cache\)/);
  } finally {
    server.close();
  }
});

test('a refused connection fails with host_error after its retries', async () => {
  const r = await run(['run', data('fetch_retry.yaml'), '-i', 'url=http://127.0.0.1:9/', '--json']);
  assert.equal(r.code, 1);
  const result = JSON.parse(r.stdout);
  assert.equal(result.status, 'failed');
  assert.equal(result.error.code, 'host_error');
});

test('human.input asks on the terminal and the run waits for the answer', async () => {
  const r = await run(['run', 'workflows/examples/approval.yaml', '--json'], { stdin: 'maybe\nyes\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).outputs.verdict, 'kept: The tide came in twice that night.');
  assert.match(r.stderr, /The tide came in twice that night\./);
  assert.match(r.stderr, /\? Keep this line\? \[yes\/no\]/);
  assert.match(r.stderr, /please answer one of: yes\/no/);
  assert.match(r.stderr, /run paused: waiting for a person/);
  const closed = await run(['run', 'workflows/examples/approval.yaml', '--json'], { stdin: '' });
  assert.equal(closed.code, 1);
  assert.equal(JSON.parse(closed.stdout).error.code, 'cancelled');
});

test('human.input: a shown text to edit opens in LOOM_EDITOR; without one, or when it fails, one line is read', async () => {
  const file = 'tests/cli/data/edit_answer.yaml';
  const edited = await run(['run', file, '--json'], { env: { LOOM_EDITOR: 'sed -i s/fog/mist/', EDITOR: '', VISUAL: '' } });
  assert.equal(edited.code, 0, edited.stderr);
  assert.equal(JSON.parse(edited.stdout).outputs.text, 'The mist came in before the ferry left.');
  assert.match(edited.stderr, /editing in sed -i s\/fog\/mist\//);
  const failed = await run(['run', file, '--json'], { env: { LOOM_EDITOR: 'false' }, stdin: 'Typed instead.\n' });
  assert.equal(failed.code, 0, failed.stderr);
  assert.equal(JSON.parse(failed.stdout).outputs.text, 'Typed instead.');
  assert.match(failed.stderr, /the editor ended with status \d+; answer on the terminal instead/);
  // EDITOR alone is not used under a pipe (an interactive editor would wait for no one).
  const piped = await run(['run', file, '--json'], { env: { LOOM_EDITOR: '', EDITOR: 'sed -i s/fog/mist/' }, stdin: 'One line.\n' });
  assert.equal(JSON.parse(piped.stdout).outputs.text, 'One line.');
  assert.match(piped.stderr, /set EDITOR, or LOOM_EDITOR, to edit the text above/);
});

test('graph draws Mermaid, DOT and ASCII', async () => {
  const mermaid = await run(['graph', 'workflows/ingestion_digest.yaml', '--format', 'mermaid']);
  assert.equal(mermaid.code, 0);
  assert.match(mermaid.stdout, /^flowchart TD/);
  assert.match(mermaid.stdout, /chunks -.->\|when\| summary/);
  const dot = await run(['graph', 'workflows/examples/loop_until.yaml', '-f', 'dot']);
  assert.match(dot.stdout, /digraph example_loop_until/);
  assert.match(dot.stdout, /subgraph cluster_polish/);
  assert.match(dot.stdout, /polish__grow -> polish__measure/);
  const ascii = await run(['graph', 'workflows/examples/parallel.yaml']);
  assert.match(ascii.stdout, /\[join\] +text\.template +← a, b, c, d/);
  const broken = await run(['graph', 'workflows/examples/broken/cycle.yaml']);
  assert.equal(broken.code, 1);
});

test('agents lists the registry', async () => {
  const r = await run(['agents']);
  assert.equal(r.code, 0);
  for (const name of ['text.chunk', 'text.summarize', 'text.keywords', 'text.template', 'http.fetch', 'llm.generate', 'workflow']) {
    assert.match(r.stdout, new RegExp(`^${name.replace('.', '\\.')} `, 'm'));
  }
  assert.ok(existsSync(loom));
});
