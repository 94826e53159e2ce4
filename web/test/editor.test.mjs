// ui/editor.js under node: the engine's errors as CodeMirror diagnostics (positions, messages,
// sources) and the editor's setup (its undo history, Enter opening YAML blocks, two-space
// indentation), on EditorStates (no DOM).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EditorState, EditorSelection, Transaction } from '@codemirror/state';
import { setDiagnostics, linter, forEachDiagnostic } from '@codemirror/lint';
import { insertNewlineAndIndent, indentMore, indentLess, undo, redo } from '@codemirror/commands';
import { errorsToDiagnostics, editorSetup } from '../src/ui/editor.js';
import { REPO, readRepo } from './helpers.mjs';

const WORKFLOW = [
  'name: demo',                                  // 1
  'steps:',                                      // 2
  '  - {id: b, agent: nope.x}',                  // 3
  '  - id: c',                                   // 4
  '    agent: text.template',                    // 5
  '    with: {template: "{{ steps.b.output }}"}', // 6
].join('\n');

const err = (line, column, extra = {}) => ({ code: 8, name: 'unknown_agent', message: 'unknown agent', hint: '',
  file: '', line, column, ...extra });

// The text a diagnostic covers.
function covered(text, d) {
  return text.replace(/\r\n?/g, '\n').slice(d.from, d.to);
}

test('errorsToDiagnostics: no errors, no diagnostics', () => {
  assert.deepEqual(errorsToDiagnostics(WORKFLOW, []), []);
  assert.deepEqual(errorsToDiagnostics(WORKFLOW, undefined), []);
  assert.deepEqual(errorsToDiagnostics('', null), []);
});

test('errorsToDiagnostics: the token at line and column, up to the next whitespace', () => {
  const col = WORKFLOW.split('\n')[2].indexOf('nope.x') + 1;
  const [d] = errorsToDiagnostics(WORKFLOW, [err(3, col)]);
  assert.equal(covered(WORKFLOW, d), 'nope.x}');
  assert.equal(d.from, WORKFLOW.indexOf('nope.x'));
  assert.equal(d.severity, 'error');
  assert.equal(d.source, 'unknown_agent');
  assert.equal(d.message, 'unknown agent');
  // At the first column of the line: the first token.
  const [first] = errorsToDiagnostics(WORKFLOW, [err(1, 1)]);
  assert.deepEqual([first.from, first.to], [0, 5]);
  assert.equal(covered(WORKFLOW, first), 'name:');
  // A token running to the end of the line.
  const [last] = errorsToDiagnostics(WORKFLOW, [err(5, 12)]);
  assert.equal(covered(WORKFLOW, last), 'text.template');
});

test('errorsToDiagnostics: the hint follows the message on its own line', () => {
  const [d] = errorsToDiagnostics(WORKFLOW, [err(3, 5, { message: "unknown agent 'nope.x'", hint: 'run `loom agents`' })]);
  assert.equal(d.message, "unknown agent 'nope.x'\nrun `loom agents`");
  const [none] = errorsToDiagnostics(WORKFLOW, [err(3, 5, { hint: undefined })]);
  assert.equal(none.message, 'unknown agent');
});

test('errorsToDiagnostics: column 0, or at or past the end of the line, is the whole line', () => {
  const line3 = WORKFLOW.split('\n')[2];
  const start = WORKFLOW.indexOf(line3);
  const whole = { from: start, to: start + line3.length };
  for (const column of [0, line3.length + 1, line3.length + 2, 500]) {
    const [d] = errorsToDiagnostics(WORKFLOW, [err(3, column)]);
    assert.deepEqual({ from: d.from, to: d.to }, whole, `column ${column}`);
  }
  // The last character of the line is still a token.
  const [d] = errorsToDiagnostics(WORKFLOW, [err(3, line3.length)]);
  assert.equal(covered(WORKFLOW, d), '}');
});

test('errorsToDiagnostics: line 0 is the first line; a line past the end is the last', () => {
  const [zero] = errorsToDiagnostics(WORKFLOW, [err(0, 0)]);
  assert.deepEqual([zero.from, zero.to], [0, 'name: demo'.length]);
  const [zeroWithColumn] = errorsToDiagnostics(WORKFLOW, [err(0, 7)]);
  assert.deepEqual([zeroWithColumn.from, zeroWithColumn.to], [0, 'name: demo'.length], 'no line, so no column either');
  const [past] = errorsToDiagnostics(WORKFLOW, [err(99, 3)]);
  const lastLine = WORKFLOW.split('\n').at(-1);
  assert.deepEqual([past.from, past.to], [WORKFLOW.length - lastLine.length, WORKFLOW.length]);
});

test('errorsToDiagnostics: nonsense positions are read as unknown', () => {
  for (const [line, column] of [[-3, -1], [NaN, 4], ['x', 'y'], [undefined, undefined], [null, null], [2.7, 0]]) {
    const [d] = errorsToDiagnostics(WORKFLOW, [err(line, column)]);
    assert.ok(d.from >= 0 && d.to <= WORKFLOW.length && d.from <= d.to, `${line}:${column}`);
  }
  const [fractional] = errorsToDiagnostics(WORKFLOW, [err(2.7, 0)]);
  assert.equal(covered(WORKFLOW, fractional), 'steps:', 'line 2.7 is line 2');
});

