// settings_view.js — the model pool (a models file, checked as you type), the API keys (stored
// encrypted, never shown again), "test connection" per model, and this browser's storage.
import { el, errorBlock, errorText, formatCost, formatDuration, formatTokens } from './dom.js';
import { createYamlEditor } from './editor.js';
import { credentialsOf, saveModelPool, TEST_CONNECTION_WORKFLOW } from '../library.js';
import { runWorkflow, performEffect } from '../host.js';

function poolErrors(engine, text) {
  try {
    engine.models(text);
    return [];
  } catch (e) {
    return Array.isArray(e.errors) && e.errors.length ? e.errors : [e];
  }
}

/// One short call to `model` of the pool `yaml`, as a run the engine drives but nothing stores.
/// Resolves {ok, ms, text?, served_by?, usage?, error?}.
export async function testConnection({ engine, vault, fetch = globalThis.fetch.bind(globalThis) }, yaml, model) {
  const started = performance.now();
  try {
    engine.load(TEST_CONNECTION_WORKFLOW.yaml, TEST_CONNECTION_WORKFLOW.name);
    const r = await runWorkflow(engine, {
      workflow: TEST_CONNECTION_WORKFLOW.name,
      inputs: { model },
      options: { models: yaml },
      secrets: (name) => vault.getKey(name),
      perform: (effect, ctx) => performEffect(effect, { ...ctx, fetch }),
    });
    const ms = performance.now() - started;
    if (r.status !== 'succeeded') return { ok: false, ms, error: r.error };
    return { ok: true, ms, ...r.outputs, cost_usd: r.snapshot?.cost_usd ?? 0 };
  } catch (e) {
    return { ok: false, ms: performance.now() - started, error: { name: e.codeName ?? 'error', message: e.message, hint: e.hint } };
  }
}

