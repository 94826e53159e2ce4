// engine.js: the ErrorCode mirror, envelopes turned into values and EngineErrors, dispose().
import test from 'node:test';
import assert from 'node:assert/strict';
import { loadEngine, ErrorCode, EngineError, errorCodeName } from '../src/engine.js';
import { readFileSync } from 'node:fs';
import { REPO, readRepo, thrown } from './helpers.mjs';

// `kUnknownAgent = 8,` -> ['UNKNOWN_AGENT', 8], straight from the header.
function headerCodes() {
  const header = readRepo('engine/include/loom/error.hpp');
  const body = header.match(/enum class ErrorCode[^{]*\{([\s\S]*?)\};/);
  assert.ok(body, 'error.hpp has an enum class ErrorCode');
  const codes = {};
  for (const m of body[1].matchAll(/^\s*k([A-Za-z0-9]+)\s*=\s*(\d+)\s*,?/gm)) {
    const snake = m[1].replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
    codes[snake] = Number(m[2]);
  }
  return codes;
}

test('ErrorCode mirrors engine/include/loom/error.hpp, name for name and number for number', () => {
  const fromHeader = headerCodes();
  assert.ok(Object.keys(fromHeader).length >= 31, 'the header parse found the enum');
  assert.deepEqual({ ...ErrorCode }, fromHeader);
  assert.ok(Object.isFrozen(ErrorCode));
  assert.equal(ErrorCode.UNKNOWN_AGENT, 8);
});

test("ErrorCode agrees with the wasm engine's own errorCodes()", async () => {
  const engine = await loadEngine();
  try {
    const fromWasm = engine.errorCodes();  // {snake_name: number}
    const upper = Object.fromEntries(Object.entries(fromWasm).map(([k, v]) => [k.toUpperCase(), v]));
    assert.deepEqual(upper, { ...ErrorCode });
    for (const [name, code] of Object.entries(fromWasm)) assert.equal(errorCodeName(code), name);
  } finally {
    engine.dispose();
  }
});

const UNKNOWN_AGENT_YAML = `name: misspelled
inputs:
  text: {type: string, required: true}
steps:
  - id: gist
    agent: text.sumarize
    with: {text: "{{ inputs.text }}"}
`;

test('load: an unknown agent throws EngineError UNKNOWN_AGENT at its line and column', async () => {
  const engine = await loadEngine();
  try {
    const err = thrown(() => engine.load(UNKNOWN_AGENT_YAML, 'misspelled.yaml'), EngineError);
    assert.equal(err.code, ErrorCode.UNKNOWN_AGENT);
    assert.equal(err.codeName, 'unknown_agent');
    assert.equal(err.file, 'misspelled.yaml');
    const lines = UNKNOWN_AGENT_YAML.split('\n');
    const line = lines.findIndex((l) => l.includes('text.sumarize')) + 1;
    assert.equal(err.line, line);
    assert.equal(err.column, lines[line - 1].indexOf('agent') + 1);
    assert.match(err.hint, /text\.summarize/);
    assert.match(err.format(), /^misspelled\.yaml:6:5: error\[unknown_agent\]/);
    // A workflow that failed to load is not in the library.
    const notLoaded = thrown(() => engine.start('misspelled', { text: 'x' }), EngineError);
    assert.equal(notLoaded.code, ErrorCode.UNKNOWN_WORKFLOW);
  } finally {
    engine.dispose();
  }
});

// broken/typos.yaml promises these errors in one pass, each with its line and column.
const TYPOS = [
  ['MISSING_KEY', 13], ['UNKNOWN_KEY', 14], ['UNKNOWN_AGENT', 17], ['UNKNOWN_NEED', 18],
  ['TEMPLATE_SYNTAX', 19], ['DUPLICATE_STEP', 20], ['TEMPLATE_NOT_UPSTREAM', 25], ['TEMPLATE_UNKNOWN_NAME', 28],
];

test('validate returns every error of broken/typos.yaml; load throws the first with all of them', async () => {
  const engine = await loadEngine();
  try {
    const yaml = readRepo('workflows/examples/broken/typos.yaml');
    const errors = engine.validate(yaml, 'typos.yaml');
    assert.equal(errors.length, TYPOS.length);
    for (const [name, line] of TYPOS) {
      const e = errors.find((x) => x.code === ErrorCode[name]);
      assert.ok(e, `validate reports ${name}`);
      assert.equal(e.name, name.toLowerCase());
      assert.equal(e.line, line, `${name} line`);
      assert.ok(e.column > 0, `${name} has a column`);
      assert.equal(e.file, 'typos.yaml');
    }
    const err = thrown(() => engine.load(yaml, 'typos.yaml'), EngineError);
    assert.equal(err.code, errors[0].code);
    assert.deepEqual(err.errors, errors);

    assert.deepEqual(engine.validate(readRepo('workflows/ingestion_digest.yaml'), 'x.yaml'), []);
    // validate does not add to the library; load does.
    assert.throws(() => engine.start('ingestion_digest', { document: 'x' }), { code: ErrorCode.UNKNOWN_WORKFLOW });
    const summary = engine.load(readRepo('workflows/ingestion_digest.yaml'), 'workflows/ingestion_digest.yaml');
    assert.equal(summary.name, 'ingestion_digest');
    assert.deepEqual(summary.inputs.map((i) => [i.name, i.type, i.required]),
      [['document', 'string', true], ['max_sentences', 'number', false], ['chunk_chars', 'number', false]]);
    assert.deepEqual(summary.outputs.sort(), ['chunk_count', 'digest', 'keywords']);
  } finally {
    engine.dispose();
  }
});

test('start: input errors are EngineErrors listing every bad input', async () => {
  const engine = await loadEngine();
  try {
    engine.load(readRepo('workflows/ingestion_digest.yaml'), 'ingestion_digest.yaml');
    const err = thrown(() => engine.start('ingestion_digest', { max_sentences: 'three', bogus: 1 }), EngineError);
    const codes = err.errors.map((e) => e.code).sort((a, b) => a - b);
    assert.deepEqual(codes, [ErrorCode.INPUT_TYPE, ErrorCode.INPUT_MISSING, ErrorCode.INPUT_UNKNOWN]);
    assert.throws(() => engine.poll(999, 0), { code: ErrorCode.INVALID_STATE });
  } finally {
    engine.dispose();
  }
});

test('resolve: a numeric error code is sent by name (a number would make the engine throw)', async () => {
  const engine = await loadEngine();
  try {
    engine.load(readRepo('workflows/examples/parallel.yaml'), 'parallel.yaml');
    const { run } = engine.start('example_parallel', { ms: 5 }, {}, 0);
    const { effects } = engine.poll(run, 0);
    assert.equal(effects.length, 3);
    const r = engine.resolve(run, { id: effects[0].id, ok: false, error: { code: ErrorCode.UNAVAILABLE, message: 'busy' } }, 1);
    const failed = r.events.find((e) => e.type === 'step_failed');
    assert.equal(failed.error.code, 'unavailable');
    assert.throws(() => engine.resolve(run, 'nonsense', 2), { code: ErrorCode.BAD_ARGUMENT });
  } finally {
    engine.dispose();
  }
});

test('arguments the engine would throw on are coerced or refused as EngineErrors, never a wasm exception', async () => {
  const engine = await loadEngine();
  try {
    engine.load(readRepo('workflows/examples/parallel.yaml'), 'parallel.yaml');
    // The bindings read run_id as a string and counts as integers; a raw 5 or "4" would throw.
    const { run, events } = engine.start('example_parallel', { ms: 5 }, { runId: 5, maxConcurrency: '2' }, 0);
    assert.equal(events[0].run_id, '5');
    const { effects } = engine.poll(run, 0);
    assert.equal(effects.length, 2, 'maxConcurrency "2" was applied');
    const r = engine.resolve(run, { id: String(effects[0].id), ok: false, error: { code: 'unavailable', message: 503 } }, 1);
    assert.equal(r.events.find((e) => e.type === 'step_failed').error.message, '503');
    const err = thrown(() => engine.resolve(run, { id: 'first', ok: true }, 2), EngineError);
    assert.equal(err.code, ErrorCode.BAD_ARGUMENT);
    assert.throws(() => engine.start('example_parallel', {}, { seed: 'x' }), { code: ErrorCode.BAD_ARGUMENT });
  } finally {
    engine.dispose();
  }
});

test('dispose frees the engine once; calls afterwards throw INVALID_STATE', async () => {
  const engine = await loadEngine();
  assert.equal(engine.disposed, false);
  assert.match(engine.version(), /^\d+\.\d+\.\d+/);
  const agents = engine.agents().map((a) => a.name);
  for (const name of ['text.chunk', 'text.summarize', 'util.sleep', 'http.fetch', 'workflow']) assert.ok(agents.includes(name), name);
  engine.dispose();
  engine.dispose();
  assert.equal(engine.disposed, true);
  assert.throws(() => engine.agents(), { code: ErrorCode.INVALID_STATE });
});

test('the node quirks are contained: no __dirname/require left behind, no rethrowing process handlers', async () => {
  const before = process.listeners('unhandledRejection').length;
  const engine = await loadEngine({ wasmBinary: new Uint8Array(readFileBytes()) });
  try {
    assert.equal(typeof globalThis.__dirname, 'undefined');
    assert.equal(typeof globalThis.require, 'undefined');
    assert.equal(process.listeners('unhandledRejection').length, before);
    assert.equal(engine.agents().length > 0, true);
  } finally {
    engine.dispose();
  }
});

function readFileBytes() {
  return readFileSync(`${REPO}/build/wasm-release/loom.wasm`);
}
