// app.js — the studio page: opens the store and the engine, keeps the shipped workflows and the
// model pool in the writer's library, resumes the runs a reload interrupted, and routes
// #/manuscript, #/workflows, #/runs, #/knowledge, #/voice, #/digest, #/settings to their views. Views set
// text with textContent only.
import './style.css';
import './ui/components.css';
import { loadEngine } from './engine.js';
import { openStorage } from './storage.js';
import { openVault } from './credentials.js';
import { RunManager } from './runs.js';
import { ensureModelPool, syncShippedWorkflows } from './library.js';
import { openKnowledge } from './knowledge.js';
import { createVoices, usesVoice } from './voice.js';
import { createManuscript } from './manuscript.js';
import { createSceneFlows } from './scenes.js';
import { createChat } from './chat.js';
import { registerServiceWorker } from './register_sw.js';
import { el, errorBlock } from './ui/dom.js';

// The views load when first shown: the editor (CodeMirror) and the graph (dagre) are most of the
// page's code, and a view that does not need them should not wait for them.
const VIEWS = {
  manuscript: () => import('./ui/manuscript_view.js').then((m) => m.manuscriptView),
  workflows: () => import('./ui/workflows_view.js').then((m) => m.workflowsView),
  run: () => import('./ui/run_view.js').then((m) => m.runView),
  runs: () => import('./ui/history_view.js').then((m) => m.historyView),
  settings: () => import('./ui/settings_view.js').then((m) => m.settingsView),
  knowledge: () => import('./ui/knowledge_view.js').then((m) => m.knowledgeView),
  voice: () => import('./ui/voice_view.js').then((m) => m.voiceView),
  digest: () => import('./ui/digest_view.js').then((m) => m.digestView),
};

const $ = (id) => document.getElementById(id);

/// Shows a message or an error in the banner until dismissed (errors) or for a while (news).
function notify(what, { kind } = {}) {
  const isError = what instanceof Error || kind === 'error';
  const box = isError ? errorBlock(what, { testid: 'banner-error' }) : el('div', { cls: 'news', text: String(what), attrs: { 'data-testid': 'banner-news' } });
  const close = el('button', { text: 'Dismiss', cls: 'secondary small', attrs: { type: 'button' }, on: { click: () => item.remove() } });
  const item = el('div', { cls: 'banner-item' }, [box, close]);
  $('banner').append(item);
  if (!isError) setTimeout(() => item.remove(), 8000);
}

function fatal(title, error) {
  $('view').replaceChildren(el('section', { cls: 'panel' }, [el('h2', { text: title }), errorBlock(error, { testid: 'fatal' })]));
  document.body.dataset.ready = 'false';
}

async function fetchShipped() {
  try {
    const [index, models] = await Promise.all([
      fetch('/workflows/index.json').then((r) => (r.ok ? r.json() : [])),
      fetch('/models/default.yaml').then((r) => (r.ok ? r.text() : '')),
    ]);
    return { index, models };
  } catch {
    return { index: [], models: '' };  // offline without a cached copy: the library keeps what it has
  }
}

let current = null;  // the view on screen: {destroy()}
let routing = Promise.resolve();

// What a hash shows: '#/runs/ID' -> {section: 'runs', arg: 'ID', view: 'run'} (view: the VIEWS key).
function parseHash(hash) {
  const [, section = 'workflows', ...rest] = (hash || '#/workflows').split('/');
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : null;
  let view = VIEWS[section] && section !== 'run' ? section : 'workflows';
  if (section === 'runs') view = arg ? 'run' : 'runs';
  return { section, arg, view };
}