test('errorsToDiagnostics: on whitespace, the token that follows', () => {
  const line6 = WORKFLOW.split('\n')[5];
  const col = line6.indexOf('{{') + 3;  // the space after the braces, where template errors point
  const [d] = errorsToDiagnostics(WORKFLOW, [err(6, col)]);
  assert.equal(covered(WORKFLOW, d), 'steps.b.output');
  const [indent] = errorsToDiagnostics(WORKFLOW, [err(4, 1)]);
  assert.equal(covered(WORKFLOW, indent), '-');
  // Only spaces after the column: the whole line.
  const text = 'name: x   \nsteps: []';
  const [trailing] = errorsToDiagnostics(text, [err(1, 9)]);
  assert.deepEqual([trailing.from, trailing.to], [0, 10]);
});

test('errorsToDiagnostics: columns count UTF-8 bytes, as the engine does', () => {
  // As the engine reports it: "inputs" is the 25th character of line 2 but its 28th byte.
  const text = 'name: t\n    with: {text: "ééé {{ inputs.nope }}"}';
  const [d] = errorsToDiagnostics(text, [err(2, 28)]);
  assert.equal(covered(text, d), 'inputs.nope');
  // An em dash is three bytes, an emoji four (and two UTF-16 units).
  const dash = 'x: "—— {{ inputs. }}"';
  const [e] = errorsToDiagnostics(dash, [err(1, 1 + dash.indexOf('}}') + 4)]);
  assert.equal(covered(dash, e), '}}"');
  const emoji = 'a: 📚 b c';
  const [f] = errorsToDiagnostics(emoji, [err(1, 'a: '.length + 4 + 2)]);
  assert.equal(covered(emoji, f), 'b');
  // A byte inside a character means that character.
  const [g] = errorsToDiagnostics(emoji, [err(1, 'a: '.length + 3)]);
  assert.equal(covered(emoji, g), '📚');
});

test('errorsToDiagnostics: \\r\\n and \\r line breaks count one position, as in a CodeMirror document', () => {
  const lf = WORKFLOW;
  const crlf = WORKFLOW.replace(/\n/g, '\r\n');
  const cr = WORKFLOW.replace(/\n/g, '\r');
  const errors = [err(3, 19), err(5, 0), err(6, 33)];
  const expected = errorsToDiagnostics(lf, errors);
  assert.deepEqual(errorsToDiagnostics(crlf, errors), expected);
  assert.deepEqual(errorsToDiagnostics(cr, errors), expected);
  const state = EditorState.create({ doc: crlf });
  assert.equal(state.doc.toString(), lf, 'CodeMirror reads the \\r\\n text as the \\n one');
});

test('errorsToDiagnostics: empty documents and empty lines give empty ranges at the line', () => {
  const [d] = errorsToDiagnostics('', [err(4, 9)]);
  assert.deepEqual([d.from, d.to], [0, 0]);
  // "name: [\n": yaml_syntax at line 2, column 1, the empty line after the text.
  const [y] = errorsToDiagnostics('name: [\n', [err(2, 1, { name: 'yaml_syntax' })]);
  assert.deepEqual([y.from, y.to], [8, 8]);
});

test('errorsToDiagnostics: several errors keep their order; the source names the error', () => {
  const errors = [
    err(3, 19),
    { code: 9, name: 'template_syntax', message: 'bad template', hint: 'close it', line: 6, column: 24 },
    { code: 6, message: 'no name', line: 4, column: 5 },
    Object.assign(new Error('thrown'), { codeName: 'cycle', line: 2, column: 1 }),  // an EngineError's shape
    null,
  ];
  const ds = errorsToDiagnostics(WORKFLOW, errors);
  assert.deepEqual(ds.map((d) => d.source), ['unknown_agent', 'template_syntax', 'loom', 'cycle']);
  assert.deepEqual(ds.map((d) => d.message), ['unknown agent', 'bad template\nclose it', 'no name', 'thrown']);
  assert.ok(ds.every((d) => d.severity === 'error'));
});

test('errorsToDiagnostics: CodeMirror accepts the diagnostics as they are', () => {
  const errors = [err(3, 19), err(0, 0), err(99, 99), err(6, 24), err(2, 1)].map((e, i) => ({ ...e, message: `e${i}` }));
  const ds = errorsToDiagnostics(WORKFLOW, errors);
  let state = EditorState.create({ doc: WORKFLOW, extensions: [linter(null)] });
  state = state.update(setDiagnostics(state, ds)).state;
  const shown = [];
  forEachDiagnostic(state, (d, from, to) => shown.push([d.message, from, to]));
  shown.sort((a, b) => a[0].localeCompare(b[0]));
  assert.deepEqual(shown, ds.map((d) => [d.message, d.from, d.to]));
});

