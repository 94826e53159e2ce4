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
// Panels (search) and tooltips (lint, completion) are drawn inside the editor, so inside the
// shadow root, and styled by the same sheets.
//
//   const editor = createYamlEditor(panel, {
//     doc: yaml,
//     validate: (text) => engine.validate(text),
//     onDiagnostics: (errors) => showErrorList(errors),   // each item calls jumpTo(editor.view, e.line, e.column)
//     onChange: (text) => save(text),
//   });
//
// The editor is CodeMirror's basicSetup (history, search on Mod-f, the default keymap: Enter
// keeps the indentation, Mod-] and Mod-[ indent and dedent, ...) with YAML and the engine's
// lint. The npm package `codemirror` is pinned to ~6.0.2 in package.json: its versions from
// 6.1 on (6.65.7, ...) are CodeMirror 5 releases, which `^6.0.2` would pick.
import { basicSetup } from 'codemirror';
import { EditorView } from '@codemirror/view';
import { EditorSelection, EditorState, Text } from '@codemirror/state';
import { indentService, indentUnit } from '@codemirror/language';
import { linter, lintGutter, setDiagnostics } from '@codemirror/lint';
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

// ---- the setup ---------------------------------------------------------------------------------

// After "key:" (no comment on the line) a YAML block opens: Enter indents one unit deeper than
// the key ("  - with:" -> 6 spaces), where lang-yaml would keep the key's column. Elsewhere
// (undefined) the syntax tree decides.
const blockAfterKey = indentService.of((cx, pos) => {
  const line = cx.lineAt(pos, -1);
  const before = line.text.slice(0, pos - line.from).trimEnd();
  if (!before.endsWith(':') || before.includes('#')) return undefined;
  return /^ *(?:- +)*/.exec(before)[0].length + cx.unit;
});

/// basicSetup with YAML, two-space indentation and blocks opened after "key:". Tab is left to
/// move focus out of the editor, as in basicSetup, so that keyboard users are not trapped.
export function editorSetup() {
  return [basicSetup, yaml(), EditorState.tabSize.of(2), indentUnit.of('  '), blockAfterKey];
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
  '.cm-panels': { backgroundColor: 'var(--bg, #f6f5f1)', color: 'var(--ink, #22211f)' },
  '.cm-panels-bottom': { borderTop: '1px solid var(--line, #e2dfd7)' },
});

// ---- the editor --------------------------------------------------------------------------------

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
/// host; setText replaces the document and starts the undo history over; revalidate() validates
/// now and returns the errors (e.g. after the agents changed).
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

  const extensions = [
    editorSetup(),
    EditorState.readOnly.of(Boolean(readOnly)),
    EditorView.contentAttributes.of({ 'aria-label': label, ...(readOnly ? { 'aria-readonly': 'true' } : {}) }),
    studioTheme,
    lint,
    changes,
  ];
  const stateOf = (text) => EditorState.create({ doc: String(text ?? ''), extensions });
  const view = new EditorView({ parent: root, root, state: stateOf(doc) });

  return {
    view,
    element: host,
    getText: () => view.state.doc.toString(),
    // A new state, as CodeMirror advises for a new document: the undo history starts over, and
    // no transaction reaches `changes`, so onChange is not called.
    setText(text) {
      clearTimeout(changeTimer);
      changeTimer = null;
      view.setState(stateOf(text));
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

