// chat_panel.js — the chat side panel, beside every view: ask about the project ("what should I
// write next?"), see the notes each answer was given ([n] and their names), and start any
// workflow of the library, its progress shown inline (steps done, the step running, a question
// waiting for the writer). The conversation is chat.js's; text goes in with textContent only.
import { el, errorBlock, formatCost } from './dom.js';
import { inputFields, readInputs } from './run_form.js';
import { FINISHED } from '../host.js';

/// Mounts the panel in `root` (an <aside>); `ctx` is the studio's context with ctx.chat. Returns
/// {show(open), destroy()}.
export function mountChatPanel(root, ctx) {
  const { chat, runs, manuscript, storage, engine } = ctx;
  let projectId = null;
  let turns = [];
  const drawnRuns = new Map();  // run id -> the element showing its progress

  const projectSelect = el('select', { attrs: { 'data-testid': 'chat-project', 'aria-label': 'The project the chat is about' } });
  const list = el('ol', { cls: 'chat-turns', attrs: { 'data-testid': 'chat-turns', 'aria-live': 'polite' } });
  const input = el('textarea', { attrs: { rows: '3', 'data-testid': 'chat-input', 'aria-label': 'Your question', placeholder: 'What should I write next?' } });
  const error = el('div', { attrs: { 'data-testid': 'chat-error' } });
  const ask = el('button', { text: 'Ask', attrs: { type: 'submit', 'data-testid': 'chat-ask' } });
  const workflowSelect = el('select', { attrs: { 'data-testid': 'chat-workflow', 'aria-label': 'A workflow to start' } });
  const workflowInputs = el('div', { cls: 'chat-inputs' });
  const startButton = el('button', { text: 'Start', cls: 'secondary', attrs: { type: 'submit', 'data-testid': 'chat-start' } });

  const form = el('form', { cls: 'chat-form', on: { submit: async (ev) => {
    ev.preventDefault();
    error.replaceChildren();
    ask.disabled = true;
    try {
      const r = await chat.ask(projectId, input.value);
      input.value = '';
      turns = r.turns;
      draw();
    } catch (e) {
      error.replaceChildren(errorBlock(e, { testid: 'chat-error-message' }));
      turns = await chat.turns(projectId).catch(() => turns);
      draw();
    } finally {
      ask.disabled = false;
    }
  } } }, [input, el('div', { cls: 'actions' }, [ask])]);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
  });

  const startForm = el('form', { cls: 'chat-start', on: { submit: async (ev) => {
    ev.preventDefault();
    error.replaceChildren();
    try {
      const r = await chat.startWorkflow(projectId, workflowSelect.value, readInputs(workflowInputs));
      turns = r.turns;
      draw();
    } catch (e) {
      error.replaceChildren(errorBlock(e, { testid: 'chat-error-message' }));
    }
  } } }, [workflowSelect, workflowInputs, el('div', { cls: 'actions' }, [startButton])]);
  workflowSelect.addEventListener('change', () => showInputs());

  const clear = el('button', { text: 'Clear', cls: 'secondary small', attrs: { type: 'button', 'data-testid': 'chat-clear' }, on: { click: async () => {
    await chat.clear(projectId);
    turns = [];
    draw();
  } } });

  root.replaceChildren(
    el('div', { cls: 'chat-head' }, [el('h2', { text: 'Ask about your book' }), clear]),
    projectSelect, list, error, form,
    el('details', { cls: 'chat-workflows', attrs: { 'data-testid': 'chat-workflows' } }, [el('summary', { text: 'Start a workflow' }), startForm]),
  );
  projectSelect.addEventListener('change', () => open(projectSelect.value || null));

  async function showInputs() {
    workflowInputs.replaceChildren();
    const record = await storage.getWorkflow(workflowSelect.value);
    if (!record) return;
    try {
      workflowInputs.replaceChildren(inputFields(engine.load(record.yaml, record.name)));
    } catch (e) {
      workflowInputs.replaceChildren(errorBlock(e));
    }
  }

  async function fillChoices() {
    const [projects, workflows] = await Promise.all([manuscript.listProjects(), storage.listWorkflows()]);
    const fromHash = /^#\/manuscript\/([^/]+)/.exec(location.hash)?.[1] ?? null;
    projectSelect.replaceChildren(el('option', { attrs: { value: '' }, text: 'no project (the studio)' }),
      ...projects.map((p) => el('option', { attrs: { value: p.id }, text: p.title })));
    const wanted = projects.some((p) => p.id === fromHash) ? fromHash : projectId ?? projects[0]?.id ?? null;
    projectSelect.value = wanted ?? '';
    const before = workflowSelect.value;
    workflowSelect.replaceChildren(...workflows.map((w) => el('option', { attrs: { value: w.name }, text: w.name })));
    if (workflows.some((w) => w.name === before)) workflowSelect.value = before;
    await showInputs();
    await open(wanted);
  }

  async function open(id) {
    projectId = id;
    try {
      turns = await chat.turns(projectId);
    } catch (e) {
      error.replaceChildren(errorBlock(e));
      turns = [];
    }
    draw();
  }

  function knowledgeList(items) {
    if (!items?.length) return el('p', { cls: 'help', text: 'No notes were given for this answer.' });
    return el('ul', { cls: 'chat-knowledge', attrs: { 'data-testid': 'chat-knowledge' } }, items.map((k) => el('li', {
      text: `${k.citation != null ? `[${k.citation}] ` : ''}${k.name}${k.category ? ` (${k.category}${k.reason ? `, ${k.reason}` : ''})` : ''}`,
    })));
  }

  // A run's progress: steps done of all, the step running, a question waiting for the writer.
  function showProgress(runId, box, snapshot, fallbackStatus) {
    const steps = snapshot?.steps ?? [];
    const done = steps.filter((s) => FINISHED.has(s.status) || s.status === 'skipped').length;
    const running = steps.filter((s) => s.status === 'running').map((s) => s.path);
    const status = snapshot?.status ?? fallbackStatus;
    const q = runs.question(runId);
    box.dataset.status = status;
    box.replaceChildren(
      el('span', { text: `${status}: ${done} of ${steps.length} steps${running.length ? ` · ${running.join(', ')}` : ''}` }),
      q ? el('span', { cls: 'chat-waiting', text: ' · waiting for your answer' }) : '',
      ' ', el('a', { attrs: { href: `#/runs/${runId}`, 'data-testid': 'chat-run-link' }, text: q ? 'answer it' : 'open the run' }),
    );
  }

  // The first drawing reads the stored run once; later ones use the snapshot each change brings.
  function progress(runId, box) {
    runs.view(runId).then((view) => {
      if (!view) return;
      const shown = drawnRuns.get(runId);
      if (shown && !shown.snapshot) shown.snapshot = view.snapshot;
      showProgress(runId, box, shown?.snapshot ?? view.snapshot, view.record.status);
    }).catch(() => {});
  }

  function turnItem(t) {
    const item = el('li', { cls: `chat-turn ${t.role}`, attrs: { 'data-testid': `chat-turn-${t.role}`, 'data-status': t.status ?? '' } });
    if (t.role === 'user') {
      item.append(el('p', { text: t.text }));
      return item;
    }
    if (t.role === 'assistant') {
      if (t.status === 'running') {
        const live = el('p', { cls: 'chat-streaming', attrs: { 'data-testid': 'chat-streaming' }, text: runs.streamed(t.run).get('answer') ?? '…' });
        const box = el('div', { cls: 'chat-progress', attrs: { 'data-testid': 'chat-progress' } });
        drawnRuns.set(t.run, { live, box });
        progress(t.run, box);
        item.append(live, box);
      } else if (t.status === 'succeeded') {
        item.append(el('p', { cls: 'chat-answer', attrs: { 'data-testid': 'chat-answer' }, text: t.text }), knowledgeList(t.knowledge),
          el('p', { cls: 'help', text: `${t.model ?? ''}${t.cost_usd ? ` · ${formatCost(t.cost_usd)}` : ''}` }));
      } else {
        item.append(errorBlock(Object.assign(new Error(t.error?.message ?? 'no answer'), { code: t.error?.code }), { testid: 'chat-answer-error' }));
        if (t.run) item.append(el('a', { attrs: { href: `#/runs/${t.run}` }, text: 'the run' }));
      }
      return item;
    }
    // A workflow started from the panel.
    const box = el('div', { cls: 'chat-progress', attrs: { 'data-testid': 'chat-progress' } });
    item.append(el('strong', { text: t.workflow }), box);
    if (t.status === 'running' || !t.status) {
      drawnRuns.set(t.run, { box });
      progress(t.run, box);
    } else {
      box.dataset.status = t.status;
      box.replaceChildren(el('span', { text: `${t.status}` }), ' ', el('a', { attrs: { href: `#/runs/${t.run}`, 'data-testid': 'chat-run-link' }, text: 'open the run' }));
    }
    return item;
  }

  function draw() {
    drawnRuns.clear();
    list.replaceChildren(...turns.map(turnItem));
    if (!turns.length) list.replaceChildren(el('li', { cls: 'note', text: 'Ask about your characters, your plot, what to write next. Answers use your outline and your knowledge base.' }));
    list.scrollTop = list.scrollHeight;
  }

  // Live: a run's streamed answer and progress as they come; its end brings the turn up to date.
  let pending = null;
  const stop = runs.subscribe((c) => {
    const shown = drawnRuns.get(c.runId);
    if (!shown) return;
    if (c.kind === 'finished') {
      chat.turns(projectId).then((t) => { turns = t; draw(); }, () => {});
      return;
    }
    if (c.snapshot) shown.snapshot = c.snapshot;
    if (shown.live) shown.live.textContent = runs.streamed(c.runId).get('answer') ?? '…';
    if (!pending) {
      pending = setTimeout(() => {
        pending = null;
        for (const [id, s] of drawnRuns) {
          if (s.snapshot) showProgress(id, s.box, s.snapshot);
          else progress(id, s.box);
        }
      }, 150);
    }
  });

  return {
    async show(openNow) {
      root.hidden = !openNow;
      if (openNow) await fillChoices().catch((e) => error.replaceChildren(errorBlock(e)));
    },
    destroy() {
      stop();
      clearTimeout(pending);
    },
  };
}
