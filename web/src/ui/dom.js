// dom.js — the few DOM helpers every view uses. Text goes in with textContent only: workflow
// text, model output and error messages are never parsed as HTML.
import { EngineError, errorCodeName } from '../engine.js';

/// el('div', {text, cls, attrs, on: {click: fn}}, [children]) -> the element.
export function el(tag, { text, cls, attrs, on } = {}, children = []) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = String(text);
  if (cls) node.className = cls;
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === false || v == null) continue;
    node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const [k, fn] of Object.entries(on ?? {})) node.addEventListener(k, fn);
  for (const c of children) if (c != null && c !== false) node.append(c);
  return node;
}

/// A one-line preview of any value.
export function preview(value, max = 140) {
  if (value === undefined || value === null) return '';
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function formatDuration(ms) {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatCost(usd) {
  if (!usd) return usd === 0 ? '$0' : '';
  if (usd < 0.01) return `$${usd.toFixed(6).replace(/0+$/, '')}`;
  return `$${usd.toFixed(4)}`;
}

/// Dollars as a writer reads a spend: cents ("$0.42", "$0.00"), or 4 decimals under a cent.
export function formatDollars(usd) {
  const v = usd ?? 0;
  return v >= 0.01 || v === 0 ? `$${v.toFixed(2)}` : `$${v.toFixed(4)}`;
}

/// An SVG element with `attrs` (and text); charts build their shapes with it.
export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

export function formatTokens(usage) {
  if (!usage) return '';
  const i = usage.input_tokens ?? 0;
  const o = usage.output_tokens ?? 0;
  if (!i && !o) return '';
  return `${i.toLocaleString('en')} in · ${o.toLocaleString('en')} out`;
}

export function formatTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

/// An error for a person: what happened, where (file:line:column), how to fix it.
export function errorBlock(e, { testid = 'error' } = {}) {
  const box = el('div', { cls: 'error', attrs: { 'data-testid': testid, role: 'alert' } });
  let code = null;
  if (e instanceof EngineError) code = e.codeName;
  else if (typeof e?.code === 'string') code = e.code;  // StorageError's codes: quota_exceeded, blocked, ...
  else if (e?.name && e.name !== 'Error') code = e.name;
  box.append(el('strong', { text: code ? `${code}: ` : 'error: ' }), el('span', { text: String(e?.message ?? e) }));
  if (e?.line) box.append(el('div', { cls: 'where', text: `${e.file || ''}:${e.line}:${e.column ?? 0}` }));
  if (e?.hint) box.append(el('div', { cls: 'hint', text: e.hint }));
  const more = Array.isArray(e?.errors) ? e.errors.slice(1) : [];
  if (more.length) {
    box.append(el('ul', {}, more.map((x) => el('li', { text: `${x.line ? `line ${x.line}: ` : ''}${x.message}${x.hint ? ` (${x.hint})` : ''}` }))));
  }
  return box;
}

/// The name of an engine error object: events and snapshots spell the code ("bad_request"), the
/// bindings' results give a number and a name.
export function errorName(error) {
  if (!error) return '';
  if (typeof error.name === 'string' && error.name) return error.name;
  if (typeof error.code === 'string') return error.code;
  return errorCodeName(error.code) ?? 'error';
}

/// The text of an engine error object {code, name, message, hint}.
export function errorText(error) {
  if (!error) return '';
  const name = errorName(error);
  return `${name}${error.message ? `: ${error.message}` : ''}${error.hint ? ` (${error.hint})` : ''}`;
}

/// The notice asking the writer to allow `origin` (web/src/sites.js): a line saying why and what
/// happens, and a button that allows it and reloads the page. `testid` names the notice; its
/// button is `${testid}-button`.
export function allowSiteNotice(origin, { testid, onAllow }) {
  return el('div', { cls: 'news', attrs: { 'data-testid': testid } }, [
    el('span', { text: `Loom may only connect to sites you allow. Allow it to read pages from ${origin}? The page reloads; then add the address again.` }),
    el('button', { text: `Allow ${origin}`, attrs: { type: 'button', 'data-testid': `${testid}-button` }, on: { click: async () => {
      await onAllow();
      location.reload();
    } } }),
  ]);
}
