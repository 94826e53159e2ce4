// knowledge_view.js — the knowledge panel: the writer's entries (characters, places, lore, style
// notes, research files), added by hand, from files (text, Markdown, PDF, e-mail) or from a web
// page; edited in place; searched with the hits' words marked.
import { allowSiteNotice, el, errorBlock } from './dom.js';
import { CATEGORIES, INCLUSIONS } from '../knowledge.js';
import { allowSite, siteAllowed } from '../sites.js';

const INCLUSION_LABELS = {
  always: 'always in the prompt',
  when_mentioned: 'when the text names it',
  by_relevance: 'when relevant (ranked)',
  never: 'never in a prompt',
};

// `text` as nodes with every word whose analyzed term is in `terms` wrapped in <mark>.
function highlighted(engine, text, terms) {
  const wanted = new Set(terms);
  const out = [];
  let last = 0;
  const cache = new Map();
  for (const m of text.matchAll(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu)) {
    const word = m[0];
    if (!cache.has(word)) cache.set(word, engine.knowledgeAnalyze(word).some((t) => wanted.has(t)));
    if (!cache.get(word)) continue;
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(el('mark', { text: word }));
    last = m.index + word.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

// A window of `text` around its first marked word, about `size` characters.
function excerpt(engine, text, terms, size = 420) {
  if (text.length <= size) return text;
  const wanted = new Set(terms);
  for (const m of text.matchAll(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu)) {
    if (engine.knowledgeAnalyze(m[0]).some((t) => wanted.has(t))) {
      const start = Math.max(0, m.index - size / 3);
      return `${start > 0 ? '…' : ''}${text.slice(start, start + size)}…`;
    }
  }
  return `${text.slice(0, size)}…`;
}

/// Draws the knowledge panel into `root`; `selectedId` opens that entry. Returns {destroy()}.
export async function knowledgeView(root, ctx, selectedId) {
  const { engine, knowledge } = ctx;
  if (!knowledge) {
    root.replaceChildren(el('section', { cls: 'panel' }, [el('h2', { text: 'Knowledge' }),
      el('p', { cls: 'note', text: 'The knowledge base did not open; see the message above.' })]));
    return { destroy() {} };
  }
  let entries = await knowledge.list();
  const list = el('ul', { cls: 'kb-list', attrs: { 'data-testid': 'kb-list' } });
  const search = el('input', { attrs: { type: 'search', placeholder: 'Search the knowledge base', 'data-testid': 'kb-search', 'aria-label': 'Search the knowledge base' } });
  const results = el('ol', { cls: 'kb-results', attrs: { 'data-testid': 'kb-results', 'aria-live': 'polite' } });
  const main = el('section', { cls: 'panel main' });
  const errors = el('div', { cls: 'errors', attrs: { 'data-testid': 'kb-errors' } });
  const fileInput = el('input', { attrs: { type: 'file', multiple: true, accept: '.txt,.md,.markdown,.pdf,.eml,text/plain,text/markdown,application/pdf,message/rfc822', 'data-testid': 'kb-file', hidden: true } });
  const urlInput = el('input', { attrs: { type: 'url', placeholder: 'https://…', 'data-testid': 'kb-url', 'aria-label': 'Address of a web page to add' } });
  const status = el('p', { cls: 'note', attrs: { 'data-testid': 'kb-status', 'aria-live': 'polite' } });

  root.replaceChildren(el('div', { cls: 'split' }, [
    el('nav', { cls: 'panel side', attrs: { 'aria-label': 'Knowledge entries' } }, [
      el('div', { cls: 'panel-head' }, [
        el('h2', { text: 'Knowledge' }),
        el('button', { text: 'New', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'kb-new' }, on: { click: () => edit(null) } }),
      ]),
      search, results, list,
    ]),
    el('div', {}, [
      el('section', { cls: 'panel add' }, [
        el('div', { cls: 'actions' }, [
          el('button', { text: 'Add files…', cls: 'secondary', attrs: { type: 'button' }, on: { click: () => fileInput.click() } }),
          fileInput, urlInput,
          el('button', { text: 'Add the page', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'kb-add-url' }, on: { click: addUrl } }),
        ]),
        status, errors,
      ]),
      main,
    ]),
  ]));

  function drawList() {
    const byCategory = new Map();
    for (const e of entries) {
      if (!byCategory.has(e.category)) byCategory.set(e.category, []);
      byCategory.get(e.category).push(e);
    }
    list.replaceChildren(...CATEGORIES.filter((c) => byCategory.has(c)).map((c) => el('li', {}, [
      el('h3', { text: `${c} (${byCategory.get(c).length})` }),
      el('ul', {}, byCategory.get(c).map((e) => el('li', {}, [el('a', {
        text: e.name, cls: e.id === selectedId ? 'selected' : '',
        attrs: { href: `#/knowledge/${encodeURIComponent(e.id)}`, 'data-testid': `kb-entry-${e.name}` },
      })]))),
    ])));
    if (!entries.length) list.replaceChildren(el('li', { cls: 'note', text: 'Nothing yet: add a character, a place, your style notes or research files.' }));
  }

  function showSearch() {
    const q = search.value.trim();
    if (!q) {
      results.replaceChildren();
      return;
    }
    const hits = knowledge.base.search(q, { k: 10, includeNever: true });
    const terms = engine.knowledgeAnalyze(q);
    results.replaceChildren(...(hits.length ? hits.map((h) => el('li', { cls: 'kb-hit', attrs: { 'data-testid': 'kb-hit' } }, [
      el('a', { text: h.name, attrs: { href: `#/knowledge/${encodeURIComponent(h.id)}` } }),
      el('span', { cls: 'badge', text: h.category }),
      el('span', { cls: 'score', text: h.score.toFixed(2) }),
      el('p', { cls: 'snippet' }, highlighted(engine, excerpt(engine, h.text, h.matched ?? terms), h.matched ?? terms)),
    ])) : [el('li', { cls: 'note', text: `Nothing matches “${q}”.` })]));
  }
  let searchTimer = null;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(showSearch, 150);
  });

  function edit(entry) {
    selectedId = entry?.id ?? null;
    const e = entry ?? { name: '', aliases: [], category: 'character', inclusion: 'when_mentioned', text: '' };
    const field = (label, control, help) => el('div', { cls: 'input' }, [
      el('label', { cls: 'field', attrs: { for: control.id } }, [el('span', { cls: 'label', text: label }), help ? el('span', { cls: 'help', text: help }) : '']),
      control,
    ]);
    const name = el('input', { attrs: { type: 'text', id: 'kb-name', 'data-testid': 'kb-name' } });
    name.value = e.name;
    const aliases = el('input', { attrs: { type: 'text', id: 'kb-aliases', 'data-testid': 'kb-aliases' } });
    aliases.value = (e.aliases ?? []).join(', ');
    const category = el('select', { attrs: { id: 'kb-category', 'data-testid': 'kb-category' } }, CATEGORIES.map((c) => el('option', { text: c, attrs: { value: c } })));
    category.value = e.category;
    const inclusion = el('select', { attrs: { id: 'kb-inclusion', 'data-testid': 'kb-inclusion' } }, INCLUSIONS.map((c) => el('option', { text: INCLUSION_LABELS[c], attrs: { value: c } })));
    inclusion.value = e.inclusion;
    const chapter = el('input', { attrs: { type: 'number', min: '0', id: 'kb-chapter', 'data-testid': 'kb-chapter', placeholder: 'from the start' } });
    const scene = el('input', { attrs: { type: 'number', min: '0', id: 'kb-scene', 'data-testid': 'kb-scene', placeholder: '—' } });
    if (e.from) {
      chapter.value = String(e.from.chapter ?? '');
      scene.value = String(e.from.scene ?? '');
    }
    const text = el('textarea', { attrs: { id: 'kb-text', rows: '14', 'data-testid': 'kb-text' } });
    text.value = e.text ?? '';
    const formErrors = el('div', { cls: 'errors' });
    const form = el('form', { cls: 'kb-form', attrs: { 'data-testid': 'kb-form', novalidate: true } }, [
      el('h2', { text: entry ? entry.name : 'New entry' }),
      e.source ? el('p', { cls: 'note', text: `from ${e.source}${e.kind ? ` (${e.kind})` : ''}` }) : '',
      field('name', name),
      field('aliases', aliases, 'other names it goes by, separated by commas'),
      field('category', category),
      field('in prompts', inclusion),
      el('div', { cls: 'scope' }, [field('true from chapter', chapter, 'leave empty when it is true from the start'), field('scene', scene)]),
      field('text', text),
      el('div', { cls: 'actions' }, [
        el('button', { text: 'Save', attrs: { type: 'submit', 'data-testid': 'kb-save' } }),
        entry ? el('button', { text: 'Delete', cls: 'secondary danger', attrs: { type: 'button', 'data-testid': 'kb-delete' }, on: { click: remove } }) : '',
      ]),
      formErrors,
    ]);
    async function remove() {
      if (!confirm(`Delete ${entry.name} from the knowledge base?`)) return;
      try {
        await knowledge.remove(entry.id);
        ctx.navigate('#/knowledge');
      } catch (err) {
        formErrors.replaceChildren(errorBlock(err));
      }
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      formErrors.replaceChildren();
      try {
        const from = chapter.value || scene.value ? { chapter: Number(chapter.value || 0), scene: Number(scene.value || 0) } : undefined;
        const saved = await knowledge.save({ ...e, name: name.value, aliases: aliases.value, category: category.value,
          inclusion: inclusion.value, from, text: text.value });
        status.textContent = `Saved ${saved.name}.`;
        entries = await knowledge.list();
        selectedId = saved.id;
        drawList();
        if (!entry) history.replaceState(null, '', `#/knowledge/${encodeURIComponent(saved.id)}`);
      } catch (err) {
        formErrors.replaceChildren(errorBlock(err));
      }
    });
    main.replaceChildren(form);
  }

  // Each file becomes an entry; a file that cannot be read is reported and the others go on.
  fileInput.addEventListener('change', async () => {
    errors.replaceChildren();
    const files = [...fileInput.files];
    fileInput.value = '';
    const { extractFile } = await import('../extract/index.js');
    let added = 0;
    for (const [i, file] of files.entries()) {
      status.textContent = `Reading ${file.name} (${i + 1} of ${files.length})…`;
      try {
        const doc = await extractFile(file);
        await knowledge.save({ name: doc.title || file.name, category: 'research', inclusion: 'by_relevance',
          text: doc.text, source: file.name, kind: doc.kind, meta: doc.meta });
        added += 1;
      } catch (err) {
        errors.append(errorBlock(err, { testid: 'kb-file-error' }));
      }
    }
    status.textContent = `Added ${added} of ${files.length} file${files.length === 1 ? '' : 's'}.`;
    entries = await knowledge.list();
    drawList();
  });

  async function addUrl() {
    errors.replaceChildren();
    const url = urlInput.value.trim();
    if (!url) return;
    let origin;
    try {
      origin = new URL(url).origin;
    } catch {
      errors.replaceChildren(errorBlock(Object.assign(new Error(`'${url.slice(0, 80)}' is not a web address: write it as https://…`), { code: 'bad_url' })));
      return;
    }
    // The page may only connect where its policy allows (docs/security.md): a site is allowed
    // once, by the writer, and the page reloads under the new policy.
    if (/^https?:/.test(origin) && !await siteAllowed(ctx.storage, url) && navigator.serviceWorker?.controller) {
      errors.replaceChildren(allowSiteNotice(origin, { testid: 'kb-allow', onAllow: () => allowSite(ctx.storage, url) }));
      return;
    }
    status.textContent = `Fetching ${url}…`;
    try {
      const { extractUrl } = await import('../extract/index.js');
      const doc = await extractUrl(url);
      await knowledge.save({ name: doc.title || url, category: 'research', inclusion: 'by_relevance', text: doc.text,
        source: url, kind: doc.kind, meta: doc.meta });
      status.textContent = `Added ${doc.title || url}.`;
      urlInput.value = '';
      entries = await knowledge.list();
      drawList();
    } catch (err) {
      status.textContent = '';
      errors.replaceChildren(errorBlock(err, { testid: 'kb-url-error' }));
    }
  }

  drawList();
  const selected = selectedId ? entries.find((e) => e.id === selectedId) : null;
  if (selected) edit(selected);
  else main.replaceChildren(el('p', { cls: 'note', text: 'Pick an entry, search, or add one.' }));
  return { destroy() { clearTimeout(searchTimer); } };
}