function route(ctx) {
  routing = routing.then(async () => {
    const { section, arg, view } = parseHash(location.hash);
    for (const a of document.querySelectorAll('nav a[data-route]')) {
      if (a.dataset.route === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    current?.destroy();
    current = null;
    const root = $('view');
    try {
      current = await (await VIEWS[view]())(root, ctx, arg);
      document.title = `Loom — ${section}`;
    } catch (e) {
      root.replaceChildren(el('section', { cls: 'panel' }, [el('h2', { text: 'This view failed' }), errorBlock(e)]));
    }
  });
  return routing;
}

// The chat side panel (ui/chat_panel.js), loaded when first opened; open or closed as it was left.
async function mountChat(ctx) {
  const toggle = $('chat-toggle');
  const aside = $('chat-panel');
  let panel = null;
  const show = async (open) => {
    toggle.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('chat-open', open);
    if (open && !panel) panel = (await import('./ui/chat_panel.js')).mountChatPanel(aside, ctx);
    await panel?.show(open);
    ctx.storage.putSetting('ui:chat-open', open).catch(() => {});
  };
  toggle.addEventListener('click', () => show(toggle.getAttribute('aria-expanded') !== 'true').catch((e) => notify(e)));
  if (await ctx.storage.getSetting('ui:chat-open', false).catch(() => false)) await show(true).catch((e) => notify(e));
}

async function main() {
  registerServiceWorker();
  VIEWS[parseHash(location.hash).view]().catch(() => {});  // the first view's code downloads meanwhile
  const loadingEngine = loadEngine();  // fetch and compile the wasm while the database opens
  loadingEngine.catch(() => {});     // reported below, once the store is open
  let storage;
  try {
    storage = await openStorage({
      onVersionChange: () => notify(new Error('Loom was updated in another tab. Reload this tab to go on; everything saved is kept.')),
    });
  } catch (e) {
    fatal('Loom cannot keep your work in this browser', e);
    return;
  }
  let engine;
  try {
    engine = await loadingEngine;
  } catch (e) {
    $('engine-status').textContent = 'the engine did not load';
    fatal('The engine did not load', e);
    return;
  }
  $('engine-status').textContent = `engine ${engine.version()} (wasm)`;
  const vault = await openVault(storage);
  const shipped = await fetchShipped();
  try {
    const synced = await syncShippedWorkflows(storage, engine, shipped.index);
    for (const s of synced.skipped) notify(new Error(`the shipped workflow ${s.file} did not load: ${s.error.message}`));
    if (shipped.models) await ensureModelPool(storage, shipped.models);
  } catch (e) {
    notify(e);
  }
  let knowledge = null;
  try {
    knowledge = await openKnowledge({ engine, storage });
  } catch (e) {
    notify(e);  // the studio works without it; knowledge.query steps say no base is loaded
  }
  // The voices' background (1.2 MB) loads when the Voice panel or a run with voice.* steps first
  // needs it, once per page; once loaded, the engine's voice.* agents use it.
  const voices = createVoices({ storage, onLoad: (background) => engine.useVoice(background) });
  const runs = new RunManager({
    engine, storage, secrets: (name) => vault.getKey(name),
    prepare: async (workflow) => {
      if (usesVoice(workflow.yaml)) await voices.background();
    },
  });
  const manuscript = createManuscript({ storage });
  const scenes = createSceneFlows({ engine, runs, manuscript, storage, voices, knowledge });
  const chat = createChat({ runs, storage, manuscript });
  const ctx = {
    engine, storage, vault, runs, knowledge, voices, manuscript, scenes, chat, notify,
    navigate: (hash) => {
      if (location.hash === hash) route(ctx);
      else location.hash = hash;
    },
    modelsYaml: async () => (await storage.getModels())?.yaml ?? '',
  };
  runs.subscribe((c) => {
    if (c.kind === 'interrupted') notify(c.error);
  });
  // A scene run's kept text becomes the scene's new revision, whichever view is open.
  scenes.watch({
    onApplied: async (revision) => {
      const scene = await manuscript.getScene(revision.scene).catch(() => null);
      notify(`Saved as revision #${revision.n} of "${scene?.title || 'the scene'}".`);
    },
    onError: (e) => notify(e),
  });
  try {
    const resumed = await runs.resumeUnfinished();
    if (resumed.length) notify(`Resumed ${resumed.length} run${resumed.length > 1 ? 's' : ''} from where ${resumed.length > 1 ? 'they' : 'it'} stopped.`);
  } catch (e) {
    notify(e);
  }
  window.addEventListener('hashchange', () => route(ctx));
  await route(ctx);
  await mountChat(ctx);
  performance.mark('loom-interactive');
  document.body.dataset.ready = 'true';
}

main();