/// Draws the settings into `root`. Returns {destroy()}.
export async function settingsView(root, ctx) {
  const { engine, storage, vault } = ctx;
  const saved = (await storage.getModels())?.yaml ?? '';
  let pool = null;
  try {
    pool = engine.models(saved);
  } catch {
    pool = null;
  }

  const editorBox = el('div', { cls: 'editor-box small' });
  const problems = el('ol', { cls: 'diagnostics', attrs: { 'data-testid': 'models-diagnostics' } });
  const saveStatus = el('span', { cls: 'save-status', attrs: { 'data-testid': 'models-status', 'aria-live': 'polite' } });
  const saveButton = el('button', { text: 'Save the model pool', attrs: { type: 'button', 'data-testid': 'save-models' } });
  const modelsBody = el('tbody');
  const keysBox = el('div', { cls: 'keys', attrs: { 'data-testid': 'keys' } });
  const storageBox = el('div', { cls: 'storage-facts', attrs: { 'data-testid': 'storage-facts' } });
  const errors = el('div', { cls: 'errors' });

  root.replaceChildren(el('div', { cls: 'settings' }, [
    el('section', { cls: 'panel' }, [
      el('div', { cls: 'panel-head' }, [el('h2', { text: 'Models' }), el('div', { cls: 'actions' }, [saveStatus, saveButton])]),
      el('p', { cls: 'note', text: 'The models your workflows may call, as a models file (see docs/models.md). A local server such as Ollama needs no key and works offline.' }),
      editorBox, problems, errors,
      el('table', { cls: 'models', attrs: { 'data-testid': 'models-table' } }, [
        el('thead', {}, [el('tr', {}, ['name', 'provider', 'model', 'address', 'key', 'price / Mtok', ''].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
        modelsBody,
      ]),
    ]),
    el('section', { cls: 'panel' }, [
      el('h2', { text: 'API keys' }),
      el('p', { cls: 'note', text: 'Keys are encrypted in this browser (docs/security.md). They are sent only to the provider they belong to, and never appear in runs, logs or exports.' }),
      keysBox,
    ]),
    el('section', { cls: 'panel' }, [el('h2', { text: 'Storage' }), storageBox]),
  ]));

  const editor = createYamlEditor(editorBox, {
    doc: saved,
    label: 'Models file',
    validate: (text) => poolErrors(engine, text),
    onDiagnostics: (errs) => {
      problems.replaceChildren(...errs.map((e) => el('li', { cls: 'diagnostic', attrs: { 'data-line': e.line, 'data-code': e.name } }, [
        el('span', { cls: 'where', text: e.line ? `line ${e.line}` : 'file' }),
        el('span', { cls: 'message', text: e.message }),
        e.hint ? el('span', { cls: 'hint', text: e.hint }) : '',
      ])));
      saveButton.disabled = errs.length > 0;
    },
    onChange: (text) => {
      saveStatus.textContent = text === saved ? '' : 'not saved';
    },
  });

  saveButton.addEventListener('click', async () => {
    errors.replaceChildren();
    try {
      const r = await saveModelPool(storage, engine, editor.getText());
      pool = r.pool;
      saveStatus.textContent = 'saved';
      drawModels();
      await drawKeys();
      if (r.originsChanged && navigator.serviceWorker?.controller) {
        // The page may only connect where its policy says; the service worker writes the new
        // policy into the next load of the page.
        saveStatus.textContent = 'saved — reloading to allow the new addresses';
        setTimeout(() => location.reload(), 300);
      } else if (r.originsChanged) {
        saveStatus.textContent = 'saved — reload the page to connect to the new addresses';
      }
    } catch (e) {
      errors.replaceChildren(errorBlock(e));
    }
  });

  async function keyState(m) {
    if (!m.credential?.name) return 'none needed';
    return (await vault.hasKey(m.credential.name)) ? 'saved' : 'missing';
  }

  async function drawModels() {
    const rows = [];
    for (const m of pool?.models ?? []) {
      const result = el('div', { cls: 'test-result', attrs: { 'data-testid': `test-result-${m.name}`, 'aria-live': 'polite' } });
      const button = el('button', { text: 'Test connection', cls: 'secondary small', attrs: { type: 'button', 'data-testid': `test-${m.name}` } });
      button.addEventListener('click', async () => {
        button.disabled = true;
        result.textContent = 'calling…';
        delete result.dataset.ok;
        const r = await testConnection(ctx, editor.getText(), m.name);
        button.disabled = false;
        result.dataset.ok = String(r.ok);
        result.textContent = r.ok
          ? `ok in ${formatDuration(r.ms)} · ${r.served_by ?? m.model} · ${formatTokens(r.usage)}`
          : errorText(r.error);
      });
      rows.push(el('tr', { attrs: { 'data-testid': `model-${m.name}` } }, [
        el('th', { attrs: { scope: 'row' } }, [el('span', { text: m.name }), pool.default === m.name ? el('span', { cls: 'badge', text: 'default' }) : '']),
        el('td', { text: m.provider }),
        el('td', { text: m.model }),
        el('td', { cls: 'address', text: m.base_url }),
        el('td', { text: await keyState(m) }),
        el('td', { text: m.price.input_per_mtok || m.price.output_per_mtok ? `${formatCost(m.price.input_per_mtok)} in · ${formatCost(m.price.output_per_mtok)} out` : '' }),
        el('td', {}, [button, result]),
      ]));
    }
    modelsBody.replaceChildren(...rows);
  }

  async function drawKeys() {
    const needed = credentialsOf(pool);
    const stored = await vault.names();
    const names = [...new Set([...needed.map((c) => c.name), ...stored])].sort();
    if (!names.length) {
      keysBox.replaceChildren(el('p', { cls: 'note', text: 'No model in the pool needs a key.' }));
      return;
    }
    const rows = [];
    for (const name of names) {
      const has = await vault.hasKey(name);
      const usedBy = needed.find((c) => c.name === name)?.models ?? [];
      const input = el('input', { attrs: { type: 'password', id: `key-${name}`, 'data-testid': `key-${name}`, autocomplete: 'off',
        placeholder: has ? 'saved — type to replace' : 'paste the key', spellcheck: 'false' } });
      const state = el('span', { cls: 'key-state', text: has ? 'saved' : 'missing', attrs: { 'data-testid': `key-state-${name}` } });
      const save = el('button', { text: 'Save key', attrs: { type: 'button', 'data-testid': `save-key-${name}` } });
      const remove = el('button', { text: 'Remove', cls: 'secondary small', attrs: { type: 'button', 'data-testid': `remove-key-${name}` } });
      remove.disabled = !has;
      save.addEventListener('click', async () => {
        try {
          await vault.setKey(name, input.value);
          input.value = '';
          state.textContent = 'saved';
          input.placeholder = 'saved — type to replace';
          remove.disabled = false;
          drawModels();
        } catch (e) {
          state.textContent = e.message;  // never contains the key (credentials.js)
        }
      });
      remove.addEventListener('click', async () => {
        await vault.deleteKey(name);
        state.textContent = 'missing';
        remove.disabled = true;
        drawModels();
      });
      rows.push(el('div', { cls: 'key-row' }, [
        el('label', { attrs: { for: `key-${name}` } }, [el('span', { cls: 'label', text: name }),
          el('span', { cls: 'help', text: usedBy.length ? `for ${usedBy.join(', ')}` : 'no model uses it now' })]),
        input, save, remove, state,
      ]));
    }
    keysBox.replaceChildren(...rows);
  }

  async function drawStorage() {
    const est = await storage.estimate().catch(() => null);
    const persisted = await navigator.storage?.persisted?.().catch(() => false);
    const keep = el('button', { text: 'Keep my data when space runs low', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'persist-storage' } });
    keep.disabled = Boolean(persisted);
    keep.addEventListener('click', async () => {
      const ok = await storage.persist();
      keep.disabled = ok;
      facts.textContent = ok ? 'The browser will keep Loom\'s data.' : 'The browser did not agree to keep the data for good; export what matters.';
    });
    const facts = el('p', { cls: 'note', text: persisted ? 'The browser keeps Loom\'s data even when space runs low.' : 'The browser may clear Loom\'s data when the disk is nearly full.' });
    storageBox.replaceChildren(
      el('p', { text: est?.quota ? `${(est.usage / 1e6).toFixed(1)} MB used of ${(est.quota / 1e6).toFixed(0)} MB allowed.` : 'This browser does not say how much space is left.' }),
      facts, keep,
    );
  }

  await drawModels();
  await drawKeys();
  await drawStorage();
  return { destroy: () => editor.destroy() };
}
