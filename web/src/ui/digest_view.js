// digest_view.js — the Digest panel: PDFs, e-mails, text files and web pages, each digested by a
// run (a model when one is chosen, the offline summary otherwise), followed live, and filed into
// the knowledge base with where it came from. The logic is web/src/digest.js.
import { allowSiteNotice, el, errorBlock } from './dom.js';
import { CATEGORIES } from '../knowledge.js';
import { createDigester, sourceName } from '../digest.js';
import { allowSite, siteAllowed } from '../sites.js';
import { ACCEPT } from '../extract/index.js';
const STAGES = { reading: 'reading…', starting: 'starting the run…', running: 'digesting…', done: 'done', failed: 'failed' };

// The sources picked but not yet digested, kept for the page's life (a redraw keeps them).
const queued = [];

function field(label, control) {
  return el('label', { cls: 'field' }, [el('span', { cls: 'label', text: label }), control]);
}

/// Draws the Digest panel into `root`. Returns {destroy()}.
export async function digestView(root, ctx) {
  const { storage, knowledge } = ctx;
  const digester = createDigester({ engine: ctx.engine, storage, vault: ctx.vault, runs: ctx.runs, knowledge });
  let destroyed = false;
  const mine = new Set();  // the runs of the digests shown under 'This time'

  const fileInput = el('input', { attrs: { type: 'file', multiple: true, accept: ACCEPT, hidden: true, 'data-testid': 'digest-files' } });
  const drop = el('div', { cls: 'digest-drop', attrs: { 'data-testid': 'digest-drop' } }, [
    el('span', { text: 'Drop PDFs, e-mails (.eml) or text files here, or ' }),
    el('button', { text: 'choose files…', cls: 'secondary small', attrs: { type: 'button' }, on: { click: () => fileInput.click() } }),
    fileInput,
  ]);
  const urlInput = el('input', { attrs: { type: 'url', placeholder: 'https://…', 'data-testid': 'digest-url', 'aria-label': 'Address of a web page to digest' } });
  const sourceList = el('ul', { cls: 'digest-sources', attrs: { 'data-testid': 'digest-sources' } });
  const modelSelect = el('select', { attrs: { 'data-testid': 'digest-model', 'aria-label': 'Who writes the digest' } });
  const modelWhy = el('p', { cls: 'note', attrs: { 'data-testid': 'digest-model-why', 'aria-live': 'polite' } });
  const formErrors = el('div', { cls: 'errors', attrs: { 'data-testid': 'digest-form-errors' } });
  const runButton = el('button', { text: 'Digest', attrs: { type: 'button', 'data-testid': 'digest-run' }, on: { click: run } });
  let controller = null;  // while digesting: cancels the reading and the runs
  const cancelButton = el('button', { text: 'Cancel', cls: 'secondary danger', attrs: { type: 'button', hidden: true, 'data-testid': 'digest-cancel' },
    on: { click: () => controller?.abort() } });
  const progress = el('ol', { cls: 'digest-results', attrs: { 'data-testid': 'digest-progress', 'aria-live': 'polite' } });
  const recentList = el('ol', { cls: 'digest-results', attrs: { 'data-testid': 'digest-recent' } });

  root.replaceChildren(el('div', { cls: 'digest' }, [
    el('section', { cls: 'panel' }, [
      el('h2', { text: 'Digest' }),
      el('p', { cls: 'note', text: 'Turn research — PDFs, e-mails, web pages — into short digests, and file the ones you want into the knowledge base.' }),
      drop,
      el('div', { cls: 'actions' }, [
        urlInput,
        el('button', { text: 'Add the page', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'digest-add-url' }, on: { click: addUrl } }),
      ]),
      sourceList,
      el('div', { cls: 'actions' }, [field('written by', modelSelect), runButton, cancelButton]),
      modelWhy,
      formErrors,
    ]),
    el('section', { cls: 'panel', attrs: { hidden: true } }, [el('h2', { text: 'This time' }), progress]),
    el('section', { cls: 'panel' }, [el('h2', { text: 'Earlier digests' }), recentList]),
  ]));

  function drawSources() {
    sourceList.replaceChildren(...queued.map((s, i) => el('li', { attrs: { 'data-testid': 'digest-source' } }, [
      el('span', { text: sourceName(s) }),
      el('button', { text: 'Remove', cls: 'secondary small', attrs: { type: 'button', 'aria-label': `Remove ${sourceName(s)}` },
        on: { click: () => { queued.splice(i, 1); drawSources(); } } }),
    ])));
    runButton.disabled = !queued.length;
  }

  function addFiles(files) {
    queued.push(...files);
    drawSources();
  }
  fileInput.addEventListener('change', () => {
    addFiles([...fileInput.files]);
    fileInput.value = '';
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    addFiles([...(e.dataTransfer?.files ?? [])]);
  });

  // An address is queued once the page may read its site; otherwise the writer is asked to allow
  // it (the page reloads under the new connection policy, as in the Knowledge panel).
  async function addUrl() {
    formErrors.replaceChildren();
    const url = urlInput.value.trim();
    if (!url) return;
    let allowed;
    try {
      allowed = !navigator.serviceWorker?.controller || await siteAllowed(storage, url);
    } catch {
      allowed = true;  // not an address: digest() reports it with its code (bad_url)
    }
    if (!allowed) {
      const origin = new URL(url).origin;
      formErrors.replaceChildren(allowSiteNotice(origin, { testid: 'digest-allow', onAllow: () => allowSite(storage, url) }));
      return;
    }
    queued.push(url);
    urlInput.value = '';
    drawSources();
  }

  // A digest's card: its title and source, the digest and key phrases, the run, and filing.
  function resultCard(result, card = el('li', { cls: 'digest-item' })) {
    card.dataset.state = result.ok ? 'done' : 'failed';
    const head = el('div', { cls: 'panel-head' }, [
      el('h3', { text: result.title || result.source, attrs: { 'data-testid': 'digest-title' } }),
      el('span', { cls: 'note' }, [
        result.title !== result.source ? `${result.source} · ` : '',
        result.runId ? el('a', { text: 'the run', attrs: { href: `#/runs/${encodeURIComponent(result.runId)}`, 'data-testid': 'digest-run-link' } }) : '',
      ]),
    ]);
    if (!result.ok) {
      card.replaceChildren(head, errorBlock(result.error, { testid: 'digest-error' }));
      card.dataset.code = result.error.code;
      return card;
    }
    const by = el('p', { cls: 'note', attrs: { 'data-testid': 'digest-by' }, text: result.model ? `digested by ${result.model}` : 'digested offline (extractive summary)' });
    const text = el('div', { cls: 'digest-text', attrs: { 'data-testid': 'digest-text' } },
      result.digest.split(/\n{2,}/).map((p) => el('p', { text: p })));
    const keywords = el('p', { cls: 'digest-keywords', attrs: { 'data-testid': 'digest-keywords' } },
      result.keywords.map((k) => el('span', { cls: 'badge', text: k })));
    card.replaceChildren(head, by, text, keywords, filing(result));
    return card;
  }

  // "File into knowledge": a category and a name, then the confirmation with the entry's link.
  function filing(result) {
    const box = el('div', { cls: 'actions digest-file' });
    const filed = (id, name) => el('p', { cls: 'news', attrs: { 'data-testid': 'digest-filed' } }, [
      el('span', { text: `Filed into the knowledge base${name ? ` as ${name}` : ''}. ` }),
      el('a', { text: 'Open the entry', attrs: { href: `#/knowledge/${encodeURIComponent(id)}` } }),
    ]);
    if (result.filed) {
      box.replaceChildren(filed(result.filed));
      return box;
    }
    const category = el('select', { attrs: { 'data-testid': 'digest-category' } }, CATEGORIES.map((c) => el('option', { text: c, attrs: { value: c } })));
    category.value = 'research';
    const name = el('input', { attrs: { type: 'text', 'data-testid': 'digest-name', 'aria-label': 'Name of the entry' } });
    name.value = result.title || result.source;
    const errors = el('div', { cls: 'errors' });
    const button = el('button', { text: 'File into knowledge', attrs: { type: 'button', 'data-testid': 'digest-file' }, on: { click: async () => {
      errors.replaceChildren();
      button.disabled = true;
      try {
        const entry = await digester.fileIntoKnowledge(result, { category: category.value, title: name.value });
        result.filed = entry.id;
        box.replaceChildren(filed(entry.id, entry.name));
      } catch (e) {
        button.disabled = false;
        errors.replaceChildren(errorBlock(e, { testid: 'digest-file-error' }));
      }
    } } });
    box.replaceChildren(field('name', name), field('category', category), button, errors);
    return box;
  }

  // A card while its source is read and digested: the stage, the run's steps, the streamed text.
  function progressCard(source) {
    const stage = el('span', { cls: 'badge', text: 'waiting', attrs: { 'data-testid': 'digest-stage' } });
    const steps = el('ul', { cls: 'digest-steps', attrs: { 'data-testid': 'digest-steps' } });
    const stream = el('pre', { cls: 'digest-stream', attrs: { 'data-testid': 'digest-stream' } });
    const card = el('li', { cls: 'digest-item', attrs: { 'data-testid': 'digest-item', 'data-state': 'waiting' } }, [
      el('div', { cls: 'panel-head' }, [el('h3', { text: sourceName(source), attrs: { 'data-testid': 'digest-title' } }), stage]),
      steps, stream,
    ]);
    const update = (p) => {
      if (p.result) {
        resultCard(p.result, card);
        return;
      }
      card.dataset.state = p.stage;
      stage.textContent = STAGES[p.stage] ?? p.stage;
      if (p.snapshot?.steps) {
        steps.replaceChildren(...p.snapshot.steps.map((s) => el('li', { attrs: { 'data-step': s.path, 'data-status': s.status } }, [
          el('span', { text: s.path }), el('span', { cls: `badge ${s.status}`, text: s.status }),
        ])));
      }
      const text = [...(p.streamed?.values() ?? [])].join('\n\n');
      if (text) stream.textContent = text;
    };
    return { card, update };
  }

  async function run() {
    formErrors.replaceChildren();
    if (!queued.length) return;
    const sources = queued.splice(0);
    drawSources();
    runButton.disabled = true;
    const cards = sources.map(progressCard);
    mine.clear();  // the digests shown before go to 'Earlier digests'
    progress.replaceChildren(...cards.map((c) => c.card));
    progress.parentElement.hidden = false;
    controller = new AbortController();
    cancelButton.hidden = false;
    try {
      await digester.digest(sources, { model: modelSelect.value, signal: controller.signal, onProgress: (i, p) => {
        if (p.runId) mine.add(p.runId);
        cards[i].update(p);
      } });
    } catch (e) {
      formErrors.replaceChildren(errorBlock(e));
    }
    controller = null;
    cancelButton.hidden = true;
    runButton.disabled = !queued.length;
    if (!destroyed) await drawRecent();
  }

  async function drawRecent() {
    const recent = (await digester.recent()).filter((r) => !mine.has(r.runId));
    recentList.replaceChildren(...recent.map((r) => resultCard(r, el('li', { cls: 'digest-item', attrs: { 'data-testid': 'digest-recent-item' } }))));
    if (!recent.length) recentList.replaceChildren(el('li', { cls: 'note', text: 'None yet.' }));
  }

  async function drawModels() {
    const choice = await digester.modelChoice();
    modelSelect.replaceChildren(
      el('option', { text: 'offline (extractive summary)', attrs: { value: '' } }),
      ...choice.models.map((m) => el('option', { text: m.usable ? m.name : `${m.name} (${m.why})`, attrs: { value: m.name, disabled: !m.usable } })),
    );
    modelSelect.value = choice.model;
    const who = (model) => (model ? `Digests are written by ${model}` : 'Digests are written offline (extractive summary)');
    modelWhy.textContent = `${who(choice.model)}: ${choice.why}.`;
    modelSelect.addEventListener('change', () => {
      modelWhy.textContent = `${who(modelSelect.value)}, as chosen here.`;
    });
  }

  // A digest run resumed after a reload, or started before leaving the panel, is listed when it ends.
  const stop = ctx.runs.subscribe((c) => {
    if (c.kind === 'finished' && c.record?.digest && !mine.has(c.runId)) drawRecent().catch(ctx.notify);
  });
  drawSources();
  await Promise.all([drawModels(), drawRecent()]);
  // Leaving the panel does not stop the runs: they go on, and their digests are listed on return.
  return {
    destroy() {
      destroyed = true;
      stop();
    },
  };
}
