// run_form.js — a form generated from a workflow's inputs (its summary from engine.load()).
import { el } from './dom.js';

const LONG_TEXT = /text|document|outline|prompt|manuscript|scene|passage|notes/i;

function control(input, saved) {
  const id = `input-${input.name}`;
  const value = saved !== undefined ? saved : input.default;
  let c;
  if (input.type === 'boolean') {
    c = el('input', { attrs: { type: 'checkbox', id, 'data-testid': id } });
    c.checked = value === true;
  } else if (input.type === 'number') {
    c = el('input', { attrs: { type: 'number', step: 'any', id, 'data-testid': id } });
    if (value != null) c.value = String(value);
  } else if (input.type === 'string' && !LONG_TEXT.test(input.name)) {
    c = el('input', { attrs: { type: 'text', id, 'data-testid': id, autocomplete: 'off', spellcheck: 'false' } });
    if (value != null) c.value = String(value);
  } else {
    const json = input.type !== 'string';
    c = el('textarea', { attrs: { id, 'data-testid': id, rows: json ? '3' : '6' } });
    if (json) c.placeholder = input.type === 'list' ? '["one", "two"]' : '{"key": "value"}';
    if (value != null) c.value = json ? JSON.stringify(value) : String(value);
  }
  c.dataset.type = input.type;
  c.dataset.name = input.name;
  return c;
}

/// The inputs of `summary` as labelled controls in a <div>; `saved` pre-fills them (the last
/// values the writer used). Read them back with readInputs(div).
export function inputFields(summary, saved = {}) {
  const box = el('div', { cls: 'inputs' });
  if (!summary.inputs.length) box.append(el('p', { cls: 'note', text: 'This workflow takes no inputs.' }));
  for (const input of summary.inputs) {
    const label = el('label', { cls: 'field', attrs: { for: `input-${input.name}` } }, [
      el('span', { cls: 'label', text: input.name }),
      el('span', { cls: 'type', text: `${input.type}${input.required ? ', required' : ''}` }),
    ]);
    if (input.description) label.append(el('span', { cls: 'help', text: input.description }));
    box.append(el('div', { cls: input.type === 'boolean' ? 'input boolean' : 'input' }, [label, control(input, saved[input.name])]));
  }
  return box;
}

/// The values of inputFields(). Empty optional fields are left out so the workflow's default
/// applies; a required one left empty is left out too, and the engine names it. Throws an Error
/// naming the input when a list/object field is not JSON.
export function readInputs(box) {
  const inputs = {};
  for (const c of box.querySelectorAll('[data-name]')) {
    const { name, type } = c.dataset;
    if (type === 'boolean') {
      inputs[name] = c.checked;
    } else if (type === 'number') {
      if (c.value !== '') inputs[name] = Number(c.value);
    } else if (type === 'string') {
      if (c.value !== '') inputs[name] = c.value;
    } else if (c.value.trim() !== '') {
      try {
        inputs[name] = JSON.parse(c.value);
      } catch (e) {
        throw Object.assign(new Error(`input '${name}' is not valid JSON: ${e.message}`), { code: 'input_type' });
      }
    }
  }
  return inputs;
}