// The real engine's errors for the broken examples, when the wasm build is there.
const WASM = path.join(REPO, 'build/wasm-release/loom.wasm');
test('errorsToDiagnostics: the engine\'s errors for workflows/examples/broken/typos.yaml', { skip: !existsSync(WASM) && 'no wasm build' }, async () => {
  const { loadEngine } = await import('../src/engine.js');
  const engine = await loadEngine();
  try {
    const text = readRepo('workflows/examples/broken/typos.yaml');
    const errors = engine.validate(text, 'typos.yaml');
    const ds = errorsToDiagnostics(text, errors);
    const byName = Object.fromEntries(ds.map((d) => [d.source, covered(text, d)]));
    assert.equal(byName.unknown_key, 'agnet:');
    assert.equal(byName.template_syntax, "'unclosed");
    assert.equal(byName.template_not_upstream, 'steps.late.output');
    assert.equal(byName.template_unknown_name, 'inputs.documnet');
    for (const [i, d] of ds.entries()) {
      const line = text.slice(0, d.from).split('\n').length;
      assert.equal(line, errors[i].line, `${d.source} is on line ${errors[i].line}`);
    }
  } finally {
    engine.dispose();
  }
});

// ---- the editor's setup, on states ---------------------------------------------------------------

function stateOf(doc, selection = EditorSelection.cursor(doc.length)) {
  return EditorState.create({ doc, selection, extensions: editorSetup() });
}

function run(command, state) {
  let next = state;
  const ran = command({ state, dispatch: (tr) => { next = tr.state; } });
  return { ran, state: next };
}

// Types `text` at the cursor at time `time` (ms), as the view reports typing.
function type(state, text, time) {
  const at = state.selection.main.head;
  return state.update({ changes: { from: at, insert: text }, selection: EditorSelection.cursor(at + text.length),
    userEvent: 'input.type', annotations: Transaction.time.of(time) }).state;
}

test('Enter keeps the indentation and opens a block after "key:"', () => {
  const enter = (doc) => run(insertNewlineAndIndent, stateOf(doc)).state.doc.toString();
  assert.equal(enter('steps:'), 'steps:\n  ');
  assert.equal(enter('steps:\n  - id: a'), 'steps:\n  - id: a\n    ');
  assert.equal(enter('steps:\n  - id: a\n    with:'), 'steps:\n  - id: a\n    with:\n      ');
  assert.equal(enter('  - with:   '), '  - with:   \n      ', 'trailing spaces do not hide the colon');
  assert.equal(enter('name: x'), 'name: x\n');
  assert.equal(enter('a: b # see:'), 'a: b # see:\n', 'a colon in a comment opens nothing');
  assert.equal(enter('a: "x:"'), 'a: "x:"\n');
  const { state } = run(insertNewlineAndIndent, stateOf('steps:'));
  assert.equal(state.selection.main.head, state.doc.length, 'the cursor ends after the indentation');
});

test('indent and dedent move the selected lines by two spaces', () => {
  const doc = 'a: 1\nb:\n  c: 2\n    d: 3';
  const all = EditorSelection.range(0, doc.length);
  assert.equal(run(indentMore, stateOf(doc, all)).state.doc.toString(), '  a: 1\n  b:\n    c: 2\n      d: 3');
  assert.equal(run(indentLess, stateOf(doc, all)).state.doc.toString(), 'a: 1\nb:\nc: 2\n  d: 3');
  // A selection ending at the start of a line leaves that line alone.
  const two = EditorSelection.range(0, doc.indexOf('b:'));
  assert.equal(run(indentMore, stateOf(doc, two)).state.doc.toString(), '  a: 1\nb:\n  c: 2\n    d: 3');
});

test('undo and redo: a burst of typing is one step, a pause starts another', () => {
  let state = stateOf('name: x');
  assert.equal(run(undo, state).ran, false, 'nothing to undo');
  state = type(state, 'y', 1000);
  state = type(state, 'z', 1200);
  assert.equal(state.doc.toString(), 'name: xyz');
  const undone = run(undo, state);
  assert.ok(undone.ran);
  assert.equal(undone.state.doc.toString(), 'name: x', 'both letters typed in one burst');
  assert.equal(undone.state.selection.main.head, 'name: x'.length);
  const redone = run(redo, undone.state);
  assert.equal(redone.state.doc.toString(), 'name: xyz');
  assert.equal(run(redo, redone.state).ran, false, 'nothing left to redo');
  const later = type(redone.state, '!', 5000);
  assert.equal(run(undo, later).state.doc.toString(), 'name: xyz');
  // A new edit after an undo drops what could have been redone.
  state = run(undo, later).state;
  state = type(state, '#', 9000);
  assert.equal(run(redo, state).ran, false);
});

test('undo does nothing in a read-only editor', () => {
  let state = EditorState.create({ doc: 'a', extensions: [editorSetup(), EditorState.readOnly.of(true)] });
  state = state.update({ changes: { from: 1, insert: 'b' } }).state;
  assert.equal(run(undo, state).ran, false);
  assert.equal(run(indentMore, state).ran, false);
  assert.equal(run(insertNewlineAndIndent, state).ran, false);
});
