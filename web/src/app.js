// app.js — the studio page: pick a shipped workflow, fill its inputs, run it in the wasm engine
// with the offline host, watch its events. Text from workflows, inputs and agents is only ever
// set with textContent.
import { loadEngine, EngineError, ErrorCode } from './engine.js';
import { runWorkflow, performEffect } from './host.js';

const $ = (id) => document.getElementById(id);

const state = {
  engine: null,
  workflows: new Map(),  // name -> load() summary plus {file}
  controller: null,       // the running run's AbortController
};

function el(tag, { text, cls, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = text;
  if (cls) node.className = cls;
  for (const [k, v] of Object.entries(attrs ?? {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function preview(value, max = 140) {
  if (value === undefined) return '';
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// ---- errors ----------------------------------------------------------------------------------

function errorBlock(e) {
  const box = el('div', { cls: 'error', attrs: { 'data-testid': 'error' } });
  if (e instanceof EngineError) {
    box.append(el('strong', { text: `error[${e.codeName}] (code ${e.code})` }), ' ', el('span', { text: e.message }));
    if (e.file || e.line) box.append(el('div', { cls: 'where', text: `${e.file || ''}:${e.line}:${e.column}` }));
    if (e.hint) box.append(el('div', { cls: 'hint', text: `hint: ${e.hint}` }));
    if (e.errors.length > 1) {
      const list = el('ul');
      for (const x of e.errors.slice(1)) {
        list.append(el('li', { text: `${x.file || ''}:${x.line}:${x.column}: error[${x.name}]: ${x.message}` }));
      }
      box.append(list);
    }
  } else {
    box.append(el('strong', { text: 'error' }), ' ', el('span', { text: String(e?.message ?? e) }));
  }
  return box;
}

function showError(e) {
  $('errors').append(errorBlock(e));
}

function clearErrors() {
  $('errors').replaceChildren();
}

// ---- loading the shipped workflows -----------------------------------------------------------

function isUnknownWorkflow(e) {
  return e instanceof EngineError &&
    (e.code === ErrorCode.UNKNOWN_WORKFLOW || e.errors.some((x) => x.code === ErrorCode.UNKNOWN_WORKFLOW));
}

// Loads every workflow; one that calls a workflow not loaded yet is tried again after the others.
function loadAll(engine, index) {
  let pending = index;
  const failed = new Map();
  while (pending.length) {
    const retry = [];
    for (const w of pending) {
      try {
        const summary = engine.load(w.yaml, w.file);
        state.workflows.set(summary.name, { ...summary, file: w.file });
        failed.delete(w.file);
      } catch (e) {
        failed.set(w.file, e);
        if (isUnknownWorkflow(e)) retry.push(w);
      }
    }
    if (retry.length === pending.length) break;  // no progress: the callee is really missing
    pending = retry;
  }
  return failed;
}

// ---- the inputs form -------------------------------------------------------------------------

function inputControl(input) {
  const id = `input-${input.name}`;
  let control;
  if (input.type === 'boolean') {
    control = el('input', { attrs: { type: 'checkbox', id, 'data-testid': id } });
    control.checked = input.default === true;
  } else if (input.type === 'number') {
    control = el('input', { attrs: { type: 'number', step: 'any', id, 'data-testid': id } });
    if (input.default != null) control.value = String(input.default);
  } else {
    const json = input.type !== 'string';
    control = el('textarea', { attrs: { id, 'data-testid': id, rows: json ? '3' : input.name === 'document' ? '8' : '3' } });
    if (json) control.placeholder = input.type === 'list' ? '["one", "two"]' : input.type === 'object' ? '{"key": "value"}' : 'JSON';
    if (input.default != null) control.value = json ? JSON.stringify(input.default) : String(input.default);
  }
  control.dataset.type = input.type;
  control.dataset.name = input.name;
  return control;
}

function renderForm(summary) {
  const box = $('inputs');
  box.replaceChildren();
  if (!summary.inputs.length) box.append(el('p', { cls: 'note', text: 'This workflow takes no inputs.' }));
  for (const input of summary.inputs) {
    const label = el('label', { cls: 'field', attrs: { for: `input-${input.name}` } }, [
      el('span', { cls: 'label', text: input.name }),
      el('span', { cls: 'type', text: `${input.type}${input.required ? ', required' : ''}` }),
    ]);
    if (input.description) label.append(el('span', { cls: 'help', text: input.description }));
    const row = el('div', { cls: input.type === 'boolean' ? 'input boolean' : 'input' }, [label, inputControl(input)]);
    box.append(row);
  }
}

// Empty optional fields are left out so the workflow's default applies; a required one left
// empty is left out too, and the engine says which input is missing.
function collectInputs() {
  const inputs = {};
  for (const c of $('inputs').querySelectorAll('[data-name]')) {
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
        throw new Error(`input '${name}' is not valid JSON: ${e.message}`);
      }
    }
  }
  return inputs;
}

// ---- steps and events ------------------------------------------------------------------------

const stepRows = new Map();  // step path -> {row, cells, items, done}

function stepRow(path, agent = '') {
  let s = stepRows.get(path);
  if (s) return s;
  const cells = {
    step: el('td', { text: path }),
    agent: el('td', { cls: 'agent', text: agent }),
    status: el('td', { cls: 'st', text: 'pending' }),
    attempts: el('td', { cls: 'num', text: '' }),
    detail: el('td', { cls: 'detail', text: '' }),
  };
  const row = el('tr', { attrs: { 'data-step': path, 'data-status': 'pending' } }, Object.values(cells));
  $('step-rows').append(row);
  s = { row, cells, items: 0, done: 0 };
  stepRows.set(path, s);
  return s;
}

function setStepStatus(s, status, detail) {
  s.row.dataset.status = status;
  s.cells.status.textContent = status;
  if (detail !== undefined) s.cells.detail.textContent = detail;
}

function resetSteps(summary) {
  stepRows.clear();
  $('step-rows').replaceChildren();
  for (const st of summary.steps) stepRow(st.id, st.agent);
}

function errorText(error) {
  if (!error) return '';
  return `${error.code ?? ''}${error.message ? `: ${error.message}` : ''}`;
}

function eventDetail(e) {
  switch (e.type) {
    case 'run_started': return `${e.workflow} · version ${String(e.version ?? '').slice(0, 8)}`;
    case 'step_scheduled': return e.items != null ? `${e.items} items` : '';
    case 'step_started': return `attempt ${e.attempt ?? 1}${e.effect ? ` · effect ${e.effect}` : ''}`;
    case 'step_output_delta': return preview(e.delta);
    case 'step_succeeded':
      return `${e.cached ? 'cached · ' : ''}${e.output !== undefined ? preview(e.output) : e.items != null ? `${e.items} items` : ''}`;
    case 'step_failed': return errorText(e.error);
    case 'step_retrying': return `${errorText(e.error)} · retry in ${e.delay_ms} ms`;
    case 'step_skipped': return e.reason ?? '';
    case 'loop_iteration': return `iteration ${e.iteration}`;
    case 'run_paused': return `waiting for ${e.step ?? 'a person'}`;
    case 'run_succeeded': return `outputs: ${Object.keys(e.outputs ?? {}).join(', ')}`;
    case 'run_failed': return `${errorText(e.error)}${e.step ? ` (step ${e.step})` : ''}`;
    case 'run_cancelled': return e.reason ?? '';
    default: return '';
  }
}

function applyToSteps(e) {
  if (!e.step) return;
  const s = stepRow(e.step);
  const isItem = e.item != null;
  switch (e.type) {
    case 'step_scheduled':
      if (e.items != null) s.items = e.items;
      setStepStatus(s, 'scheduled', e.items != null ? `0/${e.items} items` : '');
      break;
    case 'step_started':
      if (!isItem || s.row.dataset.status !== 'running') setStepStatus(s, 'running');
      s.cells.attempts.textContent = String(Math.max(Number(s.cells.attempts.textContent) || 0, e.attempt ?? 1));
      break;
    case 'step_succeeded':
      if (isItem) {
        s.done += 1;
        s.cells.detail.textContent = `${s.done}/${s.items || '?'} items`;
      } else {
        setStepStatus(s, 'succeeded', `${e.cached ? 'cached · ' : ''}${e.output !== undefined ? preview(e.output, 80) : s.cells.detail.textContent}`);
      }
      break;
    case 'step_failed':
      setStepStatus(s, 'failed', `${isItem ? `item ${e.item}: ` : ''}${errorText(e.error)}`);
      break;
    case 'step_retrying':
      setStepStatus(s, 'retrying', `${errorText(e.error)} · retry in ${e.delay_ms} ms`);
      break;
    case 'step_skipped':
      setStepStatus(s, 'skipped', e.reason ?? '');
      break;
    case 'loop_iteration':
      s.cells.detail.textContent = `iteration ${e.iteration}`;
      break;
    default:
      break;
  }
}

let eventCount = 0;

function showEvents(events) {
  const list = $('event-list');
  const batch = document.createDocumentFragment();
  for (const e of events) {
    const step = e.step ? `${e.step}${e.item != null ? `[${e.item}]` : ''}` : '';
    batch.append(el('li', { cls: `ev ${e.type}`, attrs: { 'data-type': e.type, 'data-seq': String(e.seq) } }, [
      el('span', { cls: 'seq', text: String(e.seq) }),
      el('span', { cls: 'type', text: e.type }),
      el('span', { cls: 'step', text: step }),
      el('span', { cls: 'detail', text: eventDetail(e) }),
    ]));
    applyToSteps(e);
  }
  list.append(batch);
  eventCount += events.length;
  $('event-count').textContent = `(${eventCount})`;
  list.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
}

function showOutputs(outputs) {
  const box = $('outputs');
  box.replaceChildren();
  for (const [k, v] of Object.entries(outputs ?? {})) {
    box.append(el('div', { cls: 'output', attrs: { 'data-output': k } }, [
      el('h3', { text: k }),
      el('pre', { text: typeof v === 'string' ? v : JSON.stringify(v, null, 2) }),
    ]));
  }
}

function setStatus(status) {
  const s = $('run-status');
  s.textContent = status;
  s.dataset.status = status;
}

// ---- running ---------------------------------------------------------------------------------

function selected() {
  return state.workflows.get($('workflow-select').value);
}

function selectWorkflow(name) {
  const summary = state.workflows.get(name);
  if (!summary) return;
  $('workflow-select').value = name;
  $('workflow-description').textContent = summary.description || '';
  $('workflow-steps').textContent = `${summary.file} · ${summary.steps.length} steps: ` +
    summary.steps.map((s) => (s.needs.length ? `${s.id} ← ${s.needs.join(', ')}` : s.id)).join(' · ');
  renderForm(summary);
  resetSteps(summary);
  $('outputs').replaceChildren();
  $('event-list').replaceChildren();
  eventCount = 0;
  $('event-count').textContent = '';
  setStatus('idle');
  clearErrors();
}

async function run(event) {
  event.preventDefault();
  const summary = selected();
  if (!summary || state.controller) return;
  clearErrors();
  let inputs;
  try {
    inputs = collectInputs();
  } catch (e) {
    showError(e);
    return;
  }
  resetSteps(summary);
  $('outputs').replaceChildren();
  $('event-list').replaceChildren();
  eventCount = 0;
  state.controller = new AbortController();
  $('run-button').disabled = true;
  $('cancel-button').disabled = false;
  $('workflow-select').disabled = true;
  setStatus('running');
  try {
    const result = await runWorkflow(state.engine, {
      workflow: summary.name,
      inputs,
      options: { run_id: `studio-${Date.now()}` },
      perform: performEffect,
      onEvents: showEvents,
      signal: state.controller.signal,
    });
    showOutputs(result.outputs);
    if (result.error) showError(new EngineError(result.error.code, result.error.message, result.error));
    setStatus(result.status);
  } catch (e) {
    showError(e);
    setStatus('error');
  } finally {
    state.controller = null;
    $('run-button').disabled = false;
    $('cancel-button').disabled = true;
    $('workflow-select').disabled = false;
  }
}

async function main() {
  let index;
  try {
    state.engine = await loadEngine();
    $('engine-status').textContent = `engine ${state.engine.version()} (wasm)`;
    const r = await fetch('/workflows/index.json');
    if (!r.ok) throw new Error(`cannot list the workflows: HTTP ${r.status}`);
    index = await r.json();
  } catch (e) {
    $('engine-status').textContent = 'the engine did not load';
    showError(e);
    document.body.dataset.ready = 'false';
    return;
  }
  const failed = loadAll(state.engine, index);
  if (failed.size) {
    const notes = $('load-notes');
    notes.append(el('p', { text: `${failed.size} workflow file(s) did not load:` }));
    for (const e of failed.values()) notes.append(errorBlock(e));
  }
  const select = $('workflow-select');
  const names = [...state.workflows.keys()].sort();
  for (const name of names) {
    select.append(el('option', { text: name, attrs: { value: name } }));
  }
  select.disabled = false;
  select.addEventListener('change', () => selectWorkflow(select.value));
  $('inputs-form').addEventListener('submit', run);
  $('cancel-button').addEventListener('click', () => state.controller?.abort());
  $('run-button').disabled = names.length === 0;
  selectWorkflow(state.workflows.has('ingestion_digest') ? 'ingestion_digest' : names[0]);
  document.body.dataset.ready = 'true';
}

main();
