// chat.js — the chat panel's conversations, one per project (and one for the studio when no
// project is open), kept in IndexedDB (the settings store, key 'chat:<project id>' or
// 'chat:studio'). A question is answered by a run of the shipped `chat` workflow, given the
// project's outline and the last turns; a workflow started from the panel is a turn too, whose
// progress the panel shows inline. No DOM here: web/src/ui/chat_panel.js draws it.
//
//   const chat = createChat({ runs, storage, manuscript });
//   const { runId } = await chat.ask(projectId, 'What should I write next?');
//   const turns = await chat.turns(projectId);   // [{id, role: 'user'|'assistant'|'run', text?, run?, ...}]
//
// A turn that waits on a run is brought up to date from the run's record whenever the turns are
// read (after a reload too): the answer's text, the notes it was given, what it cost, or the error.

import { FINISHED } from './host.js';

/// The shipped workflow that answers questions.
export const CHAT_WORKFLOW = 'chat';
/// The turns kept per conversation (the oldest go first).
export const MAX_TURNS = 200;
/// The turns given to the model as the conversation so far.
export const HISTORY_TURNS = 8;

export class ChatError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ChatError';
    this.code = code;
  }
}

export function createChat({ runs, storage, manuscript, now = Date.now }) {
  return new Chat({ runs, storage, manuscript, now });
}

const keyOf = (projectId) => `chat:${projectId || 'studio'}`;
const newId = () => globalThis.crypto.randomUUID();

class Chat {
  #runs;
  #storage;
  #manuscript;
  #now;

  constructor({ runs, storage, manuscript, now }) {
    this.#runs = runs;
    this.#storage = storage;
    this.#manuscript = manuscript;
    this.#now = now;
  }

