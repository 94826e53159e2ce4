// library.js — the studio's own data beyond runs: the shipped workflows copied into the
// writer's library, the model pool, and the connection policy that follows from it.
import { originsOfModels } from './csp.js';

/// Adds the shipped workflows ({file, yaml} from /workflows/index.json) to the library. A shipped
/// workflow the writer edited (source 'user') is left alone; an unedited one follows the new
/// release. Returns {added, updated, skipped: [{file, error}]} — a shipped file that does not
/// load is reported, not stored.
export async function syncShippedWorkflows(storage, engine, index) {
  const out = { added: [], updated: [], skipped: [] };
  const stored = new Map((await storage.listWorkflows()).map((w) => [w.name, w]));
  // A workflow that calls another loads once the other is in the engine's library: load in
  // rounds until a round loads nothing new.
  const loaded = [];
  let pending = [...index];
  for (;;) {
    const failed = [];
    for (const entry of pending) {
      try {
        loaded.push({ ...entry, name: engine.load(entry.yaml, entry.file).name });
      } catch (error) {
        failed.push({ ...entry, error });
      }
    }
    if (!failed.length || failed.length === pending.length) {
      out.skipped = failed.map(({ file, error }) => ({ file, error }));
      break;
    }
    pending = failed;
  }
  for (const { file, yaml, name } of loaded) {
    const mine = stored.get(name);
    if (mine && (mine.source === 'user' || mine.yaml === yaml)) continue;
    await storage.putWorkflow({ name, yaml, source: 'shipped', file });
    (mine ? out.updated : out.added).push(name);
  }
  return out;
}

/// A new workflow's text, named `name`.
export function workflowTemplate(name) {
  return [
    `name: ${name}`,
    'description: What this workflow does, in one sentence.',
    'inputs:',
    '  text: {type: string, required: true, description: the text to work on}',
    'steps:',
    '  - id: keywords',
    '    agent: text.keywords',
    '    with:',
    '      text: "{{ inputs.text }}"',
    'outputs:',
    '  keywords: "{{ steps.keywords.output }}"',
    '',
  ].join('\n');
}

/// Stores the shipped model pool when the writer has none yet. Returns the pool's text.
export async function ensureModelPool(storage, defaultYaml) {
  const saved = await storage.getModels();
  if (saved?.yaml != null) return saved.yaml;
  await storage.putModels(defaultYaml);
  return defaultYaml;
}

/// Checks and stores a models file, and the origins the page may connect to because of it.
/// Returns {pool (engine.models()), origins, originsChanged}; throws EngineError (every problem
/// with its line in `.errors`) and stores nothing when the file is wrong.
export async function saveModelPool(storage, engine, yaml) {
  const pool = engine.models(yaml);
  const origins = originsOfModels(pool.models);
  const before = await storage.getSetting('connect_origins', null);
  await storage.putModels(yaml);
  await storage.putSetting('connect_origins', origins);
  const originsChanged = JSON.stringify(before ?? []) !== JSON.stringify(origins);
  return { pool, origins, originsChanged };
}

/// The credential names a pool needs keys for: [{name, models: [model names]}].
export function credentialsOf(pool) {
  const byName = new Map();
  for (const m of pool?.models ?? []) {
    const name = m.credential?.name;
    if (!name) continue;
    if (!byName.has(name)) byName.set(name, []);
    byName.get(name).push(m.name);
  }
  return [...byName].map(([name, models]) => ({ name, models }));
}

/// The workflow a "test connection" runs: one short call to `model`, no retries, no stream.
export const TEST_CONNECTION_WORKFLOW = {
  name: 'loom_test_connection',
  yaml: [
    'name: loom_test_connection',
    'description: One short call to a model, to check its address, key and model id.',
    'inputs:',
    '  model: {type: string, required: true}',
    'steps:',
    '  - id: ping',
    '    agent: llm.generate',
    '    with:',
    '      model: "{{ inputs.model }}"',
    '      prompt: "Reply with the single word: ready"',
    '      max_tokens: 16',
    '      stream: false',
    '    retry: {max_attempts: 1}',
    'outputs:',
    '  text: "{{ steps.ping.output.text }}"',
    '  served_by: "{{ steps.ping.output.served_by }}"',
    '  usage: "{{ steps.ping.output.usage }}"',
    '',
  ].join('\n'),
};
