// workflows_view.js — the workflow library: the list, a YAML editor that shows the engine's
// errors at their lines as you type and saves as you go, and a run form built from the inputs.
import { el, errorBlock, preview } from './dom.js';
import { createYamlEditor, jumpTo } from './editor.js';
import { inputFields, readInputs } from './run_form.js';
import { workflowTemplate } from '../library.js';

const AUTOSAVE_MS = 500;

function summaryOf(engine, yaml, file) {
  try {
    return engine.load(yaml, file);
  } catch {
    return null;
  }
}

/// Draws the workflows view into `root`. `ctx` is the studio: {engine, storage, runs, navigate,
/// notify, modelsYaml()}. `selectedName` opens that workflow. Returns {destroy()}, which saves
/// an edit not yet saved.
export async function workflowsView(root, ctx, selectedName) {
  const { engine, storage } = ctx;
  let records = await storage.listWorkflows();
  let current = records.find((w) => w.name === selectedName) ?? null;
  let editor = null;
  let savedText = current?.yaml ?? '';
  let saveTimer = null;
  let summary = null;
  let destroyed = false;

  const list = el('ul', { cls: 'workflow-list', attrs: { 'data-testid': 'workflow-list', role: 'list' } });
  const side = el('nav', { cls: 'panel side', attrs: { 'aria-label': 'Workflows' } }, [
    el('div', { cls: 'panel-head' }, [
      el('h2', { text: 'Workflows' }),
      el('button', { text: 'New', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'new-workflow' }, on: { click: createWorkflow } }),
    ]),
    list,
  ]);
  const main = el('section', { cls: 'panel main', attrs: { 'aria-live': 'polite' } });
  root.replaceChildren(el('div', { cls: 'split' }, [side, main]));

  function drawList() {
    list.replaceChildren(...records.map((w) => {
      const s = summaryOf(engine, w.yaml, w.file ?? w.name);
      const item = el('li', {}, [
        el('a', {
          cls: `workflow-item${current?.name === w.name ? ' selected' : ''}`,
          attrs: { href: `#/workflows/${encodeURIComponent(w.name)}`, 'data-testid': `workflow-item-${w.name}`,
            'aria-current': current?.name === w.name ? 'page' : null },
        }, [
          el('span', { cls: 'name', text: w.name }),
          el('span', { cls: `badge ${w.source === 'user' ? 'user' : 'shipped'}`, text: w.source === 'user' ? (w.file ? 'edited' : 'yours') : 'shipped' }),
          s ? el('span', { cls: 'help', text: preview(s.description, 90) }) : el('span', { cls: 'help bad', text: 'has errors' }),
        ]),
      ]);
      return item;
    }));
  }

  async function createWorkflow() {
    let n = 1;
    const names = new Set(records.map((w) => w.name));
    while (names.has(`my_workflow_${n}`)) n += 1;
    const name = `my_workflow_${n}`;
    try {
      await storage.putWorkflow({ name, yaml: workflowTemplate(name), source: 'user' });
    } catch (e) {
      ctx.notify(e);
      return;
    }
    ctx.navigate(`#/workflows/${encodeURIComponent(name)}`);
  }

  // A copy of the workflow under a free name ("scene_generation_2"): the writer's own version to
  // edit, which a project can then use instead of the shipped one (the Manuscript view's outline).
  async function copyWorkflow() {
    await save();
    const names = new Set(records.map((w) => w.name));
    let n = 2;
    while (names.has(`${current.name}_${n}`)) n += 1;
    const name = `${current.name}_${n}`;
    const text = editor ? editor.getText() : current.yaml;
    const yaml = /^name:.*$/m.test(text) ? text.replace(/^name:.*$/m, `name: ${name}`) : `name: ${name}\n${text}`;
    try {
      await storage.putWorkflow({ name, yaml, source: 'user' });
    } catch (e) {
      ctx.notify(e);
      return;
    }
    ctx.navigate(`#/workflows/${encodeURIComponent(name)}`);
  }

  // Saves the editor's text under the workflow's key; a text whose (valid) name changed renames
  // the workflow when the new name is free.
  async function save() {
    clearTimeout(saveTimer);
    saveTimer = null;
    if (!current || !editor) return;
    const yaml = editor.getText();
    if (yaml === savedText) {
      // An earlier save, finishing late, already stored this very text.
      if (!destroyed) status.textContent = 'saved';
      return;
    }
    const s = summaryOf(engine, yaml, current.name);
    try {
      if (s && s.name !== current.name && !records.some((w) => w.name === s.name)) {
        await storage.putWorkflow({ ...current, name: s.name, yaml, source: 'user' });
        await storage.deleteWorkflow(current.name);
        current = { ...current, name: s.name, yaml, source: 'user' };
        if (!destroyed) history.replaceState(null, '', `#/workflows/${encodeURIComponent(s.name)}`);
      } else {
        await storage.putWorkflow({ ...current, yaml, source: 'user' });
        current = { ...current, yaml, source: 'user' };
      }
      savedText = yaml;
      if (!destroyed) {
        records = await storage.listWorkflows();
        drawList();
        status.textContent = 'saved';
      }
    } catch (e) {
      // Nothing is lost: the text stays in the editor, and the next change tries again.
      if (!destroyed) status.textContent = 'not saved';
      ctx.notify(e);
    }
  }

  const status = el('span', { cls: 'save-status', attrs: { 'data-testid': 'save-status', 'aria-live': 'polite' } });
  drawList();

  if (!current) {
    main.append(el('h2', { text: 'Choose a workflow' }),
      el('p', { cls: 'note', text: records.length ? 'Pick one on the left to edit and run it, or make a new one.' : 'No workflows yet: make a new one.' }));
    return { destroy() { destroyed = true; } };
  }

  const diagnostics = el('ol', { cls: 'diagnostics', attrs: { 'data-testid': 'diagnostics', 'aria-label': 'Problems' } });
  const formBox = el('div', { cls: 'run-form-box' });
  const formErrors = el('div', { cls: 'errors', attrs: { 'data-testid': 'run-errors' } });
  const budget = el('input', { attrs: { type: 'number', min: '0', step: '0.01', id: 'budget-usd', 'data-testid': 'budget-usd', placeholder: 'no limit' } });
  const runButton = el('button', { text: 'Run', attrs: { type: 'submit', 'data-testid': 'run-button' } });
  const form = el('form', { cls: 'run-form', attrs: { 'data-testid': 'run-form', novalidate: true } }, [
    el('h3', { text: 'Run' }),
    formBox,
    el('div', { cls: 'input' }, [
      el('label', { cls: 'field', attrs: { for: 'budget-usd' } }, [
        el('span', { cls: 'label', text: 'budget' }),
        el('span', { cls: 'help', text: 'US dollars this run may spend on model calls' }),
      ]),
      budget,
    ]),
    el('div', { cls: 'actions' }, [runButton]),
    formErrors,
  ]);
  const lastInputs = (await storage.getSetting(`inputs:${current.name}`, null)) ?? {};

  function showForm() {
    summary = summaryOf(engine, editor.getText(), current.name);
    runButton.disabled = !summary;
    if (summary) {
      formBox.replaceChildren(
        summary.description ? el('p', { cls: 'description', text: summary.description }) : '',
        inputFields(summary, lastInputs),
      );
    } else {
      formBox.replaceChildren(el('p', { cls: 'note', text: 'Fix the problems above to run this workflow.' }));
    }
  }

  function showDiagnostics(errors) {
    diagnostics.replaceChildren(...errors.map((e) => el('li', {
      cls: 'diagnostic', attrs: { 'data-line': e.line, 'data-code': e.name, tabindex: '0' },
      on: {
        click: () => jumpTo(editor.view, e.line, e.column),
        keydown: (ev) => ev.key === 'Enter' && jumpTo(editor.view, e.line, e.column),
      },
    }, [
      el('span', { cls: 'where', text: e.line ? `line ${e.line}${e.column ? `:${e.column}` : ''}` : 'file' }),
      el('span', { cls: 'code', text: e.name }),
      el('span', { cls: 'message', text: e.message }),
      e.hint ? el('span', { cls: 'hint', text: e.hint }) : '',
    ])));
    diagnostics.dataset.count = String(errors.length);
    const ok = errors.length === 0;
    valid.textContent = ok ? 'valid' : `${errors.length} problem${errors.length === 1 ? '' : 's'}`;
    valid.className = `validity ${ok ? 'ok' : 'bad'}`;
    if (editor) showForm();
  }

  const valid = el('span', { cls: 'validity', attrs: { 'data-testid': 'validity' } });
  const editorBox = el('div', { cls: 'editor-box' });
  const actions = el('div', { cls: 'actions' }, [
    valid, status,
    el('button', { text: 'Make a copy', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'copy-workflow' }, on: { click: copyWorkflow } }),
    current.source === 'user' && current.file
      ? el('button', { text: 'Restore shipped version', cls: 'secondary', attrs: { type: 'button' }, on: { click: restoreShipped } })
      : '',
    current.source === 'user' && !current.file
      ? el('button', { text: 'Delete', cls: 'secondary danger', attrs: { type: 'button', 'data-testid': 'delete-workflow' }, on: { click: remove } })
      : '',
  ]);
  main.append(
    el('div', { cls: 'panel-head' }, [el('h2', { text: current.name, attrs: { 'data-testid': 'workflow-title' } }), actions]),
    editorBox, diagnostics, form,
  );

  editor = createYamlEditor(editorBox, {
    doc: current.yaml,
    validate: (text) => engine.validate(text, current.name),
    onDiagnostics: showDiagnostics,
    onChange: () => {
      status.textContent = 'editing…';
      clearTimeout(saveTimer);
      saveTimer = setTimeout(save, AUTOSAVE_MS);
    },
  });
  showForm();

  async function restoreShipped() {
    try {
      const index = await (await fetch('/workflows/index.json')).json();
      const shipped = index.find((w) => w.file === current.file);
      if (!shipped) throw new Error(`${current.file} is not shipped any more`);
      editor.setText(shipped.yaml);
      await storage.putWorkflow({ ...current, yaml: shipped.yaml, source: 'shipped' });
      savedText = shipped.yaml;
      current = { ...current, yaml: shipped.yaml, source: 'shipped' };
      editor.revalidate();
      records = await storage.listWorkflows();
      drawList();
    } catch (e) {
      ctx.notify(e);
    }
  }

  async function remove() {
    if (!confirm(`Delete the workflow ${current.name}? Its runs stay in History.`)) return;
    try {
      await storage.deleteWorkflow(current.name);
      ctx.navigate('#/workflows');
    } catch (e) {
      ctx.notify(e);
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formErrors.replaceChildren();
    await save();
    const yaml = editor.getText();
    try {
      const s = engine.load(yaml, current.name);
      const inputs = readInputs(formBox);
      const usd = budget.value === '' ? 0 : Number(budget.value);
      runButton.disabled = true;
      const id = await ctx.runs.start({
        workflow: { name: s.name, yaml }, inputs, models: await ctx.modelsYaml(),
        budget: usd > 0 ? { max_cost_usd: usd } : undefined,
      });
      storage.putSetting(`inputs:${s.name}`, inputs).catch(() => {});
      ctx.navigate(`#/runs/${id}`);
    } catch (e) {
      runButton.disabled = false;
      formErrors.replaceChildren(errorBlock(e, { testid: 'run-error' }));
    }
  });

  const flush = () => { save(); };
  window.addEventListener('pagehide', flush);
  return {
    destroy() {
      window.removeEventListener('pagehide', flush);
      const pending = editor && editor.getText() !== savedText;
      const done = pending ? save() : Promise.resolve();
      destroyed = true;
      done.finally(() => editor?.destroy());
    },
  };
}
