// knowledge.js — the studio's knowledge base: the writer's entries in IndexedDB, the engine's
// index of them in memory, and its snapshot stored next to them so a page load does not rebuild
// it. Every change writes the entry and the new snapshot in one transaction; if that write fails
// the in-memory index goes back to what is stored, so the two never disagree.

const CATEGORIES = ['character', 'location', 'item', 'lore', 'style', 'research', 'other'];
const INCLUSIONS = ['always', 'when_mentioned', 'by_relevance', 'never'];

export class KnowledgeError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }

  get name() {
    return 'KnowledgeError';
  }
}

function newId() {
  return globalThis.crypto?.randomUUID?.() ?? `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/// An entry as the writer gave it, checked and normalized: {id, name, aliases, category,
/// inclusion, from?, text, source, kind?, meta?}. Throws KnowledgeError('bad_argument') naming the
/// field and what it accepts.
export function normalizeEntry(entry) {
  const name = String(entry?.name ?? '').trim();
  if (!name) throw new KnowledgeError('bad_argument', 'An entry needs a name (a character, a place, a file title).');
  const aliases = (Array.isArray(entry.aliases) ? entry.aliases : String(entry.aliases ?? '').split(','))
    .map((a) => String(a).trim()).filter((a) => a && a !== name);
  const category = entry.category ?? 'other';
  if (!CATEGORIES.includes(category)) {
    throw new KnowledgeError('bad_argument', `Unknown category '${category}': use one of ${CATEGORIES.join(', ')}.`);
  }
  const inclusion = entry.inclusion ?? (category === 'research' ? 'by_relevance' : 'when_mentioned');
  if (!INCLUSIONS.includes(inclusion)) {
    throw new KnowledgeError('bad_argument', `Unknown inclusion '${inclusion}': use one of ${INCLUSIONS.join(', ')}.`);
  }
  let from;
  if (entry.from && (entry.from.chapter || entry.from.scene)) {
    const chapter = Math.trunc(Number(entry.from.chapter ?? 0));
    const scene = Math.trunc(Number(entry.from.scene ?? 0));
    if (!(chapter >= 0 && scene >= 0)) {
      throw new KnowledgeError('bad_argument', 'The scope needs a chapter and a scene of 0 or more (0: from the start).');
    }
    from = { chapter, scene };
  }
  const out = {
    id: String(entry.id ?? '') || newId(), name, aliases: [...new Set(aliases)], category, inclusion,
    text: String(entry.text ?? ''), source: String(entry.source ?? ''),
  };
  if (from) out.from = from;
  if (entry.kind) out.kind = entry.kind;
  if (entry.meta) out.meta = entry.meta;
  return out;
}

// The fields the engine's index takes (entry_from_json refuses others); the store keeps all.
function engineEntry(e) {
  const out = { id: e.id, name: e.name, aliases: e.aliases, category: e.category, inclusion: e.inclusion,
    text: e.text, source: e.source };
  if (e.from) out.from = e.from;
  return out;
}

/// Opens the knowledge base: loads the stored snapshot (or rebuilds the index from the stored
/// entries when there is none or it cannot be read), and makes it the one the engine's runs use.
export async function openKnowledge({ engine, storage }) {
  let kb = null;
  const stored = await storage.getKnowledgeIndex();
  if (stored?.bytes) {
    try {
      kb = engine.loadKnowledgeBase(stored.bytes);
    } catch {
      kb = null;  // an index from an older engine, or damaged: rebuilt from the entries below
    }
  }
  if (!kb) {
    kb = engine.createKnowledgeBase();
    const entries = await storage.listKnowledge();
    if (entries.length) kb.putMany(entries.map((e) => engineEntry(normalizeEntry(e))));
    if (entries.length || stored) await storage.putKnowledgeIndex(indexRecord(kb));
  }
  engine.useKnowledgeBase(kb);
  return new Knowledge(engine, storage, kb);
}

function indexRecord(kb) {
  return { bytes: kb.snapshot(), fingerprint: kb.fingerprint(), entries: kb.stats().entries };
}

class Knowledge {
  #engine;
  #storage;
  #kb;

  constructor(engine, storage, kb) {
    this.#engine = engine;
    this.#storage = storage;
    this.#kb = kb;
  }

  /// The engine's base (search, mentions, query, stats).
  get base() {
    return this.#kb;
  }

  /// The stored entries, sorted by name.
  async list() {
    const all = await this.#storage.listKnowledge();
    return all.sort((a, b) => a.name.localeCompare(b.name));
  }

  get(id) {
    return this.#storage.getKnowledge(id);
  }

  /// Adds or replaces (same id) an entry. Resolves the stored entry. On a storage error nothing
  /// changes, in IndexedDB or in the index the runs use (they read the copy made by the last
  /// useKnowledgeBase(), which only a stored change makes).
  async save(entry) {
    const clean = normalizeEntry(entry);
    this.#kb.put(engineEntry(clean));
    let stored;
    try {
      stored = await this.#storage.saveKnowledge(clean, indexRecord(this.#kb));
    } catch (e) {
      await this.#reload();
      throw e;
    }
    this.#engine.useKnowledgeBase(this.#kb);  // runs started from now on see the change
    return stored;
  }

  /// Removes entry `id`. Same guarantee as save().
  async remove(id) {
    this.#kb.remove(id);
    try {
      await this.#storage.deleteKnowledge(id, indexRecord(this.#kb));
    } catch (e) {
      await this.#reload();
      throw e;
    }
    this.#engine.useKnowledgeBase(this.#kb);
  }

  // After a failed write: the base goes back to the stored snapshot (an empty base when none is
  // stored), so the panel shows what is saved. If even that cannot be read, the panel keeps the
  // unsaved change until the next load; the runs never see it.
  async #reload() {
    let kb;
    try {
      const stored = await this.#storage.getKnowledgeIndex();
      kb = stored?.bytes ? this.#engine.loadKnowledgeBase(stored.bytes) : this.#engine.createKnowledgeBase();
    } catch {
      return;
    }
    this.#kb.delete();
    this.#kb = kb;
  }
}

export { CATEGORIES, INCLUSIONS };
