// editor.js — the workflow YAML editor: CodeMirror 6 with YAML highlighting and the engine's
// validate() as a linter (errors underlined at their line and column, a marker in the gutter).
//
// The page's CSP allows no inline style. CodeMirror's styles come from style-mod, which (4.1.4,
// as installed) writes them into a <style> element when the editor is in the document, and the
// CSP blocks that element; in a shadow root it uses a constructable stylesheet
// (adoptedStyleSheets), which the CSP permits. So the editor lives in an open shadow root of a host element (class
// "loom-editor", data-testid "yaml-editor"): document CSS does not reach inside, the theme
// below does, and custom properties (--ink, --line, ...) still inherit. Its lint icons, data:
// URLs, are replaced by plain CSS so that an img-src without data: refuses nothing either.
//
//   const editor = createYamlEditor(panel, {
//     doc: yaml,
//     validate: (text) => engine.validate(text),
//     onDiagnostics: (errors) => showErrorList(errors),   // each item calls jumpTo(editor.view, e.line, e.column)
//     onChange: (text) => save(text),
//   });
//
// The npm package `codemirror` installed here is a CodeMirror 5 release (6.65.7), so its
// basicSetup is not available, nor are @codemirror/commands and @codemirror/search. editorSetup()
// below is basicSetup made of the packages present, plus the few commands it needs (undo/redo,
// Enter with indentation, indent/dedent). With codemirror@^6.0.2 installed it can be replaced by
// basicSetup and historyKeymap/defaultKeymap from @codemirror/commands.
import {
  EditorView, keymap, lineNumbers, highlightActiveLineGutter, highlightSpecialChars, drawSelection,
  dropCursor, rectangularSelection, crosshairCursor, highlightActiveLine,
} from '@codemirror/view';
import {
  Annotation, EditorSelection, EditorState, StateField, Text, Transaction,
} from '@codemirror/state';
import {
  foldGutter, indentOnInput, syntaxHighlighting, defaultHighlightStyle, bracketMatching, foldKeymap,
  indentUnit, getIndentation, IndentContext, indentString, getIndentUnit,
} from '@codemirror/language';
import { closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { linter, lintGutter, lintKeymap, setDiagnostics } from '@codemirror/lint';
import { yaml } from '@codemirror/lang-yaml';

// ---- positions ---------------------------------------------------------------------------------

// The UTF-16 offset in `text` of UTF-8 byte `bytes` (the engine counts columns in bytes, as
// yaml-cpp's marks do); a byte inside a character gives that character. -1 when past the end.
function offsetOfByte(text, bytes) {
  let count = 0;
  let i = 0;
  while (i < text.length) {
    if (count >= bytes) return i;
    const cp = text.codePointAt(i);
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (count + size > bytes) return i;
    count += size;
    i += cp > 0xffff ? 2 : 1;
  }
  return count >= bytes ? i : -1;
}

function lineNumberOf(value) {
  const n = Math.trunc(Number(value));
  return Number.isFinite(n) && n > 0 ? n : 0;
}

// {from, to} in `doc` (a CodeMirror Text) of an error at 1-based `line` and `column`: the token
// starting there (up to the next whitespace; on whitespace, the next token), or the whole line
// when the column is unknown (0), at/past the line's end or followed by nothing but spaces, or
// the line was out of range. Line 0 is the first line.
function rangeAt(doc, line, column) {
  const wanted = lineNumberOf(line);
  const number = Math.min(Math.max(wanted, 1), doc.lines);
  const l = doc.line(number);
  const col = lineNumberOf(column);
  if (wanted === 0 || wanted !== number || col === 0) return { from: l.from, to: l.to };
  let at = offsetOfByte(l.text, col - 1);
  if (at < 0 || at >= l.text.length) return { from: l.from, to: l.to };
  // On whitespace ("{{ steps.x }}" errors point just after the braces): the token that follows.
  while (at < l.text.length && /\s/.test(l.text[at])) ++at;
  if (at === l.text.length) return { from: l.from, to: l.to };
  let end = at;
  while (end < l.text.length && !/\s/.test(l.text[end])) ++end;
  return { from: l.from + at, to: l.from + end };
}

function docOf(text) {
  return Text.of(String(text ?? '').split(/\r\n?|\n/));
}

function nameOf(error) {
  if (typeof error?.codeName === 'string') return error.codeName;  // an EngineError
  return typeof error?.name === 'string' && error.name ? error.name : 'loom';
}

/// The engine's errors ([{code, name, message, hint, line, column}], line and column 1-based, 0
/// when unknown, column in UTF-8 bytes) as CodeMirror diagnostics [{from, to, severity: 'error',
/// message, source}] over `text`, whose line breaks (\n, \r\n or \r) count one position each as
/// in a CodeMirror document. from/to cover the token at the error (up to the next whitespace; on
/// whitespace, the token after it); the whole line when the column is 0 or past the line's end;
/// the first line for line 0; a line past the end is the last line. message is the message plus "\n" + hint when there is
/// one; source is the error's name ("unknown_agent"). Never throws; [] for no errors.
export function errorsToDiagnostics(text, errors) {
  if (!Array.isArray(errors) || errors.length === 0) return [];
  const doc = docOf(text);
  return errors.filter((e) => e && typeof e === 'object').map((e) => {
    const { from, to } = rangeAt(doc, e.line, e.column);
    const hint = typeof e.hint === 'string' ? e.hint : '';
    const message = String(e.message ?? 'invalid workflow') + (hint ? `\n${hint}` : '');
    return { from, to, severity: 'error', message, source: nameOf(e) };
  });
}

/// Moves the cursor of `view` to 1-based `line` and `column` (as errorsToDiagnostics reads them),
/// scrolls it into the middle of the editor and focuses it.
export function jumpTo(view, line, column = 0) {
  const doc = view.state.doc;
  const { from } = rangeAt(doc, line, column);
  view.dispatch({
    selection: EditorSelection.cursor(from),
    effects: EditorView.scrollIntoView(from, { y: 'center' }),
    userEvent: 'select',
  });
  view.focus();
}

// ---- a small linear undo history -----------------------------------------------------------------

const historyOp = Annotation.define();  // 'undo' | 'redo'
const GROUP_MS = 600;
const MAX_DEPTH = 300;

// done/undone hold inverted changes with the selection to restore. Every document change is
// recorded, so the top entry always applies to the current document; a change that asks not
// to be recorded (setText) clears the history instead.
const historyField = StateField.define({
  create: () => ({ done: [], undone: [] }),
  update(value, tr) {
    if (!tr.docChanged) return value;
    const op = tr.annotation(historyOp);
    const entry = { changes: tr.changes.invert(tr.startState.doc), selection: tr.startState.selection };
    if (op === 'undo') return { done: value.done.slice(0, -1), undone: [...value.undone, entry] };
    if (op === 'redo') return { done: [...value.done, entry], undone: value.undone.slice(0, -1) };
    if (tr.annotation(Transaction.addToHistory) === false) return { done: [], undone: [] };
    const time = tr.annotation(Transaction.time) ?? Date.now();
    const kind = burstKind(tr);
    const head = tr.state.selection.main.head;
    const last = value.done.at(-1);
    // Typing (or deleting) on from where the last keystroke left the cursor, without a pause,
    // joins one entry, much as @codemirror/commands groups them.
    if (kind && last?.kind === kind && time - last.time < GROUP_MS && tr.startState.selection.main.head === last.head) {
      const merged = { ...last, changes: entry.changes.compose(last.changes), time, head };
      return { done: [...value.done.slice(0, -1), merged], undone: [] };
    }
    return { done: [...value.done, { ...entry, time, kind, head }].slice(-MAX_DEPTH), undone: [] };
  },
});

// 'insert' or 'delete' for a keystroke's change that may join the previous one; '' otherwise.
// Decided by what the change does: the view labels a native Backspace "input.type" too.
function burstKind(tr) {
  const event = tr.annotation(Transaction.userEvent) ?? '';
  if (!/^(input|delete)\b/.test(event) || event.startsWith('input.paste') || event.startsWith('input.drop')) return '';
  let inserted = 0;
  let deleted = 0;
  tr.changes.iterChanges((fromA, toA, fromB, toB) => {
    deleted += toA - fromA;
    inserted += toB - fromB;
  });
  if (inserted && !deleted) return 'insert';
  if (deleted && !inserted) return 'delete';
  return '';
}

function travel(op) {
  return ({ state, dispatch }) => {
    if (state.readOnly) return false;
    const h = state.field(historyField, false);
    const entry = op === 'undo' ? h?.done.at(-1) : h?.undone.at(-1);
    if (!entry) return false;
    dispatch(state.update({ changes: entry.changes, selection: entry.selection, scrollIntoView: true,
      annotations: [historyOp.of(op), Transaction.userEvent.of(op)] }));
    return true;
  };
}

/// Undoes the last change (typing in one burst counts as one); false when there is none.
export const undo = travel('undo');
/// Redoes the last undone change; false when there is none.
export const redo = travel('redo');

// ---- commands basicSetup would get from @codemirror/commands -----------------------------------

function insertNewlineAndIndent({ state, dispatch }) {
  if (state.readOnly) return false;
  dispatch(state.update(state.changeByRange((range) => {
    const line = state.doc.lineAt(range.from);
    let indent = getIndentation(new IndentContext(state, { simulateBreak: range.from }), range.from);
    if (indent == null) indent = /^\s*/.exec(line.text)[0].length;
    // Trailing spaces before the cursor would be left behind on the old line.
    let from = range.from;
    while (from > line.from && line.text[from - line.from - 1] === ' ') --from;
    // After "key:" a block opens: one unit deeper than the key ("  - with:" -> 6 spaces).
    const before = line.text.slice(0, from - line.from);
    if (/:$/.test(before) && !before.includes('#')) {
      indent = Math.max(indent, /^ *(?:- +)*/.exec(before)[0].length + getIndentUnit(state));
    }
    const insert = `\n${indentString(state, indent)}`;
    return { changes: { from, to: range.to, insert }, range: EditorSelection.cursor(from + insert.length) };
  }), { scrollIntoView: true, userEvent: 'input' }));
  return true;
}

function selectedLines(state) {
  const lines = new Set();
  for (const r of state.selection.ranges) {
    const last = state.doc.lineAt(r.to > r.from && state.doc.lineAt(r.to).from === r.to ? r.to - 1 : r.to).number;
    for (let n = state.doc.lineAt(r.from).number; n <= last; ++n) lines.add(n);
  }
  return [...lines].sort((a, b) => a - b).map((n) => state.doc.line(n));
}

function indentMore({ state, dispatch }) {
  if (state.readOnly) return false;
  const unit = state.facet(indentUnit);
  dispatch(state.update({ changes: selectedLines(state).map((l) => ({ from: l.from, insert: unit })),
    userEvent: 'input.indent' }));
  return true;
}

function indentLess({ state, dispatch }) {
  if (state.readOnly) return false;
  const width = getIndentUnit(state);
  const changes = [];
  for (const l of selectedLines(state)) {
    const spaces = /^ */.exec(l.text)[0].length;
    const remove = Math.min(spaces, spaces % width || width);
    if (remove) changes.push({ from: l.from, to: l.from + remove });
  }
  dispatch(state.update({ changes, userEvent: 'delete.dedent' }));
  return true;
}

function selectAll({ state, dispatch }) {
  dispatch(state.update({ selection: EditorSelection.range(0, state.doc.length), userEvent: 'select' }));
  return true;
}

const commandKeymap = [
  { key: 'Enter', run: insertNewlineAndIndent },
  { key: 'Mod-z', run: undo, preventDefault: true },
  { key: 'Mod-y', mac: 'Mod-Shift-z', run: redo, preventDefault: true },
  { linux: 'Ctrl-Shift-z', run: redo, preventDefault: true },
  { key: 'Mod-]', run: indentMore },
  { key: 'Mod-[', run: indentLess },
  { key: 'Mod-a', run: selectAll },
];

/// basicSetup, as far as the installed packages allow (see the top of this file). Tab is left
/// to move focus out of the editor, as in basicSetup, so that keyboard users are not trapped.
export function editorSetup() {
  return [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    historyField,
    foldGutter(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    closeBrackets(),
    rectangularSelection(),
    crosshairCursor(),
    highlightActiveLine(),
    keymap.of([...closeBracketsKeymap, ...commandKeymap, ...foldKeymap, ...lintKeymap]),
  ];
}

// ---- the look ------------------------------------------------------------------------------------

// Colors read the studio's custom properties (style.css) with fallbacks. The lint rules replace
// @codemirror/lint's data: URL icons and underlines (see the top of this file).
const studioTheme = EditorView.theme({
  '&': { flex: '1 1 auto', minHeight: '0', fontSize: '13px', backgroundColor: 'var(--panel, #fff)', color: 'var(--ink, #22211f)' },
  '&.cm-focused': { outline: '2px solid var(--accent, #3b5bdb)', outlineOffset: '-2px' },
  '.cm-scroller': { fontFamily: 'var(--mono, ui-monospace, SFMono-Regular, Menlo, Consolas, monospace)', lineHeight: '1.5' },
  '.cm-gutters': { backgroundColor: 'var(--bg, #f6f5f1)', color: 'var(--muted, #6b6860)', borderRight: '1px solid var(--line, #e2dfd7)' },
  '.cm-activeLine': { backgroundColor: '#3b5bdb0d' },
  '.cm-activeLineGutter': { backgroundColor: '#3b5bdb1a' },
  '.cm-lintRange-error': { backgroundImage: 'none', textDecoration: 'underline wavy #e03131', textDecorationSkipInk: 'none', textUnderlineOffset: '3px' },
  '.cm-lintRange-warning': { backgroundImage: 'none', textDecoration: 'underline wavy #e67700', textDecorationSkipInk: 'none', textUnderlineOffset: '3px' },
  '.cm-lintRange-info': { backgroundImage: 'none', textDecoration: 'underline dotted #868e96', textUnderlineOffset: '3px' },
  '.cm-lintRange-hint': { backgroundImage: 'none', textDecoration: 'underline dotted #5c5fd6', textUnderlineOffset: '3px' },
  '.cm-lint-marker': { content: 'normal', boxSizing: 'border-box', width: '0.8em', height: '0.8em', margin: '0.1em' },
  '.cm-lint-marker-error': { content: 'normal', borderRadius: '50%', backgroundColor: '#e03131' },
  '.cm-lint-marker-warning': { content: 'normal', backgroundColor: '#e67700', clipPath: 'polygon(50% 0, 100% 100%, 0 100%)' },
  '.cm-lint-marker-info': { content: 'normal', backgroundColor: '#868e96' },
  '.cm-diagnostic': { fontFamily: 'system-ui, sans-serif', fontSize: '13px' },
});

// ---- the editor --------------------------------------------------------------------------------

const external = Annotation.define();  // a change made by setText(), not by the person typing

// validate() must not take the editor down: an exception becomes one error on the first line.
function runValidate(validate, text) {
  try {
    const errors = validate(text);
    return Array.isArray(errors) ? errors : [];
  } catch (e) {
    if (Array.isArray(e?.errors) && e.errors.length) return e.errors;
    return [{ code: e?.code ?? 0, name: e?.codeName ?? 'validate_failed', message: String(e?.message ?? e),
      hint: e?.hint ?? '', file: '', line: e?.line ?? 0, column: e?.column ?? 0 }];
  }
}

/// Creates the editor in `parent`, inside the shadow root of a host element appended to it (see
/// the top of this file). validate(text) (synchronous) returns the engine's errors for the text;
/// it runs debounceMs after the last change (and once at start), its errors show as diagnostics
/// and go to onDiagnostics(errors). onChange(text) is called debounceMs after the last change the
/// person made (not after setText). `label` names the editor for screen readers. Returns
/// {view, element, getText(), setText(text), focus(), destroy(), revalidate()}: element is the
/// host; revalidate() validates now and returns the errors (e.g. after the agents changed).
export function createYamlEditor(parent, {
  doc = '', validate, onChange, onDiagnostics, debounceMs = 300, readOnly = false, label = 'Workflow YAML',
} = {}) {
  let changeTimer = null;

  function check(text) {
    const errors = runValidate(validate, text);
    onDiagnostics?.(errors);
    return errors;
  }

  const lint = validate
    ? [
      linter((view) => {
        const text = view.state.doc.toString();
        return errorsToDiagnostics(text, check(text));
      }, { delay: debounceMs }),
      lintGutter(),
    ]
    : [];

  const changes = EditorView.updateListener.of((update) => {
    if (!update.docChanged || !onChange) return;
    if (update.transactions.every((tr) => tr.annotation(external))) return;
    clearTimeout(changeTimer);
    changeTimer = setTimeout(() => {
      changeTimer = null;
      onChange(view.state.doc.toString());
    }, debounceMs);
  });

  const host = document.createElement('div');
  host.className = 'loom-editor';
  host.setAttribute('data-testid', 'yaml-editor');
  parent.append(host);
  const root = host.attachShadow({ mode: 'open' });

  const view = new EditorView({
    parent: root,
    root,
    state: EditorState.create({
      doc: String(doc ?? ''),
      extensions: [
        editorSetup(),
        yaml(),
        EditorState.tabSize.of(2),
        indentUnit.of('  '),
        EditorState.readOnly.of(Boolean(readOnly)),
        EditorView.contentAttributes.of({ 'aria-label': label, ...(readOnly ? { 'aria-readonly': 'true' } : {}) }),
        studioTheme,
        lint,
        changes,
      ],
    }),
  });

  return {
    view,
    element: host,
    getText: () => view.state.doc.toString(),
    setText(text) {
      clearTimeout(changeTimer);
      changeTimer = null;
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: String(text ?? '') },
        selection: EditorSelection.cursor(0),
        annotations: [external.of(true), Transaction.addToHistory.of(false)],
      });
    },
    focus: () => view.focus(),
    revalidate() {
      if (!validate) return [];
      const text = view.state.doc.toString();
      const errors = check(text);
      view.dispatch(setDiagnostics(view.state, errorsToDiagnostics(text, errors)));
      return errors;
    },
    destroy() {
      clearTimeout(changeTimer);
      changeTimer = null;
      view.destroy();
      host.remove();
    },
  };
}

// Exported for the tests of the editor's own commands.
export const commands = { insertNewlineAndIndent, indentMore, indentLess, selectAll };