  /// The conversation of project `projectId` (null: the studio's), oldest turn first, each turn
  /// that waited on a finished run filled in from it.
  async turns(projectId) {
    const stored = (await this.#storage.getSetting(keyOf(projectId), null))?.turns ?? [];
    const stale = [];
    for (const turn of stored) {
      if (!turn.run || turn.status && FINISHED.has(turn.status)) continue;
      const record = await this.#storage.getRun(turn.run);
      if (record && FINISHED.has(record.status)) stale.push({ id: turn.id, patch: resultOf(turn, record) });
    }
    if (!stale.length) return stored;
    return this.#update(projectId, (turns) => turns.map((t) => {
      const s = stale.find((x) => x.id === t.id);
      return s ? { ...t, ...s.patch } : t;
    }));
  }

  /// Asks `question` about project `projectId`: stores the question, starts the chat workflow and
  /// stores the turn that waits for its answer. Resolves {runId, turns}.
  async ask(projectId, question, { model } = {}) {
    const text = String(question ?? '').trim();
    if (!text) throw new ChatError('bad_argument', 'Write a question first.');
    const workflow = await this.#storage.getWorkflow(CHAT_WORKFLOW);
    if (!workflow) {
      throw new ChatError('not_found', `The workflow '${CHAT_WORKFLOW}' is not in your library. Reload the studio to get ` +
        'the shipped workflows back, or import it in the Workflows view.');
    }
    const earlier = await this.turns(projectId);
    const project = projectId ? await this.#manuscript.getProject(projectId) : null;
    const inputs = {
      question: text, project: project ? await this.outline(project) : '', history: historyText(earlier.slice(-HISTORY_TURNS)),
    };
    const chosen = String(model ?? project?.default_model ?? '').trim();
    if (chosen) inputs.model = chosen;
    const models = (await this.#storage.getModels())?.yaml;
    const asked = { id: newId(), role: 'user', text, at: this.#now() };
    await this.#update(projectId, (turns) => [...turns, asked]);
    let runId;
    try {
      runId = await this.#runs.start({ workflow: { name: workflow.name, yaml: workflow.yaml }, inputs, models,
        link: { purpose: 'chat', ...(projectId ? { project: projectId } : {}) } });
    } catch (e) {
      await this.#update(projectId, (turns) => [...turns, { id: newId(), role: 'assistant', status: 'failed', at: this.#now(),
        error: { code: e.codeName ?? e.code ?? 'error', message: e.message } }]);
      throw e;
    }
    const turns = await this.#update(projectId, (all) => [...all,
      { id: newId(), role: 'assistant', run: runId, status: 'running', at: this.#now() }]);
    return { runId, turns };
  }

  /// Starts workflow `name` of the library with `inputs` from the panel; the run is a turn of the
  /// conversation. Resolves {runId, turns}.
  async startWorkflow(projectId, name, inputs = {}) {
    const workflow = await this.#storage.getWorkflow(name);
    if (!workflow) throw new ChatError('not_found', `There is no workflow '${name}' in your library.`);
    const models = (await this.#storage.getModels())?.yaml;
    const runId = await this.#runs.start({ workflow: { name: workflow.name, yaml: workflow.yaml }, inputs, models,
      ...(projectId ? { link: { purpose: 'chat-run', project: projectId } } : {}) });
    const turns = await this.#update(projectId, (all) => [...all,
      { id: newId(), role: 'run', workflow: name, run: runId, status: 'running', at: this.#now() }]);
    return { runId, turns };
  }

  /// Forgets the conversation of project `projectId` (its runs stay in Runs).
  async clear(projectId) {
    await this.#storage.putSetting(keyOf(projectId), { turns: [] });
  }

  /// The project as the model reads it: title, then each act, chapter and scene with its POV,
  /// status, words and outline.
  async outline(project) {
    const scenes = new Map((await this.#manuscript.scenes(project.id)).map((s) => [s.id, s]));
    const lines = [`"${project.title}"`];
    for (const act of project.acts) {
      lines.push(`${act.title || 'Act'}`);
      for (const ch of act.chapters) {
        lines.push(`  ${ch.title || 'Chapter'}`);
        for (const id of ch.scenes) {
          const s = scenes.get(id);
          if (!s) continue;
          const words = s.text ? s.text.trim().split(/\s+/).length : 0;
          const facts = [s.pov && `POV ${s.pov}`, s.status, `${words} words`].filter(Boolean).join(', ');
          lines.push(`    - ${s.title || 'Untitled scene'} (${facts})${s.outline ? `: ${s.outline.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`);
        }
      }
    }
    return lines.join('\n');
  }

  // Read, change and write a conversation in one transaction; resolves the new turns.
  #update(projectId, change) {
    return this.#storage.transaction('settings', 'readwrite', 'Saving the chat', async (t) => {
      const stored = (await t.store.get(keyOf(projectId)))?.turns ?? [];
      const turns = change(stored).slice(-MAX_TURNS);
      await t.store.put({ turns }, keyOf(projectId));
      return turns;
    });
  }
}

// What a finished run makes of the turn that waited on it.
function resultOf(turn, record) {
  const patch = { status: record.status, cost_usd: record.cost_usd ?? 0, usage: record.usage ?? null };
  if (record.status !== 'succeeded') {
    const e = record.error ?? { code: record.status, message: `the run ${record.status}` };
    // Stored with the engine's number and name ({code: 27, name: 'auth'}): kept by its name.
    patch.error = { code: typeof e.code === 'string' ? e.code : e.name ?? String(e.code), message: e.message ?? '' };
    return patch;
  }
  if (turn.role === 'assistant') {
    patch.text = String(record.outputs?.answer ?? '');
    patch.knowledge = (record.outputs?.knowledge ?? []).map((k) => ({ citation: k.citation, name: k.name, category: k.category, reason: k.reason }));
    patch.model = record.outputs?.model ?? null;
  } else {
    patch.outputs = record.outputs ?? {};
  }
  return patch;
}

function historyText(turns) {
  return turns.filter((t) => (t.role === 'user' || t.role === 'assistant') && t.text)
    .map((t) => `${t.role === 'user' ? 'Writer' : 'You'}: ${t.text}`).join('\n');
}
